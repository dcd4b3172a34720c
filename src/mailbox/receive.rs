//! The receivers' side of a mailbox: taking the next item or a batch in the
//! order the module's rule gives, and waiting for mail.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::queues::{Queues, FORCED, SIGNALS};
use super::{Mail, Mailbox};

/// Looks a thread waiting for mail (a dedicated actor, an inbox's reader)
/// takes before it sleeps: some 13 µs at 25 ns a `PAUSE`, as for a call's
/// reply (see `bridge::reply`).
pub(crate) const RECEIVER_POLLS: u32 = 512;

impl Mailbox {
    /// A message was taken out of a batch ([`pop_batch`](Self::pop_batch))
    /// to be handled: its place counts no more against the capacity.
    #[inline]
    pub fn release(&self, mail: &Mail) {
        if let Some(bound) = &self.bound {
            if matches!(mail, Mail::Message(_)) && bound.freed() {
                let queues = self.queues();
                bound.wake();
                drop(queues);
            }
        }
    }

    /// Whether mail may wait, in the queues or in a batch a reader of a
    /// shared inbox holds: read without the lock, for a reader spinning for
    /// mail (it takes the lock its senders need only once this says yes).
    pub fn may_have_mail(&self) -> bool {
        self.has_mail.load(Ordering::Acquire) || self.stashed.load(Ordering::Acquire)
    }

    /// Says whether a reader of a shared inbox holds taken mail. Setting it
    /// wakes every sleeping reader: whichever comes first takes from the
    /// batch, the others sleep again.
    pub fn set_stashed(&self, stashed: bool) {
        let queues = self.queues();
        self.stashed.store(stashed, Ordering::Release);
        let sleeping = stashed && queues.sleepers > 0;
        drop(queues);
        if sleeping {
            self.arrived.notify_all();
        }
    }

    /// The next item without waiting, for an actor that traps exits or not
    /// (see the module's rule): an exit signal that is due, else the oldest
    /// message.
    #[cfg(test)]
    pub fn pop(&self, trapping: bool) -> Option<Mail> {
        self.pop_from(&mut self.queues(), trapping)
    }

    fn pop_from(&self, queues: &mut Queues, trapping: bool) -> Option<Mail> {
        let mail = if queues.signal_due(trapping) {
            let signal = queues.signals.pop_front().map(|(_, signal)| signal);
            self.publish_signals(queues);
            signal.map(Mail::exit)
        } else {
            let message = queues.messages.pop_front();
            queues.taken += u64::from(message.is_some());
            message
        };
        self.settle(queues);
        // Taken one at a time, a message is handled next: its place is free.
        if let (Some(bound), Some(Mail::Message(_))) = (&self.bound, &mail) {
            if bound.freed() {
                bound.wake();
            }
        }
        mail
    }

    /// Updates `has_mail` after taking from the queues (under their lock).
    fn settle(&self, queues: &Queues) {
        if queues.messages.is_empty() && queues.signals.is_empty() {
            self.has_mail.store(false, Ordering::Release);
        }
    }

    /// The first exit signal if it is due now, else nothing.
    pub fn pop_signal(&self, trapping: bool) -> Option<Mail> {
        let mut queues = self.queues();
        if !queues.signal_due(trapping) {
            return None;
        }
        self.pop_from(&mut queues, trapping)
    }

    /// Whether an exit signal waits that goes before the next message
    /// whatever its place: any, for an actor that does not trap exits; an
    /// untrappable one, for an actor that does. Read without the lock.
    #[inline]
    pub fn signal_overtakes(&self, trapping: bool) -> bool {
        let state = self.signal_state.load(Ordering::Acquire);
        state & FORCED != 0 || (state & SIGNALS != 0 && !trapping)
    }

    /// Moves up to `max` items into `batch` under one lock: an exit signal
    /// alone if one is due, else messages up to the next signal's place.
    /// Returns how many. In a bounded mailbox the batch's messages keep
    /// their places until the caller [`release`](Self::release)s each as it
    /// takes it to be handled.
    ///
    /// Whoever works through the batch checks
    /// [`signal_overtakes`](Self::signal_overtakes) before each message, so
    /// a signal that may overtake messages still overtakes the batch's rest.
    pub fn pop_batch(&self, batch: &mut VecDeque<Mail>, max: usize, trapping: bool) -> usize {
        let mut queues = self.queues();
        if queues.signal_due(trapping) {
            batch.extend(self.pop_from(&mut queues, trapping));
            return 1;
        }
        let count = queues.before_next_signal().min(max);
        batch.extend(queues.messages.drain(..count));
        queues.taken += count as u64;
        self.settle(&queues);
        count
    }

    /// [`pop_batch`](Self::pop_batch) for a pooled actor's turn, which
    /// takes more than `max` messages when more wait and no exit signal
    /// does: all of them, by swapping buffers with an empty `batch` rather
    /// than moving each message under the lock its senders wait for. The
    /// turn gives back what it does not handle ([`put_back`](Self::put_back)).
    ///
    /// The swap also takes a short queue whole if `batch`'s buffer is no
    /// larger than the queue's, so an idle actor never keeps a larger
    /// buffer than its own backlog made.
    pub fn take_batch(&self, batch: &mut VecDeque<Mail>, max: usize, trapping: bool) -> usize {
        let mut queues = self.queues();
        let whole = queues.signals.is_empty()
            && batch.is_empty()
            && !queues.messages.is_empty()
            && (queues.messages.len() > max || batch.capacity() <= queues.messages.capacity());
        if !whole {
            drop(queues);
            return self.pop_batch(batch, max, trapping);
        }
        std::mem::swap(batch, &mut queues.messages);
        queues.taken += batch.len() as u64;
        self.settle(&queues);
        batch.len()
    }

