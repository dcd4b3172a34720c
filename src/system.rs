//! [`System`]: where actors live — spawning, names, dead letters, shutdown.
//!
//! This module holds the handle and what a system shares with its actors;
//! each thing a system does has a module of its own:
//! - [`builder`]: [`SystemBuilder`], the settings of a new system;
//! - [`spawn`]: [`SpawnOptions`] and spawning an actor;
//! - [`names`]: the registry as seen from a system;
//! - [`introspection`]: what a system tells about its actors, threads and
//!   events;
//! - [`shutdown`]: stopping every actor, tree by tree.

mod builder;
mod introspection;
mod names;
mod shutdown;
mod spawn;

use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use dashmap::DashMap;

use crate::address::{ActorId, ActorRef, IdHasher};
use crate::bridge::Bridge;
use crate::error::SpawnError;
use crate::events::EventBus;
use crate::executor::pool::Pool;
use crate::executor::thread::ThreadExecutor;
use crate::executor::Executor;
use crate::groups::Groups;
use crate::inbox::Inbox;
use crate::mailbox::Envelope;
use crate::registry::Registry;
use crate::timer::{Action, TimerRef, Timers};

pub use builder::{SystemBuilder, DEFAULT_LONG_HANDLER};
pub use shutdown::DEFAULT_SHUTDOWN_TIMEOUT;
pub use spawn::SpawnOptions;

/// What a system shares with every actor in it.
pub(crate) struct SystemInner {
    next_id: AtomicU64,
    /// Live actors (not inboxes), for shutdown and lookups.
    actors: DashMap<ActorId, ActorRef, BuildHasherDefault<IdHasher>>,
    pub registry: Registry,
    pub groups: Groups,
    pub events: EventBus,
    pub timers: Arc<Timers>,
    default_executor: Executor,
    executor: ThreadExecutor,
    /// Started with the first pooled actor.
    pool: OnceLock<Arc<Pool>>,
    pool_starting: Mutex<()>,
    pool_config: PoolConfig,
    dead_letters: AtomicU64,
    shutting_down: AtomicBool,
    /// Spawns between their look at `shutting_down` and their actor's
    /// entry in `actors` (and its launch): shutdown waits for them.
    spawning: AtomicUsize,
    long_handler: Option<Duration>,
    /// The tokio runtime and the actors' tasks on it.
    #[cfg(feature = "tokio")]
    pub tasks: crate::tasks::Tasks,
}

impl SystemInner {
    /// Handlers that run longer are reported (`None`: not timed).
    pub fn long_handler(&self) -> Option<Duration> {
        self.long_handler
    }

