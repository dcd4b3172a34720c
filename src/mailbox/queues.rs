//! The two queues behind a mailbox's lock, and the rule that says which of
//! them the next item comes from.

use std::collections::VecDeque;

use super::{ExitSignal, Mail};

#[derive(Default)]
pub(super) struct Queues {
    pub(super) messages: VecDeque<Mail>,
    /// Exit signals, each with its place: the number of messages pushed
    /// before it. Untrappable ones go to the front, with place 0.
    pub(super) signals: VecDeque<(u64, ExitSignal)>,
    /// Messages taken so far (with those queued, the place of the next
    /// one). Counted by the receiver, once per batch: a count of pushes
    /// would be written by every sender, on a line the receiver reads
    /// before every message.
    pub(super) taken: u64,
    /// The actor has terminated: what arrives now is a dead letter.
    pub(super) closed: bool,
    /// Threads asleep in `recv`, waiting for mail. Counted, not flagged:
    /// an inbox may be read by several threads, and a wake-up must reach
    /// each of them that mail is for.
    pub(super) sleepers: u32,
    /// The most pieces of mail that ever waited at once.
    pub(super) high_water: usize,
}

impl Queues {
    /// Messages and exit signals waiting.
    pub(super) fn len(&self) -> usize {
        self.messages.len() + self.signals.len()
    }

    /// Notes the length after a push in the high-water mark.
    pub(super) fn note_length(&mut self) {
        let len = self.len();
        if len > self.high_water {
            self.high_water = len;
        }
    }

    /// Whether the first exit signal is to be taken now, before the next
    /// message: it is untrappable, or the actor does not trap exits, or
    /// every message queued before it has been taken.
    pub(super) fn signal_due(&self, trapping: bool) -> bool {
        self.signals
            .front()
            .is_some_and(|(place, signal)| signal.force || !trapping || *place <= self.taken())
    }

    /// Messages taken so far (the place of the first one still queued).
    pub(super) fn taken(&self) -> u64 {
        self.taken
    }

    /// Messages pushed so far (the place of the next one).
    pub(super) fn pushed(&self) -> u64 {
        self.taken + self.messages.len() as u64
    }

    /// How many messages may be taken before the first exit signal's turn
    /// comes (all of them if there is none).
    pub(super) fn before_next_signal(&self) -> usize {
        match self.signals.front() {
            Some((place, _)) => (place - self.taken()) as usize,
            None => self.messages.len(),
        }
    }
}

/// What the signal queue holds, as [`Mailbox`](super::Mailbox)'s `signal_state` says.
pub(super) const SIGNALS: u8 = 1;

/// The first signal is untrappable.
pub(super) const FORCED: u8 = 2;
