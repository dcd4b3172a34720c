//! How each [`Step`] acts on a live tree: a crash of the chosen kind, a
//! kill of a supervisor while it stops a busy worker, or one request to
//! a supervisor. Knowing when its effects are over is the runner's.

use std::sync::mpsc::{self, Sender};

use ferrotp::testkit::inject_panic;
use ferrotp::{ActorRef, ExitReason, MonitorRef, Stop};

use super::watch::Watch;
use super::LiveTree;
use crate::error::SupervisorError;
use crate::protocol::TerminateChild;
use crate::spec::{ChildKind, ChildSpec};
use crate::supervisor::Supervisor;
use crate::testkit::schedule::{CrashReason, Step};
use crate::testkit::shape::Path;
use crate::testkit::snapshot::{ChildSnapshot, TreeSnapshot};
use crate::testkit::trace::{Outcome, Refusal, RunError, Skip};
use crate::testkit::worker::Hold;

impl LiveTree {
    /// Does what `step` says to the tree as `before` shows it, waiting
    /// only for the end of what it ended itself; a step that does not
    /// apply to that tree is skipped, one a supervisor refuses is refused.
    pub(super) fn act(
        &self,
        step: &Step,
        before: &TreeSnapshot,
        watch: &mut Watch,
    ) -> Result<Outcome, RunError> {
        match step {
            Step::Crash { child, reason } => self.crash(before, watch, child, *reason),
            Step::KillWhileStopping { supervisor } => {
                self.kill_while_stopping(before, watch, supervisor)
            }
            Step::TerminateChild { child } => {
                self.request(step, before, child, |sup, id| sup.terminate_child(id))
            }
            Step::RestartChild { child } => self.request(step, before, child, |sup, id| {
                sup.restart_child(id).map(drop)
            }),
            Step::DeleteChild { child } => {
                self.request(step, before, child, |sup, id| sup.delete_child(id))
            }
            Step::StartChild {
                supervisor,
                id,
                restart,
            } => {
                let Some(actor) = before.supervisor(supervisor) else {
                    return Ok(Outcome::Skipped(Skip::NoSupervisor));
                };
                let mut spec = self.worker_spec(id);
                spec.restart = *restart;
                answer(step, self.supervisor(actor).start_child(spec).map(drop))
            }
            Step::AdvanceClock(by) => {
                self.clock.advance(*by);
                Ok(Outcome::Applied)
            }
        }
    }

    /// A worker spec for `start_child`, from the same factory as the tree's.
    fn worker_spec(&self, id: &str) -> ChildSpec {
        let mut spec = (self.workers)(id);
        spec.id = id.to_string();
        spec
    }

    /// One request to the supervisor of `child`, by the child's id.
    fn request(
        &self,
        step: &Step,
        before: &TreeSnapshot,
        child: &Path,
        op: impl FnOnce(&Supervisor, &str) -> Result<(), SupervisorError>,
    ) -> Result<Outcome, RunError> {
        let (Some(parent), Some(id)) = (child.parent(), child.id()) else {
            return Ok(Outcome::Skipped(Skip::NoSuchChild));
        };
        let Some(actor) = before.supervisor(&parent) else {
            return Ok(Outcome::Skipped(Skip::NoSupervisor));
        };
        answer(step, op(&self.supervisor(actor), id))
    }

    /// Makes the child end with `reason` and waits for its `Down`.
    fn crash(
        &self,
        before: &TreeSnapshot,
        watch: &mut Watch,
        path: &Path,
        reason: CrashReason,
    ) -> Result<Outcome, RunError> {
        let (_, child) = match supervised_child(before, path) {
            Ok(found) => found,
            Err(skip) => return Ok(Outcome::Skipped(skip)),
        };
        let Some(actor) = &child.actor else {
            return Ok(Outcome::Skipped(Skip::NotRunning));
        };
        if child.kind == ChildKind::Supervisor && !reason.applies_to_supervisors() {
            return Ok(Outcome::Skipped(Skip::TrapsExits));
        }
        let monitor = watch.monitor(actor);
        match reason {
            CrashReason::Normal => actor.send(Stop),
            CrashReason::Shutdown | CrashReason::Error => actor.exit(reason.exit_reason()),
            CrashReason::Panic => {
                inject_panic(actor);
                // Any message triggers the injected panic; this one is never handled.
                actor.send(Poke);
            }
            CrashReason::Killed => actor.kill(),
        }
        let got = watch.wait(monitor, || format!("{path} to end ({reason:?})"))?;
        let expected = reason.exit_reason();
        if got != expected {
            return Err(RunError::UnexpectedExit {
                child: path.clone(),
                expected,
                got,
            });
        }
        Ok(Outcome::Applied)
    }

