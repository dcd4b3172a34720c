//! The pooled executor: many actors on a few worker threads (M:N).
//!
//! An idle actor costs no thread, only memory. When mail arrives for it,
//! [`Core::schedule`](crate::address::Core) claims it (`IDLE → SCHEDULED`,
//! so it is queued once and run by one worker at a time) and hands it to the
//! pool. A worker runs one *turn*: up to `quota` pieces of mail, then the
//! actor goes back in line (if mail is left) or to idle. A turn whose
//! quota runs out while no other actor waits for its worker (its own
//! queue and the injector are empty) goes on for another quota instead: a
//! consumer that plain threads keep busy keeps its batch and its core.
//! Ending a turn stores `IDLE` and then looks at the mailbox again, so
//! mail that arrived in between is never stranded: either the sender saw
//! `IDLE` and scheduled the actor, or the worker sees the mail and does.
//!
//! Where work waits:
//! - each worker's own queue (crossbeam-deque, LIFO for its owner): the
//!   actor a turn woke last runs right after that turn, on the same core (a
//!   request and its reply run back to back without a thread switch), and
//!   the first actor a turn wakes does not wake another worker (unless the
//!   turn has more messages in hand, which would keep it waiting). Idle
//!   workers steal from the bottom, and nothing in the queue is out of
//!   their reach. If a turn runs on (a long handler, or a wait the pool
//!   cannot see), the [`watchdog`] notices within a tick
//!   or two (about a millisecond each) that actors wait behind it and wakes
//!   a parked worker to steal them. After [`LIFO_STREAK`](run_queue::LIFO_STREAK) turns in a row
//!   from the top, the worker takes its oldest entry instead, so a pair of
//!   chatty actors cannot starve the rest;
//! - the injector (FIFO), for actors scheduled from outside the pool and for
//!   actors whose quota ran out, which so go to the back of the line (an
//!   actor whose quota ran out while nothing else waits goes on in its
//!   worker's own queue instead: a wake-up per quota would only move it);
//! - the [`handoff`] slot: an actor scheduled from outside the pool while a
//!   worker searches (a plain thread's `Bridge::call`, the common case)
//!   is handed to that worker through one cache line instead; a call's
//!   or an inbox's request travels with it there (the caller claims the
//!   idle actor first), and the worker puts it in the mailbox, whose lines
//!   so stay on the worker's core. Until it has, the actor's claim says
//!   so, and mail that comes meanwhile waits for the request to be in.
//!   Plain code sends its next request as soon as it has the answer, often
//!   before the turn that answered has ended: a worker whose turn ends
//!   with nothing else queued for it counts itself searching before the
//!   actor goes idle, and the caller waits a moment for an actor that is
//!   ending its turn with an empty mailbox to go idle
//!   ([`Pool::claim_for_request`]), so that request too takes the slot.
//!
//! A worker that finds nothing spins briefly, looking again after every
//! pause (it is *searching*: the slot at each look, the queues when the
//! injector shows work or every few looks), then parks until new work is
//! queued. New work
//! wakes a parked worker only when no worker is searching; a searcher that
//! finds work wakes another if more waits, so the pool widens as work
//! arrives without a wake-up per message (nor one per lone request).
//!
//! Workers that block: a handler may block its worker (a `Bridge::call`, a
//! supervisor waiting for a child to stop). Our own blocking points go
//! through [`blocking`]: the worker hands its queued actors to the others and,
//! if fewer than the pool's size of workers would be left unblocked, a worker
//! is added. So actors that wait on each other cannot deadlock the pool.
//! Surplus workers leave after being idle for [`SURPLUS_KEEP_ALIVE`](parking::SURPLUS_KEEP_ALIVE).
//!
//! Workers stuck for good: `kill` of an actor whose turn is running marks
//! that worker abandoned and adds a worker in its place. The abandoned thread
//! leaves if the handler ever returns; until then it is counted in
//! [`Pool::stuck_workers`].
//!
//! The [`Pool`] and its life (start, size, stop) are here; the rest has a
//! module per concept:
//! - [`turn`]: one turn of an actor, what a worker runs;
//! - [`entry`]: what the pool keeps in a pooled actor's core (its
//!   scheduling state);
//! - [`worker`]: the worker threads and their loop;
//! - [`run_queue`]: where work waits and how workers find and steal it;
//! - [`parking`]: searching, parking and waking idle workers;
//! - [`handoff`]: the searchers' counts and the slot for a searcher;
//! - [`lent`]: a plain thread that runs the turn of the actor it woke
//!   (`System::run_woken`), and its relief;
//! - [`blocked`]: workers that block or are stuck in a killed actor's
//!   turn, and the workers added in their place.

