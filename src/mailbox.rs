//! Mailboxes: what travels to an actor, and the two queues it travels in.
//!
//! Every actor has a *message* queue (ordinary messages and `Down`, in
//! arrival order) and a *signal* queue (exit signals). Each exit signal
//! records its place among the messages: how many had been pushed before
//! it. Whether a signal is trapped is decided when the actor takes it,
//! between two handlers, by its trap flag at that moment (as in Erlang,
//! where a signal is acted on when the receiver handles it):
//! - an actor that does not trap exits takes a waiting exit signal before
//!   any queued message, so an exit takes effect before a backlog (and
//!   messages its sender sent before it are dropped with the actor);
//! - an actor that traps exits takes it in its place, as `Stopped`, after
//!   every message queued before it: a message an actor sent before dying
//!   is never overtaken by its `Stopped`;
//! - an untrappable signal (a system shutdown) goes before everything.
//!
//! Both queues sit behind one small lock. A mailbox is on every actor, and a
//! pooled system holds millions of actors: an empty mailbox costs a few dozen
//! bytes and no allocation, where an unbounded crossbeam channel costs about
//! 500 bytes empty and a 2 KiB block once used. Whoever drives the actor is
//! told of new mail in one of two ways: a pool worker is handed the actor
//! (`Core::deliver` schedules it), or a thread blocked in [`Mailbox::recv`]
//! is woken.
//!
//! A mailbox is unbounded unless its actor was spawned with a capacity
//! ([`bound`]): then a message that finds it full is refused
//! ([`Mailbox::offer`]), or its sender waits for room. Only messages sent by
//! users are refused: exit signals, `Down`, the `Stopped` a stopper gets and
//! internal wake-ups always get in (an actor must learn of an end whatever
//! its backlog), so they may take the length past the capacity.

mod bound;

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Instant;

use crossbeam_utils::Backoff;
use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::address::{ActorId, ActorRef};
use crate::exit::{Down, ExitReason};
use crate::links::LinkId;
use crate::panic::discard;
use crate::payload::Payload;
use bound::Bound;

/// One message as it travels: the payload, its type's name, and its sender.
///
/// Plain code meets envelopes when it reads an [`Inbox`](crate::Inbox).
pub struct Envelope {
    pub(crate) payload: Payload,
    pub(crate) type_name: &'static str,
    pub(crate) sender: Option<ActorRef>,
}

impl Envelope {
    pub(crate) fn new<M: Send + 'static>(msg: M, sender: Option<ActorRef>) -> Self {
        Envelope {
            payload: Payload::new(msg),
            type_name: std::any::type_name::<M>(),
            sender,
        }
    }

    /// Who sent it, if anyone.
    pub fn sender(&self) -> Option<&ActorRef> {
        self.sender.as_ref()
    }

    /// The name of the payload's type (as `std::any::type_name` gives it).
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// Whether the payload is a `T`.
    #[inline]
    pub fn is<T: 'static>(&self) -> bool {
        self.payload.is::<T>()
    }

    /// The payload as a `T`, or the envelope back if it is something else.
    pub fn downcast<T: 'static>(self) -> Result<T, Envelope> {
        match self.payload.downcast::<T>() {
            Ok(value) => Ok(value),
            Err(payload) => Err(Envelope { payload, ..self }),
        }
    }

    /// The payload and its type name, dropping the sender.
    pub fn into_parts(self) -> (Box<dyn Any + Send>, &'static str) {
        (self.payload.into_box(), self.type_name)
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("type", &self.type_name)
            .field("sender", &self.sender.as_ref().map(|s| s.id()))
            .finish()
    }
}

/// An exit signal: actor `from` terminated (or called `exit`) with `reason`.
#[derive(Clone, Debug)]
pub(crate) struct ExitSignal {
    pub from: ActorId,
    pub reason: ExitReason,
    /// The link it comes along, if any: it is void unless the receiver
    /// still holds that very link when it takes the signal.
    pub link: Option<LinkId>,
    /// It cannot be trapped (a system shutdown); `stopped` still runs.
    pub force: bool,
}

/// What a mailbox carries.
pub(crate) enum Mail {
    Message(Envelope),
    Exit(ExitSignal),
    Down(Down),
    /// Nothing: makes the driver look at the actor's status (after `kill`).
    Wake,
}

impl Mail {
    /// The type of the message a handler sees for this mail.
    pub fn type_name(&self) -> &'static str {
        match self {
            Mail::Message(envelope) => envelope.type_name,
            Mail::Exit(_) => std::any::type_name::<crate::exit::Stopped>(),
            Mail::Down(_) => std::any::type_name::<Down>(),
            Mail::Wake => "wake",
        }
    }
}

