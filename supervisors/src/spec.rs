//! What to supervise and how: [`SupervisorSpec`], [`ChildSpec`], [`Restart`],
//! [`Shutdown`], [`ChildKind`], [`Strategy`].

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ferrotp::{Actor, ActorRef, SpawnError, SpawnOptions, System};

use crate::dynamic::{DynamicSupervisorActor, DynamicSupervisorSpec};
use crate::error::SupervisorError;
use crate::intensity::{Clock, SystemClock};
use crate::lifecycle::Parent;
use crate::supervisor::SupervisorActor;

/// OTP's default restart intensity: at most 1 restart ...
pub const DEFAULT_MAX_RESTARTS: u32 = 1;
/// ... within 5 seconds.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(5);
/// How long a worker gets to stop after the exit signal `Shutdown` before
/// it is killed, unless its spec says otherwise.
pub const DEFAULT_WORKER_SHUTDOWN: Duration = Duration::from_secs(5);

/// Which children a supervisor restarts when one of them must be restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Only the child that terminated.
    OneForOne,
    /// All children: the others are stopped in reverse start order, then all
    /// are started again in start order.
    OneForAll,
    /// The child that terminated and the children started after it: those
    /// are stopped in reverse start order, then all of them started again.
    RestForOne,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::OneForOne => "one_for_one",
            Strategy::OneForAll => "one_for_all",
            Strategy::RestForOne => "rest_for_one",
        })
    }
}

/// When a child that terminated is restarted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Restart {
    /// Always.
    #[default]
    Permanent,
    /// Only after an abnormal reason: `Normal` and `Shutdown` leave it
    /// stopped (still listed, without an actor).
    Transient,
    /// Never; the child is removed from the list when it terminates.
    Temporary,
}

/// How a child is stopped by its supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// Send the exit signal `Shutdown`; kill the child if it has not
    /// terminated after this long.
    Timeout(Duration),
    /// Kill the child at once (its `stopped` hook does not run).
    Brutal,
    /// Send the exit signal `Shutdown` and wait as long as it takes (the
    /// default for supervisors, so that a subtree has time to stop).
    Infinity,
}

/// Whether a child is a worker or a supervisor (reported, and used to walk trees).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildKind {
    /// Any actor that is not a supervisor.
    Worker,
    /// A supervisor (static or dynamic).
    Supervisor,
}

/// Spawns one incarnation of a child: given the supervisor's system, the
/// supervisor itself, and spawn options already holding the link, the name
/// and `await_started`.
pub(crate) type StartFn =
    Arc<dyn Fn(&System, &ActorRef, SpawnOptions) -> Result<ActorRef, SpawnError> + Send + Sync>;

/// Validates a nested supervisor's spec.
type CheckFn = Arc<dyn Fn() -> Result<(), SupervisorError> + Send + Sync>;

/// One child of a supervisor: its id, how to build it, and the policies
/// that apply to it.
///
/// ```
/// use ferrotp::{Actor, Handlers};
/// use ferrotp_supervisors::{ChildSpec, Restart, Shutdown};
/// use std::time::Duration;
///
/// struct Cache;
/// impl Actor for Cache {
///     fn handlers() -> Handlers<Self> { Handlers::new() }
/// }
///
/// let spec = ChildSpec::worker("cache", || Cache)
///     .restart(Restart::Transient)
///     .shutdown(Shutdown::Timeout(Duration::from_secs(1)))
///     .name("cache");
/// assert_eq!(spec.id(), "cache");
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: String,
    pub(crate) kind: ChildKind,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(crate) name: Option<String>,
    pub(crate) start: StartFn,
    check: Option<CheckFn>,
}

