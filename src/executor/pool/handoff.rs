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

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use crate::address::Core;
use crate::mailbox::Envelope;

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
    /// free; gives it back otherwise (it goes to the injector). With
    /// `request`, a message the actor was claimed for (see
    /// [`Pool::schedule_request`](super::Pool::schedule_request)): the
    /// worker puts it in the actor's mailbox before the turn. The caller
    /// then notifies the pool, as for any queued work: a searcher that
    /// stops searching meanwhile looks here before it parks.
    pub(super) fn hand_over(&self, handed: Handed) -> Result<(), Handed> {
        if self.searching.load(Ordering::SeqCst) == 0 {
            return Err(handed);
        }
        self.next.put(handed)
    }

    /// The actor handed over, if any, and the request it came with.
    #[inline]
    pub(super) fn take(&self) -> Option<Handed> {
        self.next.take()
    }

    /// Whether an actor waits in the slot.
    pub(super) fn has_next(&self) -> bool {
        self.next.has_next()
    }
}

/// An actor handed to a searching worker, and the request it was
/// scheduled for, if it came with one.
pub(super) type Handed = (Arc<Core>, Option<Envelope>);

/// The slot's word when it is empty.
const EMPTY: usize = 0;
/// The slot's word while one thread fills it or empties it: no one else
/// touches the request meanwhile.
const BUSY: usize = 1;
/// The low bit of a published word: a request waits beside the actor.
/// (A `Core` is aligned to 8: the pointer's low bits are free.)
const WITH_REQUEST: usize = 1;

/// A slot for one actor and its request, on one cache line: a word that
/// is `EMPTY`, `BUSY`, or the actor's pointer (made by `Arc::into_raw`,
/// owned by the slot while it is there) tagged with `WITH_REQUEST`; and
/// the request, written by the thread that moved the word to `BUSY` and
/// read by the one that moved it from the pointer to `BUSY`.
///
/// Carrying the request here rather than through the mailbox spares the
/// caller the mailbox's lock, queue buffer and flags, which the worker
/// wrote at its last turn and writes again at the next: the worker puts
/// the request in on its own core.
struct NextSlot {
    word: AtomicUsize,
    request: UnsafeCell<MaybeUninit<Envelope>>,
}

impl Default for NextSlot {
    fn default() -> Self {
        NextSlot {
            word: AtomicUsize::new(EMPTY),
            request: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }
}

// SAFETY: `request` is read and written only by the one thread that owns
// the slot through its word (see `put` and `take`); the word's Acquire and
// Release order those accesses between threads. What it holds (an
// `Arc<Core>`, an `Envelope`) is `Send`.
unsafe impl Sync for NextSlot {}

impl NextSlot {
    /// Puts `handed` in if the slot is empty; gives it back if not.
    fn put(&self, (core, request): Handed) -> Result<(), Handed> {
        if self
            .word
            .compare_exchange(EMPTY, BUSY, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return Err((core, request));
        }
        let tag = match request {
            Some(request) => {
                // SAFETY: the slot is `BUSY` and this thread made it so:
                // no other thread touches `request` until the Release below.
                unsafe { (*self.request.get()).write(request) };
                WITH_REQUEST
            }
            None => 0,
        };
        let raw = Arc::into_raw(core) as usize;
        debug_assert_eq!(raw & WITH_REQUEST, 0, "a core is aligned");
        self.word.store(raw | tag, Ordering::SeqCst);
        Ok(())
    }

    #[inline]
    fn take(&self) -> Option<Handed> {
        // Looked at first: a spinning worker reads the line until the
        // caller writes it, rather than writing it at every look.
        let word = self.word.load(Ordering::Acquire);
        if word == EMPTY || word == BUSY {
            return None;
        }
        self.word
            .compare_exchange(word, BUSY, Ordering::AcqRel, Ordering::Relaxed)
            .ok()?;
        let request = (word & WITH_REQUEST != 0).then(|| {
            // SAFETY: the word said a request was written (before its
            // Release, which the CAS's Acquire saw) and this thread moved
            // the word to `BUSY`: the request is its alone to read, once.
            unsafe { (*self.request.get()).assume_init_read() }
        });
        self.word.store(EMPTY, Ordering::Release);
        // SAFETY: the word held a pointer made by `Arc::into_raw` in `put`,
        // whose reference belonged to the slot; the CAS took it out, so
        // this thread alone owns that reference now.
        let core = unsafe { Arc::from_raw((word & !WITH_REQUEST) as *const Core) };
        Some((core, request))
    }

