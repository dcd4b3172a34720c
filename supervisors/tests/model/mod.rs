//! A reference model of OTP supervisor semantics, as this crate documents
//! them: pure data, no threads, no actors, no clock but a number.
//!
//! Given a tree and a step, it predicts what the testkit's runner must
//! observe: the step's outcome, which children their supervisors restart
//! (in order), which supervisors escalate, which running children keep
//! their actor and which get a new one, and the tree afterwards. The rules:
//!
//! - A child that ends is restarted if it is permanent, or transient and
//!   the reason is abnormal (not `Normal`, not `Shutdown`); a temporary
//!   child is removed instead; a transient child that is not restarted
//!   stays listed, not running.
//! - A restart first counts in the supervisor's window: restarts at `t`
//!   with `now - t <= period` stay, the new one is added, and more than
//!   `max_restarts` in the window escalates: the supervisor stops its
//!   children and ends with `Shutdown`, and its own supervisor handles
//!   that like any child's end (a transient supervisor is therefore not
//!   restarted). The root escalating ends everything.
//! - one_for_one starts the child again; one_for_all stops every child,
//!   rest_for_one the child's later siblings, dropping the temporary ones
//!   among them, then every child of that range that is not running is
//!   started, in order, each counting as restarted (`restarts + 1`).
//! - A (re)started supervisor is a new incarnation: a fresh window and the
//!   children of its original spec, all new.
//! - Killing a supervisor while it stops a child is a crash of that
//!   supervisor with `Killed`.
//! - terminate_child stops a child (and removes a temporary one);
//!   restart_child starts a stopped child (not a restart: no count);
//!   delete_child removes a stopped child; start_child appends a new
//!   child. None of them counts towards the intensity.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

use ferrotp_supervisors::testkit::{
    ChildShape, ChildSnapshot, Outcome, Path, Refusal, ShapeKind, Skip, Step, StepTrace, TreeShape,
};
use ferrotp_supervisors::{ChildKind, Restart, Strategy};

/// What is compared after each step: the runner's trace without actor ids
/// (identity is in `kept` / `replaced`), or the model's prediction of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub outcome: Outcome,
    pub restarted: Vec<Path>,
    pub escalated: Vec<Path>,
    pub kept: Vec<Path>,
    pub replaced: Vec<Path>,
    /// `None` once the root is down.
    pub tree: Option<Vec<Node>>,
}

/// One child in a [`View`].
#[derive(Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub supervisor: bool,
    pub restart: Restart,
    pub restarts: u32,
    pub running: bool,
    pub children: Vec<Node>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.running { "up" } else { "down" };
        write!(
            f,
            "{} {:?} restarts={} {state}",
            self.id, self.restart, self.restarts
        )?;
        if self.supervisor && self.running {
            write!(f, " {:?}", self.children)?;
        }
        Ok(())
    }
}

impl View {
    /// What the runner observed.
    pub fn of_trace(trace: &StepTrace) -> View {
        View {
            outcome: trace.outcome.clone(),
            restarted: trace.restarted.clone(),
            escalated: trace.escalated.clone(),
            kept: trace.kept.clone(),
            replaced: trace.replaced.clone(),
            tree: trace.tree.as_ref().map(|tree| nodes_of(&tree.children)),
        }
    }

    fn nothing(outcome: Outcome) -> View {
        View {
            outcome,
            restarted: Vec::new(),
            escalated: Vec::new(),
            kept: Vec::new(),
            replaced: Vec::new(),
            tree: None,
        }
    }
}

/// A live tree's children as [`Node`]s.
pub fn nodes_of(children: &[ChildSnapshot]) -> Vec<Node> {
    children
        .iter()
        .map(|c| Node {
            id: c.id.clone(),
            supervisor: c.kind == ChildKind::Supervisor,
            restart: c.restart,
            restarts: c.restarts,
            running: c.actor.is_some(),
            children: nodes_of(&c.children),
        })
        .collect()
}

/// The model: the root supervisor while it runs, and the context.
pub struct Model {
    root: Option<Sup>,
    cx: Cx,
}

