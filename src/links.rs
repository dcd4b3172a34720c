//! Links (bidirectional, they carry exit signals) and monitors
//! (unidirectional, they carry one `Down`).
//!
//! Both ends of a link or monitor are recorded under each actor's
//! `relations` lock; when two locks are needed they are taken in `ActorId`
//! order. A signal already on its way is checked again by its receiver
//! (`accept_exit`, `accept_down`), which is how `unlink` and `demonitor`
//! guarantee that nothing arrives after they return. Each link has its own
//! [`LinkId`], carried by its exit signal, so unlinking and linking again
//! never lets the old link's signal pass for the new one's.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::MutexGuard;

use crate::address::{ActorId, ActorRef};
use crate::exit::{Down, ExitReason};
use crate::labels::Labels;
use crate::mailbox::ExitSignal;
use crate::start_ack::StartWaiter;

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

/// What an actor spawned with
/// [`SpawnOptions::tie_notices`](crate::SpawnOptions::tie_notices) is told
/// when another actor (or an inbox) ties itself to it. It arrives as a
/// message, after what that actor sent it before. Ties the actor makes
/// itself (`ctx.link`, `ctx.monitor`) are not announced to it.
///
/// ```
/// use ferrotp::{Actor, Context, Handlers, SpawnOptions, System, TieNotice};
/// use std::time::Duration;
///
/// struct Gate(crossbeam_channel::Sender<bool>);
/// impl Gate {
///     fn tie(&mut self, notice: TieNotice, _ctx: &mut Context<Self>) {
///         let _ = self.0.send(matches!(notice, TieNotice::Linked(_)));
///     }
/// }
/// impl Actor for Gate {
///     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::tie) }
/// }
///
/// let system = System::new();
/// let (tx, rx) = crossbeam_channel::unbounded();
/// let gate = system.spawn_with(Gate(tx), SpawnOptions::new().tie_notices()).unwrap();
/// let inbox = system.inbox();
/// inbox.link(&gate);
/// assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap());
/// ```
#[derive(Clone, Debug)]
pub enum TieNotice {
    /// This actor linked to the notified one.
    Linked(ActorRef),
    /// This actor removed its link to the notified one.
    Unlinked(ActorRef),
    /// This actor placed `monitor` on the notified one.
    Monitored {
        /// Who watches.
        by: ActorRef,
        /// The monitor, as its `Down` will name it.
        monitor: MonitorRef,
    },
    /// The monitor was removed by the actor that held it.
    Demonitored {
        /// Who watched.
        by: ActorId,
        /// The monitor.
        monitor: MonitorRef,
    },
}

/// Tells `to` of a tie another actor made, if it asked to be told. Like a
/// `Down`, the notice is never refused by a full bounded mailbox: the tie
/// exists, and an actor that stands for something outside the system (a
/// remote pid's proxy) must pass every tie on.
fn notify(to: &ActorRef, notice: impl FnOnce() -> TieNotice) {
    if to.core.tie_notices.load(Ordering::Relaxed) {
        to.core
            .enqueue(crate::mailbox::Envelope::new(notice(), None));
    }
}

/// Identifies one link. Both ends record it and the exit signal the link
/// carries names it, so a signal from an earlier link between the same two
/// actors (unlinked, then linked again while the signal waited) is told
/// apart and dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LinkId(u64);

impl LinkId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        LinkId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// One end of a link: the actor at the other end, and which link it is.
pub(crate) struct Link {
    pub peer: ActorRef,
    pub id: LinkId,
}

/// One actor's name, links and monitors, and whether it has closed.
#[derive(Default)]
pub(crate) struct Relations {
    /// Set once, when the actor terminates; nothing is added afterwards.
    pub closed: bool,
    /// `LifecycleEvent::Spawned` was emitted for it: only then is its end
    /// an `Exited` event (an inbox, or a spawn refused before the actor
    /// existed, is never announced).
    pub announced: bool,
    /// The reason it terminated with, once `closed`, if it carries no
    /// text (nearly every end): one byte, in what would be padding, and no
    /// allocation while a million actors stop.
    end_plain: Option<PlainEnd>,
    /// The name, labels, start waiter and textual end: allocated with the
    /// first of them, as most of a million actors have none and the four
    /// cost 72 bytes inline (issue 10's 512-byte budget per actor).
    rare: Option<Box<Rare>>,
    /// Allocated with the first link or monitor: most of a million actors
    /// have none, and the three maps cost 72 bytes even empty.
    ties: Option<Box<Ties>>,
}

