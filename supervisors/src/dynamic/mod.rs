//! [`DynamicSupervisor`]: many children of one template, started on demand
//! (OTP's `simple_one_for_one`, Elixir's `DynamicSupervisor`).

use std::any::TypeId;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use ferrotp::{
    Actor, ActorId, ActorRef, Context, ExitReason, Handlers, SpawnError, SpawnOptions, Stopped,
    System,
};

use crate::error::SupervisorError;
use crate::inspect::{page, Inspect, SupervisorSnapshot, KIND_LABEL, SUPERVISORS_GROUP};
use crate::intensity::{Clock, RestartWindow, SystemClock};
use crate::lifecycle::{clean_end, spawn_child, Parent, Stopper};
use crate::protocol::{
    name_option, ChildCount, ChildInfo, CountChildren, Describe, Handle, StartReply, Summary,
    WhichChildren,
};
use crate::report::Reporter;
use crate::spec::{
    check_intensity, ChildKind, Restart, Shutdown, SupervisorSpec, DEFAULT_MAX_RESTARTS,
    DEFAULT_PERIOD, DEFAULT_WORKER_SHUTDOWN,
};
use crate::subtree::Subtree;
use crate::supervisor::SupervisorActor;

/// Builds one child from its arguments (like a `ChildSpec`'s start function).
type TemplateFn<Args> = Arc<
    dyn Fn(Args, &System, &ActorRef, SpawnOptions) -> Result<ActorRef, SpawnError> + Send + Sync,
>;

/// A dynamic supervisor: the template of its children (built from
/// arguments given at [`start_child`](DynamicSupervisor::start_child)), their
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
    template: TemplateFn<Args>,
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

/// Starts a child with these arguments.
struct StartDynamic<Args>(Args);
/// Starts one child per argument, in order.
struct StartDynamicMany<Args>(Vec<Args>);
/// Terminates this child.
struct TerminateDynamic(ActorId);
/// Sent to itself: retry the restart that failed (see `RetryRestart`).
struct RetryDynamic(u64);

/// A running dynamic supervisor (a cheap, clonable handle).
///
/// Its children all come from one template and are started on demand with
/// [`start_child`](Self::start_child); each is restarted per the template's
/// restart policy (one-for-one), with the arguments it was started with.
/// When it stops, all its children get the exit signal at once.
///
/// ```
/// use ferrotp::{Actor, Context, Handlers, System};
/// use ferrotp_supervisors::{DynamicSupervisor, DynamicSupervisorSpec};
/// use std::time::Duration;
///
/// struct Adder { n: i64 }
/// impl Adder {
///     fn add(&mut self, x: i64, ctx: &mut Context<Self>) { ctx.reply(self.n + x); }
/// }
/// impl Actor for Adder {
///     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::add) }
/// }
///
/// let system = System::new();
/// let adders = DynamicSupervisor::start(
///     &system,
///     DynamicSupervisorSpec::worker("adder", |n: i64| Adder { n }),
/// )
/// .unwrap();
/// let plus_two = adders.start_child(2).unwrap();
/// let five: i64 = system.bridge().call(&plus_two, 3i64, Duration::from_secs(5)).unwrap();
/// assert_eq!(five, 5);
/// assert_eq!(adders.count_children().unwrap().active, 1);
/// ```
pub struct DynamicSupervisor<Args> {
    handle: Handle,
    _args: PhantomData<fn(Args)>,
}

impl<Args> Clone for DynamicSupervisor<Args> {
    fn clone(&self) -> Self {
        DynamicSupervisor {
            handle: self.handle.clone(),
            _args: PhantomData,
        }
    }
}

impl<Args> fmt::Debug for DynamicSupervisor<Args> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DynamicSupervisor({})", self.handle.actor.id())
    }
}

