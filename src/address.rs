//! Addresses: [`ActorId`], [`ActorRef`], and the shared core behind them.
//!
//! [`ActorRef`] itself (identity, liveness, equality) is here; the rest has
//! a module per concept:
//! - [`id`]: [`ActorId`] and the hasher of the system's tables;
//! - [`core`]: what every address of one actor shares, and who drives it;
//! - [`current`]: which actor's code this thread runs;
//! - [`delivery`]: putting mail, exit signals and `Down` into a core;
//! - [`termination`]: closing a core and telling its links and watchers;
//! - [`send`]: sending through an address, bounded mailboxes included;
//! - [`exit_signals`]: `kill` and `exit` from outside the actor;
//! - [`info`]: [`ActorInfo`], the snapshot of one actor for tools.

mod core;
mod current;
mod delivery;
mod exit_signals;
mod id;
mod info;
mod send;
mod termination;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::exit::ExitReason;

pub(crate) use self::core::{Core, Driver, DriverKind, EXITING, RUNNING};
pub(crate) use current::{current_actor_in, running, runs_an_actor, sender_was_killed};
pub use id::ActorId;
pub(crate) use id::IdHasher;
pub use info::ActorInfo;

/// The address of an actor: cheap to clone, `Send + Sync`, untyped.
///
/// Any message type can be sent; the receiving actor picks its handler by
/// the message's type. Sending to a dead actor is not an error: the message
/// goes to the system's dead letters ([`System::dead_letters`](crate::System::dead_letters)).
#[derive(Clone)]
pub struct ActorRef {
    pub(crate) core: Arc<Core>,
}

impl ActorRef {
    pub(crate) fn from_core(core: Arc<Core>) -> Self {
        ActorRef { core }
    }

    /// This actor's id.
    pub fn id(&self) -> ActorId {
        self.core.id
    }

    /// Whether the actor is still alive (it may die right after this returns).
    pub fn is_alive(&self) -> bool {
        !self.core.is_dead()
    }

    /// The reason the actor terminated with, or `None` while it is alive.
    ///
    /// Set before anyone is told of the end, so whoever gets a `Down`, a
    /// `Stopped` or a call error about the actor finds it here too — even
    /// where the notice itself can only say `NoProc` (a monitor or call made
    /// after the end). The address of an inbox reports `Normal` once the
    /// inbox is dropped.
    ///
    /// ```
    /// # use ferrotp::{Actor, ExitReason, Handlers, System};
    /// # use std::time::Duration;
    /// # struct Idle;
    /// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let idle = system.spawn(Idle);
    /// assert_eq!(idle.exit_reason(), None);
    /// idle.exit(ExitReason::error("disk full"));
    /// // Whenever the monitor is made, its `Down` comes after the end.
    /// let inbox = system.inbox();
    /// inbox.monitor(&idle);
    /// inbox.recv(Duration::from_secs(5)).unwrap();
    /// assert_eq!(idle.exit_reason(), Some(ExitReason::error("disk full")));
    /// ```
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.core.relations().end()
    }
}

impl PartialEq for ActorRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.core, &other.core)
    }
}

impl Eq for ActorRef {}

impl Hash for ActorRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl fmt::Debug for ActorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorRef({})", self.id())
    }
}

impl fmt::Display for ActorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.id(), f)
    }
}
