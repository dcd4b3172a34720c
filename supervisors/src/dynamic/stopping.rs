//! A dynamic supervisor shutting its children down from its own mailbox.
//!
//! All its children are asked to stop at once (each by its own shutdown,
//! sharing one deadline, as before), and their ends are waited for by
//! monitors whose `Down`s come as messages, not by blocking the
//! supervisor's thread: on the pool the children run on the supervisor's
//! worker in turn, with no thread switch and no worker parked. A child
//! that is a supervisor and was killed with children of its own alive
//! leaves them to this shutdown too. Once every child and orphan is gone
//! the supervisor terminates with the reason it was given. Meanwhile it
//! answers no request and restarts nothing, as a static supervisor.

use std::collections::HashMap;

use ferrotp::{Actor, ActorId, ActorRef, Context, Down, ExitReason, MonitorRef};

use crate::lifecycle::ask_to_stop;
use crate::spec::Shutdown;
use crate::stopping::adopt_orphans;
use crate::subtree::{Member, Subtree};

/// A shutdown under way.
pub(super) struct Stopping {
    /// What the supervisor terminates with once its children are gone.
    reason: ExitReason,
    /// The children asked to stop, by the monitors that tell their ends.
    children: HashMap<MonitorRef, ActorId>,
    /// What dead supervisor children left alive, being shut down too.
    orphans: HashMap<MonitorRef, Member>,
}

impl Stopping {
    /// Asks every one of `children` to stop per `how`, each watched first
    /// (so that no end is missed).
    pub fn begin<A: Actor>(
        reason: ExitReason,
        children: &[ActorRef],
        how: Shutdown,
        ctx: &Context<A>,
    ) -> Self {
        let watched = children
            .iter()
            .map(|child| (ctx.monitor(child), child.id()))
            .collect();
        for child in children {
            ask_to_stop(ctx, child, how);
        }
        Stopping {
            reason,
            children: watched,
            orphans: HashMap::new(),
        }
    }

    /// Waits also for what `other` waits for (a `terminate_child` that a
    /// shutdown cuts short).
    pub fn merge(&mut self, other: Stopping) {
        self.children.extend(other.children);
        self.orphans.extend(other.orphans);
    }

    pub fn reason(&self) -> &ExitReason {
        &self.reason
    }

    /// Whether every child, and every orphan, is gone.
    pub fn is_done(&self) -> bool {
        self.children.is_empty() && self.orphans.is_empty()
    }

    /// A `Down` came: `Some(reason)` if it ends one of the children asked
    /// to stop. A supervisor child that died with children alive leaves
    /// them to this shutdown (listed in `own` meanwhile).
    pub fn on_down<A: Actor>(
        &mut self,
        down: &Down,
        ctx: &Context<A>,
        own: &Subtree,
    ) -> Option<ExitReason> {
        let child = self.children.remove(&down.monitor).is_some();
        if !child && self.orphans.remove(&down.monitor).is_none() {
            return None;
        }
        if let Some(Member {
            subtree: Some(dead),
            ..
        }) = own.remove(down.actor)
        {
            adopt_orphans(&dead, ctx, own, &mut self.orphans);
        }
        child.then(|| down.reason.clone())
    }
}
