//! A static supervisor restarting children from its own mailbox: its
//! strategy's range, the intensity, and retries of restarts that failed.
//!
//! OTP's order is kept exactly: for `one_for_all` and `rest_for_one` the
//! siblings in the strategy's range stop one at a time in reverse start
//! order (each one's end, subtree and all, before the previous is asked),
//! then the children of the range start one at a time in start order (each
//! one's `started` returned, a nested supervisor's subtree up, before the
//! next is spawned). What changes is how the supervisor waits: it asks a
//! child to stop and goes on when its `Down` arrives as a message, and it
//! spawns a child with
//! [`SpawnOptions::notify_started`](ferrotp::SpawnOptions::notify_started)
//! and goes on when its [`StartAck`] arrives, instead of blocking its
//! thread on each child (on the pool, two thread wake-ups per child).
//!
//! A restart is one step for the intensity, as in OTP: it is counted when
//! it begins. A child that fails to start stops the restart there (the
//! rest of the range stays stopped) and is retried by a message the
//! supervisor sends itself, so that what waited is served first; the retry
//! is a restart and counts.
//!
//! Meanwhile, as OTP's supervisor, busy in its restart, handles nothing
//! else: what would change the children (requests, a child's exit, `Stop`,
//! a retry) waits until the restart is done and is served then, in arrival
//! order; what reads the state (`which_children`, `inspect`, ...) is
//! answered at once. An exit signal from its parent cuts the restart short:
//! the child being stopped is waited for, then every running child stops in
//! reverse start order (a child still starting included) and the supervisor
//! terminates. If the supervisor is killed meanwhile, nothing is left
//! behind: a child asked to stop has its kill armed on the timer thread
//! before it is unlinked, and every child spawned is in the supervisor's
//! subtree from its spawn on.

use ferrotp::{ActorId, ActorRef, Context, Down, ExitReason, StartAck};

use super::starting::Deferred;
use super::{Phase, SupervisorActor};
use crate::children::Child;
use crate::error::SupervisorError;
use crate::lifecycle::{clean_end, spawn_spec, Ack, Stopper};
use crate::protocol::answer;
use crate::spec::{Restart, Strategy};
use crate::stopping::Stopping;

/// Sent by a supervisor to itself after a child failed to start during a
/// restart, so that other requests are served before it tries again.
pub(super) struct RetryRestart(pub(super) String);

/// A restart under way (its stop phase, then its start phase), or the
/// start of one child a handle asked for.
pub(super) struct Restarting {
    job: Job,
    /// The siblings being stopped, last started first (`one_for_all`,
    /// `rest_for_one`); `None` once they all are gone.
    stopping: Option<Stopping>,
    /// The next position to start, and one past the last.
    next: usize,
    end: usize,
    /// The child spawned last and its position, until its acknowledgement.
    pending: Option<(usize, ActorId)>,
    /// What came meanwhile, served in arrival order once the restart is done.
    deferred: Vec<Deferred>,
}

/// Why children are being started, and what the end of each start does.
enum Job {
    /// A restart, the `count`th within the window (for reports).
    Restart { count: usize },
    /// A handle's `start_child` (`added`: the child is new, and leaves
    /// again if it fails to start) or `restart_child`, answered to `to`
    /// once the child has started or failed to.
    Start { to: Option<ActorRef>, added: bool },
    /// A handle's `terminate_child`, answered to `to` once the child is
    /// gone.
    Terminate { to: Option<ActorRef> },
}

impl Restarting {
    /// Keeps `deferred` for when the restart is done.
    pub(super) fn defer(&mut self, deferred: Deferred) {
        self.deferred.push(deferred);
    }

    /// Its stop phase, while it is in it.
    pub(super) fn stop_phase(&mut self) -> Option<&mut Stopping> {
        self.stopping.as_mut()
    }

    /// The stop phase, if the restart is in it (for a shutdown that cuts
    /// the restart short, or the supervisor's `stopped` hook).
    pub(super) fn into_stopping(self) -> Option<Stopping> {
        self.stopping
    }
}

