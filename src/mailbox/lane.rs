//! [`Lane`]: where a message for a thread that reads its own mailbox (an
//! inbox's reader, a dedicated actor) waits when nothing else does, on one
//! cache line of its own.
//!
//! Plain code mostly asks and waits: one request at a time comes to the
//! dedicated actor it asks, one answer at a time to its inbox. In the
//! mailbox, each costs its sender the mailbox's lock, its queue's buffer
//! and its flags (three or four cache lines the reader wrote last), and
//! the reader as many back: the unlock of a push waited on those lines
//! for most of the push's time. Here the flag a reader spins on, the lock
//! and the message share one line, as a call's reply slot does
//! (`bridge::reply`): one line moves each way.
//!
//! The lane holds the *oldest* mail not yet taken, or nothing: a message
//! goes in only while the mailbox is empty and no inbox reader holds a
//! batch it took from there (they flag theirs, see `Mailbox::set_stashed`),
//! and a reader takes a batch from the mailbox only with the lane empty and
//! locked. A dedicated actor has one reader, its thread, which handles the
//! whole batch it took before it looks here: what comes into the lane
//! meanwhile came after that batch. So a reader that takes from the lane
//! before the mailbox takes its mail in the order it came,
//! and the mailbox's rule (a trapped exit in its place among the
//! messages, one that is not trapped before them all) holds as before, as
//! long as the reader looks for an exit signal that overtakes messages
//! before it takes from the lane.
//!
//! A bounded mailbox has no lane: what waits here is counted against no
//! capacity.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use parking_lot::{Mutex, MutexGuard};

use crate::mailbox::{Envelope, Mailbox};

/// One message waiting for its reader, ahead of the mailbox.
#[derive(Default)]
#[repr(C, align(64))]
pub(crate) struct Lane {
    /// A message waits: read without the lock by a reader that spins.
    ready: AtomicBool,
    /// Readers asleep on the mailbox, which a message put here wakes.
    sleepers: AtomicU32,
    held: Mutex<Held>,
}

#[derive(Default)]
pub(crate) struct Held {
    message: Option<Envelope>,
    /// Its reader has ended: what comes now goes to the (closed) mailbox.
    closed: bool,
}

impl Lane {
    /// Puts `envelope` in if the lane is empty and open and nothing waits
    /// in `mailbox` (the one behind it), in its queues or in a reader's
    /// batch;
    /// gives it back otherwise, for the mailbox.
    ///
    /// Mail that was in the mailbox before this call is seen here (its
    /// push set the flag under the mailbox's lock before it returned, and
    /// only a reader holding this lane's lock clears it): mail sent after
    /// it never goes ahead of it.
    #[inline]
    pub fn offer(&self, envelope: Envelope, mailbox: &Mailbox) -> Result<(), Envelope> {
        // Seen without the lock first: the common refusal costs no write.
        if self.ready.load(Ordering::Relaxed) || mailbox.may_have_mail() {
            return Err(envelope);
        }
        let mut held = self.held.lock();
        if held.message.is_some() || held.closed || mailbox.may_have_mail() {
            return Err(envelope);
        }
        held.message = Some(envelope);
        self.ready.store(true, Ordering::SeqCst);
        drop(held);
        // Pairs with `asleep`: a reader about to sleep either counted
        // itself before this load or sees `ready` before it waits.
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            mailbox.wake_reader();
        }
        Ok(())
    }

    /// Whether a message may wait, read without the lock.
    #[inline]
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The lane, locked: no message goes in while a reader holds it (to
    /// take a batch from the mailbox behind it).
    pub fn lock(&self) -> LaneGuard<'_> {
        LaneGuard {
            lane: self,
            held: self.held.lock(),
        }
    }

    /// Runs `wait` (a reader's sleep on the mailbox) counted as asleep, so
    /// that a message put here meanwhile wakes it.
    pub fn asleep<T>(&self, wait: impl FnOnce() -> T) -> T {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let woke = wait();
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        woke
    }

    /// Closes the lane: what comes later goes to the mailbox (closed too).
    /// Returns the message that waited, if any.
    pub fn close(&self) -> Option<Envelope> {
        let mut held = self.held.lock();
        held.closed = true;
        self.ready.store(false, Ordering::Relaxed);
        held.message.take()
    }

    /// Whether a message waits (under the lock).
    pub fn len(&self) -> usize {
        usize::from(self.held.lock().message.is_some())
    }
}

/// A reader's hold on the lane.
pub(crate) struct LaneGuard<'a> {
    lane: &'a Lane,
    held: MutexGuard<'a, Held>,
}

impl LaneGuard<'_> {
    /// The message that waits, if any.
    pub fn take(&mut self) -> Option<Envelope> {
        let message = self.held.message.take();
        if message.is_some() {
            self.lane.ready.store(false, Ordering::Relaxed);
        }
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_reply_touches_fits_one_cache_line() {
        assert_eq!(std::mem::align_of::<Lane>(), 64);
        assert_eq!(std::mem::size_of::<Lane>(), 64);
    }
}
