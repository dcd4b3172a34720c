//! Spawning: [`SpawnOptions`], and how a new actor gets its address, its
//! name, its links and its executor before it runs its first line.
//!
//! Apart from the [`System`] handle because it is the one intricate path a
//! system has besides shutdown: the order of its steps is what makes names,
//! links, monitors and lifecycle events hold for an actor from birth, and it
//! meets shutdown only through [`SpawnGate`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{System, SystemInner};
use crate::actor::Actor;
use crate::address::{current_actor_in, ActorRef, Core, Driver};
use crate::cell::ActorCell;
use crate::context::Context;
use crate::error::SpawnError;
use crate::events::LifecycleEvent;
use crate::executor::pool::PoolEntry;
use crate::executor::Executor;
use crate::exit::ExitReason;
use crate::handlers::handlers_for;
use crate::inbox::Inbox;
use crate::links::{self, MonitorRef, Relations};
use crate::mailbox::Lane;
use crate::start_ack::{Spawner, StartWaiter};

/// Options for [`System::spawn_with`].
///
/// ```
/// use ferrotp::SpawnOptions;
/// let options = SpawnOptions::new().name("cache").trap_exit(true).await_started();
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default)]
pub struct SpawnOptions {
    name: Option<String>,
    link: Option<ActorRef>,
    trap_exit: bool,
    await_started: bool,
    notify_started: Option<ActorRef>,
    executor: Option<Executor>,
    labels: Vec<(String, String)>,
    mailbox: Option<usize>,
    pub(crate) monitored_by: Option<ActorRef>,
    tie_notices: bool,
    trap_system_shutdown: bool,
}

impl SpawnOptions {
    /// No name, no link, not trapping, not waiting.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the actor under `name` before it runs any code; the spawn
    /// fails with [`SpawnError::Name`] if the name is taken.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Links the actor to `other` before it runs any code.
    ///
    /// If `other` is already dead, the link delivers the exit signal
    /// `NoProc` at once, before the actor's first line: an actor that does
    /// not trap exits terminates with `NoProc` without running `started`
    /// (or `stopped`; its state is dropped, and with `await_started` the
    /// spawn fails with `StartFailed(NoProc)`), as a BEAM process acts on a
    /// pending exit signal before running code. An actor that traps exits
    /// runs `started`, then receives `Stopped { other, NoProc }` as its
    /// first message. If `other` dies after the spawn linked them, the
    /// actor runs `started` and acts on the signal before any message.
    pub fn link(mut self, other: &ActorRef) -> Self {
        self.link = Some(other.clone());
        self
    }

    /// Whether the actor traps exits from its first line of code.
    pub fn trap_exit(mut self, trap: bool) -> Self {
        self.trap_exit = trap;
        self
    }

    /// Makes the spawn return only once the actor's `started` hook has
    /// returned (or, if it deferred its acknowledgement with
    /// [`Context::defer_start_ack`], once it called
    /// [`Context::ack_started`]), and fail with [`SpawnError::StartFailed`]
    /// if it ended first. A spawner that must not block uses
    /// [`notify_started`](Self::notify_started) instead.
    pub fn await_started(mut self) -> Self {
        self.await_started = true;
        self.notify_started = None;
        self
    }

