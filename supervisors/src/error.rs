//! [`SupervisorError`]: what can go wrong when starting or asking a supervisor.

use ferrotp::{ExitReason, SpawnError};

/// Why a supervisor operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// A child with this id is already in the supervisor's list (running or
    /// not), or a spec lists the id twice.
    #[error("a child with id `{0}` already exists")]
    DuplicateChildId(String),
    /// No child has this id (or, for a dynamic supervisor, no child is this actor).
    #[error("no child with id `{0}`")]
    NoSuchChild(String),
    /// The operation needs a child that is not running, and it is.
    #[error("child `{0}` is running")]
    ChildRunning(String),
    /// The child failed to start during a restart and the supervisor is
    /// about to try again; it cannot be restarted or deleted by hand meanwhile.
    #[error("child `{0}` is being restarted")]
    ChildRestarting(String),
    /// A child could not be started: its `started` hook failed or panicked,
    /// its factory panicked, or its name was taken.
    #[error("child `{id}` failed to start: {reason}")]
    StartFailed {
        /// The child's id.
        id: String,
        /// Why it failed.
        reason: ExitReason,
    },
    /// The spec cannot be used: a zero intensity period, an empty child id
    /// or name, two children with one name.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// The supervisor did not answer within the call timeout (it may be busy
    /// restarting or shutting down children).
    #[error("the supervisor did not answer in time")]
    Timeout,
    /// The supervisor is not running (anymore), with the reason it
    /// terminated with: `Shutdown` when it escalated (too many restarts) or
    /// was shut down, `Normal` after `stop`, `Killed`, or the reason of the
    /// parent whose exit signal ended it. The handle reads it from the dead
    /// supervisor ([`ActorRef::exit_reason`](ferrotp::ActorRef::exit_reason)),
    /// so it is the real reason even for a call made long after the end.
    #[error("the supervisor is not running ({0})")]
    SupervisorDown(ExitReason),
    /// The supervisor itself could not be spawned (its name is taken, or the
    /// system is shutting down).
    #[error("could not spawn the supervisor: {0}")]
    Spawn(#[from] SpawnError),
}
