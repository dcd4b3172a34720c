//! A static supervisor shutting its children down from its own mailbox.
//!
//! OTP's order is kept exactly: children stop one at a time in reverse start
//! order, and each child's end (its `stopped` hook returned, its name freed,
//! and, for a nested supervisor, its whole subtree gone) comes before the
//! previous sibling is asked to stop. What changes is how the supervisor
//! waits: instead of blocking its thread on each child's `Down`, it asks one
//! child, returns from its handler, and goes on when the `Down` arrives as a
//! message. On the pool that is a message round trip between two actors:
//! the child runs next on the supervisor's worker and its `Down` brings the
//! supervisor back there, with no thread switch and no worker parked, where
//! a blocking wait costs two thread wake-ups per child.
//!
//! Nothing else changes for anyone: while it stops its children the
//! supervisor answers no request (as OTP's in `terminate`: a call fails with
//! [`SupervisorDown`](crate::SupervisorError::SupervisorDown) once it is
//! gone), restarts nothing, and ignores further exit signals. Once the last
//! child is gone it terminates with the reason it was given.

use std::collections::HashMap;

use ferrotp::{Actor, ActorRef, Context, Down, ExitReason, MonitorRef};

use crate::children::Children;
use crate::lifecycle::{ask_to_stop, clean_end};
use crate::report::Reporter;
use crate::spec::{Restart, Shutdown};
use crate::subtree::{Member, Subtree};

/// A shutdown under way.
pub(crate) struct Stopping {
    /// What the supervisor terminates with once its children are gone.
    reason: ExitReason,
    /// The children still to stop, in start order (the last is next).
    queue: Vec<ActorRef>,
    /// The child being stopped now.
    current: Option<InFlight>,
}

/// The child asked to stop, waited for by its monitor.
struct InFlight {
    id: String,
    actor: ActorRef,
    monitor: MonitorRef,
    how: Shutdown,
    restart: Restart,
    /// Its end, once its `Down` came.
    ended: Option<ExitReason>,
    /// The children it left alive if it was a supervisor that was killed
    /// (or stopped brutally): shut down per their specs and waited for too.
    orphans: HashMap<MonitorRef, Member>,
}

/// What a step of the shutdown touches in the supervisor.
pub(crate) struct Parts<'a> {
    pub children: &'a mut Children,
    pub subtree: &'a Subtree,
    pub reporter: &'a Reporter,
}

impl Stopping {
    /// A shutdown of every running child in `children`, ending with `reason`.
    pub fn new(reason: ExitReason, children: &Children) -> Self {
        Stopping {
            reason,
            queue: children.iter().filter_map(|c| c.actor().cloned()).collect(),
            current: None,
        }
    }

    /// The stop phase of a restart: the running children at positions
    /// `from` on, in reverse start order. (Its reason is not used: a
    /// restart starts them again once they are gone.)
    pub fn siblings(children: &Children, from: usize) -> Self {
        Stopping {
            reason: ExitReason::Shutdown,
            queue: children.running_from(from).cloned().collect(),
            current: None,
        }
    }

    /// The stop of one child (a handle's `terminate_child`).
    pub fn one(child: ActorRef) -> Self {
        Stopping {
            reason: ExitReason::Shutdown,
            queue: vec![child],
            current: None,
        }
    }

    /// A restart's stop phase cut short by the supervisor's own shutdown:
    /// the child being stopped is waited for as before, then every running
    /// child goes, in reverse start order, and the supervisor terminates
    /// with `reason`.
    pub fn into_shutdown(mut self, reason: ExitReason, children: &Children) -> Self {
        self.reason = reason;
        self.queue = children.iter().filter_map(|c| c.actor().cloned()).collect();
        self
    }

    pub fn reason(&self) -> &ExitReason {
        &self.reason
    }

    /// Goes on with the stop: asks the next running child or, after
    /// `down`, notes that end first. `true` once none is left.
    pub fn advance<A: Actor>(
        &mut self,
        down: Option<Down>,
        ctx: &Context<A>,
        parts: Parts<'_>,
    ) -> bool {
        match down {
            Some(down) => self.on_down(down, ctx, parts),
            None => self.next(ctx, parts),
        }
    }

