//! Idle workers: searching briefly, parking, and waking one when work
//! comes — without a wake-up per message.
//!
//! Apart from the run queue because it is the pool's other half of the
//! bargain: the fences here pair with the queues' so that no work is
//! queued while every worker sleeps.

use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::worker::Local;
use super::{lock, Pool};
use crate::address::Core;
use crate::spin::SpinWait;

/// Looks for work an idle worker takes before it parks: each costs a
/// look at the queues (about 100 ns), so some 13 µs in all.
const WORKER_POLLS: u32 = 128;

/// How long a worker beyond the pool's size stays parked before it leaves.
pub(crate) const SURPLUS_KEEP_ALIVE: Duration = Duration::from_secs(1);

impl Pool {
    /// Wakes a parked worker to look for work (the watchdog saw some wait
    /// behind a long turn), unless one is searching already.
    pub(crate) fn wake_idle_worker(&self) {
        self.notify_one();
    }

    /// Wakes one parked worker, unless one is searching already (it will
    /// find the work) or none is parked.
    pub(super) fn notify_one(&self) {
        // Pairs with the fence in `park`: either this sees the sleeper, or
        // the sleeper's last look sees the work just queued.
        fence(Ordering::SeqCst);
        let searchers = &self.searchers;
        if searchers.searching.load(Ordering::SeqCst) > 0
            || searchers.sleeping.load(Ordering::SeqCst) == 0
        {
            return;
        }
        let sleeper = {
            let mut sleepers = lock(&self.sleepers);
            let sleeper = sleepers.pop();
            searchers.sleeping.store(sleepers.len(), Ordering::SeqCst);
            sleeper
        };
        if let Some(worker) = sleeper {
            worker.unparker.unpark();
        }
    }
}

impl Local {
    /// Looks for work a few more times before parking costs a sleep and a
    /// wake-up: after each pause (see [`SpinWait`]), so that a request
    /// that comes a moment after this worker ran out of work (the next
    /// call of a plain thread, the next message of a producer) is taken
    /// at once. Meanwhile this worker counts as searching, which spares
    /// new work a wake-up.
    pub(super) fn spin_for_work(&self) -> Option<Arc<Core>> {
        // Counted in as its last turn ended (see `Local::run`), this
        // worker has not looked since: it looks fully at once.
        let mut found = match self.searching.get() {
            true => self.find_work(),
            false => {
                self.start_searching();
                None
            }
        };
        let wait = SpinWait::new(WORKER_POLLS);
        let mut looks = 0u32;
        while found.is_none() && wait.pause() {
            looks = looks.wrapping_add(1);
            found = self.look_for_work(looks);
        }
        self.stop_searching(found.is_some());
        found
    }

    /// Counts this worker among the searchers: from now on, work queued
    /// from outside the pool may be handed to it through the slot, and
    /// wakes no parked worker. It looks for work next.
    pub(super) fn start_searching(&self) {
        if !self.searching.replace(true) {
            self.pool.searchers.searching.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Counts this worker out of the searchers; `took` says it goes on to
    /// run (or, abandoned, to leave) rather than to park. Work that came
    /// while no one else looked, if more waits than it took, goes to
    /// another worker. Looked at after this worker stopped counting as
    /// searching (the fences pair with `notify_one`'s): work queued later
    /// wakes a worker itself. A lone request, the common case, so wakes
    /// no one, where a wake-up would cost a syscall here and a thread
    /// spinning for nothing on a core the request's answer needs. (One
    /// that parks looks again once it is listed as a sleeper.)
    pub(super) fn stop_searching(&self, took: bool) {
        let pool = &self.pool;
        self.searching.set(false);
        let last = pool.searchers.searching.fetch_sub(1, Ordering::SeqCst) == 1;
        if took && last {
            fence(Ordering::SeqCst);
            if !self.queue.is_empty() || !pool.injector.is_empty() || pool.searchers.has_next() {
                pool.notify_one();
            }
        }
    }

    /// Parks until woken; `false` if this surplus worker has left the
    /// pool (it is no longer counted: its thread just ends).
    pub(super) fn park(&self) -> bool {
        let pool = &self.pool;
        // Asleep, the end of its last turn is no longer now.
        self.last_turn_end.set(0);
        {
            let mut sleepers = lock(&pool.sleepers);
            sleepers.push(self.shared.clone());
            pool.searchers
                .sleeping
                .store(sleepers.len(), Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        let work_waits = !pool.injector.is_empty()
            || pool.searchers.has_next()
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
            pool.searchers
                .sleeping
                .store(sleepers.len(), Ordering::SeqCst);
        }
        !(surplus && pool.retire_if_surplus(&self.shared))
    }
}
