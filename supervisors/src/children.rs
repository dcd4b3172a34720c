//! A static supervisor's children: kept in start order, found by child id
//! or by actor id in O(1).
//!
//! Children live in slots in start order; a removed child leaves an empty
//! slot, so positions held during one operation (a restart's range) stay
//! valid. The two indexes map a child id and a running actor to a slot.
//! Empty slots are squeezed out by [`Children::compact`] once they
//! outnumber the children, between operations: amortised O(1) per removal.

use std::collections::HashMap;

use ferrotp::{ActorId, ActorRef};

use crate::protocol::ChildInfo;
use crate::spec::ChildSpec;

/// Below this many empty slots, [`Children::compact`] leaves them.
const COMPACT_FLOOR: usize = 32;

/// One child as the supervisor keeps it.
pub(crate) struct Child {
    pub spec: ChildSpec,
    /// Changed only through [`Children::set_actor`], which keeps the index.
    actor: Option<ActorRef>,
    /// It failed to start during a restart; a `RetryRestart` is on its way.
    pub restarting: bool,
    pub restarts: u32,
    /// The id of its last incarnation, for reports.
    pub last: Option<ActorId>,
}

impl Child {
    /// A child just started as `actor`.
    /// A child not running yet (its start is under way).
    pub fn not_started(spec: ChildSpec) -> Self {
        Child {
            spec,
            last: None,
            actor: None,
            restarting: false,
            restarts: 0,
        }
    }

    pub fn started(spec: ChildSpec, actor: ActorRef) -> Self {
        Child {
            spec,
            last: Some(actor.id()),
            actor: Some(actor),
            restarting: false,
            restarts: 0,
        }
    }

    pub fn actor(&self) -> Option<&ActorRef> {
        self.actor.as_ref()
    }

    pub fn info(&self) -> ChildInfo {
        ChildInfo {
            id: self.spec.id.clone(),
            actor: self.actor.clone(),
            kind: self.spec.kind,
            restart: self.spec.restart,
            name: self.spec.name.clone(),
            restarts: self.restarts,
        }
    }
}

/// The children, in start order.
#[derive(Default)]
pub(crate) struct Children {
    slots: Vec<Option<Child>>,
    by_id: HashMap<String, usize>,
    by_actor: HashMap<ActorId, usize>,
}

impl Children {
    /// One past the last slot: the end of a range of positions.
    pub fn end(&self) -> usize {
        self.slots.len()
    }

    /// Appends a child (its id must be new).
    pub fn push(&mut self, child: Child) {
        let i = self.slots.len();
        self.by_id.insert(child.spec.id.clone(), i);
        if let Some(actor) = &child.actor {
            self.by_actor.insert(actor.id(), i);
        }
        self.slots.push(Some(child));
    }

    /// The position of the child with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The position of the child running as `actor`.
    pub fn of_actor(&self, actor: ActorId) -> Option<usize> {
        self.by_actor.get(&actor).copied()
    }

    pub fn get(&self, i: usize) -> Option<&Child> {
        self.slots.get(i).and_then(Option::as_ref)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut Child> {
        self.slots.get_mut(i).and_then(Option::as_mut)
    }

    /// Sets (or clears) the actor of child `i`; returns the one it had.
    pub fn set_actor(&mut self, i: usize, actor: Option<ActorRef>) -> Option<ActorRef> {
        let child = self.slots.get_mut(i).and_then(Option::as_mut)?;
        if let Some(new) = &actor {
            self.by_actor.insert(new.id(), i);
        }
        let old = std::mem::replace(&mut child.actor, actor);
        if let Some(old) = &old {
            if child.actor.as_ref().map(ActorRef::id) != Some(old.id()) {
                self.by_actor.remove(&old.id());
            }
        }
        old
    }

    /// Removes child `i`; its slot stays, empty, until [`compact`](Self::compact).
    pub fn remove(&mut self, i: usize) -> Option<Child> {
        let child = self.slots.get_mut(i)?.take()?;
        self.by_id.remove(&child.spec.id);
        if let Some(actor) = &child.actor {
            self.by_actor.remove(&actor.id());
        }
        Some(child)
    }

    /// The positions of the children from `from` on, last first.
    pub fn positions_rev(&self, from: usize) -> Vec<usize> {
        (from.min(self.slots.len())..self.slots.len())
            .rev()
            .filter(|&i| self.slots[i].is_some())
            .collect()
    }

    /// The running children at positions `from` on, in start order.
    pub fn running_from(&self, from: usize) -> impl Iterator<Item = &ActorRef> {
        self.slots[from.min(self.slots.len())..]
            .iter()
            .flatten()
            .filter_map(Child::actor)
    }

    /// The children in start order.
    pub fn iter(&self) -> impl Iterator<Item = &Child> {
        self.slots.iter().filter_map(Option::as_ref)
    }

    /// Squeezes out empty slots once they outnumber the children. Positions
    /// change: call it only between operations.
    pub fn compact(&mut self) {
        let live = self.by_id.len();
        let empty = self.slots.len() - live;
        if empty <= live + COMPACT_FLOOR {
            return;
        }
        self.slots.retain(Option::is_some);
        self.by_id.clear();
        self.by_actor.clear();
        for (i, child) in self.slots.iter().enumerate() {
            let child = child.as_ref().expect("only children are left");
            self.by_id.insert(child.spec.id.clone(), i);
            if let Some(actor) = &child.actor {
                self.by_actor.insert(actor.id(), i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotp::{Actor, Handlers};

    struct Nothing;
    impl Actor for Nothing {
        fn handlers() -> Handlers<Self> {
            Handlers::new()
        }
    }

    fn stopped(id: &str) -> Child {
        Child {
            spec: ChildSpec::worker(id, || Nothing),
            actor: None,
            restarting: false,
            restarts: 0,
            last: None,
        }
    }

    #[test]
    fn removals_and_compaction_keep_order_and_indexes() {
        let mut children = Children::default();
        for i in 0..200 {
            children.push(stopped(&format!("c{i}")));
        }
        // Positions stay put while slots empty out.
        for i in (0..200).filter(|i| i % 4 != 0) {
            let at = children.position(&format!("c{i}")).unwrap();
            assert_eq!(at, i);
            assert_eq!(children.remove(at).unwrap().spec.id, format!("c{i}"));
        }
        assert_eq!(children.position("c4"), Some(4));
        assert_eq!(children.positions_rev(190), vec![196, 192]);
        children.compact();
        assert_eq!(children.end(), 50, "empty slots squeezed out");
        let ids: Vec<String> = children.iter().map(|c| c.spec.id.clone()).collect();
        let expected: Vec<String> = (0..200).step_by(4).map(|i| format!("c{i}")).collect();
        assert_eq!(ids, expected);
        for (at, id) in expected.iter().enumerate() {
            assert_eq!(children.position(id), Some(at));
        }
        assert_eq!(children.position("c1"), None);
    }
}