impl SupervisorActor {
    /// Restarts child `i` (and the siblings its strategy says), counting one
    /// restart; terminates the supervisor if that exceeds the intensity.
    pub(super) fn restart(&mut self, ctx: &mut Context<Self>, i: usize) {
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
        // positions stay valid until the restart is done.
        let (first, stopping) = match self.strategy {
            Strategy::OneForOne => (i, None),
            Strategy::OneForAll => (0, Some(Stopping::siblings(&self.children, 0))),
            Strategy::RestForOne => (i, Some(Stopping::siblings(&self.children, i))),
        };
        let end = match self.strategy {
            Strategy::OneForOne => i + 1,
            Strategy::OneForAll | Strategy::RestForOne => self.children.end(),
        };
        self.restarting = Some(Restarting {
            job: Job::Restart { count },
            stopping,
            next: first,
            end,
            pending: None,
            deferred: Vec::new(),
        });
        self.step_restart(ctx, None);
    }

    /// Goes on with the restart: in its stop phase, asks the next sibling
    /// or, after `down`, notes that end; then starts the next child.
    pub(super) fn step_restart(&mut self, ctx: &mut Context<Self>, down: Option<Down>) {
        let noticed = down.is_some();
        match self.advance_stop(Phase::Restart, down, ctx) {
            Some(false) => return,
            Some(true) => {
                if let Some(restarting) = self.restarting.as_mut() {
                    restarting.stopping = None;
                }
            }
            // Not ours: the stop phase is over.
            None if noticed => return,
            None => {}
        }
        self.start_next_restarted(ctx);
    }

    /// Spawns the next child of the range that is not running, or, with
    /// none left, ends the restart.
    fn start_next_restarted(&mut self, ctx: &mut Context<Self>) {
        let Some(restarting) = self.restarting.as_mut() else {
            return;
        };
        while restarting.next < restarting.end {
            let j = restarting.next;
            restarting.next += 1;
            let Some(child) = self.children.get(j) else {
                continue;
            };
            if child.actor().is_some() {
                continue;
            }
            match spawn_spec(ctx, &self.subtree, &child.spec, Ack::Notify) {
                Ok(actor) => {
                    restarting.pending = Some((j, actor.id()));
                    // Among the children already: a shutdown from here on
                    // stops it too.
                    self.children.set_actor(j, Some(actor));
                }
                Err(reason) => self.start_failed_in_run(ctx, j, reason),
            }
            return;
        }
        self.end_restart(ctx);
    }

    /// A restarted child's acknowledgement: the next child, or the restart
    /// stops there and is retried. `false` if no restart waited for it.
    pub(super) fn on_restart_ack(&mut self, ack: &StartAck, ctx: &mut Context<Self>) -> bool {
        let Some(restarting) = self.restarting.as_mut() else {
            return false;
        };
        let Some((j, actor)) = restarting.pending.filter(|&(_, a)| a == ack.actor) else {
            return false;
        };
        restarting.pending = None;
        match &ack.outcome {
            Ok(()) => {
                let child = self.children.get_mut(j).expect("a position held");
                child.restarting = false;
                let last = child.last.replace(actor);
                let id = child.spec.id.clone();
                match &restarting.job {
                    Job::Restart { count } => {
                        if let Some(child) = self.children.get_mut(j) {
                            child.restarts += 1;
                        }
                        self.reporter.child_restarted(&id, last, actor, *count);
                    }
                    Job::Terminate { .. } => {}
                    Job::Start { to, .. } => {
                        self.reporter.child_started(&id, actor);
                        let started = self.children.get(j).and_then(Child::actor).cloned();
                        let started = started.ok_or(SupervisorError::NoSuchChild(id));
                        answer(ctx, to.as_ref(), started);
                    }
                }
                self.start_next_restarted(ctx);
            }
            Err(reason) => {
                self.children.set_actor(j, None);
                self.subtree.child_ended(actor);
                self.start_failed_in_run(ctx, j, reason.clone());
            }
        }
        true
    }

