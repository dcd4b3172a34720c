//! proptest strategies: random trees ([`trees`]) and crash schedules
//! ([`crash_schedules`]) against a tree.

use std::ops::{Range, RangeInclusive};
use std::sync::Arc;
use std::time::Duration;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::{prop_oneof, BoxedStrategy, Just, Strategy};
use proptest::sample::{select, Index};
use proptest::strategy::Union;

use crate::spec::{Restart, Strategy as SupervisionStrategy};
use crate::testkit::schedule::{CrashReason, Schedule, Step};
use crate::testkit::shape::{ChildShape, Path, ShapeKind, TreeShape};

/// The trees [`trees`] generates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeConfig {
    /// Levels of supervisors, the root's included (a tree of depth 1 is a
    /// root with workers). A tree may come out shallower than drawn.
    pub depth: RangeInclusive<usize>,
    /// Children per supervisor.
    pub width: RangeInclusive<usize>,
    /// Each supervisor's `max_restarts`.
    pub max_restarts: RangeInclusive<u32>,
    /// Each supervisor's period, in whole seconds (at least 1).
    pub period_secs: RangeInclusive<u64>,
}

impl Default for TreeConfig {
    /// Depth 1 to 3, 1 to 4 children each, 0 to 3 restarts in 1 to 10 s.
    fn default() -> Self {
        TreeConfig {
            depth: 1..=3,
            width: 1..=4,
            max_restarts: 0..=3,
            period_secs: 1..=10,
        }
    }
}

/// Random trees: each supervisor has a random strategy and intensity; each
/// child is a worker (`w<i>`) or, while depth remains, as often a nested
/// supervisor (`s<i>`), with a random restart policy (permanent twice as often as
/// transient or temporary). A supervisor has the minimum number of
/// children of [`TreeConfig::width`], and each further one up to the
/// maximum with probability 1/2.
///
/// Shrinks towards fewer children, workers rather than supervisors,
/// one-for-one, and lower intensities. A child's id is its slot (`i`), so
/// that removing a sibling while shrinking does not rename it: the steps of
/// a schedule keep naming the same children.
pub fn trees(config: TreeConfig) -> BoxedStrategy<TreeShape> {
    let config = Arc::new(config);
    config
        .depth
        .clone()
        .prop_flat_map(move |depth| tree_of_depth(depth.max(1), &config))
        .boxed()
}

fn tree_of_depth(depth: usize, config: &Arc<TreeConfig>) -> BoxedStrategy<TreeShape> {
    let nested: BoxedStrategy<Option<TreeShape>> = if depth > 1 {
        prop_oneof![
            1 => Just(None),
            1 => tree_of_depth(depth - 1, config).prop_map(Some),
        ]
        .boxed()
    } else {
        Just(None).boxed()
    };
    let child = (nested, restarts());
    let (min, max) = (*config.width.start(), *config.width.end());
    let slots = (
        vec(child.clone().prop_map(Some), min),
        vec(option::of(child), max.saturating_sub(min)),
    )
        .prop_map(|(required, optional)| required.into_iter().chain(optional).collect());
    let strategies = [
        SupervisionStrategy::OneForOne,
        SupervisionStrategy::OneForAll,
        SupervisionStrategy::RestForOne,
    ];
    let (low, high) = (*config.period_secs.start(), *config.period_secs.end());
    (
        select(strategies.to_vec()),
        config.max_restarts.clone(),
        low.max(1)..=high.max(1),
        slots,
    )
        .prop_map(|(strategy, max_restarts, period, slots)| TreeShape {
            strategy,
            max_restarts,
            period: Duration::from_secs(period),
            children: children_in(slots),
        })
        .boxed()
}