    /// Asks the next running child to stop; `true` once none is left.
    fn next<A: Actor>(&mut self, ctx: &Context<A>, parts: Parts<'_>) -> bool {
        if self.current.is_some() {
            return false;
        }
        while let Some(actor) = self.queue.pop() {
            let Some(i) = parts.children.of_actor(actor.id()) else {
                continue;
            };
            parts.children.set_actor(i, None);
            let child = parts.children.get_mut(i).expect("found by its actor");
            child.restarting = false;
            let (id, how, restart) = (
                child.spec.id.clone(),
                child.spec.shutdown,
                child.spec.restart,
            );
            let monitor = ctx.monitor(&actor);
            ask_to_stop(ctx, &actor, how);
            self.current = Some(InFlight {
                id,
                actor,
                monitor,
                how,
                restart,
                ended: None,
                orphans: HashMap::new(),
            });
            return false;
        }
        true
    }

    /// A `Down` came: if it ends the child being stopped (and what it left
    /// behind), the next child is asked. `true` once none is left.
    fn on_down<A: Actor>(&mut self, down: Down, ctx: &Context<A>, parts: Parts<'_>) -> bool {
        let Some(current) = self.current.as_mut() else {
            return false;
        };
        if down.monitor == current.monitor {
            current.ended = Some(down.reason);
        } else if current.orphans.remove(&down.monitor).is_none() {
            return false;
        }
        // A supervisor that died with children alive leaves them to us.
        if let Some(Member {
            subtree: Some(dead),
            ..
        }) = parts.subtree.remove(down.actor)
        {
            current.adopt(&dead, ctx, parts.subtree);
        }
        if !current.orphans.is_empty() {
            return false;
        }
        let Some(reason) = current.ended.take() else {
            return false;
        };
        let InFlight {
            id,
            actor,
            how,
            restart,
            ..
        } = self.current.take().expect("looked at above");
        let clean = clean_end(how, restart, &reason);
        parts
            .reporter
            .child_stopped(&id, actor.id(), &reason, clean);
        if restart == Restart::Temporary {
            if let Some(i) = parts.children.position(&id) {
                parts.children.remove(i);
            }
        }
        self.next(ctx, parts)
    }

    /// The supervisor is terminating before its shutdown finished (an
    /// untrappable exit signal): the child being stopped goes back among
    /// the running ones, for the blocking stop of the `stopped` hook to
    /// wait for. Orphans still stopping stay in the subtree, where whoever
    /// stops this supervisor finds them.
    pub fn interrupt(self, children: &mut Children) {
        if let Some(current) = self.current {
            if current.ended.is_none() {
                if let Some(i) = children.position(&current.id) {
                    children.set_actor(i, Some(current.actor));
                }
            }
        }
    }
}

impl InFlight {
    /// Shuts down and watches the children a dead supervisor left alive.
    fn adopt<A: Actor>(&mut self, dead: &Subtree, ctx: &Context<A>, own: &Subtree) {
        adopt_orphans(dead, ctx, own, &mut self.orphans);
    }
}

/// Shuts down and watches (by monitors, whose `Down`s come as messages)
/// the children a dead supervisor left alive, listed in `own` meanwhile
/// (see [`Reaper::adopt`](crate::subtree::Reaper::adopt)); those already
/// in `orphans` are left as they are.
pub(crate) fn adopt_orphans<A: Actor>(
    dead: &Subtree,
    ctx: &Context<A>,
    own: &Subtree,
    orphans: &mut HashMap<MonitorRef, Member>,
) {
    for member in dead.alive() {
        let id = member.actor.id();
        if orphans.values().any(|m| m.actor.id() == id) {
            continue;
        }
        let monitor = ctx.monitor(&member.actor);
        member.shut_down_orphan();
        own.add(member.clone());
        orphans.insert(monitor, member);
    }
}
