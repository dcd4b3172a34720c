//! [`Core`]: what every address of one actor shares — its mailbox, its
//! status, its relations — and the [`Driver`] that runs it.
//!
//! The data only; what happens to it lives beside it: mail going in
//! (`delivery`) and the end of the actor (`termination`).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::ActorId;
use crate::executor::pool::{Claim, PoolEntry};
use crate::introspect::Stats;
use crate::links::Relations;
use crate::mailbox::{Lane, Mailbox};
use crate::system::SystemInner;

pub(crate) const RUNNING: u8 = 0;
/// The actor's own driver is terminating it (its `stopped` hook runs).
pub(crate) const EXITING: u8 = 1;
pub(crate) const DEAD: u8 = 2;

/// Who runs an actor, and so how it learns of new mail.
pub(crate) enum Driver {
    /// Its own thread, which spins, then sleeps on the mailbox, for mail:
    /// a dedicated actor. The common request waits for it in the lane (see
    /// `mailbox::Lane`), the rest in the mailbox; a bounded mailbox has no
    /// lane. Boxed: only dedicated actors pay for its cache line.
    Thread(Option<Box<Lane>>),
    /// The threads that read an inbox: the common answer waits for them in
    /// the lane (see `mailbox::Lane`), the rest in the mailbox.
    Inbox(Box<Lane>),
    /// A pool worker, once the actor is scheduled.
    Pool(PoolEntry),
    /// A task awaiting an async reply address (feature `tokio`), woken
    /// through its waker.
    #[cfg(feature = "tokio")]
    Waker(crate::async_bridge::WakeSlot),
    /// No mailbox reader: delivery runs a function on the sender's thread
    /// (see `fn_address`).
    Function(Box<crate::fn_address::FnSlot>),
}

/// Which [`Driver`] an actor has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DriverKind {
    Thread,
    Inbox,
    Pool,
    #[cfg(feature = "tokio")]
    Waker,
    Function,
}

impl Driver {
    pub(crate) fn kind(&self) -> DriverKind {
        match self {
            Driver::Thread(_) => DriverKind::Thread,
            Driver::Inbox(_) => DriverKind::Inbox,
            Driver::Pool(_) => DriverKind::Pool,
            #[cfg(feature = "tokio")]
            Driver::Waker(_) => DriverKind::Waker,
            Driver::Function(_) => DriverKind::Function,
        }
    }
}

/// What every address of one actor shares.
///
/// Laid out by hand (`repr(C)`), in three parts, because a call's request
/// and the turn that answers it run on two cores: what a sender reads or
/// writes (its status and flags, the pool's claim, which driver it has,
/// the system) comes first,
/// on the line of the `Arc`'s counts, which it writes too; then what is
/// rarely touched (the id, the parent, the relations); then what only the
/// actor's driver writes at each turn (a pooled actor's turn, the count
/// of its handlers' sends under way, its stats, the mailbox). The middle
/// part is at least 48 bytes, so that wherever the allocator puts a core
/// (16-byte aligned), no cache line holds both a sender's fields and a
/// turn's: neither side's writes take the line the other reads next.
#[repr(C)]
pub(crate) struct Core {
    // ---- what a sender touches ----
    pub status: AtomicU8,
    pub trapping: AtomicBool,
    /// Set once a timer is bound to this actor, so that its end drops them.
    pub timers_bound: AtomicBool,
    /// The actor asked to be told of links and monitors others place on
    /// it ([`TieNotice`](crate::TieNotice)); set before anyone can reach it.
    pub tie_notices: AtomicBool,
    /// `System::shutdown` sends this actor a trappable `Shutdown`, not an
    /// untrappable one (see `Context::trap_system_shutdown`).
    pub graceful_shutdown: AtomicBool,
    /// A pooled actor's scheduling state (claimed by the sender that
    /// queues it).
    pub claim: Claim,
    /// Which driver runs the actor: what a sender asks of it, without
    /// reading the driver, which sits with what a turn writes.
    pub kind: DriverKind,
    /// Set (under the relations lock) once a tokio task is registered for
    /// this actor, so that its end aborts them.
    #[cfg(feature = "tokio")]
    pub tasks_bound: AtomicBool,
    pub system: Arc<SystemInner>,
    // ---- rarely touched ----
    pub id: ActorId,
    /// The actor whose code spawned this one (OTP's `$parent`), or
    /// `EXTERNAL` for none: an id is never 0, and an `Option` would cost
    /// 8 bytes more in every actor.
    parent: ActorId,
    relations: Mutex<Relations>,
    // ---- what the driver writes at each turn ----
    /// Who runs the actor (a pooled actor's turn waits here between turns).
    pub driver: Driver,
    /// Set by the `kill` that terminated the actor, and only by it (under
    /// the relations lock, as it closes them): the actor's thread may still
    /// run, and what that thread sends from then on is void. A `kill` that
    /// finds the actor already closed changes nothing. Here, not with what
    /// senders read: only the actor's own thread reads it (at each send).
    pub killed: AtomicBool,
    /// How many sends the actor's thread has under way, from their look at
    /// `killed` to their delivery: a kill waits for them before it tells
    /// anyone of the end (see `current::as_sender`). Written twice by every
    /// send of a handler, so it lives with what the driver writes: on the
    /// senders' line, each of those writes took the line from the plain
    /// thread that spins on the actor's status while it waits for the
    /// answer, on the answer's way (`Bridge::call`).
    pub sending: AtomicU32,
    /// Messages handled, and what it does now (see `introspect`).
    pub stats: Stats,
    pub mailbox: Mailbox,
    /// Counts down the messages before an injected panic (0: none pending).
    #[cfg(feature = "testkit")]
    pub fault_countdown: std::sync::atomic::AtomicU64,
}

