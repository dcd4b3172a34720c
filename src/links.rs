//! Links (bidirectional, they carry exit signals) and monitors
//! (unidirectional, they carry one `Down`).
//!
//! Both ends of a link or monitor are recorded under each actor's
//! `relations` lock; when two locks are needed they are taken in `ActorId`
//! order. A signal already on its way is checked again by its receiver
//! (`accept_link_exit`, `accept_down`), which is how `unlink` and
//! `demonitor` guarantee that nothing arrives after they return.

use std::collections::BTreeMap;
use std::fmt;
use std::mem;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::MutexGuard;

use crossbeam_channel::Sender;

use crate::address::{ActorId, ActorRef};
use crate::exit::{Down, ExitReason};
use crate::mailbox::ExitSignal;

/// Identifies one monitor; it comes back in the [`Down`] it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorRef(u64);

impl MonitorRef {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        MonitorRef(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for MonitorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "monitor#{}", self.0)
    }
}

/// One actor's name, links and monitors, and whether it has closed.
///
/// The maps are B-trees: empty, they cost 24 bytes and no allocation (a
/// `HashMap` costs 48), and most of a million actors have few relations.
#[derive(Default)]
pub(crate) struct Relations {
    /// Set once, when the actor terminates; nothing is added afterwards.
    pub closed: bool,
    pub name: Option<String>,
    pub links: BTreeMap<ActorId, ActorRef>,
    /// Monitors on this actor, and who holds each.
    pub watchers: BTreeMap<MonitorRef, ActorRef>,
    /// Monitors this actor holds, and their targets.
    pub watching: BTreeMap<MonitorRef, ActorRef>,
    /// A spawner waiting for `started` (`SpawnOptions::await_started`). It is
    /// answered when `started` returns, or by whatever terminates the actor
    /// first — a `kill` included — so it never waits on a stuck actor.
    pub start_waiter: Option<Sender<Result<(), ExitReason>>>,
}

impl Relations {
    pub fn take_all(&mut self) -> Relations {
        Relations {
            closed: true,
            name: self.name.take(),
            links: mem::take(&mut self.links),
            watchers: mem::take(&mut self.watchers),
            watching: mem::take(&mut self.watching),
            start_waiter: self.start_waiter.take(),
        }
    }
}

/// Locks two different actors' relations in id order, returning them as (a, b).
fn lock_pair<'a>(
    a: &'a ActorRef,
    b: &'a ActorRef,
) -> (MutexGuard<'a, Relations>, MutexGuard<'a, Relations>) {
    if a.id() < b.id() {
        let ga = a.core.relations();
        let gb = b.core.relations();
        (ga, gb)
    } else {
        let gb = b.core.relations();
        let ga = a.core.relations();
        (ga, gb)
    }
}

/// Links `me` and `other`. If `other` is dead, `me` gets an exit signal
/// with `NoProc` at once. Idempotent.
pub(crate) fn link(me: &ActorRef, other: &ActorRef) {
    if me.id() == other.id() {
        return;
    }
    let (mut mine, mut theirs) = lock_pair(me, other);
    if mine.closed {
        return;
    }
    mine.links.insert(other.id(), other.clone());
    if theirs.closed {
        drop((mine, theirs));
        me.core.deliver_exit(ExitSignal {
            from: other.id(),
            reason: ExitReason::NoProc,
            via_link: true,
            force: false,
        });
        return;
    }
    theirs.links.insert(me.id(), me.clone());
}

/// Removes the link both ways. A signal `other` already sent along it is
/// void: `accept_link_exit` drops it.
pub(crate) fn unlink(me: &ActorRef, other: &ActorRef) {
    if me.id() == other.id() {
        return;
    }
    let (mut mine, mut theirs) = lock_pair(me, other);
    mine.links.remove(&other.id());
    theirs.links.remove(&me.id());
}

/// `watcher` starts watching `target`; if `target` is dead, `watcher` gets
/// `Down` with `NoProc` at once.
pub(crate) fn monitor(watcher: &ActorRef, target: &ActorRef) -> MonitorRef {
    let monitor = MonitorRef::next();
    if watcher.id() == target.id() {
        // An actor cannot outlive itself: the monitor can never fire.
        return monitor;
    }
    let (mut w, mut t) = lock_pair(watcher, target);
    if w.closed {
        return monitor;
    }
    w.watching.insert(monitor, target.clone());
    if t.closed {
        drop((w, t));
        watcher.core.deliver_down(Down {
            monitor,
            actor: target.id(),
            reason: ExitReason::NoProc,
        });
        return monitor;
    }
    t.watchers.insert(monitor, watcher.clone());
    monitor
}

/// Removes the monitor; returns whether it was still active. No `Down` for
/// it is delivered after this returns (`accept_down` drops one in flight).
pub(crate) fn demonitor(watcher: &ActorRef, monitor: MonitorRef) -> bool {
    let target = watcher.core.relations().watching.remove(&monitor);
    match target {
        Some(target) => {
            target.core.relations().watchers.remove(&monitor);
            true
        }
        None => false,
    }
}

/// Whether a link exit signal from `from` still stands (the link was not
/// removed meanwhile); consumes the link.
pub(crate) fn accept_link_exit(me: &ActorRef, from: ActorId) -> bool {
    me.core.relations().links.remove(&from).is_some()
}

/// Whether a `Down` still stands (not demonitored meanwhile); consumes the monitor.
pub(crate) fn accept_down(me: &ActorRef, monitor: MonitorRef) -> bool {
    me.core.relations().watching.remove(&monitor).is_some()
}
