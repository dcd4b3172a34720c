//! [`Inbox`]: a mailbox that plain code reads, with an address of its own.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::address::{ActorRef, Core, Driver};
use crate::error::RecvError;
use crate::exit::{ExitReason, Stopped};
use crate::groups;
use crate::links::{self, MonitorRef};
use crate::mailbox::{user_messages, Envelope, Lane, Mail, Notice, RECEIVER_POLLS};
use crate::spin::SpinWait;
use crate::system::{System, SystemInner};

/// A mailbox for code that is not an actor: tests, `main`, services.
///
/// It has an [`ActorRef`], so actors can reply to it, and it can link to and
/// monitor actors. It always traps exits: an exit signal arrives as a
/// [`Stopped`] message, and a monitor's end as a [`Down`](crate::Down).
/// Dropping the inbox terminates its address with `Normal`.
///
/// An inbox is not an actor: it is not among [`System::actors`], and its
/// creation and end are no [`LifecycleEvent`](crate::LifecycleEvent)s (nor
/// are those of the inbox under each `Bridge::call` or `Probe`).
///
/// ```
/// use ferrotp::{Actor, Down, ExitReason, Handlers, Stop, System};
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
/// let monitor = inbox.monitor(&idle);
/// idle.send(Stop);
/// let down: Down = inbox.recv(Duration::from_secs(5)).unwrap().downcast().unwrap();
/// assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Normal));
/// ```
pub struct Inbox {
    actor: ActorRef,
    /// Mail taken from the mailbox in one go and not yet returned: a
    /// reader draining many replies takes the mailbox's lock, which the
    /// senders contend for, once per batch instead of once per message.
    taken: Mutex<Taken>,
}

/// An inbox's taken batch, and whether its mailbox was told it exists.
#[derive(Default)]
struct Taken {
    mail: VecDeque<Mail>,
    /// The mailbox's `stashed` flag is set: readers asleep on the mailbox
    /// come here instead. Set and cleared under this lock, so it is true
    /// exactly while `mail` holds something.
    flagged: bool,
}

/// How a message reached an inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Sent as a message (a reply, the `Stopped` answering a `Stop`, ...).
    Sent,
    /// A link fired: the `Stopped` of a linked actor's end (or of linking
    /// to a dead one).
    Link,
    /// An exit signal some code sent with `exit`: not anyone's end.
    ExitSignal,
    /// A monitor fired: the `Down` of the watched actor's end.
    Monitor,
}

/// The most mail an inbox takes from its mailbox at once.
const BATCH: usize = 64;

impl Inbox {
    /// A new inbox in `system`.
    pub fn new(system: &System) -> Self {
        Self::in_system(system.inner())
    }

    pub(crate) fn in_system(system: &Arc<SystemInner>) -> Self {
        Self::with_driver(system, Driver::Inbox(Box::default()))
    }

    /// An inbox whose reader learns of mail through `driver` (a thread
    /// that waits on its [`Lane`] and mailbox, or an async task's waker).
    pub(crate) fn with_driver(system: &Arc<SystemInner>, driver: Driver) -> Self {
        let core = Core::new(system.next_id(), system.clone(), driver, true, None, None);
        Inbox {
            actor: ActorRef::from_core(Arc::new(core)),
            taken: Mutex::new(Taken::default()),
        }
    }

    /// The inbox's address: give it as a sender, link to it, monitor from it.
    pub fn actor(&self) -> &ActorRef {
        &self.actor
    }