/// What few actors have: see [`Relations::rare`](Relations).
#[derive(Default)]
pub(crate) struct Rare {
    /// The reason it terminated with, once `closed`, if it carries text
    /// (boxed again: an `ExitReason` is 32 bytes, and a supervised child,
    /// which has labels, should not pay for it while it lives).
    end_text: Option<Box<ExitReason>>,
    pub name: Option<String>,
    /// What the actor or its spawner recorded about it, for tools.
    pub labels: Labels,
    /// A spawner waiting to hear that the actor started
    /// (`SpawnOptions::await_started`, `notify_started`; see `start_ack`).
    pub start_waiter: Option<StartWaiter>,
}

/// The labels of an actor that has none.
static NO_LABELS: Labels = Labels::NONE;

/// An actor's links and monitors.
#[derive(Default)]
pub(crate) struct Ties {
    pub links: BTreeMap<ActorId, Link>,
    /// Monitors on this actor, and who holds each.
    pub watchers: BTreeMap<MonitorRef, ActorRef>,
    /// Monitors this actor holds, and their targets.
    pub watching: BTreeMap<MonitorRef, ActorRef>,
    /// The sender of the `Stop` this actor is terminating for, answered by
    /// whatever closes the actor (its own thread, or a `kill` while its
    /// `stopped` hook runs). Here rather than in `Relations`: it is rare.
    pub stopper: Option<ActorRef>,
}

/// An [`ExitReason`] without text, in one byte.
#[derive(Clone, Copy)]
enum PlainEnd {
    Normal,
    Shutdown,
    Killed,
    NoProc,
}

impl Relations {
    /// Records the reason the actor terminated with.
    pub fn set_end(&mut self, reason: &ExitReason) {
        self.end_plain = match reason {
            ExitReason::Normal => Some(PlainEnd::Normal),
            ExitReason::Shutdown => Some(PlainEnd::Shutdown),
            ExitReason::Killed => Some(PlainEnd::Killed),
            ExitReason::NoProc => Some(PlainEnd::NoProc),
            ExitReason::Panic(_) | ExitReason::Error(_) => {
                self.rare().end_text = Some(Box::new(reason.clone()));
                None
            }
        };
    }

    /// The reason the actor terminated with, once it has.
    pub fn end(&self) -> Option<ExitReason> {
        match self.end_plain {
            Some(PlainEnd::Normal) => Some(ExitReason::Normal),
            Some(PlainEnd::Shutdown) => Some(ExitReason::Shutdown),
            Some(PlainEnd::Killed) => Some(ExitReason::Killed),
            Some(PlainEnd::NoProc) => Some(ExitReason::NoProc),
            None => self.rare.as_ref()?.end_text.as_deref().cloned(),
        }
    }

    /// The name, labels, start waiter and textual end, to set one of them.
    pub fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// The registered name.
    pub fn name(&self) -> Option<&str> {
        self.rare.as_ref()?.name.as_deref()
    }

    /// Forgets the registered name.
    pub fn clear_name(&mut self) {
        if let Some(rare) = self.rare.as_mut() {
            rare.name = None;
        }
    }

    /// The labels (none yet: an empty set).
    pub fn labels(&self) -> &Labels {
        self.rare.as_ref().map_or(&NO_LABELS, |rare| &rare.labels)
    }

    /// The spawner waiting to hear that the actor started, to change it.
    pub fn start_waiter(&mut self) -> Option<&mut StartWaiter> {
        self.rare.as_mut()?.start_waiter.as_mut()
    }

    /// Takes the spawner waiting to hear that the actor started.
    pub fn take_start_waiter(&mut self) -> Option<StartWaiter> {
        self.rare.as_mut()?.start_waiter.take()
    }

    /// The links and monitors, to change them.
    pub fn ties(&mut self) -> &mut Ties {
        self.ties.get_or_insert_with(Box::default)
    }

    /// The links and monitors, to read them (none yet: `None`).
    pub fn ties_ref(&self) -> Option<&Ties> {
        self.ties.as_deref()
    }

