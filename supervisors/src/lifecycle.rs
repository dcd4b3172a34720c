//! A child's life as its supervisor sees it: who the supervisor's parent
//! is, how a child is spawned, and how children are stopped.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use ferrotp::{
    Actor, ActorId, ActorRef, Context, Down, ExitReason, Inbox, MonitorRef, SpawnError,
    SpawnOptions, System,
};

use crate::spec::{Restart, Shutdown};

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

/// Spawns one incarnation of a child, linked to the supervisor, named, and
/// fully started; a panicking factory is a start failure like any other.
pub(crate) fn spawn_child<A: Actor>(
    ctx: &Context<A>,
    start: impl FnOnce(&System, &ActorRef, SpawnOptions) -> Result<ActorRef, SpawnError>,
    name: Option<&str>,
) -> Result<ActorRef, ExitReason> {
    let mut options = SpawnOptions::new().link(ctx.myself()).await_started();
    if let Some(name) = name {
        options = options.name(name);
    }
    match catch_unwind(AssertUnwindSafe(|| {
        start(ctx.system(), ctx.myself(), options)
    })) {
        Ok(Ok(actor)) => Ok(actor),
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

/// Stops children OTP's way: unlink (so no `Stopped` from the child is
/// handled later), monitor, send the exit signal `Shutdown` (or kill), wait
/// for the `Down`, and kill when the child's time is up.
pub(crate) struct Stopper {
    inbox: Inbox,
}

impl Stopper {
    pub fn new(system: &System) -> Self {
        Stopper {
            inbox: system.inbox(),
        }
    }

    /// Stops one child; returns the reason it terminated with.
    pub fn stop<A: Actor>(&self, ctx: &Context<A>, child: &ActorRef, how: Shutdown) -> ExitReason {
        let mut pending = self.begin(ctx, std::slice::from_ref(child), how);
        let mut ended = self.finish(&mut pending, how);
        ended.pop().map_or(ExitReason::NoProc, |(_, reason)| reason)
    }

    /// Stops many children at once (a dynamic supervisor's): all get the
    /// signal, then all are waited for within one timeout.
    pub fn stop_all<A: Actor>(
        &self,
        ctx: &Context<A>,
        children: &[ActorRef],
        how: Shutdown,
    ) -> Vec<(ActorId, ExitReason)> {
        let mut pending = self.begin(ctx, children, how);
        self.finish(&mut pending, how)
    }

    fn begin<A: Actor>(
        &self,
        ctx: &Context<A>,
        children: &[ActorRef],
        how: Shutdown,
    ) -> HashMap<MonitorRef, ActorRef> {
        let mut pending = HashMap::with_capacity(children.len());
        for child in children {
            ctx.unlink(child);
            pending.insert(self.inbox.monitor(child), child.clone());
        }
        for child in children {
            match how {
                Shutdown::Brutal => child.kill(),
                Shutdown::Timeout(_) | Shutdown::Infinity => ctx.exit(child, ExitReason::Shutdown),
            }
        }
        pending
    }

    fn finish(
        &self,
        pending: &mut HashMap<MonitorRef, ActorRef>,
        how: Shutdown,
    ) -> Vec<(ActorId, ExitReason)> {
        let mut ended = Vec::with_capacity(pending.len());
        let deadline = match how {
            Shutdown::Timeout(d) => Some(Instant::now() + d),
            Shutdown::Brutal | Shutdown::Infinity => None,
        };
        self.collect(pending, deadline, &mut ended);
        if !pending.is_empty() {
            // Time is up: kill what is left; a kill takes effect at once.
            for child in pending.values() {
                child.kill();
            }
            self.collect(pending, None, &mut ended);
        }
        ended
    }

    /// Receives `Down`s until `pending` is empty or `deadline` passes.
    fn collect(
        &self,
        pending: &mut HashMap<MonitorRef, ActorRef>,
        deadline: Option<Instant>,
        ended: &mut Vec<(ActorId, ExitReason)>,
    ) {
        while !pending.is_empty() {
            let until = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            match self.inbox.recv_deadline(until) {
                Ok(envelope) => {
                    if let Ok(down) = envelope.downcast::<Down>() {
                        if pending.remove(&down.monitor).is_some() {
                            ended.push((down.actor, down.reason));
                        }
                    }
                }
                Err(_) if deadline.is_some() => return,
                Err(_) => {}
            }
        }
    }
}
