//! [`Searchers`]: what idle workers and the threads that queue work share —
//! how many workers search and sleep, and a slot where an actor scheduled
//! from outside the pool is handed straight to a searching worker.
//!
//! Apart from parking because it is about one cache line: a plain thread's
//! request to a pooled actor (a `Bridge::call`, an `Inbox::send`) and the
//! worker spinning for it meet here. Through the injector the request costs the caller a push
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

    /// The actor handed over, if any; the request it came with, if any,
    /// goes to `deliver` before the slot is free again (see
    /// [`take_request_of`](Self::take_request_of)).
    #[inline]
    pub(super) fn take(&self, deliver: impl FnOnce(&Core, Envelope)) -> Option<Arc<Core>> {
        self.next.take(deliver)
    }

    /// Takes `core` out of the slot if it waits there with a request
    /// (which goes to `deliver`), for a sender whose mail must not overtake
    /// that request; waits while another thread fills or empties the slot,
    /// so that once this returns, a request handed with `core` before is
    /// either delivered or taken here. Returns the actor if taken here: the
    /// caller queues it.
    pub(super) fn take_request_of(
        &self,
        core: &Arc<Core>,
        deliver: impl Fn(&Core, Envelope),
    ) -> Option<Arc<Core>> {
        self.next.take_request_of(core, deliver)
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
/// touches the request meanwhile. A thread that empties it delivers the
/// request before the word leaves `BUSY`: a sender that sees the word
/// hold neither its actor nor `BUSY` knows the request is in the mailbox.
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
    fn take(&self, deliver: impl FnOnce(&Core, Envelope)) -> Option<Arc<Core>> {
        // Looked at first: a spinning worker reads the line until the
        // caller writes it, rather than writing it at every look.
        let word = self.word.load(Ordering::Acquire);
        if word == EMPTY || word == BUSY {
            return None;
        }
        self.take_word(word, deliver)
    }

    /// Moves the slot from `word` (a published actor) to `BUSY`, delivers
    /// its request if it has one, and empties it; `None` if the word
    /// changed meanwhile.
    fn take_word(&self, word: usize, deliver: impl FnOnce(&Core, Envelope)) -> Option<Arc<Core>> {
        self.word
            .compare_exchange(word, BUSY, Ordering::AcqRel, Ordering::Relaxed)
            .ok()?;
        // SAFETY: the word held a pointer made by `Arc::into_raw` in `put`,
        // whose reference belonged to the slot; the CAS took it out, so
        // this thread alone owns that reference now.
        let core = unsafe { Arc::from_raw((word & !WITH_REQUEST) as *const Core) };
        if word & WITH_REQUEST != 0 {
            // SAFETY: the word said a request was written (before its
            // Release, which the CAS's Acquire saw) and this thread moved
            // the word to `BUSY`: the request is its alone to read, once.
            let request = unsafe { (*self.request.get()).assume_init_read() };
            // Still `BUSY`: see the constant.
            deliver(&core, request);
        }
        self.word.store(EMPTY, Ordering::Release);
        Some(core)
    }

    fn take_request_of(
        &self,
        core: &Arc<Core>,
        deliver: impl Fn(&Core, Envelope),
    ) -> Option<Arc<Core>> {
        let mine = Arc::as_ptr(core) as usize | WITH_REQUEST;
        let backoff = crossbeam_utils::Backoff::new();
        loop {
            match self.word.load(Ordering::Acquire) {
                // Filled or emptied by another thread, which is quick
                // about it (a worker delivering a request).
                BUSY => backoff.snooze(),
                word if word == mine => {
                    if let Some(core) = self.take_word(word, &deliver) {
                        return Some(core);
                    }
                }
                // Empty, or another actor: the request was delivered.
                _ => return None,
            }
        }
    }

    fn has_next(&self) -> bool {
        self.word.load(Ordering::SeqCst) > BUSY
    }
}

impl Drop for NextSlot {
    fn drop(&mut self) {
        drop(self.take(|_, request| drop(request)));
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

    /// What the slot gives, with the request it delivered, if any.
    fn take(slot: &NextSlot) -> Option<Handed> {
        let mut delivered = None;
        let core = slot.take(|_, request| delivered = Some(request))?;
        Some((core, delivered))
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
        let (taken, request) = take(&slot).expect("the actor put in");
        assert!(Arc::ptr_eq(&taken, &first));
        assert!(request.is_none(), "it came without a request");
        assert!(take(&slot).is_none() && !slot.has_next());
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
        let (taken, request) = take(&slot).expect("handed over");
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
        let (taken, _) = searchers
            .take(|_, _| ())
            .map(|core| (core, None::<Envelope>))
            .expect("handed over");
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
                        if let Some((core, request)) = take(&slot) {
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

    /// A sender whose mail must not overtake a handed request takes the
    /// request out and delivers it if it still waits; leaves another
    /// actor's alone; and, racing a worker that takes the slot, either
    /// delivers it itself or returns once the worker has: each request is
    /// delivered once, before the sender goes on.
    #[test]
    fn a_sender_settles_its_request_once_whoever_races_it() {
        let system = System::new();
        let slot = NextSlot::default();
        let (core, other) = (a_core(&system), a_core(&system));
        assert!(slot.put((other.clone(), request(1))).is_ok());
        assert!(slot
            .take_request_of(&core, |_, _| panic!("not ours"))
            .is_none());
        assert!(slot.has_next(), "another actor's request stays");
        drop(take(&slot));
        assert!(slot.put((core.clone(), request(2))).is_ok());
        let delivered = std::sync::Mutex::new(Vec::new());
        let deliver =
            |_: &Core, r: Envelope| delivered.lock().unwrap().push(r.downcast::<u64>().ok());
        let taken = slot.take_request_of(&core, deliver).expect("ours waited");
        assert!(Arc::ptr_eq(&taken, &core) && !slot.has_next());
        assert_eq!(*delivered.lock().unwrap(), [Some(2)]);
        drop(taken);
        for n in 0..2_000u64 {
            assert!(slot.put((core.clone(), request(n))).is_ok());
            let settled = std::sync::atomic::AtomicBool::new(false);
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    drop(slot.take(|_, r| {
                        // Delivered before the word leaves `BUSY`.
                        delivered.lock().unwrap().push(r.downcast::<u64>().ok());
                    }));
                });
                drop(slot.take_request_of(&core, deliver));
                // Whoever delivered it, it was delivered by now.
                let last = delivered.lock().unwrap().last().copied().flatten();
                settled.store(last == Some(n), Ordering::SeqCst);
            });
            assert!(settled.load(Ordering::SeqCst), "request {n} not delivered");
        }
        assert_eq!(delivered.lock().unwrap().len(), 2_001);
        assert_eq!(Arc::strong_count(&core), 1);
    }
}
