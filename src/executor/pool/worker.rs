//! The worker threads: what others see of a worker, its own side, and its
//! loop (find work, run a turn, park).
//!
//! Apart from the run queue and parking, which are the policies the loop
//! follows; this is the thread and the turn it runs.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_deque::{Stealer, Worker};
use crossbeam_utils::sync::{Parker, Unparker};

use super::blocked::Abandon;
use super::entry::FINISHED;
use super::turn::{TurnEnd, TurnEnv};
use super::{lock, Pool};
use crate::address::{running, Core, Driver};
use crate::error::SpawnError;
use crate::executor::watchdog::Probe;
use crate::introspect::{now_ms, set_turn_ms};
use crate::mailbox::Mail;

/// What other threads may see of one worker.
pub(crate) struct WorkerShared {
    pub(super) stealer: Stealer<Arc<Core>>,
    pub(super) unparker: Unparker,
    /// The actor whose turn this worker runs (0: none).
    pub(super) running: AtomicU64,
    /// An actor it ran was killed mid-turn: a replacement took its place.
    pub(super) abandoned: Abandon,
    /// Its turns and handlers, for the watchdog.
    pub(super) probe: Probe,
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
pub(super) struct Local {
    pub(super) index: usize,
    pub(super) pool: Arc<Pool>,
    pub(super) shared: Arc<WorkerShared>,
    pub(super) queue: Worker<Arc<Core>>,
    pub(super) parker: Parker,
    /// Turns in a row taken from the top of the queue.
    pub(super) streak: Cell<u32>,
    pub(super) turns: Cell<u32>,
    /// Actors the current turn queued here.
    pub(super) queued_this_turn: Cell<u32>,
    /// Where a turn takes its messages in batches.
    pub(super) batch: RefCell<VecDeque<Mail>>,
    /// Messages the current turn has in hand, still to handle.
    pub(super) in_hand: Cell<usize>,
    /// When the last turn ended, if this worker went straight on to the
    /// next (0: it parked since): the next turn's start, without a clock read.
    pub(super) last_turn_end: Cell<u64>,
    /// Counted among the pool's searchers (see `start_searching`).
    pub(super) searching: Cell<bool>,
}

thread_local! {
    /// The pool worker this thread is, if it is one.
    static WORKER: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
}

pub(super) fn current_worker() -> Option<Rc<Local>> {
    WORKER.with(|w| w.borrow().clone())
}

impl Pool {
    pub(super) fn add_worker(self: &Arc<Self>) -> Result<(), SpawnError> {
        let parker = Parker::new();
        let queue = Worker::new_lifo();
        let shared = Arc::new(WorkerShared {
            stealer: queue.stealer(),
            unparker: parker.unparker().clone(),
            running: AtomicU64::new(0),
            abandoned: Abandon::default(),
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
                        searching: Cell::new(false),
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

    pub(super) fn remove_worker(&self, shared: &Arc<WorkerShared>) {
        self.workers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|w| !Arc::ptr_eq(w, shared));
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Local {
    /// Whether no other actor waits for this worker: its own queue and the
    /// injector are empty (and it was not abandoned).
    fn alone(&self) -> bool {
        self.queue.is_empty() && self.pool.injector.is_empty() && !self.shared.abandoned.is_set()
    }

    fn work(&self) {
        let pool = &self.pool;
        loop {
            // A worker that counted itself searching as its last turn
            // ended (see `run`) goes straight to the search, which starts
            // with a full look.
            let found = match self.searching.get() {
                true => self.spin_for_work(),
                false => self.find_work().or_else(|| self.spin_for_work()),
            };
            match found {
                Some(core) => {
                    self.run(core);
                    if self.shared.abandoned.take() {
                        if self.searching.get() {
                            // It takes nothing more: whatever was handed
                            // to it as a searcher goes to another worker.
                            self.stop_searching(true);
                        }
                        self.leave_abandoned();
                        return;
                    }
                }
                None => {
                    if pool.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    if !self.park() {
                        // Surplus: `park` took it out of the pool already.
                        self.hand_off();
                        return;
                    }
                }
            }
        }
        self.hand_off();
        pool.remove_worker(&self.shared);
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
        let alone = || {
            let alone = self.alone();
            if alone {
                self.queued_this_turn.set(0);
            }
            alone
        };
        let end = running(&core, || {
            let mut batch = self.batch.borrow_mut();
            let env = TurnEnv {
                core: &core,
                quota: self.pool.quota,
                in_hand: &self.in_hand,
                probe: &self.shared.probe,
                epoch: self.pool.epoch,
                alone: &alone,
            };
            turn.run(&env, &mut batch)
        });
        set_turn_ms(0);
        let now = now_ms();
        self.last_turn_end.set(now);
        self.shared.running.store(0, Ordering::SeqCst);
        match end {
            TurnEnd::Done => {
                core.claim.state.store(FINISHED, Ordering::SeqCst);
                drop(turn);
            }
            TurnEnd::Busy => {
                core.stats.queued(now);
                *lock(&entry.turn) = Some(turn);
                if self.alone() {
                    // Nothing else waits: the actor goes on here, in this
                    // worker's queue, where an idle worker can still steal
                    // it. Waking one for it would cost a wake-up per quota
                    // (a fan-in's consumer) and move it to a cold core.
                    self.queue.push(core);
                } else {
                    // To the back of the line.
                    self.pool.injector.push(core);
                    self.pool.notify_one();
                }
            }
            TurnEnd::Idle => {
                // Nothing else waits for this worker: it searches next. It
                // counts itself searching before the actor goes idle, so
                // that a plain thread whose next request claims the actor
                // at once (it had its answer before this turn ended) hands
                // it here through the slot, rather than to the injector
                // with a wake-up of a parked worker: a syscall on the
                // caller's way, and a third thread spinning on two cores
                // (see `handoff`).
                if self.alone() {
                    self.start_searching();
                }
                self.pool.end_idle_turn(core, turn, now)
            }
        }
    }
}