mod blocked;
mod entry;
mod handoff;
mod lent;
mod parking;
mod run_queue;
mod turn;
mod worker;

use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use crossbeam_deque::Injector;

use super::thread::ThreadSet;
use super::watchdog::{self, Watchdog};
use crate::address::{Core, Driver};
use crate::error::SpawnError;

pub(crate) use blocked::blocking;
pub(crate) use entry::{Claim, PoolEntry};
use handoff::Searchers;
use worker::current_worker;
pub(crate) use worker::WorkerShared;

/// Default messages per turn.
pub(crate) const DEFAULT_QUOTA: usize = 64;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only our own short, non-panicking sections hold these locks.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A pool of worker threads shared by one system's pooled actors.
pub(crate) struct Pool {
    size: usize,
    quota: usize,
    injector: Injector<Arc<Core>>,
    workers: RwLock<Vec<Arc<WorkerShared>>>,
    sleepers: Mutex<Vec<Arc<WorkerShared>>>,
    /// How many workers search and sleep, and the actor handed to a
    /// searcher: a line of its own, which the workers' other traffic
    /// (the list's lock, the counts) does not touch.
    searchers: Searchers,
    /// Threads in the worker loop, blocked and abandoned ones included.
    live: AtomicUsize,
    /// Of those, blocked in [`blocking`] or abandoned.
    blocked: AtomicUsize,
    /// Held while the pool's size is judged and changed (a worker added
    /// because too few are unblocked, a surplus one leaving): two workers
    /// that judged themselves surplus at once must not both leave.
    sizing: Mutex<()>,
    stuck: AtomicUsize,
    stopping: AtomicBool,
    /// Turns that plain threads run for the pool (`System::run_woken`),
    /// for the watchdog.
    lent: Mutex<Vec<Arc<lent::LentTurn>>>,
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
            searchers: Searchers::default(),
            live: AtomicUsize::new(0),
            blocked: AtomicUsize::new(0),
            sizing: Mutex::new(()),
            stuck: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            lent: Mutex::new(Vec::new()),
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

    /// Ends a turn that found no mail left (on a worker or a lending
    /// thread): the actor goes idle with its `turn` put back, unless mail
    /// came meanwhile, which queues it again.
    fn end_idle_turn(&self, core: Arc<Core>, turn: Box<dyn turn::Turn>, now: u64) {
        // Before `IDLE`: from then on a sender may claim the actor and
        // write its activity.
        core.stats.idle(now);
        if let Driver::Pool(entry) = &core.driver {
            *lock(&entry.turn) = Some(turn);
        }
        core.claim.state.store(entry::IDLE, Ordering::SeqCst);
        // Pairs with the fence in `Claim::claim`: a sender that saw the
        // actor scheduled set the mailbox's flag before its fence, so this
        // sees the flag (read without the lock the senders need).
        fence(Ordering::SeqCst);
        if core.mailbox.may_have_mail() && core.claim.claim() {
            core.stats.queued(now);
            self.injector.push(core);
            self.notify_one();
        }
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
        drop(
            self.searchers
                .take(|core, request| core.refuse(request, "pool stopped")),
        );
    }
}
