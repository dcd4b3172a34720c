//! Addresses: [`ActorId`], [`ActorRef`], and the shared core behind them.

use std::cell::RefCell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::SendError;
use crate::events::LifecycleEvent;
use crate::executor::pool::PoolEntry;
use crate::executor::Executor;
use crate::exit::{Down, ExitReason, Stopped};
use crate::introspect::{queued_at, Activity, Stats};
use crate::links::{MonitorRef, Relations};
use crate::mailbox::{Envelope, ExitSignal, Mail, Mailbox, Pushed, Refused};
use crate::system::SystemInner;

/// An actor's identity: unique within its [`System`](crate::System), never reused.
///
/// ```
/// use ferrotp::ActorId;
/// assert_eq!(ActorId::EXTERNAL.to_string(), "#0");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorId(pub(crate) u64);

impl ActorId {
    /// The sender of an exit signal that came from plain code
    /// ([`ActorRef::exit`]) or from the system itself.
    pub const EXTERNAL: ActorId = ActorId(0);

    /// The number behind the id.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Hashes an [`ActorId`] for the system's tables: one multiplication
/// (Fibonacci hashing) instead of SipHash, which showed in profiles of a
/// million spawns. Ids are not chosen by an adversary.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `ActorId`, which writes one `u64`; kept correct anyway.
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) const RUNNING: u8 = 0;
/// The actor's own driver is terminating it (its `stopped` hook runs).
pub(crate) const EXITING: u8 = 1;
pub(crate) const DEAD: u8 = 2;

/// Who runs an actor, and so how it learns of new mail.
pub(crate) enum Driver {
    /// A thread blocked in `Mailbox::recv`: a dedicated actor, or an inbox.
    Thread,
    /// A pool worker, once the actor is scheduled.
    Pool(PoolEntry),
    /// A task awaiting an async reply address (feature `tokio`), woken
    /// through its waker.
    #[cfg(feature = "tokio")]
    Waker(crate::async_bridge::WakeSlot),
}

/// What every address of one actor shares.
pub(crate) struct Core {
    pub id: ActorId,
    pub system: Arc<SystemInner>,
    pub mailbox: Mailbox,
    pub driver: Driver,
    pub status: AtomicU8,
    pub trapping: AtomicBool,
    /// Set by the `kill` that terminated the actor, and only by it (under
    /// the relations lock, as it closes them): the actor's thread may still
    /// run, and what that thread sends from then on is void. A `kill` that
    /// finds the actor already closed changes nothing.
    pub killed: AtomicBool,
    /// Set once a timer is bound to this actor, so that its end drops them.
    pub timers_bound: AtomicBool,
    /// Set (under the relations lock) once a tokio task is registered for
    /// this actor, so that its end aborts them.
    #[cfg(feature = "tokio")]
    pub tasks_bound: AtomicBool,
    /// The actor asked to be told of links and monitors others place on
    /// it ([`TieNotice`](crate::TieNotice)); set before anyone can reach it.
    pub tie_notices: AtomicBool,
    /// The actor whose code spawned this one, if any (OTP's `$parent`).
    pub parent: Option<ActorId>,
    /// Messages handled, and what it does now (see `introspect`).
    pub stats: Stats,
    /// Counts down the messages before an injected panic (0: none pending).
    #[cfg(feature = "testkit")]
    pub fault_countdown: std::sync::atomic::AtomicU64,
    relations: Mutex<Relations>,
}

thread_local! {
    /// The actor whose code this thread runs now, if any.
    static CURRENT: RefCell<Option<Arc<Core>>> = const { RefCell::new(None) };
}

/// Marks this thread as running `core`'s code until the guard drops.
pub(crate) struct CurrentGuard(Option<Arc<Core>>);

