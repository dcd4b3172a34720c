//! [`FnAddress`]: an address that runs a function on each delivery,
//! instead of queuing mail for a reader.
//!
//! A reply often needs nothing but a few instructions done with it: hand
//! it to a waiting thread, encode it onto a socket, count it. An actor or
//! an [`Inbox`](crate::Inbox) for that costs a mailbox, a wake-up and a
//! thread switch per reply; a function address runs the function on the
//! sender's thread, inside `send`, and is done.

use std::sync::Arc;

use parking_lot::{Mutex, ReentrantMutex};

use crate::address::{ActorRef, Core, Driver};
use crate::exit::{Down, ExitReason, Stopped};
use crate::links::{self, MonitorRef};
use crate::mailbox::{Envelope, ExitSignal};
use crate::system::System;

type Many = Box<dyn Fn(Envelope) + Send + Sync>;
type Once = Box<dyn FnOnce(Envelope) + Send>;

/// The function behind a function address (the core's driver).
pub(crate) struct FnSlot {
    run: Run,
    /// The function reads who sent a message: senders attach their
    /// address. When it does not (a call's reply address), they attach
    /// none, and spare their own address a clone and a drop that would
    /// write its count from two threads.
    reads_sender: bool,
    /// Held while a `Down` or an exit signal runs the function, and by
    /// [`FnAddress::demonitor`]: once that returns, no `Down` of the
    /// monitor is running or will run. Reentrant: the function may
    /// demonitor.
    signals: ReentrantMutex<()>,
}

enum Run {
    Many(Many),
    /// Taken by the first delivery.
    Once(Mutex<Option<Once>>),
}

/// An address whose mail runs a function on the sender's thread.
///
/// Sending to it (`send`, `send_from`, a handler's `ctx.reply`, a timer)
/// calls the function with the [`Envelope`] before the send returns, on
/// the thread that sends: there is no mailbox, no queue and no wake-up. So
/// the function must be short and must not block (it runs inside someone
/// else's handler); hand anything longer to a thread or an actor. Several
/// senders may run it at once ([`new`](Self::new) asks for `Fn + Sync`).
///
/// Like an [`Inbox`](crate::Inbox), it traps exits: an exit signal
/// (a link firing, `exit`) arrives as a [`Stopped`] message, and the end
/// of an actor it [`monitor`](Self::monitor)s as a [`Down`]. An
/// untrappable exit, [`ActorRef::kill`], or a panic in the function (its
/// reason is [`ExitReason::Panic`], and the sender goes on unharmed) ends
/// the address; whatever is sent to an ended address is a dead letter.
/// Dropping the `FnAddress` ends it with `Normal`, unless it was
/// [`detach`](Self::detach)ed.
///
/// A function address is not an actor: it is not among
/// [`System::actors`](crate::System::actors) and makes no lifecycle events.
///
/// ```
/// use ferrotp::{Actor, Context, FnAddress, Handlers, System};
/// use std::time::Duration;
///
/// struct Doubler;
/// impl Doubler {
///     fn double(&mut self, n: u64, ctx: &mut Context<Self>) { ctx.reply(n * 2); }
/// }
/// impl Actor for Doubler {
///     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::double) }
/// }
///
/// let system = System::new();
/// let doubler = system.spawn(Doubler);
/// // Each reply goes straight into a channel: no reader, no actor.
/// let (tx, replies) = crossbeam_channel::unbounded();
/// let address = FnAddress::new(&system, move |envelope| {
///     if let Ok(n) = envelope.downcast::<u64>() {
///         let _ = tx.send(n);
///     }
/// });
/// doubler.send_from(21u64, address.actor());
/// assert_eq!(replies.recv_timeout(Duration::from_secs(5)), Ok(42));
/// ```
pub struct FnAddress {
    actor: ActorRef,
    end_on_drop: bool,
}

impl FnAddress {
    /// An address that runs `f` for every message sent to it.
    pub fn new(system: &System, f: impl Fn(Envelope) + Send + Sync + 'static) -> FnAddress {
        Self::with(system, Run::Many(Box::new(f)), true)
    }

    /// [`new`](Self::new), for a function that never reads who sent a
    /// message: the envelopes it gets carry no sender.
    pub(crate) fn ignoring_senders(
        system: &System,
        f: impl Fn(Envelope) + Send + Sync + 'static,
    ) -> FnAddress {
        Self::with(system, Run::Many(Box::new(f)), false)
    }

    /// An address that runs `f` for the first message sent to it, then
    /// ends with `Normal` (its monitors fire; later messages are dead
    /// letters). A reply address for one request:
    ///
    /// ```
    /// use ferrotp::{ExitReason, FnAddress, System};
    /// use std::sync::mpsc;
    ///
    /// let system = System::new();
    /// let (tx, got) = mpsc::channel();
    /// let reply_to = FnAddress::once(&system, move |envelope| {
    ///     let _ = tx.send(envelope.downcast::<&str>().ok());
    /// })
    /// .detach();
    /// reply_to.send("first");
    /// reply_to.send("second"); // a dead letter
    /// assert_eq!(got.recv().unwrap(), Some("first"));
    /// assert_eq!(reply_to.exit_reason(), Some(ExitReason::Normal));
    /// assert!(got.try_recv().is_err());
    /// ```
    pub fn once(system: &System, f: impl FnOnce(Envelope) + Send + 'static) -> FnAddress {
        Self::with(system, Run::Once(Mutex::new(Some(Box::new(f)))), true)
    }

