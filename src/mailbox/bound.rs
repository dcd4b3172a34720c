//! A bounded mailbox's capacity, and what counts against it.
//!
//! A message counts from the moment it is admitted until its driver takes
//! it to be handled: a pool worker may take a batch of messages under one
//! lock, and those still hold their places until their turn comes, so the
//! messages an actor holds in memory never exceed its capacity (the
//! runtime's own notices aside: they are never refused, see
//! [`Mailbox::push`](super::Mailbox::push)).
//!
//! Counting is race-free without a lock of its own: the count is raised
//! only under the queues' lock, after checking it against the capacity, so
//! two senders never both take the last place; it is lowered by the driver
//! without that lock, which can only make a check under it err on the safe
//! side (a place freed an instant after the check is found by the next one).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, MutexGuard};

/// The capacity of a bounded mailbox and the senders waiting for room.
pub(super) struct Bound {
    capacity: usize,
    /// Messages admitted and not yet taken to be handled.
    held: AtomicUsize,
    /// Senders asleep in [`Bound::wait_for_room`].
    waiting: AtomicUsize,
    /// Where they sleep (on the queues' lock).
    room: Condvar,
}

impl Bound {
    pub fn new(capacity: usize) -> Self {
        Bound {
            capacity,
            held: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            room: Condvar::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether a message may be admitted now (under the queues' lock).
    pub fn has_room(&self) -> bool {
        self.held.load(Ordering::SeqCst) < self.capacity
    }

    /// Counts an admitted message (under the queues' lock).
    pub fn admitted(&self) {
        self.held.fetch_add(1, Ordering::SeqCst);
    }

    /// A message was taken to be handled: its place is free. Returns
    /// whether senders wait for room: then the caller wakes them with
    /// [`Bound::wake`] under the queues' lock.
    pub fn freed(&self) -> bool {
        self.held.fetch_sub(1, Ordering::SeqCst);
        // Paired with `wait_for_room`, which counts itself as waiting and
        // then looks at `held` (both sequentially consistent): either it
        // sees this place free, or this sees it waiting and wakes it under
        // the lock it holds until it sleeps, so the wake-up is not lost.
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// Wakes the senders waiting for room (under the queues' lock); each
    /// looks again, and those that find none sleep again.
    pub fn wake(&self) {
        self.room.notify_all();
    }

    /// Sleeps on the queues' lock until a place may be free, the mailbox
    /// closes (its closer calls [`Bound::wake`]) or `deadline` passes; the caller looks again.
    pub fn wait_for_room<T>(&self, queues: &mut MutexGuard<'_, T>, deadline: Instant) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        if !self.has_room() {
            self.room.wait_until(queues, deadline);
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}
