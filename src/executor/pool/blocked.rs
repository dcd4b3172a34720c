//! Workers that block or are stuck: a handler waiting in [`blocking`], or
//! a killed actor's handler that never returns. The pool adds workers in
//! their place so actors that wait on each other cannot deadlock it.
//!
//! Apart from the worker loop because it is about the pool's size, not
//! about running turns.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, MutexGuard};

use super::worker::{current_worker, Local, WorkerShared};
use super::{lock, Pool};
use crate::address::ActorId;
use crate::executor::thread_watch;
use crate::introspect::restart_turn_ms;

/// Runs `wait`, which may block the calling thread for long. On a pool
/// worker, its queued actors go to other workers first and a worker is
/// added if too few would be left to run them.
pub(crate) fn blocking<T>(wait: impl FnOnce() -> T) -> T {
    let Some(local) = current_worker() else {
        // What this thread caught to run itself may be what it waits for,
        // and a turn lent to the pool must not hold the thread's duties.
        super::lent::before_wait();
        // On a dedicated actor's thread, the wait is not handler time.
        return thread_watch::waiting(wait);
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

/// Whether a worker was abandoned in a killed actor's turn: not, marked
/// (by the kill), or taken (by the worker, as it leaves).
#[derive(Default)]
pub(crate) struct Abandon(AtomicU8);

const MARKED: u8 = 1;
const TAKEN: u8 = 2;

impl Abandon {
    /// Marked or taken: the worker is on its way out.
    pub(super) fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst) != 0
    }

    /// The kill marks it; `false` if it was already.
    fn mark(&self) -> bool {
        self.0
            .compare_exchange(0, MARKED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The kill takes its mark back; `false` if the worker took it first.
    fn withdraw(&self) -> bool {
        self.0
            .compare_exchange(MARKED, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The worker, after a turn, takes the mark if there is one: then it
    /// leaves, and takes the kill's counts back.
    pub(super) fn take(&self) -> bool {
        self.0
            .compare_exchange(MARKED, TAKEN, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }
}

impl Pool {
    pub(super) fn unblocked(&self) -> usize {
        let live = self.live.load(Ordering::SeqCst);
        live.saturating_sub(self.blocked.load(Ordering::SeqCst))
    }

    /// Adds a worker if fewer than the pool's size are unblocked. Whatever
    /// lowers that count (a worker that blocks, one that is abandoned) calls
    /// this after it, and a surplus worker leaves only under the same lock
    /// ([`retire_if_surplus`](Self::retire_if_surplus)): so the count never
    /// stays below the size.
    fn add_worker_if_short(self: &Arc<Self>) {
        let sizing = lock(&self.sizing);
        self.add_worker_if_short_locked(&sizing);
    }

    fn add_worker_if_short_locked(self: &Arc<Self>, _sizing: &MutexGuard<'_, ()>) {
        if self.unblocked() < self.size && !self.stopping.load(Ordering::Acquire) {
            // A failure is logged; the pool goes on with the workers it has.
            let _ = self.add_worker();
        }
    }

    /// Takes `worker` out of the pool if it is surplus: more than the
    /// pool's size are unblocked and no work waits. Judged and done under
    /// the sizing lock, so of several idle workers that wake surplus at
    /// once, only as many leave as are surplus. (Judged without it, two
    /// could both see one too many and both leave, and a pool whose other
    /// worker waits in a handler the pool cannot see would have none left
    /// to run anything.)
    pub(super) fn retire_if_surplus(&self, worker: &Arc<WorkerShared>) -> bool {
        let _sizing = lock(&self.sizing);
        let surplus = self.unblocked() > self.size && !self.injector_waits();
        if surplus {
            self.remove_worker(worker);
        }
        surplus
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
            // Not marked now: an earlier kill abandoned it already. Marked,
            // but the worker has left the turn meanwhile (it ended the turn
            // between our look and the mark, and may have looked for the
            // mark before we set it): the mark is withdrawn, unless the
            // worker took it. Left there, the worker would stay counted
            // blocked while it idles, and a pool that then seems short of
            // nothing keeps its surplus workers parked for good
            // (stress_races blocking_chains: "surplus workers leave", once
            // in ~20 five-second runs). The SeqCst pair: we mark, then
            // look at `running`; the worker clears `running`, then takes
            // the mark: either we see it still in the turn, or it sees the
            // mark.
            if !worker.abandoned.mark()
                || (worker.running.load(Ordering::SeqCst) != id.as_u64()
                    && worker.abandoned.withdraw())
            {
                self.stuck.fetch_sub(1, Ordering::SeqCst);
                self.blocked.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            tracing::warn!(actor = %id, "pool worker abandoned in a killed actor's turn; adding a worker");
            self.add_worker_if_short();
            self.notify_one();
        }
    }
}

impl Local {
    /// This worker was replaced while it ran a killed actor: hand its work
    /// on and leave.
    pub(super) fn leave_abandoned(&self) {
        let pool = &self.pool;
        self.hand_off();
        {
            // It leaves the live and the blocked counts at once, as seen by
            // a surplus worker judging whether to leave.
            let sizing = lock(&pool.sizing);
            pool.remove_worker(&self.shared);
            pool.blocked.fetch_sub(1, Ordering::SeqCst);
            pool.stuck.fetch_sub(1, Ordering::SeqCst);
            // `actor_killed` may have looked at the counts while this worker
            // was still counted live but no longer blocked, and so added no
            // replacement: whoever looks last adds one if the pool is short.
            pool.add_worker_if_short_locked(&sizing);
        }
        tracing::debug!("abandoned pool worker returned and left");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, AtomicUsize};
    use std::sync::Barrier;
    use std::time::{Duration, Instant};

    use crossbeam_deque::Worker;
    use crossbeam_utils::sync::Parker;

    use super::*;
    use crate::executor::pool::DEFAULT_QUOTA;
    use crate::executor::watchdog::Probe;

    /// What the pool sees of a worker that has nothing to do.
    fn idle_worker() -> Arc<WorkerShared> {
        Arc::new(WorkerShared {
            stealer: Worker::new_lifo().stealer(),
            unparker: Parker::new().unparker().clone(),
            running: AtomicU64::new(0),
            abandoned: Abandon::default(),
            probe: Probe::default(),
        })
    }

    /// Idle workers wake from their keep-alive at the same instant and each
    /// judges whether it is surplus: only as many leave as there are
    /// surplus workers, never one more. (Judged apart from the leaving,
    /// all of them could leave: a pool of two whose other worker waited in
    /// a handler the pool cannot see then ran nothing at all, which is how
    /// a supervisor being asked to stop a busy child sometimes never
    /// answered under load.)
    #[test]
    fn surplus_workers_leaving_at_once_never_leave_the_pool_short() {
        // The pool's counts alone, with no thread of its own that could
        // wake and judge too: its workers are stopped first.
        let pool = Pool::start(2, DEFAULT_QUOTA, None, None).expect("a pool");
        pool.stop(Instant::now() + Duration::from_secs(10));
        assert_eq!(pool.workers(), 0);
        // A long list of workers to look through makes leaving take a
        // while (as in a pool that grew large), and so gives the other
        // judges time to look at the counts meanwhile.
        pool.workers
            .write()
            .expect("not poisoned")
            .extend((0..4096).map(|_| idle_worker()));
        const ROUNDS: usize = 5_000;
        // Each round the pool counts its 2 workers plus 2 idle ones, and
        // 8 workers wake at once and judge.
        let (surplus, contenders) = (2, 8);
        let (start, end) = (Barrier::new(contenders + 1), Barrier::new(contenders + 1));
        let left = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..contenders {
                scope.spawn(|| {
                    for _ in 0..ROUNDS {
                        let worker = idle_worker();
                        start.wait();
                        if pool.retire_if_surplus(&worker) {
                            left.fetch_add(1, Ordering::SeqCst);
                        }
                        end.wait();
                    }
                });
            }
            for round in 0..ROUNDS {
                pool.live.store(2 + surplus, Ordering::SeqCst);
                left.store(0, Ordering::SeqCst);
                start.wait();
                end.wait();
                let (left, live) = (left.load(Ordering::SeqCst), pool.workers());
                if (left, live) != (surplus, 2) {
                    // Let the judges finish their rounds before failing.
                    pool.live.store(0, Ordering::SeqCst);
                    for _ in round + 1..ROUNDS {
                        start.wait();
                        end.wait();
                    }
                    panic!(
                        "round {round}: {left} workers left, {live} counted, not {surplus} and 2"
                    );
                }
            }
        });
    }
}