impl CurrentGuard {
    pub fn enter(core: &Arc<Core>) -> Self {
        CurrentGuard(CURRENT.with(|c| c.replace(Some(core.clone()))))
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The id of the actor this thread runs, if it is one of `system`'s: ids
/// are numbered per system, so an id alone does not tell one actor.
pub(crate) fn current_actor_in(system: &Arc<SystemInner>) -> Option<ActorId> {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|core| Arc::ptr_eq(&core.system, system))
            .map(|core| core.id)
    })
}

/// True when this thread runs the handler of an actor that was killed:
/// whatever it sends now is discarded.
pub(crate) fn sender_was_killed() -> bool {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|core| core.killed.load(Ordering::Acquire))
    })
}

impl Core {
    /// A core whose mailbox holds at most `capacity` user messages
    /// (unbounded if `None`).
    pub fn new(
        id: ActorId,
        system: Arc<SystemInner>,
        driver: Driver,
        trapping: bool,
        parent: Option<ActorId>,
        capacity: Option<usize>,
    ) -> Self {
        Core {
            id,
            system,
            mailbox: capacity.map_or_else(Mailbox::default, Mailbox::bounded),
            driver,
            status: AtomicU8::new(RUNNING),
            trapping: AtomicBool::new(trapping),
            killed: AtomicBool::new(false),
            timers_bound: AtomicBool::new(false),
            #[cfg(feature = "tokio")]
            tasks_bound: AtomicBool::new(false),
            tie_notices: AtomicBool::new(false),
            parent,
            stats: Stats::new(),
            #[cfg(feature = "testkit")]
            fault_countdown: std::sync::atomic::AtomicU64::new(0),
            relations: Mutex::new(Relations::default()),
        }
    }

