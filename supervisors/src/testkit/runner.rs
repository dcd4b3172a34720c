//! The runner: builds a live tree from a [`TreeShape`], applies [`Step`]s
//! one at a time, each until its effects are over, and reports what
//! happened ([`StepTrace`]).
//!
//! A step is over when every supervisor it could have made act has acted.
//! The runner knows that from events, never from time: the `Down` of a
//! crashed child (the runner's monitor predates the crash, so the `Down`
//! comes after the child's exit signal reached its supervisor), then
//! round trips to that supervisor (answered only after it handled the
//! exit) until it has no failed restart left to retry; if the supervisor
//! itself ended (it escalated), the same again with its parent, up to the
//! root.

mod acting;
mod watch;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotp::{ActorId, ActorRef, Events, ExitReason, MonitorRef, System};

use crate::error::SupervisorError;
use crate::intensity::ManualClock;
use crate::protocol::{Describe, Summary};
use crate::report::SupervisorEvent;
use crate::spec::{ChildSpec, Shutdown};
use crate::supervisor::Supervisor;
use crate::testkit::schedule::{Schedule, Step};
use crate::testkit::shape::{Path, TreeShape};
use crate::testkit::snapshot::TreeSnapshot;
use crate::testkit::trace::{Outcome, RunError, Skip, StepTrace, Trace};
use crate::testkit::worker::TestWorker;
use watch::Watch;

/// Makes the worker child with the given id (the runner then sets the id
/// and the restart policy from the shape).
pub type WorkerFactory = Arc<dyn Fn(&str) -> ChildSpec + Send + Sync>;

/// How long the runner waits for any one event unless told otherwise.
pub const DEFAULT_RUNNER_TIMEOUT: Duration = Duration::from_secs(10);

/// The shutdown timeout of the runner's own [`TestWorker`]s: short, so that
/// a busy one ([`Step::KillWhileStopping`]) is killed soon.
pub const TEST_WORKER_SHUTDOWN: Duration = Duration::from_millis(200);

/// Builds live trees and applies schedules to them.
///
/// ```
/// use ferrotp::System;
/// use ferrotp_supervisors::testkit::{CrashReason, Path, Runner, Schedule, Step, TreeShape};
/// use ferrotp_supervisors::{Restart, Strategy};
///
/// let tree = TreeShape::new(Strategy::OneForAll)
///     .worker("a", Restart::Permanent)
///     .worker("b", Restart::Permanent);
/// let schedule = Schedule {
///     tree,
///     steps: vec![Step::Crash { child: Path::new(["b"]), reason: CrashReason::Error }],
/// };
/// let trace = Runner::new().run(&System::new(), &schedule).unwrap();
/// let step = &trace.steps[0];
/// assert_eq!(step.restarted, vec![Path::new(["a"]), Path::new(["b"])]);
/// assert!(step.kept.is_empty() && step.escalated.is_empty());
/// ```
#[derive(Clone)]
pub struct Runner {
    workers: WorkerFactory,
    /// The workers are `TestWorker`s, which can be kept busy.
    test_workers: bool,
    timeout: Duration,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner whose workers are [`TestWorker`]s (stopped with
    /// `Shutdown::Timeout(`[`TEST_WORKER_SHUTDOWN`]`)`), waiting up to
    /// [`DEFAULT_RUNNER_TIMEOUT`] for any one event.
    pub fn new() -> Self {
        Runner {
            workers: Arc::new(|id| {
                ChildSpec::worker(id, || TestWorker)
                    .shutdown(Shutdown::Timeout(TEST_WORKER_SHUTDOWN))
            }),
            test_workers: true,
            timeout: DEFAULT_RUNNER_TIMEOUT,
        }
    }

    /// Supervises your own workers: `factory(id)` makes the worker child
    /// `id`. The runner overrides the spec's id and restart policy with the
    /// shape's and keeps the rest (shutdown, name). Crashes reach your
    /// actor through the kernel, not its code (see
    /// [`CrashReason`](super::CrashReason) for what that asks of it). Give
    /// workers names only if no step kills a supervisor: a killed
    /// supervisor's children end after it is restarted, so a restarted
    /// child could find its name still taken.
    pub fn workers(mut self, factory: impl Fn(&str) -> ChildSpec + Send + Sync + 'static) -> Self {
        self.workers = Arc::new(factory);
        self.test_workers = false;
        self
    }

    /// How long to wait for any one event (a `Down`, a supervisor's answer)
    /// before failing with [`RunError::Timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Starts the tree in `system`, its intensity counted on a fresh
    /// [`ManualClock`] standing at zero.
    pub fn start(&self, system: &System, tree: &TreeShape) -> Result<LiveTree, RunError> {
        let clock = ManualClock::new();
        // Subscribed first, so that no supervisor event of the run is missed.
        let events = system.subscribe();
        let spec = tree.spec(&clock, &self.workers);
        let root = Supervisor::start(system, spec)
            .map_err(RunError::Start)?
            .with_call_timeout(self.timeout);
        Ok(LiveTree {
            system: system.clone(),
            root,
            clock,
            workers: self.workers.clone(),
            test_workers: self.test_workers,
            timeout: self.timeout,
            events,
            root_down: None,
        })
    }

    /// Starts the schedule's tree, applies every step, stops the tree.
    pub fn run(&self, system: &System, schedule: &Schedule) -> Result<Trace, RunError> {
        let mut live = self.start(system, &schedule.tree)?;
        let initial = live.snapshot_now()?;
        let steps = schedule
            .steps
            .iter()
            .map(|step| live.apply(step))
            .collect::<Result<Vec<_>, _>>()?;
        live.stop()?;
        Ok(Trace { initial, steps })
    }
}

/// A started tree, to which steps are applied one at a time.
pub struct LiveTree {
    /// Kept so that the system lives as long as the tree.
    system: System,
    root: Supervisor,
    clock: ManualClock,
    workers: WorkerFactory,
    test_workers: bool,
    timeout: Duration,
    events: Events,
    /// How the root ended, once it has.
    root_down: Option<ExitReason>,
}

impl std::fmt::Debug for LiveTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTree")
            .field("root", &self.root)
            .field("clock", &self.clock)
            .field("root_down", &self.root_down)
            .finish_non_exhaustive()
    }
}