/// What every supervisor shares: the clock, a source of identities, and
/// what the current step did.
#[derive(Default)]
struct Cx {
    now: Duration,
    next_token: u64,
    restarted: Vec<Path>,
    escalated: Vec<Path>,
    /// Restarts that left a window because they were older than its period.
    expired: usize,
    /// Restarts that stayed in a window at exactly `period` old.
    on_the_edge: usize,
}

impl Cx {
    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }
}

/// One running supervisor incarnation.
struct Sup {
    strategy: Strategy,
    max_restarts: usize,
    period: Duration,
    /// Times of the restarts in the window, oldest first.
    stamps: VecDeque<Duration>,
    children: Vec<Child>,
}

struct Child {
    shape: ChildShape,
    restarts: u32,
    running: Option<Incarnation>,
}

/// A running child: its identity, and for a supervisor its state.
struct Incarnation {
    token: u64,
    sup: Option<Sup>,
}

impl Incarnation {
    fn start(kind: &ShapeKind, cx: &mut Cx) -> Incarnation {
        let token = cx.token();
        let sup = match kind {
            ShapeKind::Worker => None,
            ShapeKind::Supervisor(shape) => Some(Sup::start(shape, cx)),
        };
        Incarnation { token, sup }
    }
}

impl Sup {
    fn start(shape: &TreeShape, cx: &mut Cx) -> Sup {
        Sup {
            strategy: shape.strategy,
            max_restarts: shape.max_restarts as usize,
            period: shape.period,
            stamps: VecDeque::new(),
            children: shape
                .children
                .iter()
                .map(|c| Child {
                    shape: c.clone(),
                    restarts: 0,
                    running: Some(Incarnation::start(&c.kind, cx)),
                })
                .collect(),
        }
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| c.shape.id == id)
    }

    /// Child `i` ended; `true` if this supervisor escalates.
    fn child_exited(&mut self, i: usize, abnormal: bool, here: &Path, cx: &mut Cx) -> bool {
        let child = &mut self.children[i];
        child.running = None;
        let restart = match child.shape.restart {
            Restart::Permanent => true,
            Restart::Transient => abnormal,
            Restart::Temporary => false,
        };
        if restart {
            return self.restart(i, here, cx);
        }
        if child.shape.restart == Restart::Temporary {
            self.children.remove(i);
        }
        false
    }

    /// Restarts child `i` and the siblings the strategy says; `true` if
    /// the restart is one too many.
    fn restart(&mut self, i: usize, here: &Path, cx: &mut Cx) -> bool {
        while let Some(&oldest) = self.stamps.front() {
            let age = cx.now.saturating_sub(oldest);
            if age > self.period {
                self.stamps.pop_front();
                cx.expired += 1;
            } else {
                cx.on_the_edge += usize::from(age == self.period);
                break;
            }
        }
        self.stamps.push_back(cx.now);
        if self.stamps.len() > self.max_restarts {
            cx.escalated.push(here.clone());
            return true;
        }
        let range = match self.strategy {
            Strategy::OneForOne => i..i + 1,
            Strategy::OneForAll => {
                self.stop_from(0);
                0..self.children.len()
            }
            Strategy::RestForOne => {
                // Child `i` is not temporary (it is being restarted), so it
                // keeps its place.
                self.stop_from(i);
                i..self.children.len()
            }
        };
        for child in &mut self.children[range] {
            if child.running.is_none() {
                child.running = Some(Incarnation::start(&child.shape.kind, cx));
                child.restarts += 1;
                cx.restarted.push(here.child(&child.shape.id));
            }
        }
        false
    }

    /// Stops the children from `from` on and drops the temporary ones.
    fn stop_from(&mut self, from: usize) {
        for child in &mut self.children[from..] {
            child.running = None;
        }
        let mut k = 0;
        self.children.retain(|c| {
            k += 1;
            k <= from || c.shape.restart != Restart::Temporary
        });
    }

    fn nodes(&self) -> Vec<Node> {
        self.children
            .iter()
            .map(|c| Node {
                id: c.shape.id.clone(),
                supervisor: matches!(c.shape.kind, ShapeKind::Supervisor(_)),
                restart: c.shape.restart,
                restarts: c.restarts,
                running: c.running.is_some(),
                children: c
                    .running
                    .as_ref()
                    .and_then(|r| r.sup.as_ref())
                    .map_or_else(Vec::new, Sup::nodes),
            })
            .collect()
    }

    /// The identity of every running child, parents first.
    fn tokens(&self, here: &Path, out: &mut Vec<(Path, u64)>) {
        for child in &self.children {
            if let Some(running) = &child.running {
                let path = here.child(&child.shape.id);
                out.push((path.clone(), running.token));
                if let Some(sup) = &running.sup {
                    sup.tokens(&path, out);
                }
            }
        }
    }
}

