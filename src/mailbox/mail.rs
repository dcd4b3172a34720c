//! What travels in a mailbox: a message's envelope, an exit signal, and the
//! mail that carries either (or a `Down`, or a bare wake-up).

use std::any::Any;
use std::fmt;

use crate::address::{ActorId, ActorRef};
use crate::exit::{Down, ExitReason};
use crate::links::LinkId;
use crate::panic::discard;
use crate::payload::Payload;

/// One message as it travels: the payload (which knows its type's name)
/// and its sender.
///
/// Plain code meets envelopes when it reads an [`Inbox`](crate::Inbox).
//
// Laid out in this order, the payload's value first (`repr(C)` here and
// in `Payload`): a mail is copied in two 16-byte halves on its way from a
// batch to a handler, and the value's two words then lie in one half. In
// the order rustc chose (the payload's table first), the value straddled
// the halves, and each 16-byte read of it waited for both copies to reach
// the cache (a failed store-to-load forward, some 15 cycles a message).
#[repr(C)]
pub struct Envelope {
    pub(crate) payload: Payload,
    pub(crate) sender: Option<ActorRef>,
}

impl Envelope {
    pub(crate) fn new<M: Send + 'static>(msg: M, sender: Option<ActorRef>) -> Self {
        Envelope {
            payload: Payload::new(msg),
            sender,
        }
    }

    /// Who sent it, if anyone.
    pub fn sender(&self) -> Option<&ActorRef> {
        self.sender.as_ref()
    }

    /// The name of the payload's type (as `std::any::type_name` gives it).
    pub fn type_name(&self) -> &'static str {
        self.payload.type_name()
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
        let type_name = self.payload.type_name();
        (self.payload.into_box(), type_name)
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("type", &self.type_name())
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

/// What a mailbox carries: a message, or a notice from the runtime.
///
/// A notice is boxed: notices are rare (an actor gets a few in its life),
/// and inline an exit signal would make every message's mail twice as
/// large (64 bytes, not 32) to move at every step and to keep in an idle
/// actor's buffer. Two variants, not four, so that the tag fits in the
/// one value an envelope never holds (a null payload table).
pub(crate) enum Mail {
    Message(Envelope),
    Notice(Box<Notice>),
}

// Every message's mail is moved several times on its way to a handler, and
// an idle actor keeps a buffer of one: this holds it to four words.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Mail>() == 32);

/// What the runtime tells an actor through its mailbox.
pub(crate) enum Notice {
    Exit(ExitSignal),
    Down(Down),
    /// Nothing: makes the driver look at the actor's status (after `kill`).
    Wake,
}

impl Mail {
    /// An exit signal's mail.
    pub fn exit(signal: ExitSignal) -> Self {
        Mail::Notice(Box::new(Notice::Exit(signal)))
    }

    /// A `Down`'s mail.
    pub fn down(down: Down) -> Self {
        Mail::Notice(Box::new(Notice::Down(down)))
    }

    /// A wake-up's mail.
    pub fn wake() -> Self {
        Mail::Notice(Box::new(Notice::Wake))
    }

    /// Whether this is an exit signal.
    pub fn is_exit(&self) -> bool {
        matches!(self, Mail::Notice(notice) if matches!(**notice, Notice::Exit(_)))
    }

    /// What gives the name of the type of the message a handler sees for
    /// this mail, to call only when the name is needed (a handler that ran
    /// long), not for every message.
    #[inline]
    pub fn type_namer(&self) -> fn() -> &'static str {
        match self {
            Mail::Message(envelope) => envelope.payload.type_namer(),
            Mail::Notice(notice) => match **notice {
                Notice::Exit(_) => std::any::type_name::<crate::exit::Stopped>,
                Notice::Down(_) => std::any::type_name::<Down>,
                Notice::Wake => || "wake",
            },
        }
    }
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
