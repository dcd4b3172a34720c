//! [`System`]: where actors live — spawning, names, dead letters, shutdown.

use std::cmp::Reverse;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::actor::Actor;
use crate::address::{current_actor_in, ActorId, ActorInfo, ActorRef, Core, Driver, IdHasher};
use crate::bridge::Bridge;
use crate::cell::ActorCell;
use crate::context::Context;
use crate::error::{RegistryError, ShutdownError, SpawnError};
use crate::events::{EventBus, Events, LifecycleEvent};
use crate::executor::pool::{Pool, PoolEntry, DEFAULT_QUOTA};
use crate::executor::thread::ThreadExecutor;
use crate::executor::Executor;
use crate::exit::ExitReason;
use crate::groups::Groups;
use crate::handlers::handlers_for;
use crate::inbox::Inbox;
use crate::links::{self, MonitorRef, Relations};
use crate::mailbox::{Envelope, ExitSignal};
use crate::registry::Registry;
use crate::timer::{Action, TimerRef, Timers};

/// How long dropping the last owning [`System`] handle waits for actors.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a handler runs before it is reported as a long handler, unless
/// the system is built with another threshold
/// ([`SystemBuilder::long_handler`]).
pub const DEFAULT_LONG_HANDLER: Duration = Duration::from_millis(100);

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
        if let Err(error) = shutdown(&self.0, DEFAULT_SHUTDOWN_TIMEOUT) {
            tracing::error!(%error, "system dropped: not every actor stopped");
        }
    }
}

/// An actor system: a set of actors, their names and their threads.
///
/// `System` is a cheap handle. Handles made by [`System::new`] (and their
/// clones) *own* the system: when the last of them drops, the system shuts
/// down ([`DEFAULT_SHUTDOWN_TIMEOUT`]). The handle an actor gets from
/// [`Context::system`] does not own it, so actors never keep their own
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
    /// ([`SpawnOptions::dedicated`]); default [`Executor::Pool`].
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
    /// higher is faster for an actor with a backlog.
    pub fn turn_quota(mut self, messages: usize) -> Self {
        self.turn_quota = Some(messages.max(1));
        self
    }

    /// Reports every handler (or `started` hook) that runs longer than
    /// `threshold` (default [`DEFAULT_LONG_HANDLER`], 100 ms; `None`: no
    /// reports), like Erlang's `system_monitor` with `long_schedule`: a
    /// [`LifecycleEvent::LongHandler`] naming the actor, its name and the
    /// message type, and a `tracing` event (`warn` on the pool, where such
    /// a handler holds a worker, so the actor may belong on a dedicated
    /// thread; `debug` on a dedicated thread). Time spent waiting in the
    /// runtime's own blocking calls (`Bridge::call`, `Inbox::recv`) does
    /// not count. On the pool, handlers are timed by a watchdog that looks
    /// every millisecond, so the hot path only bumps a counter.
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
    /// ([`Context::spawn_task`], feature `tokio`). Without it, the system
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

/// Options for [`System::spawn_with`].
///
/// ```
/// use ferrotp::SpawnOptions;
/// let options = SpawnOptions::new().name("cache").trap_exit(true).await_started();
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default)]
pub struct SpawnOptions {
    name: Option<String>,
    link: Option<ActorRef>,
    trap_exit: bool,
    await_started: bool,
    executor: Option<Executor>,
    labels: Vec<(String, String)>,
    mailbox: Option<usize>,
    pub(crate) monitored_by: Option<ActorRef>,
    tie_notices: bool,
}

impl SpawnOptions {
    /// No name, no link, not trapping, not waiting.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the actor under `name` before it runs any code; the spawn
    /// fails with [`SpawnError::Name`] if the name is taken.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Links the actor to `other` before it runs any code.
    ///
    /// If `other` is already dead, the link delivers the exit signal
    /// `NoProc` at once, before the actor's first line: an actor that does
    /// not trap exits terminates with `NoProc` without running `started`
    /// (or `stopped`; its state is dropped, and with `await_started` the
    /// spawn fails with `StartFailed(NoProc)`), as a BEAM process acts on a
    /// pending exit signal before running code. An actor that traps exits
    /// runs `started`, then receives `Stopped { other, NoProc }` as its
    /// first message. If `other` dies after the spawn linked them, the
    /// actor runs `started` and acts on the signal before any message.
    pub fn link(mut self, other: &ActorRef) -> Self {
        self.link = Some(other.clone());
        self
    }

