//! Termination: closing an actor's [`Core`] exactly once, then telling the
//! world — name freed, `Stopped` to its stopper, exit signals along links,
//! `Down` to watchers.
//!
//! Apart from delivery because its order is the contract (the name is free
//! and the state dropped before anyone hears of the end), and a `kill`
//! from any thread races the actor's own end through it.

use std::sync::atomic::Ordering;

use super::core::DEAD;
use super::current::sending_here;
use super::{ActorId, Core};
use crate::events::LifecycleEvent;
use crate::exit::{Down, ExitReason, Stopped};
use crate::links::Ties;
use crate::mailbox::{Envelope, ExitSignal};
use crate::start_ack::StartWaiter;

impl Core {
    /// Marks the actor dead and tells the world, exactly once: frees its
    /// name, forgets it in the system's table, answers the sender of the
    /// `Stop` it is handling (if any) with `Stopped`, drops the monitors it
    /// holds, then sends exit signals along its links and `Down` to its
    /// watchers. Returns `false` if the actor was already dead.
    pub fn close(&self, reason: &ExitReason) -> bool {
        match self.begin_close(reason, false) {
            Some(closing) => {
                self.tell_the_end(closing, reason);
                true
            }
            None => false,
        }
    }

    /// The first step of a kill: marks the actor killed and dead, if this
    /// kill is the one that terminates it (decided under the relations
    /// lock, where `closed` is set, so `killed` is set if and only if it
    /// did). [`finish_kill`](Self::finish_kill) tells the world. Apart so
    /// that a kill made by an actor can decide inside its own send (see
    /// `ActorRef::kill`) and wait for the target's sends outside it.
    pub(crate) fn begin_kill(&self) -> Option<Closing> {
        self.begin_close(&ExitReason::Killed, true)
    }

    /// The second step of a kill: once no send of the actor's thread that
    /// began before the kill is under way, tells the world as `close` does.
    pub(crate) fn finish_kill(&self, closing: Closing) {
        self.wait_for_sends();
        self.tell_the_end(closing, &ExitReason::Killed);
    }

    /// Marks the actor dead, exactly once: `None` if it was already.
    fn begin_close(&self, reason: &ExitReason, by_kill: bool) -> Option<Closing> {
        let mut rel = self.relations();
        if rel.closed {
            return None;
        }
        if by_kill {
            // Before `DEAD`: whoever sees the actor dead sees its
            // thread's later sends void. Sequentially consistent: one
            // half of the pair with `sending` (see `as_sender`).
            self.killed.store(true, Ordering::SeqCst);
        }
        self.status.store(DEAD, Ordering::Release);
        rel.set_end(reason);
        let announced = rel.announced;
        let (held_name, start_waiter, ties) = rel.take_all();
        Some(Closing {
            held_name,
            start_waiter,
            ties,
            announced,
        })
    }

    /// Tells the world of the end `begin_close` decided.
    fn tell_the_end(&self, closing: Closing, reason: &ExitReason) {
        let Closing {
            held_name,
            start_waiter,
            ties,
            announced,
        } = closing;
        // Senders waiting for room go now: the mailbox of an actor killed
        // in a stuck handler closes only if that handler returns.
        self.mailbox.wake_senders();
        // Its pending timers go now, not at their deadlines.
        self.system.timers.actor_ended(self);
        // Its tasks are aborted before anyone hears of its end. (A task
        // registered before `closed` was set shows here; none after.)
        #[cfg(feature = "tokio")]
        if self.tasks_bound.load(Ordering::Acquire) {
            self.system.tasks.actor_ended(self.id);
        }
        let name = held_name.as_deref();
        if let Some(name) = name {
            self.system
                .registry
                .release(name, self.id, &self.system.events);
        }
        // It leaves its groups as its name goes: before anyone is told.
        self.system.groups.actor_ended(self.id);
        self.system.forget(self.id);
        // A spawner waiting for `started` learns of the failure like anyone
        // told of an end: once the name is free and the actor is forgotten.
        if let Some(waiter) = start_waiter {
            waiter.answer(self.id, Err(reason.clone()));
        }
        // Only what was announced as spawned is announced as exited: an
        // inbox (a `Bridge::call`, a probe) or a refused spawn is no actor.
        if announced {
            log_exit(self.id, name, reason);
            self.system.events.emit(|| LifecycleEvent::Exited {
                actor: self.id,
                name: held_name.clone(),
                reason: reason.clone(),
            });
        }

        // Most of a million actors stopped at once have no ties at all.
        if let Some(ties) = ties {
            (*ties).notify_end(self.id, name, reason);
        }
    }
}

/// What closing an actor took from it, to tell the world of its end with.
pub(crate) struct Closing {
    held_name: Option<String>,
    start_waiter: Option<StartWaiter>,
    ties: Option<Box<Ties>>,
    announced: bool,
}

impl Core {
    /// Waits until no send of the actor's thread that began before the
    /// kill is under way (one that began after it sees `killed` and is
    /// void): what the actor sent before its end arrives before the
    /// notices of the end. A send takes a few hundred nanoseconds, unless
    /// it waits for room in a full bounded mailbox, at most until its
    /// deadline. Not from inside a send (a function address's code a
    /// delivery runs), which could be the very send waited for.
    fn wait_for_sends(&self) {
        if sending_here() {
            return;
        }
        let mut looks = 0u32;
        while self.sending.load(Ordering::SeqCst) != 0 {
            looks += 1;
            if looks < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

impl Ties {
    /// Tells those tied to actor `id` that it ended with `reason`.
    fn notify_end(self, id: ActorId, name: Option<&str>, reason: &ExitReason) {
        let ties = self;
        if let Some(stopper) = ties.stopper {
            let stopped = Stopped {
                actor: id,
                reason: reason.clone(),
            };
            stopper.core.enqueue(Envelope::new(stopped, None));
        }
        for (monitor, target) in ties.watching {
            target.core.relations().ties().watchers.remove(&monitor);
        }
        for (_, link) in ties.links {
            tracing::debug!(actor = %id, name, to = %link.peer.id(), %reason, "link fired");
            link.peer.core.deliver_exit(ExitSignal {
                from: id,
                reason: reason.clone(),
                link: Some(link.id),
                force: false,
            });
        }
        for (monitor, watcher) in ties.watchers {
            tracing::debug!(actor = %id, name, watcher = %watcher.id(), "monitor fired");
            watcher.core.deliver_down(Down {
                monitor,
                actor: id,
                reason: reason.clone(),
            });
        }
    }
}

fn log_exit(id: ActorId, name: Option<&str>, reason: &ExitReason) {
    if reason.is_normal() {
        tracing::debug!(actor = %id, name, %reason, "actor exited");
    } else {
        tracing::warn!(actor = %id, name, %reason, "actor exited");
    }
}
