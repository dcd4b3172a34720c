//! Why actors end, and the messages that say so: [`ExitReason`], [`Stop`],
//! [`Stopped`] and [`Down`].

use std::fmt;

use crate::address::ActorId;
use crate::links::MonitorRef;

/// Why an actor terminated.
///
/// `Normal` and `Shutdown` are the expected reasons ([`is_normal`](Self::is_normal));
/// every other reason is abnormal. Along a link, only `Normal` is harmless:
/// `Shutdown` terminates a linked actor that does not trap exits, as in Erlang.
///
/// ```
/// use ferrotp::ExitReason;
/// assert!(ExitReason::Shutdown.is_normal());
/// assert!(!ExitReason::Panic("boom".into()).is_normal());
/// assert_eq!(ExitReason::error("disk full"), ExitReason::Error("disk full".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExitReason {
    /// The actor finished its work (for example it handled [`Stop`]).
    Normal,
    /// The actor was asked to stop by its supervisor or its system.
    Shutdown,
    /// The actor was killed with [`ActorRef::kill`](crate::ActorRef::kill); untrappable.
    Killed,
    /// The actor did not exist (anymore) when it was linked to or monitored.
    NoProc,
    /// A handler or lifecycle hook panicked; the text is the panic payload.
    Panic(String),
    /// A handler returned `Err`, or code chose to stop with an error.
    Error(String),
}

impl ExitReason {
    /// `true` for `Normal` and `Shutdown`: the reasons that are not failures.
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal | ExitReason::Shutdown)
    }

    /// An `Error` reason from anything printable.
    pub fn error(text: impl fmt::Display) -> Self {
        ExitReason::Error(text.to_string())
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::NoProc => f.write_str("noproc"),
            ExitReason::Panic(text) => write!(f, "panic: {text}"),
            ExitReason::Error(text) => write!(f, "error: {text}"),
        }
    }
}

/// Asks an actor to stop. Handled in mailbox order: unless the actor
/// registered its own handler for `Stop`, the runtime answers the sender
/// with [`Stopped`] and terminates the actor with [`ExitReason::Normal`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stop;

/// An actor has terminated, and why.
///
/// It answers a [`Stop`], and it is the message a trapping actor receives
/// when a linked actor terminates (or when an exit signal is sent to it).
/// `actor` is [`ActorId::EXTERNAL`] for an exit signal sent from plain code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// The actor that terminated (or sent the exit signal).
    pub actor: ActorId,
    /// Why.
    pub reason: ExitReason,
}

/// A monitored actor has terminated. Delivered exactly once per monitor,
/// unless the monitor was removed with `demonitor` first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Down {
    /// The monitor that fired.
    pub monitor: MonitorRef,
    /// The actor that terminated.
    pub actor: ActorId,
    /// Why.
    pub reason: ExitReason,
}