impl<Args: Clone + Send + 'static> DynamicSupervisor<Args> {
    pub(crate) fn from_handle(handle: Handle) -> Self {
        DynamicSupervisor {
            handle,
            _args: PhantomData,
        }
    }

    /// Starts a dynamic supervisor (with no children), not linked to the
    /// caller; an exit signal from plain code counts as its parent's.
    pub fn start(
        system: &System,
        spec: DynamicSupervisorSpec<Args>,
    ) -> Result<Self, SupervisorError> {
        spec.validate()?;
        let (reply, report) = mpsc::channel();
        let options = name_option(spec.name.as_deref());
        let actor = DynamicSupervisorActor::new(spec, Parent::External, Some(reply));
        let subtree = actor.subtree.clone();
        Handle::spawn(system, actor, options, report, subtree).map(Self::from_handle)
    }

    /// Starts a dynamic supervisor linked to the calling actor (see
    /// [`Supervisor::start_link`](crate::Supervisor::start_link)).
    pub fn start_link<A: Actor>(
        ctx: &Context<A>,
        spec: DynamicSupervisorSpec<Args>,
    ) -> Result<Self, SupervisorError> {
        spec.validate()?;
        let (reply, report) = mpsc::channel();
        let options = name_option(spec.name.as_deref()).link(ctx.myself());
        let actor =
            DynamicSupervisorActor::new(spec, Parent::Actor(ctx.myself().clone()), Some(reply));
        let subtree = actor.subtree.clone();
        Handle::spawn(ctx.system(), actor, options, report, subtree).map(Self::from_handle)
    }

    /// The supervisor's address.
    pub fn actor(&self) -> &ActorRef {
        &self.handle.actor
    }

    /// The same handle with another call timeout.
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.handle.call_timeout = timeout;
        self
    }

    /// Starts a child built from `args` and returns it once its `started`
    /// hook has returned; [`StartFailed`](SupervisorError::StartFailed) if it
    /// failed.
    pub fn start_child(&self, args: Args) -> Result<ActorRef, SupervisorError> {
        self.handle.try_call(StartDynamic(args))
    }

    /// Starts one child per element of `args`, in order, in one round trip
    /// to the supervisor: much faster than a `start_child` call each when
    /// starting thousands. The answer has one result per element, in
    /// order; a child that fails to start (`StartFailed`) does not stop
    /// the others. The outer error is the call's (`Timeout`,
    /// `SupervisorDown`): a large batch may need
    /// [`with_call_timeout`](Self::with_call_timeout).
    ///
    /// ```
    /// # use ferrotp::{Actor, Handlers, System};
    /// # use ferrotp_supervisors::{DynamicSupervisor, DynamicSupervisorSpec};
    /// # struct Session(u32);
    /// # impl Actor for Session { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let sessions = DynamicSupervisor::start(
    ///     &system,
    ///     DynamicSupervisorSpec::worker("session", Session),
    /// )
    /// .unwrap();
    /// let started = sessions.start_children(0..1000).unwrap();
    /// assert!(started.iter().all(|child| child.is_ok()));
    /// assert_eq!(sessions.count_children().unwrap().active, 1000);
    /// ```
    pub fn start_children(
        &self,
        args: impl IntoIterator<Item = Args>,
    ) -> Result<Vec<Result<ActorRef, SupervisorError>>, SupervisorError> {
        self.handle
            .call(StartDynamicMany(args.into_iter().collect::<Vec<_>>()))
    }

    /// Stops `child` per the template's `Shutdown` and forgets it.
    /// [`NoSuchChild`](SupervisorError::NoSuchChild) if it is not a running
    /// child of this supervisor.
    pub fn terminate_child(&self, child: &ActorRef) -> Result<(), SupervisorError> {
        self.handle.try_call(TerminateDynamic(child.id()))
    }

    /// The running children, oldest (re)start first — a restarted child
    /// moves after those started before its restart —, then those waiting
    /// for a restart retry, without an actor. Each has the template's id.
    pub fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.handle.call(WhichChildren)
    }

    /// One spec (the template), the live children, and how many children
    /// there are of the template's kind.
    pub fn count_children(&self) -> Result<ChildCount, SupervisorError> {
        self.handle.call(CountChildren)
    }

    /// Stops all children, then the supervisor (with `Normal`); waits up to
    /// `timeout` for all of it.
    pub fn stop(&self, timeout: Duration) -> Result<(), SupervisorError> {
        self.handle.stop(timeout)
    }

    /// The live tree under this supervisor as indented text.
    pub fn tree(&self) -> Result<String, SupervisorError> {
        crate::tree::render(&self.handle)
    }
}

/// One dynamic child.
struct DynChild<Args> {
    args: Args,
    restarts: u32,
    /// Its last incarnation, for reports.
    last: ActorId,
}

/// The dynamic supervisor actor.
pub(crate) struct DynamicSupervisorActor<Args> {
    spec: DynamicSupervisorSpec<Args>,
    /// Running children, by actor; `ActorId`s grow with spawn order.
    running: BTreeMap<ActorId, (ActorRef, DynChild<Args>)>,
    /// Children that failed to start during a restart, by retry token.
    restarting: BTreeMap<u64, DynChild<Args>>,
    next_retry: u64,
    window: RestartWindow,
    parent: Parent,
    reporter: Reporter,
    start_reply: Option<StartReply>,
    /// The live children, for whoever stops this supervisor (see `Subtree`).
    subtree: Arc<Subtree>,
}

