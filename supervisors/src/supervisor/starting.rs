//! A static supervisor starting its children from its own mailbox.
//!
//! OTP's order is kept exactly: children start one at a time in the order
//! of the spec, each fully started (its `started` hook returned; for a
//! nested supervisor, its whole subtree up) before the next is spawned; if
//! one fails to start, the rest are not started, those already started stop
//! in reverse order, and the supervisor terminates with the error. What
//! changes is how the supervisor waits: instead of blocking its thread
//! until each child has started, it spawns the child with
//! [`SpawnOptions::notify_started`](ferrotp::SpawnOptions::notify_started),
//! returns from its handler, and goes on when the child's
//! [`StartAck`] arrives as a message. On the pool that is a message round
//! trip between two actors (the child runs next on the supervisor's worker,
//! its acknowledgement brings the supervisor back there), where a blocking
//! wait costs two thread wake-ups per child.
//!
//! The supervisor itself defers its own start acknowledgement
//! ([`Context::defer_start_ack`]) until its last child has started, so its
//! parent (or the plain code in [`Supervisor::start`](crate::Supervisor::start))
//! hears "started" only once the whole tree is up, or the error.
//!
//! Meanwhile it serves what reads its state (`which_children`, `inspect`,
//! ...) at once, and keeps what would change its children (requests, a
//! child's exit, `Stop`) for when the start is done, as OTP's supervisor
//! handles nothing before its `init` has returned. An exit signal from its
//! parent cuts the start short: it stops what it started, in reverse order.

use std::mem;

use ferrotp::{ActorId, ActorRef, Context, ExitReason, StartAck, Stopped};

use super::requests::Request;
use super::restart::RetryRestart;
use super::SupervisorActor;
use crate::children::Child;
use crate::error::SupervisorError;
use crate::lifecycle::{spawn_spec, Ack};
use crate::protocol::Read;
use crate::spec::ChildSpec;
use crate::stopping::Stopping;

/// A start under way.
pub(super) struct Starting {
    /// The children still to start, in start order.
    queue: std::vec::IntoIter<ChildSpec>,
    /// The child spawned last, until its acknowledgement comes.
    pending: Option<ActorId>,
    /// What came meanwhile, served in arrival order once all have started.
    deferred: Vec<Deferred>,
}

/// Something the supervisor handles once its start is done.
pub(super) enum Deferred {
    /// An exit signal (trapped) from a child already started.
    Exit(Stopped),
    /// A handle's request, and whom to answer.
    Request(Request, Option<ActorRef>),
    /// A `Stop`, and its sender.
    Stop(Option<ActorRef>),
    /// A retry of a restart that failed (see [`restart`](super::restart)).
    Retry(String),
    /// A read during a restart, and whom to answer.
    Read(Read, Option<ActorRef>),
}

impl Starting {
    fn new(children: Vec<ChildSpec>) -> Self {
        Starting {
            queue: children.into_iter(),
            pending: None,
            deferred: Vec::new(),
        }
    }
}

impl SupervisorActor {
    /// Keeps `deferred` for when the start (or the restart) under way is
    /// done; gives it back if none is.
    pub(super) fn defer(&mut self, deferred: Deferred) -> Option<Deferred> {
        if let Some(starting) = self.starting.as_mut() {
            starting.deferred.push(deferred);
            None
        } else if let Some(restarting) = self.restarting.as_mut() {
            restarting.defer(deferred);
            None
        } else {
            Some(deferred)
        }
    }

    /// Serves what waited for a start or a restart, in arrival order; if
    /// one of them begins a restart, the rest wait for that one in turn.
    pub(super) fn replay(&mut self, deferred: Vec<Deferred>, ctx: &mut Context<Self>) {
        for deferred in deferred {
            let Some(deferred) = self.defer(deferred) else {
                continue;
            };
            match deferred {
                Deferred::Exit(stopped) => self.on_stopped(stopped, ctx),
                Deferred::Request(request, sender) => self.serve(request, sender.as_ref(), ctx),
                Deferred::Stop(stopper) => self.stop_asked(stopper.as_ref(), ctx),
                Deferred::Retry(id) => self.on_retry(RetryRestart(id), ctx),
                Deferred::Read(read, sender) => self.serve_read(read, sender.as_ref(), ctx),
            }
        }
    }