    /// Whether the actor traps exits from its first line of code.
    pub fn trap_exit(mut self, trap: bool) -> Self {
        self.trap_exit = trap;
        self
    }

    /// Makes the spawn return only once the actor's `started` hook has
    /// returned, and fail with [`SpawnError::StartFailed`] if it failed.
    /// (Supervisors start their children this way, one after another.)
    pub fn await_started(mut self) -> Self {
        self.await_started = true;
        self
    }

    /// Runs the actor on a thread of its own, whatever the system's default
    /// executor: for an actor that blocks (I/O, long computations) and must
    /// not hold a pool worker. It links, monitors and is supervised exactly
    /// like a pooled actor.
    pub fn dedicated(self) -> Self {
        self.executor(Executor::Threads)
    }

    /// Runs the actor on `executor` instead of the system's default.
    pub fn executor(mut self, executor: Executor) -> Self {
        self.executor = Some(executor);
        self
    }

    /// Tells the actor, as [`TieNotice`](crate::TieNotice) messages, when
    /// another actor links to it, unlinks, monitors or demonitors it: for
    /// an actor that stands for something outside the system (a remote
    /// process, a connection) and must pass those ties on. Off by default.
    /// Like a `Down`, a notice is never refused by a full bounded mailbox.
    pub fn tie_notices(mut self) -> Self {
        self.tie_notices = true;
        self
    }

