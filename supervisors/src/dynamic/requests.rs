//! A dynamic supervisor answering its handles, from its own mailbox.
//!
//! `terminate_child` asks the child to stop and returns; the child's `Down`
//! comes back as a message and brings the answer (as the supervisor's
//! shutdown does, see [`stopping`](super::stopping)), instead of parking
//! the supervisor's thread until the child is gone. Meanwhile, as OTP's
//! supervisor, busy in `terminate_child`, it handles nothing else: what
//! arrives (requests, reads, a child's exit, `Stop`, a retry) waits until
//! the child is gone and is then served in arrival order, so a caller sees
//! the state after the stop. An exit signal from its parent cuts the wait
//! short: the child being terminated is waited for with the rest of the
//! shutdown, and what waited goes unanswered (its callers hear that the
//! supervisor is down).

use std::ops::Range;

use ferrotp::{ActorId, ActorRef, Context, Stopped};

use super::stopping::Stopping;
use super::{DynChild, DynamicSupervisorActor};
use crate::error::SupervisorError;
use crate::inspect::{page, SupervisorSnapshot};
use crate::protocol::{answer, ChildCount, Read, Summary};
use crate::spec::ChildKind;

/// A request that changes the children.
pub(super) enum Request<Args> {
    Start(Args),
    StartMany(Vec<Args>),
    Terminate(ActorId),
}

/// Something the supervisor serves once the `terminate_child` under way is
/// done.
pub(super) enum Deferred<Args> {
    Request(Request<Args>, Option<ActorRef>),
    Read(Read, Option<ActorRef>),
    /// An exit signal (trapped) from a child or anyone but its parent.
    Exit(Stopped),
    /// A `Stop`, and its sender.
    Stop(Option<ActorRef>),
    /// A retry of a restart that failed.
    Retry(u64),
}

/// A handle's `terminate_child` under way: its child's stop, whom to
/// answer, and what came meanwhile.
pub(super) struct Terminating<Args> {
    /// The one child asked to stop (and what it leaves if it is a
    /// supervisor that dies with children alive).
    pub stop: Stopping,
    /// The child, for the `stopped` hook should the supervisor terminate
    /// first.
    pub child: ActorRef,
    to: Option<ActorRef>,
    deferred: Vec<Deferred<Args>>,
}

impl<Args> Request<Args> {
    fn name(&self) -> &'static str {
        match self {
            Request::Start(_) => "StartChild",
            Request::StartMany(_) => "StartChildren",
            Request::Terminate(_) => "TerminateChild",
        }
    }
}