    /// Gives back messages a turn took with [`take_batch`](Self::take_batch)
    /// and did not handle: they go back in front of those that came since,
    /// in their order, still counted against the capacity.
    pub fn put_back(&self, batch: &mut VecDeque<Mail>) {
        if batch.is_empty() {
            return;
        }
        // Only messages: a batch holding an exit signal holds it alone,
        // and the turn handles it first.
        debug_assert!(!batch.iter().any(Mail::is_exit));
        let mut queues = self.queues();
        queues.taken -= batch.len() as u64;
        batch.extend(queues.messages.drain(..));
        std::mem::swap(batch, &mut queues.messages);
        self.has_mail.store(true, Ordering::Release);
    }

    /// For a dedicated actor's thread: sleeps until either queue holds
    /// something or `outside` says mail came where it looks (the lane,
    /// whose sender calls [`wake_reader`](Self::wake_reader)), each looked
    /// at under the lock their senders take to wake this thread.
    pub fn sleep_until_any(&self, outside: impl Fn() -> bool) {
        let mut queues = self.queues();
        while queues.messages.is_empty() && queues.signals.is_empty() && !outside() {
            queues.sleepers += 1;
            self.arrived.wait(&mut queues);
            queues.sleepers -= 1;
        }
    }

    /// For the readers of an inbox: sleeps until mail waits in the queues,
    /// in a batch a reader took ([`set_stashed`](Self::set_stashed)), or
    /// where `outside` says (the inbox's lane, whose sender calls
    /// [`wake_reader`](Self::wake_reader)); `false` if `deadline` came
    /// first. Each is looked at under the lock their senders take to wake
    /// this thread.
    pub fn wait_for_mail(&self, deadline: Instant, outside: impl Fn() -> bool) -> bool {
        let mut queues = self.queues();
        loop {
            if !queues.messages.is_empty()
                || !queues.signals.is_empty()
                || self.stashed.load(Ordering::Acquire)
                || outside()
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            queues.sleepers += 1;
            self.arrived.wait_until(&mut queues, deadline);
            queues.sleepers -= 1;
        }
    }

    /// Wakes a reader asleep in [`wait_for_mail`](Self::wait_for_mail):
    /// mail came where `outside` looks.
    pub fn wake_reader(&self) {
        let queues = self.queues();
        let sleeping = queues.sleepers > 0;
        drop(queues);
        if sleeping {
            self.arrived.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::ActorId;
    use crate::exit::ExitReason;
    use crate::mailbox::{Envelope, ExitSignal};

    fn push(mailbox: &Mailbox, n: u64) {
        mailbox.push(Mail::Message(Envelope::new(n, None))).ok();
    }

    fn number(mail: Mail) -> Option<u64> {
        match mail {
            Mail::Message(envelope) => envelope.downcast::<u64>().ok(),
            _ => None,
        }
    }

    /// A turn that takes a backlog whole and gives back what it did not
    /// handle leaves the mailbox as if it had taken those messages one at
    /// a time: the rest first, then what came meanwhile, and a trapped
    /// exit signal that came meanwhile still after all of them.
    #[test]
    fn a_batch_taken_whole_and_given_back_keeps_every_place() {
        let mailbox = Mailbox::default();
        for n in 0..10 {
            push(&mailbox, n);
        }
        let mut batch = VecDeque::new();
        assert_eq!(
            mailbox.take_batch(&mut batch, 4, true),
            10,
            "more than the quota waited"
        );
        assert!(mailbox.is_empty());
        let handled: Vec<_> = batch.drain(..3).filter_map(number).collect();
        assert_eq!(handled, [0, 1, 2]);
        push(&mailbox, 10);
        mailbox.push_signal(ExitSignal {
            from: ActorId::EXTERNAL,
            reason: ExitReason::Shutdown,
            link: None,
            force: false,
        });
        push(&mailbox, 11);
        mailbox.put_back(&mut batch);
        assert!(batch.is_empty());
        let mut order = Vec::new();
        while let Some(mail) = mailbox.pop(true) {
            order.push(match mail {
                other if other.is_exit() => "exit".to_string(),
                other => number(other).expect("a number").to_string(),
            });
        }
        assert_eq!(
            order,
            ["3", "4", "5", "6", "7", "8", "9", "10", "exit", "11"]
        );
    }

    /// With an exit signal waiting, a turn takes no more than up to its
    /// place, as `pop_batch` does.
    #[test]
    fn a_waiting_signal_bounds_the_batch() {
        let mailbox = Mailbox::default();
        push(&mailbox, 0);
        push(&mailbox, 1);
        mailbox.push_signal(ExitSignal {
            from: ActorId::EXTERNAL,
            reason: ExitReason::Shutdown,
            link: None,
            force: false,
        });
        push(&mailbox, 2);
        let mut batch = VecDeque::new();
        assert_eq!(mailbox.take_batch(&mut batch, 64, true), 2);
        assert_eq!(
            batch.drain(..).filter_map(number).collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(mailbox.take_batch(&mut batch, 64, true), 1);
        assert!(batch.pop_front().is_some_and(|mail| mail.is_exit()));
    }
}
