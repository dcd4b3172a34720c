//! Long handlers made visible, like Erlang's `system_monitor` with
//! `long_schedule`: a handler that runs past the system's threshold
//! ([`SystemBuilder::long_handler`](crate::SystemBuilder::long_handler))
//! becomes a tracing event and a [`LifecycleEvent::LongHandler`].
//!
//! No thread that runs handlers reads a clock for it: each only bumps a
//! counter per handler, and a watcher looks at the counters every tick and
//! flags a handler whose count has not moved for the threshold (the pool's
//! watchdog for pool workers, [`super::watchdog`]; the thread watch for
//! dedicated threads, [`super::thread_watch`]). The thread sees the flag
//! when the handler returns and reports it, here. A wait the runtime knows
//! of (`Bridge::call`, `Inbox::recv`, a supervisor stopping its children)
//! does not count: the handler's time starts afresh after it.

use std::time::Duration;

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
