//! [`Context`]: what a handler can do besides changing its actor's state.

use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::actor::Actor;
use crate::address::{ActorId, ActorRef};
use crate::error::{RegistryError, SendError, SpawnError};
use crate::exit::ExitReason;
use crate::links::{self, MonitorRef};
use crate::mailbox::Envelope;
use crate::system::{SpawnOptions, System};
use crate::timer::{Action, TimerRef};

/// Given to every handler and hook: the actor's own address, the sender of
/// the current message, and the ways to act on the world.
pub struct Context<A> {
    myself: ActorRef,
    system: System,
    pub(crate) sender: Option<ActorRef>,
    /// Boxed: it is rare, and an `ExitReason` is 32 bytes in every actor.
    pub(crate) stop_request: Option<Box<ExitReason>>,
    /// Whom to answer with `Stopped` once terminated (the sender of `Stop`).
    pub(crate) stop_reply_to: Option<ActorRef>,
    _actor: PhantomData<fn() -> A>,
}

impl<A: Actor> Context<A> {
    pub(crate) fn new(myself: ActorRef, system: System) -> Self {
        Context {
            myself,
            system,
            sender: None,
            stop_request: None,
            stop_reply_to: None,
            _actor: PhantomData,
        }
    }

    /// This actor's address.
    pub fn myself(&self) -> &ActorRef {
        &self.myself
    }

    /// The sender of the message being handled, if it had one.
    pub fn sender(&self) -> Option<&ActorRef> {
        self.sender.as_ref()
    }

    /// The system this actor runs in.
    pub fn system(&self) -> &System {
        &self.system
    }

    /// Sets this actor's label `key` to `value` (see
    /// [`SpawnOptions::label`]): what it wants tools to know about it, such
    /// as the request it serves now.
    ///
    /// ```
    /// use ferrotp::{Actor, Context, Handlers, System};
    /// use std::time::Duration;
    /// struct Job;
    /// impl Job {
    ///     fn phase(&mut self, phase: &'static str, ctx: &mut Context<Self>) {
    ///         ctx.set_label("job.phase", phase);
    ///         ctx.reply(());
    ///     }
    /// }
    /// impl Actor for Job { fn handlers() -> Handlers<Self> { Handlers::new().on(Self::phase) } }
    ///
    /// let system = System::new();
    /// let job = system.spawn(Job);
    /// let () = system.bridge().call(&job, "copying", Duration::from_secs(5)).unwrap();
    /// assert_eq!(job.label("job.phase").as_deref(), Some("copying"));
    /// ```
    pub fn set_label(&self, key: impl Into<String>, value: impl Into<String>) {
        let mut rel = self.myself.core.relations();
        rel.rare().labels.set(key.into(), value.into());
    }

