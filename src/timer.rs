//! Timers: one thread per system (started on first use) delivers messages,
//! and the kills of [`ActorRef::exit_or_kill`], at their deadlines.
//!
//! Memory stays proportional to the timers pending now, not to the timers
//! ever armed: a cancelled timer, or one whose actor has terminated, is
//! removed from the table at once, and the deadline heap drops its stale
//! entries once they outnumber the live ones (amortised O(1) per timer).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{fence, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::address::{sender_was_killed, ActorId, ActorRef, Core};
use crate::exit::ExitReason;
use crate::mailbox::Envelope;

/// Identifies a pending timer, for [`Context::cancel_timer`](crate::Context::cancel_timer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerRef(u64);

impl ActorRef {
    /// Asks the actor to exit with `reason`, and kills it if it is still
    /// alive after `timeout`: a shutdown with a deadline, as a supervisor
    /// stops a child.
    ///
    /// The exit signal is the one [`exit`](Self::exit) sends. The kill is
    /// owned by the system's timer thread, not by the caller: it happens at
    /// the deadline even if the caller has terminated, been killed or is
    /// stuck by then, so an actor that began to shut another down can never
    /// leave it running forever. It is dropped as soon as the target
    /// terminates, and can be called off with
    /// [`System::cancel_timer`](crate::System::cancel_timer). Inside an
    /// actor, [`Context::exit_or_kill`](crate::Context::exit_or_kill) names
    /// the sender of the signal. Called from a killed actor's thread, it does
    /// nothing (like every send of a killed actor).
    ///
    /// ```
    /// use ferrotp::{Actor, ExitReason, Handlers, System};
    /// use std::time::Duration;
    ///
    /// struct Idle;
    /// impl Actor for Idle {
    ///     fn handlers() -> Handlers<Self> { Handlers::new() }
    /// }
    ///
    /// let system = System::new();
    /// let inbox = system.inbox();
    /// let idle = system.spawn(Idle);
    /// inbox.monitor(&idle);
    /// idle.exit_or_kill(ExitReason::Shutdown, Duration::from_secs(5));
    /// let down = inbox.recv(Duration::from_secs(10)).unwrap();
    /// assert_eq!(down.downcast::<ferrotp::Down>().unwrap().reason, ExitReason::Shutdown);
    /// ```
    pub fn exit_or_kill(&self, reason: ExitReason, timeout: Duration) -> TimerRef {
        self.exit_or_kill_from(ActorId::EXTERNAL, reason, timeout)
    }

    pub(crate) fn exit_or_kill_from(
        &self,
        from: ActorId,
        reason: ExitReason,
        timeout: Duration,
    ) -> TimerRef {
        if sender_was_killed() {
            tracing::debug!(actor = %self.id(), %reason, "exit_or_kill from a killed actor discarded");
            return TimerRef(0);
        }
        // Armed before the signal is sent: whatever happens to the caller
        // from here on, the deadline stands.
        let timers = &self.core.system.timers;
        let kill = timers.schedule(timeout, Action::Kill(self.clone()), Some(&self.core));
        self.exit_from(from, reason);
        kill
    }
}

/// What a timer does at its deadline.
pub(crate) enum Action {
    /// Delivers `envelope` to `to`.
    Send { to: ActorRef, envelope: Envelope },
    /// Kills the actor if it is still alive.
    Kill(ActorRef),
}

struct Pending {
    action: Action,
    /// The actor whose end makes this timer moot: the owner of a message
    /// timer, the target of a kill. The timer is dropped when it terminates.
    bound_to: Option<ActorId>,
}

#[derive(Default)]
struct Schedule {
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    pending: HashMap<u64, Pending>,
    /// The pending timers bound to each actor.
    by_actor: HashMap<ActorId, HashSet<u64>>,
    next: u64,
    stopping: bool,
}

/// Below this many entries, the tables are never compacted.
const COMPACT_FLOOR: usize = 64;

