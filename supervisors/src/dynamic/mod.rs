//! [`DynamicSupervisor`]: many children of one template, started on demand
//! (OTP's `simple_one_for_one`, Elixir's `DynamicSupervisor`).

use std::any::TypeId;
use std::collections::BTreeMap;
use std::sync::Arc;

use ferrotp::{Actor, ActorId, ActorRef, Context, Down, ExitReason, Handlers, Stop, Stopped};

use crate::error::SupervisorError;
use crate::inspect::{page, Inspect, SupervisorSnapshot, KIND_LABEL, SUPERVISORS_GROUP};
use crate::intensity::RestartWindow;
use crate::lifecycle::{clean_end, spawn_child, Ack, Parent, Stopper};
use crate::protocol::{
    ChildCount, ChildInfo, CountChildren, Describe, StartReply, Summary, WhichChildren,
};
use crate::report::Reporter;
use crate::spec::{ChildKind, Restart};
use crate::subtree::Subtree;
use stopping::Stopping;

mod handle;
mod spec;
mod stopping;

pub use handle::DynamicSupervisor;
pub use spec::DynamicSupervisorSpec;

/// Starts a child with these arguments.
struct StartDynamic<Args>(Args);
/// Starts one child per argument, in order.
struct StartDynamicMany<Args>(Vec<Args>);
/// Terminates this child.
struct TerminateDynamic(ActorId);
/// Sent to itself: retry the restart that failed (see `RetryRestart`).
struct RetryDynamic(u64);

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
    /// Its shutdown, once an exit signal, a `Stop` or an escalation began it.
    stopping: Option<Stopping>,
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
            stopping: None,
        }
    }

    /// Begins the shutdown: every child is asked to stop at once, and the
    /// supervisor terminates with `reason` once all are gone (see
    /// [`stopping`]).
    fn begin_stopping(&mut self, reason: ExitReason, ctx: &mut Context<Self>) {
        if self.stopping.is_some() {
            return;
        }
        self.reporter.shutting_down(&reason, self.running.len());
        self.restarting.clear();
        let children: Vec<ActorRef> = self.running.values().map(|(a, _)| a.clone()).collect();
        let stopping = Stopping::begin(reason, &children, self.spec.shutdown, ctx);
        self.stop_if_done(stopping, ctx);
    }

    fn on_down(&mut self, down: Down, ctx: &mut Context<Self>) {
        let Some(mut stopping) = self.stopping.take() else {
            return;
        };
        if let Some(reason) = stopping.on_down(&down, ctx, &self.subtree) {
            self.running.remove(&down.actor);
            let clean = clean_end(self.spec.shutdown, self.spec.restart, &reason);
            self.reporter
                .child_stopped(&self.spec.id, down.actor, &reason, clean);
        }
        self.stop_if_done(stopping, ctx);
    }

    /// Terminates once the shutdown is done; else keeps it for the next `Down`.
    fn stop_if_done(&mut self, stopping: Stopping, ctx: &mut Context<Self>) {
        if stopping.is_done() {
            ctx.stop(stopping.reason().clone());
        }
        self.stopping = Some(stopping);
    }

    /// `Stop`: the children stop (see [`begin_stopping`](Self::begin_stopping)),
    /// then the supervisor terminates with `Normal` and the stopper hears
    /// `Stopped`.
    fn on_stop(&mut self, _: Stop, ctx: &mut Context<Self>) {
        if let Some(stopper) = ctx.sender().cloned() {
            ctx.answer_stop(&stopper);
        }
        self.begin_stopping(ExitReason::Normal, ctx);
    }

    /// Whether a request goes unanswered: none is while it shuts down (the
    /// caller hears `SupervisorDown` once it is gone), as a static one.
    fn shutting_down(&self, request: &'static str) -> bool {
        if self.stopping.is_some() {
            tracing::debug!(supervisor = %self.reporter.id, request, "request during shutdown left unanswered");
        }
        self.stopping.is_some()
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
            Ack::Await,
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
        if self.stopping.is_some() {
            // Its children are being stopped; each is waited for by its
            // monitor, and none is restarted.
            return;
        }
        if self.parent.is(actor) {
            self.reporter.parent_exited(actor, &reason);
            self.begin_stopping(reason, ctx);
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
                self.begin_stopping(ExitReason::Shutdown, ctx);
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
        if ctx.sender() != Some(ctx.myself()) || self.stopping.is_some() {
            return;
        }
        if let Some(child) = self.restarting.remove(&token) {
            self.restart(ctx, child);
        }
    }

    fn start_child(&mut self, StartDynamic(args): StartDynamic<Args>, ctx: &mut Context<Self>) {
        if self.shutting_down("StartChild") {
            return;
        }
        let result = self.start_one(ctx, args);
        ctx.reply(result);
    }

    fn start_children(
        &mut self,
        StartDynamicMany(many): StartDynamicMany<Args>,
        ctx: &mut Context<Self>,
    ) {
        if self.shutting_down("StartChildren") {
            return;
        }
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
        if self.shutting_down("TerminateChild") {
            return;
        }
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
        if self.shutting_down("WhichChildren") {
            return;
        }
        ctx.reply(self.infos());
    }

    fn count_children(&mut self, _: CountChildren, ctx: &mut Context<Self>) {
        if self.shutting_down("CountChildren") {
            return;
        }
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
        if self.shutting_down("Describe") {
            return;
        }
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
            .on(Self::on_down)
            .on(Self::on_stop)
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
        // Its shutdown ran (the children it stopped are gone from
        // `running`), or was cut short by an untrappable signal, or never
        // began: what is left is stopped here, blocking.
        if self.stopping.take().is_none() {
            self.reporter.shutting_down(reason, self.running.len());
        }
        self.restarting.clear();
        let running = std::mem::take(&mut self.running);
        let children: Vec<ActorRef> = running.into_values().map(|(actor, _)| actor).collect();
        if children.is_empty() {
            return;
        }
        let mut stopper = Stopper::new(ctx.system());
        for (id, reason) in stopper.stop_all(ctx, &self.subtree, &children, self.spec.shutdown) {
            let clean = clean_end(self.spec.shutdown, self.spec.restart, &reason);
            self.reporter
                .child_stopped(&self.spec.id, id, &reason, clean);
        }
    }
}
