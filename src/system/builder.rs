//! [`SystemBuilder`]: the settings of a new system, and the making of it.
//!
//! Kept apart from the [`System`] handle: a system is configured once, and
//! these settings (executor, pool size, quotas, thresholds) are read by
//! nothing else.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use dashmap::DashMap;

use super::{Owner, PoolConfig, System, SystemInner};
use crate::events::EventBus;
use crate::executor::pool::DEFAULT_QUOTA;
use crate::executor::thread::ThreadExecutor;
use crate::executor::Executor;
use crate::groups::Groups;
use crate::registry::Registry;
use crate::timer::Timers;

/// How long a handler runs before it is reported as a long handler, unless
/// the system is built with another threshold
/// ([`SystemBuilder::long_handler`]).
pub const DEFAULT_LONG_HANDLER: Duration = Duration::from_millis(100);

/// Settings for a new [`System`] ([`System::builder`]).
///
/// ```
/// use ferrotp::{Executor, System};
/// let system = System::builder()
///     .executor(Executor::Pool)
///     .workers(2)
///     .turn_quota(32)
///     .build();
/// # let _ = system;
/// ```
#[derive(Clone, Debug, Default)]
pub struct SystemBuilder {
    executor: Executor,
    stack_size: Option<usize>,
    workers: Option<usize>,
    turn_quota: Option<usize>,
    long_handler: Option<Option<Duration>>,
    #[cfg(feature = "tokio")]
    tokio: Option<tokio::runtime::Handle>,
}

impl SystemBuilder {
    /// The executor that runs actors unless a spawn asks otherwise
    /// ([`SpawnOptions::dedicated`](crate::SpawnOptions::dedicated)); default [`Executor::Pool`].
    pub fn executor(mut self, executor: Executor) -> Self {
        self.executor = executor;
        self
    }

    /// Worker threads of the pool (default: one per core). More are added
    /// while workers block (see the README's "Executors").
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers.max(1));
        self
    }

    /// The most messages a pooled actor handles in one turn before the
    /// worker moves on to other actors (default 64): lower is fairer,
    /// higher is faster for an actor with a backlog. A turn whose quota
    /// runs out while no other actor waits for its worker goes on for
    /// another quota.
    pub fn turn_quota(mut self, messages: usize) -> Self {
        self.turn_quota = Some(messages.max(1));
        self
    }

    /// Reports every handler (or `started` hook) that runs longer than
    /// `threshold` (default [`DEFAULT_LONG_HANDLER`], 100 ms; `None`: no
    /// reports), like Erlang's `system_monitor` with `long_schedule`: a
    /// [`LifecycleEvent::LongHandler`](crate::LifecycleEvent::LongHandler) naming the actor, its name and the
    /// message type, and a `tracing` event (`warn` on the pool, where such
    /// a handler holds a worker, so the actor may belong on a dedicated
    /// thread; `debug` on a dedicated thread). Time spent waiting in the
    /// runtime's own blocking calls (`Bridge::call`, `Inbox::recv`) does
    /// not count.
    ///
    /// No thread reads a clock per handler: a thread that runs handlers
    /// only bumps a counter of its own as each starts, and a watcher looks
    /// at the counters (on the pool, its watchdog, every millisecond while
    /// turns run; for dedicated threads, one thread watch per process,
    /// every eighth of the threshold, between 1 and 20 ms, while some
    /// dedicated thread is in a handler, parked otherwise). A handler whose
    /// counter has not moved for `threshold` since a look first saw it is
    /// flagged, and its thread reports it when it returns, with the time
    /// since that look (at least `threshold`). So a handler is reported
    /// only once it returns, and one that runs less than about a look's
    /// interval past the threshold, or during which the watcher's thread
    /// waits that long for a core, can go unreported.
    ///
    /// ```
    /// use ferrotp::System;
    /// use std::time::Duration;
    /// let strict = System::builder().long_handler(Duration::from_millis(20)).build();
    /// let quiet = System::builder().long_handler(None).build();
    /// # let _ = (strict, quiet);
    /// ```
    pub fn long_handler(mut self, threshold: impl Into<Option<Duration>>) -> Self {
        self.long_handler = Some(threshold.into());
        self
    }

    /// Stack size of each thread (dedicated actors and pool workers), in
    /// bytes (default: Rust's default).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// The tokio runtime that runs the actors' tasks
    /// ([`Context::spawn_task`](crate::Context::spawn_task), feature `tokio`). Without it, the system
    /// starts a runtime of its own when the first task is spawned, and
    /// shuts it down when the system is dropped.
    ///
    /// ```
    /// let runtime = tokio::runtime::Runtime::new().unwrap();
    /// let system = ferrotp::System::builder().tokio(runtime.handle().clone()).build();
    /// # let _ = system;
    /// ```
    #[cfg(feature = "tokio")]
    pub fn tokio(mut self, handle: tokio::runtime::Handle) -> Self {
        self.tokio = Some(handle);
        self
    }

    /// Makes the system.
    pub fn build(self) -> System {
        let inner = Arc::new(SystemInner {
            next_id: AtomicU64::new(1),
            actors: DashMap::default(),
            registry: Registry::default(),
            groups: Groups::default(),
            events: EventBus::default(),
            timers: Arc::new(Timers::default()),
            default_executor: self.executor,
            executor: ThreadExecutor::new(self.stack_size),
            pool: OnceLock::new(),
            pool_starting: Mutex::new(()),
            pool_config: PoolConfig {
                workers: self
                    .workers
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
                quota: self.turn_quota.unwrap_or(DEFAULT_QUOTA),
                stack_size: self.stack_size,
            },
            dead_letters: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            spawning: AtomicUsize::new(0),
            long_handler: self.long_handler.unwrap_or(Some(DEFAULT_LONG_HANDLER)),
            #[cfg(feature = "tokio")]
            tasks: crate::tasks::Tasks::new(self.tokio),
        });
        System {
            _owner: Some(Arc::new(Owner(inner.clone()))),
            inner,
        }
    }
}
