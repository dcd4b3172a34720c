//! [`SpinWait`]: waiting for something another thread does within
//! microseconds, by looking often, before sleeping.
//!
//! A round trip between two threads that both spin costs a few hundred
//! nanoseconds; one that sleeps costs a wake-up, tens of microseconds on a
//! busy machine. So a thread that expects an answer soon (a call waiting
//! for its reply, a pool worker that just ran out of work) spins first.
//! How it spins matters as much: crossbeam's `Backoff` doubles its pause
//! at each step (1, 2, 4 … 64 `PAUSE`s, then yields), so an answer that
//! comes half a microsecond into the wait is seen up to 400 ns late, which
//! is more than the whole round trip of two raw threads; and it spins for
//! about 3 µs in all (127 pauses of some 25 ns), after which a busy
//! machine's answer is often still on its way. `SpinWait` looks after
//! every `PAUSE`, for as many looks as its user asks, then yields the
//! thread a few times like `Backoff` does, then says the wait is over:
//! the caller then sleeps.

use std::cell::Cell;

/// Yields of the thread after the looks, as `Backoff` does.
const YIELDS: u32 = 4;

/// One wait: call [`pause`](Self::pause) between two looks.
pub(crate) struct SpinWait {
    polls: u32,
    step: Cell<u32>,
}

impl SpinWait {
    /// A wait of `polls` looks, each after one `PAUSE` (some 10–40 ns,
    /// as the processor has it), then a few yields.
    pub(crate) fn new(polls: u32) -> Self {
        SpinWait {
            polls,
            step: Cell::new(0),
        }
    }

    /// Pauses before the next look: a `PAUSE` instruction, or later a
    /// yield. `false` once the wait is over (nothing paused).
    pub(crate) fn pause(&self) -> bool {
        let step = self.step.get();
        if step >= self.polls + YIELDS {
            return false;
        }
        self.step.set(step + 1);
        if step < self.polls {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_pauses_a_bounded_number_of_times_then_is_over() {
        let wait = SpinWait::new(10);
        let mut paused = 0;
        while wait.pause() {
            paused += 1;
        }
        assert_eq!(paused, 10 + YIELDS);
        assert!(!wait.pause(), "an ended wait stays ended");
    }
}