    /// Child `j` did not start. In a restart, the rest of the range stays
    /// stopped and the child is retried once what waited has been served;
    /// a handle's start is answered with the error (a child it added
    /// leaves again, as in OTP).
    fn start_failed_in_run(&mut self, ctx: &mut Context<Self>, j: usize, reason: ExitReason) {
        let Some(restarting) = self.restarting.as_ref() else {
            return;
        };
        let child = self.children.get_mut(j).expect("a position held");
        let id = child.spec.id.clone();
        match &restarting.job {
            Job::Restart { count } => {
                child.restarting = true;
                self.reporter.restart_failed(&id, &reason, *count);
                ctx.send(ctx.myself(), RetryRestart(id));
            }
            Job::Terminate { .. } => {}
            Job::Start { to, added } => {
                self.reporter.start_failed(&id, &reason);
                if *added {
                    self.children.remove(j);
                }
                answer(
                    ctx,
                    to.as_ref(),
                    Err::<ActorRef, _>(SupervisorError::StartFailed { id, reason }),
                );
            }
        }
        self.end_restart(ctx);
    }

    /// Starts child `i` for a handle (`start_child`: `added`, or
    /// `restart_child`) from the mailbox; `to` hears the outcome.
    pub(super) fn start_for(
        &mut self,
        ctx: &mut Context<Self>,
        i: usize,
        to: Option<ActorRef>,
        added: bool,
    ) {
        self.restarting = Some(Restarting {
            job: Job::Start { to, added },
            stopping: None,
            next: i,
            end: i + 1,
            pending: None,
            deferred: Vec::new(),
        });
        self.start_next_restarted(ctx);
    }

    /// The restart is done: what waited is served, in arrival order (a
    /// restart it begins keeps the rest waiting in turn).
    fn end_restart(&mut self, ctx: &mut Context<Self>) {
        let Some(restarting) = self.restarting.take() else {
            return;
        };
        self.compact();
        if let Job::Terminate { to } = &restarting.job {
            answer(ctx, to.as_ref(), Ok::<(), SupervisorError>(()));
        }
        self.replay(restarting.deferred, ctx);
    }

    /// Stops child `i` for a handle's `terminate_child` from the mailbox
    /// (its `Down` comes as a message); `to` hears `Ok` once it is gone. A
    /// temporary child leaves the children.
    pub(super) fn terminate_for(
        &mut self,
        ctx: &mut Context<Self>,
        i: usize,
        to: Option<ActorRef>,
    ) {
        // A pending retry finds the child no longer restarting.
        let child = self.child_mut(i);
        child.restarting = false;
        let running = child.actor().cloned();
        let temporary = child.spec.restart == Restart::Temporary;
        let Some(actor) = running else {
            if temporary {
                self.children.remove(i);
                self.compact();
            }
            answer(ctx, to.as_ref(), Ok::<(), SupervisorError>(()));
            return;
        };
        let end = self.children.end();
        self.restarting = Some(Restarting {
            job: Job::Terminate { to },
            stopping: Some(Stopping::one(actor)),
            next: end,
            end,
            pending: None,
            deferred: Vec::new(),
        });
        self.step_restart(ctx, None);
    }

    /// Stops the running children from `from` on, in reverse start order,
    /// blocking, and drops the temporary ones among them (they are never
    /// restarted): for the `stopped` hook, which cannot wait for messages.
    pub(super) fn stop_from(&mut self, ctx: &Context<Self>, from: usize) {
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

    pub(super) fn on_retry(&mut self, RetryRestart(id): RetryRestart, ctx: &mut Context<Self>) {
        if ctx.sender() != Some(ctx.myself()) || self.stopping.is_some() {
            return;
        }
        if let Some(restarting) = self.restarting.as_mut() {
            restarting.defer(Deferred::Retry(id));
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
}
