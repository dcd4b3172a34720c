//! A child's life as its supervisor sees it: who the supervisor's parent
//! is, how a child is spawned, and how children are stopped.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::inspect::CHILD_ID_LABEL;
use ferrotp::{Actor, ActorId, ActorRef, Context, ExitReason, SpawnError, SpawnOptions, System};

use crate::inspect::{KIND_LABEL, SUPERVISORS_GROUP};
use crate::report::Reporter;
use crate::spec::{ChildSpec, Restart, Shutdown};
use crate::subtree::{Member, Reaper, Subtree, Wait};

/// Who started a supervisor; its exit signal makes the supervisor shut its
/// tree down and terminate with the same reason.
#[derive(Clone, Debug)]
pub(crate) enum Parent {
    /// Plain code: exit signals sent from outside any actor
    /// ([`ActorId::EXTERNAL`]).
    External,
    /// The actor the supervisor is linked to.
    Actor(ActorRef),
}

impl Parent {
    pub fn is(&self, id: ActorId) -> bool {
        match self {
            Parent::External => id == ActorId::EXTERNAL,
            Parent::Actor(parent) => parent.id() == id,
        }
    }

    /// Before a supervisor that failed to start terminates: its caller gets
    /// the error as a return value, not also as an exit signal.
    pub fn unlink<A: Actor>(&self, ctx: &Context<A>) {
        if let Parent::Actor(parent) = self {
            ctx.unlink(parent);
        }
    }
}

/// Whether an exit signal from `from` is `System::shutdown` asking the
/// supervisor to stop (see `Context::trap_system_shutdown`). It obeys it
/// like its parent's, whoever its parent is: the system is going away.
pub(crate) fn is_system_shutdown<A: Actor>(from: ActorId, ctx: &Context<A>) -> bool {
    from == ActorId::EXTERNAL && ctx.system().is_shutting_down()
}

/// What every supervisor does first in `started`: shows what it is (its
/// `kind` label, the supervisors' group), asks for a trappable system
/// shutdown, and learns its own id and system.
pub(crate) fn enter<A: Actor>(
    ctx: &Context<A>,
    kind: &str,
    own: &Subtree,
    reporter: &mut Reporter,
) {
    ctx.set_label(KIND_LABEL, kind);
    // `System::shutdown` asks, rather than forces: the children then stop
    // in order from the mailbox, as for any other shutdown, and the
    // `stopped` hook (which blocks a thread per child) has nothing left to
    // do.
    ctx.trap_system_shutdown(true);
    ctx.join(SUPERVISORS_GROUP);
    own.set_owner(ctx.myself().id());
    reporter.id = ctx.myself().id();
    reporter.system = Some(ctx.system().clone());
}

/// How a supervisor learns that a child it spawns has started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ack {
    /// The spawn returns once the child has started (or failed to).
    Await,
    /// The spawn returns at once; a [`StartAck`](ferrotp::StartAck) comes
    /// as a message.
    Notify,
}

/// Spawns the child `spec` describes, as [`spawn_child`] does.
pub(crate) fn spawn_spec<A: Actor>(
    ctx: &Context<A>,
    own: &Subtree,
    spec: &ChildSpec,
    ack: Ack,
) -> Result<ActorRef, ExitReason> {
    let name = spec.name.as_deref();
    spawn_child(ctx, own, spec.shutdown, &*spec.start, &spec.id, name, ack)
}

/// Spawns one incarnation of a child (labelled with its child id), linked
/// to the supervisor, named, and started (`Ack::Await`) or starting
/// (`Ack::Notify`: its `StartAck` follows); a panicking factory is a start
/// failure like any other. The child joins the supervisor's `own` subtree
/// (with its own subtree if it is a supervisor).
pub(crate) fn spawn_child<A: Actor>(
    ctx: &Context<A>,
    own: &Subtree,
    shutdown: Shutdown,
    start: impl FnOnce(&System, &ActorRef, SpawnOptions) -> Result<ActorRef, SpawnError>,
    id: &str,
    name: Option<&str>,
    ack: Ack,
) -> Result<ActorRef, ExitReason> {
    // Spawned from the supervisor's handler, the child has the supervisor
    // as its parent; the label says which of its children it is.
    let mut options = SpawnOptions::new()
        .link(ctx.myself())
        .label(CHILD_ID_LABEL, id);
    options = match ack {
        Ack::Await => options.await_started(),
        Ack::Notify => options.notify_started(ctx.myself()),
    };
    if let Some(name) = name {
        options = options.name(name);
    }
    // Counted from before the child exists until it is listed: a kill of
    // the supervisor meanwhile leaves it to whoever takes over its children.
    let Some(spawning) = own.spawning() else {
        return Err(ExitReason::Killed);
    };
    let (started, subtree) = Subtree::capture(
        || {
            catch_unwind(AssertUnwindSafe(|| {
                start(ctx.system(), ctx.myself(), options)
            }))
        },
        |started| match started {
            Ok(Ok(actor)) => Some(actor.id()),
            _ => None,
        },
    );
    match started {
        Ok(Ok(actor)) => {
            spawning.listed(Member {
                actor: actor.clone(),
                shutdown,
                subtree,
            });
            Ok(actor)
        }
        Ok(Err(SpawnError::StartFailed(reason))) => Err(reason),
        Ok(Err(error)) => Err(ExitReason::error(error)),
        Err(payload) => Err(ExitReason::Panic(panic_text(payload.as_ref()))),
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<non-text panic payload>".to_string()
    }
}