    /// Sends `msg` to `to` with this inbox as the sender.
    pub fn send<M: Send + 'static>(&self, to: &ActorRef, msg: M) {
        // Plain code that sends from an inbox mostly waits for the answer
        // next: an idle pooled actor is handed to a worker with the
        // message, as a call's request is (see `Core::offer_request`).
        let envelope = Envelope::new(msg, to.core.sender_for(&self.actor));
        if let Err(envelope) = to.core.offer_request(envelope) {
            to.core.refuse(envelope, "mailbox full");
        }
    }

    /// Waits up to `timeout` for the next message.
    pub fn recv(&self, timeout: Duration) -> Result<Envelope, RecvError> {
        self.recv_deadline(Instant::now() + timeout)
    }

    /// Waits until `deadline` for the next message.
    ///
    /// Several threads may wait on one inbox at once (a `Bridge` shared by
    /// a pool of request handlers): each message goes to one of them, and
    /// none sleeps while a message waits.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<Envelope, RecvError> {
        self.recv_with_origin(deadline)
            .map(|(envelope, _)| envelope)
    }

    /// Like `recv_deadline`, and says how the message came (for the testkit,
    /// which must tell an actor's end from an exit signal it sent).
    pub(crate) fn recv_with_origin(
        &self,
        deadline: Instant,
    ) -> Result<(Envelope, Origin), RecvError> {
        loop {
            let mail = match self.take() {
                Some(mail) => mail,
                None if self.wait(deadline) => continue,
                None => return Err(RecvError::Timeout),
            };
            if let Some(received) = self.open(mail) {
                return Ok(received);
            }
        }
    }

    /// The next message if one is waiting.
    pub fn try_recv(&self) -> Option<Envelope> {
        loop {
            let mail = self.take()?;
            if let Some((envelope, _)) = self.open(mail) {
                return Some(envelope);
            }
        }
    }

    /// The lane in front of the mailbox (an inbox read by threads has one).
    fn lane(&self) -> Option<&Lane> {
        self.actor.core.lane()
    }

    /// Whether mail may wait, in the lane, the mailbox or a reader's
    /// batch: read without a lock, so that a look that finds nothing costs
    /// the senders nothing.
    fn may_have_mail(&self) -> bool {
        self.lane().is_some_and(Lane::is_ready) || self.actor.core.mailbox.may_have_mail()
    }

    /// The oldest mail waiting, if any: the lane's message (the oldest
    /// there is, see [`Lane`]), else the next of a batch taken from the
    /// mailbox. An untrappable exit signal goes before the lane's message.
    fn take(&self) -> Option<Mail> {
        if !self.may_have_mail() {
            return None;
        }
        let mailbox = &self.actor.core.mailbox;
        let lane = self.lane();
        // The common answer: one message in the lane, no batch anywhere
        // (while a reader holds one, nothing goes in the lane).
        if let Some(lane) = lane.filter(|lane| lane.is_ready()) {
            if !mailbox.signal_overtakes(true) {
                if let Some(envelope) = lane.lock().take() {
                    return Some(Mail::Message(envelope));
                }
            }
        }
        let mut taken = self.taken.lock();
        if let Some(mail) = taken.mail.pop_front() {
            self.flag_batch(&mut taken);
            return Some(mail);
        }
        // Held while the mailbox is read: no message goes in the lane
        // before the mailbox's mail, nor before the batch taken here is
        // flagged (see `Lane`).
        let mut held = lane.map(Lane::lock);
        if let Some(held) = held.as_mut() {
            if !mailbox.signal_overtakes(true) {
                if let Some(envelope) = held.take() {
                    return Some(Mail::Message(envelope));
                }
            }
        }
        mailbox.pop_batch(&mut taken.mail, BATCH, true);
        let mail = taken.mail.pop_front();
        self.flag_batch(&mut taken);
        drop(held);
        mail
    }

    /// Tells the mailbox whether this reader holds a batch: other readers
    /// asleep on it must take from here, and no message may go in the lane.
    fn flag_batch(&self, taken: &mut Taken) {
        let held = !taken.mail.is_empty();
        if held != taken.flagged {
            taken.flagged = held;
            self.actor.core.mailbox.set_stashed(held);
        }
    }

    /// Waits until mail may have come (`true`) or `deadline` passes: spins
    /// briefly, looking after every pause (an answer often comes within
    /// microseconds), then sleeps on the mailbox, where the lane's and the
    /// mailbox's senders and a reader that takes a batch wake it.
    fn wait(&self, deadline: Instant) -> bool {
        let spin = SpinWait::new(RECEIVER_POLLS);
        while spin.pause() {
            if self.may_have_mail() {
                return true;
            }
        }
        let mailbox = &self.actor.core.mailbox;
        let sleep = || {
            crate::executor::pool::blocking(|| {
                mailbox.wait_for_mail(deadline, || self.lane().is_some_and(Lane::is_ready))
            })
        };
        match self.lane() {
            Some(lane) => lane.asleep(sleep),
            None => sleep(),
        }
    }

    /// Turns mail into the message plain code sees, dropping what is void.
    fn open(&self, mail: Mail) -> Option<(Envelope, Origin)> {
        let notice = match mail {
            Mail::Message(envelope) => {
                return groups::screen(&self.actor.core, envelope).map(|e| (e, Origin::Sent))
            }
            Mail::Notice(notice) => *notice,
        };
        match notice {
            Notice::Exit(signal) => {
                if !links::accept_exit(&self.actor, &signal) {
                    return None;
                }
                let origin = if signal.link.is_some() {
                    Origin::Link
                } else {
                    Origin::ExitSignal
                };
                let stopped = Stopped {
                    actor: signal.from,
                    reason: signal.reason,
                };
                Some((Envelope::new(stopped, None), origin))
            }
            Notice::Down(down) => links::accept_down(&self.actor, down.monitor)
                .then(|| (Envelope::new(down, None), Origin::Monitor)),
            Notice::Wake => None,
        }
    }

    /// Monitors `target`: its end arrives here as a `Down`.
    pub fn monitor(&self, target: &ActorRef) -> MonitorRef {
        links::monitor(&self.actor, target)
    }

    /// Removes a monitor; no `Down` for it arrives after this returns.
    pub fn demonitor(&self, monitor: MonitorRef) -> bool {
        links::demonitor(&self.actor, monitor)
    }

    /// Links this inbox with `actor`. The inbox traps exits: the actor's end
    /// arrives as `Stopped`. Dropping the inbox ends it with `Normal`, which
    /// linked actors that do not trap exits ignore.
    pub fn link(&self, actor: &ActorRef) {
        links::link(&self.actor, actor);
    }

    /// Removes a link both ways.
    pub fn unlink(&self, actor: &ActorRef) {
        links::unlink(&self.actor, actor);
    }

    /// Messages waiting (including internal wake-ups).
    pub fn len(&self) -> usize {
        let in_lane = self.lane().map_or(0, Lane::len);
        in_lane + self.taken.lock().mail.len() + self.actor.core.mailbox.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.actor.core.close(&ExitReason::Normal);
        let mut taken = std::mem::take(&mut self.taken.lock().mail);
        if let Some(envelope) = self.lane().and_then(Lane::close) {
            taken.push_front(Mail::Message(envelope));
        }
        let id = self.actor.id();
        let dropped = self.actor.core.mailbox.close(id) + user_messages(taken, id);
        if dropped > 0 {
            let core = &self.actor.core;
            core.system.dead_letters_dropped(core.id, dropped);
        }
    }
}
