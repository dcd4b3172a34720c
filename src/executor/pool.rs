//! The pooled executor: many actors on a few worker threads (M:N).
//!
//! An idle actor costs no thread, only memory. When mail arrives for it,
//! [`Core::schedule`](crate::address::Core) claims it (`IDLE → SCHEDULED`,
//! so it is queued once and run by one worker at a time) and hands it to the
//! pool. A worker runs one *turn*: up to `quota` pieces of mail, then the
//! actor goes back in line (if mail is left) or to idle. Ending a turn
//! stores `IDLE` and then looks at the mailbox again, so mail that arrived in
//! between is never stranded: either the sender saw `IDLE` and scheduled the
//! actor, or the worker sees the mail and does.
//!
//! Where work waits:
//! - each worker's own queue (crossbeam-deque, LIFO for its owner): the
//!   actor a turn woke last runs right after that turn, on the same core (a
//!   request and its reply run back to back without a thread switch), and
//!   the first actor a turn wakes does not wake another worker (unless the
//!   turn has more messages in hand, which would keep it waiting). Idle
//!   workers steal from the bottom, and nothing in the queue is out of
//!   their reach. If a turn runs on (a long handler, or a wait the pool
//!   cannot see), the [`watchdog`](super::watchdog) notices within a tick
//!   or two (about a millisecond each) that actors wait behind it and wakes
//!   a parked worker to steal them. After [`LIFO_STREAK`] turns in a row
//!   from the top, the worker takes its oldest entry instead, so a pair of
//!   chatty actors cannot starve the rest;
//! - the injector (FIFO), for actors scheduled from outside the pool and for
//!   actors whose quota ran out, which so go to the back of the line.
//!
//! A worker that finds nothing spins briefly (it is *searching*), then parks
//! until new work is queued. New work wakes a parked worker only when no
//! worker is searching; a searcher that finds work wakes another, so the
//! pool widens as work arrives without a wake-up per message.
//!
//! Workers that block: a handler may block its worker (a `Bridge::call`, a
//! supervisor waiting for a child to stop). Our own blocking points go
//! through [`blocking`]: the worker hands its queued actors to the others and,
//! if fewer than the pool's size of workers would be left unblocked, a worker
//! is added. So actors that wait on each other cannot deadlock the pool.
//! Surplus workers leave after being idle for [`SURPLUS_KEEP_ALIVE`].
//!
//! Workers stuck for good: `kill` of an actor whose turn is running marks
//! that worker abandoned and adds a worker in its place. The abandoned thread
//! leaves if the handler ever returns; until then it is counted in
//! [`Pool::stuck_workers`].

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::sync::{Parker, Unparker};
use crossbeam_utils::Backoff;

use super::long_handler::{self, STARTED};
use super::thread::ThreadSet;
use super::watchdog::{self, Probe, Watchdog};
use super::Executor;
use crate::actor::Actor;
use crate::address::{ActorId, Core, CurrentGuard, Driver};
use crate::cell::{ActorCell, Flow};
use crate::error::SpawnError;
use crate::introspect::{now_ms, restart_turn_ms, set_turn_ms};
use crate::mailbox::{user_messages, Mail};

/// Turns a worker takes from the top of its queue before it takes the oldest.
pub(crate) const LIFO_STREAK: u32 = 16;
/// How often (in turns) a worker looks at the injector first.
const INJECTOR_EVERY: u32 = 61;
/// How long a worker beyond the pool's size stays parked before it leaves.
pub(crate) const SURPLUS_KEEP_ALIVE: Duration = Duration::from_secs(1);
/// Default messages per turn.
pub(crate) const DEFAULT_QUOTA: usize = 64;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only our own short, non-panicking sections hold these locks.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

const IDLE: u8 = 0;
const SCHEDULED: u8 = 1;
const FINISHED: u8 = 2;

