//! [`Searchers`]: what idle workers and the threads that queue work share —
//! how many workers search and sleep, and a slot where an actor scheduled
//! from outside the pool is handed straight to a searching worker.
//!
//! Apart from parking because it is about one cache line: a plain thread's
//! request to a pooled actor (a `Bridge::call`) and the worker spinning for
//! it meet here. Through the injector the request costs the caller a push
//! (its tail, a slot in a block) and the worker a steal (the tail again,
//! the slot, the head), with the searcher count on yet another line; here
//! the caller writes one line and the worker, which was reading it, takes
//! the actor from the same line it then counts itself out on.

use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use crate::address::Core;

/// Idle workers, and the actor handed to one of them.
#[derive(Default)]
pub(super) struct Searchers(CachePadded<Line>);

#[derive(Default)]
pub(super) struct Line {
    /// Workers spinning for work.
    pub(super) searching: AtomicUsize,
    /// Workers parked (the length of the pool's list of sleepers).
    pub(super) sleeping: AtomicUsize,
    next: NextSlot,
}

impl std::ops::Deref for Searchers {
    type Target = Line;

    fn deref(&self) -> &Line {
        &self.0
    }
}

impl Line {
    /// Hands `core` to a searching worker if one searches and the slot is
    /// free; gives it back otherwise (it goes to the injector). The caller
    /// then notifies the pool, as for any queued work: a searcher that
    /// stops searching meanwhile looks here before it parks.
    pub(super) fn hand_over(&self, core: Arc<Core>) -> Result<(), Arc<Core>> {
        if self.searching.load(Ordering::SeqCst) == 0 {
            return Err(core);
        }
        self.next.put(core)
    }

    /// The actor handed over, if any.
    #[inline]
    pub(super) fn take(&self) -> Option<Arc<Core>> {
        self.next.take()
    }

    /// Whether an actor waits in the slot.
    pub(super) fn has_next(&self) -> bool {
        !self.next.is_empty()
    }
}

/// A slot for one actor: a pointer made by `Arc::into_raw`, owned by the
/// slot while it is there.
#[derive(Default)]
struct NextSlot(AtomicPtr<Core>);

impl NextSlot {
    /// Puts `core` in if the slot is empty; gives it back if not.
    fn put(&self, core: Arc<Core>) -> Result<(), Arc<Core>> {
        let raw = Arc::into_raw(core).cast_mut();
        match self
            .0
            .compare_exchange(ptr::null_mut(), raw, Ordering::SeqCst, Ordering::Relaxed)
        {
            Ok(_) => Ok(()),
            // SAFETY: `raw` came from `Arc::into_raw` just above and was not
            // stored: this takes back the reference it gave up.
            Err(_) => Err(unsafe { Arc::from_raw(raw) }),
        }
    }

    #[inline]
    fn take(&self) -> Option<Arc<Core>> {
        // Looked at first: a spinning worker reads the line until the
        // caller writes it, rather than writing it at every look.
        if self.0.load(Ordering::Acquire).is_null() {
            return None;
        }
        let raw = self.0.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: a non-null pointer in the slot was made by `Arc::into_raw`
        // in `put` and its reference belongs to the slot; the swap took it
        // out, so this thread alone owns that reference now.
        (!raw.is_null()).then(|| unsafe { Arc::from_raw(raw) })
    }

    fn is_empty(&self) -> bool {
        self.0.load(Ordering::SeqCst).is_null()
    }
}

impl Drop for NextSlot {
    fn drop(&mut self) {
        drop(self.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::System;

    fn a_core(system: &System) -> Arc<Core> {
        system.inbox().actor().core.clone()
    }

    #[test]
    fn the_slot_holds_one_actor_and_gives_it_back_once() {
        let system = System::new();
        let (first, second) = (a_core(&system), a_core(&system));
        let slot = NextSlot::default();
        assert!(slot.is_empty());
        assert!(slot.put(first.clone()).is_ok());
        assert_eq!(Arc::strong_count(&first), 2, "the slot holds a reference");
        let refused = slot.put(second.clone()).expect_err("the slot is taken");
        assert!(Arc::ptr_eq(&refused, &second));
        drop(refused);
        assert_eq!(
            Arc::strong_count(&second),
            1,
            "a refused actor is given back whole"
        );
        let taken = slot.take().expect("the actor put in");
        assert!(Arc::ptr_eq(&taken, &first));
        assert!(slot.take().is_none() && slot.is_empty());
        drop(taken);
        assert_eq!(Arc::strong_count(&first), 1);
    }

    #[test]
    fn a_dropped_slot_lets_its_actor_go() {
        let system = System::new();
        let core = a_core(&system);
        let slot = NextSlot::default();
        assert!(slot.put(core.clone()).is_ok(), "an empty slot");
        drop(slot);
        assert_eq!(Arc::strong_count(&core), 1);
    }

    #[test]
    fn only_searching_workers_are_handed_an_actor() {
        let system = System::new();
        let core = a_core(&system);
        let searchers = Searchers::default();
        assert!(
            searchers.hand_over(core.clone()).is_err(),
            "no one searches"
        );
        searchers.searching.store(1, Ordering::SeqCst);
        assert!(searchers.hand_over(core.clone()).is_ok());
        assert!(searchers.has_next());
        assert!(Arc::ptr_eq(&searchers.take().expect("handed over"), &core));
    }

    /// Every actor put in is taken out exactly once, whoever races for it.
    #[test]
    fn racing_takers_each_get_a_distinct_actor() {
        let system = System::new();
        let slot = NextSlot::default();
        let cores: Vec<Arc<Core>> = (0..2_000).map(|_| a_core(&system)).collect();
        let taken = std::sync::Mutex::new(Vec::new());
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while !done.load(Ordering::SeqCst) || !slot.is_empty() {
                        if let Some(core) = slot.take() {
                            mine.push(Arc::as_ptr(&core) as usize);
                        }
                        std::hint::spin_loop();
                    }
                    taken.lock().unwrap().extend(mine);
                });
            }
            for core in &cores {
                let mut core = core.clone();
                while let Err(back) = slot.put(core) {
                    core = back;
                    std::hint::spin_loop();
                }
            }
            done.store(true, Ordering::SeqCst);
        });
        let mut taken = taken.into_inner().unwrap();
        taken.sort_unstable();
        let mut put: Vec<usize> = cores.iter().map(|c| Arc::as_ptr(c) as usize).collect();
        put.sort_unstable();
        assert_eq!(taken, put);
        assert!(cores.iter().all(|c| Arc::strong_count(c) == 1));
    }
}
