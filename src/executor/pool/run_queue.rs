//! Where work waits and how workers find it: each worker's LIFO queue,
//! the injector (FIFO), and stealing between them.
//!
//! Apart from the workers because this is the scheduling policy (the
//! request-reply fast path, fairness against chatty pairs), which a reader
//! tunes without touching the threads.

use std::sync::Arc;

use crossbeam_deque::{Steal, Worker};

use super::worker::{current_worker, Local, WorkerShared};
use super::Pool;
use crate::actor::Actor;
use crate::address::{Core, Driver};
use crate::cell::ActorCell;
use crate::introspect::queued_at;
use crate::mailbox::{Envelope, Mail};

/// Turns a worker takes from the top of its queue before it takes the oldest.
pub(crate) const LIFO_STREAK: u32 = 16;
/// How often (in turns) a worker looks at the injector first.
const INJECTOR_EVERY: u32 = 61;
/// How often (in looks) a searching worker looks at other workers' queues.
const FULL_LOOK_EVERY: u32 = 8;
/// Looks plain code takes, one `PAUSE` apart (some 1-3 µs in all), for an
/// actor ending its turn to go idle before it sends its request the
/// mailbox's way (see [`Pool::claim_for_request`]).
pub(crate) const ENDING_POLLS: u32 = 64;

impl Pool {
    /// Whether actors wait in the injector (the shared queue) or for a
    /// searching worker to take them.
    pub(crate) fn injector_waits(&self) -> bool {
        !self.injector.is_empty() || self.searchers.has_next()
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
            // From outside the pool (a plain thread's request): to the
            // thread itself if it lends itself (`System::run_woken`), else
            // straight to a worker that spins for work, if one does.
            _ => match super::lent::catch(self, core) {
                Ok(()) => return,
                Err(core) => match self.searchers.hand_over((core, None)) {
                    Ok(()) => {
                        self.notify_one();
                        return;
                    }
                    Err((core, _)) => core,
                },
            },
        };
        self.injector.push(core);
        self.notify_one();
    }

    /// Claims `core`, a pooled actor with an unbounded mailbox, for a
    /// request from plain code (see `Core::offer_request`): `true` if it
    /// was idle, and the caller now hands it the request with
    /// [`schedule_request`](Self::schedule_request).
    ///
    /// An actor that is scheduled while its mailbox is empty is most
    /// often ending the turn that just answered this caller: plain code
    /// that has its answer sends the next request within a few hundred
    /// nanoseconds, while the worker is still putting the turn away. The
    /// request would then take the mailbox's way, whose lines the worker
    /// wrote last and reads next, and the actor the injector's. So the
    /// caller waits a moment ([`ENDING_POLLS`] looks) for the actor to go
    /// idle, as long as nothing comes into its mailbox meanwhile (mail
    /// sent meanwhile goes first; this request then follows it through
    /// the mailbox). An actor whose handler runs on costs a caller that
    /// wait once: from its request on, the mailbox holds mail. A worker
    /// does not wait: the actor may be queued behind its own turn.
    #[inline]
    pub fn claim_for_request(&self, core: &Core) -> bool {
        core.claim.claim_idle() || self.claim_when_idle(core)
    }

    #[inline(never)]
    fn claim_when_idle(&self, core: &Core) -> bool {
        if !core.claim.scheduled() || current_worker().is_some() {
            return false;
        }
        for _ in 0..ENDING_POLLS {
            if core.mailbox.may_have_mail() || core.is_dead() {
                return false;
            }
            std::hint::spin_loop();
            if core.claim.claim_idle() {
                return true;
            }
        }
        false
    }

    /// Queues an actor that was claimed idle for `request` (see
    /// `Core::offer_request`). From outside the pool, while a worker
    /// searches, the request travels with the actor through the hand-off
    /// slot and the worker puts it in the mailbox; otherwise it goes in
    /// here and the actor is queued as any other.
    ///
    /// A handed request enters the mailbox later than the send returns:
    /// the actor's claim says so ([`Claim::hand`](super::Claim::hand)),
    /// and whoever puts mail in that mailbox meanwhile first sees the
    /// request in ([`settle_request`](Self::settle_request)). So mail sent
    /// after it (by the same sender, or by anyone who learnt that it was
    /// sent) never overtakes it.
    pub fn schedule_request(self: &Arc<Self>, core: Arc<Core>, request: Envelope) {
        let inside = matches!(current_worker(), Some(local) if Arc::ptr_eq(&local.pool, self));
        let (core, request) = match inside {
            true => (core, request),
            false => {
                core.claim.hand();
                match self.searchers.hand_over((core, Some(request))) {
                    Ok(()) => {
                        self.notify_one();
                        return;
                    }
                    Err((core, request)) => {
                        core.claim.unhand();
                        (core, request.expect("given back as it came"))
                    }
                }
            }
        };
        deliver_request(&core, request);
        core.stats.queued(queued_at());
        self.schedule(core);
    }

    /// Called before mail is put in the mailbox of `core`, whose claim
    /// says a request was handed with it (see
    /// [`schedule_request`](Self::schedule_request)): returns once that
    /// request is in the mailbox. If it still waits in the hand-off slot,
    /// this thread takes it out, puts it in, and queues the actor.
    #[cold]
    pub(crate) fn settle_request(self: &Arc<Self>, core: &Arc<Core>) {
        if let Some(core) = self.searchers.take_request_of(core, deliver_request) {
            core.stats.queued(queued_at());
            self.schedule(core);
        }
    }

    /// The actor handed over through the slot, with its request in its
    /// mailbox.
    #[inline]
    fn take_handed(&self) -> Option<Arc<Core>> {
        self.searchers.take(deliver_request)
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
            // An empty queue is seen without a steal's epoch pin and fence.
            for other in workers
                .iter()
                .filter(|w| !Arc::ptr_eq(w, me) && !w.stealer.is_empty())
            {
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

/// Puts `request` in the mailbox of `core`, an actor claimed for it (its
/// turn takes it); a closed mailbox (the actor ended meanwhile) makes it a
/// dead letter, as for any message to a dead actor.
fn deliver_request(core: &Core, request: Envelope) {
    if let Err(Mail::Message(request)) = core.mailbox.push(Mail::Message(request)) {
        core.refuse(request, "actor is dead");
    }
}

impl Local {
    /// Queues `core` on this worker; returns it if it must go elsewhere
    /// (this worker was abandoned).
    fn push(&self, core: Arc<Core>) -> Option<Arc<Core>> {
        if self.shared.abandoned.is_set() {
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
        self.pool
            .take_handed()
            .or_else(|| self.pool.steal(&self.queue, &self.shared))
    }

    /// One look of a searching worker (the `looks`-th): the actor handed
    /// over, else the injector if something is in it, else, every few
    /// looks, the whole round of [`find_work`](Self::find_work). A look
    /// that finds nothing so reads a line or two that no one writes until
    /// work comes, instead of taking the workers' lock and pinning an
    /// epoch, which would slow the caller whose request it waits for.
    #[inline]
    pub(super) fn look_for_work(&self, looks: u32) -> Option<Arc<Core>> {
        if let Some(core) = self.pool.take_handed() {
            return Some(core);
        }
        if looks % FULL_LOOK_EVERY == 0 || !self.pool.injector.is_empty() {
            return self.find_work();
        }
        None
    }
}
