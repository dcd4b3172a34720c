//! Restart intensity: how many restarts a supervisor allows within a period,
//! counted on a [`Clock`] that tests can replace.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Monotonic time for counting restarts, as the time since an arbitrary,
/// fixed origin.
///
/// Supervisors read the clock once per restart. The default is
/// [`SystemClock`]; a [`ManualClock`] makes windows and escalation
/// deterministic in tests.
pub trait Clock: Send + Sync + 'static {
    /// The current time. Must never go backwards.
    fn now(&self) -> Duration;
}

/// The real monotonic clock ([`Instant`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }
}

/// A clock that moves only when told to. Clones share one time.
///
/// ```
/// use ferrotp_supervisors::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(3));
/// assert_eq!(shared.now(), Duration::from_secs(3));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    now: Arc<Mutex<Duration>>,
}

impl ManualClock {
    /// A clock standing at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The restarts of one supervisor within the sliding window, OTP's rule:
/// a restart at `now` keeps the earlier restarts at `t` with
/// `now - t <= period`, adds itself, and is refused when the window then
/// holds more than `max_restarts`.
pub(crate) struct RestartWindow {
    max_restarts: u32,
    period: Duration,
    clock: Arc<dyn Clock>,
    /// Times of the restarts still in the window, oldest first.
    stamps: VecDeque<Duration>,
}

/// A restart was refused: the window holds `count` restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exceeded {
    pub count: usize,
}

impl RestartWindow {
    pub fn new(max_restarts: u32, period: Duration, clock: Arc<dyn Clock>) -> Self {
        RestartWindow {
            max_restarts,
            period,
            clock,
            stamps: VecDeque::new(),
        }
    }

    /// Records a restart now; `Ok(count in window)` if it is allowed.
    pub fn add_restart(&mut self) -> Result<usize, Exceeded> {
        let now = self.clock.now();
        self.forget_before(now);
        self.stamps.push_back(now);
        let count = self.stamps.len();
        if count > self.max_restarts as usize {
            Err(Exceeded { count })
        } else {
            Ok(count)
        }
    }

    /// Restarts within the window as of now.
    pub fn count(&mut self) -> usize {
        let now = self.clock.now();
        self.forget_before(now);
        self.stamps.len()
    }

    pub fn max_restarts(&self) -> u32 {
        self.max_restarts
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    fn forget_before(&mut self, now: Duration) {
        while let Some(&oldest) = self.stamps.front() {
            if now.saturating_sub(oldest) > self.period {
                self.stamps.pop_front();
            } else {
                break;
            }
        }
    }
}

impl fmt::Debug for RestartWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestartWindow")
            .field("max_restarts", &self.max_restarts)
            .field("period", &self.period)
            .field("stamps", &self.stamps)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(max: u32, secs: u64) -> (RestartWindow, ManualClock) {
        let clock = ManualClock::new();
        let w = RestartWindow::new(max, Duration::from_secs(secs), Arc::new(clock.clone()));
        (w, clock)
    }

    #[test]
    fn allows_max_restarts_and_refuses_the_next() {
        let (mut w, _clock) = window(3, 5);
        assert_eq!(w.add_restart(), Ok(1));
        assert_eq!(w.add_restart(), Ok(2));
        assert_eq!(w.add_restart(), Ok(3));
        assert_eq!(w.add_restart(), Err(Exceeded { count: 4 }));
    }

    #[test]
    fn zero_max_refuses_the_first_restart() {
        let (mut w, _clock) = window(0, 5);
        assert_eq!(w.add_restart(), Err(Exceeded { count: 1 }));
    }

    #[test]
    fn restarts_older_than_the_period_leave_the_window() {
        let (mut w, clock) = window(1, 5);
        assert_eq!(w.add_restart(), Ok(1));
        // Exactly `period` later the first restart still counts (OTP keeps
        // restarts with now - t <= period) ...
        clock.advance(Duration::from_secs(5));
        assert_eq!(w.count(), 1);
        // ... and just after it, it no longer does.
        clock.advance(Duration::from_nanos(1));
        assert_eq!(w.count(), 0);
        assert_eq!(w.add_restart(), Ok(1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(w.add_restart(), Err(Exceeded { count: 2 }));
    }

    #[test]
    fn the_window_slides() {
        let (mut w, clock) = window(2, 10);
        assert_eq!(w.add_restart(), Ok(1)); // t = 0
        clock.advance(Duration::from_secs(6));
        assert_eq!(w.add_restart(), Ok(2)); // t = 6
        clock.advance(Duration::from_secs(6));
        // t = 12: the restart at 0 left, the one at 6 stays.
        assert_eq!(w.add_restart(), Ok(2));
        assert_eq!(w.add_restart(), Err(Exceeded { count: 3 }));
    }
}
