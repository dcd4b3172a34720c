//! The static supervisor: its actor and its [`Supervisor`] handle.

use std::any::TypeId;
use std::mem;
use std::ops::Range;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use ferrotp::{Actor, ActorId, ActorRef, Context, Down, ExitReason, Handlers, Stopped, System};

use crate::children::{Child, Children};
use crate::error::SupervisorError;
use crate::inspect::{page, Inspect, SupervisorSnapshot, KIND_LABEL, SUPERVISORS_GROUP};
use crate::intensity::RestartWindow;
use crate::lifecycle::{clean_end, spawn_child, Parent, Stopper};
use crate::protocol::{
    name_option, ChildCount, ChildInfo, CountChildren, DeleteChild, Describe, Handle, RestartChild,
    StartChild, StartReply, Summary, TerminateChild, WhichChildren,
};
use crate::report::Reporter;
use crate::spec::{ChildKind, ChildSpec, Restart, Strategy, SupervisorSpec};
use crate::stopping::{Parts, Stopping};
use crate::subtree::Subtree;

/// Sent by a supervisor to itself after a child failed to start during a
/// restart, so that other requests are served before it tries again.
struct RetryRestart(String);

/// A running supervisor (a cheap, clonable handle to its actor).
///
/// The supervisor is an ordinary actor that traps exits. It starts its
/// children in order, each fully started before the next, restarts them per
/// its strategy and their restart policies, and terminates itself (children
/// first, in reverse start order) with `Shutdown` when restarts exceed its
/// intensity, so that its own supervisor can act.
///
/// The handle does not keep the system alive. Its calls wait for the
/// supervisor to answer ([`DEFAULT_CALL_TIMEOUT`](crate::DEFAULT_CALL_TIMEOUT)); a supervisor that is not
/// running fails them at once with [`SupervisorError::SupervisorDown`]. Do not
/// call a supervisor from its own child's `started` hook: the supervisor
/// answers only once that hook has returned.
///
/// ```
/// use ferrotp::{Actor, Context, Handlers, System};
/// use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorSpec};
/// use std::time::Duration;
///
/// struct Pinger;
/// impl Pinger {
///     fn ping(&mut self, _: &'static str, ctx: &mut Context<Self>) { ctx.reply("pong"); }
/// }
/// impl Actor for Pinger {
///     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::ping) }
/// }
///
/// let system = System::new();
/// let sup = Supervisor::start(
///     &system,
///     SupervisorSpec::one_for_one().child(ChildSpec::worker("pinger", || Pinger).name("pinger")),
/// )
/// .unwrap();
/// let children = sup.which_children().unwrap();
/// assert_eq!(children[0].id, "pinger");
/// let pinger = system.whereis("pinger").unwrap();
/// let pong: &str = system.bridge().call(&pinger, "ping", Duration::from_secs(5)).unwrap();
/// assert_eq!(pong, "pong");
/// sup.stop(Duration::from_secs(5)).unwrap();
/// assert!(system.whereis("pinger").is_none());
/// ```
#[derive(Clone)]
pub struct Supervisor {
    pub(crate) handle: Handle,
}

impl Supervisor {
    /// Starts a supervisor and its children, in order; returns once all
    /// have started. If a child fails to start, the ones already started are
    /// stopped in reverse order and the error is
    /// [`SupervisorError::StartFailed`] with that child's id and reason.
    ///
    /// The supervisor is not linked to the caller; an exit signal sent from
    /// plain code ([`ActorRef::exit`]) counts as its parent's and makes it
    /// shut its tree down.
    pub fn start(system: &System, spec: SupervisorSpec) -> Result<Supervisor, SupervisorError> {
        spec.validate()?;
        let (reply, report) = mpsc::channel();
        let options = name_option(spec.name.as_deref());
        let actor = SupervisorActor::new(spec, Parent::External, Some(reply));
        let subtree = actor.subtree.clone();
        Handle::spawn(system, actor, options, report, subtree).map(|handle| Supervisor { handle })
    }

