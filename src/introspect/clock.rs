//! The coarse monotonic clock the actors' stats are stamped with: a few
//! nanoseconds to read, a few milliseconds' precision. (Until the thread
//! watch, a dedicated thread also read it after every handler to time it;
//! no handler is timed with a clock read now, see `executor::thread_watch`.)

use std::time::{Duration, Instant};

/// A monotonic time that costs a few nanoseconds to read, to a few
/// milliseconds' precision: what the actors' stats are stamped with, when
/// they go from idle to running and back (see the parent module).
pub(crate) fn coarse_now() -> Duration {
    Duration::from_nanos(coarse_nanos())
}

/// [`coarse_now`] in nanoseconds, with nothing around the clock's own read.
#[cfg(target_os = "linux")]
#[inline]
fn coarse_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable `timespec` for the whole call, and
    // CLOCK_MONOTONIC_COARSE is a clock every Linux since 2.6.32 has; on an
    // error the call writes nothing and we fall back to the precise clock.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) } != 0 {
        return precise_nanos();
    }
    // A monotonic clock's fields are never negative; the casts only widen.
    (now.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(now.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
#[inline]
fn coarse_nanos() -> u64 {
    precise_nanos()
}

/// Time since a fixed point in this process, in nanoseconds (at least 1,
/// as a coarse reading never is 0).
#[cold]
fn precise_nanos() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let elapsed = EPOCH.get_or_init(Instant::now).elapsed();
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_follows_real_time() {
        let (coarse, precise) = (coarse_now(), Instant::now());
        std::thread::sleep(Duration::from_millis(50));
        let passed = coarse_now().saturating_sub(coarse);
        let really = precise.elapsed();
        // Within its precision (a few ms; generous for a loaded machine).
        assert!(
            passed + Duration::from_millis(20) >= really,
            "{passed:?} vs {really:?}"
        );
        assert!(
            passed <= really + Duration::from_millis(20),
            "{passed:?} vs {really:?}"
        );
    }
}
