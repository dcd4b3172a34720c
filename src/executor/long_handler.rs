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
    /// back from a wait), on the coarse clock, while the system times
    /// handlers.
    static STARTED_AT: Cell<Option<Duration>> = const { Cell::new(None) };
}

/// A monotonic time that costs a few nanoseconds to read, to a few
/// milliseconds' precision: a dedicated thread reads it twice per message,
/// and `Instant::now` there cost a fan-in to one actor a third of its speed.
/// Thresholds are tens of milliseconds, so the precision is enough.
#[cfg(target_os = "linux")]
pub(crate) fn coarse_now() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable `timespec` for the whole call, and
    // CLOCK_MONOTONIC_COARSE is a clock every Linux since 2.6.32 has; on an
    // error the call writes nothing and we fall back to the precise clock.
    let failed = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) } != 0;
    match u64::try_from(now.tv_sec) {
        Ok(secs) if !failed => Duration::new(secs, u32::try_from(now.tv_nsec).unwrap_or(0)),
        _ => precise_now(),
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_now() -> Duration {
    precise_now()
}

/// Time since a fixed point in this process.
fn precise_now() -> Duration {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed()
}

/// Times the handlers of a dedicated thread, one after another: the end
/// of one is the start of the next (what lies between is the mailbox's
/// pop, or a wait that restarts the clock), so each costs one clock read.
pub(crate) struct ThreadClock {
    threshold: Duration,
}

impl ThreadClock {
    /// Starts the clock if the system times handlers.
    pub fn start(threshold: Option<Duration>) -> Option<Self> {
        let threshold = threshold?;
        STARTED_AT.with(|at| at.set(Some(coarse_now())));
        Some(ThreadClock { threshold })
    }

    /// A handler for `message_type` just returned: reports it if it ran
    /// long, and starts the clock for the next one.
    /// (`now` is the coarse clock's reading, taken by the caller.)
    pub fn lap(&self, core: &Core, message_type: &'static str, now: Duration) {
        let Some(started) = STARTED_AT.with(|at| at.replace(Some(now))) else {
            return;
        };
        let elapsed = now.saturating_sub(started);
        if elapsed >= self.threshold {
            report(core, Executor::Threads, message_type, elapsed);
        }
    }
}

impl Drop for ThreadClock {
    fn drop(&mut self) {
        STARTED_AT.with(|at| at.set(None));
    }
}

/// After a wait the runtime knows of: a running clock restarts.
pub(crate) fn restart_thread_clock() {
    STARTED_AT.with(|at| {
        if at.get().is_some() {
            at.set(Some(coarse_now()));
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