/// The children in the slots that hold one, named after their slot.
fn children_in(slots: Vec<Option<(Option<TreeShape>, Restart)>>) -> Vec<ChildShape> {
    slots
        .into_iter()
        .enumerate()
        .filter_map(|(i, slot)| {
            let (nested, restart) = slot?;
            Some(match nested {
                None => ChildShape {
                    id: format!("w{i}"),
                    restart,
                    kind: ShapeKind::Worker,
                },
                Some(shape) => ChildShape {
                    id: format!("s{i}"),
                    restart,
                    kind: ShapeKind::Supervisor(shape),
                },
            })
        })
        .collect()
}

fn restarts() -> BoxedStrategy<Restart> {
    prop_oneof![
        2 => Just(Restart::Permanent),
        1 => Just(Restart::Transient),
        1 => Just(Restart::Temporary),
    ]
    .boxed()
}

/// The schedules [`crash_schedules`] generates: how many steps, and how
/// often each kind of step comes (relative weights; 0 leaves it out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// How many steps.
    pub steps: Range<usize>,
    /// Weight of [`Step::Crash`].
    pub crash: u32,
    /// Weight of [`Step::TerminateChild`].
    pub terminate: u32,
    /// Weight of [`Step::RestartChild`].
    pub restart: u32,
    /// Weight of [`Step::DeleteChild`].
    pub delete: u32,
    /// Weight of [`Step::StartChild`] (of new workers `x0` and `x1`).
    pub start: u32,
    /// Weight of [`Step::AdvanceClock`].
    pub advance: u32,
    /// Weight of [`Step::KillWhileStopping`] (of nested supervisors).
    pub kill_while_stopping: u32,
    /// The clock moves by 1 to this many whole seconds at a time, or by
    /// exactly the period of one of the tree's supervisors.
    pub max_advance_secs: u64,
    /// The reasons crashes use (supervisors are crashed only with those
    /// of [`CrashReason::FOR_SUPERVISORS`] among them).
    pub reasons: Vec<CrashReason>,
}

impl ScheduleConfig {
    /// Every kind of step, crashes most often.
    pub fn new(steps: Range<usize>) -> Self {
        ScheduleConfig {
            steps,
            crash: 8,
            terminate: 2,
            restart: 2,
            delete: 1,
            start: 2,
            advance: 3,
            kill_while_stopping: 1,
            max_advance_secs: 10,
            reasons: CrashReason::ALL.to_vec(),
        }
    }

    /// Crashes and clock moves only: no request to a supervisor, so a tree
    /// of permanent children should always recover (or escalate).
    pub fn crashes_only(steps: Range<usize>) -> Self {
        ScheduleConfig {
            terminate: 0,
            restart: 0,
            delete: 0,
            start: 0,
            ..Self::new(steps)
        }
    }
}

impl From<Range<usize>> for ScheduleConfig {
    fn from(steps: Range<usize>) -> Self {
        ScheduleConfig::new(steps)
    }
}

/// Schedules against the trees of `trees`: each tree, and steps that
/// target its children by path — those it starts with, and (when
/// [`ScheduleConfig::start`] is not 0) the workers `x0` and `x1` that
/// `StartChild` steps may add to any supervisor.
///
/// A fixed tree is `Just(tree)`; random ones come from [`trees`]. Shrinking
/// simplifies the tree first, keeping the steps (those whose child is gone
/// are then skipped or refused), then drops and simplifies steps.
///
/// # Panics
///
/// If every weight of `config` is 0.
pub fn crash_schedules(
    trees: impl Strategy<Value = TreeShape> + 'static,
    config: impl Into<ScheduleConfig>,
) -> BoxedStrategy<Schedule> {
    let config = Arc::new(config.into());
    // Independent: the tree shrinks while the steps stay as drawn (a step
    // whose child is gone is skipped), then the steps shrink.
    trees
        .prop_ind_flat_map2(move |tree| vec(steps_for(&tree, &config), config.steps.clone()))
        .prop_map(|(tree, steps)| Schedule { tree, steps })
        .boxed()
}

/// Makes a request step about one child.
type MakeStep = fn(Path) -> Step;