impl<Args: Clone + Send + 'static> DynamicSupervisorActor<Args> {
    /// Keeps `deferred` for when the `terminate_child` under way is done;
    /// gives it back if none is.
    pub(super) fn defer(&mut self, deferred: Deferred<Args>) -> Option<Deferred<Args>> {
        match self.terminating.as_mut() {
            Some(terminating) => {
                terminating.deferred.push(deferred);
                None
            }
            None => Some(deferred),
        }
    }

    /// The `terminate_child` under way is done: its caller is answered,
    /// then what waited is served in arrival order (a `terminate_child`
    /// among them keeps the rest waiting in turn).
    pub(super) fn end_terminating(&mut self, ctx: &mut Context<Self>) {
        let Some(terminating) = self.terminating.take() else {
            return;
        };
        answer(ctx, terminating.to.as_ref(), Ok::<(), SupervisorError>(()));
        for deferred in terminating.deferred {
            let Some(deferred) = self.defer(deferred) else {
                continue;
            };
            match deferred {
                Deferred::Request(request, to) => self.serve(request, to.as_ref(), ctx),
                Deferred::Read(read, to) => self.serve_read(read, to.as_ref(), ctx),
                Deferred::Exit(stopped) => self.on_stopped(stopped, ctx),
                Deferred::Stop(stopper) => self.stop_asked(stopper.as_ref(), ctx),
                Deferred::Retry(token) => self.retry(token, ctx),
            }
        }
    }

    /// Serves `request` now, or once the `terminate_child` under way is done.
    pub(super) fn request(&mut self, request: Request<Args>, ctx: &mut Context<Self>) {
        let to = ctx.sender().cloned();
        if let Some(Deferred::Request(request, to)) = self.defer(Deferred::Request(request, to)) {
            self.serve(request, to.as_ref(), ctx);
        }
    }

    /// Answers `read` now, or once the `terminate_child` under way is done.
    pub(super) fn read(&mut self, read: Read, ctx: &mut Context<Self>) {
        let to = ctx.sender().cloned();
        if let Some(Deferred::Read(read, to)) = self.defer(Deferred::Read(read, to)) {
            self.serve_read(read, to.as_ref(), ctx);
        }
    }

    /// Serves `request` and answers `to` (while shutting down: no answer);
    /// a `terminate_child` is answered once its child is gone.
    fn serve(&mut self, request: Request<Args>, to: Option<&ActorRef>, ctx: &mut Context<Self>) {
        if self.shutting_down(request.name()) {
            return;
        }
        match request {
            Request::Start(args) => {
                let result = self.start_one(ctx, args);
                answer(ctx, to, result);
            }
            Request::StartMany(many) => {
                let results: Vec<Result<ActorRef, SupervisorError>> = many
                    .into_iter()
                    .map(|args| self.start_one(ctx, args))
                    .collect();
                answer(ctx, to, results);
            }
            Request::Terminate(id) => match self.running.remove(&id) {
                None => answer(
                    ctx,
                    to,
                    Err::<(), _>(SupervisorError::NoSuchChild(id.to_string())),
                ),
                Some((child, _)) => {
                    let reason = ferrotp::ExitReason::Shutdown;
                    let how = self.spec.shutdown;
                    let stop = Stopping::begin(reason, std::slice::from_ref(&child), how, ctx);
                    self.terminating = Some(Terminating {
                        stop,
                        child,
                        to: to.cloned(),
                        deferred: Vec::new(),
                    });
                }
            },
        }
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

    /// Answers `read` to `to` (while shutting down: no answer, but tools
    /// inspect a supervisor even then).
    fn serve_read(&mut self, read: Read, to: Option<&ActorRef>, ctx: &mut Context<Self>) {
        if !matches!(read, Read::Inspect(_)) && self.shutting_down(read.name()) {
            return;
        }
        match read {
            Read::WhichChildren => answer(ctx, to, self.infos()),
            Read::CountChildren => answer(ctx, to, self.child_count()),
            Read::Describe => answer(ctx, to, self.summary(ctx)),
            Read::Inspect(range) => answer(ctx, to, self.snapshot(range, ctx)),
        }
    }

    fn child_count(&self) -> ChildCount {
        let all = self.running.len() + self.restarting.len();
        let active = self.running.values().filter(|(a, _)| a.is_alive()).count();
        let (supervisors, workers) = match self.spec.kind {
            ChildKind::Supervisor => (all, 0),
            ChildKind::Worker => (0, all),
        };
        ChildCount {
            specs: 1,
            active,
            supervisors,
            workers,
        }
    }

    fn snapshot(&mut self, range: Range<usize>, ctx: &Context<Self>) -> SupervisorSnapshot {
        let restarts_in_window = self.window.count();
        let running = self
            .running
            .values()
            .map(|(actor, child)| self.info(Some(actor.clone()), child));
        let waiting = self.restarting.values().map(|child| self.info(None, child));
        let all = self.running.values().map(|(_, child)| child);
        SupervisorSnapshot {
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
        }
    }

    fn summary(&mut self, ctx: &Context<Self>) -> Summary {
        Summary {
            id: ctx.myself().id(),
            name: self.reporter.name.clone(),
            strategy: "dynamic".to_string(),
            restarts_in_window: self.window.count(),
            max_restarts: self.window.max_restarts(),
            period: self.window.period(),
            children: self.infos(),
            dynamic_args: Some(std::any::TypeId::of::<Args>()),
            subtree: self.subtree.clone(),
            restarting: self.restarting.len(),
        }
    }
}