impl LiveTree {
    /// The root supervisor.
    pub fn root(&self) -> &Supervisor {
        &self.root
    }

    /// The manual clock every supervisor of the tree counts restarts on.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// The system the tree runs in.
    pub fn system(&self) -> &System {
        &self.system
    }

    /// How the root ended, if it has (it escalated).
    pub fn root_down(&self) -> Option<&ExitReason> {
        self.root_down.as_ref()
    }

    /// The tree now (`None` once the root is down).
    pub fn snapshot(&self) -> Result<Option<TreeSnapshot>, RunError> {
        match self.root_down {
            Some(_) => Ok(None),
            None => self.snapshot_now().map(Some),
        }
    }

    /// Applies `step` and returns once its effects are over: every restart
    /// and escalation it caused has happened, and every actor it ended has
    /// terminated.
    pub fn apply(&mut self, step: &Step) -> Result<StepTrace, RunError> {
        if self.root_down.is_some() {
            return Ok(StepTrace {
                step: step.clone(),
                outcome: Outcome::Skipped(Skip::RootDown),
                restarted: Vec::new(),
                escalated: Vec::new(),
                kept: Vec::new(),
                replaced: Vec::new(),
                tree: None,
            });
        }
        // Whatever happened between steps is not this step's doing.
        while self.events.try_recv().is_some() {}
        let before = self.snapshot_now()?;
        let mut watch = Watch::new(&self.system, self.timeout);
        // Watched before the step acts, so that each one's `Down` comes
        // after its exit signal reached its parent (see the module docs).
        let chain: Vec<(ActorRef, MonitorRef)> = acted_on(step)
            .map(|path| supervisor_chain(&before, &path))
            .unwrap_or_default()
            .into_iter()
            .map(|sup| {
                let monitor = watch.monitor(&sup);
                (sup, monitor)
            })
            .collect();

        let outcome = self.act(step, &before, &mut watch)?;
        self.settle(&chain, &mut watch)?;
        let after = self.snapshot()?;

        // A killed supervisor's subtree ends on its own, after its parent
        // restarted it: wait for every actor that left the tree.
        let live: HashSet<ActorId> = after
            .iter()
            .flat_map(|tree| tree.actors())
            .map(|a| a.id())
            .collect();
        for actor in before.actors() {
            if !live.contains(&actor.id()) {
                let monitor = watch.monitor(&actor);
                watch.wait(monitor, || format!("{} to end after {step:?}", actor.id()))?;
            }
        }

        let mut paths = before.supervisor_paths();
        if let Some(tree) = &after {
            paths.extend(tree.supervisor_paths());
        }
        let (restarted, escalated) = self.supervisor_events(&paths);
        let (kept, replaced) = identities(&before, after.as_ref());
        Ok(StepTrace {
            step: step.clone(),
            outcome,
            restarted,
            escalated,
            kept,
            replaced,
            tree: after,
        })
    }

    /// Stops the tree (unless the root is down already) and waits until it
    /// is gone.
    pub fn stop(self) -> Result<(), RunError> {
        if self.root_down.is_some() {
            return Ok(());
        }
        self.root.stop(self.timeout).map_err(RunError::Stop)
    }

