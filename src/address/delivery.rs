//! Delivery: putting mail into an actor's [`Core`] and telling its driver.
//!
//! Every message, exit signal, `Down` and wake-up enters an actor here,
//! whoever sends it; a send that cannot arrive becomes a counted dead
//! letter, never an error for the sender.

use std::sync::Arc;
use std::time::Instant;

use super::current::{as_sender, sender_was_killed};
use super::{ActorRef, Core, Driver, DriverKind};
use crate::exit::Down;
use crate::introspect::queued_at;
use crate::mailbox::{Envelope, ExitSignal, Mail, Pushed, Refused};

impl Core {
    /// Delivers a message sent by whatever runs on this thread: void if
    /// that is a killed actor's stuck handler. A message a full mailbox
    /// refuses is a dead letter.
    pub fn deliver(self: &Arc<Self>, envelope: Envelope) {
        if let Err(envelope) = self.offer(envelope, None) {
            self.refuse(envelope, "mailbox full");
        }
    }

    /// Delivers a message sent by whatever runs on this thread if the
    /// mailbox has room, waiting for room until `deadline` if one is given;
    /// gives the message back if there was none. Otherwise as
    /// [`deliver`](Self::deliver): a message that is void (a killed sender,
    /// a dead receiver) is a dead letter, not an error.
    #[inline]
    pub fn offer(
        self: &Arc<Self>,
        envelope: Envelope,
        deadline: Option<Instant>,
    ) -> Result<(), Envelope> {
        self.offer_via(envelope, deadline, self.kind == DriverKind::Inbox)
    }

    /// [`offer`](Self::offer), through the lane in front of the mailbox
    /// if `lane` says so and there is one (see `mailbox::Lane`): for any
    /// message to an inbox, whose reader waits for answers; for plain
    /// code's request to a dedicated actor, which mostly waits for
    /// requests. Not for other mail to a dedicated actor: a stream of it
    /// would go through the lane one message at a time, where the mailbox
    /// gives its thread whole batches under one lock (fan-in was twice as
    /// slow that way).
    #[inline(always)]
    fn offer_via(
        self: &Arc<Self>,
        envelope: Envelope,
        deadline: Option<Instant>,
        lane: bool,
    ) -> Result<(), Envelope> {
        as_sender(|killed| {
            if killed {
                self.refuse(envelope, "sender was killed");
                return Ok(());
            }
            self.deliver_to_live(envelope, deadline, lane)
        })
    }

    /// [`offer_via`](Self::offer_via) once the sender is known not killed.
    #[inline(always)]
    fn deliver_to_live(
        self: &Arc<Self>,
        envelope: Envelope,
        deadline: Option<Instant>,
        lane: bool,
    ) -> Result<(), Envelope> {
        if self.is_dead() {
            self.refuse(envelope, "actor is dead");
            return Ok(());
        }
        // Asked of the kind first: a pooled actor's driver sits with what
        // its turns write.
        if self.kind == DriverKind::Function {
            if let Driver::Function(slot) = &self.driver {
                slot.message(self, envelope);
                return Ok(());
            }
        }
        // A reader on a thread of its own (an inbox's, a dedicated actor's)
        // takes the common message from its lane, one cache line, rather
        // than from the mailbox. (`lane` is asked first: a pooled actor's
        // driver sits with what its turns write.)
        let envelope = match lane.then(|| self.lane()).flatten() {
            Some(lane) => match lane.offer(envelope, &self.mailbox) {
                Ok(()) => return Ok(()),
                Err(envelope) => envelope,
            },
            None => envelope,
        };
        self.settle_request();
        match self.mailbox.offer(envelope, deadline, || self.is_dead()) {
            Ok(Pushed::Behind) => {}
            Ok(Pushed::First) => self.schedule(),
            Err(Refused::Closed(envelope)) => self.refuse(envelope, "actor is dead"),
            Err(Refused::Full(envelope)) => return Err(envelope),
        }
        Ok(())
    }

    /// [`offer`](Self::offer) for a request from plain code (a call's, an
    /// inbox's), which then waits for the answer. An idle pooled actor
    /// with an unbounded mailbox is claimed first and handed with the
    /// request to a worker that searches for work, which puts the request
    /// in the mailbox on its own core (see `Pool::schedule_request`): the
    /// caller touches none of the mailbox's lines, which that worker wrote
    /// last and writes next. An actor still ending the turn that answered
    /// the caller's last request is waited for a moment (see
    /// `Pool::claim_for_request`). Mail that comes after the request waits
    /// until it is in (see [`settle_request`](Self::settle_request)).
    #[inline]
    pub fn offer_request(self: &Arc<Self>, envelope: Envelope) -> Result<(), Envelope> {
        // A pooled actor is told by its claim, in the line a sender reads
        // anyway.
        if self.claim.takes_requests() && !sender_was_killed() && !self.is_dead() {
            match self.system.pool() {
                // An actor ending its turn is waited for a moment (see
                // `Pool::claim_for_request`).
                Some(pool) if pool.claim_for_request(self) => {
                    pool.schedule_request(self.clone(), envelope);
                    return Ok(());
                }
                Some(_) => {}
                // No pool, no turn: the request waits as any mail would.
                None if self.claim.claim_idle() => {
                    if let Err(Mail::Message(envelope)) = self.mailbox.push(Mail::Message(envelope))
                    {
                        self.refuse(envelope, "actor is dead");
                    }
                    return Ok(());
                }
                None => {}
            }
        }
        let lane = matches!(self.kind, DriverKind::Inbox | DriverKind::Thread);
        self.offer_via(envelope, None, lane)
    }