    /// From `started`: begins starting the children of the spec; the
    /// supervisor's own start is acknowledged once they all have started.
    pub(super) fn begin_starting(&mut self, ctx: &mut Context<Self>) {
        ctx.defer_start_ack();
        self.starting = Some(Starting::new(mem::take(&mut self.initial)));
        self.start_next(ctx);
    }

    /// Spawns the next child, or, with none left, ends the start.
    fn start_next(&mut self, ctx: &mut Context<Self>) {
        let Some(starting) = self.starting.as_mut() else {
            return;
        };
        let Some(spec) = starting.queue.next() else {
            self.end_starting(ctx);
            return;
        };
        let spawned = spawn_spec(ctx, &self.subtree, &spec, Ack::Notify);
        match spawned {
            Ok(actor) => {
                starting.pending = Some(actor.id());
                // In the children already: a stop from here on stops it too.
                self.children.push(Child::started(spec, actor));
            }
            Err(reason) => self.start_failed(ctx, spec.id, reason),
        }
    }

    /// A child's acknowledgement: the next child, or the start fails.
    pub(super) fn on_start_ack(&mut self, ack: StartAck, ctx: &mut Context<Self>) {
        if self.on_restart_ack(&ack, ctx) {
            return;
        }
        let Some(starting) = self.starting.as_mut() else {
            return;
        };
        if starting.pending != Some(ack.actor) {
            return;
        }
        starting.pending = None;
        let i = self
            .children
            .of_actor(ack.actor)
            .expect("a pending child is among the children");
        match ack.outcome {
            Ok(()) => {
                let id = &self.children.get(i).expect("found above").spec.id;
                self.reporter.child_started(id, ack.actor);
                self.start_next(ctx);
            }
            Err(reason) => {
                self.children.set_actor(i, None);
                self.subtree.child_ended(ack.actor);
                let id = self.children.get(i).expect("found above").spec.id.clone();
                self.children.remove(i);
                self.start_failed(ctx, id, reason);
            }
        }
    }

    /// Every child has started: the supervisor acknowledges its own start,
    /// then serves what waited.
    fn end_starting(&mut self, ctx: &mut Context<Self>) {
        let Some(starting) = self.starting.take() else {
            return;
        };
        if let Some(reply) = self.start_reply.take() {
            // The supervisor's own context holds a handle that does not keep
            // the system alive; the `Supervisor` handle keeps that one.
            let _ = reply.send(Ok(ctx.system().clone()));
        }
        ctx.ack_started();
        self.replay(starting.deferred, ctx);
    }

    /// Child `id` did not start: the supervisor stops the children it
    /// started, in reverse order, and terminates with the error. Its caller
    /// gets the error as the result of the start, not also as an exit
    /// signal; requests that waited go unanswered (their callers hear that
    /// the supervisor is down).
    fn start_failed(&mut self, ctx: &mut Context<Self>, id: String, reason: ExitReason) {
        self.reporter.start_failed(&id, &reason);
        self.starting = None;
        self.parent.unlink(ctx);
        let error = SupervisorError::StartFailed { id, reason };
        let exit = ExitReason::error(&error);
        if let Some(reply) = self.start_reply.take() {
            let _ = reply.send(Err(error));
        }
        self.stopping = Some(Stopping::new(exit, &self.children));
        self.step_stopping(ctx, None);
    }

    /// An exit signal from its parent during the start: what started stops.
    pub(super) fn abort_starting(&mut self) {
        self.starting = None;
    }
}
