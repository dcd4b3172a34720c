//! The receivers' side of a mailbox: taking the next item or a batch in the
//! order the module's rule gives, and waiting for mail.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crossbeam_utils::Backoff;

use super::queues::{Queues, FORCED, SIGNALS};
use super::{Mail, Mailbox};

/// What [`Mailbox::recv_shared`] brings back.
pub(crate) enum Received {
    Mail(Mail),
    /// Mail waits outside the queues, in a batch another reader took.
    Stashed,
    Timeout,
}

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
    pub fn pop(&self, trapping: bool) -> Option<Mail> {
        self.pop_from(&mut self.queues(), trapping)
    }

    fn pop_from(&self, queues: &mut Queues, trapping: bool) -> Option<Mail> {
        let mail = if queues.signal_due(trapping) {
            let signal = queues.signals.pop_front().map(|(_, signal)| signal);
            self.publish_signals(queues);
            signal.map(Mail::Exit)
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

    /// The next item, waiting until `deadline` (forever if `None`).
    ///
    /// Spins briefly before it sleeps: an answer often arrives within
    /// microseconds, and sleeping costs more than that.
    pub fn recv(&self, deadline: Option<Instant>, trapping: bool) -> Option<Mail> {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if self.has_mail.load(Ordering::Acquire) {
                if let Some(mail) = self.pop(trapping) {
                    return Some(mail);
                }
            }
            backoff.snooze();
        }
        match crate::executor::pool::blocking(|| self.sleep_until_mail(deadline, false, trapping)) {
            Received::Mail(mail) => Some(mail),
            Received::Stashed | Received::Timeout => None,
        }
    }

    /// Like [`recv`](Self::recv), for a mailbox several threads read (an
    /// inbox) where a reader may hold a batch it took: returns `Stashed`
    /// instead of sleeping while one does ([`set_stashed`](Self::set_stashed)).
    /// An inbox traps exits.
    pub fn recv_shared(&self, deadline: Instant) -> Received {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if self.stashed.load(Ordering::Acquire) {
                return Received::Stashed;
            }
            if self.has_mail.load(Ordering::Acquire) {
                if let Some(mail) = self.pop(true) {
                    return Received::Mail(mail);
                }
            }
            backoff.snooze();
        }
        crate::executor::pool::blocking(|| self.sleep_until_mail(Some(deadline), true, true))
    }

    fn sleep_until_mail(
        &self,
        deadline: Option<Instant>,
        shared: bool,
        trapping: bool,
    ) -> Received {
        let mut queues = self.queues();
        loop {
            if let Some(mail) = self.pop_from(&mut queues, trapping) {
                return Received::Mail(mail);
            }
            // Read under the lock `set_stashed` takes: a batch taken after
            // this look wakes this thread.
            if shared && self.stashed.load(Ordering::Acquire) {
                return Received::Stashed;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Received::Timeout;
            }
            queues.sleepers += 1;
            match deadline {
                None => self.arrived.wait(&mut queues),
                Some(deadline) => {
                    self.arrived.wait_until(&mut queues, deadline);
                }
            }
            queues.sleepers -= 1;
        }
    }
}
