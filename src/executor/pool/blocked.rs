//! Workers that block or are stuck: a handler waiting in [`blocking`], or
//! a killed actor's handler that never returns. The pool adds workers in
//! their place so actors that wait on each other cannot deadlock it.
//!
//! Apart from the worker loop because it is about the pool's size, not
//! about running turns.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::worker::{current_worker, Local};
use super::Pool;
use crate::address::ActorId;
use crate::executor::long_handler;
use crate::introspect::restart_turn_ms;

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

impl Pool {
    pub(super) fn unblocked(&self) -> usize {
        let live = self.live.load(Ordering::SeqCst);
        live.saturating_sub(self.blocked.load(Ordering::SeqCst))
    }

    fn add_worker_if_short(self: &Arc<Self>) {
        if self.unblocked() < self.size && !self.stopping.load(Ordering::Acquire) {
            // A failure is logged; the pool goes on with the workers it has.
            let _ = self.add_worker();
        }
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
}

impl Local {
    /// This worker was replaced while it ran a killed actor: hand its work
    /// on and leave.
    pub(super) fn leave_abandoned(&self) {
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