    /// Starts a supervisor linked to the calling actor (as OTP's
    /// `start_link`): if the caller terminates, the supervisor shuts its
    /// tree down; if the supervisor terminates, the caller gets the exit
    /// signal. If it fails to start, the caller gets the error only (no
    /// exit signal).
    pub fn start_link<A: Actor>(
        ctx: &Context<A>,
        spec: SupervisorSpec,
    ) -> Result<Supervisor, SupervisorError> {
        spec.validate()?;
        let (reply, report) = mpsc::channel();
        let options = name_option(spec.name.as_deref()).link(ctx.myself());
        let actor = SupervisorActor::new(spec, Parent::Actor(ctx.myself().clone()), Some(reply));
        let subtree = actor.subtree.clone();
        Handle::spawn(ctx.system(), actor, options, report, subtree)
            .map(|handle| Supervisor { handle })
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

    /// The children, in start order.
    pub fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.handle.call(WhichChildren)
    }

    /// How many children there are, and of what kind.
    pub fn count_children(&self) -> Result<ChildCount, SupervisorError> {
        self.handle.call(CountChildren)
    }

    /// Adds a child at the end of the start order and starts it. Fails with
    /// [`DuplicateChildId`](SupervisorError::DuplicateChildId) if the id is
    /// taken (even by a child that is not running), and with
    /// [`StartFailed`](SupervisorError::StartFailed) (the child is then not
    /// added) if it does not start.
    pub fn start_child(&self, spec: ChildSpec) -> Result<ActorRef, SupervisorError> {
        self.handle.try_call(StartChild(spec))
    }

    /// Stops the child per its `Shutdown` and keeps its spec, so that it can
    /// be restarted with [`restart_child`](Self::restart_child) (a temporary
    /// child's spec is removed). Succeeds if the child was not running.
    pub fn terminate_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.handle.try_call(TerminateChild(id.to_string()))
    }

    /// Starts a child that is not running (terminated, or transient and
    /// ended normally). Does not count towards the restart intensity.
    pub fn restart_child(&self, id: &str) -> Result<ActorRef, SupervisorError> {
        self.handle.try_call(RestartChild(id.to_string()))
    }

    /// Removes the spec of a child that is not running.
    pub fn delete_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.handle.try_call(DeleteChild(id.to_string()))
    }

    /// A handle to the nested (static) supervisor `id`, while it runs.
    pub fn child_supervisor(&self, id: &str) -> Result<Supervisor, SupervisorError> {
        self.handle
            .child(id, None)
            .map(|handle| Supervisor { handle })
    }

    /// A handle to the nested dynamic supervisor `id`, while it runs; its
    /// children must take arguments of type `Args`.
    pub fn child_dynamic_supervisor<Args: Clone + Send + 'static>(
        &self,
        id: &str,
    ) -> Result<crate::DynamicSupervisor<Args>, SupervisorError> {
        self.handle
            .child(id, Some(TypeId::of::<Args>()))
            .map(crate::DynamicSupervisor::from_handle)
    }

    /// Stops the supervisor and waits up to `timeout` until the whole subtree
    /// is gone: children stop in reverse start order (a nested supervisor's
    /// subtree before it), then the supervisor terminates with `Normal` (a
    /// permanent parent restarts it, as in OTP). Fails with
    /// [`Timeout`](SupervisorError::Timeout) if it is still running then (it
    /// stops anyway, later), and with
    /// [`SupervisorDown`](SupervisorError::SupervisorDown) if it was not running.
    pub fn stop(&self, timeout: Duration) -> Result<(), SupervisorError> {
        self.handle.stop(timeout)
    }

    /// The live tree under this supervisor as indented text: ids, names,
    /// actor ids, restart counts.
    pub fn tree(&self) -> Result<String, SupervisorError> {
        crate::tree::render(&self.handle)
    }
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Supervisor({})", self.handle.actor.id())
    }
}

/// The supervisor actor.
pub(crate) struct SupervisorActor {
    strategy: Strategy,
    /// The children to start in `started`.
    initial: Vec<ChildSpec>,
    /// The children, in start order.
    children: Children,
    window: RestartWindow,
    parent: Parent,
    reporter: Reporter,
    start_reply: Option<StartReply>,
    /// The live children, where whoever stops this supervisor finds them
    /// if it dies before it could stop them.
    subtree: Arc<Subtree>,
    /// Its shutdown, once an exit signal or an escalation began it.
    stopping: Option<Stopping>,
}

