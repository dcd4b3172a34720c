//! What a test tree looks like, as plain data: [`TreeShape`], [`ChildShape`],
//! [`ShapeKind`], and [`Path`], the address of a child in it.

use std::fmt;
use std::time::Duration;

use crate::intensity::ManualClock;
use crate::spec::{ChildSpec, Restart, Strategy, SupervisorSpec};
use crate::spec::{DEFAULT_MAX_RESTARTS, DEFAULT_PERIOD};
use crate::testkit::runner::WorkerFactory;

/// Where a child sits in a tree: the ids of the supervisors from the root
/// down, then the child's own id. The root is the empty path.
///
/// Printed as `s1/w0` (and `root` for the root), so that a shrunk schedule
/// reads well.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path(Vec<String>);

impl Path {
    /// The root supervisor.
    pub fn root() -> Self {
        Path(Vec::new())
    }

    /// The path through these ids, from the root down.
    pub fn new<S: Into<String>>(ids: impl IntoIterator<Item = S>) -> Self {
        Path(ids.into_iter().map(Into::into).collect())
    }

    /// The child `id` of the supervisor at this path.
    pub fn child(&self, id: &str) -> Path {
        let mut ids = self.0.clone();
        ids.push(id.to_string());
        Path(ids)
    }

    /// The supervisor this child belongs to (`None` for the root).
    pub fn parent(&self) -> Option<Path> {
        let (_, init) = self.0.split_last()?;
        Some(Path(init.to_vec()))
    }

