//! The senders' side of a mailbox: appending mail and exit signals, and
//! offering a message to a bounded mailbox (waiting for room if asked).

use std::sync::atomic::Ordering;
use std::time::Instant;

use parking_lot::MutexGuard;

use super::queues::{Queues, FORCED, SIGNALS};
use super::{Envelope, ExitSignal, Mail, Mailbox};

/// Where a pushed piece of mail landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// In an empty mailbox: the sender must see that the actor is scheduled.
    First,
    /// Behind mail that was not taken yet: whoever queued that mail sees to
    /// the actor being scheduled, and the turn that takes it takes this too.
    Behind,
}

/// Why [`Mailbox::offer`] gave a message back.
pub(crate) enum Refused {
    /// The actor has terminated.
    Closed(Envelope),
    /// The mailbox is at its capacity (and stayed so until the deadline).
    Full(Envelope),
}

impl Mailbox {
    /// Appends to the message queue whatever its capacity (for the
    /// runtime's notices, `Down` and wake-ups, which are never refused);
    /// gives the mail back if the mailbox is closed. Says whether this mail
    /// found the mailbox empty.
    pub fn push(&self, mail: Mail) -> Result<Pushed, Mail> {
        let queues = self.queues();
        if queues.closed {
            return Err(mail);
        }
        Ok(self.append(queues, mail))
    }

    /// Appends a message a user sent, if the mailbox has room for it. If it
    /// is full and `deadline` is given, waits for room until then (on a
    /// pool worker, as a blocking section the pool makes up for), or until
    /// `gone` says the actor has terminated: its mailbox may only close
    /// later (a killed actor's thread may be stuck), and whoever ends it
    /// calls [`wake_senders`](Self::wake_senders).
    #[inline]
    pub fn offer(
        &self,
        envelope: Envelope,
        deadline: Option<Instant>,
        gone: impl Fn() -> bool,
    ) -> Result<Pushed, Refused> {
        let queues = self.queues();
        let room = match &self.bound {
            Some(bound) => bound.has_room(),
            None => true,
        };
        if !queues.closed && room {
            return Ok(self.append(queues, Mail::Message(envelope)));
        }
        drop(queues);
        self.offer_slow(envelope, deadline, gone)
    }

    /// [`offer`](Self::offer) to a mailbox that was closed or full: out of
    /// line, so that the common send stays short.
    #[cold]
    #[inline(never)]
    fn offer_slow(
        &self,
        envelope: Envelope,
        deadline: Option<Instant>,
        gone: impl Fn() -> bool,
    ) -> Result<Pushed, Refused> {
        match deadline {
            Some(deadline) if Instant::now() < deadline => {
                crate::executor::pool::blocking(|| self.offer_until(envelope, deadline, gone))
            }
            // Looks once more: an instant ago is no deadline to wait for.
            _ => self.offer_until(envelope, Instant::now(), gone),
        }
    }

    /// [`offer`](Self::offer) that waits for room until `deadline`.
    fn offer_until(
        &self,
        envelope: Envelope,
        deadline: Instant,
        gone: impl Fn() -> bool,
    ) -> Result<Pushed, Refused> {
        let mut queues = self.queues();
        loop {
            // Looked at under the lock `wake_senders` takes: an end after
            // this look wakes this thread.
            if queues.closed || gone() {
                return Err(Refused::Closed(envelope));
            }
            match &self.bound {
                Some(bound) if !bound.has_room() => {
                    if Instant::now() >= deadline {
                        return Err(Refused::Full(envelope));
                    }
                    bound.wait_for_room(&mut queues, deadline);
                }
                _ => return Ok(self.append(queues, Mail::Message(envelope))),
            }
        }
    }

    /// Appends `mail` to an open mailbox's message queue (a message is
    /// counted against the capacity, if any).
    #[inline(always)]
    fn append(&self, mut queues: MutexGuard<'_, Queues>, mail: Mail) -> Pushed {
        if let (Some(bound), Mail::Message(_)) = (&self.bound, &mail) {
            bound.admitted();
        }
        let pushed = match queues.messages.is_empty() && queues.signals.is_empty() {
            true => Pushed::First,
            false => Pushed::Behind,
        };
        if queues.messages.capacity() == 0 {
            // Most actors hold one message at a time; the default first
            // allocation is four slots, kept while the actor idles.
            queues.messages.reserve_exact(1);
        }
        queues.messages.push_back(mail);
        queues.note_length();
        // Mail that waits already set it (it is cleared only once both
        // queues are empty): a store per message would write a line the
        // receiver reads before each one.
        if pushed == Pushed::First {
            self.has_mail.store(true, Ordering::Release);
        }
        self.wake_waiter(queues);
        pushed
    }

    /// Wakes the senders waiting for room, to look again (the actor has
    /// terminated).
    pub fn wake_senders(&self) {
        if let Some(bound) = &self.bound {
            let queues = self.queues();
            bound.wake();
            drop(queues);
        }
    }

    /// Appends an exit signal, in its place after the messages queued so
    /// far (an untrappable one goes first); `false` if the mailbox is closed.
    pub fn push_signal(&self, signal: ExitSignal) -> bool {
        let mut queues = self.queues();
        if queues.closed {
            return false;
        }
        if signal.force {
            queues.signals.push_front((0, signal));
        } else {
            let place = queues.pushed();
            queues.signals.push_back((place, signal));
        }
        queues.note_length();
        self.publish_signals(&queues);
        self.has_mail.store(true, Ordering::Release);
        self.wake_waiter(queues);
        true
    }

    /// Updates `signal_state` (under the queues' lock).
    pub(super) fn publish_signals(&self, queues: &Queues) {
        let state = match queues.signals.front() {
            None => 0,
            Some((_, signal)) if signal.force => SIGNALS | FORCED,
            Some(_) => SIGNALS,
        };
        self.signal_state.store(state, Ordering::Release);
    }

    fn wake_waiter(&self, queues: MutexGuard<'_, Queues>) {
        // One piece of mail, one sleeper: a second push while the first
        // woken thread has not yet counted itself out wakes a second one.
        let sleeping = queues.sleepers > 0;
        drop(queues);
        if sleeping {
            self.arrived.notify_one();
        }
    }
}
