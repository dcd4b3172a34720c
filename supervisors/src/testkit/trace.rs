//! What a run reports: a [`Trace`] of [`StepTrace`]s, each step's
//! [`Outcome`], and the [`RunError`] that ends a run early.

use ferrotp::ExitReason;

use crate::error::SupervisorError;
use crate::testkit::schedule::Step;
use crate::testkit::shape::Path;
use crate::testkit::snapshot::TreeSnapshot;

/// What a whole run observed.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The tree once started.
    pub initial: TreeSnapshot,
    /// One entry per step, in order.
    pub steps: Vec<StepTrace>,
}

impl Trace {
    /// The tree after the last step (`None` if the root is down).
    pub fn last_tree(&self) -> Option<&TreeSnapshot> {
        match self.steps.last() {
            Some(step) => step.tree.as_ref(),
            None => Some(&self.initial),
        }
    }
}

/// What one step did.
#[derive(Clone, Debug)]
pub struct StepTrace {
    /// The step.
    pub step: Step,
    /// Whether it was applied.
    pub outcome: Outcome,
    /// The children their supervisors restarted (each `ChildRestarted`
    /// event, in order; `restart_child` is not a restart).
    pub restarted: Vec<Path>,
    /// The supervisors that exceeded their restart intensity, in order.
    pub escalated: Vec<Path>,
    /// The running children that kept the actor they had before the step.
    pub kept: Vec<Path>,
    /// The running children with an actor they did not have before the
    /// step (restarted, or started).
    pub replaced: Vec<Path>,
    /// The tree after the step; `None` once the root is down.
    pub tree: Option<TreeSnapshot>,
}

/// Whether a step was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It was.
    Applied,
    /// The supervisor refused the request.
    Refused(Refusal),
    /// There was nothing to apply it to.
    Skipped(Skip),
}

/// Why a supervisor refused a request (the [`SupervisorError`]s a request
/// can meet in a healthy tree).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// [`SupervisorError::NoSuchChild`].
    NoSuchChild,
    /// [`SupervisorError::ChildRunning`].
    ChildRunning,
    /// [`SupervisorError::ChildRestarting`].
    ChildRestarting,
    /// [`SupervisorError::DuplicateChildId`].
    DuplicateChildId,
    /// [`SupervisorError::StartFailed`], with the child's reason.
    StartFailed(ExitReason),
}

/// Why a step was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// The root supervisor is down (it escalated): nothing runs any more.
    RootDown,
    /// The path's supervisor is not running (or is not a supervisor).
    NoSupervisor,
    /// The supervisor has no child with that id (or the path is the root's).
    NoSuchChild,
    /// The child is not running, so it cannot crash.
    NotRunning,
    /// A supervisor traps exit signals: `Shutdown` and `Error` crashes do
    /// not apply to it.
    TrapsExits,
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The tree did not start.
    #[error("the tree did not start: {0}")]
    Start(SupervisorError),
    /// An event did not come in time.
    #[error("waited longer than the runner's timeout for {0}")]
    Timeout(String),
    /// A supervisor failed a request it should have answered.
    #[error("{what}: {error}")]
    Supervisor {
        /// What the runner was doing.
        what: String,
        /// The error.
        error: SupervisorError,
    },
    /// A crashed child ended with another reason than the crash's.
    #[error("{child} ended with {got}, not {expected}")]
    UnexpectedExit {
        /// The child.
        child: Path,
        /// The crash's reason.
        expected: ExitReason,
        /// Its actual reason.
        got: ExitReason,
    },
    /// The tree did not stop.
    #[error("the tree did not stop: {0}")]
    Stop(SupervisorError),
}
