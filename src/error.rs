//! The errors a user can cause, one type per family of operations.

use std::fmt;
use std::time::Duration;

use crate::address::ActorId;
use crate::exit::ExitReason;

/// A name could not be (un)registered or resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Another live actor holds the name.
    #[error("the name `{name}` is taken by actor {holder}")]
    NameTaken {
        /// The name asked for.
        name: String,
        /// Who holds it.
        holder: ActorId,
    },
    /// The actor already has a name (an actor has at most one).
    #[error("actor {actor} is already registered as `{name}`")]
    AlreadyNamed {
        /// The actor.
        actor: ActorId,
        /// Its current name.
        name: String,
    },
    /// The actor is not alive, so it cannot be named.
    #[error("the actor is not alive")]
    NotAlive,
    /// No live actor is registered under the name.
    #[error("no actor is registered as `{0}`")]
    NotRegistered(String),
}

/// A `Bridge` call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No reply came within the timeout.
    #[error("no reply within the timeout")]
    Timeout,
    /// The reply was of another type than the one asked for.
    #[error("expected a reply of type `{expected}`, got `{got}`")]
    WrongReplyType {
        /// The type the caller asked for.
        expected: &'static str,
        /// The type that came back.
        got: &'static str,
    },
    /// The target terminated (or was not alive) before it replied.
    #[error("the actor stopped before replying ({0})")]
    Stopped(ExitReason),
    /// The target's bounded mailbox was full: the request was not sent (it
    /// is dropped, not counted as a dead letter: this error is the notice).
    #[error("the actor's mailbox is full")]
    Full,
}

/// A message was not sent, and here it is back.
///
/// Only a bounded mailbox refuses a message
/// ([`SpawnOptions::mailbox`](crate::SpawnOptions::mailbox)); sending to a
/// dead actor is not an error (the message is a dead letter).
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError<M> {
    /// The mailbox was at its capacity (and still was at the deadline, for
    /// [`ActorRef::send_timeout`](crate::ActorRef::send_timeout)).
    #[error("the actor's mailbox is full")]
    Full(M),
}

impl<M> SendError<M> {
    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        match self {
            SendError::Full(msg) => msg,
        }
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("Full(..)"),
        }
    }
}

/// An actor could not be spawned.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The operating system refused a thread.
    #[error("the operating system refused a thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The process runs as many threads as it safely can: past this limit
    /// (derived from the kernel's `vm.max_map_count`), a new thread could
    /// abort the whole process. Spawn the actor on the pool instead.
    #[error("too many threads: this process may run at most {limit} ferrotp threads")]
    TooManyThreads {
        /// The limit that was reached.
        limit: usize,
    },
    /// The system is shutting down and accepts no new actors.
    #[error("the system is shutting down")]
    ShuttingDown,
    /// The name in the spawn options could not be registered.
    #[error("could not register the new actor: {0}")]
    Name(#[from] RegistryError),
    /// The spawn options asked for a mailbox of capacity 0, which could
    /// never hold a message.
    #[error("a bounded mailbox needs a capacity of at least 1")]
    ZeroCapacity,
    /// The actor's `started` hook failed (only reported when the spawn
    /// options asked to wait for it).
    #[error("the actor failed to start: {0}")]
    StartFailed(ExitReason),
}

/// What went wrong when receiving from an [`Inbox`](crate::Inbox).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// Nothing arrived in time.
    #[error("nothing arrived within the timeout")]
    Timeout,
}

/// `System::shutdown` finished, but not every actor stopped in time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} actor(s) did not stop within {timeout:?}: {actors:?}", actors.len())]
pub struct ShutdownError {
    /// The actors that had to be killed, or whose threads are still stuck.
    pub actors: Vec<ActorId>,
    /// The timeout that was given.
    pub timeout: Duration,
}