    fn snapshot_now(&self) -> Result<TreeSnapshot, RunError> {
        TreeSnapshot::take(&self.root.handle).map_err(|error| RunError::Supervisor {
            what: "reading the tree".into(),
            error,
        })
    }

    fn supervisor(&self, actor: &ActorRef) -> Supervisor {
        Supervisor {
            handle: self.root.handle.nested(actor),
        }
    }

    /// Round trips to `sup` until it has no failed restart left to retry:
    /// a retry is a message the supervisor sends itself, handled in turn
    /// with requests, so a round trip alone can overtake it.
    fn retries_done(&self, sup: &ActorRef) -> Result<Result<(), SupervisorError>, RunError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.supervisor(sup).handle.call::<Summary, _>(Describe) {
                Ok(summary) if summary.restarting == 0 => return Ok(Ok(())),
                Ok(_) if Instant::now() >= deadline => {
                    return Err(RunError::Timeout(format!(
                        "the restart retries of supervisor {} to end",
                        sup.id()
                    )))
                }
                Ok(_) => {}
                Err(error) => return Ok(Err(error)),
            }
        }
    }

    /// Waits until the supervisors in `chain` (the one a step acted on, then
    /// its ancestors) have handled what the step did: round trips to the
    /// first until no restart retry is pending; if it ended, its `Down` and
    /// the same with its parent; and so on. Records the root's end.
    fn settle(
        &mut self,
        chain: &[(ActorRef, MonitorRef)],
        watch: &mut Watch,
    ) -> Result<(), RunError> {
        for (sup, monitor) in chain {
            match self.retries_done(sup)? {
                Ok(()) => return Ok(()),
                Err(SupervisorError::SupervisorDown(_)) => {
                    let reason =
                        watch.wait(*monitor, || format!("supervisor {} to end", sup.id()))?;
                    if sup.id() == self.root.actor().id() {
                        self.root_down = Some(reason);
                    }
                }
                Err(error) => {
                    return Err(RunError::Supervisor {
                        what: format!("asking supervisor {}", sup.id()),
                        error,
                    })
                }
            }
        }
        Ok(())
    }

    /// The restarts and escalations published since the step began.
    fn supervisor_events(&self, paths: &HashMap<ActorId, Path>) -> (Vec<Path>, Vec<Path>) {
        let path_of = |id: &ActorId| {
            paths
                .get(id)
                .cloned()
                .unwrap_or_else(|| Path::new([format!("?{id}")]))
        };
        let (mut restarted, mut escalated) = (Vec::new(), Vec::new());
        while let Some(event) = self.events.try_recv() {
            match event.custom::<SupervisorEvent>() {
                Some(SupervisorEvent::ChildRestarted {
                    supervisor,
                    child_id,
                    ..
                }) => restarted.push(path_of(supervisor).child(child_id)),
                Some(SupervisorEvent::SupervisorEscalated { supervisor, .. }) => {
                    escalated.push(path_of(supervisor))
                }
                _ => {}
            }
        }
        (restarted, escalated)
    }
}

/// The supervisor a step asks or whose child it crashes.
fn acted_on(step: &Step) -> Option<Path> {
    match step {
        Step::Crash { child, .. }
        | Step::TerminateChild { child }
        | Step::RestartChild { child }
        | Step::DeleteChild { child } => child.parent(),
        Step::KillWhileStopping { supervisor } => supervisor.parent(),
        Step::StartChild { supervisor, .. } => Some(supervisor.clone()),
        Step::AdvanceClock(_) => None,
    }
}

/// The running supervisor at `path` and its ancestors up to the root
/// (empty if it does not run).
fn supervisor_chain(tree: &TreeSnapshot, path: &Path) -> Vec<ActorRef> {
    let ids = path.ids();
    (0..=ids.len())
        .rev()
        .map_while(|n| tree.supervisor(&Path::new(ids[..n].to_vec())).cloned())
        .collect()
}

/// Which running children kept their actor, and which have a new one.
fn identities(before: &TreeSnapshot, after: Option<&TreeSnapshot>) -> (Vec<Path>, Vec<Path>) {
    let (mut kept, mut replaced) = (Vec::new(), Vec::new());
    for (path, child) in after.map(TreeSnapshot::children_deep).unwrap_or_default() {
        let Some(actor) = &child.actor else { continue };
        let old = before.get(&path).and_then(|c| c.actor.as_ref());
        if old.map(ActorRef::id) == Some(actor.id()) {
            kept.push(path);
        } else {
            replaced.push(path);
        }
    }
    (kept, replaced)
}