    /// Labels the actor with `key` = `value` from before it runs any code
    /// (a later `label` with the same key wins): a fact about it for tools,
    /// read back with [`ActorRef::label`] and [`ActorInfo::labels`], like
    /// the data OTP's `proc_lib` keeps in a process's dictionary. The
    /// kernel gives no key a meaning; behaviours pick their own (the
    /// supervisors crate records each child's id), so prefix keys with your
    /// crate's name.
    ///
    /// ```
    /// use ferrotp::{Actor, Handlers, SpawnOptions, System};
    /// # struct Idle;
    /// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let job = system.spawn_with(Idle, SpawnOptions::new().label("myapp.job", "nightly")).unwrap();
    /// assert_eq!(job.label("myapp.job").as_deref(), Some("nightly"));
    /// ```
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }

    /// Bounds the actor's mailbox to `capacity` messages (at least 1; the
    /// spawn fails with [`SpawnError::ZeroCapacity`] otherwise). Without
    /// it a mailbox is unbounded, as in Erlang: a producer that outruns its
    /// consumer grows it until memory runs out.
    ///
    /// A message counts from when it is admitted until the actor takes it
    /// to be handled. What a full mailbox does with a message depends on
    /// how it is sent:
    /// - [`ActorRef::try_send`](crate::ActorRef::try_send) and
    ///   [`Context::try_send`](crate::Context::try_send) give it back at
    ///   once as [`SendError::Full`](crate::SendError::Full); they never
    ///   block, so an actor's handler uses them;
    /// - [`ActorRef::send_timeout`](crate::ActorRef::send_timeout) waits for
    ///   room, for plain code that should slow to the consumer's pace;
    /// - [`send`](crate::ActorRef::send) (and whatever sends for you:
    ///   `reply`, timers, group broadcasts) never blocks either: the message
    ///   is dropped and counted as a dead letter
    ///   ([`System::dead_letters`]);
    /// - [`Bridge::call`](crate::Bridge::call) fails at once with
    ///   [`CallError::Full`](crate::CallError::Full).
    ///
    /// Exit signals, `kill`, `Down`, the `Stopped` answering a `Stop` and
    /// the outcomes of the actor's own tasks (feature `tokio`) are never
    /// refused: an actor learns of an end whatever its backlog.
    /// [`Stop`](crate::Stop) is an ordinary message, refused like any
    /// other: [`Bridge::stop`](crate::Bridge::stop) waits for room within
    /// its timeout, and an exit signal (`ActorRef::exit` with `Shutdown`,
    /// which is how supervisors stop children) or `kill` stops an actor
    /// whatever its backlog.
    ///
    /// ```
    /// use ferrotp::{Actor, Handlers, SpawnOptions, System};
    /// # struct Worker;
    /// # impl Actor for Worker { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let worker = system.spawn_with(Worker, SpawnOptions::new().mailbox(1_000)).unwrap();
    /// assert_eq!(worker.info().mailbox_capacity, Some(1_000));
    /// ```
    pub fn mailbox(mut self, capacity: usize) -> Self {
        self.mailbox = Some(capacity);
        self
    }
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
    /// actors get from [`Context::system`]: for tools that watch a system
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

    /// Spawns `actor` on the system's default executor (a worker of the
    /// shared pool unless the system was built with `Executor::Threads`;
    /// [`SpawnOptions::dedicated`] gives an actor a thread of its own) and
    /// returns its address.
    ///
    /// Never panics. If the actor cannot be spawned (the OS refuses a
    /// thread, or the system is shutting down) the error is logged and the
    /// returned address is of an actor that is already dead: messages to it
    /// are dead letters, and linking to or monitoring it reports `NoProc`.
    /// Use [`try_spawn`](Self::try_spawn) to get the error instead.
    pub fn spawn<A: Actor>(&self, actor: A) -> ActorRef {
        match self.try_spawn(actor) {
            Ok(actor) => actor,
            Err(error) => self.dead_actor(&error),
        }
    }

    /// Spawns `actor`, or says why it could not: the OS refused a thread
    /// ([`SpawnError::Thread`]), the process runs as many threads as it
    /// safely can ([`SpawnError::TooManyThreads`]), or the system is shutting
    /// down ([`SpawnError::ShuttingDown`]). The other errors need options:
    /// see [`spawn_with`](Self::spawn_with).
    pub fn try_spawn<A: Actor>(&self, actor: A) -> Result<ActorRef, SpawnError> {
        self.spawn_with(actor, SpawnOptions::new())
    }

    /// Spawns `actor` with options: a name, a link, exit trapping, and
    /// waiting for `started`. Besides [`try_spawn`](Self::try_spawn)'s
    /// errors, it fails with [`SpawnError::Name`] if the name is taken (then
    /// nothing was spawned: no lifecycle event, no exit log) and, with
    /// `await_started`, [`SpawnError::StartFailed`] if `started` failed.
    pub fn spawn_with<A: Actor>(
        &self,
        actor: A,
        options: SpawnOptions,
    ) -> Result<ActorRef, SpawnError> {
        self.spawn_inner(actor, options).map(|(actor, _)| actor)
    }

    pub(crate) fn dead_actor(&self, error: &SpawnError) -> ActorRef {
        tracing::error!(%error, "spawn failed; returning the address of a dead actor");
        let inbox = Inbox::in_system(&self.inner);
        inbox.actor().clone()
    }

    pub(crate) fn spawn_inner<A: Actor>(
        &self,
        actor: A,
        options: SpawnOptions,
    ) -> Result<(ActorRef, Option<MonitorRef>), SpawnError> {
        let inner = &self.inner;
        if options.mailbox == Some(0) {
            return Err(SpawnError::ZeroCapacity);
        }
        let gate = SpawnGate::enter(inner)?;
        let id = inner.next_id();
        let executor = options.executor.unwrap_or(inner.default_executor);
        let driver = match executor {
            Executor::Pool => Driver::Pool(PoolEntry::new()),
            Executor::Threads => Driver::Thread,
        };
        let parent = current_actor_in(inner);
        let core = Arc::new(Core::new(
            id,
            inner.clone(),
            driver,
            options.trap_exit,
            parent,
            options.mailbox,
        ));
        if options.tie_notices {
            core.tie_notices.store(true, Ordering::Relaxed);
        }
        let actor_ref = ActorRef::from_core(core);
        if !options.labels.is_empty() {
            let mut rel = actor_ref.core.relations();
            for (key, value) in &options.labels {
                rel.labels.set(key.clone(), value.clone());
            }
        }
        let kind = std::any::type_name::<A>();
        // Announced before anyone can reach it (a name, the actor table):
        // whatever ends it later, its `Exited` follows its `Spawned`.
        match &options.name {
            Some(name) => {
                let announce = |rel: &mut Relations| {
                    announce(rel, &actor_ref, Some(name), kind, executor);
                };
                let registered =
                    inner
                        .registry
                        .register_then(name, &actor_ref, &inner.events, announce);
                if let Err(error) = registered {
                    // It never existed for anyone: closed without an event or a log.
                    actor_ref.core.close(&ExitReason::NoProc);
                    return Err(error.into());
                }
            }
            None => announce(
                &mut actor_ref.core.relations(),
                &actor_ref,
                None,
                kind,
                executor,
            ),
        }
        // Linked to an actor already dead, a child that does not trap exits
        // is doomed by the `NoProc` signal: like a BEAM process that acts on
        // a pending exit signal before its code, it dies before its first line.
        let doomed = match &options.link {
            Some(other) if !options.trap_exit && !other.is_alive() => true,
            Some(other) => {
                links::link(&actor_ref, other);
                false
            }
            None => false,
        };
        let monitor = options
            .monitored_by
            .as_ref()
            .map(|watcher| links::monitor(watcher, &actor_ref));
        inner.actors.insert(id, actor_ref.clone());
        if doomed {
            return dead_on_arrival(actor_ref, actor, options.await_started).map(|a| (a, monitor));
        }

        let started = options.await_started.then(|| {
            let (tx, rx) = crossbeam_channel::bounded(1);
            actor_ref.core.relations().start_waiter = Some(tx);
            rx
        });
        let ctx = Context::new(actor_ref.clone(), System::non_owning(inner.clone()));
        let cell = ActorCell::new(actor, ctx, handlers_for::<A>());
        match executor {
            Executor::Threads => {
                if let Err(error) = inner.executor.launch(cell) {
                    let why = format!("could not spawn a thread: {error}");
                    unborn(&actor_ref, &options, monitor, why);
                    return Err(error);
                }
            }
            Executor::Pool => {
                let pool = match inner.pool_or_start() {
                    Ok(pool) => pool,
                    Err(error) => {
                        let why = format!("could not start the pool: {error}");
                        unborn(&actor_ref, &options, monitor, why);
                        return Err(error);
                    }
                };
                // `started` runs on a worker like any turn, even when the
                // spawner waits for it: a `kill` of a child stuck in
                // `started` must free its spawner at once (the kill answers
                // the waiter) and put another worker in place of the stuck
                // one, neither of which could happen if the spawner's own
                // thread ran the hook.
                pool.launch(actor_ref.core.clone(), cell);
            }
        }
        // In the table and launched: shutdown will find it. Waiting for
        // `started` is left out of the gate, which shutdown waits on.
        drop(gate);
        if let Some(started) = started {
            // A spawner on a pool worker tells the pool it waits: the child
            // may need a worker to start.
            match crate::executor::pool::blocking(|| started.recv()) {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => return Err(SpawnError::StartFailed(reason)),
                // Unreachable: the waiter is answered before it is dropped.
                Err(_) => return Err(SpawnError::StartFailed(ExitReason::NoProc)),
            }
        }
        Ok((actor_ref, monitor))
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

    /// Registers `actor` under `name`.
    ///
    /// Fails if another live actor holds the name ([`RegistryError::NameTaken`]),
    /// if `actor` already has a name ([`RegistryError::AlreadyNamed`]) or if it
    /// is dead ([`RegistryError::NotAlive`]). The name is freed when the actor
    /// terminates, before anyone is told of its end.
    ///
    /// ```
    /// # use ferrotp::{Actor, Handlers, System, RegistryError};
    /// # struct Idle;
    /// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let a = system.spawn(Idle);
    /// let b = system.spawn(Idle);
    /// system.register("db", &a).unwrap();
    /// assert!(matches!(system.register("db", &b), Err(RegistryError::NameTaken { .. })));
    /// assert_eq!(system.whereis("db"), Some(a));
    /// ```
    pub fn register(&self, name: &str, actor: &ActorRef) -> Result<(), RegistryError> {
        self.inner
            .registry
            .register(name, actor, &self.inner.events)
    }

    /// Frees `name`; returns the actor that held it, or `None` if no one did.
    pub fn unregister(&self, name: &str) -> Option<ActorRef> {
        self.inner.registry.unregister(name, &self.inner.events)
    }

    /// The live actor registered under `name`.
    pub fn whereis(&self, name: &str) -> Option<ActorRef> {
        self.inner.registry.whereis(name)
    }

    /// Every registered name, sorted.
    pub fn registered(&self) -> Vec<String> {
        self.inner.registry.registered()
    }

    /// Sends `msg` (no sender) to the actor registered under `name`.
    pub fn send_named<M: Send + 'static>(&self, name: &str, msg: M) -> Result<(), RegistryError> {
        let to = self
            .whereis(name)
            .ok_or_else(|| RegistryError::NotRegistered(name.to_string()))?;
        to.send(msg);
        Ok(())
    }

    /// A snapshot of the live actor `id`.
    pub fn actor_info(&self, id: ActorId) -> Option<ActorInfo> {
        self.inner.actors.get(&id).map(|a| a.value().info())
    }

    /// How many actors are alive (not counting inboxes), without listing them.
    pub fn actor_count(&self) -> usize {
        self.inner.actors.len()
    }

    /// The live actors, in spawn order.
    pub fn actors(&self) -> Vec<ActorRef> {
        // Sorted by the ids beside the addresses: comparing through each
        // address's core would chase a pointer per comparison.
        let mut actors: Vec<(ActorId, ActorRef)> = self
            .inner
            .actors
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .collect();
        actors.sort_unstable_by_key(|(id, _)| *id);
        actors.into_iter().map(|(_, actor)| actor).collect()
    }

    /// How many messages were sent to dead actors, had no handler, or were
    /// left in a terminated actor's mailbox.
    pub fn dead_letters(&self) -> u64 {
        self.inner.dead_letters.load(Ordering::Relaxed)
    }

    /// The executor actors run on unless spawned with another.
    pub fn executor(&self) -> Executor {
        self.inner.default_executor
    }

    /// Dedicated actor threads started and not yet joined.
    pub fn threads(&self) -> usize {
        self.inner.executor.threads()
    }

    /// How many threads ferrotp runs at most in this process, dedicated
    /// actors and pool workers of every system together. Past it, spawning
    /// a dedicated actor fails with [`SpawnError::TooManyThreads`]: the
    /// limit keeps a margin below the kernel's `vm.max_map_count`, where a
    /// new thread would abort the whole process instead of failing.
    pub fn thread_limit() -> usize {
        crate::executor::thread::thread_limit()
    }

    /// The pool's worker threads (0 until the first pooled actor is
    /// spawned): one per core, more while some block, and those left
    /// behind in killed actors' handlers ([`stuck_workers`](Self::stuck_workers)).
    pub fn pool_workers(&self) -> usize {
        self.inner.pool().map_or(0, |pool| pool.workers())
    }

    /// Pool workers left running the handler of an actor that was killed
    /// mid-turn. Each was replaced at the kill, so the pool keeps its size;
    /// a stuck worker leaves if its handler ever returns.
    pub fn stuck_workers(&self) -> usize {
        self.inner.pool().map_or(0, |pool| pool.stuck_workers())
    }

    /// Subscribes to this system's [`LifecycleEvent`]s, from now on.
    ///
    /// ```
    /// # use ferrotp::{Actor, Handlers, LifecycleEvent, Stop, System};
    /// # use std::time::Duration;
    /// # struct Idle;
    /// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let events = system.subscribe();
    /// let idle = system.spawn(Idle);
    /// idle.send(Stop);
    /// let exited = events
    ///     .wait_for(Duration::from_secs(5), |e| matches!(e, LifecycleEvent::Exited { .. }))
    ///     .unwrap();
    /// assert_eq!(exited.actor(), Some(idle.id()));
    /// ```
    pub fn subscribe(&self) -> Events {
        self.inner.events.subscribe()
    }

    /// Publishes a custom event to this system's subscribers (as
    /// [`LifecycleEvent::Custom`]). Behaviours built on the kernel — the
    /// supervisors, or your own — report what they do this way. Nothing is
    /// built or sent when no one subscribed.
    pub fn publish<E: Send + Sync + 'static>(&self, make: impl FnOnce() -> E) {
        self.inner
            .events
            .emit(|| LifecycleEvent::Custom(Arc::new(make())));
    }

    /// Whether [`shutdown`](Self::shutdown) has begun (spawns now fail).
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
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

    /// Stops every actor and joins their threads.
    ///
    /// New spawns fail from the moment this is called; a spawn already
    /// under way when it is called is waited for, so no actor outlives the
    /// system. Each actor gets an untrappable exit signal `Shutdown` (its
    /// `stopped` hook runs), in waves:
    ///
    /// 1. the *roots* — actors linked to no actor of this system spawned
    ///    before them — all at once, and shutdown waits for them all. A
    ///    child (from `spawn_link`, or a supervisor's) is linked to its older
    ///    parent, so it is left to that parent: a supervisor stops its
    ///    children in reverse start order before it ends, and a plain
    ///    parent's end takes its linked children with it;
    /// 2. then every actor still alive (say a child that traps exits),
    ///    all at once, and once more for what those leave.
    ///
    /// So each supervision tree stops in its own order, children before
    /// their parent; roots stop concurrently, and no order among them is
    /// promised (signals go out newest first, but a million actors are not
    /// stopped one at a time). If one service must outlive another, start
    /// both under one supervisor, or stop the dependent one yourself first.
    ///
    /// Actors still running at the deadline are killed (without `stopped`);
    /// their ids are in the error.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), ShutdownError> {
        shutdown(&self.inner, timeout)
    }
}