impl<Args: Clone + Send + 'static> DynamicSupervisorActor<Args> {
    pub fn new(
        spec: DynamicSupervisorSpec<Args>,
        parent: Parent,
        start_reply: Option<StartReply>,
    ) -> Self {
        DynamicSupervisorActor {
            window: RestartWindow::new(spec.max_restarts, spec.period, spec.clock.clone()),
            reporter: Reporter {
                id: ActorId::EXTERNAL,
                name: spec.name.clone(),
                system: None,
            },
            spec,
            running: BTreeMap::new(),
            restarting: BTreeMap::new(),
            next_retry: 0,
            parent,
            start_reply,
            subtree: Subtree::for_new_supervisor(),
        }
    }

    fn spawn(&self, ctx: &Context<Self>, args: &Args) -> Result<ActorRef, ExitReason> {
        let template = &self.spec.template;
        spawn_child(
            ctx,
            &self.subtree,
            self.spec.shutdown,
            |system, supervisor, options| template(args.clone(), system, supervisor, options),
            &self.spec.id,
            None,
        )
    }

    fn info(&self, actor: Option<ActorRef>, child: &DynChild<Args>) -> ChildInfo {
        ChildInfo {
            id: self.spec.id.clone(),
            actor,
            kind: self.spec.kind,
            restart: self.spec.restart,
            name: None,
            restarts: child.restarts,
        }
    }

    fn infos(&self) -> Vec<ChildInfo> {
        let running = self
            .running
            .values()
            .map(|(actor, child)| self.info(Some(actor.clone()), child));
        let waiting = self.restarting.values().map(|child| self.info(None, child));
        running.chain(waiting).collect()
    }

    fn on_stopped(&mut self, Stopped { actor, reason }: Stopped, ctx: &mut Context<Self>) {
        if self.parent.is(actor) {
            self.reporter.parent_exited(actor, &reason);
            ctx.stop(reason);
            return;
        }
        let is_dead_child = self
            .running
            .get(&actor)
            .is_some_and(|(child, _)| !child.is_alive());
        if !is_dead_child {
            self.reporter.ignored_exit(actor, &reason);
            return;
        }
        let Some((_, child)) = self.running.remove(&actor) else {
            return;
        };
        self.subtree.child_ended(actor);
        self.reporter.child_exited(&self.spec.id, actor, &reason);
        let restart = match self.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => !reason.is_normal(),
            Restart::Temporary => false,
        };
        if restart {
            self.restart(ctx, child);
        }
    }

    fn restart(&mut self, ctx: &mut Context<Self>, mut child: DynChild<Args>) {
        if ctx.system().is_shutting_down() {
            return;
        }
        let count = match self.window.add_restart() {
            Ok(count) => count,
            Err(exceeded) => {
                self.reporter.escalated(
                    &self.spec.id,
                    Some(child.last),
                    exceeded.count,
                    self.window.max_restarts(),
                    self.window.period(),
                );
                ctx.stop(ExitReason::Shutdown);
                return;
            }
        };
        match self.spawn(ctx, &child.args) {
            Ok(actor) => {
                self.reporter
                    .child_restarted(&self.spec.id, Some(child.last), actor.id(), count);
                child.restarts += 1;
                child.last = actor.id();
                self.running.insert(actor.id(), (actor, child));
            }
            Err(reason) => {
                self.reporter.restart_failed(&self.spec.id, &reason, count);
                let token = self.next_retry;
                self.next_retry += 1;
                self.restarting.insert(token, child);
                ctx.send(ctx.myself(), RetryDynamic(token));
            }
        }
    }

    fn on_retry(&mut self, RetryDynamic(token): RetryDynamic, ctx: &mut Context<Self>) {
        if ctx.sender() != Some(ctx.myself()) {
            return;
        }
        if let Some(child) = self.restarting.remove(&token) {
            self.restart(ctx, child);
        }
    }

    fn start_child(&mut self, StartDynamic(args): StartDynamic<Args>, ctx: &mut Context<Self>) {
        let result = self.start_one(ctx, args);
        ctx.reply(result);
    }

    fn start_children(
        &mut self,
        StartDynamicMany(many): StartDynamicMany<Args>,
        ctx: &mut Context<Self>,
    ) {
        let results: Vec<Result<ActorRef, SupervisorError>> = many
            .into_iter()
            .map(|args| self.start_one(ctx, args))
            .collect();
        ctx.reply(results);
    }

    fn start_one(
        &mut self,
        ctx: &mut Context<Self>,
        args: Args,
    ) -> Result<ActorRef, SupervisorError> {
        match self.spawn(ctx, &args) {
            Ok(actor) => {
                self.reporter.child_started(&self.spec.id, actor.id());
                let child = DynChild {
                    args,
                    restarts: 0,
                    last: actor.id(),
                };
                self.running.insert(actor.id(), (actor.clone(), child));
                Ok(actor)
            }
            Err(reason) => {
                self.reporter.start_failed(&self.spec.id, &reason);
                Err(SupervisorError::StartFailed {
                    id: self.spec.id.clone(),
                    reason,
                })
            }
        }
    }

    fn terminate_child(&mut self, TerminateDynamic(id): TerminateDynamic, ctx: &mut Context<Self>) {
        let result = match self.running.remove(&id) {
            None => Err(SupervisorError::NoSuchChild(id.to_string())),
            Some((actor, _)) => {
                let reason =
                    Stopper::new(ctx.system()).stop(ctx, &self.subtree, &actor, self.spec.shutdown);
                let clean = clean_end(self.spec.shutdown, self.spec.restart, &reason);
                self.reporter
                    .child_stopped(&self.spec.id, id, &reason, clean);
                Ok(())
            }
        };
        ctx.reply(result);
    }

    fn which_children(&mut self, _: WhichChildren, ctx: &mut Context<Self>) {
        ctx.reply(self.infos());
    }

    fn count_children(&mut self, _: CountChildren, ctx: &mut Context<Self>) {
        let all = self.running.len() + self.restarting.len();
        let active = self.running.values().filter(|(a, _)| a.is_alive()).count();
        let (supervisors, workers) = match self.spec.kind {
            ChildKind::Supervisor => (all, 0),
            ChildKind::Worker => (0, all),
        };
        ctx.reply(ChildCount {
            specs: 1,
            active,
            supervisors,
            workers,
        });
    }

    fn inspect(&mut self, Inspect(range): Inspect, ctx: &mut Context<Self>) {
        let restarts_in_window = self.window.count();
        let running = self
            .running
            .values()
            .map(|(actor, child)| self.info(Some(actor.clone()), child));
        let waiting = self.restarting.values().map(|child| self.info(None, child));
        let all = self.running.values().map(|(_, child)| child);
        let snapshot = SupervisorSnapshot {
            id: ctx.myself().id(),
            name: self.reporter.name.clone(),
            strategy: "dynamic".to_string(),
            restarts_in_window,
            max_restarts: self.window.max_restarts(),
            period: self.window.period(),
            child_count: self.running.len() + self.restarting.len(),
            total_restarts: all
                .chain(self.restarting.values())
                .map(|c| u64::from(c.restarts))
                .sum(),
            children: page(running.chain(waiting), range),
        };
        ctx.reply(snapshot);
    }

    fn describe(&mut self, _: Describe, ctx: &mut Context<Self>) {
        let summary = Summary {
            id: ctx.myself().id(),
            name: self.reporter.name.clone(),
            strategy: "dynamic".to_string(),
            restarts_in_window: self.window.count(),
            max_restarts: self.window.max_restarts(),
            period: self.window.period(),
            children: self.infos(),
            dynamic_args: Some(TypeId::of::<Args>()),
            subtree: self.subtree.clone(),
            restarting: self.restarting.len(),
        };
        ctx.reply(summary);
    }
}