    /// The child's own id (`None` for the root).
    pub fn id(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    /// The ids from the root down.
    pub fn ids(&self) -> &[String] {
        &self.0
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("root")
        } else {
            f.write_str(&self.0.join("/"))
        }
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A supervisor of a test tree: strategy, intensity and children, without
/// the actors (the runner supplies the workers).
///
/// ```
/// use ferrotp_supervisors::testkit::TreeShape;
/// use ferrotp_supervisors::{Restart, Strategy};
/// use std::time::Duration;
///
/// let shape = TreeShape::new(Strategy::RestForOne)
///     .intensity(3, Duration::from_secs(5))
///     .worker("db", Restart::Permanent)
///     .supervisor(
///         "jobs",
///         Restart::Transient,
///         TreeShape::new(Strategy::OneForOne).worker("fetch", Restart::Temporary),
///     );
/// assert_eq!(shape.actor_count(), 4);
/// assert_eq!(
///     format!("{shape:?}"),
///     "rest_for_one(3 in 5s)[db: permanent, jobs: transient one_for_one(1 in 5s)[fetch: temporary]]"
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TreeShape {
    /// The supervisor's strategy.
    pub strategy: Strategy,
    /// At most this many restarts ...
    pub max_restarts: u32,
    /// ... within this period (on the runner's manual clock).
    pub period: Duration,
    /// The children, in start order.
    pub children: Vec<ChildShape>,
}

/// One child of a [`TreeShape`].
#[derive(Clone, PartialEq, Eq)]
pub struct ChildShape {
    /// Its id, unique among its siblings.
    pub id: String,
    /// Its restart policy.
    pub restart: Restart,
    /// A worker, or a nested supervisor.
    pub kind: ShapeKind,
}

/// A worker, or a nested supervisor and its shape.
#[derive(Clone, PartialEq, Eq)]
pub enum ShapeKind {
    /// A worker (made by the runner's worker factory).
    Worker,
    /// A nested supervisor.
    Supervisor(TreeShape),
}

impl TreeShape {
    /// A supervisor with `strategy`, no children, OTP's default intensity.
    pub fn new(strategy: Strategy) -> Self {
        TreeShape {
            strategy,
            max_restarts: DEFAULT_MAX_RESTARTS,
            period: DEFAULT_PERIOD,
            children: Vec::new(),
        }
    }

    /// At most `max_restarts` restarts within `period` (not zero).
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Adds a worker child.
    pub fn worker(mut self, id: impl Into<String>, restart: Restart) -> Self {
        self.children.push(ChildShape {
            id: id.into(),
            restart,
            kind: ShapeKind::Worker,
        });
        self
    }

    /// Adds a nested supervisor child.
    pub fn supervisor(mut self, id: impl Into<String>, restart: Restart, shape: TreeShape) -> Self {
        self.children.push(ChildShape {
            id: id.into(),
            restart,
            kind: ShapeKind::Supervisor(shape),
        });
        self
    }

    /// The nested supervisor at `path` (`self` for the root path).
    pub fn subtree(&self, path: &Path) -> Option<&TreeShape> {
        path.ids().iter().try_fold(self, |shape, id| {
            match &shape.children.iter().find(|c| &c.id == id)?.kind {
                ShapeKind::Supervisor(nested) => Some(nested),
                ShapeKind::Worker => None,
            }
        })
    }

    /// Every child at every level with its path, parents before children,
    /// siblings in start order.
    pub fn children_deep(&self) -> Vec<(Path, &ChildShape)> {
        let mut out = Vec::new();
        self.collect(&Path::root(), &mut out);
        out
    }

    fn collect<'a>(&'a self, here: &Path, out: &mut Vec<(Path, &'a ChildShape)>) {
        for child in &self.children {
            let path = here.child(&child.id);
            out.push((path.clone(), child));
            if let ShapeKind::Supervisor(nested) = &child.kind {
                nested.collect(&path, out);
            }
        }
    }

    /// The paths of every supervisor, the root first.
    pub fn supervisor_paths(&self) -> Vec<Path> {
        let nested = self
            .children_deep()
            .into_iter()
            .filter(|(_, c)| matches!(c.kind, ShapeKind::Supervisor(_)))
            .map(|(path, _)| path);
        std::iter::once(Path::root()).chain(nested).collect()
    }

    /// How many actors the tree runs when every child runs, the root included.
    pub fn actor_count(&self) -> usize {
        1 + self.children_deep().len()
    }

    /// The supervisor spec of this shape: workers from `workers`, restart
    /// intensity counted on `clock`.
    pub(crate) fn spec(&self, clock: &ManualClock, workers: &WorkerFactory) -> SupervisorSpec {
        let spec = SupervisorSpec::new(self.strategy)
            .intensity(self.max_restarts, self.period)
            .clock(clock.clone());
        self.children
            .iter()
            .fold(spec, |spec, child| spec.child(child.spec(clock, workers)))
    }
}

impl ChildShape {
    /// The child spec of this child: the id and restart policy are the
    /// shape's, whatever the worker factory set.
    pub(crate) fn spec(&self, clock: &ManualClock, workers: &WorkerFactory) -> ChildSpec {
        let mut spec = match &self.kind {
            ShapeKind::Worker => workers(&self.id),
            ShapeKind::Supervisor(nested) => {
                ChildSpec::supervisor(self.id.clone(), nested.spec(clock, workers))
            }
        };
        spec.id = self.id.clone();
        spec.restart = self.restart;
        spec
    }
}

fn restart_text(restart: Restart) -> &'static str {
    match restart {
        Restart::Permanent => "permanent",
        Restart::Transient => "transient",
        Restart::Temporary => "temporary",
    }
}

impl fmt::Debug for TreeShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}({} in {:?})[",
            self.strategy, self.max_restarts, self.period
        )?;
        for (i, child) in self.children.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{child:?}")?;
        }
        f.write_str("]")
    }
}

impl fmt::Debug for ChildShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.id, restart_text(self.restart))?;
        match &self.kind {
            ShapeKind::Worker => Ok(()),
            ShapeKind::Supervisor(nested) => write!(f, " {nested:?}"),
        }
    }
}

impl fmt::Debug for ShapeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShapeKind::Worker => f.write_str("Worker"),
            ShapeKind::Supervisor(nested) => write!(f, "Supervisor({nested:?})"),
        }
    }
}