    /// Makes the spawn return at once, and tells `spawner` as a
    /// [`StartAck`](crate::StartAck) message whether the actor started: `Ok`
    /// once its `started` hook returned (or, if it deferred its
    /// acknowledgement with [`Context::defer_start_ack`], once it called
    /// [`Context::ack_started`]), else the reason it terminated with first
    /// (a failed or panicking `started`, a kill). Exactly one
    /// acknowledgement follows every spawn that returned `Ok`; a spawn that
    /// fails returns its error and sends none. Replaces
    /// [`await_started`](Self::await_started) (the later call wins).
    ///
    /// An actor starts others this way from its own mailbox, without
    /// blocking its thread while they run their `started` hooks (OTP's
    /// `proc_lib:start` and `init_ack`): on the pool a child that
    /// acknowledges runs next on its spawner's worker, and its
    /// acknowledgement brings the spawner back there, with no thread
    /// switch. Supervisors start their children one after another so.
    ///
    /// ```
    /// use ferrotp::{Actor, Context, ExitReason, Handlers, SpawnOptions, StartAck, System};
    /// use std::time::Duration;
    ///
    /// struct Child;
    /// impl Actor for Child { fn handlers() -> Handlers<Self> { Handlers::new() } }
    ///
    /// /// Starts `left` children one at a time, each once the last started.
    /// struct Parent { left: usize, done: Option<ferrotp::ActorRef> }
    /// impl Parent {
    ///     fn next(&mut self, ctx: &mut Context<Self>) {
    ///         if self.left == 0 {
    ///             let done = self.done.take().unwrap();
    ///             ctx.send(&done, "all started");
    ///             return;
    ///         }
    ///         self.left -= 1;
    ///         let options = SpawnOptions::new().link(ctx.myself()).notify_started(ctx.myself());
    ///         ctx.spawn_with(Child, options).unwrap();
    ///     }
    ///     fn on_ack(&mut self, ack: StartAck, ctx: &mut Context<Self>) {
    ///         match ack.outcome {
    ///             Ok(()) => self.next(ctx),
    ///             // A child that failed to start fails the parent.
    ///             Err(reason) => ctx.stop(reason),
    ///         }
    ///     }
    /// }
    /// impl Actor for Parent {
    ///     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::on_ack) }
    ///     fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         self.next(ctx);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let system = System::new();
    /// let inbox = system.inbox();
    /// system.spawn(Parent { left: 3, done: Some(inbox.actor().clone()) });
    /// let done = inbox.recv(Duration::from_secs(5)).unwrap().downcast::<&str>().unwrap();
    /// assert_eq!(done, "all started");
    /// ```
    pub fn notify_started(mut self, spawner: &ActorRef) -> Self {
        self.notify_started = Some(spawner.clone());
        self.await_started = false;
        self
    }

    /// Runs the actor on a thread of its own, whatever the system's default
    /// executor: for an actor that blocks (I/O, long computations) and must
    /// not hold a pool worker. It links, monitors and is supervised exactly
    /// like a pooled actor.
    pub fn dedicated(self) -> Self {
        self.executor(Executor::Threads)
    }

    /// Runs the actor on `executor` instead of the system's default.
    pub fn executor(mut self, executor: Executor) -> Self {
        self.executor = Some(executor);
        self
    }

    /// Tells the actor, as [`TieNotice`](crate::TieNotice) messages, when
    /// another actor links to it, unlinks, monitors or demonitors it: for
    /// an actor that stands for something outside the system (a remote
    /// process, a connection) and must pass those ties on. Off by default.
    /// Like a `Down`, a notice is never refused by a full bounded mailbox.
    pub fn tie_notices(mut self) -> Self {
        self.tie_notices = true;
        self
    }

    /// Has [`System::shutdown`] ask the actor to stop (a trappable
    /// `Shutdown`) rather than stop it, from before it runs any code: see
    /// [`Context::trap_system_shutdown`](crate::Context::trap_system_shutdown),
    /// which can also turn it on or off later. Off by default.
    pub fn trap_system_shutdown(mut self) -> Self {
        self.trap_system_shutdown = true;
        self
    }