    /// Sees that a request handed with this actor through the pool's
    /// hand-off slot is in the mailbox (see `Pool::schedule_request`)
    /// before anything else goes in: what is sent after a request never
    /// overtakes it. A look at the claim, on the line of the status that
    /// every sender reads, unless a request was handed.
    #[inline]
    fn settle_request(self: &Arc<Self>) {
        if self.claim.handed() {
            if let Some(pool) = self.system.pool() {
                pool.settle_request(self);
            }
        }
    }

    /// The sender to attach to a message for this actor: `sender`, unless
    /// this is a function address that never reads it (a call's reply
    /// address), which so costs the sender no clone of its address.
    #[inline]
    pub(crate) fn sender_for(&self, sender: &ActorRef) -> Option<ActorRef> {
        match &self.driver {
            Driver::Function(slot) if !slot.reads_sender() => None,
            _ => Some(sender.clone()),
        }
    }

    /// Queues a message whichever thread sends it: for the notices `close`
    /// sends on behalf of a terminated actor, which no kill may void (the
    /// kill that won sends them itself; one that lost changes nothing).
    pub(crate) fn enqueue(self: &Arc<Self>, envelope: Envelope) {
        if self.is_dead() {
            self.refuse(envelope, "actor is dead");
            return;
        }
        if let Driver::Function(slot) = &self.driver {
            return slot.message(self, envelope);
        }
        self.settle_request();
        match self.mailbox.push(Mail::Message(envelope)) {
            // Mail already waited: whoever queued the first of it is
            // scheduling the actor, or its running turn will take this too.
            Ok(Pushed::Behind) => {}
            Ok(Pushed::First) => self.schedule(),
            Err(Mail::Message(envelope)) => self.refuse(envelope, "actor is dead"),
            Err(_) => {}
        }
    }

    /// Counts `envelope` as a dead letter and drops it. It runs on the
    /// sender's thread, which must not pay for the payload's `Drop`
    /// panicking: the message never reached anyone.
    pub(crate) fn refuse(&self, envelope: Envelope, why: &'static str) {
        self.system.dead_letter(self.id, envelope.type_name(), why);
        crate::panic::discard(envelope, self.id);
    }

    /// Sends an exit signal. It waits in the signal queue, in its place
    /// after the messages already queued; whether the actor traps it is
    /// decided when the actor takes it (see `mailbox`).
    pub fn deliver_exit(self: &Arc<Self>, signal: ExitSignal) {
        if let Driver::Function(slot) = &self.driver {
            return slot.exit(self, signal);
        }
        self.settle_request();
        if !self.is_dead() && self.mailbox.push_signal(signal) {
            self.schedule();
        }
    }

    pub fn deliver_down(self: &Arc<Self>, down: Down) {
        if let Driver::Function(slot) = &self.driver {
            return slot.down(self, down);
        }
        self.settle_request();
        if !self.is_dead() && self.mailbox.push(Mail::down(down)).is_ok() {
            self.schedule();
        }
    }

    /// Makes the driver look at the actor's status.
    pub fn wake(self: &Arc<Self>) {
        self.settle_request();
        if self.mailbox.push(Mail::wake()).is_ok() {
            self.schedule();
        }
    }

    /// Tells the driver that mail arrived: a pooled actor is queued for a
    /// turn unless it already is (a blocked thread was woken by the push).
    fn schedule(self: &Arc<Self>) {
        // Asked of the kind, in the line a sender reads anyway; the driver
        // itself is only read for a task's waker.
        match self.kind {
            DriverKind::Pool => {
                if self.claim.claim() {
                    // Claimed and not yet queued: no worker can hold it, so
                    // this thread is the one writer of its activity.
                    self.stats.queued(queued_at());
                    if let Some(pool) = self.system.pool() {
                        pool.schedule(self.clone());
                    }
                }
            }
            DriverKind::Thread | DriverKind::Inbox | DriverKind::Function => {}
            #[cfg(feature = "tokio")]
            DriverKind::Waker => {
                if let Driver::Waker(slot) = &self.driver {
                    slot.wake();
                }
            }
        }
    }
}