/// Whether a child ended the way its shutdown asked (anything else is
/// reported as a shutdown error, as OTP does).
pub(crate) fn clean_end(how: Shutdown, restart: Restart, reason: &ExitReason) -> bool {
    match reason {
        // `NoProc`: it had already ended (its `Stopped` was still queued,
        // e.g. when a system shutdown stops children before their supervisor).
        ExitReason::Shutdown | ExitReason::NoProc => true,
        ExitReason::Killed => how == Shutdown::Brutal,
        ExitReason::Normal => restart != Restart::Permanent,
        _ => false,
    }
}

/// Asks a child to stop per `how`, as its supervisor: the exit signal
/// `Shutdown` with a kill at the deadline, or a kill at once, or the signal
/// alone; then unlinks it, so that no `Stopped` from it is handled later.
/// The kill is armed before the unlink: from then on, nothing that happens
/// to the supervisor can leave the child running. Watch the child first:
/// its end is known by a monitor's `Down`.
pub(crate) fn ask_to_stop<A: Actor>(ctx: &Context<A>, child: &ActorRef, how: Shutdown) {
    match how {
        Shutdown::Brutal => child.kill(),
        Shutdown::Timeout(d) => {
            ctx.exit_or_kill(child, ExitReason::Shutdown, d);
        }
        Shutdown::Infinity => ctx.exit(child, ExitReason::Shutdown),
    }
    ctx.unlink(child);
}

/// Stops children OTP's way: monitor, send the exit signal `Shutdown` with
/// a kill at the child's deadline (or kill at once), unlink (so no
/// `Stopped` from the child is handled later), and wait for the `Down`.
///
/// The kill at the deadline belongs to the system's timer thread
/// ([`ActorRef::exit_or_kill`]), so a child this supervisor began to stop
/// dies at its deadline even if the supervisor is killed meanwhile. And a
/// child that is itself a supervisor is waited for with its whole subtree:
/// if it died leaving children alive (it was killed at its deadline, or
/// brutally), they are shut down per their own specs and waited for too
/// (see [`subtree`](crate::subtree)). So a stop returns only when every
/// actor below is dead.
///
/// One stopper serves a whole sequence of stops (a supervisor's reverse
/// order): one inbox and its tables, not a new set per child.
pub(crate) struct Stopper {
    reaper: Reaper,
}

impl Stopper {
    pub fn new(system: &System) -> Self {
        Stopper {
            reaper: Reaper::new(system),
        }
    }

    /// Stops one child; returns the reason it terminated with.
    pub fn stop<A: Actor>(
        &mut self,
        ctx: &Context<A>,
        own: &Subtree,
        child: &ActorRef,
        how: Shutdown,
    ) -> ExitReason {
        let mut ended = self.stop_all(ctx, own, std::slice::from_ref(child), how);
        ended.pop().map_or(ExitReason::NoProc, |(_, reason)| reason)
    }

    /// Stops many children at once (a dynamic supervisor's): all get the
    /// signal, then all are waited for within one timeout.
    pub fn stop_all<A: Actor>(
        &mut self,
        ctx: &Context<A>,
        own: &Subtree,
        children: &[ActorRef],
        how: Shutdown,
    ) -> Vec<(ActorId, ExitReason)> {
        let reaper = &mut self.reaper;
        for child in children {
            let member = own.get(child.id()).unwrap_or_else(|| Member {
                actor: child.clone(),
                shutdown: how,
                subtree: None,
            });
            reaper.watch(member);
        }
        for child in children {
            ask_to_stop(ctx, child, how);
        }
        let deadline = match how {
            Shutdown::Timeout(d) => Some(Instant::now() + d),
            Shutdown::Brutal | Shutdown::Infinity => None,
        };
        let mut ended = Vec::with_capacity(children.len());
        if !reaper.wait(deadline, Wait::Direct, Some(own), &mut ended) {
            // Time is up: the timer thread kills them now too; a kill from
            // here spares waiting for that thread.
            for child in reaper.direct_pending() {
                child.kill();
            }
        }
        reaper.wait(None, Wait::All, Some(own), &mut ended);
        ended
    }
}