    /// Labels the actor with `key` = `value` from before it runs any code
    /// (a later `label` with the same key wins): a fact about it for tools,
    /// read back with [`ActorRef::label`] and [`ActorInfo::labels`](crate::ActorInfo::labels), like
    /// the data OTP's `proc_lib` keeps in a process's dictionary. The
    /// kernel gives no key a meaning; behaviours pick their own (the
    /// supervisors crate records each child's id), so prefix keys with your
    /// crate's name.
    ///
    /// ```
    /// use ferrotp::{Actor, Handlers, SpawnOptions, System};
    /// # struct Idle;
    /// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let job = system.spawn_with(Idle, SpawnOptions::new().label("myapp.job", "nightly")).unwrap();
    /// assert_eq!(job.label("myapp.job").as_deref(), Some("nightly"));
    /// ```
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }

    /// Bounds the actor's mailbox to `capacity` messages (at least 1; the
    /// spawn fails with [`SpawnError::ZeroCapacity`] otherwise). Without
    /// it a mailbox is unbounded, as in Erlang: a producer that outruns its
    /// consumer grows it until memory runs out.
    ///
    /// A message counts from when it is admitted until the actor takes it
    /// to be handled. What a full mailbox does with a message depends on
    /// how it is sent:
    /// - [`ActorRef::try_send`](crate::ActorRef::try_send) and
    ///   [`Context::try_send`](crate::Context::try_send) give it back at
    ///   once as [`SendError::Full`](crate::SendError::Full); they never
    ///   block, so an actor's handler uses them;
    /// - [`ActorRef::send_timeout`](crate::ActorRef::send_timeout) waits for
    ///   room, for plain code that should slow to the consumer's pace;
    /// - [`send`](crate::ActorRef::send) (and whatever sends for you:
    ///   `reply`, timers, group broadcasts) never blocks either: the message
    ///   is dropped and counted as a dead letter
    ///   ([`System::dead_letters`]);
    /// - [`Bridge::call`](crate::Bridge::call) fails at once with
    ///   [`CallError::Full`](crate::CallError::Full).
    ///
    /// Exit signals, `kill`, `Down`, the `Stopped` answering a `Stop` and
    /// the outcomes of the actor's own tasks (feature `tokio`) are never
    /// refused: an actor learns of an end whatever its backlog.
    /// [`Stop`](crate::Stop) is an ordinary message, refused like any
    /// other: [`Bridge::stop`](crate::Bridge::stop) waits for room within
    /// its timeout, and an exit signal (`ActorRef::exit` with `Shutdown`,
    /// which is how supervisors stop children) or `kill` stops an actor
    /// whatever its backlog.
    ///
    /// ```
    /// use ferrotp::{Actor, Handlers, SpawnOptions, System};
    /// # struct Worker;
    /// # impl Actor for Worker { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let worker = system.spawn_with(Worker, SpawnOptions::new().mailbox(1_000)).unwrap();
    /// assert_eq!(worker.info().mailbox_capacity, Some(1_000));
    /// ```
    pub fn mailbox(mut self, capacity: usize) -> Self {
        self.mailbox = Some(capacity);
        self
    }
}

impl System {
    /// Spawns `actor` on the system's default executor (a worker of the
    /// shared pool unless the system was built with `Executor::Threads`;
    /// [`SpawnOptions::dedicated`] gives an actor a thread of its own) and
    /// returns its address.
    ///
    /// Never panics. If the actor cannot be spawned (the OS refuses a
    /// thread, or the system is shutting down) the error is logged and the
    /// returned address is of an actor that is already dead: messages to it
    /// are dead letters, and linking to or monitoring it reports `NoProc`.
    /// Use [`try_spawn`](Self::try_spawn) to get the error instead.
    pub fn spawn<A: Actor>(&self, actor: A) -> ActorRef {
        match self.try_spawn(actor) {
            Ok(actor) => actor,
            Err(error) => self.dead_actor(&error),
        }
    }

    /// Spawns `actor`, or says why it could not: the OS refused a thread
    /// ([`SpawnError::Thread`]), the process runs as many threads as it
    /// safely can ([`SpawnError::TooManyThreads`]), or the system is shutting
    /// down ([`SpawnError::ShuttingDown`]). The other errors need options:
    /// see [`spawn_with`](Self::spawn_with).
    pub fn try_spawn<A: Actor>(&self, actor: A) -> Result<ActorRef, SpawnError> {
        self.spawn_with(actor, SpawnOptions::new())
    }

    /// Spawns `actor` with options: a name, a link, exit trapping, and
    /// waiting for `started`. Besides [`try_spawn`](Self::try_spawn)'s
    /// errors, it fails with [`SpawnError::Name`] if the name is taken (then
    /// nothing was spawned: no lifecycle event, no exit log) and, with
    /// `await_started`, [`SpawnError::StartFailed`] if `started` failed.
    pub fn spawn_with<A: Actor>(
        &self,
        actor: A,
        options: SpawnOptions,
    ) -> Result<ActorRef, SpawnError> {
        self.spawn_inner(actor, options).map(|(actor, _)| actor)
    }

    pub(crate) fn dead_actor(&self, error: &SpawnError) -> ActorRef {
        tracing::error!(%error, "spawn failed; returning the address of a dead actor");
        let inbox = Inbox::in_system(&self.inner);
        inbox.actor().clone()
    }