/// One step against `tree`.
fn steps_for(tree: &TreeShape, config: &ScheduleConfig) -> BoxedStrategy<Step> {
    let extras: Vec<(Path, String)> = if config.start > 0 {
        tree.supervisor_paths()
            .into_iter()
            .flat_map(|sup| ["x0", "x1"].map(|id| (sup.clone(), id.to_string())))
            .collect()
    } else {
        Vec::new()
    };
    // Every child a step may name, and whether it is a supervisor.
    let targets: Vec<(Path, bool)> = tree
        .children_deep()
        .into_iter()
        .map(|(path, c)| (path, matches!(c.kind, ShapeKind::Supervisor(_))))
        .chain(extras.iter().map(|(sup, id)| (sup.child(id), false)))
        .collect();
    let children: Vec<Path> = targets.iter().map(|(path, _)| path.clone()).collect();

    let mut kinds: Vec<(u32, BoxedStrategy<Step>)> = Vec::new();
    let crashable: Vec<(Path, Vec<CrashReason>)> = targets
        .iter()
        .map(|(path, is_supervisor)| {
            let reasons = config
                .reasons
                .iter()
                .copied()
                .filter(|r| !is_supervisor || r.applies_to_supervisors())
                .collect();
            (path.clone(), reasons)
        })
        .filter(|(_, reasons): &(Path, Vec<CrashReason>)| !reasons.is_empty())
        .collect();
    if config.crash > 0 && !crashable.is_empty() {
        let crash = (select(crashable), proptest::arbitrary::any::<Index>())
            .prop_map(|((child, reasons), pick)| Step::Crash {
                child,
                reason: *pick.get(&reasons),
            })
            .boxed();
        kinds.push((config.crash, crash));
    }
    if !children.is_empty() {
        let requests: [(u32, MakeStep); 3] = [
            (config.terminate, |child| Step::TerminateChild { child }),
            (config.restart, |child| Step::RestartChild { child }),
            (config.delete, |child| Step::DeleteChild { child }),
        ];
        for (weight, make) in requests {
            if weight > 0 {
                kinds.push((weight, select(children.clone()).prop_map(make).boxed()));
            }
        }
    }
    if config.start > 0 && !extras.is_empty() {
        let start = (select(extras), restarts())
            .prop_map(|((supervisor, id), restart)| Step::StartChild {
                supervisor,
                id,
                restart,
            })
            .boxed();
        kinds.push((config.start, start));
    }
    let nested: Vec<Path> = targets
        .iter()
        .filter(|(_, is_supervisor)| *is_supervisor)
        .map(|(path, _)| path.clone())
        .collect();
    if config.kill_while_stopping > 0 && !nested.is_empty() {
        let kill = select(nested)
            .prop_map(|supervisor| Step::KillWhileStopping { supervisor })
            .boxed();
        kinds.push((config.kill_while_stopping, kill));
    }
    if config.advance > 0 {
        // Half the moves are exactly one of the tree's periods, so that
        // restarts land on the edge of a window (OTP keeps a restart exactly
        // `period` old) as well as inside and outside it.
        let periods: Vec<Duration> = tree_periods(tree);
        let advance = prop_oneof![
            (1..=config.max_advance_secs.max(1)).prop_map(Duration::from_secs),
            select(periods),
        ]
        .prop_map(Step::AdvanceClock)
        .boxed();
        kinds.push((config.advance, advance));
    }
    assert!(
        !kinds.is_empty(),
        "ScheduleConfig: every weight is 0 (or nothing to target)"
    );
    Union::new_weighted(kinds).boxed()
}

/// The period of every supervisor of `tree`.
fn tree_periods(tree: &TreeShape) -> Vec<Duration> {
    let nested = tree
        .children_deep()
        .into_iter()
        .filter_map(|(_, c)| match &c.kind {
            ShapeKind::Supervisor(shape) => Some(shape.period),
            ShapeKind::Worker => None,
        });
    std::iter::once(tree.period).chain(nested).collect()
}
