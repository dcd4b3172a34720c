//! The supervisors against the reference model (`tests/model`): random
//! trees × random schedules (crashes, requests, clock moves, and supervisors
//! killed while they stop a busy child, whose subtree must then end within
//! the children's deadlines); after every step the live tree must be what
//! the model predicts — the step's outcome, the restarts and escalations
//! in order, which children kept their actor and which got a new one, and
//! the whole tree (ids in order, running or not, restart counts).
//!
//! 256 cases by default; `PROPTEST_CASES=n` runs n. A failure prints the
//! shrunk schedule (`minimal failing input: schedule = ...`) and the first
//! step where the live tree and the model disagree.

mod model;

use ferrotp::System;
use ferrotp_supervisors::testkit::{
    crash_schedules, trees, Outcome, Runner, Schedule, Skip, Step, TreeConfig,
};
use model::{nodes_of, Model, View};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

const STEPS: std::ops::Range<usize> = 1..24;

/// Runs `schedule` on a live tree and on the model, comparing after every step.
fn follows_the_model(system: &System, schedule: &Schedule) -> Result<(), TestCaseError> {
    let failed =
        |error: ferrotp_supervisors::testkit::RunError| TestCaseError::fail(error.to_string());
    let mut live = Runner::new()
        .start(system, &schedule.tree)
        .map_err(failed)?;
    let mut model = Model::start(&schedule.tree);
    let started = live
        .snapshot()
        .map_err(failed)?
        .map(|t| nodes_of(&t.children));
    prop_assert_eq!(started, model.tree(), "the tree as started");
    for (n, step) in schedule.steps.iter().enumerate() {
        let observed = View::of_trace(&live.apply(step).map_err(failed)?);
        let predicted = model.step(step);
        prop_assert_eq!(
            observed,
            predicted,
            "step {} ({:?}): observed (left) vs model (right)",
            n,
            step
        );
    }
    live.stop().map_err(failed)?;
    Ok(())
}

ferrotp::on_each_executor! {
    proptest! {
        #[test]
        fn live_trees_follow_the_model(
            schedule in crash_schedules(trees(TreeConfig::default()), STEPS)
        ) {
            follows_the_model(&new_system(), &schedule)?;
        }
    }

    /// Escalation all the way up, checked by hand so that the model is not
    /// only checked against itself: a root with intensity 0 whose only child
    /// is a supervisor with intensity 0.
    #[test]
    fn a_chain_of_zero_intensities_takes_the_root_down() {
        use ferrotp_supervisors::testkit::{CrashReason, Path, TreeShape};
        use ferrotp_supervisors::{Restart, Strategy};
        use std::time::Duration;

        let inner = TreeShape::new(Strategy::OneForOne)
            .intensity(0, Duration::from_secs(5))
            .worker("w0", Restart::Permanent);
        let tree = TreeShape::new(Strategy::OneForOne)
            .intensity(0, Duration::from_secs(5))
            .supervisor("s0", Restart::Permanent, inner);
        let schedule = Schedule {
            tree,
            steps: vec![
                Step::Crash {
                    child: Path::new(["s0", "w0"]),
                    reason: CrashReason::Error,
                },
                Step::AdvanceClock(Duration::from_secs(1)),
            ],
        };
        let trace = Runner::new().run(&new_system(), &schedule).unwrap();
        assert_eq!(
            trace.steps[0].escalated,
            vec![Path::new(["s0"]), Path::root()]
        );
        assert_eq!(trace.steps[0].tree, None);
        assert_eq!(trace.steps[1].outcome, Outcome::Skipped(Skip::RootDown));
        follows_the_model(&new_system(), &schedule).unwrap();
    }
}

/// The generator is worth its cases: over the schedules a default run
/// draws, the model sees every rule at work. (The model alone is cheap:
/// no actors.)
#[test]
fn generated_schedules_exercise_every_rule() {
    let strategy = crash_schedules(trees(TreeConfig::default()), STEPS);
    let mut runner = TestRunner::deterministic();
    let mut seen = Coverage::default();
    for _ in 0..256 {
        let schedule = strategy.new_tree(&mut runner).unwrap().current();
        let mut model = Model::start(&schedule.tree);
        for step in &schedule.steps {
            let view = model.step(step);
            seen.record(step, &view);
        }
        let (expired, on_the_edge) = model.window_counts();
        seen.window_expiries += expired;
        seen.window_edges += on_the_edge;
    }
    println!("{seen:#?}");
    assert!(seen.group_restarts > 0, "{seen:#?}");
    assert!(seen.nested_escalations > 0, "{seen:#?}");
    assert!(seen.root_escalations > 0, "{seen:#?}");
    assert!(seen.absorbed_escalations > 0, "{seen:#?}");
    assert!(seen.not_restarted > 0, "{seen:#?}");
    assert!(seen.refused > 0, "{seen:#?}");
    assert!(seen.applied_requests > 0, "{seen:#?}");
    assert!(seen.window_expiries > 0, "{seen:#?}");
    assert!(seen.window_edges > 0, "{seen:#?}");
    assert!(seen.kills_while_stopping > 0, "{seen:#?}");
}

#[derive(Debug, Default)]
struct Coverage {
    /// A crash restarted more than one child.
    group_restarts: usize,
    /// A supervisor below the root escalated.
    nested_escalations: usize,
    /// The root escalated.
    root_escalations: usize,
    /// An escalation that a parent absorbed (the root stayed up).
    absorbed_escalations: usize,
    /// A crash was applied and nothing restarted (transient/temporary).
    not_restarted: usize,
    /// A request was refused.
    refused: usize,
    /// A request (terminate/restart/delete/start) was applied.
    applied_requests: usize,
    /// A restart left a window because it was older than the period.
    window_expiries: usize,
    /// A restart stayed in a window at exactly the period's age.
    window_edges: usize,
    /// A supervisor was killed while it stopped a child.
    kills_while_stopping: usize,
}

impl Coverage {
    fn record(&mut self, step: &Step, view: &View) {
        if view.restarted.len() > 1 {
            self.group_restarts += 1;
        }
        self.nested_escalations += view.escalated.iter().filter(|p| !p.is_root()).count();
        if view.escalated.iter().any(|p| p.is_root()) {
            self.root_escalations += 1;
        } else if !view.escalated.is_empty() {
            self.absorbed_escalations += 1;
        }
        match (step, &view.outcome) {
            (Step::AdvanceClock(_), _) => {}
            (Step::Crash { .. }, Outcome::Applied)
                if view.restarted.is_empty() && view.escalated.is_empty() =>
            {
                self.not_restarted += 1;
            }
            (Step::KillWhileStopping { .. }, Outcome::Applied) => {
                self.kills_while_stopping += 1;
            }
            (_, Outcome::Refused(_)) => self.refused += 1,
            (_, Outcome::Applied) => self.applied_requests += 1,
            _ => {}
        }
    }
}
