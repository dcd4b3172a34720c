//! The static supervisor: its actor, and its [`Supervisor`] handle.
//!
//! The actor's concerns each have a module: starting its children
//! ([`starting`]), restarting them ([`restart`]), answering its handles
//! ([`requests`]); stopping them is [`stopping`](crate::stopping).

mod handle;
mod requests;
mod restart;
mod starting;

use std::sync::Arc;

use ferrotp::{Actor, ActorId, ActorRef, Context, Down, ExitReason, Handlers, Stop, Stopped};

use crate::children::{Child, Children};
use crate::intensity::RestartWindow;
use crate::lifecycle::{self, is_system_shutdown, Parent};
use crate::protocol::StartReply;
use crate::report::Reporter;
use crate::spec::{ChildSpec, Restart, Strategy, SupervisorSpec};
use crate::stopping::{Parts, Stopping};
use crate::subtree::Subtree;

pub use handle::Supervisor;
use restart::Restarting;
use starting::{Deferred, Starting};

/// Which of the supervisor's stops a step is for.
#[derive(Clone, Copy)]
enum Phase {
    /// Its own shutdown.
    Shutdown,
    /// A restart's stop phase (or a handle's `terminate_child`).
    Restart,
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
    /// Its start, until every child of the spec has started.
    starting: Option<Starting>,
    /// A restart under way (see [`restart`]).
    restarting: Option<Restarting>,
    /// Its shutdown, once an exit signal, a `Stop`, an escalation or a
    /// failed start began it.
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
            starting: None,
            restarting: None,
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
        self.abort_starting();
        let running = self.children.iter().filter(|c| c.actor().is_some()).count();
        self.reporter.shutting_down(&reason, running);
        // A restart cut short: the sibling it is stopping is waited for
        // first; what waited for the restart goes unanswered.
        let stopping = match self.restarting.take().and_then(Restarting::into_stopping) {
            Some(stopping) => stopping.into_shutdown(reason, &self.children),
            None => Stopping::new(reason, &self.children),
        };
        self.stopping = Some(stopping);
        self.step_stopping(ctx, None);
    }

    /// Goes on with the shutdown: asks the next child, or after `down`,
    /// notes that end; terminates once every child is gone.
    fn step_stopping(&mut self, ctx: &mut Context<Self>, down: Option<Down>) {
        if self.advance_stop(Phase::Shutdown, down, ctx) == Some(true) {
            if let Some(stopping) = &self.stopping {
                ctx.stop(stopping.reason().clone());
            }
        }
    }

    /// Goes on with the stop `phase` names (see [`Stopping::advance`]):
    /// `Some(true)` once it has no child left to stop, `None` if it is not
    /// under way.
    fn advance_stop(
        &mut self,
        phase: Phase,
        down: Option<Down>,
        ctx: &mut Context<Self>,
    ) -> Option<bool> {
        let stopping = match phase {
            Phase::Shutdown => self.stopping.as_mut()?,
            Phase::Restart => self.restarting.as_mut()?.stop_phase()?,
        };
        let parts = Parts {
            children: &mut self.children,
            subtree: &self.subtree,
            reporter: &self.reporter,
        };
        Some(stopping.advance(down, ctx, parts))
    }

    fn on_down(&mut self, down: Down, ctx: &mut Context<Self>) {
        if self.stopping.is_some() {
            self.step_stopping(ctx, Some(down));
        } else {
            self.step_restart(ctx, Some(down));
        }
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
        if self.parent.is(actor) || is_system_shutdown(actor, ctx) {
            self.reporter.parent_exited(actor, &reason);
            self.begin_stopping(reason, ctx);
            return;
        }
        let Some(Deferred::Exit(Stopped { actor, reason })) =
            self.defer(Deferred::Exit(Stopped { actor, reason }))
        else {
            // A child that started, then ended during the start: as in
            // OTP, its restart waits until every child has started.
            return;
        };
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

    /// Squeezes out empty slots, unless a shutdown or a restart (which
    /// hold positions) is under way.
    fn compact(&mut self) {
        if self.stopping.is_none() && self.restarting.is_none() {
            self.children.compact();
        }
    }

    fn child_mut(&mut self, i: usize) -> &mut Child {
        self.children
            .get_mut(i)
            .expect("a position held within one operation")
    }

    /// `Stop` (from [`Supervisor::stop`] or anyone): the children stop in
    /// reverse start order from the supervisor's mailbox, then it
    /// terminates with `Normal` and the stopper hears `Stopped`, as from
    /// any actor. During the start, it waits until the start is done.
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
}

impl Actor for SupervisorActor {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::on_start_ack)
            .on(Self::on_stopped)
            .on(Self::on_down)
            .on(Self::on_stop)
            .on(Self::on_retry)
            .on(Self::which_children)
            .on(Self::count_children)
            .on(Self::describe)
            .on(Self::inspect)
            .on(Self::on_start_child)
            .on(Self::on_terminate_child)
            .on(Self::on_restart_child)
            .on(Self::on_delete_child)
            .other(|sup: &mut Self, _payload, type_name, _ctx| {
                sup.reporter.ignored_message(type_name);
            })
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        lifecycle::enter(ctx, "supervisor", &self.subtree, &mut self.reporter);
        self.begin_starting(ctx);
        Ok(())
    }

    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        let restart_stop = self.restarting.take().and_then(Restarting::into_stopping);
        match self.stopping.take().or(restart_stop) {
            // Its shutdown (or a restart's stop phase) ran, or was cut
            // short by an untrappable signal: what it left is stopped
            // here, blocking, in the same order.
            Some(stopping) => stopping.interrupt(&mut self.children),
            None => {
                let running = self.children.iter().filter(|c| c.actor().is_some()).count();
                self.reporter.shutting_down(reason, running);
            }
        }
        self.stop_from(ctx, 0);
    }
}