impl SupervisorActor {
    pub fn new(spec: SupervisorSpec, parent: Parent, start_reply: Option<StartReply>) -> Self {
        SupervisorActor {
            strategy: spec.strategy,
            initial: spec.children,
            children: Children::default(),
            window: RestartWindow::new(spec.max_restarts, spec.period, spec.clock),
            parent,
            // The id is known once the actor runs (`started`).
            reporter: Reporter {
                id: ActorId::EXTERNAL,
                name: spec.name,
                system: None,
            },
            start_reply,
            subtree: Subtree::for_new_supervisor(),
            stopping: None,
        }
    }

    /// Begins the shutdown: the children stop one at a time, in reverse
    /// start order, each waited for by its `Down` as a message (see
    /// [`stopping`](crate::stopping)); then the supervisor terminates with
    /// `reason`.
    fn begin_stopping(&mut self, reason: ExitReason, ctx: &mut Context<Self>) {
        if self.stopping.is_some() {
            return;
        }
        let running = self.children.iter().filter(|c| c.actor().is_some()).count();
        self.reporter.shutting_down(&reason, running);
        self.stopping = Some(Stopping::new(reason, &self.children));
        self.step_stopping(ctx, None);
    }

    /// Goes on with the shutdown: asks the next child, or after `down`,
    /// notes that end; terminates once every child is gone.
    fn step_stopping(&mut self, ctx: &mut Context<Self>, down: Option<Down>) {
        let Some(stopping) = self.stopping.as_mut() else {
            return;
        };
        let parts = Parts {
            children: &mut self.children,
            subtree: &self.subtree,
            reporter: &self.reporter,
        };
        let done = match down {
            Some(down) => stopping.on_down(down, ctx, parts),
            None => stopping.next(ctx, parts),
        };
        if done {
            ctx.stop(stopping.reason().clone());
        }
    }

    fn on_down(&mut self, down: Down, ctx: &mut Context<Self>) {
        self.step_stopping(ctx, Some(down));
    }

    /// Whether a request goes unanswered: while it shuts down, as OTP's
    /// supervisor in `terminate`, it answers none; the caller's call fails
    /// with `SupervisorDown` and the reason once the supervisor is gone.
    fn shutting_down(&self, request: &'static str) -> bool {
        if self.stopping.is_some() {
            tracing::debug!(supervisor = %self.reporter.id, request, "request during shutdown left unanswered");
        }
        self.stopping.is_some()
    }

    /// A child exited (or an exit signal came from elsewhere).
    fn on_stopped(&mut self, Stopped { actor, reason }: Stopped, ctx: &mut Context<Self>) {
        if self.stopping.is_some() {
            // Its children are being stopped in order; each is waited for
            // by its monitor, and none is restarted.
            return;
        }
        if self.parent.is(actor) {
            self.reporter.parent_exited(actor, &reason);
            self.begin_stopping(reason, ctx);
            return;
        }
        // A genuine end of a child comes after the child is dead; an exit
        // signal a live child sent on purpose does not make it restartable.
        let found = self.children.of_actor(actor).filter(|&i| {
            self.children
                .get(i)
                .and_then(Child::actor)
                .is_some_and(|a| !a.is_alive())
        });
        let Some(i) = found else {
            self.reporter.ignored_exit(actor, &reason);
            return;
        };
        self.children.set_actor(i, None);
        self.subtree.child_ended(actor);
        let child = self.children.get(i).expect("found above");
        self.reporter.child_exited(&child.spec.id, actor, &reason);
        let policy = child.spec.restart;
        let restart = match policy {
            Restart::Permanent => true,
            Restart::Transient => !reason.is_normal(),
            Restart::Temporary => false,
        };
        if restart {
            self.restart(ctx, i);
        } else if policy == Restart::Temporary {
            self.children.remove(i);
        }
        self.compact();
    }

    /// Squeezes out empty slots, unless a shutdown is under way.
    fn compact(&mut self) {
        if self.stopping.is_none() {
            self.children.compact();
        }
    }

    fn child_mut(&mut self, i: usize) -> &mut Child {
        self.children
            .get_mut(i)
            .expect("a position held within one operation")
    }