impl Schedule {
    /// Takes timer `id` out of the tables; its deadline entry goes stale.
    fn remove(&mut self, id: u64) -> Option<Pending> {
        let pending = self.pending.remove(&id)?;
        if let Some(actor) = pending.bound_to {
            if let Some(ids) = self.by_actor.get_mut(&actor) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.by_actor.remove(&actor);
                }
            }
        }
        Some(pending)
    }

    /// Drops stale deadline entries once they outnumber the live ones, and
    /// gives back the tables' spare capacity after a peak: each pass costs
    /// O(live) and follows at least as many removals, so it is amortised O(1).
    fn compact(&mut self) {
        let live = self.pending.len();
        if self.deadlines.len() > 2 * live + COMPACT_FLOOR {
            let pending = &self.pending;
            self.deadlines
                .retain(|Reverse((_, id))| pending.contains_key(id));
            self.deadlines.shrink_to(2 * live + COMPACT_FLOOR);
        }
        if self.pending.capacity() > 4 * live + COMPACT_FLOOR {
            self.pending.shrink_to(2 * live + COMPACT_FLOOR);
        }
        if self.by_actor.capacity() > 4 * self.by_actor.len() + COMPACT_FLOOR {
            self.by_actor
                .shrink_to(2 * self.by_actor.len() + COMPACT_FLOOR);
        }
    }
}