/// A spawn in flight: counted from its look at the shutting-down flag until
/// its actor is in the system's table and launched.
///
/// Both sides use sequentially consistent order (spawn: count, then look at
/// the flag; shutdown: set the flag, then look at the count), so either the
/// spawn sees the flag and fails, or shutdown sees the spawn and waits for
/// its actor to be in the table before it looks there. Without it a spawn
/// that looked just before the flag was set could add its actor after
/// shutdown's last look, and outlive the system (or start a new pool).
struct SpawnGate<'a>(&'a AtomicUsize);

impl<'a> SpawnGate<'a> {
    fn enter(inner: &'a SystemInner) -> Result<Self, SpawnError> {
        inner.spawning.fetch_add(1, Ordering::SeqCst);
        let gate = SpawnGate(&inner.spawning);
        if inner.shutting_down.load(Ordering::SeqCst) {
            return Err(SpawnError::ShuttingDown);
        }
        Ok(gate)
    }
}

impl Drop for SpawnGate<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits until no spawn is in flight (see [`SpawnGate`]), or `deadline`.
fn wait_for_spawns(inner: &SystemInner, deadline: Instant) {
    let backoff = crossbeam_utils::Backoff::new();
    while inner.spawning.load(Ordering::SeqCst) > 0 {
        if Instant::now() >= deadline {
            tracing::error!("shutdown: spawns still in flight at the deadline");
            return;
        }
        if backoff.is_completed() {
            std::thread::sleep(Duration::from_micros(50));
        } else {
            backoff.snooze();
        }
    }
}

