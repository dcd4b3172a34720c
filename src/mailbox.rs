//! Mailboxes: what travels to an actor, and the two queues it travels in.
//!
//! Every actor has a *message* queue (ordinary messages and `Down`, in
//! arrival order) and a *signal* queue (exit signals). Each exit signal
//! records its place among the messages: how many had been pushed before
//! it. Whether a signal is trapped is decided when the actor takes it,
//! between two handlers, by its trap flag at that moment (as in Erlang,
//! where a signal is acted on when the receiver handles it):
//! - an actor that does not trap exits takes a waiting exit signal before
//!   any queued message, so an exit takes effect before a backlog (and
//!   messages its sender sent before it are dropped with the actor);
//! - an actor that traps exits takes it in its place, as `Stopped`, after
//!   every message queued before it: a message an actor sent before dying
//!   is never overtaken by its `Stopped`;
//! - an untrappable signal (a system shutdown) goes before everything.
//!
//! Both queues sit behind one small lock. A mailbox is on every actor, and a
//! pooled system holds millions of actors: an empty mailbox costs a few dozen
//! bytes and no allocation, where an unbounded crossbeam channel costs about
//! 500 bytes empty and a 2 KiB block once used. Whoever drives the actor is
//! told of new mail in one of two ways: a pool worker is handed the actor
//! (`Core::deliver` schedules it), or a thread waiting for mail (a
//! dedicated actor's, an inbox's reader) sees it, or is woken.
//!
//! A reader on a thread of its own also has a [`Lane`] (unless its mailbox
//! is bounded): one message on one cache line in front of the mailbox, for
//! the common one-at-a-time exchange with plain code (an answer to an
//! inbox, a request to a dedicated actor). It holds the oldest mail not
//! yet taken, or nothing.
//!
//! A mailbox is unbounded unless its actor was spawned with a capacity
//! ([`bound`]): then a message that finds it full is refused
//! ([`Mailbox::offer`]), or its sender waits for room. Only messages sent by
//! users are refused: exit signals, `Down`, the `Stopped` a stopper gets and
//! internal wake-ups always get in (an actor must learn of an end whatever
//! its backlog), so they may take the length past the capacity.
//!
//! The pieces: [`mail`] (what travels), [`lane`] (the one message in
//! front), [`queues`] (the two queues and the rule above), [`push`] (the
//! senders' side), [`receive`] (the receivers' side) and [`bound`] (the
//! capacity of a bounded mailbox).

mod bound;
mod lane;
mod mail;
mod push;
mod queues;
mod receive;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::address::ActorId;
use bound::Bound;
pub(crate) use lane::{Lane, LaneGuard};
pub use mail::Envelope;
pub(crate) use mail::{user_messages, ExitSignal, Mail, Notice};
pub(crate) use push::{Pushed, Refused};
use queues::Queues;
pub(crate) use receive::RECEIVER_POLLS;

/// An actor's two queues, shared by its senders and its driver.
#[derive(Default)]
pub(crate) struct Mailbox {
    queues: Mutex<Queues>,
    /// What the signal queue holds (`SIGNALS`, `FORCED`): a driver working
    /// through a batch of messages looks here before each one.
    signal_state: AtomicU8,
    /// Whether either queue may hold something: a receiver spinning for
    /// mail reads this instead of taking the lock its senders need.
    has_mail: AtomicBool,
    /// Where a thread blocked in `recv` sleeps.
    arrived: Condvar,
    /// A reader of a shared inbox holds mail it took in a batch and has not
    /// returned yet: another reader must take from there rather than sleep.
    /// Written under the queues' lock (see [`Mailbox::set_stashed`]).
    stashed: AtomicBool,
    /// The capacity of a bounded mailbox; `None` (the default) for an
    /// unbounded one, which so pays one pointer.
    bound: Option<Box<Bound>>,
}

impl Mailbox {
    /// A mailbox that holds at most `capacity` messages sent by users.
    pub fn bounded(capacity: usize) -> Self {
        let mut mailbox = Mailbox::default();
        mailbox.bound = Some(Box::new(Bound::new(capacity)));
        mailbox
    }

    fn queues(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock()
    }

    /// The capacity, if the mailbox is bounded.
    pub fn capacity(&self) -> Option<usize> {
        self.bound.as_ref().map(|bound| bound.capacity())
    }

    /// Whether nothing waits in either queue.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        let queues = self.queues();
        queues.messages.is_empty() && queues.signals.is_empty()
    }

    /// Messages and exit signals waiting (including internal wake-ups).
    pub fn len(&self) -> usize {
        self.queues().len()
    }

    /// The length now and the most that ever waited at once.
    pub fn len_and_high_water(&self) -> (usize, usize) {
        let queues = self.queues();
        (queues.len(), queues.high_water)
    }

    /// Closes actor `to`'s mailbox (what arrives later is refused) and
    /// drops what is left: returns how many user messages there were.
    pub fn close(&self, to: ActorId) -> u64 {
        let (messages, signals) = {
            let mut queues = self.queues();
            queues.closed = true;
            // Senders waiting for room learn that the actor is gone.
            if let Some(bound) = &self.bound {
                bound.wake();
            }
            self.signal_state.store(0, Ordering::Release);
            self.has_mail.store(false, Ordering::Release);
            (
                std::mem::take(&mut queues.messages),
                std::mem::take(&mut queues.signals),
            )
        };
        // Dropped outside the lock: a payload's `Drop` may send mail here.
        drop(signals);
        user_messages(messages, to)
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // A mailbox is normally closed and empty before its actor's last
        // address goes. One that is not (an actor killed while its thread
        // was stuck) may hold user payloads: whoever drops the last address
        // must not be the one their `Drop` panics on.
        let queues = self.queues.get_mut();
        if !queues.messages.is_empty() {
            user_messages(std::mem::take(&mut queues.messages), ActorId::EXTERNAL);
        }
    }
}
