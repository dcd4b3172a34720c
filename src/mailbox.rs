//! Mailboxes: what travels to an actor, and the two queues it travels in.
//!
//! Every actor has a *message* queue (ordinary messages, `Down`, and exit
//! signals for an actor that traps exits, all in arrival order) and a
//! *signal* queue (exit signals for an actor that does not trap them). The
//! driver looks at the signal queue before every message, which is how an
//! exit signal takes effect before a backlog of queued messages, while a
//! message an actor sent before dying is never overtaken by its `Stopped`.
//!
//! Both queues sit behind one small lock. A mailbox is on every actor, and a
//! pooled system holds millions of actors: an empty mailbox costs a few dozen
//! bytes and no allocation, where an unbounded crossbeam channel costs about
//! 500 bytes empty and a 2 KiB block once used. Whoever drives the actor is
//! told of new mail in one of two ways: a pool worker is handed the actor
//! (`Core::deliver` schedules it), or a thread blocked in [`Mailbox::recv`]
//! is woken.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_utils::Backoff;
use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::address::{ActorId, ActorRef};
use crate::exit::{Down, ExitReason};
use crate::links::LinkId;
use crate::panic::discard;
use crate::payload::Payload;

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
    signals: VecDeque<ExitSignal>,
    /// The actor has terminated: what arrives now is a dead letter.
    closed: bool,
    /// Threads asleep in `recv`, waiting for mail. Counted, not flagged:
    /// an inbox may be read by several threads, and a wake-up must reach
    /// each of them that mail is for.
    sleepers: u32,
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
    /// Whether the signal queue holds anything: a driver working through a
    /// batch of messages looks here before each one.
    has_signals: AtomicBool,
    /// Whether either queue may hold something: a receiver spinning for
    /// mail reads this instead of taking the lock its senders need.
    has_mail: AtomicBool,
    /// Where a thread blocked in `recv` sleeps.
    arrived: Condvar,
    /// A reader of a shared inbox holds mail it took in a batch and has not
    /// returned yet: another reader must take from there rather than sleep.
    /// Written under the queues' lock (see [`Mailbox::set_stashed`]).
    stashed: AtomicBool,
}

/// What [`Mailbox::recv_shared`] brings back.
pub(crate) enum Received {
    Mail(Mail),
    /// Mail waits outside the queues, in a batch another reader took.
    Stashed,
    Timeout,
}

impl Mailbox {
    fn queues(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock()
    }

    /// Appends to the message queue; gives the mail back if the mailbox is closed.
    pub fn push(&self, mail: Mail) -> Result<(), Mail> {
        let mut queues = self.queues();
        if queues.closed {
            return Err(mail);
        }
        if queues.messages.capacity() == 0 {
            // Most actors hold one message at a time; the default first
            // allocation is four slots, kept while the actor idles.
            queues.messages.reserve_exact(1);
        }
        queues.messages.push_back(mail);
        self.has_mail.store(true, Ordering::Release);
        self.wake_waiter(queues);
        Ok(())
    }

    /// Appends to the signal queue; `false` if the mailbox is closed.
    pub fn push_signal(&self, signal: ExitSignal) -> bool {
        let mut queues = self.queues();
        if queues.closed {
            return false;
        }
        queues.signals.push_back(signal);
        self.has_signals.store(true, Ordering::Release);
        self.has_mail.store(true, Ordering::Release);
        self.wake_waiter(queues);
        true
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

    /// The next item without waiting: a pending exit signal first, else
    /// the oldest message.
    pub fn pop(&self) -> Option<Mail> {
        self.pop_from(&mut self.queues())
    }

    fn pop_from(&self, queues: &mut Queues) -> Option<Mail> {
        let mail = match queues.signals.pop_front() {
            Some(signal) => {
                if queues.signals.is_empty() {
                    self.has_signals.store(false, Ordering::Release);
                }
                Some(Mail::Exit(signal))
            }
            None => queues.messages.pop_front(),
        };
        self.settle(queues);
        mail
    }

    /// Updates `has_mail` after taking from the queues (under their lock).
    fn settle(&self, queues: &Queues) {
        if queues.messages.is_empty() && queues.signals.is_empty() {
            self.has_mail.store(false, Ordering::Release);
        }
    }

    /// The oldest pending exit signal, if any.
    pub fn pop_signal(&self) -> Option<Mail> {
        let mut queues = self.queues();
        if queues.signals.is_empty() {
            return None;
        }
        self.pop_from(&mut queues)
    }

    /// Whether an exit signal waits (it goes before any message).
    pub fn has_signals(&self) -> bool {
        self.has_signals.load(Ordering::Acquire)
    }

    /// Moves up to `max` items into `batch` under one lock: a pending exit
    /// signal alone if there is one, else messages. Returns how many.
    ///
    /// Whoever works through the batch checks [`has_signals`](Self::has_signals)
    /// before each message, so a signal still overtakes the batch's rest.
    pub fn pop_batch(&self, batch: &mut VecDeque<Mail>, max: usize) -> usize {
        let mut queues = self.queues();
        if !queues.signals.is_empty() {
            batch.extend(self.pop_from(&mut queues));
            return 1;
        }
        let count = queues.messages.len().min(max);
        batch.extend(queues.messages.drain(..count));
        self.settle(&queues);
        count
    }

    /// The next item, waiting until `deadline` (forever if `None`).
    ///
    /// Spins briefly before it sleeps: an answer often arrives within
    /// microseconds, and sleeping costs more than that.
    pub fn recv(&self, deadline: Option<Instant>) -> Option<Mail> {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if self.has_mail.load(Ordering::Acquire) {
                if let Some(mail) = self.pop() {
                    return Some(mail);
                }
            }
            backoff.snooze();
        }
        match crate::executor::pool::blocking(|| self.sleep_until_mail(deadline, false)) {
            Received::Mail(mail) => Some(mail),
            Received::Stashed | Received::Timeout => None,
        }
    }

    /// Like [`recv`](Self::recv), for a mailbox several threads read (an
    /// inbox) where a reader may hold a batch it took: returns `Stashed`
    /// instead of sleeping while one does ([`set_stashed`](Self::set_stashed)).
    pub fn recv_shared(&self, deadline: Instant) -> Received {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if self.stashed.load(Ordering::Acquire) {
                return Received::Stashed;
            }
            if self.has_mail.load(Ordering::Acquire) {
                if let Some(mail) = self.pop() {
                    return Received::Mail(mail);
                }
            }
            backoff.snooze();
        }
        crate::executor::pool::blocking(|| self.sleep_until_mail(Some(deadline), true))
    }

    fn sleep_until_mail(&self, deadline: Option<Instant>, shared: bool) -> Received {
        let mut queues = self.queues();
        loop {
            if let Some(mail) = self.pop_from(&mut queues) {
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

    /// Messages waiting (including internal wake-ups).
    pub fn len(&self) -> usize {
        self.queues().messages.len()
    }

    /// Closes actor `to`'s mailbox (what arrives later is refused) and
    /// drops what is left: returns how many user messages there were.
    pub fn close(&self, to: ActorId) -> u64 {
        let (messages, signals) = {
            let mut queues = self.queues();
            queues.closed = true;
            self.has_signals.store(false, Ordering::Release);
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
