//! A static supervisor answering its handles: what it runs, and changes
//! to its children (`start_child`, `terminate_child`, ...).

use std::ops::Range;

use ferrotp::{ActorRef, Context};

use super::starting::Deferred;
use super::SupervisorActor;
use crate::children::Child;
use crate::error::SupervisorError;
use crate::inspect::{page, Inspect, SupervisorSnapshot};
use crate::protocol::{
    answer, ChildCount, ChildInfo, CountChildren, DeleteChild, Describe, Read, RestartChild,
    StartChild, Summary, TerminateChild, WhichChildren,
};
use crate::spec::{ChildKind, ChildSpec};

/// A request that changes the children: served in turn, never during the
/// supervisor's start (see [`starting`](super::starting)).
pub(super) enum Request {
    Start(ChildSpec),
    Terminate(String),
    Restart(String),
    Delete(String),
}

impl Request {
    fn name(&self) -> &'static str {
        match self {
            Request::Start(_) => "StartChild",
            Request::Terminate(_) => "TerminateChild",
            Request::Restart(_) => "RestartChild",
            Request::Delete(_) => "DeleteChild",
        }
    }
}

impl SupervisorActor {
    pub(super) fn on_start_child(&mut self, StartChild(spec): StartChild, ctx: &mut Context<Self>) {
        self.request(Request::Start(spec), ctx);
    }

    pub(super) fn on_terminate_child(
        &mut self,
        TerminateChild(id): TerminateChild,
        ctx: &mut Context<Self>,
    ) {
        self.request(Request::Terminate(id), ctx);
    }

    pub(super) fn on_restart_child(
        &mut self,
        RestartChild(id): RestartChild,
        ctx: &mut Context<Self>,
    ) {
        self.request(Request::Restart(id), ctx);
    }

    pub(super) fn on_delete_child(
        &mut self,
        DeleteChild(id): DeleteChild,
        ctx: &mut Context<Self>,
    ) {
        self.request(Request::Delete(id), ctx);
    }

    /// Serves `request` now, or once the start is done.
    fn request(&mut self, request: Request, ctx: &mut Context<Self>) {
        let sender = ctx.sender().cloned();
        if let Some(Deferred::Request(request, sender)) =
            self.defer(Deferred::Request(request, sender))
        {
            self.serve(request, sender.as_ref(), ctx);
        }
    }

    /// Serves `request` and answers `to` (while shutting down: no answer).
    /// A child's start is served from the mailbox: answered once it has
    /// started (see [`restart`](super::restart)).
    pub(super) fn serve(
        &mut self,
        request: Request,
        to: Option<&ActorRef>,
        ctx: &mut Context<Self>,
    ) {
        if self.shutting_down(request.name()) {
            return;
        }
        match request {
            Request::Start(spec) => {
                if let Err(error) = self.add_child(spec) {
                    answer(ctx, to, Err::<ActorRef, _>(error));
                    return;
                }
                let i = self.children.end() - 1;
                self.start_for(ctx, i, to.cloned(), true);
            }
            Request::Terminate(id) => match self.children.position(&id) {
                Some(i) => self.terminate_for(ctx, i, to.cloned()),
                None => answer(ctx, to, Err::<(), _>(SupervisorError::NoSuchChild(id))),
            },
            Request::Restart(id) => match self.restartable(id) {
                Ok(i) => self.start_for(ctx, i, to.cloned(), false),
                Err(error) => answer(ctx, to, Err::<ActorRef, _>(error)),
            },
            Request::Delete(id) => {
                let result = self.delete_child(id);
                answer(ctx, to, result);
            }
        }
    }

    pub(super) fn which_children(&mut self, _: WhichChildren, ctx: &mut Context<Self>) {
        self.read(Read::WhichChildren, ctx);
    }

    pub(super) fn count_children(&mut self, _: CountChildren, ctx: &mut Context<Self>) {
        self.read(Read::CountChildren, ctx);
    }

    pub(super) fn describe(&mut self, _: Describe, ctx: &mut Context<Self>) {
        self.read(Read::Describe, ctx);
    }