impl<Args: Clone + Send + 'static> Actor for DynamicSupervisorActor<Args> {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::on_stopped)
            .on(Self::on_retry)
            .on(Self::start_child)
            .on(Self::start_children)
            .on(Self::terminate_child)
            .on(Self::which_children)
            .on(Self::count_children)
            .on(Self::describe)
            .on(Self::inspect)
            .other(|sup: &mut Self, _payload, type_name, _ctx| {
                sup.reporter.ignored_message(type_name);
            })
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.set_label(KIND_LABEL, "dynamic_supervisor");
        ctx.join(SUPERVISORS_GROUP);
        self.subtree.set_owner(ctx.myself().id());
        self.reporter.id = ctx.myself().id();
        self.reporter.system = Some(ctx.system().clone());
        if let Some(reply) = self.start_reply.take() {
            let _ = reply.send(Ok(ctx.system().clone()));
        }
        Ok(())
    }

    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        self.reporter.shutting_down(reason, self.running.len());
        self.restarting.clear();
        let running = std::mem::take(&mut self.running);
        let children: Vec<ActorRef> = running.into_values().map(|(actor, _)| actor).collect();
        let mut stopper = Stopper::new(ctx.system());
        for (id, reason) in stopper.stop_all(ctx, &self.subtree, &children, self.spec.shutdown) {
            let clean = clean_end(self.spec.shutdown, self.spec.restart, &reason);
            self.reporter
                .child_stopped(&self.spec.id, id, &reason, clean);
        }
    }
}
