//! [`DynamicSupervisor`]: many children of one template, started on demand
//! (OTP's `simple_one_for_one`, Elixir's `DynamicSupervisor`).

use std::collections::BTreeMap;
use std::sync::Arc;

use ferrotp::{Actor, ActorId, ActorRef, Context, Down, ExitReason, Handlers, Stop, Stopped};

use crate::inspect::Inspect;
use crate::intensity::RestartWindow;
use crate::lifecycle::{self, clean_end, is_system_shutdown, spawn_child, Ack, Parent, Stopper};
use crate::protocol::Read;
use crate::protocol::{ChildInfo, CountChildren, Describe, StartReply, WhichChildren};
use crate::report::Reporter;
use crate::spec::Restart;
use crate::subtree::Subtree;
use requests::{Deferred, Request, Terminating};
use stopping::Stopping;

mod handle;
mod requests;
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
    /// A handle's `terminate_child` under way (see [`requests`]).
    terminating: Option<Terminating<Args>>,
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
            terminating: None,
        }
    }

    /// Begins the shutdown: every child is asked to stop at once, and the
    /// supervisor terminates with `reason` once all are gone (see
    /// [`stopping`]). A child being terminated for a handle is waited for
    /// too; what waited for that goes unanswered.
    fn begin_stopping(&mut self, reason: ExitReason, ctx: &mut Context<Self>) {
        if self.stopping.is_some() {
            return;
        }
        let terminating = self.terminating.take();
        let running = self.running.len() + usize::from(terminating.is_some());
        self.reporter.shutting_down(&reason, running);
        self.restarting.clear();
        let children: Vec<ActorRef> = self.running.values().map(|(a, _)| a.clone()).collect();
        let mut stopping = Stopping::begin(reason, &children, self.spec.shutdown, ctx);
        if let Some(terminating) = terminating {
            stopping.merge(terminating.stop);
        }
        self.stop_if_done(stopping, ctx);
    }

    /// A `Down`: the next step of the `terminate_child` or of the shutdown
    /// under way.
    fn on_down(&mut self, down: Down, ctx: &mut Context<Self>) {
        if let Some(mut terminating) = self.terminating.take() {
            self.note_end(&mut terminating.stop, &down, ctx);
            let done = terminating.stop.is_done();
            self.terminating = Some(terminating);
            if done {
                self.end_terminating(ctx);
            }
            return;
        }
        let Some(mut stopping) = self.stopping.take() else {
            return;
        };
        self.note_end(&mut stopping, &down, ctx);
        self.stop_if_done(stopping, ctx);
    }

    /// Notes `down` in `stopping`, and reports it if it ends a child asked
    /// to stop.
    fn note_end(&mut self, stopping: &mut Stopping, down: &Down, ctx: &Context<Self>) {
        if let Some(reason) = stopping.on_down(down, ctx, &self.subtree) {
            self.running.remove(&down.actor);
            let clean = clean_end(self.spec.shutdown, self.spec.restart, &reason);
            self.reporter
                .child_stopped(&self.spec.id, down.actor, &reason, clean);
        }
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
    /// `Stopped`. During a `terminate_child`, once it is done.
    fn on_stop(&mut self, _: Stop, ctx: &mut Context<Self>) {
        let stopper = ctx.sender().cloned();
        if let Some(Deferred::Stop(stopper)) = self.defer(Deferred::Stop(stopper)) {
            self.stop_asked(stopper.as_ref(), ctx);
        }
    }

    fn stop_asked(&mut self, stopper: Option<&ActorRef>, ctx: &mut Context<Self>) {
        if let Some(stopper) = stopper {
            ctx.answer_stop(stopper);
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
        if self.parent.is(actor) || is_system_shutdown(actor, ctx) {
            self.reporter.parent_exited(actor, &reason);
            self.begin_stopping(reason, ctx);
            return;
        }
        let Some(Deferred::Exit(Stopped { actor, reason })) =
            self.defer(Deferred::Exit(Stopped { actor, reason }))
        else {
            // Handled once the `terminate_child` under way is done.
            return;
        };
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
        if ctx.sender() != Some(ctx.myself()) {
            return;
        }
        if let Some(Deferred::Retry(token)) = self.defer(Deferred::Retry(token)) {
            self.retry(token, ctx);
        }
    }

    fn retry(&mut self, token: u64, ctx: &mut Context<Self>) {
        if self.stopping.is_some() {
            return;
        }
        if let Some(child) = self.restarting.remove(&token) {
            self.restart(ctx, child);
        }
    }

    fn start_child(&mut self, StartDynamic(args): StartDynamic<Args>, ctx: &mut Context<Self>) {
        self.request(Request::Start(args), ctx);
    }

    fn start_children(
        &mut self,
        StartDynamicMany(many): StartDynamicMany<Args>,
        ctx: &mut Context<Self>,
    ) {
        self.request(Request::StartMany(many), ctx);
    }

    fn terminate_child(&mut self, TerminateDynamic(id): TerminateDynamic, ctx: &mut Context<Self>) {
        self.request(Request::Terminate(id), ctx);
    }

    fn which_children(&mut self, _: WhichChildren, ctx: &mut Context<Self>) {
        self.read(Read::WhichChildren, ctx);
    }

    fn count_children(&mut self, _: CountChildren, ctx: &mut Context<Self>) {
        self.read(Read::CountChildren, ctx);
    }

    fn inspect(&mut self, Inspect(range): Inspect, ctx: &mut Context<Self>) {
        self.read(Read::Inspect(range), ctx);
    }

    fn describe(&mut self, _: Describe, ctx: &mut Context<Self>) {
        self.read(Read::Describe, ctx);
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
        lifecycle::enter(ctx, "dynamic_supervisor", &self.subtree, &mut self.reporter);
        if let Some(reply) = self.start_reply.take() {
            let _ = reply.send(Ok(ctx.system().clone()));
        }
        Ok(())
    }

    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        // Its shutdown ran (the children it stopped are gone from
        // `running`), or was cut short by an untrappable signal, or never
        // began: what is left is stopped here, blocking.
        let terminating = self.terminating.take();
        if self.stopping.take().is_none() {
            let running = self.running.len() + usize::from(terminating.is_some());
            self.reporter.shutting_down(reason, running);
        }
        self.restarting.clear();
        let running = std::mem::take(&mut self.running);
        let mut children: Vec<ActorRef> = running.into_values().map(|(actor, _)| actor).collect();
        // A child a handle's `terminate_child` asked to stop is waited for
        // too (asked again: a stop of a stopping child changes nothing).
        children.extend(terminating.map(|t| t.child));
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
