//! Mailboxes: what travels to an actor, and the two queues it travels in.
//!
//! Every actor has a *message* queue (ordinary messages, `Down`, and exit
//! signals for an actor that traps exits, all in arrival order) and a
//! *signal* queue (exit signals for an actor that does not trap them). The
//! driver looks at the signal queue before every message, which is how an
//! exit signal takes effect before a backlog of queued messages, while a
//! message an actor sent before dying is never overtaken by its `Stopped`.

use std::any::Any;
use std::fmt;

use crossbeam_channel::{Receiver, Sender};

use crate::address::{ActorId, ActorRef};
use crate::exit::{Down, ExitReason};

/// One message as it travels: the payload, its type's name, and its sender.
///
/// Plain code meets envelopes when it reads an [`Inbox`](crate::Inbox).
pub struct Envelope {
    pub(crate) payload: Box<dyn Any + Send>,
    pub(crate) type_name: &'static str,
    pub(crate) sender: Option<ActorRef>,
}

impl Envelope {
    pub(crate) fn new<M: Send + 'static>(msg: M, sender: Option<ActorRef>) -> Self {
        Envelope {
            payload: Box::new(msg),
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
            Ok(value) => Ok(*value),
            Err(payload) => Err(Envelope { payload, ..self }),
        }
    }

    /// The payload and its type name, dropping the sender.
    pub fn into_parts(self) -> (Box<dyn Any + Send>, &'static str) {
        (self.payload, self.type_name)
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
    /// It comes from a link: it is void if the receiver unlinked `from`.
    pub via_link: bool,
    /// It cannot be trapped (a system shutdown); `stopped` still runs.
    pub force: bool,
}

/// What a mailbox carries.
pub(crate) enum Mail {
    Message(Envelope),
    Exit(ExitSignal),
    Down(Down),
    /// Nothing: makes a blocked driver look at its status and signal queue.
    Wake,
}

/// The sending half of a mailbox, kept in the actor's shared core.
pub(crate) struct MailboxTx {
    pub messages: Sender<Mail>,
    pub signals: Sender<ExitSignal>,
}

/// The receiving half, owned by whoever drives the actor.
pub(crate) struct MailboxRx {
    pub messages: Receiver<Mail>,
    pub signals: Receiver<ExitSignal>,
}

pub(crate) fn mailbox() -> (MailboxTx, MailboxRx) {
    let (msg_tx, msg_rx) = crossbeam_channel::unbounded();
    let (sig_tx, sig_rx) = crossbeam_channel::unbounded();
    (
        MailboxTx {
            messages: msg_tx,
            signals: sig_tx,
        },
        MailboxRx {
            messages: msg_rx,
            signals: sig_rx,
        },
    )
}

impl MailboxRx {
    /// The next item: a pending exit signal first, else the next message,
    /// waiting for one.
    pub fn recv(&self) -> Option<Mail> {
        if let Ok(signal) = self.signals.try_recv() {
            return Some(Mail::Exit(signal));
        }
        self.messages.recv().ok()
    }

    /// Counts what is left as dead letters (an actor terminated with mail
    /// still queued) and returns how many user messages there were.
    pub fn drain(&self) -> u64 {
        while self.signals.try_recv().is_ok() {}
        let mut dropped = 0;
        while let Ok(mail) = self.messages.try_recv() {
            if let Mail::Message(_) = mail {
                dropped += 1;
            }
        }
        dropped
    }
}
