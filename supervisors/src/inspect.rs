//! What tools see of supervisors: the labels this crate puts on the actors
//! it starts, and [`inspect`], a snapshot of one supervisor with a page of
//! its children.
//!
//! Like OTP's `proc_lib`, which keeps `$ancestors` in each process's
//! dictionary for `observer` and crash reports, every child a supervisor
//! starts carries the kernel's parent link (the supervisor spawned it) and
//! a label [`CHILD_ID_LABEL`] with its child id; every supervisor carries
//! [`KIND_LABEL`]. So a tool that only has the [`System`] finds every
//! supervision tree from [`System::actors_info`](ferrotp::System::actors_info)
//! or [`ActorRef::label`], without the `Supervisor` handles.

use std::ops::Range;
use std::time::Duration;

use ferrotp::{ActorId, ActorInfo, ActorRef, CallError, ExitReason, System};

use crate::error::SupervisorError;
use crate::protocol::ChildInfo;

/// The label a supervisor puts on each child it starts: the child's id.
pub const CHILD_ID_LABEL: &str = "ferrotp_supervisors.child_id";

/// The process group every supervisor of this crate joins when it starts
/// (and leaves when it ends, as every actor leaves its groups): a tool
/// finds all supervisors with [`System::members`](ferrotp::System::members).
pub const SUPERVISORS_GROUP: &str = "ferrotp_supervisors";

/// The label on every supervisor actor: `supervisor` (a [`Supervisor`](crate::Supervisor))
/// or `dynamic_supervisor` (a [`DynamicSupervisor`](crate::DynamicSupervisor)).
pub const KIND_LABEL: &str = "ferrotp_supervisors.kind";

/// The supervisor and child id of the actor `info` describes, if a
/// supervisor of this crate started it.
///
/// ```
/// use ferrotp::{Actor, Handlers, System};
/// use ferrotp_supervisors::{supervisor_of, ChildSpec, Supervisor, SupervisorSpec};
/// # struct Idle;
/// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
/// let system = System::new();
/// let spec = SupervisorSpec::one_for_one().child(ChildSpec::worker("cache", || Idle).name("cache"));
/// let sup = Supervisor::start(&system, spec).unwrap();
/// let cache = system.whereis("cache").unwrap();
/// assert_eq!(supervisor_of(&cache.info()), Some((sup.actor().id(), "cache")));
/// assert_eq!(supervisor_of(&sup.actor().info()), None);
/// ```
pub fn supervisor_of(info: &ActorInfo) -> Option<(ActorId, &str)> {
    Some((info.parent?, info.label(CHILD_ID_LABEL)?))
}

/// Whether `actor` is a supervisor of this crate (by its [`KIND_LABEL`]).
pub fn is_supervisor(actor: &ActorRef) -> bool {
    actor.label(KIND_LABEL).is_some()
}

/// One supervisor as [`inspect`] sees it: its strategy and restart
/// intensity, how many children it has and how often they were restarted
/// in all, and a page of its children.
#[derive(Clone, Debug)]
pub struct SupervisorSnapshot {
    /// The supervisor.
    pub id: ActorId,
    /// Its registered name.
    pub name: Option<String>,
    /// `one_for_one`, `one_for_all`, `rest_for_one` or `dynamic`.
    pub strategy: String,
    /// Restarts within the current intensity window.
    pub restarts_in_window: usize,
    /// The most restarts the window allows.
    pub max_restarts: u32,
    /// The window.
    pub period: Duration,
    /// Its children (running or about to be restarted).
    pub child_count: usize,
    /// Restarts of all its current children together.
    pub total_restarts: u64,
    /// The children asked for, in start order (a dynamic supervisor: the
    /// running ones oldest first, then those waiting for a restart).
    pub children: Vec<ChildInfo>,
}

/// What [`inspect`] sends: the range of children to list.
pub(crate) struct Inspect(pub Range<usize>);

/// A snapshot of the supervisor `supervisor` (a [`Supervisor`](crate::Supervisor)'s
/// or a [`DynamicSupervisor`](crate::DynamicSupervisor)'s actor, found for
/// instance by [`is_supervisor`]) listing the children in `children` (by
/// position in start order; a range past the end lists fewer). A
/// supervisor with a million children answers with its counts and one page.
///
/// Fails with [`SupervisorError::SupervisorDown`] if it terminates, and
/// [`SupervisorError::Timeout`] if it does not answer in `timeout` (it
/// answers between restarts; an actor that is no supervisor never does).
///
/// ```
/// use ferrotp::{Actor, Handlers, System};
/// use ferrotp_supervisors::{inspect, DynamicSupervisor, DynamicSupervisorSpec};
/// use std::time::Duration;
/// # struct Session;
/// # impl Actor for Session { fn handlers() -> Handlers<Self> { Handlers::new() } }
/// let system = System::new();
/// let sessions = DynamicSupervisor::start(
///     &system,
///     DynamicSupervisorSpec::worker("session", |_: u32| Session),
/// ).unwrap();
/// sessions.start_children(0..100).unwrap();
/// let snapshot = inspect(&system, sessions.actor(), 0..10, Duration::from_secs(5)).unwrap();
/// assert_eq!((snapshot.child_count, snapshot.children.len()), (100, 10));
/// assert_eq!(snapshot.strategy, "dynamic");
/// ```
pub fn inspect(
    system: &System,
    supervisor: &ActorRef,
    children: Range<usize>,
    timeout: Duration,
) -> Result<SupervisorSnapshot, SupervisorError> {
    system
        .bridge()
        .call::<SupervisorSnapshot, _>(supervisor, Inspect(children), timeout)
        .map_err(|error| match error {
            // A supervisor's mailbox is unbounded; a full one would be a
            // busy supervisor, as a timeout is.
            CallError::Timeout | CallError::Full => SupervisorError::Timeout,
            CallError::Stopped(reason) => {
                SupervisorError::SupervisorDown(supervisor.exit_reason().unwrap_or(reason))
            }
            CallError::WrongReplyType { got, .. } => SupervisorError::SupervisorDown(
                ExitReason::Error(format!("not a supervisor (it answered with a `{got}`)")),
            ),
        })
}

/// The children of `all` in `range`.
pub(crate) fn page(all: impl Iterator<Item = ChildInfo>, range: Range<usize>) -> Vec<ChildInfo> {
    let len = range.end.saturating_sub(range.start);
    all.skip(range.start).take(len).collect()
}