    pub fn next_id(&self) -> ActorId {
        ActorId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    pub fn pool(&self) -> Option<&Arc<Pool>> {
        self.pool.get()
    }

    fn pool_or_start(&self) -> Result<&Arc<Pool>, SpawnError> {
        if let Some(pool) = self.pool.get() {
            return Ok(pool);
        }
        let _starting = self.pool_starting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = self.pool.get() {
            return Ok(pool);
        }
        let config = &self.pool_config;
        let pool = Pool::start(
            config.workers,
            config.quota,
            config.stack_size,
            self.long_handler,
        )?;
        Ok(self.pool.get_or_init(|| pool))
    }

    /// Runs `f` on every live actor (not inboxes), in no order, without
    /// copying the table: for scans of a million actors.
    pub fn for_each_actor(&self, mut f: impl FnMut(&ActorRef)) {
        for entry in self.actors.iter() {
            f(entry.value());
        }
    }

    pub fn forget(&self, id: ActorId) {
        self.actors.remove(&id);
    }

    /// Whether `id` is in the table of live actors (it leaves it as it
    /// ends, once its name is free, before anyone is told).
    pub fn knows(&self, id: ActorId) -> bool {
        self.actors.contains_key(&id)
    }

    pub fn dead_letter(&self, to: ActorId, type_name: &'static str, why: &'static str) {
        self.dead_letters.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(actor = %to, msg_type = type_name, why, "dead letter");
    }

    pub fn dead_letters_dropped(&self, to: ActorId, count: u64) {
        self.dead_letters.fetch_add(count, Ordering::Relaxed);
        tracing::debug!(actor = %to, count, "dead letters: messages left in a terminated actor's mailbox");
    }
}

/// Ends the system when the last owning handle drops.
struct Owner(Arc<SystemInner>);

impl Drop for Owner {
    fn drop(&mut self) {
        if let Err(error) = shutdown::shutdown(&self.0, DEFAULT_SHUTDOWN_TIMEOUT) {
            tracing::error!(%error, "system dropped: not every actor stopped");
        }
    }
}

/// An actor system: a set of actors, their names and their threads.
///
/// `System` is a cheap handle. Handles made by [`System::new`] (and their
/// clones) *own* the system: when the last of them drops, the system shuts
/// down ([`DEFAULT_SHUTDOWN_TIMEOUT`]). The handle an actor gets from
/// [`Context::system`](crate::Context::system) does not own it, so actors never keep their own
/// system alive. Several systems can live in one process; they share nothing.
///
/// ```
/// use ferrotp::{Actor, Context, Handlers, System};
/// use std::time::Duration;
///
/// struct Echo;
/// impl Echo {
///     fn echo(&mut self, text: String, ctx: &mut Context<Self>) {
///         ctx.reply(text);
///     }
/// }
/// impl Actor for Echo {
///     fn handlers() -> Handlers<Self> {
///         Handlers::new().on(Self::echo)
///     }
/// }
///
/// let system = System::new();
/// let echo = system.spawn(Echo);
/// let answer: String = system.bridge().call(&echo, "hi".to_string(), Duration::from_secs(5)).unwrap();
/// assert_eq!(answer, "hi");
/// system.shutdown(Duration::from_secs(5)).unwrap();
/// ```
#[derive(Clone)]
pub struct System {
    inner: Arc<SystemInner>,
    _owner: Option<Arc<Owner>>,
}

#[derive(Clone, Copy, Debug)]
struct PoolConfig {
    workers: usize,
    quota: usize,
    stack_size: Option<usize>,
}

impl Default for System {
    fn default() -> Self {
        Self::new()
    }
}

impl System {
    /// A new, empty system.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Settings for a new system.
    pub fn builder() -> SystemBuilder {
        SystemBuilder::default()
    }

    /// A handle that does not keep the system alive (given to actors).
    pub(crate) fn non_owning(inner: Arc<SystemInner>) -> Self {
        System {
            inner,
            _owner: None,
        }
    }

    /// A handle to this system that does not keep it alive, like the one
    /// actors get from [`Context::system`](crate::Context::system): for tools that watch a system
    /// (an observer, a metrics exporter) and must not delay its shutdown
    /// when the program drops its own handles.
    ///
    /// ```
    /// use ferrotp::System;
    /// let system = System::new();
    /// let watcher = system.non_owning_clone();
    /// drop(system); // the system shuts down now
    /// assert!(watcher.is_shutting_down());
    /// ```
    pub fn non_owning_clone(&self) -> System {
        System::non_owning(self.inner.clone())
    }

    pub(crate) fn inner(&self) -> &Arc<SystemInner> {
        &self.inner
    }

    /// A [`Bridge`], through which plain code calls and stops actors.
    pub fn bridge(&self) -> Bridge {
        Bridge::new(self)
    }

    /// An [`Inbox`]: a mailbox read by plain code, with an address actors
    /// can send to, link to and be monitored from.
    pub fn inbox(&self) -> Inbox {
        Inbox::in_system(&self.inner)
    }

    /// Sends `msg` (no sender) to `to` after `delay`.
    pub fn send_after<M: Send + 'static>(
        &self,
        delay: Duration,
        to: &ActorRef,
        msg: M,
    ) -> TimerRef {
        let send = Action::Send {
            to: to.clone(),
            envelope: Envelope::new(msg, None),
        };
        self.inner.timers.schedule(delay, send, None)
    }

    /// Cancels a timer; `true` if it had not fired yet (it never will).
    pub fn cancel_timer(&self, timer: TimerRef) -> bool {
        self.inner.timers.cancel(timer)
    }
}