    /// The links and monitors, to change them if there are any.
    fn ties_mut(&mut self) -> Option<&mut Ties> {
        self.ties.as_deref_mut()
    }

    /// Marks the relations closed and takes what they held (no ties if
    /// the actor never had a link, a monitor or a stopper).
    pub fn take_all(&mut self) -> (Option<String>, Option<StartWaiter>, Option<Box<Ties>>) {
        self.closed = true;
        let (name, waiter) = match self.rare.as_mut() {
            Some(rare) => (rare.name.take(), rare.start_waiter.take()),
            None => (None, None),
        };
        (name, waiter, self.ties.take())
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
/// with `NoProc` at once. Idempotent: while `me` holds a link to `other`
/// (its exit signal may be on its way), linking again changes nothing.
pub(crate) fn link(me: &ActorRef, other: &ActorRef) {
    if me.id() == other.id() {
        return;
    }
    let (mut mine, mut theirs) = lock_pair(me, other);
    if mine.closed {
        return;
    }
    let linked = mine
        .ties_ref()
        .is_some_and(|ties| ties.links.contains_key(&other.id()));
    if linked {
        return;
    }
    let id = LinkId::next();
    let peer = other.clone();
    mine.ties().links.insert(other.id(), Link { peer, id });
    if theirs.closed {
        drop((mine, theirs));
        me.core.deliver_exit(ExitSignal {
            from: other.id(),
            reason: ExitReason::NoProc,
            link: Some(id),
            force: false,
        });
        return;
    }
    let peer = me.clone();
    theirs.ties().links.insert(me.id(), Link { peer, id });
    drop((mine, theirs));
    notify(other, || TieNotice::Linked(me.clone()));
}

/// Removes the link both ways. A signal `other` already sent along it is
/// void: `accept_link_exit` drops it.
pub(crate) fn unlink(me: &ActorRef, other: &ActorRef) {
    if me.id() == other.id() {
        return;
    }
    let (mut mine, mut theirs) = lock_pair(me, other);
    let mut removed = false;
    for (rel, peer) in [(&mut mine, other.id()), (&mut theirs, me.id())] {
        if let Some(ties) = rel.ties_mut() {
            removed |= ties.links.remove(&peer).is_some();
        }
    }
    drop((mine, theirs));
    if removed {
        notify(other, || TieNotice::Unlinked(me.clone()));
    }
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
    w.ties().watching.insert(monitor, target.clone());
    if t.closed {
        drop((w, t));
        watcher.core.deliver_down(Down {
            monitor,
            actor: target.id(),
            reason: ExitReason::NoProc,
        });
        return monitor;
    }
    t.ties().watchers.insert(monitor, watcher.clone());
    drop((w, t));
    notify(target, || TieNotice::Monitored {
        by: watcher.clone(),
        monitor,
    });
    monitor
}

/// Removes the monitor; returns whether it was still active. No `Down` for
/// it is delivered after this returns (`accept_down` drops one in flight).
pub(crate) fn demonitor(watcher: &ActorRef, monitor: MonitorRef) -> bool {
    let target = watcher.core.relations().ties().watching.remove(&monitor);
    match target {
        Some(target) => {
            target.core.relations().ties().watchers.remove(&monitor);
            notify(&target, || TieNotice::Demonitored {
                by: watcher.id(),
                monitor,
            });
            true
        }
        None => false,
    }
}

/// Whether an exit signal still stands: one from outside always does; one
/// along a link only if that very link is still in place (not unlinked,
/// nor replaced by a newer link, meanwhile). Consumes the link.
pub(crate) fn accept_exit(me: &ActorRef, signal: &ExitSignal) -> bool {
    let Some(id) = signal.link else {
        return true;
    };
    let mut rel = me.core.relations();
    let Some(ties) = rel.ties_mut() else {
        return false;
    };
    match ties.links.get(&signal.from) {
        Some(link) if link.id == id => {
            ties.links.remove(&signal.from);
            true
        }
        _ => false,
    }
}

/// Whether a `Down` still stands (not demonitored meanwhile); consumes the monitor.
pub(crate) fn accept_down(me: &ActorRef, monitor: MonitorRef) -> bool {
    me.core
        .relations()
        .ties()
        .watching
        .remove(&monitor)
        .is_some()
}