#[derive(Default)]
struct Queues {
    messages: VecDeque<Mail>,
    /// Exit signals, each with its place: the number of messages pushed
    /// before it. Untrappable ones go to the front, with place 0.
    signals: VecDeque<(u64, ExitSignal)>,
    /// Messages taken so far (with those queued, the place of the next
    /// one). Counted by the receiver, once per batch: a count of pushes
    /// would be written by every sender, on a line the receiver reads
    /// before every message.
    taken: u64,
    /// The actor has terminated: what arrives now is a dead letter.
    closed: bool,
    /// Threads asleep in `recv`, waiting for mail. Counted, not flagged:
    /// an inbox may be read by several threads, and a wake-up must reach
    /// each of them that mail is for.
    sleepers: u32,
    /// The most pieces of mail that ever waited at once.
    high_water: usize,
}

impl Queues {
    /// Messages and exit signals waiting.
    fn len(&self) -> usize {
        self.messages.len() + self.signals.len()
    }

    /// Notes the length after a push in the high-water mark.
    fn note_length(&mut self) {
        let len = self.len();
        if len > self.high_water {
            self.high_water = len;
        }
    }

    /// Whether the first exit signal is to be taken now, before the next
    /// message: it is untrappable, or the actor does not trap exits, or
    /// every message queued before it has been taken.
    fn signal_due(&self, trapping: bool) -> bool {
        self.signals
            .front()
            .is_some_and(|(place, signal)| signal.force || !trapping || *place <= self.taken())
    }

    /// Messages taken so far (the place of the first one still queued).
    fn taken(&self) -> u64 {
        self.taken
    }

    /// Messages pushed so far (the place of the next one).
    fn pushed(&self) -> u64 {
        self.taken + self.messages.len() as u64
    }

    /// How many messages may be taken before the first exit signal's turn
    /// comes (all of them if there is none).
    fn before_next_signal(&self) -> usize {
        match self.signals.front() {
            Some((place, _)) => (place - self.taken()) as usize,
            None => self.messages.len(),
        }
    }
}

/// What the signal queue holds, as [`Mailbox`]'s `signal_state` says.
const SIGNALS: u8 = 1;
/// The first signal is untrappable.
const FORCED: u8 = 2;

/// Where a pushed piece of mail landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// In an empty mailbox: the sender must see that the actor is scheduled.
    First,
    /// Behind mail that was not taken yet: whoever queued that mail sees to
    /// the actor being scheduled, and the turn that takes it takes this too.
    Behind,
}

/// How many of `mails` are user messages (what counts as dead letters
/// when actor `to` ends with mail unread); the mail is dropped, each piece
/// on its own guard: a payload whose `Drop` panics neither stops the rest
/// from being dropped nor unwinds into the thread that drops them.
pub(crate) fn user_messages(mails: impl IntoIterator<Item = Mail>, to: ActorId) -> u64 {
    let mut count = 0;
    for mail in mails {
        if let Mail::Message(envelope) = mail {
            count += 1;
            discard(envelope, to);
        }
    }
    count
}

/// An actor's two queues, shared by its senders and its driver.
#[derive(Default)]
pub(crate) struct Mailbox {
    queues: Mutex<Queues>,
    /// What the signal queue holds (`SIGNALS`, `FORCED`): a driver working
    /// through a batch of messages looks here before each one.
    signal_state: AtomicU8,
    /// Whether either queue may hold something: a receiver spinning for
    /// mail reads this instead of taking the lock its senders need.
    has_mail: AtomicBool,
    /// Where a thread blocked in `recv` sleeps.
    arrived: Condvar,
    /// A reader of a shared inbox holds mail it took in a batch and has not
    /// returned yet: another reader must take from there rather than sleep.
    /// Written under the queues' lock (see [`Mailbox::set_stashed`]).
    stashed: AtomicBool,
    /// The capacity of a bounded mailbox; `None` (the default) for an
    /// unbounded one, which so pays one pointer.
    bound: Option<Box<Bound>>,
}

/// Why [`Mailbox::offer`] gave a message back.
pub(crate) enum Refused {
    /// The actor has terminated.
    Closed(Envelope),
    /// The mailbox is at its capacity (and stayed so until the deadline).
    Full(Envelope),
}

/// What [`Mailbox::recv_shared`] brings back.
pub(crate) enum Received {
    Mail(Mail),
    /// Mail waits outside the queues, in a batch another reader took.
    Stashed,
    Timeout,
}

