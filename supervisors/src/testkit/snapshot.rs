//! A live tree as data: [`TreeSnapshot`] and [`ChildSnapshot`], read with
//! one `which_children` round trip per running supervisor.

use std::collections::HashMap;

use ferrotp::{ActorId, ActorRef};

use crate::error::SupervisorError;
use crate::protocol::{ChildInfo, Handle, WhichChildren};
use crate::spec::{ChildKind, Restart};
use crate::testkit::shape::Path;

/// The live tree under a root supervisor, as its supervisors report it.
///
/// Taken by walking the tree, one supervisor after another: it is a
/// consistent picture when nothing happens meanwhile, which is the case
/// between the runner's steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeSnapshot {
    /// The root supervisor.
    pub root: ActorRef,
    /// Its children, in start order.
    pub children: Vec<ChildSnapshot>,
}

/// One child in a [`TreeSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildSnapshot {
    /// Its id.
    pub id: String,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Its restart policy.
    pub restart: Restart,
    /// How many times its supervisor restarted it (`ChildInfo::restarts`).
    pub restarts: u32,
    /// The running actor, if it runs.
    pub actor: Option<ActorRef>,
    /// A running nested supervisor's children (empty for anything else).
    pub children: Vec<ChildSnapshot>,
}

impl TreeSnapshot {
    /// Reads the tree under `root`.
    pub(crate) fn take(root: &Handle) -> Result<TreeSnapshot, SupervisorError> {
        Ok(TreeSnapshot {
            root: root.actor.clone(),
            children: children_of(root)?,
        })
    }

    /// Every child at every level with its path, parents before children,
    /// siblings in start order.
    pub fn children_deep(&self) -> Vec<(Path, &ChildSnapshot)> {
        let mut out = Vec::new();
        collect(&self.children, &Path::root(), &mut out);
        out
    }

    /// The child at `path`.
    pub fn get(&self, path: &Path) -> Option<&ChildSnapshot> {
        let (first, rest) = path.ids().split_first()?;
        let mut child = self.children.iter().find(|c| &c.id == first)?;
        for id in rest {
            child = child.children.iter().find(|c| &c.id == id)?;
        }
        Some(child)
    }

    /// The running supervisor at `path` (the root for the root path).
    pub fn supervisor(&self, path: &Path) -> Option<&ActorRef> {
        if path.is_root() {
            return Some(&self.root);
        }
        let child = self.get(path)?;
        match child.kind {
            ChildKind::Supervisor => child.actor.as_ref(),
            ChildKind::Worker => None,
        }
    }

    /// Every running actor of the tree, the root first.
    pub fn actors(&self) -> Vec<ActorRef> {
        let children = self.children_deep().into_iter();
        std::iter::once(self.root.clone())
            .chain(children.filter_map(|(_, c)| c.actor.clone()))
            .collect()
    }

    /// The path of every running supervisor, by actor id.
    pub fn supervisor_paths(&self) -> HashMap<ActorId, Path> {
        let nested = self
            .children_deep()
            .into_iter()
            .filter(|(_, c)| c.kind == ChildKind::Supervisor)
            .filter_map(|(path, c)| Some((c.actor.as_ref()?.id(), path)));
        std::iter::once((self.root.id(), Path::root()))
            .chain(nested)
            .collect()
    }

    /// Whether every permanent child of every running supervisor runs:
    /// what "the tree recovered" means.
    pub fn permanent_children_running(&self) -> bool {
        self.children_deep()
            .iter()
            .all(|(_, c)| c.restart != Restart::Permanent || c.actor.is_some())
    }
}

fn collect<'a>(
    children: &'a [ChildSnapshot],
    here: &Path,
    out: &mut Vec<(Path, &'a ChildSnapshot)>,
) {
    for child in children {
        let path = here.child(&child.id);
        out.push((path.clone(), child));
        collect(&child.children, &path, out);
    }
}

fn children_of(supervisor: &Handle) -> Result<Vec<ChildSnapshot>, SupervisorError> {
    let infos: Vec<ChildInfo> = supervisor.call(WhichChildren)?;
    infos
        .into_iter()
        .map(|info| {
            let children = match (&info.kind, &info.actor) {
                (ChildKind::Supervisor, Some(actor)) => children_of(&supervisor.nested(actor))?,
                _ => Vec::new(),
            };
            Ok(ChildSnapshot {
                id: info.id,
                kind: info.kind,
                restart: info.restart,
                restarts: info.restarts,
                actor: info.actor,
                children,
            })
        })
        .collect()
}
