//! What the pool keeps in a pooled actor's core: its scheduling state
//! ([`Claim`]: `IDLE → SCHEDULED`, so it is queued once) and its turn while
//! no worker runs it ([`PoolEntry`]).
//!
//! Apart from the turn because it is what senders touch: claiming an actor
//! is on every send's path, and pairs with the fence at a turn's end. The
//! two live apart in the core (see `Core`'s layout): a sender writes the
//! claim, and the worker alone takes and puts back the turn, so a turn's
//! start does not wait for the line the sender just wrote.

use std::sync::atomic::{fence, AtomicU8, Ordering};
use std::sync::Mutex;

use super::lock;
use super::turn::{PooledCell, Turn};
use crate::actor::Actor;
use crate::cell::ActorCell;

pub(super) const IDLE: u8 = 0;
const SCHEDULED: u8 = 1;
pub(super) const FINISHED: u8 = 2;
/// Scheduled, and handed to a worker through the pool's hand-off slot
/// with a request that may still wait there, outside the mailbox (see
/// [`Claim::hand`]). Until the actor next goes idle.
const HANDED: u8 = 3;

/// A pooled actor's turn while no worker runs it.
pub(crate) struct PoolEntry {
    pub(super) turn: Mutex<Option<Box<dyn Turn>>>,
}

impl PoolEntry {
    /// The entry of an actor about to be scheduled for its first turn.
    pub fn new() -> Self {
        PoolEntry {
            turn: Mutex::new(None),
        }
    }

    /// Puts the cell in (before the first turn, which runs `started`).
    pub fn install<A: Actor>(&self, cell: ActorCell<A>) {
        *lock(&self.turn) = Some(Box::new(PooledCell {
            cell: Some(cell),
            started: false,
        }));
    }
}

/// A pooled actor's scheduling state, in its core beside what its senders
/// read (every core has one; only a pooled actor's is used).
pub(crate) struct Claim {
    pub(super) state: AtomicU8,
    /// A pooled actor whose mailbox has no capacity: a request may reach
    /// it through the pool's hand-off (see
    /// [`Pool::schedule_request`](super::Pool::schedule_request)), which
    /// cannot refuse it. Kept here, beside `state`, which such a request
    /// reads anyway, not in the mailbox's lines.
    takes_requests: bool,
}

impl Claim {
    /// The state of an actor about to be scheduled for its first turn;
    /// `takes_requests` for a pooled actor whose mailbox has no capacity.
    pub fn new(takes_requests: bool) -> Self {
        Claim {
            state: AtomicU8::new(SCHEDULED),
            takes_requests,
        }
    }

    /// Claims the actor for scheduling; `true` if the caller must queue it.
    pub fn claim(&self) -> bool {
        // Pairs with the fence in `Pool::run`: a sender that pushed mail and
        // then fails to claim knows the worker will see that mail.
        fence(Ordering::SeqCst);
        // Looked at before the swap: mail to a busy actor (the common case
        // under load) then costs its senders no contended write.
        self.state.load(Ordering::SeqCst) == IDLE
            && self
                .state
                .compare_exchange(IDLE, SCHEDULED, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }

    /// Whether a request may reach the actor through the pool's hand-off
    /// (it is pooled, and its mailbox has no capacity to refuse it by).
    pub fn takes_requests(&self) -> bool {
        self.takes_requests
    }

    /// Marks an actor this thread claimed (with [`claim_idle`](Self::claim_idle))
    /// as handed with a request through the pool's hand-off slot, before
    /// the request goes there. Until the actor next goes idle, whoever
    /// puts mail in its mailbox first sees that the request is in
    /// (`Pool::settle_request`), so nothing sent after the request, by
    /// anyone who knows it was sent, overtakes it.
    pub fn hand(&self) {
        self.state.store(HANDED, Ordering::SeqCst);
    }

    /// Takes back [`hand`](Self::hand): the request did not go to the
    /// slot (this thread puts it in the mailbox itself).
    pub fn unhand(&self) {
        self.state.store(SCHEDULED, Ordering::SeqCst);
    }

    /// Whether a request may wait in the pool's hand-off slot (see
    /// [`hand`](Self::hand)): read by every sender, on the line of the
    /// actor's status that it reads anyway.
    #[inline]
    pub fn handed(&self) -> bool {
        self.state.load(Ordering::Acquire) == HANDED
    }

    /// Whether the actor is queued or in a turn (claimed, not idle, not
    /// finished).
    pub fn scheduled(&self) -> bool {
        matches!(self.state.load(Ordering::Acquire), SCHEDULED | HANDED)
    }

    /// Claims an idle actor before any mail is pushed for it: `true` if
    /// the caller must queue it. No fence: no mail of the caller's waits
    /// for a worker to see (a caller that fails sends the usual way, which
    /// claims with [`claim`](Self::claim)).
    pub fn claim_idle(&self) -> bool {
        self.state.load(Ordering::Relaxed) == IDLE
            && self
                .state
                .compare_exchange(IDLE, SCHEDULED, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
    }
}