/// Ends an actor that never ran because it got no thread to run on.
///
/// The link and monitor its spawn made are taken back first, silently:
/// the spawner gets the error and no child, so no exit signal or `Down`
/// may name that child. ([`Context::spawn_link`] and
/// [`Context::spawn_monitor`] then report the failure once, about the
/// address they return.)
fn unborn(actor: &ActorRef, options: &SpawnOptions, monitor: Option<MonitorRef>, why: String) {
    if let Some(other) = &options.link {
        links::unlink(actor, other);
    }
    if let (Some(watcher), Some(monitor)) = (&options.monitored_by, monitor) {
        links::demonitor(watcher, monitor);
    }
    actor.core.close(&ExitReason::Error(why));
}

/// Emits `Spawned` for a new actor, under its relations lock (`rel`) and
/// before anyone else can reach it: `close` emits `Exited` exactly for the
/// actors marked announced here.
fn announce(
    rel: &mut Relations,
    actor: &ActorRef,
    name: Option<&str>,
    kind: &'static str,
    executor: Executor,
) {
    rel.announced = true;
    tracing::debug!(actor = %actor.id(), name, kind, ?executor, "spawned");
    actor.core.system.events.emit(|| LifecycleEvent::Spawned {
        actor: actor.id(),
        name: name.map(str::to_string),
    });
}