    pub(crate) fn spawn_inner<A: Actor>(
        &self,
        actor: A,
        options: SpawnOptions,
    ) -> Result<(ActorRef, Option<MonitorRef>), SpawnError> {
        let inner = &self.inner;
        if options.mailbox == Some(0) {
            return Err(SpawnError::ZeroCapacity);
        }
        let gate = SpawnGate::enter(inner)?;
        let id = inner.next_id();
        let executor = options.executor.unwrap_or(inner.default_executor);
        let driver = match executor {
            Executor::Pool => Driver::Pool(PoolEntry::new()),
            // A bounded mailbox has no lane: what waits there counts
            // against no capacity.
            Executor::Threads => {
                Driver::Thread(options.mailbox.is_none().then(Box::<Lane>::default))
            }
        };
        let parent = current_actor_in(inner);
        let core = Arc::new(Core::new(
            id,
            inner.clone(),
            driver,
            options.trap_exit,
            parent,
            options.mailbox,
        ));
        if options.tie_notices {
            core.tie_notices.store(true, Ordering::Relaxed);
        }
        if options.trap_system_shutdown {
            core.graceful_shutdown.store(true, Ordering::Relaxed);
        }
        let actor_ref = ActorRef::from_core(core);
        if !options.labels.is_empty() {
            let mut rel = actor_ref.core.relations();
            for (key, value) in &options.labels {
                rel.rare().labels.set(key.clone(), value.clone());
            }
        }
        let kind = std::any::type_name::<A>();
        // Announced before anyone can reach it (a name, the actor table):
        // whatever ends it later, its `Exited` follows its `Spawned`.
        match &options.name {
            Some(name) => {
                let announce = |rel: &mut Relations| {
                    announce(rel, &actor_ref, Some(name), kind, executor);
                };
                let registered =
                    inner
                        .registry
                        .register_then(name, &actor_ref, &inner.events, announce);
                if let Err(error) = registered {
                    // It never existed for anyone: closed without an event or a log.
                    actor_ref.core.close(&ExitReason::NoProc);
                    return Err(error.into());
                }
            }
            None => announce(
                &mut actor_ref.core.relations(),
                &actor_ref,
                None,
                kind,
                executor,
            ),
        }
        // Linked to an actor already dead, a child that does not trap exits
        // is doomed by the `NoProc` signal: like a BEAM process that acts on
        // a pending exit signal before its code, it dies before its first line.
        let doomed = match &options.link {
            Some(other) if !options.trap_exit && !other.is_alive() => true,
            Some(other) => {
                links::link(&actor_ref, other);
                false
            }
            None => false,
        };
        let monitor = options
            .monitored_by
            .as_ref()
            .map(|watcher| links::monitor(watcher, &actor_ref));
        // Installed before the actor can end (doomed, or killed by whoever
        // finds it by name), so that its end answers the spawner.
        let started = options.await_started.then(|| {
            let (tx, rx) = crossbeam_channel::bounded(1);
            actor_ref.core.relations().rare().start_waiter =
                Some(StartWaiter::new(Spawner::Blocked(tx)));
            rx
        });
        if let Some(spawner) = &options.notify_started {
            let waiter = StartWaiter::new(Spawner::Notified(spawner.clone()));
            actor_ref.core.relations().rare().start_waiter = Some(waiter);
        }
        inner.actors.insert(id, actor_ref.clone());
        if doomed {
            return dead_on_arrival(actor_ref, actor, options.await_started).map(|a| (a, monitor));
        }

        let ctx = Context::new(actor_ref.clone(), System::non_owning(inner.clone()));
        let cell = ActorCell::new(actor, ctx, handlers_for::<A>());
        match executor {
            Executor::Threads => {
                if let Err(error) = inner.executor.launch(cell) {
                    let why = format!("could not spawn a thread: {error}");
                    unborn(&actor_ref, &options, monitor, why);
                    return Err(error);
                }
            }
            Executor::Pool => {
                let pool = match inner.pool_or_start() {
                    Ok(pool) => pool,
                    Err(error) => {
                        let why = format!("could not start the pool: {error}");
                        unborn(&actor_ref, &options, monitor, why);
                        return Err(error);
                    }
                };
                // `started` runs on a worker like any turn, even when the
                // spawner waits for it: a `kill` of a child stuck in
                // `started` must free its spawner at once (the kill answers
                // the waiter) and put another worker in place of the stuck
                // one, neither of which could happen if the spawner's own
                // thread ran the hook.
                pool.launch(actor_ref.core.clone(), cell);
            }
        }
        // In the table and launched: shutdown will find it. Waiting for
        // `started` is left out of the gate, which shutdown waits on.
        drop(gate);
        if let Some(started) = started {
            // A spawner on a pool worker tells the pool it waits: the child
            // may need a worker to start.
            match crate::executor::pool::blocking(|| started.recv()) {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => return Err(SpawnError::StartFailed(reason)),
                // Unreachable: the waiter is answered before it is dropped.
                Err(_) => return Err(SpawnError::StartFailed(ExitReason::NoProc)),
            }
        }
        Ok((actor_ref, monitor))
    }
}