/// What a turn gets from the worker that runs it.
pub(crate) struct TurnEnv<'a> {
    /// The most pieces of mail to handle.
    quota: usize,
    /// Where the turn tells the worker how many messages of its batch are
    /// still to be handled.
    in_hand: &'a Cell<usize>,
    /// Where the turn marks the start of each handler, for the watchdog.
    probe: &'a Probe,
    /// The pool's epoch, for the watchdog's times.
    epoch: Instant,
}

impl TurnEnv<'_> {
    /// Runs one handler (`what` names it) under the watchdog's clock.
    fn time<T>(&self, core: &Core, what: &'static str, handler: impl FnOnce() -> T) -> T {
        self.probe.handler_started();
        let out = handler();
        if let Some(elapsed) = self.probe.handler_ended(self.epoch) {
            long_handler::report(core, Executor::Pool, what, elapsed);
        }
        out
    }
}

/// One turn of an actor: start it if needed, then handle up to `quota`
/// pieces of mail.
pub(crate) trait Turn: Send {
    /// `batch` is the worker's scratch space, empty before and after.
    fn run(&mut self, env: &TurnEnv<'_>, batch: &mut VecDeque<Mail>) -> TurnEnd;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TurnEnd {
    /// The mailbox is empty.
    Idle,
    /// The quota ran out with mail left.
    Busy,
    /// The actor terminated.
    Done,
}

/// A pooled actor's cell, and whether its `started` hook ran.
struct PooledCell<A: Actor> {
    cell: Option<ActorCell<A>>,
    started: bool,
}

impl<A: Actor> Turn for PooledCell<A> {
    fn run(&mut self, env: &TurnEnv<'_>, batch: &mut VecDeque<Mail>) -> TurnEnd {
        let Some(cell) = self.cell.as_mut() else {
            return TurnEnd::Done;
        };
        let core = cell.core().clone();
        let (quota, in_hand) = (env.quota, env.in_hand);
        let mut end = TurnEnd::Busy;
        if !self.started {
            self.started = true;
            if env.time(&core, STARTED, || cell.start()) == Flow::Done {
                end = TurnEnd::Done;
            }
        }
        let mut handled = 0;
        while end == TurnEnd::Busy && handled < quota {
            // Messages are taken in batches under one lock; an exit signal
            // that may overtake messages and arrives meanwhile still goes
            // before the batch's rest. Read before each piece of mail: only
            // this actor's own handlers change it.
            let trapping = core.trapping.load(Ordering::Acquire);
            let signal = match core.mailbox.signal_overtakes(trapping) {
                true => core.mailbox.pop_signal(trapping),
                false => None,
            };
            if signal.is_none()
                && batch.is_empty()
                && core.mailbox.pop_batch(batch, quota - handled, trapping) == 0
            {
                end = TurnEnd::Idle;
                break;
            }
            let Some(mail) = signal.or_else(|| batch.pop_front()) else {
                break;
            };
            // Taken to be handled: its place in a bounded mailbox is free.
            core.mailbox.release(&mail);
            in_hand.set(batch.len());
            handled += 1;
            if env.time(&core, mail.type_name(), || cell.handle(mail)) == Flow::Done {
                end = TurnEnd::Done;
            }
        }
        in_hand.set(0);
        core.stats.handled(handled as u64);
        if end == TurnEnd::Done {
            if let Some(cell) = self.cell.take() {
                cell.finish();
            }
            let left = user_messages(batch.drain(..), core.id);
            if left > 0 {
                core.system.dead_letters_dropped(core.id, left);
            }
        }
        end
    }
}

/// What the pool keeps in a pooled actor's core.
pub(crate) struct PoolEntry {
    state: AtomicU8,
    turn: Mutex<Option<Box<dyn Turn>>>,
}

impl PoolEntry {
    /// The entry of an actor about to be scheduled for its first turn.
    pub fn new() -> Self {
        PoolEntry {
            state: AtomicU8::new(SCHEDULED),
            turn: Mutex::new(None),
        }
    }