    fn has_next(&self) -> bool {
        self.word.load(Ordering::SeqCst) > BUSY
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

    fn request(n: u64) -> Option<Envelope> {
        Some(Envelope::new(n, None))
    }

    #[test]
    fn the_slot_holds_one_actor_and_gives_it_back_once() {
        let system = System::new();
        let (first, second) = (a_core(&system), a_core(&system));
        let slot = NextSlot::default();
        assert!(!slot.has_next());
        assert!(slot.put((first.clone(), None)).is_ok());
        assert_eq!(Arc::strong_count(&first), 2, "the slot holds a reference");
        let (refused, request) = slot
            .put((second.clone(), request(1)))
            .expect_err("the slot is taken");
        assert!(Arc::ptr_eq(&refused, &second));
        assert_eq!(request.map(|r| r.downcast::<u64>().ok()), Some(Some(1)));
        drop(refused);
        assert_eq!(
            Arc::strong_count(&second),
            1,
            "a refused actor is given back whole"
        );
        let (taken, request) = slot.take().expect("the actor put in");
        assert!(Arc::ptr_eq(&taken, &first));
        assert!(request.is_none(), "it came without a request");
        assert!(slot.take().is_none() && !slot.has_next());
        drop(taken);
        assert_eq!(Arc::strong_count(&first), 1);
    }

    #[test]
    fn a_request_comes_out_with_its_actor() {
        let system = System::new();
        let core = a_core(&system);
        let slot = NextSlot::default();
        assert!(slot.put((core.clone(), request(7))).is_ok());
        assert!(slot.has_next());
        let (taken, request) = slot.take().expect("handed over");
        assert!(Arc::ptr_eq(&taken, &core));
        assert_eq!(request.map(|r| r.downcast::<u64>().ok()), Some(Some(7)));
        assert!(slot.put((core.clone(), None)).is_ok(), "free again");
    }

    #[test]
    fn a_dropped_slot_lets_its_actor_and_request_go() {
        struct Counted(#[allow(dead_code)] Arc<()>);
        let system = System::new();
        let core = a_core(&system);
        let payload = Arc::new(());
        let slot = NextSlot::default();
        let handed = Some(Envelope::new(Counted(payload.clone()), None));
        assert!(slot.put((core.clone(), handed)).is_ok(), "an empty slot");
        drop(slot);
        assert_eq!(Arc::strong_count(&core), 1);
        assert_eq!(Arc::strong_count(&payload), 1, "the request was dropped");
    }

    #[test]
    fn only_searching_workers_are_handed_an_actor() {
        let system = System::new();
        let core = a_core(&system);
        let searchers = Searchers::default();
        assert!(
            searchers.hand_over((core.clone(), None)).is_err(),
            "no one searches"
        );
        searchers.searching.store(1, Ordering::SeqCst);
        assert!(searchers.hand_over((core.clone(), None)).is_ok());
        assert!(searchers.has_next());
        let (taken, _) = searchers.take().expect("handed over");
        assert!(Arc::ptr_eq(&taken, &core));
    }

    /// Every actor put in is taken out exactly once, with the request it
    /// was put in with, whoever races for it.
    #[test]
    fn racing_takers_each_get_a_distinct_actor_and_its_request() {
        let system = System::new();
        let slot = NextSlot::default();
        let cores: Vec<Arc<Core>> = (0..2_000).map(|_| a_core(&system)).collect();
        let taken = std::sync::Mutex::new(Vec::new());
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while !done.load(Ordering::SeqCst) || slot.has_next() {
                        if let Some((core, request)) = slot.take() {
                            let address = Arc::as_ptr(&core) as usize;
                            // Every other actor came with its own address
                            // as its request.
                            let said = request.map(|r| r.downcast::<usize>().ok());
                            mine.push((address, said));
                        }
                        std::hint::spin_loop();
                    }
                    taken.lock().unwrap().extend(mine);
                });
            }
            for (n, core) in cores.iter().enumerate() {
                let address = Arc::as_ptr(core) as usize;
                let mut handed = (
                    core.clone(),
                    (n % 2 == 0).then(|| Envelope::new(address, None)),
                );
                while let Err(back) = slot.put(handed) {
                    handed = back;
                    std::hint::spin_loop();
                }
            }
            done.store(true, Ordering::SeqCst);
        });
        let mut taken = taken.into_inner().unwrap();
        taken.sort_unstable();
        let mut put: Vec<(usize, Option<Option<usize>>)> = cores
            .iter()
            .enumerate()
            .map(|(n, c)| {
                let address = Arc::as_ptr(c) as usize;
                (address, (n % 2 == 0).then_some(Some(address)))
            })
            .collect();
        put.sort_unstable();
        assert_eq!(taken, put);
        assert!(cores.iter().all(|c| Arc::strong_count(c) == 1));
    }
}