impl Mailbox {
    /// A mailbox that holds at most `capacity` messages sent by users.
    pub fn bounded(capacity: usize) -> Self {
        let mut mailbox = Mailbox::default();
        mailbox.bound = Some(Box::new(Bound::new(capacity)));
        mailbox
    }

    fn queues(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock()
    }

    /// The capacity, if the mailbox is bounded.
    pub fn capacity(&self) -> Option<usize> {
        self.bound.as_ref().map(|bound| bound.capacity())
    }

    /// Appends to the message queue whatever its capacity (for the
    /// runtime's notices, `Down` and wake-ups, which are never refused);
    /// gives the mail back if the mailbox is closed. Says whether this mail
    /// found the mailbox empty.
    pub fn push(&self, mail: Mail) -> Result<Pushed, Mail> {
        let queues = self.queues();
        if queues.closed {
            return Err(mail);
        }
        Ok(self.append(queues, mail))
    }

    /// Appends a message a user sent, if the mailbox has room for it. If it
    /// is full and `deadline` is given, waits for room until then (on a
    /// pool worker, as a blocking section the pool makes up for), or until
    /// `gone` says the actor has terminated: its mailbox may only close
    /// later (a killed actor's thread may be stuck), and whoever ends it
    /// calls [`wake_senders`](Self::wake_senders).
    #[inline]
    pub fn offer(
        &self,
        envelope: Envelope,
        deadline: Option<Instant>,
        gone: impl Fn() -> bool,
    ) -> Result<Pushed, Refused> {
        let queues = self.queues();
        let room = match &self.bound {
            Some(bound) => bound.has_room(),
            None => true,
        };
        if !queues.closed && room {
            return Ok(self.append(queues, Mail::Message(envelope)));
        }
        drop(queues);
        self.offer_slow(envelope, deadline, gone)
    }

    /// [`offer`](Self::offer) to a mailbox that was closed or full: out of
    /// line, so that the common send stays short.
    #[cold]
    #[inline(never)]
    fn offer_slow(
        &self,
        envelope: Envelope,
        deadline: Option<Instant>,
        gone: impl Fn() -> bool,
    ) -> Result<Pushed, Refused> {
        match deadline {
            Some(deadline) if Instant::now() < deadline => {
                crate::executor::pool::blocking(|| self.offer_until(envelope, deadline, gone))
            }
            // Looks once more: an instant ago is no deadline to wait for.
            _ => self.offer_until(envelope, Instant::now(), gone),
        }
    }

    /// [`offer`](Self::offer) that waits for room until `deadline`.
    fn offer_until(
        &self,
        envelope: Envelope,
        deadline: Instant,
        gone: impl Fn() -> bool,
    ) -> Result<Pushed, Refused> {
        let mut queues = self.queues();
        loop {
            // Looked at under the lock `wake_senders` takes: an end after
            // this look wakes this thread.
            if queues.closed || gone() {
                return Err(Refused::Closed(envelope));
            }
            match &self.bound {
                Some(bound) if !bound.has_room() => {
                    if Instant::now() >= deadline {
                        return Err(Refused::Full(envelope));
                    }
                    bound.wait_for_room(&mut queues, deadline);
                }
                _ => return Ok(self.append(queues, Mail::Message(envelope))),
            }
        }
    }

    /// Appends `mail` to an open mailbox's message queue (a message is
    /// counted against the capacity, if any).
    #[inline(always)]
    fn append(&self, mut queues: MutexGuard<'_, Queues>, mail: Mail) -> Pushed {
        if let (Some(bound), Mail::Message(_)) = (&self.bound, &mail) {
            bound.admitted();
        }
        let pushed = match queues.messages.is_empty() && queues.signals.is_empty() {
            true => Pushed::First,
            false => Pushed::Behind,
        };
        if queues.messages.capacity() == 0 {
            // Most actors hold one message at a time; the default first
            // allocation is four slots, kept while the actor idles.
            queues.messages.reserve_exact(1);
        }
        queues.messages.push_back(mail);
        queues.note_length();
        // Mail that waits already set it (it is cleared only once both
        // queues are empty): a store per message would write a line the
        // receiver reads before each one.
        if pushed == Pushed::First {
            self.has_mail.store(true, Ordering::Release);
        }
        self.wake_waiter(queues);
        pushed
    }

    /// Wakes the senders waiting for room, to look again (the actor has
    /// terminated).
    pub fn wake_senders(&self) {
        if let Some(bound) = &self.bound {
            let queues = self.queues();
            bound.wake();
            drop(queues);
        }
    }

