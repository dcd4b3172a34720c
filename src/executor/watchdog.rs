//! The pool's watchdog: a thread that looks at the workers every
//! millisecond while turns run, like Go's `sysmon`.
//!
//! A pool worker cannot be preempted: while a handler computes, the actors
//! queued behind its turn wait. Most of the time that is what we want: the
//! actor a short handler wakes runs right after it, on the same core,
//! without waking another worker. The watchdog makes the exception safe.
//! When it sees a worker still in the same turn as one tick ago with actors
//! in its queue, it wakes a parked worker, which steals them (every worker's
//! queue is open to thieves, the top included: there is no slot only its
//! owner can take, the trap Tokio's LIFO slot fell into). So no runnable
//! actor waits more than about two ticks while a worker idles, whatever the
//! running handler does.
//!
//! It also times handlers: one that has run past the system's
//! [`long_handler`](crate::SystemBuilder::long_handler) threshold is
//! flagged, and its worker reports it when it returns
//! ([`super::long_handler`]).
//!
//! It costs nothing while the pool idles: after [`IDLE_TICKS`] ticks with
//! no turn running it parks, and the next turn to start wakes it.

use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_utils::sync::{Parker, Unparker};

use super::pool::{Pool, WorkerShared};

/// How often the watchdog looks while turns run.
pub(crate) const TICK: Duration = Duration::from_millis(1);
/// Ticks without a running turn before the watchdog parks.
const IDLE_TICKS: u32 = 10;

/// What a watcher sees of one thread that runs handlers: a pool worker,
/// for the watchdog, or a dedicated actor's thread, for the thread watch
/// ([`super::thread_watch`]). The thread writes it (plain stores of its own
/// counters, no read-modify-write), the watcher reads it.
#[derive(Default)]
pub(crate) struct Probe {
    /// Turns started (pool workers only).
    turns: AtomicU64,
    /// Handlers started (and restarts of the clock after a wait).
    handlers: AtomicU64,
    /// In a wait the pool knows of ([`super::pool::blocking`]): not
    /// running, for the clock.
    waiting: AtomicBool,
    /// The `handlers` count of a handler found running long (0: none).
    long: AtomicU64,
    /// When the watchdog first saw that handler, in nanoseconds since the
    /// pool's epoch.
    long_since: AtomicU64,
}

impl Probe {
    pub fn turn_started(&self) {
        let n = self.turns.load(Ordering::Relaxed);
        self.turns.store(n.wrapping_add(1), Ordering::Relaxed);
    }

    /// A handler starts on this worker: its clock starts.
    #[inline]
    pub fn handler_started(&self) {
        let n = self.handlers.load(Ordering::Relaxed);
        self.handlers.store(n.wrapping_add(1), Ordering::Relaxed);
    }

    /// The worker enters (`true`) or leaves a wait the pool knows of; the
    /// clock restarts when it leaves, so waiting does not count as running.
    pub fn waiting(&self, waiting: bool) {
        if !waiting {
            self.handler_started();
        }
        self.waiting.store(waiting, Ordering::Relaxed);
    }

    /// At the end of a handler: how long it ran, if the watchdog found it
    /// running long. (Measured from the tick that first saw it, so up to
    /// one tick short.)
    #[inline]
    pub fn handler_ended(&self, epoch: Instant) -> Option<Duration> {
        // Inlined: the common answer (not long) is two loads.
        let n = self.handlers.load(Ordering::Relaxed);
        if self.long.load(Ordering::Acquire) != n {
            return None;
        }
        self.long_handler_ended(epoch)
    }

    /// One look by a watcher at `now`, which remembers in `seen` the
    /// handler it saw running and since when: flags that handler long once
    /// it has run `threshold` since the watcher first saw it, for the
    /// thread to report when it returns. `true` while the thread is in a
    /// handler not yet flagged (one to look at again); `false` while it
    /// waits, or its handler is flagged (its end is the thread's to tell).
    pub fn look(
        &self,
        seen: &mut Option<(u64, Instant)>,
        now: Instant,
        threshold: Option<Duration>,
        epoch: Instant,
    ) -> bool {
        if self.waiting.load(Ordering::Relaxed) {
            *seen = None;
            return false;
        }
        let handler = self.handlers.load(Ordering::Relaxed);
        let since = match *seen {
            Some((n, since)) if n == handler => since,
            _ => {
                *seen = Some((handler, now));
                return true;
            }
        };
        if self.long.load(Ordering::Relaxed) == handler {
            return false;
        }
        match threshold {
            Some(threshold) if now.duration_since(since) >= threshold => {
                let nanos = since.duration_since(epoch).as_nanos();
                self.long_since
                    .store(u64::try_from(nanos).unwrap_or(u64::MAX), Ordering::Relaxed);
                self.long.store(handler, Ordering::Release);
                false
            }
            _ => true,
        }
    }