/// What an operation on one supervisor returns: its outcome, and whether
/// that supervisor escalates.
type Done = (Outcome, bool);

/// Applies `op` to the running supervisor at `rest` below `sup`, then lets
/// each supervisor on the way back up handle the escalation of the one
/// below it.
fn descend(
    sup: &mut Sup,
    here: &Path,
    rest: &[String],
    cx: &mut Cx,
    op: &mut dyn FnMut(&mut Sup, &Path, &mut Cx) -> Done,
) -> Done {
    let Some((id, tail)) = rest.split_first() else {
        return op(sup, here, cx);
    };
    let Some(i) = sup.position(id) else {
        return (Outcome::Skipped(Skip::NoSupervisor), false);
    };
    let Some(nested) = sup.children[i]
        .running
        .as_mut()
        .and_then(|r| r.sup.as_mut())
    else {
        return (Outcome::Skipped(Skip::NoSupervisor), false);
    };
    let (outcome, escalated) = descend(nested, &here.child(id), tail, cx, op);
    if !escalated {
        return (outcome, false);
    }
    // The nested supervisor stopped its children and ended with `Shutdown`.
    (outcome, sup.child_exited(i, false, here, cx))
}

impl Model {
    pub fn start(tree: &TreeShape) -> Model {
        let mut cx = Cx::default();
        let root = Sup::start(tree, &mut cx);
        Model {
            root: Some(root),
            cx,
        }
    }

    /// How many restarts left a window by age, and how many stayed in one
    /// at exactly the period's age (the `<=` of OTP's rule), so far.
    pub fn window_counts(&self) -> (usize, usize) {
        (self.cx.expired, self.cx.on_the_edge)
    }

    /// The tree now (`None` once the root is down).
    pub fn tree(&self) -> Option<Vec<Node>> {
        self.root.as_ref().map(Sup::nodes)
    }