    pub fn relations(&self) -> MutexGuard<'_, Relations> {
        // Relations are only changed by short, non-panicking sections; a
        // poisoned lock still holds consistent data.
        self.relations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an injected panic is due at this message (see `testkit`).
    #[cfg(feature = "testkit")]
    pub fn fault_due(&self) -> bool {
        // Read first: almost no actor has a fault pending, and a write per
        // message would cost every message a contended cache line.
        if self.fault_countdown.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let step = |n: u64| n.checked_sub(1);
        match self
            .fault_countdown
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, step)
        {
            Ok(before) => before == 1,
            Err(_) => false,
        }
    }

    pub fn is_dead(&self) -> bool {
        self.status.load(Ordering::Acquire) == DEAD
    }

    /// Delivers a message sent by whatever runs on this thread: void if
    /// that is a killed actor's stuck handler. A message a full mailbox
    /// refuses is a dead letter.
    pub fn deliver(self: &Arc<Self>, envelope: Envelope) {
        if let Err(envelope) = self.offer(envelope, None) {
            self.refuse(envelope, "mailbox full");
        }
    }

    /// Delivers a message sent by whatever runs on this thread if the
    /// mailbox has room, waiting for room until `deadline` if one is given;
    /// gives the message back if there was none. Otherwise as
    /// [`deliver`](Self::deliver): a message that is void (a killed sender,
    /// a dead receiver) is a dead letter, not an error.
    #[inline]
    pub fn offer(
        self: &Arc<Self>,
        envelope: Envelope,
        deadline: Option<Instant>,
    ) -> Result<(), Envelope> {
        if sender_was_killed() {
            self.refuse(envelope, "sender was killed");
            return Ok(());
        }
        if self.is_dead() {
            self.refuse(envelope, "actor is dead");
            return Ok(());
        }
        match self.mailbox.offer(envelope, deadline, || self.is_dead()) {
            Ok(Pushed::Behind) => {}
            Ok(Pushed::First) => self.schedule(),
            Err(Refused::Closed(envelope)) => self.refuse(envelope, "actor is dead"),
            Err(Refused::Full(envelope)) => return Err(envelope),
        }
        Ok(())
    }

    /// Queues a message whichever thread sends it: for the notices `close`
    /// sends on behalf of a terminated actor, which no kill may void (the
    /// kill that won sends them itself; one that lost changes nothing).
    pub(crate) fn enqueue(self: &Arc<Self>, envelope: Envelope) {
        if self.is_dead() {
            self.refuse(envelope, "actor is dead");
            return;
        }
        match self.mailbox.push(Mail::Message(envelope)) {
            // Mail already waited: whoever queued the first of it is
            // scheduling the actor, or its running turn will take this too.
            Ok(Pushed::Behind) => {}
            Ok(Pushed::First) => self.schedule(),
            Err(Mail::Message(envelope)) => self.refuse(envelope, "actor is dead"),
            Err(_) => {}
        }
    }

    /// Counts `envelope` as a dead letter and drops it. It runs on the
    /// sender's thread, which must not pay for the payload's `Drop`
    /// panicking: the message never reached anyone.
    pub(crate) fn refuse(&self, envelope: Envelope, why: &'static str) {
        self.system.dead_letter(self.id, envelope.type_name, why);
        crate::panic::discard(envelope, self.id);
    }

    /// Sends an exit signal. It waits in the signal queue, in its place
    /// after the messages already queued; whether the actor traps it is
    /// decided when the actor takes it (see `mailbox`).
    pub fn deliver_exit(self: &Arc<Self>, signal: ExitSignal) {
        if !self.is_dead() && self.mailbox.push_signal(signal) {
            self.schedule();
        }
    }

    pub fn deliver_down(self: &Arc<Self>, down: Down) {
        if !self.is_dead() && self.mailbox.push(Mail::Down(down)).is_ok() {
            self.schedule();
        }
    }

    /// Makes the driver look at the actor's status.
    pub fn wake(self: &Arc<Self>) {
        if self.mailbox.push(Mail::Wake).is_ok() {
            self.schedule();
        }
    }

    /// Tells the driver that mail arrived: a pooled actor is queued for a
    /// turn unless it already is (a blocked thread was woken by the push).
    fn schedule(self: &Arc<Self>) {
        match &self.driver {
            Driver::Pool(entry) => {
                if entry.claim() {
                    // Claimed and not yet queued: no worker can hold it, so
                    // this thread is the one writer of its activity.
                    self.stats.queued(queued_at());
                    if let Some(pool) = self.system.pool() {
                        pool.schedule(self.clone());
                    }
                }
            }
            Driver::Thread => {}
            #[cfg(feature = "tokio")]
            Driver::Waker(slot) => slot.wake(),
        }
    }

    /// Marks the actor dead and tells the world, exactly once: frees its
    /// name, forgets it in the system's table, answers the sender of the
    /// `Stop` it is handling (if any) with `Stopped`, drops the monitors it
    /// holds, then sends exit signals along its links and `Down` to its
    /// watchers. Returns `false` if the actor was already dead.
    pub fn close(&self, reason: &ExitReason) -> bool {
        self.close_as(reason, false)
    }

    /// `close` for `kill`: whether this kill is the one that terminated the
    /// actor is decided under the relations lock, where `closed` is set, so
    /// `killed` is set if and only if it did.
    pub fn close_killed(&self) -> bool {
        self.close_as(&ExitReason::Killed, true)
    }

    fn close_as(&self, reason: &ExitReason, by_kill: bool) -> bool {
        let (held_name, start_waiter, ties, announced) = {
            let mut rel = self.relations();
            if rel.closed {
                return false;
            }
            if by_kill {
                // Before `DEAD`: whoever sees the actor dead sees its
                // thread's later sends void.
                self.killed.store(true, Ordering::Release);
            }
            self.status.store(DEAD, Ordering::Release);
            rel.end = Some(Box::new(reason.clone()));
            let announced = rel.announced;
            let (name, waiter, ties) = rel.take_all();
            (name, waiter, ties, announced)
        };
        // Senders waiting for room go now: the mailbox of an actor killed
        // in a stuck handler closes only if that handler returns.
        self.mailbox.wake_senders();
        // Its pending timers go now, not at their deadlines.
        self.system.timers.actor_ended(self);
        // Its tasks are aborted before anyone hears of its end. (A task
        // registered before `closed` was set shows here; none after.)
        #[cfg(feature = "tokio")]
        if self.tasks_bound.load(Ordering::Acquire) {
            self.system.tasks.actor_ended(self.id);
        }
        let name = held_name.as_deref();
        if let Some(name) = name {
            self.system
                .registry
                .release(name, self.id, &self.system.events);
        }
        // It leaves its groups as its name goes: before anyone is told.
        self.system.groups.actor_ended(self.id);
        self.system.forget(self.id);
        // A spawner waiting for `started` learns of the failure like anyone
        // told of an end: once the name is free and the actor is forgotten.
        if let Some(waiter) = start_waiter {
            let _ = waiter.send(Err(reason.clone()));
        }
        // Only what was announced as spawned is announced as exited: an
        // inbox (a `Bridge::call`, a probe) or a refused spawn is no actor.
        if announced {
            log_exit(self.id, name, reason);
            self.system.events.emit(|| LifecycleEvent::Exited {
                actor: self.id,
                name: held_name.clone(),
                reason: reason.clone(),
            });
        }

        if let Some(stopper) = ties.stopper {
            let stopped = Stopped {
                actor: self.id,
                reason: reason.clone(),
            };
            stopper.core.enqueue(Envelope::new(stopped, None));
        }
        for (monitor, target) in ties.watching {
            target.core.relations().ties().watchers.remove(&monitor);
        }
        for (_, link) in ties.links {
            tracing::debug!(actor = %self.id, name, to = %link.peer.id(), %reason, "link fired");
            link.peer.core.deliver_exit(ExitSignal {
                from: self.id,
                reason: reason.clone(),
                link: Some(link.id),
                force: false,
            });
        }
        for (monitor, watcher) in ties.watchers {
            tracing::debug!(actor = %self.id, name, watcher = %watcher.id(), "monitor fired");
            watcher.core.deliver_down(Down {
                monitor,
                actor: self.id,
                reason: reason.clone(),
            });
        }
        true
    }
}