    /// A message was taken out of a batch ([`pop_batch`](Self::pop_batch))
    /// to be handled: its place counts no more against the capacity.
    #[inline]
    pub fn release(&self, mail: &Mail) {
        if let Some(bound) = &self.bound {
            if matches!(mail, Mail::Message(_)) && bound.freed() {
                let queues = self.queues();
                bound.wake();
                drop(queues);
            }
        }
    }

    /// Appends an exit signal, in its place after the messages queued so
    /// far (an untrappable one goes first); `false` if the mailbox is closed.
    pub fn push_signal(&self, signal: ExitSignal) -> bool {
        let mut queues = self.queues();
        if queues.closed {
            return false;
        }
        if signal.force {
            queues.signals.push_front((0, signal));
        } else {
            let place = queues.pushed();
            queues.signals.push_back((place, signal));
        }
        queues.note_length();
        self.publish_signals(&queues);
        self.has_mail.store(true, Ordering::Release);
        self.wake_waiter(queues);
        true
    }

    /// Updates `signal_state` (under the queues' lock).
    fn publish_signals(&self, queues: &Queues) {
        let state = match queues.signals.front() {
            None => 0,
            Some((_, signal)) if signal.force => SIGNALS | FORCED,
            Some(_) => SIGNALS,
        };
        self.signal_state.store(state, Ordering::Release);
    }

    fn wake_waiter(&self, queues: MutexGuard<'_, Queues>) {
        // One piece of mail, one sleeper: a second push while the first
        // woken thread has not yet counted itself out wakes a second one.
        let sleeping = queues.sleepers > 0;
        drop(queues);
        if sleeping {
            self.arrived.notify_one();
        }
    }

    /// Whether mail may wait, in the queues or in a batch a reader of a
    /// shared inbox holds: read without the lock, for a reader spinning for
    /// mail (it takes the lock its senders need only once this says yes).
    pub fn may_have_mail(&self) -> bool {
        self.has_mail.load(Ordering::Acquire) || self.stashed.load(Ordering::Acquire)
    }

    /// Says whether a reader of a shared inbox holds taken mail. Setting it
    /// wakes every sleeping reader: whichever comes first takes from the
    /// batch, the others sleep again.
    pub fn set_stashed(&self, stashed: bool) {
        let queues = self.queues();
        self.stashed.store(stashed, Ordering::Release);
        let sleeping = stashed && queues.sleepers > 0;
        drop(queues);
        if sleeping {
            self.arrived.notify_all();
        }
    }

    /// The next item without waiting, for an actor that traps exits or not
    /// (see the module's rule): an exit signal that is due, else the oldest
    /// message.
    pub fn pop(&self, trapping: bool) -> Option<Mail> {
        self.pop_from(&mut self.queues(), trapping)
    }

    fn pop_from(&self, queues: &mut Queues, trapping: bool) -> Option<Mail> {
        let mail = if queues.signal_due(trapping) {
            let signal = queues.signals.pop_front().map(|(_, signal)| signal);
            self.publish_signals(queues);
            signal.map(Mail::Exit)
        } else {
            let message = queues.messages.pop_front();
            queues.taken += u64::from(message.is_some());
            message
        };
        self.settle(queues);
        // Taken one at a time, a message is handled next: its place is free.
        if let (Some(bound), Some(Mail::Message(_))) = (&self.bound, &mail) {
            if bound.freed() {
                bound.wake();
            }
        }
        mail
    }

    /// Updates `has_mail` after taking from the queues (under their lock).
    fn settle(&self, queues: &Queues) {
        if queues.messages.is_empty() && queues.signals.is_empty() {
            self.has_mail.store(false, Ordering::Release);
        }
    }

    /// The first exit signal if it is due now, else nothing.
    pub fn pop_signal(&self, trapping: bool) -> Option<Mail> {
        let mut queues = self.queues();
        if !queues.signal_due(trapping) {
            return None;
        }
        self.pop_from(&mut queues, trapping)
    }

    /// Whether an exit signal waits that goes before the next message
    /// whatever its place: any, for an actor that does not trap exits; an
    /// untrappable one, for an actor that does. Read without the lock.
    pub fn signal_overtakes(&self, trapping: bool) -> bool {
        let state = self.signal_state.load(Ordering::Acquire);
        state & FORCED != 0 || (state & SIGNALS != 0 && !trapping)
    }