    /// Puts the cell in (before the first turn, which runs `started`).
    pub fn install<A: Actor>(&self, cell: ActorCell<A>) {
        *lock(&self.turn) = Some(Box::new(PooledCell {
            cell: Some(cell),
            started: false,
        }));
    }

    /// Claims the actor for scheduling; `true` if the caller must queue it.
    pub fn claim(&self) -> bool {
        // Pairs with the fence in `Pool::run`: a sender that pushed mail and
        // then fails to claim knows the worker will see that mail.
        fence(Ordering::SeqCst);
        // Looked at before the swap: mail to a busy actor (the common case
        // under load) then costs its senders no contended write.
        self.state.load(Ordering::SeqCst) == IDLE
            && self
                .state
                .compare_exchange(IDLE, SCHEDULED, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }
}

/// What other threads may see of one worker.
pub(crate) struct WorkerShared {
    stealer: Stealer<Arc<Core>>,
    unparker: Unparker,
    /// The actor whose turn this worker runs (0: none).
    running: AtomicU64,
    /// An actor it ran was killed mid-turn: a replacement took its place.
    abandoned: AtomicBool,
    /// Its turns and handlers, for the watchdog.
    probe: Probe,
}

impl WorkerShared {
    /// The id of the actor whose turn this worker runs (0: none).
    pub fn running(&self) -> u64 {
        self.running.load(Ordering::SeqCst)
    }

    pub fn probe(&self) -> &Probe {
        &self.probe
    }

