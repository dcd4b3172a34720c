//! Long handlers made visible, like Erlang's `system_monitor` with
//! `long_schedule`: a handler that runs past the system's threshold
//! ([`SystemBuilder::long_handler`](crate::SystemBuilder::long_handler))
//! becomes a tracing event and a [`LifecycleEvent::LongHandler`].
//!
//! On the pool, the watchdog times handlers (a worker only bumps a counter
//! per handler); on a dedicated thread, the thread reads a coarse clock
//! after each handler (a few nanoseconds, millisecond precision). Either way,
//! a wait the runtime knows of (`Bridge::call`, `Inbox::recv`, a supervisor
//! stopping its children) does not count: the clock restarts after it.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::address::Core;
use crate::events::LifecycleEvent;
use crate::executor::Executor;

/// Tells the world that `core`'s handler for `message_type` ran `elapsed`.
pub(crate) fn report(
    core: &Core,
    executor: Executor,
    message_type: &'static str,
    elapsed: Duration,
) {
    let name = core.relations().name().map(str::to_string);
    let elapsed_ms = elapsed.as_millis() as u64;
    match executor {
        Executor::Pool => tracing::warn!(
            actor = %core.id,
            name = name.as_deref(),
            message_type,
            elapsed_ms,
            "long handler: it held a pool worker; consider spawning this actor `.dedicated()`"
        ),
        // On a thread of its own, it delays no one but its own actor.
        Executor::Threads => tracing::debug!(
            actor = %core.id,
            name = name.as_deref(),
            message_type,
            elapsed_ms,
            "long handler on a dedicated thread"
        ),
    }
    core.system.events.emit(|| LifecycleEvent::LongHandler {
        actor: core.id,
        name,
        message_type,
        elapsed,
        executor,
    });
}

/// What the `started` hook is reported as.
pub(crate) const STARTED: &str = "started";

thread_local! {
    /// When the handler this dedicated thread runs started (or last came
    /// back from a wait), in nanoseconds on the coarse clock, while the
    /// system times handlers; 0 while it does not.
    static STARTED_AT: Cell<u64> = const { Cell::new(0) };
}

/// A monotonic time that costs a few nanoseconds to read, to a few
/// milliseconds' precision: a dedicated thread reads it once per message,
/// and `Instant::now` there cost a fan-in to one actor a third of its speed.
/// Thresholds are tens of milliseconds, so the precision is enough.
pub(crate) fn coarse_now() -> Duration {
    Duration::from_nanos(coarse_nanos())
}

/// [`coarse_now`] in nanoseconds: what a dedicated thread reads after each
/// handler, with nothing around the clock's own read (it was two thirds of
/// the clock's cost per message, a sixth of a fan-in consumer's time).
#[cfg(target_os = "linux")]
#[inline]
pub(crate) fn coarse_nanos() -> u64 {
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
pub(crate) fn coarse_nanos() -> u64 {
    precise_nanos()
}

/// Time since a fixed point in this process, in nanoseconds (at least 1:
/// 0 means "not timing" in [`STARTED_AT`]).
#[cold]
fn precise_nanos() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let elapsed = EPOCH.get_or_init(Instant::now).elapsed();
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).max(1)
}

/// Times the handlers of a dedicated thread, one after another: the end
/// of one is the start of the next (what lies between is the mailbox's
/// pop, or a wait that restarts the clock), so each costs one clock read.
pub(crate) struct ThreadClock {
    threshold: u64,
}

impl ThreadClock {
    /// Starts the clock if the system times handlers.
    pub fn start(threshold: Option<Duration>) -> Option<Self> {
        let threshold = threshold?;
        STARTED_AT.with(|at| at.set(coarse_nanos().max(1)));
        Some(ThreadClock {
            threshold: u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX),
        })
    }

    /// A handler for the type `namer` names just returned: reports it if
    /// it ran long, and starts the clock for the next one. (`now` is the
    /// coarse clock's reading in nanoseconds, taken by the caller; the
    /// type is named only for a report.)
    #[inline]
    pub fn lap(&self, core: &Core, namer: fn() -> &'static str, now: u64) {
        let started = STARTED_AT.with(|at| at.replace(now.max(1)));
        let elapsed = now.saturating_sub(started);
        if started != 0 && elapsed >= self.threshold {
            Self::ran_long(core, namer, elapsed);
        }
    }

    #[cold]
    #[inline(never)]
    fn ran_long(core: &Core, namer: fn() -> &'static str, elapsed: u64) {
        report(
            core,
            Executor::Threads,
            namer(),
            Duration::from_nanos(elapsed),
        );
    }
}

impl Drop for ThreadClock {
    fn drop(&mut self) {
        STARTED_AT.with(|at| at.set(0));
    }
}

/// After a wait the runtime knows of: a running clock restarts.
pub(crate) fn restart_thread_clock() {
    STARTED_AT.with(|at| {
        if at.get() != 0 {
            at.set(coarse_nanos().max(1));
        }
    });
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