/// A spawn in flight: counted from its look at the shutting-down flag until
/// its actor is in the system's table and launched.
///
/// Both sides use sequentially consistent order (spawn: count, then look at
/// the flag; shutdown: set the flag, then look at the count), so either the
/// spawn sees the flag and fails, or shutdown sees the spawn and waits for
/// its actor to be in the table before it looks there. Without it a spawn
/// that looked just before the flag was set could add its actor after
/// shutdown's last look, and outlive the system (or start a new pool).
struct SpawnGate<'a>(&'a AtomicUsize);

impl<'a> SpawnGate<'a> {
    fn enter(inner: &'a SystemInner) -> Result<Self, SpawnError> {
        inner.spawning.fetch_add(1, Ordering::SeqCst);
        let gate = SpawnGate(&inner.spawning);
        if inner.shutting_down.load(Ordering::SeqCst) {
            return Err(SpawnError::ShuttingDown);
        }
        Ok(gate)
    }
}

impl Drop for SpawnGate<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Ends an actor that never ran because it got no thread to run on.
///
/// The link and monitor its spawn made are taken back first, silently:
/// the spawner gets the error and no child, so no exit signal or `Down`
/// may name that child. ([`Context::spawn_link`] and
/// [`Context::spawn_monitor`] then report the failure once, about the
/// address they return.)
fn unborn(actor: &ActorRef, options: &SpawnOptions, monitor: Option<MonitorRef>, why: String) {
    // The spawn returns the error: no acknowledgement follows it.
    actor.core.relations().take_start_waiter();
    if let Some(other) = &options.link {
        links::unlink(actor, other);
    }
    if let (Some(watcher), Some(monitor)) = (&options.monitored_by, monitor) {
        links::demonitor(watcher, monitor);
    }
    actor.core.close(&ExitReason::Error(why));
}

/// Emits `Spawned` for a new actor, under its relations lock (`rel`) and
/// before anyone else can reach it: `close` emits `Exited` exactly for the
/// actors marked announced here.
fn announce(
    rel: &mut Relations,
    actor: &ActorRef,
    name: Option<&str>,
    kind: &'static str,
    executor: Executor,
) {
    rel.announced = true;
    tracing::debug!(actor = %actor.id(), name, kind, ?executor, "spawned");
    actor.core.system.events.emit(|| LifecycleEvent::Spawned {
        actor: actor.id(),
        name: name.map(str::to_string),
    });
}

/// Ends an actor that was spawned linked to a dead one and does not trap
/// exits: with `NoProc`, before it runs any code (neither `started` nor
/// `stopped` runs; its state is dropped).
fn dead_on_arrival<A: Actor>(
    actor_ref: ActorRef,
    actor: A,
    await_started: bool,
) -> Result<ActorRef, SpawnError> {
    let core = &actor_ref.core;
    core.close(&ExitReason::NoProc);
    if let Err(text) = crate::panic::guard(move || drop(actor)) {
        tracing::error!(actor = %core.id, panic = %text, "dropping the actor panicked");
    }
    let dropped = core.close_mailbox();
    if dropped > 0 {
        core.system.dead_letters_dropped(core.id, dropped);
    }
    if await_started {
        return Err(SpawnError::StartFailed(ExitReason::NoProc));
    }
    Ok(actor_ref)
}
