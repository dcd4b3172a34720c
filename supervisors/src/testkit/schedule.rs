//! What a test does to a tree: [`Step`]s, [`CrashReason`]s, and a
//! [`Schedule`] (a tree and the steps to apply to it).

use std::time::Duration;

use ferrotp::testkit::INJECTED_PANIC;
use ferrotp::ExitReason;

use crate::spec::Restart;
use crate::testkit::shape::{Path, TreeShape};

/// The text of the `Error` a [`CrashReason::Error`] crash ends a child with.
pub const INJECTED_ERROR: &str = "crash injected by ferrotp_supervisors::testkit";

/// How a crashed child ends, and how the runner makes it end (without
/// any help from the child's code):
///
/// | reason     | how                                            | ends with                  |
/// |------------|------------------------------------------------|----------------------------|
/// | `Normal`   | the message [`Stop`](ferrotp::Stop)            | `Normal`                   |
/// | `Shutdown` | the exit signal `Shutdown` (from plain code)   | `Shutdown`                 |
/// | `Error`    | the exit signal `Error(INJECTED_ERROR)`        | `Error(INJECTED_ERROR)`    |
/// | `Panic`    | `ferrotp::testkit::inject_panic`, then a message | `Panic(INJECTED_PANIC)`  |
/// | `Killed`   | [`ActorRef::kill`](ferrotp::ActorRef::kill)    | `Killed`                   |
///
/// An actor that traps exits turns an exit signal into a message, so
/// `Shutdown` and `Error` do not apply to supervisors (the runner skips
/// them), nor to workers that trap exits (the runner would time out
/// waiting for their end); `Normal` needs an actor without its own `Stop`
/// handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrashReason {
    /// Ends with `Normal` (a transient child is not restarted).
    Normal,
    /// Ends with `Shutdown` (a transient child is not restarted).
    Shutdown,
    /// Ends with an `Error`.
    Error,
    /// Ends with a `Panic`.
    Panic,
    /// Is killed.
    Killed,
}

impl CrashReason {
    /// Every reason.
    pub const ALL: [CrashReason; 5] = [
        CrashReason::Normal,
        CrashReason::Shutdown,
        CrashReason::Error,
        CrashReason::Panic,
        CrashReason::Killed,
    ];

    /// The reasons that apply to a supervisor (it traps exit signals).
    pub const FOR_SUPERVISORS: [CrashReason; 3] =
        [CrashReason::Normal, CrashReason::Panic, CrashReason::Killed];

    /// The reason the crashed child terminates with.
    pub fn exit_reason(self) -> ExitReason {
        match self {
            CrashReason::Normal => ExitReason::Normal,
            CrashReason::Shutdown => ExitReason::Shutdown,
            CrashReason::Error => ExitReason::error(INJECTED_ERROR),
            CrashReason::Panic => ExitReason::Panic(INJECTED_PANIC.to_string()),
            CrashReason::Killed => ExitReason::Killed,
        }
    }

    /// Whether the runner can crash a supervisor this way.
    pub fn applies_to_supervisors(self) -> bool {
        Self::FOR_SUPERVISORS.contains(&self)
    }
}

/// One thing a test does to a live tree. Children are addressed by
/// [`Path`]; a step whose target does not exist (any more) is skipped or
/// refused, as the trace says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Makes the running child end with `reason`; its supervisor reacts.
    Crash {
        /// The child.
        child: Path,
        /// How it ends.
        reason: CrashReason,
    },
    /// `Supervisor::terminate_child` on the child's supervisor.
    TerminateChild {
        /// The child.
        child: Path,
    },
    /// `Supervisor::restart_child` on the child's supervisor.
    RestartChild {
        /// The child.
        child: Path,
    },
    /// `Supervisor::delete_child` on the child's supervisor.
    DeleteChild {
        /// The child.
        child: Path,
    },
    /// `Supervisor::start_child` of a new worker.
    StartChild {
        /// The supervisor to add it to.
        supervisor: Path,
        /// The new child's id.
        id: String,
        /// Its restart policy.
        restart: Restart,
    },
    /// Moves the tree's manual clock (restart intensity windows) forward.
    AdvanceClock(Duration),
    /// Kills the nested supervisor `supervisor` while it stops one of its
    /// children: the runner keeps the supervisor's last running worker busy
    /// in a handler ([`Hold`](super::Hold), for [`TestWorker`](super::TestWorker)s),
    /// asks the supervisor to terminate that worker, and kills the
    /// supervisor without waiting for the answer. Its parent then handles
    /// the end like a [`Crash`](Step::Crash) with `Killed`. The step is over
    /// when every actor of the old subtree has ended — the busy worker
    /// included, which only the kill at its shutdown deadline can end.
    KillWhileStopping {
        /// The supervisor (not the root).
        supervisor: Path,
    },
}

/// A tree and the steps to apply to it, in order: what the strategies
/// generate and the runner runs. Its `Debug` is what proptest prints for a
/// shrunk failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The tree to start.
    pub tree: TreeShape,
    /// What to do to it.
    pub steps: Vec<Step>,
}