    /// Answers a read now, or, during a restart (or a child's start or stop
    /// for a handle), once it is done: as OTP's supervisor, busy
    /// restarting, a caller sees the state after it. (During the start,
    /// what has started so far is answered at once.)
    fn read(&mut self, read: Read, ctx: &mut Context<Self>) {
        let sender = ctx.sender().cloned();
        if self.restarting.is_some() {
            self.defer(Deferred::Read(read, sender));
        } else {
            self.serve_read(read, sender.as_ref(), ctx);
        }
    }

    /// Answers `read` to `to` (while shutting down: no answer).
    pub(super) fn serve_read(&mut self, read: Read, to: Option<&ActorRef>, ctx: &Context<Self>) {
        // Tools inspect a supervisor even while it shuts down.
        if !matches!(read, Read::Inspect(_)) && self.shutting_down(read.name()) {
            return;
        }
        match read {
            Read::Inspect(range) => {
                let snapshot = self.snapshot(range, ctx);
                answer(ctx, to, snapshot);
            }
            Read::WhichChildren => {
                let infos: Vec<ChildInfo> = self.children.iter().map(Child::info).collect();
                answer(ctx, to, infos);
            }
            Read::CountChildren => answer(ctx, to, self.child_count()),
            Read::Describe => answer(ctx, to, self.summary(ctx)),
        }
    }

    fn child_count(&self) -> ChildCount {
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
        count
    }

    pub(super) fn inspect(&mut self, Inspect(range): Inspect, ctx: &mut Context<Self>) {
        self.read(Read::Inspect(range), ctx);
    }

    fn snapshot(&mut self, range: Range<usize>, ctx: &Context<Self>) -> SupervisorSnapshot {
        SupervisorSnapshot {
            id: ctx.myself().id(),
            name: self.reporter.name.clone(),
            strategy: self.strategy.to_string(),
            restarts_in_window: self.window.count(),
            max_restarts: self.window.max_restarts(),
            period: self.window.period(),
            child_count: self.children.iter().count(),
            total_restarts: self.children.iter().map(|c| u64::from(c.restarts)).sum(),
            children: page(self.children.iter().map(Child::info), range),
        }
    }

    fn summary(&mut self, ctx: &Context<Self>) -> Summary {
        Summary {
            id: ctx.myself().id(),
            name: self.reporter.name.clone(),
            strategy: self.strategy.to_string(),
            restarts_in_window: self.window.count(),
            max_restarts: self.window.max_restarts(),
            period: self.window.period(),
            children: self.children.iter().map(Child::info).collect(),
            dynamic_args: None,
            subtree: self.subtree.clone(),
            // A restart under way counts too: the testkit waits until
            // none is left.
            restarting: self.children.iter().filter(|c| c.restarting).count()
                + usize::from(self.restarting.is_some()),
        }
    }

    /// Adds `spec` as a child not running yet, if it is valid and new.
    fn add_child(&mut self, spec: ChildSpec) -> Result<(), SupervisorError> {
        spec.validate()?;
        if self.children.position(&spec.id).is_some() {
            return Err(SupervisorError::DuplicateChildId(spec.id));
        }
        self.children.push(Child::not_started(spec));
        Ok(())
    }

    /// The position of child `id`, if `restart_child` may start it.
    fn restartable(&self, id: String) -> Result<usize, SupervisorError> {
        let found = self.children.position(&id).and_then(|i| {
            let child = self.children.get(i)?;
            Some((i, child.restarting, child.actor().is_some()))
        });
        match found {
            None => Err(SupervisorError::NoSuchChild(id)),
            Some((_, true, _)) => Err(SupervisorError::ChildRestarting(id)),
            Some((_, _, true)) => Err(SupervisorError::ChildRunning(id)),
            Some((i, _, _)) => Ok(i),
        }
    }

    fn delete_child(&mut self, id: String) -> Result<(), SupervisorError> {
        let found = self.children.position(&id).and_then(|i| {
            let child = self.children.get(i)?;
            Some((i, child.restarting, child.actor().is_some()))
        });
        match found {
            None => Err(SupervisorError::NoSuchChild(id)),
            Some((_, true, _)) => Err(SupervisorError::ChildRestarting(id)),
            Some((_, _, true)) => Err(SupervisorError::ChildRunning(id)),
            Some((i, _, _)) => {
                self.children.remove(i);
                self.children.compact();
                Ok(())
            }
        }
    }
}