    /// Restarts child `i` (and the siblings its strategy says), counting one
    /// restart; terminates the supervisor if that exceeds the intensity.
    fn restart(&mut self, ctx: &mut Context<Self>, i: usize) {
        if ctx.system().is_shutting_down() {
            // Spawns fail now; the system stops every actor anyway.
            self.child_mut(i).restarting = false;
            return;
        }
        let count = match self.window.add_restart() {
            Ok(count) => count,
            Err(exceeded) => {
                let child = self.child_mut(i);
                child.restarting = false;
                let (id, last) = (child.spec.id.clone(), child.last);
                self.reporter.escalated(
                    &id,
                    last,
                    exceeded.count,
                    self.window.max_restarts(),
                    self.window.period(),
                );
                self.begin_stopping(ExitReason::Shutdown, ctx);
                return;
            }
        };
        // Stopping drops temporary siblings, leaving their slots empty, so
        // positions stay valid.
        let first = match self.strategy {
            Strategy::OneForOne => {
                self.start_range(ctx, i..i + 1, count);
                return;
            }
            Strategy::OneForAll => 0,
            Strategy::RestForOne => i,
        };
        self.stop_from(ctx, first);
        let end = self.children.end();
        self.start_range(ctx, first..end, count);
    }

    /// Starts the children in `range` that are not running, in order. On a
    /// failure, the rest stay stopped and the failed child is retried later
    /// (a retry is a restart: it counts).
    fn start_range(&mut self, ctx: &mut Context<Self>, range: Range<usize>, count: usize) {
        for j in range {
            let Some(child) = self.children.get(j) else {
                continue;
            };
            if child.actor().is_some() {
                continue;
            }
            let spec = &child.spec;
            let started = spawn_child(
                ctx,
                &self.subtree,
                spec.shutdown,
                &*spec.start,
                &spec.id,
                spec.name.as_deref(),
            );
            match started {
                Ok(actor) => {
                    self.reporter
                        .child_restarted(&spec.id, child.last, actor.id(), count);
                    let id = actor.id();
                    self.children.set_actor(j, Some(actor));
                    let child = self.child_mut(j);
                    child.last = Some(id);
                    child.restarting = false;
                    child.restarts += 1;
                }
                Err(reason) => {
                    self.reporter.restart_failed(&spec.id, &reason, count);
                    let child = self.child_mut(j);
                    child.restarting = true;
                    ctx.send(ctx.myself(), RetryRestart(child.spec.id.clone()));
                    return;
                }
            }
        }
    }

    /// Stops the running children from `from` on, in reverse start order,
    /// and drops the temporary ones among them (they are never restarted).
    fn stop_from(&mut self, ctx: &Context<Self>, from: usize) {
        let mut stopper = Stopper::new(ctx.system());
        for i in self.children.positions_rev(from) {
            self.child_mut(i).restarting = false;
            if let Some(actor) = self.children.set_actor(i, None) {
                let child = self.children.get(i).expect("a position just listed");
                let (how, policy) = (child.spec.shutdown, child.spec.restart);
                let reason = stopper.stop(ctx, &self.subtree, &actor, how);
                let clean = clean_end(how, policy, &reason);
                self.reporter
                    .child_stopped(&child.spec.id, actor.id(), &reason, clean);
            }
            if self.children.get(i).map(|c| c.spec.restart) == Some(Restart::Temporary) {
                self.children.remove(i);
            }
        }
    }

    fn on_retry(&mut self, RetryRestart(id): RetryRestart, ctx: &mut Context<Self>) {
        if ctx.sender() != Some(ctx.myself()) || self.stopping.is_some() {
            return;
        }
        // Still waiting for it? (It may have been terminated or deleted meanwhile.)
        let waiting = |c: &Child| c.restarting && c.actor().is_none();
        if let Some(i) = self
            .children
            .position(&id)
            .filter(|&i| self.children.get(i).is_some_and(waiting))
        {
            self.restart(ctx, i);
            self.compact();
        }
    }

    fn which_children(&mut self, _: WhichChildren, ctx: &mut Context<Self>) {
        if self.shutting_down("WhichChildren") {
            return;
        }
        let infos: Vec<ChildInfo> = self.children.iter().map(Child::info).collect();
        ctx.reply(infos);
    }