impl ChildSpec {
    /// A worker built by `factory`, which makes a fresh actor at every
    /// (re)start. Permanent, stopped with `Shutdown::Timeout(5 s)`, unnamed.
    pub fn worker<A, F>(id: impl Into<String>, factory: F) -> Self
    where
        A: Actor,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let start: StartFn =
            Arc::new(move |system, _supervisor, options| system.spawn_with(factory(), options));
        ChildSpec {
            id: id.into(),
            kind: ChildKind::Worker,
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(DEFAULT_WORKER_SHUTDOWN),
            name: None,
            start,
            check: None,
        }
    }

    /// A nested supervisor started from `spec` at every (re)start.
    /// Permanent, stopped with `Shutdown::Infinity`, registered under the
    /// spec's name if it has one.
    pub fn supervisor(id: impl Into<String>, spec: SupervisorSpec) -> Self {
        let name = spec.name.clone();
        let check_spec = spec.clone();
        let start: StartFn = Arc::new(move |system, supervisor, options| {
            let actor = SupervisorActor::new(spec.clone(), Parent::Actor(supervisor.clone()), None);
            system.spawn_with(actor, options.trap_exit(true))
        });
        ChildSpec {
            id: id.into(),
            kind: ChildKind::Supervisor,
            restart: Restart::Permanent,
            shutdown: Shutdown::Infinity,
            name,
            start,
            check: Some(Arc::new(move || check_spec.validate())),
        }
    }

    /// A nested [`DynamicSupervisor`](crate::DynamicSupervisor) started from
    /// `spec` at every (re)start (with no children: they are started on
    /// demand). Defaults as for [`supervisor`](Self::supervisor).
    pub fn dynamic_supervisor<Args>(
        id: impl Into<String>,
        spec: DynamicSupervisorSpec<Args>,
    ) -> Self
    where
        Args: Clone + Send + 'static,
    {
        let name = spec.name.clone();
        let check_spec = spec.clone();
        let start: StartFn = Arc::new(move |system, supervisor, options| {
            let actor =
                DynamicSupervisorActor::new(spec.clone(), Parent::Actor(supervisor.clone()), None);
            system.spawn_with(actor, options.trap_exit(true))
        });
        ChildSpec {
            id: id.into(),
            kind: ChildKind::Supervisor,
            restart: Restart::Permanent,
            shutdown: Shutdown::Infinity,
            name,
            start,
            check: Some(Arc::new(move || check_spec.validate())),
        }
    }

    /// When the child is restarted (default [`Restart::Permanent`]).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How the child is stopped (default 5 s for workers, `Infinity` for supervisors).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Registers the child under `name` at every (re)start.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Runs the child on a thread of its own at every (re)start, whatever
    /// the system's default executor ([`SpawnOptions::dedicated`]): for a
    /// worker that blocks and must not hold a pool worker.
    pub fn dedicated(mut self) -> Self {
        let start = self.start;
        self.start = Arc::new(move |system, supervisor, options| {
            start(system, supervisor, options.dedicated())
        });
        self
    }

    /// Bounds the child's mailbox to `capacity` messages at every
    /// (re)start ([`SpawnOptions::mailbox`]); unbounded by default. A
    /// capacity of 0 makes every start fail.
    pub fn mailbox(mut self, capacity: usize) -> Self {
        let start = self.start;
        self.start = Arc::new(move |system, supervisor, options| {
            start(system, supervisor, options.mailbox(capacity))
        });
        self
    }

    /// The child's id, unique within its supervisor.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Worker or supervisor.
    pub fn kind(&self) -> ChildKind {
        self.kind
    }

    /// Checks the id, the name, and a nested supervisor's whole spec.
    pub(crate) fn validate(&self) -> Result<(), SupervisorError> {
        if self.id.is_empty() {
            return Err(SupervisorError::InvalidSpec("a child id is empty".into()));
        }
        if self.name.as_deref() == Some("") {
            return Err(SupervisorError::InvalidSpec(format!(
                "child `{}` has an empty name",
                self.id
            )));
        }
        match &self.check {
            Some(check) => check(),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A supervisor: its strategy, its restart intensity, its children in start
/// order, and optionally a name.
///
/// ```
/// use ferrotp::{Actor, Handlers};
/// use ferrotp_supervisors::{ChildSpec, SupervisorSpec};
/// use std::time::Duration;
///
/// struct Worker;
/// impl Actor for Worker {
///     fn handlers() -> Handlers<Self> { Handlers::new() }
/// }
///
/// let spec = SupervisorSpec::rest_for_one()
///     .intensity(3, Duration::from_secs(10))
///     .name("app")
///     .child(ChildSpec::worker("db", || Worker))
///     .child(ChildSpec::worker("api", || Worker));
/// # let _ = spec;
/// ```
#[derive(Clone)]
pub struct SupervisorSpec {
    pub(crate) strategy: Strategy,
    pub(crate) max_restarts: u32,
    pub(crate) period: Duration,
    pub(crate) children: Vec<ChildSpec>,
    pub(crate) name: Option<String>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl SupervisorSpec {
    /// A supervisor with `strategy`, no children, OTP's default intensity.
    pub fn new(strategy: Strategy) -> Self {
        SupervisorSpec {
            strategy,
            max_restarts: DEFAULT_MAX_RESTARTS,
            period: DEFAULT_PERIOD,
            children: Vec::new(),
            name: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Restarts only the child that terminated.
    pub fn one_for_one() -> Self {
        Self::new(Strategy::OneForOne)
    }

    /// Restarts all children when one must be restarted.
    pub fn one_for_all() -> Self {
        Self::new(Strategy::OneForAll)
    }

    /// Restarts the child that terminated and those started after it.
    pub fn rest_for_one() -> Self {
        Self::new(Strategy::RestForOne)
    }

    /// At most `max_restarts` restarts within any `period`: the restart that
    /// would make more terminates all children and the supervisor itself
    /// with `Shutdown`. Default: 1 in 5 seconds. `period` must not be zero.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Adds a child; children start in the order they are added.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Registers the supervisor under `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Counts restart intensity on `clock` instead of the system clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Checks the intensity, every child, and that ids and names are unique.
    pub(crate) fn validate(&self) -> Result<(), SupervisorError> {
        check_intensity(self.period, self.name.as_deref())?;
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for child in &self.children {
            child.validate()?;
            if !ids.insert(child.id.as_str()) {
                return Err(SupervisorError::DuplicateChildId(child.id.clone()));
            }
            if let Some(name) = &child.name {
                if !names.insert(name.as_str()) {
                    return Err(SupervisorError::InvalidSpec(format!(
                        "two children are named `{name}`"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The checks every supervisor spec shares.
pub(crate) fn check_intensity(period: Duration, name: Option<&str>) -> Result<(), SupervisorError> {
    if period.is_zero() {
        return Err(SupervisorError::InvalidSpec(
            "the intensity period must not be zero".into(),
        ));
    }
    if name == Some("") {
        return Err(SupervisorError::InvalidSpec(
            "the supervisor's name is empty".into(),
        ));
    }
    Ok(())
}

impl fmt::Debug for SupervisorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorSpec")
            .field("strategy", &self.strategy)
            .field("max_restarts", &self.max_restarts)
            .field("period", &self.period)
            .field("children", &self.children)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