    /// Kills the supervisor at `path` while it terminates its last running
    /// worker (kept busy if it is a `TestWorker`); waits for the `Down` of
    /// both. The busy worker is let go only then: its thread is stuck in
    /// the handler even after the kill, and on a pool with few workers the
    /// supervisor's parent may need that thread to go on.
    fn kill_while_stopping(
        &self,
        before: &TreeSnapshot,
        watch: &mut Watch,
        path: &Path,
    ) -> Result<Outcome, RunError> {
        let (parent, child) = match supervised_child(before, path) {
            Ok(found) => found,
            Err(skip) => return Ok(Outcome::Skipped(skip)),
        };
        if child.kind != ChildKind::Supervisor {
            return Ok(Outcome::Skipped(Skip::NoSupervisor));
        }
        let Some(supervisor) = &child.actor else {
            return Ok(Outcome::Skipped(Skip::NotRunning));
        };
        let monitor = watch.monitor(supervisor);
        let busy = child
            .children
            .iter()
            .rev()
            .find(|c| c.kind == ChildKind::Worker && c.actor.is_some());
        // Answers go here and are never read.
        let answers = self.system.inbox();
        let mut held: Option<(Sender<()>, MonitorRef, &str)> = None;
        if let Some(worker) = busy {
            let actor = worker.actor.as_ref().expect("a running worker");
            if self.test_workers {
                let (holding, busy_now) = mpsc::channel();
                let (release, kept) = mpsc::channel();
                let worker_monitor = watch.monitor(actor);
                actor.send(Hold {
                    holding,
                    release: kept,
                });
                held = Some((release, worker_monitor, &worker.id));
                busy_now
                    .recv_timeout(self.timeout)
                    .map_err(|_| RunError::Timeout(format!("{path}/{} to get busy", worker.id)))?;
            }
            supervisor.send_from(TerminateChild(worker.id.clone()), answers.actor());
        }
        supervisor.kill();
        let got = watch.wait(monitor, || format!("{path} to end (killed)"))?;
        if let Some((release, worker_monitor, id)) = held {
            // Its parent (or its killed supervisor, if that had begun the
            // stop) arms the kill: on a timeout, say what they were doing.
            let worker = busy.and_then(|w| w.actor.as_ref());
            watch.wait(worker_monitor, || {
                format!(
                    "{path}/{id}, busy, to be killed at its shutdown deadline \
                     (worker: {}; parent supervisor: {}; pool workers: {})",
                    worker.map_or_else(String::new, describe),
                    describe(parent),
                    self.system.pool_workers(),
                )
            })?;
            drop(release);
        }
        if got != ExitReason::Killed {
            return Err(RunError::UnexpectedExit {
                child: path.clone(),
                expected: ExitReason::Killed,
                got,
            });
        }
        Ok(Outcome::Applied)
    }
}

/// The message that triggers an injected panic.
struct Poke;

/// One actor as a timeout's message shows it: alive or not, and what it
/// was doing for how long.
fn describe(actor: &ActorRef) -> String {
    let info = actor.info();
    format!(
        "{} {}, {} for {:?} with {} queued",
        info.id,
        if info.alive { "alive" } else { "dead" },
        info.activity.as_str(),
        info.activity_for,
        info.mailbox_len
    )
}

/// A request's result as an outcome; errors a healthy tree never gives
/// stop the run.
fn answer(step: &Step, result: Result<(), SupervisorError>) -> Result<Outcome, RunError> {
    let refusal = match result {
        Ok(()) => return Ok(Outcome::Applied),
        Err(SupervisorError::NoSuchChild(_)) => Refusal::NoSuchChild,
        Err(SupervisorError::ChildRunning(_)) => Refusal::ChildRunning,
        Err(SupervisorError::ChildRestarting(_)) => Refusal::ChildRestarting,
        Err(SupervisorError::DuplicateChildId(_)) => Refusal::DuplicateChildId,
        Err(SupervisorError::StartFailed { reason, .. }) => Refusal::StartFailed(reason),
        Err(error) => {
            return Err(RunError::Supervisor {
                what: format!("{step:?}"),
                error,
            })
        }
    };
    Ok(Outcome::Refused(refusal))
}

/// The child at `path` as `before` shows it and the supervisor that holds
/// it; or why a step on it is skipped.
fn supervised_child<'t>(
    before: &'t TreeSnapshot,
    path: &Path,
) -> Result<(&'t ActorRef, &'t ChildSnapshot), Skip> {
    let parent = path.parent().ok_or(Skip::NoSuchChild)?;
    let supervisor = before.supervisor(&parent).ok_or(Skip::NoSupervisor)?;
    let child = before.get(path).ok_or(Skip::NoSuchChild)?;
    Ok((supervisor, child))
}