    fn count_children(&mut self, _: CountChildren, ctx: &mut Context<Self>) {
        if self.shutting_down("CountChildren") {
            return;
        }
        let mut count = ChildCount::default();
        for child in self.children.iter() {
            count.specs += 1;
            if child.actor().is_some_and(ActorRef::is_alive) {
                count.active += 1;
            }
            match child.spec.kind {
                ChildKind::Worker => count.workers += 1,
                ChildKind::Supervisor => count.supervisors += 1,
            }
        }
        ctx.reply(count);
    }

    fn inspect(&mut self, Inspect(range): Inspect, ctx: &mut Context<Self>) {
        let snapshot = SupervisorSnapshot {
            id: ctx.myself().id(),
            name: self.reporter.name.clone(),
            strategy: self.strategy.to_string(),
            restarts_in_window: self.window.count(),
            max_restarts: self.window.max_restarts(),
            period: self.window.period(),
            child_count: self.children.iter().count(),
            total_restarts: self.children.iter().map(|c| u64::from(c.restarts)).sum(),
            children: page(self.children.iter().map(Child::info), range),
        };
        ctx.reply(snapshot);
    }

    fn describe(&mut self, _: Describe, ctx: &mut Context<Self>) {
        if self.shutting_down("Describe") {
            return;
        }
        let summary = Summary {
            id: ctx.myself().id(),
            name: self.reporter.name.clone(),
            strategy: self.strategy.to_string(),
            restarts_in_window: self.window.count(),
            max_restarts: self.window.max_restarts(),
            period: self.window.period(),
            children: self.children.iter().map(Child::info).collect(),
            dynamic_args: None,
            subtree: self.subtree.clone(),
            restarting: self.children.iter().filter(|c| c.restarting).count(),
        };
        ctx.reply(summary);
    }

    fn start_child(&mut self, StartChild(spec): StartChild, ctx: &mut Context<Self>) {
        if self.shutting_down("StartChild") {
            return;
        }
        let result = self.add_child(spec, ctx);
        ctx.reply(result);
    }

    fn add_child(
        &mut self,
        spec: ChildSpec,
        ctx: &mut Context<Self>,
    ) -> Result<ActorRef, SupervisorError> {
        spec.validate()?;
        if self.children.position(&spec.id).is_some() {
            return Err(SupervisorError::DuplicateChildId(spec.id));
        }
        match spawn_child(
            ctx,
            &self.subtree,
            spec.shutdown,
            &*spec.start,
            &spec.id,
            spec.name.as_deref(),
        ) {
            Ok(actor) => {
                self.reporter.child_started(&spec.id, actor.id());
                self.children.push(Child::started(spec, actor.clone()));
                Ok(actor)
            }
            Err(reason) => {
                self.reporter.start_failed(&spec.id, &reason);
                Err(SupervisorError::StartFailed {
                    id: spec.id,
                    reason,
                })
            }
        }
    }

    fn terminate_child(&mut self, TerminateChild(id): TerminateChild, ctx: &mut Context<Self>) {
        if self.shutting_down("TerminateChild") {
            return;
        }
        let result = match self.children.position(&id) {
            None => Err(SupervisorError::NoSuchChild(id)),
            Some(i) => {
                // A pending retry finds the child no longer restarting.
                self.child_mut(i).restarting = false;
                let child = self.children.get(i).expect("found above");
                let (how, policy) = (child.spec.shutdown, child.spec.restart);
                if let Some(actor) = self.children.set_actor(i, None) {
                    let reason = Stopper::new(ctx.system()).stop(ctx, &self.subtree, &actor, how);
                    let clean = clean_end(how, policy, &reason);
                    self.reporter.child_stopped(&id, actor.id(), &reason, clean);
                }
                if policy == Restart::Temporary {
                    self.children.remove(i);
                    self.children.compact();
                }
                Ok(())
            }
        };
        ctx.reply(result);
    }

