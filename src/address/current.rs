//! Which actor's code this thread runs: a thread-local set for the length
//! of a handler.
//!
//! It names the parent of a spawn, spares the actor that shuts its own
//! system down, and voids what a killed actor's stuck handler still sends.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::{ActorId, Core};
use crate::system::SystemInner;

thread_local! {
    /// The actor whose code this thread runs now, if any (null: none). It
    /// points into a core that [`running`] borrows for as long as the
    /// pointer is here: no count of the core is taken, which would write
    /// the line of its `Arc` counts that the thread that scheduled the
    /// actor just wrote.
    static CURRENT: Cell<*const Core> = const { Cell::new(ptr::null()) };
    /// How many sends counted by [`as_sender`] this thread is inside.
    static SENDS_HERE: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` marked as `core`'s code: what it sends is sent by `core`.
/// Nested calls restore the outer actor when they return (or unwind).
pub(crate) fn running<T>(core: &Arc<Core>, f: impl FnOnce() -> T) -> T {
    /// Puts the previous actor back, on return or unwinding alike.
    struct Restore(*const Core);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(Arc::as_ptr(core))));
    f()
}

/// The actor this thread runs, if any, lent to `f`.
fn with_current<T>(f: impl FnOnce(Option<&Core>) -> T) -> T {
    let current = CURRENT.with(Cell::get);
    // SAFETY: a non-null pointer here was set by `running` from a core it
    // borrows, and `running` puts the previous value back before it
    // returns or unwinds (its `Restore` cannot be leaked: it lives only
    // in `running`'s frame): so the core outlives every read of it here,
    // and this thread is the only one that reads this thread-local.
    f(unsafe { current.as_ref() })
}

/// The id of the actor this thread runs, if it is one of `system`'s: ids
/// are numbered per system, so an id alone does not tell one actor.
pub(crate) fn current_actor_in(system: &Arc<SystemInner>) -> Option<ActorId> {
    with_current(|core| {
        core.filter(|core| Arc::ptr_eq(&core.system, system))
            .map(|core| core.id)
    })
}

/// True when this thread runs some actor's code now (any system's).
pub(crate) fn runs_an_actor() -> bool {
    !CURRENT.with(Cell::get).is_null()
}

/// True when this thread runs the handler of an actor that was killed:
/// whatever it sends now is discarded.
pub(crate) fn sender_was_killed() -> bool {
    with_current(|core| core.is_some_and(|core| core.killed.load(Ordering::Acquire)))
}

/// Runs `deliver` (told whether the sending actor was killed) with the
/// actor this thread runs, if any, counted as sending: a kill waits for
/// the count to fall before it sends the notices of the end (see
/// [`Core::wait_for_sends`]), so a message either sees the kill and is
/// void, or arrives before the `Down` and exit signals the kill sends.
/// (The count and `killed` are one Dekker pair: each side writes its own,
/// then reads the other's, all sequentially consistent.)
pub(crate) fn as_sender<T>(deliver: impl FnOnce(bool) -> T) -> T {
    /// Takes the counts back, on return or unwinding alike.
    struct Sending<'a>(&'a AtomicU32);
    impl Drop for Sending<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Release);
            SENDS_HERE.with(|n| n.set(n.get() - 1));
        }
    }
    with_current(|core| match core {
        None => deliver(false),
        Some(core) => {
            core.sending.fetch_add(1, Ordering::SeqCst);
            SENDS_HERE.with(|n| n.set(n.get() + 1));
            let _sending = Sending(&core.sending);
            deliver(core.killed.load(Ordering::SeqCst))
        }
    })
}

/// True when this thread is inside a send of some actor's (whose
/// delivery may run a function address's code, which may kill).
pub(crate) fn sending_here() -> bool {
    SENDS_HERE.with(Cell::get) > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::System;

    #[test]
    fn the_current_actor_is_the_innermost_and_is_restored_after_a_panic() {
        let system = System::new();
        let (outer, inner) = (system.inbox(), system.inbox());
        let (outer, inner) = (&outer.actor().core, &inner.actor().core);
        let sys = &outer.system;
        assert_eq!(current_actor_in(sys), None);
        let counted = Arc::strong_count(outer);
        running(outer, || {
            assert_eq!(Arc::strong_count(outer), counted, "no count taken");
            assert_eq!(current_actor_in(sys), Some(outer.id));
            let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                running(inner, || {
                    assert_eq!(current_actor_in(sys), Some(inner.id));
                    assert!(!sender_was_killed());
                    panic!("a handler panics");
                })
            }));
            assert!(unwound.is_err());
            assert_eq!(current_actor_in(sys), Some(outer.id), "restored");
        });
        assert_eq!(current_actor_in(sys), None);
        assert!(!sender_was_killed());
    }
}