/// Ends an actor that was spawned linked to a dead one and does not trap
/// exits: with `NoProc`, before it runs any code (neither `started` nor
/// `stopped` runs; its state is dropped).
fn dead_on_arrival<A: Actor>(
    actor_ref: ActorRef,
    actor: A,
    await_started: bool,
) -> Result<ActorRef, SpawnError> {
    let core = &actor_ref.core;
    core.close(&ExitReason::NoProc);
    if let Err(text) = crate::panic::guard(move || drop(actor)) {
        tracing::error!(actor = %core.id, panic = %text, "dropping the actor panicked");
    }
    let dropped = core.mailbox.close(core.id);
    if dropped > 0 {
        core.system.dead_letters_dropped(core.id, dropped);
    }
    if await_started {
        return Err(SpawnError::StartFailed(ExitReason::NoProc));
    }
    Ok(actor_ref)
}

fn shutdown(inner: &Arc<SystemInner>, timeout: Duration) -> Result<(), ShutdownError> {
    let deadline = Instant::now() + timeout;
    inner.shutting_down.store(true, Ordering::SeqCst);
    wait_for_spawns(inner, deadline);
    // An actor that shuts its own system down is signalled last, and its
    // own thread is not waited for.
    let me = current_actor_in(inner);
    let mut not_stopped = Vec::new();
    // First the roots, whose trees stop in their own order; then whatever
    // outlived its root (a trapping child of a plain actor, say); a third
    // look finds what those left.
    for pass in 0..3 {
        let mut actors: Vec<(ActorId, ActorRef)> = inner
            .actors
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .filter(|(id, _)| Some(*id) != me)
            .collect();
        if actors.is_empty() {
            break;
        }
        if pass == 0 {
            actors.retain(|(_, actor)| is_root(inner, actor));
        }
        actors.sort_unstable_by_key(|(id, _)| Reverse(*id));
        stop_all(actors, deadline, &mut not_stopped);
    }
    if let Some(me) = me.and_then(|id| inner.actors.get(&id).map(|a| a.value().clone())) {
        me.core.deliver_exit(ExitSignal {
            from: ActorId::EXTERNAL,
            reason: ExitReason::Shutdown,
            link: None,
            force: true,
        });
    }
    inner.timers.stop();
    // Threads of actors that stopped report within moments; only killed,
    // stuck ones can use up the grace.
    let join_deadline = deadline.max(Instant::now() + Duration::from_millis(500));
    not_stopped.extend(inner.executor.join_all(join_deadline, me));
    if let Some(pool) = inner.pool() {
        pool.stop(join_deadline);
    }
    if not_stopped.is_empty() {
        Ok(())
    } else {
        not_stopped.sort_unstable();
        not_stopped.dedup();
        Err(ShutdownError {
            actors: not_stopped,
            timeout,
        })
    }
}