    /// Whether actors wait in this worker's queue.
    pub fn has_queued(&self) -> bool {
        !self.stealer.is_empty()
    }
}

/// A worker's own side: its queue and counters, on its own thread.
struct Local {
    index: usize,
    pool: Arc<Pool>,
    shared: Arc<WorkerShared>,
    queue: Worker<Arc<Core>>,
    parker: Parker,
    /// Turns in a row taken from the top of the queue.
    streak: Cell<u32>,
    turns: Cell<u32>,
    /// Actors the current turn queued here.
    queued_this_turn: Cell<u32>,
    /// Where a turn takes its messages in batches.
    batch: RefCell<VecDeque<Mail>>,
    /// Messages the current turn has in hand, still to handle.
    in_hand: Cell<usize>,
    /// When the last turn ended, if this worker went straight on to the
    /// next (0: it parked since): the next turn's start, without a clock read.
    last_turn_end: Cell<u64>,
}

thread_local! {
    /// The pool worker this thread is, if it is one.
    static WORKER: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
}

fn current_worker() -> Option<Rc<Local>> {
    WORKER.with(|w| w.borrow().clone())
}

/// Runs `wait`, which may block the calling thread for long. On a pool
/// worker, its queued actors go to other workers first and a worker is
/// added if too few would be left to run them.
pub(crate) fn blocking<T>(wait: impl FnOnce() -> T) -> T {
    let Some(local) = current_worker() else {
        let out = wait();
        long_handler::restart_thread_clock();
        return out;
    };
    local.hand_off();
    let pool = local.pool.clone();
    local.shared.probe.waiting(true);
    pool.blocked.fetch_add(1, Ordering::SeqCst);
    pool.add_worker_if_short();
    let out = wait();
    pool.blocked.fetch_sub(1, Ordering::SeqCst);
    local.shared.probe.waiting(false);
    restart_turn_ms();
    out
}

/// A pool of worker threads shared by one system's pooled actors.
pub(crate) struct Pool {
    size: usize,
    quota: usize,
    injector: Injector<Arc<Core>>,
    workers: RwLock<Vec<Arc<WorkerShared>>>,
    sleepers: Mutex<Vec<Arc<WorkerShared>>>,
    sleeping: AtomicUsize,
    searching: AtomicUsize,
    /// Threads in the worker loop, blocked and abandoned ones included.
    live: AtomicUsize,
    /// Of those, blocked in [`blocking`] or abandoned.
    blocked: AtomicUsize,
    stuck: AtomicUsize,
    stopping: AtomicBool,
    next_worker: AtomicUsize,
    threads: ThreadSet<usize>,
    watchdog: Watchdog,
    /// Handlers that run longer are reported (`None`: not timed).
    long_handler: Option<Duration>,
    /// Where the watchdog's times count from.
    epoch: Instant,
}

/// The watchdog thread's key among the pool's threads (workers count up from 0).
const WATCHDOG_KEY: usize = usize::MAX;

impl Pool {
    /// A pool of `size` workers, started now; fails if not one worker
    /// thread could be started.
    pub fn start(
        size: usize,
        quota: usize,
        stack_size: Option<usize>,
        long_handler: Option<Duration>,
    ) -> Result<Arc<Pool>, SpawnError> {
        let (watchdog, watchdog_parker) = Watchdog::new();
        let pool = Arc::new(Pool {
            size: size.max(1),
            quota: quota.max(1),
            injector: Injector::new(),
            workers: RwLock::new(Vec::new()),
            sleepers: Mutex::new(Vec::new()),
            sleeping: AtomicUsize::new(0),
            searching: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            blocked: AtomicUsize::new(0),
            stuck: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            next_worker: AtomicUsize::new(0),
            threads: ThreadSet::new(stack_size),
            watchdog,
            long_handler,
            epoch: Instant::now(),
        });
        let mut failure = None;
        for _ in 0..pool.size {
            if let Err(error) = pool.add_worker() {
                failure = Some(error);
            }
        }
        if let Some(error) = failure.filter(|_| pool.workers() == 0) {
            return Err(error);
        }
        let watched = pool.clone();
        if let Err(error) =
            pool.threads
                .start(WATCHDOG_KEY, "ferrotp-watchdog".to_string(), move || {
                    watchdog::watch(watched, watchdog_parker)
                })
        {
            // The pool still runs; what sits behind a long handler waits
            // for it, and long handlers go unreported.
            tracing::error!(%error, "could not start the pool's watchdog");
        }
        Ok(pool)
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(crate) fn watchdog(&self) -> &Watchdog {
        &self.watchdog
    }

    pub(crate) fn long_handler(&self) -> Option<Duration> {
        self.long_handler
    }

    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Runs `f` on the list of workers.
    pub(crate) fn with_workers<T>(&self, f: impl FnOnce(&[Arc<WorkerShared>]) -> T) -> T {
        f(&self.workers.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Wakes a parked worker to look for work (the watchdog saw some wait
    /// behind a long turn), unless one is searching already.
    /// Whether actors wait in the injector (the shared queue).
    pub(crate) fn injector_waits(&self) -> bool {
        !self.injector.is_empty()
    }

    pub(crate) fn wake_idle_worker(&self) {
        self.notify_one();
    }

    /// Hands a new actor to the pool: `cell` runs its first turn soon.
    pub fn launch<A: Actor>(self: &Arc<Self>, core: Arc<Core>, cell: ActorCell<A>) {
        if let Driver::Pool(entry) = &core.driver {
            entry.install(cell);
        }
        self.schedule(core);
    }

    /// Queues an actor that was just claimed.
    pub fn schedule(self: &Arc<Self>, core: Arc<Core>) {
        let core = match current_worker() {
            Some(local) if Arc::ptr_eq(&local.pool, self) => match local.push(core) {
                None => return,
                Some(core) => core,
            },
            _ => core,
        };
        self.injector.push(core);
        self.notify_one();
    }

    /// Wakes one parked worker, unless one is searching already (it will
    /// find the work) or none is parked.
    fn notify_one(&self) {
        // Pairs with the fence in `park`: either this sees the sleeper, or
        // the sleeper's last look sees the work just queued.
        fence(Ordering::SeqCst);
        if self.searching.load(Ordering::SeqCst) > 0 || self.sleeping.load(Ordering::SeqCst) == 0 {
            return;
        }
        let sleeper = {
            let mut sleepers = lock(&self.sleepers);
            let sleeper = sleepers.pop();
            self.sleeping.store(sleepers.len(), Ordering::SeqCst);
            sleeper
        };
        if let Some(worker) = sleeper {
            worker.unparker.unpark();
        }
    }

    fn unblocked(&self) -> usize {
        let live = self.live.load(Ordering::SeqCst);
        live.saturating_sub(self.blocked.load(Ordering::SeqCst))
    }

    fn add_worker_if_short(self: &Arc<Self>) {
        if self.unblocked() < self.size && !self.stopping.load(Ordering::Acquire) {
            // A failure is logged; the pool goes on with the workers it has.
            let _ = self.add_worker();
        }
    }

    fn add_worker(self: &Arc<Self>) -> Result<(), SpawnError> {
        let parker = Parker::new();
        let queue = Worker::new_lifo();
        let shared = Arc::new(WorkerShared {
            stealer: queue.stealer(),
            unparker: parker.unparker().clone(),
            running: AtomicU64::new(0),
            abandoned: AtomicBool::new(false),
            probe: Probe::default(),
        });
        self.live.fetch_add(1, Ordering::SeqCst);
        self.workers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(shared.clone());
        let index = self.next_worker.fetch_add(1, Ordering::Relaxed);
        let pool = self.clone();
        let started = self
            .threads
            .start(index, format!("ferrotp-worker-{index}"), {
                let shared = shared.clone();
                move || {
                    let local = Rc::new(Local {
                        index,
                        pool,
                        shared,
                        queue,
                        parker,
                        streak: Cell::new(0),
                        turns: Cell::new(0),
                        queued_this_turn: Cell::new(0),
                        batch: RefCell::new(VecDeque::new()),
                        in_hand: Cell::new(0),
                        last_turn_end: Cell::new(0),
                    });
                    WORKER.with(|w| *w.borrow_mut() = Some(local.clone()));
                    local.work();
                    WORKER.with(|w| *w.borrow_mut() = None);
                }
            });
        if let Err(error) = &started {
            tracing::error!(%error, "could not start a pool worker");
            self.remove_worker(&shared);
        }
        started
    }

    fn remove_worker(&self, shared: &Arc<WorkerShared>) {
        self.workers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|w| !Arc::ptr_eq(w, shared));
        self.live.fetch_sub(1, Ordering::SeqCst);
    }

    /// `id` was killed: if a worker is in its turn now, that worker may
    /// never come back; put another in its place.
    pub fn actor_killed(self: &Arc<Self>, id: ActorId) {
        let stuck = self
            .workers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|w| w.running.load(Ordering::SeqCst) == id.as_u64())
            .cloned();
        if let Some(worker) = stuck {
            // Counted before the mark: the worker takes its count back as
            // soon as it sees the mark (`leave_abandoned`), and the counts
            // must never run below what is true.
            self.stuck.fetch_add(1, Ordering::SeqCst);
            self.blocked.fetch_add(1, Ordering::SeqCst);
            if worker.abandoned.swap(true, Ordering::SeqCst) {
                // An earlier kill abandoned it already.
                self.stuck.fetch_sub(1, Ordering::SeqCst);
                self.blocked.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            tracing::warn!(actor = %id, "pool worker abandoned in a killed actor's turn; adding a worker");
            self.add_worker_if_short();
            self.notify_one();
        }
    }

    /// Worker threads, abandoned ones included.
    pub fn workers(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Worker threads left in the turn of a killed actor.
    pub fn stuck_workers(&self) -> usize {
        self.stuck.load(Ordering::SeqCst)
    }

    /// Stops the workers and joins them until `deadline`; abandoned ones are
    /// left running, detached.
    pub fn stop(&self, deadline: Instant) {
        self.stopping.store(true, Ordering::SeqCst);
        for worker in self
            .workers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            worker.unparker.unpark();
        }
        self.watchdog.wake();
        // A worker that runs this very shutdown leaves once it returns.
        // Worker indexes are numbered per pool: only this pool's worker
        // is spared the join.
        let me = current_worker()
            .filter(|local| std::ptr::eq(Arc::as_ptr(&local.pool), self))
            .map(|local| local.index);
        self.threads.join_all(deadline, me);
        // Actors still queued (killed ones, or spawned while stopping) hold
        // the system alive through their cores: let them go.
        while !self.injector.is_empty() {
            let _ = self.injector.steal();
        }
    }

    /// Takes work from the injector or another worker's queue.
    fn steal(&self, into: &Worker<Arc<Core>>, me: &Arc<WorkerShared>) -> Option<Arc<Core>> {
        loop {
            let mut retry = false;
            match self.injector.steal_batch_and_pop(into) {
                Steal::Success(core) => return Some(core),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            let workers = self.workers.read().unwrap_or_else(|e| e.into_inner());
            for other in workers.iter().filter(|w| !Arc::ptr_eq(w, me)) {
                match other.stealer.steal() {
                    Steal::Success(core) => return Some(core),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }
}

impl Local {
    /// Queues `core` on this worker; returns it if it must go elsewhere
    /// (this worker was abandoned).
    fn push(&self, core: Arc<Core>) -> Option<Arc<Core>> {
        if self.shared.abandoned.load(Ordering::Acquire) {
            return Some(core);
        }
        self.queue.push(core);
        // The first actor a turn wakes runs right after the turn, here,
        // without waking another worker: the common request and reply. If
        // the turn has more messages in hand, or wakes more actors, another
        // worker is woken to take them rather than let them wait.
        let queued = self.queued_this_turn.get() + 1;
        self.queued_this_turn.set(queued);
        if queued > 1 || self.in_hand.get() > 0 {
            self.pool.notify_one();
        }
        None
    }

    /// Gives every actor queued here to the injector, for other workers.
    fn hand_off(&self) {
        let mut moved = false;
        while let Some(core) = self.queue.pop() {
            self.pool.injector.push(core);
            moved = true;
        }
        if moved {
            self.pool.notify_one();
        }
    }

    fn find_work(&self) -> Option<Arc<Core>> {
        let turns = self.turns.get().wrapping_add(1);
        self.turns.set(turns);
        if turns % INJECTOR_EVERY == 0 {
            if let Some(core) = self.pool.injector.steal().success() {
                return Some(core);
            }
        }
        if self.streak.get() >= LIFO_STREAK {
            self.streak.set(0);
            if let Some(core) = self.shared.stealer.steal().success() {
                return Some(core);
            }
        }
        if let Some(core) = self.queue.pop() {
            self.streak.set(self.streak.get() + 1);
            return Some(core);
        }
        self.streak.set(0);
        self.pool.steal(&self.queue, &self.shared)
    }

    fn work(&self) {
        let pool = &self.pool;
        loop {
            match self.find_work().or_else(|| self.spin_for_work()) {
                Some(core) => {
                    self.run(core);
                    if self.shared.abandoned.load(Ordering::SeqCst) {
                        self.leave_abandoned();
                        return;
                    }
                }
                None => {
                    if pool.stopping.load(Ordering::SeqCst) || !self.park() {
                        break;
                    }
                }
            }
        }
        self.hand_off();
        pool.remove_worker(&self.shared);
    }

    /// Looks for work a few more times, backing off, before parking costs
    /// a sleep and a wake-up. Meanwhile this worker counts as searching,
    /// which spares new work a wake-up.
    fn spin_for_work(&self) -> Option<Arc<Core>> {
        let pool = &self.pool;
        pool.searching.fetch_add(1, Ordering::SeqCst);
        let backoff = Backoff::new();
        let mut found = None;
        while found.is_none() && !backoff.is_completed() {
            backoff.snooze();
            found = self.find_work();
        }
        let last = pool.searching.fetch_sub(1, Ordering::SeqCst) == 1;
        if found.is_some() && last {
            // Work came while no one else looked: there may be more.
            pool.notify_one();
        }
        found
    }

    /// Parks until woken; `false` if this surplus worker should leave.
    fn park(&self) -> bool {
        let pool = &self.pool;
        // Asleep, the end of its last turn is no longer now.
        self.last_turn_end.set(0);
        {
            let mut sleepers = lock(&pool.sleepers);
            sleepers.push(self.shared.clone());
            pool.sleeping.store(sleepers.len(), Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        let work_waits = !pool.injector.is_empty()
            || pool
                .workers
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|w| !w.stealer.is_empty());
        let surplus = pool.unblocked() > pool.size;
        if !work_waits && !pool.stopping.load(Ordering::SeqCst) {
            if surplus {
                self.parker.park_timeout(SURPLUS_KEEP_ALIVE);
            } else {
                self.parker.park();
            }
        }
        {
            let mut sleepers = lock(&pool.sleepers);
            sleepers.retain(|w| !Arc::ptr_eq(w, &self.shared));
            pool.sleeping.store(sleepers.len(), Ordering::SeqCst);
        }
        !(surplus && pool.unblocked() > pool.size && pool.injector.is_empty())
    }

    /// Runs one turn of `core`.
    fn run(&self, core: Arc<Core>) {
        let Driver::Pool(entry) = &core.driver else {
            return;
        };
        let Some(mut turn) = lock(&entry.turn).take() else {
            return;
        };
        self.shared
            .running
            .store(core.id.as_u64(), Ordering::SeqCst);
        let started = match self.last_turn_end.replace(0) {
            0 => now_ms(),
            at => at,
        };
        core.stats.running(started);
        set_turn_ms(started);
        self.shared.probe.turn_started();
        self.pool.watchdog.turn_started();
        self.queued_this_turn.set(0);
        let end = {
            let _current = CurrentGuard::enter(&core);
            let mut batch = self.batch.borrow_mut();
            let env = TurnEnv {
                quota: self.pool.quota,
                in_hand: &self.in_hand,
                probe: &self.shared.probe,
                epoch: self.pool.epoch,
            };
            turn.run(&env, &mut batch)
        };
        set_turn_ms(0);
        let now = now_ms();
        self.last_turn_end.set(now);
        self.shared.running.store(0, Ordering::SeqCst);
        match end {
            TurnEnd::Done => {
                entry.state.store(FINISHED, Ordering::SeqCst);
                drop(turn);
            }
            TurnEnd::Busy => {
                // To the back of the line.
                core.stats.queued(now);
                *lock(&entry.turn) = Some(turn);
                self.pool.injector.push(core);
                self.pool.notify_one();
            }
            TurnEnd::Idle => {
                // Before `IDLE`: from then on a sender may claim the actor
                // and write its activity.
                core.stats.idle(now);
                *lock(&entry.turn) = Some(turn);
                entry.state.store(IDLE, Ordering::SeqCst);
                // Pairs with the fence in `PoolEntry::claim`.
                fence(Ordering::SeqCst);
                if !core.mailbox.is_empty() && entry.claim() {
                    core.stats.queued(now);
                    self.pool.injector.push(core);
                    self.pool.notify_one();
                }
            }
        }
    }

    /// This worker was replaced while it ran a killed actor: hand its work
    /// on and leave.
    fn leave_abandoned(&self) {
        let pool = &self.pool;
        self.hand_off();
        pool.blocked.fetch_sub(1, Ordering::SeqCst);
        pool.stuck.fetch_sub(1, Ordering::SeqCst);
        pool.remove_worker(&self.shared);
        // `actor_killed` may have looked at the counts while this worker
        // was still counted live but no longer blocked, and so added no
        // replacement: whoever looks last adds one if the pool is short.
        pool.add_worker_if_short();
        tracing::debug!("abandoned pool worker returned and left");
    }
}
