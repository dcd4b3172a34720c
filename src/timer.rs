//! Timers: one thread per system (started on first use) delivers messages
//! at their deadlines.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::address::ActorRef;
use crate::mailbox::Envelope;

/// Identifies a pending timer, for [`Context::cancel_timer`](crate::Context::cancel_timer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerRef(u64);

struct Pending {
    to: ActorRef,
    /// The timer is dropped if its owner has terminated.
    owner: Option<ActorRef>,
    envelope: Envelope,
}

#[derive(Default)]
struct Schedule {
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    pending: HashMap<u64, Pending>,
    next: u64,
    stopping: bool,
}

#[derive(Default)]
pub(crate) struct Timers {
    schedule: Mutex<Schedule>,
    changed: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Timers {
    fn lock(&self) -> MutexGuard<'_, Schedule> {
        self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn schedule(
        self: &Arc<Self>,
        delay: Duration,
        to: ActorRef,
        owner: Option<ActorRef>,
        envelope: Envelope,
    ) -> TimerRef {
        let id = {
            let mut schedule = self.lock();
            schedule.next += 1;
            let id = schedule.next;
            if schedule.stopping {
                return TimerRef(id);
            }
            schedule
                .deadlines
                .push(Reverse((Instant::now() + delay, id)));
            schedule.pending.insert(
                id,
                Pending {
                    to,
                    owner,
                    envelope,
                },
            );
            id
        };
        self.ensure_thread();
        self.changed.notify_one();
        TimerRef(id)
    }

    pub fn cancel(&self, timer: TimerRef) -> bool {
        self.lock().pending.remove(&timer.0).is_some()
    }

    fn ensure_thread(self: &Arc<Self>) {
        let mut thread = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        if thread.is_some() {
            return;
        }
        let timers = Arc::clone(self);
        match std::thread::Builder::new()
            .name("ferrotp-timers".into())
            .spawn(move || timers.run())
        {
            Ok(handle) => *thread = Some(handle),
            Err(error) => {
                tracing::error!(%error, "could not start the timer thread; timers are dropped");
                self.lock().pending.clear();
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
                if let Some(pending) = schedule.pending.remove(&id) {
                    due.push(pending);
                }
            }
            if !due.is_empty() {
                drop(schedule);
                for pending in due {
                    let owner_gone = pending.owner.as_ref().is_some_and(|o| !o.is_alive());
                    if !owner_gone {
                        pending.to.core.deliver(pending.envelope);
                    }
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
        {
            let mut schedule = self.lock();
            schedule.stopping = true;
            schedule.pending.clear();
            schedule.deadlines.clear();
        }
        self.changed.notify_all();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}