    fn with(system: &System, run: Run, reads_sender: bool) -> FnAddress {
        let system = system.inner();
        let slot = FnSlot {
            run,
            reads_sender,
            signals: ReentrantMutex::new(()),
        };
        // Boxed: the driver is in every actor's core, and this is the largest.
        let driver = Driver::Function(Box::new(slot));
        let core = Core::new(system.next_id(), system.clone(), driver, true, None, None);
        FnAddress {
            actor: ActorRef::from_core(Arc::new(core)),
            end_on_drop: true,
        }
    }

    /// The address: give it as a sender, send to it, link to or monitor it.
    pub fn actor(&self) -> &ActorRef {
        &self.actor
    }

    /// Monitors `target`: its end runs the function with a [`Down`].
    pub fn monitor(&self, target: &ActorRef) -> MonitorRef {
        links::monitor(&self.actor, target)
    }

    /// Removes a monitor; returns whether it was still active. Once this
    /// returns, no `Down` of that monitor runs the function, nor is
    /// running it (unless the caller is that very run).
    pub fn demonitor(&self, monitor: MonitorRef) -> bool {
        let FnSlot { signals, .. } = slot(&self.actor.core);
        let _running = signals.lock();
        links::demonitor(&self.actor, monitor)
    }

    /// Links the address with `actor`, both ways: the actor's end runs the
    /// function with a [`Stopped`] (the address traps exits), and the
    /// address's end is an exit signal to the actor.
    pub fn link(&self, actor: &ActorRef) {
        links::link(&self.actor, actor);
    }

    /// Removes a link both ways; a signal already on its way along it is void.
    pub fn unlink(&self, actor: &ActorRef) {
        links::unlink(&self.actor, actor);
    }

    /// Sends the exit signal `reason` to `to` with this address as its
    /// origin (see [`ActorRef::exit`]): a trapping `to` gets
    /// `Stopped { actor: <this address>, reason }`.
    pub fn exit(&self, to: &ActorRef, reason: ExitReason) {
        to.exit_from(self.actor.id(), reason);
    }

    /// Ends the address with `reason`, as an actor ends: its links and
    /// monitors fire with that reason and later mail is dead letters. For
    /// an address that stands for something outside the system which ended
    /// (a remote process). `false` if it had ended already.
    pub fn end(&self, reason: ExitReason) -> bool {
        self.actor.core.close(&reason)
    }

    /// Runs the function with a [`TieNotice`](crate::TieNotice) whenever an
    /// actor or an inbox links to, unlinks from, monitors or demonitors the
    /// address, as [`SpawnOptions::tie_notices`](crate::SpawnOptions::tie_notices)
    /// does for an actor: for an address that passes ties on to something
    /// outside the system. Call it before handing the address out.
    pub fn tie_notices(self) -> Self {
        self.actor
            .core
            .tie_notices
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self
    }

    /// Lets the address live on without this handle, as long as anyone
    /// holds an [`ActorRef`] to it (a request's sender, a link, a
    /// monitor, a timer); it ends only as described above. Returns its
    /// `ActorRef`.
    pub fn detach(mut self) -> ActorRef {
        self.end_on_drop = false;
        self.actor.clone()
    }
}

impl Drop for FnAddress {
    fn drop(&mut self) {
        if self.end_on_drop {
            self.actor.core.close(&ExitReason::Normal);
        }
    }
}

impl std::fmt::Debug for FnAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FnAddress({})", self.actor.id())
    }
}

fn slot(core: &Core) -> &FnSlot {
    match &core.driver {
        Driver::Function(slot) => slot,
        // Only `FnAddress::with` makes a core with this driver.
        _ => unreachable!("an FnAddress without its function"),
    }
}

impl FnSlot {
    /// Whether a message sent here should carry its sender.
    pub(crate) fn reads_sender(&self) -> bool {
        self.reads_sender
    }

    /// A message for the address (its sender is neither killed nor is the
    /// address dead: `Core::offer` checked).
    pub(crate) fn message(&self, core: &Arc<Core>, envelope: Envelope) {
        if let Some(envelope) = crate::groups::screen(core, envelope) {
            self.run(core, envelope);
        }
    }

    /// An exit signal: trapped as a `Stopped` message, unless untrappable.
    pub(crate) fn exit(&self, core: &Arc<Core>, signal: ExitSignal) {
        let _running = self.signals.lock();
        let me = ActorRef::from_core(core.clone());
        if core.is_dead() || !links::accept_exit(&me, &signal) {
            return;
        }
        if signal.force {
            core.close(&signal.reason);
            return;
        }
        let stopped = Stopped {
            actor: signal.from,
            reason: signal.reason,
        };
        self.run(core, Envelope::new(stopped, None));
    }

    /// A monitor of the address fired.
    pub(crate) fn down(&self, core: &Arc<Core>, down: Down) {
        let _running = self.signals.lock();
        let me = ActorRef::from_core(core.clone());
        if core.is_dead() || !links::accept_down(&me, down.monitor) {
            return;
        }
        self.run(core, Envelope::new(down, None));
    }

    /// Runs the function; a panic in it ends the address, not the sender.
    fn run(&self, core: &Arc<Core>, envelope: Envelope) {
        let outcome = match &self.run {
            Run::Many(f) => crate::panic::guard(|| f(envelope)),
            Run::Once(f) => {
                let Some(f) = f.lock().take() else {
                    // A second message raced the first: it came too late.
                    core.refuse(envelope, "a one-shot address was used");
                    return;
                };
                let outcome = crate::panic::guard(move || f(envelope));
                if outcome.is_ok() {
                    core.close(&ExitReason::Normal);
                }
                outcome
            }
        };
        if let Err(text) = outcome {
            tracing::warn!(address = %core.id, panic = %text, "the function of an FnAddress panicked");
            core.close(&ExitReason::Panic(text));
        }
    }
}