/// Whether `actor` is a root: linked to no actor of this system spawned
/// before it. A child (`spawn_link`, a supervisor's child) is linked to its
/// older parent, which stops it in its own order, so shutdown leaves it to
/// that parent rather than stop parent and children all at once.
fn is_root(inner: &Arc<SystemInner>, actor: &ActorRef) -> bool {
    let relations = actor.core.relations();
    let Some(ties) = relations.ties_ref() else {
        return true;
    };
    !ties
        .links
        .iter()
        .any(|(id, link)| *id < actor.id() && Arc::ptr_eq(&link.peer.core.system, inner))
}

/// Waits until `actor` has ended (its `close` ran) or `deadline`; `false`
/// if it is still alive then.
///
/// It looks, then sleeps a little longer each time (up to a millisecond):
/// shutdown waits for a million actors this way without a monitor, a
/// `Down` or a wake-up each, and a thousand looks a second cost nothing
/// beside the stops themselves.
fn wait_gone(actor: &ActorRef, deadline: Instant) -> bool {
    const MAX_NAP: Duration = Duration::from_millis(1);
    let mut nap = Duration::from_micros(20);
    let backoff = crossbeam_utils::Backoff::new();
    loop {
        if !actor.is_alive() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        if !backoff.is_completed() {
            backoff.snooze();
            continue;
        }
        std::thread::sleep(nap.min(deadline - now));
        nap = (nap * 2).min(MAX_NAP);
    }
}

/// Sends `Shutdown` to all `actors` at once (in the order given), then
/// waits until `deadline` for them all to end; kills those that did not
/// and adds them to `not_stopped`.
fn stop_all(actors: Vec<(ActorId, ActorRef)>, deadline: Instant, not_stopped: &mut Vec<ActorId>) {
    for (_, actor) in &actors {
        actor.core.deliver_exit(ExitSignal {
            from: ActorId::EXTERNAL,
            reason: ExitReason::Shutdown,
            link: None,
            force: true,
        });
    }
    for (id, actor) in actors {
        if !wait_gone(&actor, deadline) {
            actor.kill();
            not_stopped.push(id);
        }
    }
}