    /// [`handler_ended`](Self::handler_ended) for a handler the watchdog
    /// found running long.
    #[cold]
    #[inline(never)]
    fn long_handler_ended(&self, epoch: Instant) -> Option<Duration> {
        self.long.store(0, Ordering::Relaxed);
        let since = Duration::from_nanos(self.long_since.load(Ordering::Relaxed));
        Some(epoch.elapsed().saturating_sub(since))
    }
}

/// The pool's handle on its watchdog thread.
pub(crate) struct Watchdog {
    asleep: AtomicBool,
    unparker: Unparker,
}

impl Watchdog {
    /// A watchdog and the parker its thread sleeps on.
    pub fn new() -> (Self, Parker) {
        let parker = Parker::new();
        let watchdog = Watchdog {
            asleep: AtomicBool::new(false),
            unparker: parker.unparker().clone(),
        };
        (watchdog, parker)
    }

    /// A turn started (after its worker published it in `running`): wakes
    /// the watchdog if it sleeps.
    pub fn turn_started(&self) {
        // Pairs with the fence in `sleep`: either the watchdog sees the
        // running turn, or this sees it asleep.
        if self.asleep.load(Ordering::SeqCst) && self.asleep.swap(false, Ordering::SeqCst) {
            self.unparker.unpark();
        }
    }

    /// Wakes the watchdog thread (to see that the pool stops).
    pub fn wake(&self) {
        self.unparker.unpark();
    }
}

/// What the watchdog remembers of one worker between ticks.
struct Seen {
    worker: Arc<WorkerShared>,
    /// The turn running at the last tick (`None`: none was).
    turn: Option<u64>,
    /// The handler running at the last tick, and when it was first seen.
    handler: Option<(u64, Instant)>,
}

/// The watchdog thread's body: ticks while turns run, parks when none do,
/// returns when the pool stops.
pub(crate) fn watch(pool: Arc<Pool>, parker: Parker) {
    let mut seen: Vec<Seen> = Vec::new();
    let mut idle_ticks = 0;
    while !pool.is_stopping() {
        parker.park_timeout(TICK);
        if pool.is_stopping() {
            break;
        }
        if tick(&pool, &mut seen) {
            idle_ticks = 0;
        } else {
            idle_ticks += 1;
            if idle_ticks >= IDLE_TICKS {
                sleep(&pool, &parker);
                idle_ticks = 0;
            }
        }
    }
}

/// Parks until a turn starts (or the pool stops).
fn sleep(pool: &Pool, parker: &Parker) {
    let watchdog = pool.watchdog();
    watchdog.asleep.store(true, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    let running = pool.with_workers(|workers| workers.iter().any(|w| w.running() != 0))
        || pool.lent_turns_run();
    if !running && !pool.is_stopping() {
        parker.park();
    }
    watchdog.asleep.store(false, Ordering::SeqCst);
}

/// One look at every worker; `true` if some turn runs.
fn tick(pool: &Pool, seen: &mut Vec<Seen>) -> bool {
    let now = Instant::now();
    let threshold = pool.long_handler();
    let mut any_running = false;
    let mut stuck = 0;
    pool.with_workers(|workers| {
        seen.retain(|s| workers.iter().any(|w| Arc::ptr_eq(w, &s.worker)));
        for worker in workers {
            if !seen.iter().any(|s| Arc::ptr_eq(&s.worker, worker)) {
                seen.push(Seen {
                    worker: worker.clone(),
                    turn: None,
                    handler: None,
                });
            }
        }
    });
    for s in seen.iter_mut() {
        let probe = s.worker.probe();
        if s.worker.running() == 0 {
            s.turn = None;
            s.handler = None;
            continue;
        }
        any_running = true;
        // The same turn as a tick ago, with actors queued behind it (in
        // its queue, or in the injector: a wake-up for those can be lost
        // when the worker that was searching then is the one held now),
        // an idle worker must take them.
        let turn = probe.turns.load(Ordering::Relaxed);
        if s.turn == Some(turn) && (s.worker.has_queued() || pool.injector_waits()) {
            stuck += 1;
        }
        s.turn = Some(turn);

        probe.look(&mut s.handler, now, threshold, pool.epoch());
    }
    for _ in 0..stuck {
        pool.wake_idle_worker();
    }
    // Plain threads' turns (`System::run_woken`): relieved when long.
    pool.tick_lent() || any_running
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_pool_puts_its_watchdog_to_sleep() {
        let pool = Pool::start(2, 64, None, Some(Duration::from_millis(100))).unwrap();
        // A watchdog that kept ticking would cost an idle program a wake-up
        // every millisecond.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pool.watchdog().asleep.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the watchdog never slept");
            std::thread::sleep(TICK);
        }
        pool.stop(Instant::now() + Duration::from_secs(10));
    }
}