#[derive(Default)]
pub(crate) struct Timers {
    schedule: Mutex<Schedule>,
    changed: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Timers {
    fn lock(&self) -> MutexGuard<'_, Schedule> {
        // Nothing panics while the lock is held (payloads are dropped after
        // it is released); a poisoned lock still holds consistent tables.
        self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms a timer. `bound_to`: the actor whose termination cancels it.
    pub fn schedule(
        self: &Arc<Self>,
        delay: Duration,
        action: Action,
        bound_to: Option<&Arc<Core>>,
    ) -> TimerRef {
        if let Some(core) = bound_to {
            // Pairs with the fence in `actor_ended`: either that actor's end
            // sees this flag and removes the timer, or the check below sees
            // the actor dead and never inserts it.
            core.timers_bound.store(true, Ordering::SeqCst);
            fence(Ordering::SeqCst);
        }
        let (id, refused, earliest) = {
            let mut schedule = self.lock();
            schedule.next += 1;
            let id = schedule.next;
            if schedule.stopping || bound_to.is_some_and(|core| core.is_dead()) {
                (id, Some(action), false)
            } else {
                let deadline = Instant::now() + delay;
                // The thread sleeps until the earliest deadline: only an
                // earlier one needs to wake it (a wake-up is a thread switch).
                let earliest = schedule
                    .deadlines
                    .peek()
                    .map_or(true, |Reverse((first, _))| deadline < *first);
                schedule.deadlines.push(Reverse((deadline, id)));
                let bound = bound_to.map(|core| core.id);
                if let Some(actor) = bound {
                    schedule.by_actor.entry(actor).or_default().insert(id);
                }
                schedule.pending.insert(
                    id,
                    Pending {
                        action,
                        bound_to: bound,
                    },
                );
                (id, None, earliest)
            }
        };
        match refused {
            Some(action) => drop_guarded(action),
            None => {
                self.ensure_thread();
                if earliest {
                    self.changed.notify_one();
                }
            }
        }
        TimerRef(id)
    }

    pub fn cancel(&self, timer: TimerRef) -> bool {
        let removed = {
            let mut schedule = self.lock();
            let removed = schedule.remove(timer.0);
            schedule.compact();
            removed
        };
        match removed {
            Some(pending) => {
                drop_guarded(pending.action);
                true
            }
            None => false,
        }
    }

    /// Drops the timers bound to `core`, which has just been marked dead.
    /// Called by every termination; costs one atomic load for an actor that
    /// never had a timer.
    pub fn actor_ended(&self, core: &Core) {
        // Pairs with the fence in `schedule` (see there).
        fence(Ordering::SeqCst);
        if !core.timers_bound.load(Ordering::SeqCst) {
            return;
        }
        let dropped: Vec<Pending> = {
            let mut schedule = self.lock();
            let ids = schedule.by_actor.remove(&core.id).unwrap_or_default();
            let dropped = ids
                .into_iter()
                .filter_map(|id| schedule.pending.remove(&id))
                .collect();
            schedule.compact();
            dropped
        };
        for pending in dropped {
            drop_guarded(pending.action);
        }
    }

    /// Starts the timer thread unless it runs; a thread that died (it
    /// should not: every payload's drop is guarded) is replaced.
    fn ensure_thread(self: &Arc<Self>) {
        let mut thread = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = thread.as_ref() {
            if !handle.is_finished() {
                return;
            }
            tracing::error!("the timer thread had died; starting a new one");
        }
        let timers = Arc::clone(self);
        match std::thread::Builder::new()
            .name("ferrotp-timers".into())
            .spawn(move || timers.run())
        {
            Ok(handle) => *thread = Some(handle),
            Err(error) => {
                tracing::error!(%error, "could not start the timer thread; timers are dropped");
                *thread = None;
                let dropped: Vec<Pending> = {
                    let mut schedule = self.lock();
                    schedule.deadlines.clear();
                    schedule.by_actor.clear();
                    schedule.pending.drain().map(|(_, p)| p).collect()
                };
                for pending in dropped {
                    drop_guarded(pending.action);
                }
            }
        }
    }

    fn run(&self) {
        let mut schedule = self.lock();
        loop {
            if schedule.stopping {
                return;
            }
            let now = Instant::now();
            let mut due = Vec::new();
            while let Some(Reverse((deadline, id))) = schedule.deadlines.peek().copied() {
                if deadline > now {
                    break;
                }
                schedule.deadlines.pop();
                if let Some(pending) = schedule.remove(id) {
                    due.push(pending);
                }
            }
            if !due.is_empty() {
                drop(schedule);
                for pending in due {
                    fire(pending.action);
                }
                schedule = self.lock();
                continue;
            }
            schedule = match schedule.deadlines.peek() {
                Some(Reverse((deadline, _))) => {
                    let wait = deadline.saturating_duration_since(now);
                    self.changed
                        .wait_timeout(schedule, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self
                    .changed
                    .wait(schedule)
                    .unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    /// Drops every pending timer and joins the timer thread.
    pub fn stop(&self) {
        let dropped: Vec<Pending> = {
            let mut schedule = self.lock();
            schedule.stopping = true;
            schedule.deadlines.clear();
            schedule.by_actor.clear();
            schedule.pending.drain().map(|(_, p)| p).collect()
        };
        for pending in dropped {
            drop_guarded(pending.action);
        }
        self.changed.notify_all();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// How many timers are pending and how many deadline entries are kept
    /// (for tests of the memory bound).
    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        let schedule = self.lock();
        (schedule.pending.len(), schedule.deadlines.len())
    }
}

/// Carries out a due timer. A message whose owner has terminated is dropped;
/// a kill of a dead actor does nothing. Whatever a payload's `Drop` does,
/// the timer thread goes on.
fn fire(action: Action) {
    let result = crate::panic::guard(|| match action {
        Action::Send { to, envelope } => {
            let owner_gone = envelope.sender.as_ref().is_some_and(|o| !o.is_alive());
            if owner_gone {
                drop(envelope);
            } else {
                to.core.deliver(envelope);
            }
        }
        Action::Kill(actor) => {
            if actor.is_alive() {
                tracing::debug!(actor = %actor.id(), "deadline passed: killing");
                actor.kill();
            }
        }
    });
    if let Err(panic) = result {
        tracing::error!(%panic, "a timer's message panicked while it was dropped");
    }
}

/// Drops a timer that will not fire, catching a panic in its payload's `Drop`.
fn drop_guarded(action: Action) {
    if let Err(panic) = crate::panic::guard(move || drop(action)) {
        tracing::error!(%panic, "a timer's message panicked while it was dropped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::System;

    #[test]
    fn cancelled_timers_leave_a_bounded_heap() {
        let system = System::new();
        let inbox = system.inbox();
        let timers = &system.inner().timers;
        for _ in 0..100_000 {
            let timer = system.send_after(Duration::from_secs(3600), inbox.actor(), 1u8);
            assert!(system.cancel_timer(timer));
        }
        let (pending, deadlines) = timers.sizes();
        assert_eq!(pending, 0);
        assert!(deadlines <= 2 * pending + COMPACT_FLOOR, "{deadlines} kept");
    }

    #[test]
    fn a_dead_timer_thread_is_replaced_by_the_next_schedule() {
        let system = System::new();
        let inbox = system.inbox();
        let timers = &system.inner().timers;
        // Stand in for a thread that died: a finished one.
        let finished = std::thread::spawn(|| {});
        while !finished.is_finished() {
            std::thread::yield_now();
        }
        *timers.thread.lock().unwrap() = Some(finished);
        system.send_after(Duration::from_millis(1), inbox.actor(), 7u8);
        let got = inbox
            .recv(Duration::from_secs(10))
            .expect("the timer fired");
        assert_eq!(got.downcast::<u8>().ok(), Some(7));
    }
}