    fn restart_child(&mut self, RestartChild(id): RestartChild, ctx: &mut Context<Self>) {
        if self.shutting_down("RestartChild") {
            return;
        }
        let found = self.children.position(&id).and_then(|i| {
            let child = self.children.get(i)?;
            Some((i, child.restarting, child.actor().is_some()))
        });
        let result = match found {
            None => Err(SupervisorError::NoSuchChild(id)),
            Some((_, true, _)) => Err(SupervisorError::ChildRestarting(id)),
            Some((_, _, true)) => Err(SupervisorError::ChildRunning(id)),
            Some((i, _, _)) => {
                let spec = &self.children.get(i).expect("found above").spec;
                match spawn_child(
                    ctx,
                    &self.subtree,
                    spec.shutdown,
                    &*spec.start,
                    &spec.id,
                    spec.name.as_deref(),
                ) {
                    Ok(actor) => {
                        self.reporter.child_started(&id, actor.id());
                        self.child_mut(i).last = Some(actor.id());
                        self.children.set_actor(i, Some(actor.clone()));
                        Ok(actor)
                    }
                    Err(reason) => {
                        self.reporter.start_failed(&id, &reason);
                        Err(SupervisorError::StartFailed { id, reason })
                    }
                }
            }
        };
        ctx.reply(result);
    }

    fn delete_child(&mut self, DeleteChild(id): DeleteChild, ctx: &mut Context<Self>) {
        if self.shutting_down("DeleteChild") {
            return;
        }
        let found = self.children.position(&id).and_then(|i| {
            let child = self.children.get(i)?;
            Some((i, child.restarting, child.actor().is_some()))
        });
        let result = match found {
            None => Err(SupervisorError::NoSuchChild(id)),
            Some((_, true, _)) => Err(SupervisorError::ChildRestarting(id)),
            Some((_, _, true)) => Err(SupervisorError::ChildRunning(id)),
            Some((i, _, _)) => {
                self.children.remove(i);
                self.children.compact();
                Ok(())
            }
        };
        ctx.reply(result);
    }
}

impl Actor for SupervisorActor {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::on_stopped)
            .on(Self::on_down)
            .on(Self::on_retry)
            .on(Self::which_children)
            .on(Self::count_children)
            .on(Self::describe)
            .on(Self::inspect)
            .on(Self::start_child)
            .on(Self::terminate_child)
            .on(Self::restart_child)
            .on(Self::delete_child)
            .other(|sup: &mut Self, _payload, type_name, _ctx| {
                sup.reporter.ignored_message(type_name);
            })
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.set_label(KIND_LABEL, "supervisor");
        ctx.join(SUPERVISORS_GROUP);
        self.subtree.set_owner(ctx.myself().id());
        self.reporter.id = ctx.myself().id();
        self.reporter.system = Some(ctx.system().clone());
        for spec in mem::take(&mut self.initial) {
            match spawn_child(
                ctx,
                &self.subtree,
                spec.shutdown,
                &*spec.start,
                &spec.id,
                spec.name.as_deref(),
            ) {
                Ok(actor) => {
                    self.reporter.child_started(&spec.id, actor.id());
                    self.children.push(Child::started(spec, actor));
                }
                Err(reason) => {
                    self.reporter.start_failed(&spec.id, &reason);
                    self.stop_from(ctx, 0);
                    self.children.clear();
                    self.parent.unlink(ctx);
                    let error = SupervisorError::StartFailed {
                        id: spec.id,
                        reason,
                    };
                    let exit = ExitReason::error(&error);
                    if let Some(reply) = self.start_reply.take() {
                        let _ = reply.send(Err(error));
                    }
                    return Err(exit);
                }
            }
        }
        if let Some(reply) = self.start_reply.take() {
            // The supervisor's own context holds a handle that does not keep
            // the system alive; the `Supervisor` handle keeps that one.
            let _ = reply.send(Ok(ctx.system().clone()));
        }
        Ok(())
    }

    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        match self.stopping.take() {
            // Its shutdown ran (or was cut short by an untrappable signal:
            // what it left is stopped here, blocking, in the same order).
            Some(stopping) => stopping.interrupt(&mut self.children),
            None => {
                let running = self.children.iter().filter(|c| c.actor().is_some()).count();
                self.reporter.shutting_down(reason, running);
            }
        }
        self.stop_from(ctx, 0);
    }
}
