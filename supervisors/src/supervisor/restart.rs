//! A static supervisor restarting children: its strategy's range, the
//! intensity, and retries of restarts that failed.

use std::ops::Range;

use ferrotp::{Context, ExitReason};

use super::SupervisorActor;
use crate::children::Child;
use crate::lifecycle::{clean_end, spawn_spec, Ack, Stopper};
use crate::spec::{Restart, Strategy};

/// Sent by a supervisor to itself after a child failed to start during a
/// restart, so that other requests are served before it tries again.
pub(super) struct RetryRestart(String);

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
            let started = spawn_spec(ctx, &self.subtree, spec, Ack::Await);
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