fn log_exit(id: ActorId, name: Option<&str>, reason: &ExitReason) {
    if reason.is_normal() {
        tracing::debug!(actor = %id, name, %reason, "actor exited");
    } else {
        tracing::warn!(actor = %id, name, %reason, "actor exited");
    }
}

/// The address of an actor: cheap to clone, `Send + Sync`, untyped.
///
/// Any message type can be sent; the receiving actor picks its handler by
/// the message's type. Sending to a dead actor is not an error: the message
/// goes to the system's dead letters ([`System::dead_letters`](crate::System::dead_letters)).
#[derive(Clone)]
pub struct ActorRef {
    pub(crate) core: Arc<Core>,
}

impl ActorRef {
    pub(crate) fn from_core(core: Arc<Core>) -> Self {
        ActorRef { core }
    }

    /// This actor's id.
    pub fn id(&self) -> ActorId {
        self.core.id
    }

    /// Sends `msg` with no sender.
    pub fn send<M: Send + 'static>(&self, msg: M) {
        self.core.deliver(Envelope::new(msg, None));
    }

    /// Sends `msg` on behalf of `sender` (whom a `reply` will reach).
    pub fn send_from<M: Send + 'static>(&self, msg: M, sender: &ActorRef) {
        self.core.deliver(Envelope::new(msg, Some(sender.clone())));
    }

    /// Sends `msg` with no sender if the actor's mailbox has room, else
    /// gives it back as [`SendError::Full`]. Never blocks: this is how an
    /// actor's handler meets a full mailbox (see
    /// [`SpawnOptions::mailbox`](crate::SpawnOptions::mailbox)). An
    /// unbounded mailbox always has room. As with [`send`](Self::send), a
    /// message to a dead actor is a dead letter, not an error.
    ///
    /// ```
    /// use ferrotp::{Actor, Context, ExitReason, Handlers, SendError, SpawnOptions, System};
    /// use std::sync::mpsc;
    ///
    /// /// Takes no message until its gate opens.
    /// struct Slow(mpsc::Receiver<()>);
    /// impl Actor for Slow {
    ///     fn handlers() -> Handlers<Self> { Handlers::new() }
    ///     fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         let _ = self.0.recv();
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let system = System::new();
    /// let (open, gate) = mpsc::channel();
    /// let slow = system.spawn_with(Slow(gate), SpawnOptions::new().mailbox(1)).unwrap();
    /// assert!(slow.try_send(1u32).is_ok());
    /// assert_eq!(slow.try_send(2u32), Err(SendError::Full(2)));
    /// open.send(()).unwrap();
    /// ```
    pub fn try_send<M: Send + 'static>(&self, msg: M) -> Result<(), SendError<M>> {
        give_back(self.core.offer(Envelope::new(msg, None), None))
    }

    /// [`try_send`](Self::try_send) on behalf of `sender`.
    pub fn try_send_from<M: Send + 'static>(
        &self,
        msg: M,
        sender: &ActorRef,
    ) -> Result<(), SendError<M>> {
        give_back(
            self.core
                .offer(Envelope::new(msg, Some(sender.clone())), None),
        )
    }

    /// Sends `msg` with no sender, waiting up to `timeout` for room in a
    /// full mailbox; gives it back as [`SendError::Full`] if none came.
    ///
    /// For plain code that should slow down to its consumer's pace. It
    /// blocks the calling thread; in an actor's handler prefer
    /// [`try_send`](Self::try_send) (on a pool worker the wait is a
    /// blocking section like a `Bridge::call`: the pool adds a worker
    /// meanwhile, but the actor handles nothing else until it returns).
    pub fn send_timeout<M: Send + 'static>(
        &self,
        msg: M,
        timeout: Duration,
    ) -> Result<(), SendError<M>> {
        let deadline = Instant::now() + timeout;
        give_back(self.core.offer(Envelope::new(msg, None), Some(deadline)))
    }

    /// Whether the actor is still alive (it may die right after this returns).
    pub fn is_alive(&self) -> bool {
        !self.core.is_dead()
    }

    /// The reason the actor terminated with, or `None` while it is alive.
    ///
    /// Set before anyone is told of the end, so whoever gets a `Down`, a
    /// `Stopped` or a call error about the actor finds it here too — even
    /// where the notice itself can only say `NoProc` (a monitor or call made
    /// after the end). The address of an inbox reports `Normal` once the
    /// inbox is dropped.
    ///
    /// ```
    /// # use ferrotp::{Actor, ExitReason, Handlers, System};
    /// # use std::time::Duration;
    /// # struct Idle;
    /// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let idle = system.spawn(Idle);
    /// assert_eq!(idle.exit_reason(), None);
    /// idle.exit(ExitReason::error("disk full"));
    /// // Whenever the monitor is made, its `Down` comes after the end.
    /// let inbox = system.inbox();
    /// inbox.monitor(&idle);
    /// inbox.recv(Duration::from_secs(5)).unwrap();
    /// assert_eq!(idle.exit_reason(), Some(ExitReason::error("disk full")));
    /// ```
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.core.relations().end.as_deref().cloned()
    }

    /// Terminates the actor with [`ExitReason::Killed`], untrappably.
    ///
    /// Takes effect at once, even if the actor's current handler never
    /// returns: the actor is marked dead, its name freed, its links and
    /// monitors fire with `Killed`, and whatever its thread sends afterwards
    /// is discarded (its messages, exit signals and kills). Its `stopped` hook
    /// does not run. A kill of an actor that has already terminated (or is
    /// sending the notices of its end) changes nothing; a kill while the
    /// `stopped` hook of a [`Stop`](crate::Stop) runs answers the `Stop`'s
    /// sender with `Stopped { reason: Killed }` at once.
    pub fn kill(&self) {
        // A killed actor's stuck thread can no longer act on the world.
        if sender_was_killed() {
            tracing::debug!(actor = %self.id(), "kill from a killed actor discarded");
            return;
        }
        // Only a kill that terminates the actor marks it killed: one that
        // comes too late must not void what the dying actor still sends.
        if self.core.close_killed() {
            tracing::warn!(actor = %self.id(), "killed");
            self.core.wake();
            if let (Driver::Pool(_), Some(pool)) = (&self.core.driver, self.core.system.pool()) {
                pool.actor_killed(self.id());
            }
        }
    }

    /// Sends an exit signal from outside, like Erlang's `exit/2`.
    ///
    /// A target that does not trap exits terminates with `reason`, unless it
    /// is `Normal` (then nothing happens: only an actor's own
    /// [`Context::exit`](crate::Context::exit) to itself with `Normal` ends
    /// it, as Erlang's `exit(self(), normal)`); a trapping target receives
    /// `Stopped { actor: ActorId::EXTERNAL, reason }`. `Killed` is the same
    /// as [`kill`](Self::kill). Inside an actor, prefer
    /// [`Context::exit`](crate::Context::exit), which names the sender.
    pub fn exit(&self, reason: ExitReason) {
        self.exit_from(ActorId::EXTERNAL, reason);
    }

    pub(crate) fn exit_from(&self, from: ActorId, reason: ExitReason) {
        // Like its messages, the exit signals that a killed actor's stuck
        // thread sends afterwards are discarded.
        if sender_was_killed() {
            tracing::debug!(actor = %self.id(), %reason, "exit signal from a killed actor discarded");
            return;
        }
        if reason == ExitReason::Killed {
            self.kill();
            return;
        }
        self.core.deliver_exit(ExitSignal {
            from,
            reason,
            link: None,
            force: false,
        });
    }

    /// The name the actor is registered under, if any.
    pub fn name(&self) -> Option<String> {
        self.core.relations().name.clone()
    }

    /// A snapshot of the actor: its name, links, monitors, mailbox,
    /// counters, what it does, its parent and labels.
    ///
    /// ```
    /// # use ferrotp::{Activity, Actor, Executor, Handlers, SpawnOptions, System};
    /// # struct Idle;
    /// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let cache = system
    ///     .spawn_with(Idle, SpawnOptions::new().name("cache").label("tier", "hot"))
    ///     .unwrap();
    /// let info = cache.info();
    /// assert_eq!(info.name.as_deref(), Some("cache"));
    /// assert_eq!(info.executor, Executor::Pool);
    /// assert_eq!(info.label("tier"), Some("hot"));
    /// assert_eq!(info.parent, None); // spawned by plain code, not an actor
    /// ```
    pub fn info(&self) -> ActorInfo {
        let stats = self.stats();
        let rel = self.core.relations();
        let (mut links, mut monitored_by, mut monitoring) = (Vec::new(), Vec::new(), Vec::new());
        if let Some(ties) = rel.ties_ref() {
            links = ties.links.keys().copied().collect();
            monitored_by = ties.watchers.values().map(|w| w.id()).collect();
            monitoring = ties.watching.iter().map(|(m, t)| (*m, t.id())).collect();
        }
        links.sort();
        monitored_by.sort();
        monitoring.sort();
        let (_, mailbox_high_water) = self.core.mailbox.len_and_high_water();
        ActorInfo {
            id: self.id(),
            name: rel.name.clone(),
            alive: !rel.closed,
            trap_exit: self.core.trapping.load(Ordering::Acquire),
            links,
            monitored_by,
            monitoring,
            #[cfg(feature = "tokio")]
            tasks: self.core.system.tasks.count(self.id()),
            #[cfg(not(feature = "tokio"))]
            tasks: 0,
            mailbox_len: stats.mailbox_len,
            executor: stats.executor,
            messages_handled: stats.messages_handled,
            activity: stats.activity,
            activity_for: stats.activity_for,
            parent: stats.parent,
            labels: rel.labels.to_vec(),
            mailbox_high_water,
            mailbox_capacity: self.core.mailbox.capacity(),
        }
    }

    /// The value of this actor's label `key`, if it has one (see
    /// [`SpawnOptions::label`](crate::SpawnOptions::label)).
    pub fn label(&self, key: &str) -> Option<String> {
        let rel = self.core.relations();
        rel.labels.get(key).map(str::to_string)
    }
}

