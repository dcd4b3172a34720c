//! Which actor's code this thread runs: a thread-local set for the length
//! of a handler.
//!
//! It names the parent of a spawn, spares the actor that shuts its own
//! system down, and voids what a killed actor's stuck handler still sends.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{ActorId, Core};
use crate::system::SystemInner;

thread_local! {
    /// The actor whose code this thread runs now, if any.
    static CURRENT: RefCell<Option<Arc<Core>>> = const { RefCell::new(None) };
}

/// Marks this thread as running `core`'s code until the guard drops.
pub(crate) struct CurrentGuard(Option<Arc<Core>>);

impl CurrentGuard {
    pub fn enter(core: &Arc<Core>) -> Self {
        CurrentGuard(CURRENT.with(|c| c.replace(Some(core.clone()))))
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The id of the actor this thread runs, if it is one of `system`'s: ids
/// are numbered per system, so an id alone does not tell one actor.
pub(crate) fn current_actor_in(system: &Arc<SystemInner>) -> Option<ActorId> {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|core| Arc::ptr_eq(&core.system, system))
            .map(|core| core.id)
    })
}

/// True when this thread runs the handler of an actor that was killed:
/// whatever it sends now is discarded.
pub(crate) fn sender_was_killed() -> bool {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|core| core.killed.load(Ordering::Acquire))
    })
}
