//! Long handlers made visible, like Erlang's `system_monitor` with
//! `long_schedule`: a handler that runs past the system's threshold
//! ([`SystemBuilder::long_handler`](crate::SystemBuilder::long_handler))
//! becomes a tracing event and a [`LifecycleEvent::LongHandler`].
//!
//! On the pool, the watchdog times handlers (a worker only bumps a counter
//! per handler); on a dedicated thread, the thread reads the clock around
//! each handler, which costs little beside a thread's wake-up. Either way,
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
    let name = core.relations().name.clone();
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
    /// back from a wait), while the system times handlers.
    static STARTED_AT: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Times one handler on a dedicated thread.
pub(crate) struct ThreadClock {
    threshold: Duration,
    message_type: &'static str,
}

impl ThreadClock {
    /// Starts the clock if the system times handlers.
    pub fn start(threshold: Option<Duration>, message_type: &'static str) -> Option<Self> {
        let threshold = threshold?;
        STARTED_AT.with(|at| at.set(Some(Instant::now())));
        Some(ThreadClock {
            threshold,
            message_type,
        })
    }

    /// Stops the clock, if one was started; reports the handler if it ran long.
    pub fn stop(clock: Option<Self>, core: &Core) {
        let Some(clock) = clock else {
            return;
        };
        let Some(started) = STARTED_AT.with(|at| at.take()) else {
            return;
        };
        let elapsed = started.elapsed();
        if elapsed >= clock.threshold {
            report(core, Executor::Threads, clock.message_type, elapsed);
        }
    }
}

/// After a wait the runtime knows of: a running clock restarts.
pub(crate) fn restart_thread_clock() {
    STARTED_AT.with(|at| {
        if at.get().is_some() {
            at.set(Some(Instant::now()));
        }
    });
}