impl Core {
    /// A core whose mailbox holds at most `capacity` user messages
    /// (unbounded if `None`).
    pub fn new(
        id: ActorId,
        system: Arc<SystemInner>,
        driver: Driver,
        trapping: bool,
        parent: Option<ActorId>,
        capacity: Option<usize>,
    ) -> Self {
        let kind = driver.kind();
        let takes_requests = kind == DriverKind::Pool && capacity.is_none();
        Core {
            id,
            system,
            mailbox: capacity.map_or_else(Mailbox::default, Mailbox::bounded),
            driver,
            status: AtomicU8::new(RUNNING),
            trapping: AtomicBool::new(trapping),
            killed: AtomicBool::new(false),
            sending: AtomicU32::new(0),
            timers_bound: AtomicBool::new(false),
            #[cfg(feature = "tokio")]
            tasks_bound: AtomicBool::new(false),
            tie_notices: AtomicBool::new(false),
            graceful_shutdown: AtomicBool::new(false),
            claim: Claim::new(takes_requests),
            kind,
            parent: parent.unwrap_or(ActorId::EXTERNAL),
            stats: Stats::new(),
            #[cfg(feature = "testkit")]
            fault_countdown: std::sync::atomic::AtomicU64::new(0),
            relations: Mutex::new(Relations::default()),
        }
    }

    pub fn relations(&self) -> MutexGuard<'_, Relations> {
        // Relations are only changed by short, non-panicking sections; a
        // poisoned lock still holds consistent data.
        self.relations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an injected panic is due at this message (see `testkit`).
    #[cfg(feature = "testkit")]
    #[inline]
    pub fn fault_due(&self) -> bool {
        // Read first: almost no actor has a fault pending, and a write per
        // message would cost every message a contended cache line.
        if self.fault_countdown.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let step = |n: u64| n.checked_sub(1);
        match self
            .fault_countdown
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, step)
        {
            Ok(before) => before == 1,
            Err(_) => false,
        }
    }

    /// The actor whose code spawned this one, if any.
    pub fn parent(&self) -> Option<ActorId> {
        Some(self.parent).filter(|&id| id != ActorId::EXTERNAL)
    }

    /// The lane in front of the mailbox, for a reader on a thread of its
    /// own (a dedicated actor with an unbounded mailbox, an inbox).
    #[inline]
    pub fn lane(&self) -> Option<&Lane> {
        match &self.driver {
            Driver::Thread(lane) => lane.as_deref(),
            Driver::Inbox(lane) => Some(lane),
            _ => None,
        }
    }

    /// Mail waiting, in the lane and the mailbox (including internal
    /// wake-ups).
    pub fn queued(&self) -> usize {
        self.lane().map_or(0, Lane::len) + self.mailbox.len()
    }

    /// Closes the lane and the mailbox (what arrives later is refused) and
    /// drops what is left: returns how many user messages there were.
    pub fn close_mailbox(&self) -> u64 {
        let lane = self.lane().and_then(Lane::close);
        let in_lane = u64::from(lane.is_some());
        if let Some(envelope) = lane {
            crate::panic::discard(envelope, self.id);
        }
        in_lane + self.mailbox.close(self.id)
    }

    #[inline]
    pub fn is_dead(&self) -> bool {
        self.status.load(Ordering::Acquire) == DEAD
    }
}

#[cfg(test)]
mod tests {
    use super::Core;
    use std::mem::{offset_of, size_of};

    /// See `Core`'s layout: 48 bytes or more between what a sender touches
    /// and what a turn writes keep them on different cache lines wherever
    /// a 16-byte aligned allocation puts the core.
    #[test]
    fn a_senders_fields_and_a_turns_never_share_a_line() {
        let senders_end = offset_of!(Core, system) + size_of::<usize>();
        let turns_start = offset_of!(Core, driver);
        assert!(
            turns_start >= senders_end + 48,
            "{senders_end}..{turns_start}"
        );
        assert!(offset_of!(Core, stats) > turns_start);
        assert!(offset_of!(Core, mailbox) > turns_start);
        // A handler's every send writes these: not where its callers spin.
        assert!(offset_of!(Core, sending) > turns_start);
        assert!(offset_of!(Core, killed) > turns_start);
    }
}