    /// Sends `msg` to `to`, with this actor as the sender.
    pub fn send<M: Send + 'static>(&self, to: &ActorRef, msg: M) {
        to.core
            .deliver(Envelope::new(msg, to.core.sender_for(&self.myself)));
    }

    /// Sends `msg` to `to`, with this actor as the sender, if `to`'s
    /// mailbox has room; gives it back as [`SendError::Full`] if not. Never
    /// blocks (see [`SpawnOptions::mailbox`]): the handler decides what to
    /// do with a message that did not fit (retry later with `send_after`,
    /// drop it, answer "busy").
    pub fn try_send<M: Send + 'static>(&self, to: &ActorRef, msg: M) -> Result<(), SendError<M>> {
        to.try_send_from(msg, &self.myself)
    }

    /// Answers the sender of the current message. Without a sender the
    /// reply is counted as a dead letter.
    pub fn reply<M: Send + 'static>(&self, msg: M) {
        match &self.sender {
            Some(to) => self.send(to, msg),
            None => {
                self.myself.core.system.dead_letter(
                    ActorId::EXTERNAL,
                    std::any::type_name::<M>(),
                    "reply without a sender",
                );
                crate::panic::discard(msg, ActorId::EXTERNAL);
            }
        }
    }

    /// Terminates this actor with `reason` once the current handler (or
    /// hook) returns.
    ///
    /// A failure is never hidden behind a requested stop: if the handler
    /// (or `started`) then returns `Err(e)` or panics, the actor terminates
    /// with that `Error`/`Panic` reason instead, so a supervisor restarts it
    /// as it would any failure. The last `stop` of a handler wins over
    /// earlier ones.
    pub fn stop(&mut self, reason: ExitReason) {
        self.stop_request = Some(Box::new(reason));
    }

    /// Called in `started`: this actor's spawner, if it waits to hear that
    /// the actor started ([`SpawnOptions::await_started`],
    /// [`SpawnOptions::notify_started`]), is not told when `started`
    /// returns but when the actor calls [`ack_started`](Self::ack_started),
    /// from any later handler, like OTP's `proc_lib:init_ack`. Meanwhile the
    /// actor handles messages as usual. If it terminates before it
    /// acknowledged, its spawner hears that it failed to start, with the
    /// reason. Without a waiting spawner (or outside `started`) it does
    /// nothing.
    ///
    /// ```
    /// use ferrotp::{Actor, Context, ExitReason, Handlers, SpawnOptions, System};
    /// use std::time::Duration;
    ///
    /// /// Started once it has been told its configuration.
    /// struct Service { config: Option<String> }
    /// struct Configure(String);
    /// impl Service {
    ///     fn configure(&mut self, Configure(config): Configure, ctx: &mut Context<Self>) {
    ///         self.config = Some(config);
    ///         ctx.ack_started();
    ///     }
    /// }
    /// impl Actor for Service {
    ///     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::configure) }
    ///     fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         ctx.defer_start_ack();
    ///         ctx.send(ctx.myself(), Configure("fast".into()));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let system = System::new();
    /// // Returns once `configure` has acknowledged.
    /// let service = system
    ///     .spawn_with(Service { config: None }, SpawnOptions::new().await_started())
    ///     .unwrap();
    /// # let _ = service;
    /// ```
    pub fn defer_start_ack(&mut self) {
        if let Some(waiter) = self.myself.core.relations().start_waiter() {
            waiter.deferred = true;
        }
    }

    /// Tells this actor's spawner that it has started (see
    /// [`defer_start_ack`](Self::defer_start_ack)). Only the first call
    /// after a deferral tells anything; later calls, or calls with no
    /// spawner waiting, do nothing.
    pub fn ack_started(&mut self) {
        let waiter = self.myself.core.relations().take_start_waiter();
        if let Some(waiter) = waiter {
            waiter.answer(self.myself.id(), Ok(()));
        }
    }

    /// Once this actor has terminated (its `stopped` hook returned, its name
    /// freed), answers `stopper` with [`Stopped`](crate::Stopped), as the
    /// runtime answers the sender of a [`Stop`](crate::Stop) it handles
    /// itself. For an actor that handles `Stop` in a handler of its own to
    /// wind down over several messages: it keeps the `Stop`'s sender, calls
    /// this, and [`stop`](Self::stop)s once done, and a
    /// [`Bridge::stop`](crate::Bridge::stop) waiting on it hears at once.
    /// The last call wins; a kill that ends the actor first answers no one
    /// (as for a `Stop` still queued at a kill).
    ///
    /// ```
    /// use ferrotp::{Actor, Context, ExitReason, Handlers, Stop, System};
    /// use std::time::Duration;
    ///
    /// /// Flushes before it stops: the flush is a message to itself.
    /// struct Writer;
    /// struct Flushed;
    /// impl Writer {
    ///     fn stop(&mut self, _: Stop, ctx: &mut Context<Self>) {
    ///         if let Some(stopper) = ctx.sender().cloned() {
    ///             ctx.answer_stop(&stopper);
    ///         }
    ///         ctx.send(ctx.myself(), Flushed);
    ///     }
    ///     fn flushed(&mut self, _: Flushed, ctx: &mut Context<Self>) {
    ///         ctx.stop(ExitReason::Normal);
    ///     }
    /// }
    /// impl Actor for Writer {
    ///     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::stop).on(Self::flushed) }
    /// }
    ///
    /// let system = System::new();
    /// let writer = system.spawn(Writer);
    /// let stopped = system.bridge().stop(&[writer.clone()], Duration::from_secs(5));
    /// assert_eq!(stopped[0].as_ref().unwrap().reason, ExitReason::Normal);
    /// assert!(!writer.is_alive());
    /// ```
    pub fn answer_stop(&mut self, stopper: &ActorRef) {
        self.stop_reply_to = Some(stopper.clone());
    }

    /// Spawns an actor (see [`System::spawn`]).
    pub fn spawn<B: Actor>(&self, actor: B) -> ActorRef {
        self.system.spawn(actor)
    }

    /// Spawns an actor linked to this one; the link exists before the child
    /// runs any code. If the child cannot be spawned (no thread, the system
    /// shutting down), the address returned is of a dead actor and this
    /// actor receives one exit signal about it, with `NoProc` (as for any
    /// link to a dead actor), and no other.
    pub fn spawn_link<B: Actor>(&self, actor: B) -> ActorRef {
        let options = SpawnOptions::new().link(&self.myself);
        match self.system.spawn_with(actor, options) {
            Ok(child) => child,
            Err(error) => {
                let dead = self.system.dead_actor(&error);
                links::link(&self.myself, &dead);
                dead
            }
        }
    }

    /// Spawns an actor monitored by this one (the monitor exists before the
    /// child runs any code). If the child cannot be spawned, the address
    /// returned is of a dead actor and the monitor returned yields one
    /// `Down` with `NoProc`; no other `Down` comes of the attempt.
    pub fn spawn_monitor<B: Actor>(&self, actor: B) -> (ActorRef, MonitorRef) {
        let mut options = SpawnOptions::new();
        options.monitored_by = Some(self.myself.clone());
        match self.system.spawn_inner(actor, options) {
            Ok((child, Some(monitor))) => (child, monitor),
            Ok((child, None)) => {
                let monitor = self.monitor(&child);
                (child, monitor)
            }
            Err(error) => {
                let dead = self.system.dead_actor(&error);
                let monitor = self.monitor(&dead);
                (dead, monitor)
            }
        }
    }

    /// Spawns with explicit options (see [`System::spawn_with`]).
    pub fn spawn_with<B: Actor>(
        &self,
        actor: B,
        options: SpawnOptions,
    ) -> Result<ActorRef, SpawnError> {
        self.system.spawn_with(actor, options)
    }

    /// Links this actor with `other` (idempotent). If `other` is dead, this
    /// actor gets an exit signal with `NoProc` at once.
    pub fn link(&self, other: &ActorRef) {
        links::link(&self.myself, other);
    }

    /// Removes the link both ways; no exit signal from `other` along it is
    /// delivered after this returns.
    pub fn unlink(&self, other: &ActorRef) {
        links::unlink(&self.myself, other);
    }

    /// Whether exit signals become [`Stopped`](crate::Stopped) messages
    /// (`true`) or terminate this actor when abnormal (`false`, the default).
    ///
    /// It applies to every exit signal this actor takes from now on, those
    /// already waiting included: a signal is trapped or not when the actor
    /// takes it, after the current handler returns. Trapped, it comes in its
    /// place, after the messages queued before it; not trapped, it comes
    /// before every queued message.
    pub fn trap_exit(&self, trap: bool) {
        self.myself.core.trapping.store(trap, Ordering::Release);
    }

    /// Whether this actor traps exits.
    pub fn is_trapping_exits(&self) -> bool {
        self.myself.core.trapping.load(Ordering::Acquire)
    }

    /// Whether [`System::shutdown`](crate::System::shutdown) asks this
    /// actor to stop (`true`) or stops it (`false`, the default).
    ///
    /// By default shutdown sends every actor an untrappable `Shutdown`:
    /// its `stopped` hook runs and it ends, whatever it traps. An actor
    /// that must end in its own time — a supervisor stopping its children
    /// one by one from its mailbox, a service draining its requests —
    /// asks for a trappable one instead: like
    /// [`ActorRef::exit`](crate::ActorRef::exit)`(Shutdown)` from plain
    /// code, it reaches a trapping actor as `Stopped { actor:
    /// ActorId::EXTERNAL, reason: Shutdown }`, and shutdown waits for the
    /// actor to end. It still waits no longer than its deadline: an actor
    /// alive then is killed, as any other. A later pass of the same
    /// shutdown (for what outlived its root) may ask it again.
    ///
    /// It changes nothing for an actor that does not trap exits: a
    /// `Shutdown` ends it either way. To be asked even by a shutdown that
    /// comes before the `started` hook runs, spawn with
    /// [`SpawnOptions::trap_system_shutdown`](crate::SpawnOptions::trap_system_shutdown).
    ///
    /// ```
    /// use ferrotp::{Actor, ActorId, Context, ExitReason, Handlers, SpawnOptions, Stopped, System};
    /// # use std::time::Duration;
    ///
    /// /// Ends one message after shutdown asked it to.
    /// struct Drainer(std::sync::mpsc::Sender<&'static str>);
    /// struct LastOne;
    ///
    /// impl Drainer {
    ///     fn asked(&mut self, stopped: Stopped, ctx: &mut Context<Self>) {
    ///         assert_eq!(stopped.actor, ActorId::EXTERNAL);
    ///         ctx.myself().send(LastOne);
    ///     }
    ///     fn last(&mut self, _: LastOne, ctx: &mut Context<Self>) {
    ///         let _ = self.0.send("drained");
    ///         ctx.stop(ExitReason::Shutdown);
    ///     }
    /// }
    ///
    /// impl Actor for Drainer {
    ///     fn handlers() -> Handlers<Self> {
    ///         Handlers::new().on(Self::asked).on(Self::last)
    ///     }
    /// }
    ///
    /// let system = System::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let options = SpawnOptions::new().trap_exit(true).trap_system_shutdown();
    /// system.spawn_with(Drainer(tx), options).unwrap();
    /// system.shutdown(Duration::from_secs(10)).unwrap();
    /// assert_eq!(rx.try_recv(), Ok("drained"));
    /// ```
    pub fn trap_system_shutdown(&self, trap: bool) {
        self.myself
            .core
            .graceful_shutdown
            .store(trap, Ordering::Release);
    }

    /// Watches `target`: when it terminates, this actor receives one
    /// [`Down`](crate::Down). A dead target yields `Down` with `NoProc` at once.
    pub fn monitor(&self, target: &ActorRef) -> MonitorRef {
        links::monitor(&self.myself, target)
    }

    /// Stops watching; no `Down` for `monitor` is delivered after this
    /// returns. Returns whether the monitor was still active.
    pub fn demonitor(&self, monitor: MonitorRef) -> bool {
        links::demonitor(&self.myself, monitor)
    }

    /// Sends an exit signal to `to` with this actor as its origin (see
    /// [`ActorRef::exit`]).
    ///
    /// As Erlang's `exit(self(), normal)`, `ctx.exit(ctx.myself(), Normal)`
    /// terminates this actor with `Normal` once the current handler returns
    /// (before any queued message; `stopped` runs), where a `Normal` signal
    /// from anyone else is ignored. An actor that traps exits receives
    /// `Stopped { itself, Normal }` instead.
    pub fn exit(&self, to: &ActorRef, reason: ExitReason) {
        to.exit_from(self.myself.id(), reason);
    }

    /// Sends the exit signal `reason` to `to` with this actor as its origin,
    /// and kills `to` if it is still alive after `timeout`, even if this
    /// actor has terminated by then (see [`ActorRef::exit_or_kill`]).
    pub fn exit_or_kill(&self, to: &ActorRef, reason: ExitReason, timeout: Duration) -> TimerRef {
        to.exit_or_kill_from(self.myself.id(), reason, timeout)
    }

    /// Sends `msg` to `to` after `delay`, with this actor as the sender.
    /// Dropped if this actor has terminated by then.
    pub fn send_after<M: Send + 'static>(
        &self,
        delay: Duration,
        to: &ActorRef,
        msg: M,
    ) -> TimerRef {
        let envelope = Envelope::new(msg, Some(self.myself.clone()));
        let send = Action::Send {
            to: to.clone(),
            envelope,
        };
        self.myself
            .core
            .system
            .timers
            .schedule(delay, send, Some(&self.myself.core))
    }

    /// Cancels a timer; `true` if it had not fired yet (it never will).
    pub fn cancel_timer(&self, timer: TimerRef) -> bool {
        self.myself.core.system.timers.cancel(timer)
    }

    /// Registers this actor under `name`.
    pub fn register_self(&self, name: &str) -> Result<(), RegistryError> {
        self.system.register(name, &self.myself)
    }

    /// Registers `actor` under `name` (see [`System::register`]).
    pub fn register(&self, name: &str, actor: &ActorRef) -> Result<(), RegistryError> {
        self.system.register(name, actor)
    }

    /// Frees `name` (see [`System::unregister`]).
    pub fn unregister(&self, name: &str) -> Option<ActorRef> {
        self.system.unregister(name)
    }

    /// The live actor registered under `name`.
    pub fn whereis(&self, name: &str) -> Option<ActorRef> {
        self.system.whereis(name)
    }

    /// Sends `msg` to the actor registered under `name`, with this actor as the sender.
    pub fn send_named<M: Send + 'static>(&self, name: &str, msg: M) -> Result<(), RegistryError> {
        let to = self
            .whereis(name)
            .ok_or_else(|| RegistryError::NotRegistered(name.to_string()))?;
        self.send(&to, msg);
        Ok(())
    }
}