    /// Applies `step`; returns what the runner must observe.
    pub fn step(&mut self, step: &Step) -> View {
        let Some(root) = self.root.as_mut() else {
            return View::nothing(Outcome::Skipped(Skip::RootDown));
        };
        let mut before = Vec::new();
        root.tokens(&Path::root(), &mut before);
        let before: HashMap<Path, u64> = before.into_iter().collect();
        let cx = &mut self.cx;
        cx.restarted.clear();
        cx.escalated.clear();

        let (outcome, root_escalated) = match step {
            Step::AdvanceClock(by) => {
                cx.now += *by;
                (Outcome::Applied, false)
            }
            Step::Crash { child, reason } => {
                let abnormal = !reason.exit_reason().is_normal();
                let reason = *reason;
                on_child(root, child, cx, Outcome::Skipped(Skip::NoSuchChild), {
                    &mut move |sup: &mut Sup, i: usize, here: &Path, cx: &mut Cx| {
                        let child = &sup.children[i];
                        if child.running.is_none() {
                            return (Outcome::Skipped(Skip::NotRunning), false);
                        }
                        let is_sup = matches!(child.shape.kind, ShapeKind::Supervisor(_));
                        if is_sup && !reason.applies_to_supervisors() {
                            return (Outcome::Skipped(Skip::TrapsExits), false);
                        }
                        (Outcome::Applied, sup.child_exited(i, abnormal, here, cx))
                    }
                })
            }
            // Whatever the supervisor was doing, it is killed: a crash.
            Step::KillWhileStopping { supervisor } => on_child(
                root,
                supervisor,
                cx,
                Outcome::Skipped(Skip::NoSuchChild),
                &mut |sup: &mut Sup, i: usize, here: &Path, cx: &mut Cx| {
                    let child = &sup.children[i];
                    if !matches!(child.shape.kind, ShapeKind::Supervisor(_)) {
                        return (Outcome::Skipped(Skip::NoSupervisor), false);
                    }
                    if child.running.is_none() {
                        return (Outcome::Skipped(Skip::NotRunning), false);
                    }
                    (Outcome::Applied, sup.child_exited(i, true, here, cx))
                },
            ),
            Step::TerminateChild { child } => on_child(root, child, cx, refused_missing(), {
                &mut |sup: &mut Sup, i: usize, _: &Path, _: &mut Cx| {
                    sup.children[i].running = None;
                    if sup.children[i].shape.restart == Restart::Temporary {
                        sup.children.remove(i);
                    }
                    (Outcome::Applied, false)
                }
            }),
            Step::RestartChild { child } => on_child(root, child, cx, refused_missing(), {
                &mut |sup: &mut Sup, i: usize, _: &Path, cx: &mut Cx| {
                    let child = &mut sup.children[i];
                    if child.running.is_some() {
                        return (Outcome::Refused(Refusal::ChildRunning), false);
                    }
                    child.running = Some(Incarnation::start(&child.shape.kind, cx));
                    (Outcome::Applied, false)
                }
            }),
            Step::DeleteChild { child } => on_child(root, child, cx, refused_missing(), {
                &mut |sup: &mut Sup, i: usize, _: &Path, _: &mut Cx| {
                    if sup.children[i].running.is_some() {
                        return (Outcome::Refused(Refusal::ChildRunning), false);
                    }
                    sup.children.remove(i);
                    (Outcome::Applied, false)
                }
            }),
            Step::StartChild {
                supervisor,
                id,
                restart,
            } => descend(
                root,
                &Path::root(),
                supervisor.ids(),
                cx,
                &mut |sup, _, cx| {
                    if sup.position(id).is_some() {
                        return (Outcome::Refused(Refusal::DuplicateChildId), false);
                    }
                    let shape = ChildShape {
                        id: id.clone(),
                        restart: *restart,
                        kind: ShapeKind::Worker,
                    };
                    let running = Some(Incarnation::start(&shape.kind, cx));
                    sup.children.push(Child {
                        shape,
                        restarts: 0,
                        running,
                    });
                    (Outcome::Applied, false)
                },
            ),
        };
        if root_escalated {
            self.root = None;
        }

        let mut after = Vec::new();
        if let Some(root) = &self.root {
            root.tokens(&Path::root(), &mut after);
        }
        let (mut kept, mut replaced) = (Vec::new(), Vec::new());
        for (path, token) in after {
            if before.get(&path) == Some(&token) {
                kept.push(path);
            } else {
                replaced.push(path);
            }
        }
        View {
            outcome,
            restarted: std::mem::take(&mut self.cx.restarted),
            escalated: std::mem::take(&mut self.cx.escalated),
            kept,
            replaced,
            tree: self.tree(),
        }
    }
}

fn refused_missing() -> Outcome {
    Outcome::Refused(Refusal::NoSuchChild)
}

/// Applies `op` to the child at `path` (by its index in its supervisor);
/// `missing` if the supervisor runs but has no such child.
fn on_child(
    root: &mut Sup,
    path: &Path,
    cx: &mut Cx,
    missing: Outcome,
    op: &mut dyn FnMut(&mut Sup, usize, &Path, &mut Cx) -> Done,
) -> Done {
    let (Some(parent), Some(id)) = (path.parent(), path.id()) else {
        return (Outcome::Skipped(Skip::NoSuchChild), false);
    };
    descend(
        root,
        &Path::root(),
        parent.ids(),
        cx,
        &mut |sup, here, cx| match sup.position(id) {
            Some(i) => op(sup, i, here, cx),
            None => (missing.clone(), false),
        },
    )
}
