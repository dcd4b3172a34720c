//! Where work waits and how workers find it: each worker's LIFO queue,
//! the injector (FIFO), and stealing between them.
//!
//! Apart from the workers because this is the scheduling policy (the
//! request-reply fast path, fairness against chatty pairs), which a reader
//! tunes without touching the threads.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_deque::{Steal, Worker};

use super::worker::{current_worker, Local, WorkerShared};
use super::Pool;
use crate::actor::Actor;
use crate::address::{Core, Driver};
use crate::cell::ActorCell;

/// Turns a worker takes from the top of its queue before it takes the oldest.
pub(crate) const LIFO_STREAK: u32 = 16;
/// How often (in turns) a worker looks at the injector first.
const INJECTOR_EVERY: u32 = 61;

impl Pool {
    /// Whether actors wait in the injector (the shared queue).
    pub(crate) fn injector_waits(&self) -> bool {
        !self.injector.is_empty()
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
    pub(super) fn hand_off(&self) {
        let mut moved = false;
        while let Some(core) = self.queue.pop() {
            self.pool.injector.push(core);
            moved = true;
        }
        if moved {
            self.pool.notify_one();
        }
    }

    pub(super) fn find_work(&self) -> Option<Arc<Core>> {
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
}