    /// Moves up to `max` items into `batch` under one lock: an exit signal
    /// alone if one is due, else messages up to the next signal's place.
    /// Returns how many. In a bounded mailbox the batch's messages keep
    /// their places until the caller [`release`](Self::release)s each as it
    /// takes it to be handled.
    ///
    /// Whoever works through the batch checks
    /// [`signal_overtakes`](Self::signal_overtakes) before each message, so
    /// a signal that may overtake messages still overtakes the batch's rest.
    pub fn pop_batch(&self, batch: &mut VecDeque<Mail>, max: usize, trapping: bool) -> usize {
        let mut queues = self.queues();
        if queues.signal_due(trapping) {
            batch.extend(self.pop_from(&mut queues, trapping));
            return 1;
        }
        let count = queues.before_next_signal().min(max);
        batch.extend(queues.messages.drain(..count));
        queues.taken += count as u64;
        self.settle(&queues);
        count
    }

    /// The next item, waiting until `deadline` (forever if `None`).
    ///
    /// Spins briefly before it sleeps: an answer often arrives within
    /// microseconds, and sleeping costs more than that.
    pub fn recv(&self, deadline: Option<Instant>, trapping: bool) -> Option<Mail> {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if self.has_mail.load(Ordering::Acquire) {
                if let Some(mail) = self.pop(trapping) {
                    return Some(mail);
                }
            }
            backoff.snooze();
        }
        match crate::executor::pool::blocking(|| self.sleep_until_mail(deadline, false, trapping)) {
            Received::Mail(mail) => Some(mail),
            Received::Stashed | Received::Timeout => None,
        }
    }

    /// Like [`recv`](Self::recv), for a mailbox several threads read (an
    /// inbox) where a reader may hold a batch it took: returns `Stashed`
    /// instead of sleeping while one does ([`set_stashed`](Self::set_stashed)).
    /// An inbox traps exits.
    pub fn recv_shared(&self, deadline: Instant) -> Received {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if self.stashed.load(Ordering::Acquire) {
                return Received::Stashed;
            }
            if self.has_mail.load(Ordering::Acquire) {
                if let Some(mail) = self.pop(true) {
                    return Received::Mail(mail);
                }
            }
            backoff.snooze();
        }
        crate::executor::pool::blocking(|| self.sleep_until_mail(Some(deadline), true, true))
    }

    fn sleep_until_mail(
        &self,
        deadline: Option<Instant>,
        shared: bool,
        trapping: bool,
    ) -> Received {
        let mut queues = self.queues();
        loop {
            if let Some(mail) = self.pop_from(&mut queues, trapping) {
                return Received::Mail(mail);
            }
            // Read under the lock `set_stashed` takes: a batch taken after
            // this look wakes this thread.
            if shared && self.stashed.load(Ordering::Acquire) {
                return Received::Stashed;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Received::Timeout;
            }
            queues.sleepers += 1;
            match deadline {
                None => self.arrived.wait(&mut queues),
                Some(deadline) => {
                    self.arrived.wait_until(&mut queues, deadline);
                }
            }
            queues.sleepers -= 1;
        }
    }

    /// Whether nothing waits in either queue.
    pub fn is_empty(&self) -> bool {
        let queues = self.queues();
        queues.messages.is_empty() && queues.signals.is_empty()
    }

    /// Messages and exit signals waiting (including internal wake-ups).
    pub fn len(&self) -> usize {
        self.queues().len()
    }

    /// The length now and the most that ever waited at once.
    pub fn len_and_high_water(&self) -> (usize, usize) {
        let queues = self.queues();
        (queues.len(), queues.high_water)
    }

    /// Closes actor `to`'s mailbox (what arrives later is refused) and
    /// drops what is left: returns how many user messages there were.
    pub fn close(&self, to: ActorId) -> u64 {
        let (messages, signals) = {
            let mut queues = self.queues();
            queues.closed = true;
            // Senders waiting for room learn that the actor is gone.
            if let Some(bound) = &self.bound {
                bound.wake();
            }
            self.signal_state.store(0, Ordering::Release);
            self.has_mail.store(false, Ordering::Release);
            (
                std::mem::take(&mut queues.messages),
                std::mem::take(&mut queues.signals),
            )
        };
        // Dropped outside the lock: a payload's `Drop` may send mail here.
        drop(signals);
        user_messages(messages, to)
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // A mailbox is normally closed and empty before its actor's last
        // address goes. One that is not (an actor killed while its thread
        // was stuck) may hold user payloads: whoever drops the last address
        // must not be the one their `Drop` panics on.
        let queues = self.queues.get_mut();
        if !queues.messages.is_empty() {
            user_messages(std::mem::take(&mut queues.messages), ActorId::EXTERNAL);
        }
    }
}
