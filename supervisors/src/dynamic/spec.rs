//! [`DynamicSupervisorSpec`]: the template of a dynamic supervisor's
//! children and the supervisor's policies.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ferrotp::{Actor, ActorRef, ExitReason, SpawnError, SpawnOptions, System};

use crate::error::SupervisorError;
use crate::intensity::{Clock, SystemClock};
use crate::lifecycle::Parent;
use crate::spec::{
    check_intensity, ChildKind, Restart, Shutdown, SupervisorSpec, DEFAULT_MAX_RESTARTS,
    DEFAULT_PERIOD, DEFAULT_WORKER_SHUTDOWN,
};
use crate::supervisor::SupervisorActor;

/// Builds one child from its arguments (like a `ChildSpec`'s start function).
pub(super) type TemplateFn<Args> = Arc<
    dyn Fn(Args, &System, &ActorRef, SpawnOptions) -> Result<ActorRef, SpawnError> + Send + Sync,
>;

/// A dynamic supervisor: the template of its children (built from
/// arguments given at [`start_child`](crate::DynamicSupervisor::start_child)), their
/// restart and shutdown policies, and the supervisor's intensity and name.
///
/// ```
/// use ferrotp::{Actor, Handlers};
/// use ferrotp_supervisors::{DynamicSupervisorSpec, Restart};
/// use std::time::Duration;
///
/// struct Session { user: String }
/// impl Actor for Session {
///     fn handlers() -> Handlers<Self> { Handlers::new() }
/// }
///
/// let spec = DynamicSupervisorSpec::worker("session", |user: String| Session { user })
///     .restart(Restart::Transient)
///     .intensity(10, Duration::from_secs(1))
///     .name("sessions");
/// # let _ = spec;
/// ```
pub struct DynamicSupervisorSpec<Args> {
    pub(crate) id: String,
    pub(crate) kind: ChildKind,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(super) template: TemplateFn<Args>,
    pub(crate) max_restarts: u32,
    pub(crate) period: Duration,
    pub(crate) name: Option<String>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl<Args> Clone for DynamicSupervisorSpec<Args> {
    fn clone(&self) -> Self {
        DynamicSupervisorSpec {
            id: self.id.clone(),
            kind: self.kind,
            restart: self.restart,
            shutdown: self.shutdown,
            template: self.template.clone(),
            max_restarts: self.max_restarts,
            period: self.period,
            name: self.name.clone(),
            clock: self.clock.clone(),
        }
    }
}

impl<Args: Clone + Send + 'static> DynamicSupervisorSpec<Args> {
    fn new(id: String, kind: ChildKind, shutdown: Shutdown, template: TemplateFn<Args>) -> Self {
        DynamicSupervisorSpec {
            id,
            kind,
            restart: Restart::Permanent,
            shutdown,
            template,
            max_restarts: DEFAULT_MAX_RESTARTS,
            period: DEFAULT_PERIOD,
            name: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Worker children built by `factory` from their arguments; a restart
    /// calls `factory` again with the same arguments. Permanent, stopped
    /// with `Shutdown::Timeout(5 s)`; intensity 1 restart in 5 s.
    pub fn worker<A, F>(id: impl Into<String>, factory: F) -> Self
    where
        A: Actor,
        F: Fn(Args) -> A + Send + Sync + 'static,
    {
        let template: TemplateFn<Args> = Arc::new(move |args, system, _supervisor, options| {
            system.spawn_with(factory(args), options)
        });
        Self::new(
            id.into(),
            ChildKind::Worker,
            Shutdown::Timeout(DEFAULT_WORKER_SHUTDOWN),
            template,
        )
    }

    /// Supervisor children: `factory` makes each one's spec from its
    /// arguments. Permanent, stopped with `Shutdown::Infinity`.
    pub fn supervisor<F>(id: impl Into<String>, factory: F) -> Self
    where
        F: Fn(Args) -> SupervisorSpec + Send + Sync + 'static,
    {
        let template: TemplateFn<Args> = Arc::new(move |args, system, supervisor, options| {
            let spec = factory(args);
            if let Err(error) = spec.validate() {
                return Err(SpawnError::StartFailed(ExitReason::error(error)));
            }
            let name = spec.name.clone();
            let actor = SupervisorActor::new(spec, Parent::Actor(supervisor.clone()), None);
            let options = match name {
                Some(name) => options.name(name),
                None => options,
            };
            system.spawn_with(actor, options.trap_exit(true))
        });
        Self::new(
            id.into(),
            ChildKind::Supervisor,
            Shutdown::Infinity,
            template,
        )
    }

    /// When a child is restarted (default [`Restart::Permanent`]).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How children are stopped. When the supervisor stops, all its children
    /// get the exit signal at once and share one timeout.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// At most `max_restarts` restarts (of any children) within `period`.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
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

    pub(crate) fn validate(&self) -> Result<(), SupervisorError> {
        check_intensity(self.period, self.name.as_deref())?;
        if self.id.is_empty() {
            return Err(SupervisorError::InvalidSpec("a child id is empty".into()));
        }
        Ok(())
    }
}

impl<Args> fmt::Debug for DynamicSupervisorSpec<Args> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicSupervisorSpec")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("max_restarts", &self.max_restarts)
            .field("period", &self.period)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