impl PartialEq for ActorRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.core, &other.core)
    }
}

impl Eq for ActorRef {}

impl Hash for ActorRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl fmt::Debug for ActorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorRef({})", self.id())
    }
}

impl fmt::Display for ActorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.id(), f)
    }
}

/// A read-only snapshot of one actor, for tools and tests ([`ActorRef::info`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorInfo {
    /// The actor.
    pub id: ActorId,
    /// Its registered name.
    pub name: Option<String>,
    /// Whether it was alive when the snapshot was taken.
    pub alive: bool,
    /// Whether it traps exits.
    pub trap_exit: bool,
    /// The actors it is linked to, sorted.
    pub links: Vec<ActorId>,
    /// The actors that monitor it (one entry per monitor), sorted.
    pub monitored_by: Vec<ActorId>,
    /// The monitors it holds, and their targets.
    pub monitoring: Vec<(MonitorRef, ActorId)>,
    /// Messages waiting in its mailbox (including internal wake-ups).
    pub mailbox_len: usize,
    /// Tokio tasks it runs now ([`Context::spawn_task`](crate::Context::spawn_task),
    /// feature `tokio`; always 0 without it).
    pub tasks: usize,
    /// The executor that runs it.
    pub executor: Executor,
    /// Pieces of mail it has handled: messages, `Down`s and exit signals.
    pub messages_handled: u64,
    /// What it was doing when the snapshot was taken.
    pub activity: Activity,
    /// For how long it had been doing it (millisecond precision).
    pub activity_for: Duration,
    /// The actor whose code spawned it (OTP's `$parent`, the head of
    /// `$ancestors`): set when an actor of the same system spawns it
    /// (`Context::spawn*`, or `System::spawn*` called from a handler);
    /// `None` when plain code did.
    pub parent: Option<ActorId>,
    /// Its labels, sorted by key: what it or its spawner recorded about it
    /// ([`SpawnOptions::label`](crate::SpawnOptions::label),
    /// [`Context::set_label`](crate::Context::set_label)), like the data
    /// OTP's `proc_lib` keeps in the process dictionary. A supervisor
    /// records a child's id here.
    pub labels: Vec<(String, String)>,
    /// The most messages that ever waited in its mailbox at once (counted
    /// like `mailbox_len`): how close a bounded mailbox came to its
    /// capacity, how deep an unbounded one's backlog grew.
    pub mailbox_high_water: usize,
    /// The capacity of its mailbox, `None` if unbounded (the default; see
    /// [`SpawnOptions::mailbox`](crate::SpawnOptions::mailbox)).
    pub mailbox_capacity: Option<usize>,
}

impl ActorInfo {
    /// The value of label `key`, if the actor has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        crate::labels::get(&self.labels, key)
    }
}

/// The message of a refused send, back as the type it was sent as.
fn give_back<M: 'static>(offered: Result<(), Envelope>) -> Result<(), SendError<M>> {
    offered.map_err(|envelope| match envelope.downcast::<M>() {
        Ok(msg) => SendError::Full(msg),
        // An envelope made of an `M` downcasts to an `M`.
        Err(_) => unreachable!("a refused message changed its type"),
    })
}
