//! The thread watch: one thread per process that times the handlers of
//! dedicated actors' threads, so that those threads never read a clock.
//!
//! Why a watcher: a dedicated thread used to read a coarse clock after
//! every handler to find the long ones, and for a fan-in to one dedicated
//! actor that read, with its bookkeeping, was a sixth of the consumer's
//! time, the consumer being the bottleneck. Now the thread only counts its
//! handlers on a [`Probe`] of its own (a plain store to a line no one else
//! writes), as a pool worker does for the pool's watchdog
//! ([`super::watchdog`]). The watch looks at every registered probe each
//! tick: a thread whose count has not moved since a look at least the
//! system's threshold ago, and that is not in a wait the runtime knows of
//! ([`waiting`]: `Bridge::call`, `Inbox::recv`, a supervisor stopping its
//! children, a dedicated actor waiting for mail), is flagged; the thread
//! sees the flag when its handler returns (one load of its own line) and
//! reports it ([`super::long_handler::report`]), so the report comes
//! before the actor's next handler (and so before an exit that handler
//! causes). A handler is
//! timed from the first look that saw it, so a report's `elapsed` is at
//! least the threshold, and a handler shorter than the threshold plus a
//! tick may go unreported.
//!
//! What it costs: a tick is an eighth of the smallest threshold among the
//! watched threads, between 1 and 20 ms (12.5 ms at the default 100 ms).
//! The watch ticks only while some watched thread is in a handler it has
//! not flagged yet; otherwise it parks, and the thread that leaves a wait
//! or ends a flagged handler wakes it (a fence and a load on that path,
//! which is not the per-message one). So a process whose dedicated actors
//! wait for mail, or block in a long handler already reported, costs no
//! wake-ups at all. The watch thread starts with the first dedicated thread
//! that is timed and leaves a second ([`LINGER`]) after the last one ends,
//! so a process without dedicated actors has no watch thread; it is never
//! joined, so it cannot keep a process from exiting. A thread's
//! registration ends with its actor's last handler, before the thread
//! ends.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_utils::sync::{Parker, Unparker};
use crossbeam_utils::CachePadded;

use super::watchdog::Probe;

/// The shortest and longest time between two looks while handlers run.
const MIN_TICK: Duration = Duration::from_millis(1);
const MAX_TICK: Duration = Duration::from_millis(20);
/// How long the watch thread stays once no thread is watched, for the next
/// dedicated thread to find it running.
const LINGER: Duration = Duration::from_secs(1);

/// One dedicated thread as the watch sees it.
pub(crate) struct Watched {
    /// Alone on its lines: the thread writes its counter at every handler,
    /// and nothing its actor's senders read may share them.
    probe: CachePadded<Probe>,
    threshold: Duration,
    /// The watch's epoch (a copy: the thread reads it only for a report).
    epoch: Instant,
    watch: Arc<Watch>,
}

impl Watched {
    /// A handler starts on this thread.
    #[inline]
    pub fn handler_started(&self) {
        self.probe.handler_started();
    }

    /// The handler returned: how long it ran if the watch flagged it long
    /// (two loads of the thread's own line when not).
    #[inline]
    pub fn handler_ended(&self) -> Option<Duration> {
        let elapsed = self.probe.handler_ended(self.epoch)?;
        // The watch may have parked with nothing else to time.
        self.watch.wake_if_asleep();
        Some(elapsed)
    }
}

/// The watch: its state, shared by its thread and the watched threads.
pub(crate) struct Watch {
    state: Mutex<State>,
    /// The watch thread parked with no handler to time; whoever gives it
    /// one wakes it.
    asleep: AtomicBool,
    epoch: Instant,
}

struct State {
    /// The watched threads, by the address of their [`Watched`].
    threads: HashMap<usize, Entry>,
    /// Wakes the watch thread; `None` while none runs.
    unparker: Option<Unparker>,
}

struct Entry {
    watched: Arc<Watched>,
    /// The handler seen running at the last look, and since when.
    seen: Option<(u64, Instant)>,
}

impl Watch {
    /// A watch with no thread yet: the first registration starts one.
    fn new() -> Arc<Self> {
        Arc::new(Watch {
            state: Mutex::new(State {
                threads: HashMap::new(),
                unparker: None,
            }),
            asleep: AtomicBool::new(false),
            epoch: Instant::now(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts watching the calling thread's handlers against `threshold`,
    /// and the watch thread if none runs.
    fn register(self: &Arc<Self>, threshold: Duration) -> Registration {
        let watched = Arc::new(Watched {
            probe: CachePadded::new(Probe::default()),
            threshold,
            epoch: self.epoch,
            watch: self.clone(),
        });
        let key = Arc::as_ptr(&watched) as usize;
        let entry = Entry {
            watched: watched.clone(),
            seen: None,
        };
        {
            let mut state = self.state();
            state.threads.insert(key, entry);
            if state.unparker.is_none() {
                self.start_thread(&mut state);
            }
        }
        // A new thread is in a handler (its start) until it waits.
        self.wake_if_asleep();
        CURRENT.with(|current| *current.borrow_mut() = Some(watched.clone()));
        Registration { watched }
    }

    /// Starts the watch thread (if it cannot start, the watched threads go
    /// untimed until a later registration starts one).
    fn start_thread(self: &Arc<Self>, state: &mut State) {
        let parker = Parker::new();
        let unparker = parker.unparker().clone();
        let watch = self.clone();
        let started = std::thread::Builder::new()
            .name("ferrotp-thread-watch".into())
            .spawn(move || watch.run(parker));
        match started {
            Ok(_detached) => state.unparker = Some(unparker),
            Err(error) => {
                tracing::warn!(%error, "no thread watch: long handlers on dedicated threads go unreported")
            }
        }
    }

    fn unregister(&self, watched: &Arc<Watched>) {
        let mut state = self.state();
        state.threads.remove(&(Arc::as_ptr(watched) as usize));
        if state.threads.is_empty() {
            // The watch thread, parked for good, is to leave.
            if let Some(unparker) = &state.unparker {
                unparker.unpark();
            }
        }
    }

    /// The watch thread: looks while handlers run, parks while none do,
    /// leaves once no thread has been watched for [`LINGER`].
    fn run(&self, parker: Parker) {
        loop {
            match self.look() {
                Some(tick) => parker.park_timeout(tick),
                None => {
                    if !self.sleep(&parker) {
                        return;
                    }
                }
            }
        }
    }

    /// One look at every watched thread: the time to the next look, or
    /// `None` if no thread runs a handler that is still to be timed.
    fn look(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut tick: Option<Duration> = None;
        for entry in self.state().threads.values_mut() {
            let watched = &entry.watched;
            if watched
                .probe
                .look(&mut entry.seen, now, Some(watched.threshold), self.epoch)
            {
                let wanted = (watched.threshold / 8).clamp(MIN_TICK, MAX_TICK);
                tick = Some(tick.map_or(wanted, |tick| tick.min(wanted)));
            }
        }
        tick
    }

    /// Parks until a watched thread has a handler to time; `false` if the
    /// thread is to leave instead (no thread watched for [`LINGER`]).
    /// Pairs with [`wake_if_asleep`](Self::wake_if_asleep): either the look
    /// after the fence sees the thread's handler, or the thread sees
    /// `asleep`.
    fn sleep(&self, parker: &Parker) -> bool {
        self.asleep.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.look().is_none() {
            if self.state().threads.is_empty() {
                parker.park_timeout(LINGER);
                let mut state = self.state();
                if state.threads.is_empty() {
                    // Judged under the lock a registration takes: the next
                    // one finds no thread and starts one.
                    state.unparker = None;
                    self.asleep.store(false, Ordering::SeqCst);
                    return false;
                }
            } else {
                parker.park();
            }
        }
        self.asleep.store(false, Ordering::SeqCst);
        true
    }

    /// After the calling thread gave the watch a handler to time (it left
    /// a wait, ended a flagged handler or registered): wakes it if parked.
    fn wake_if_asleep(&self) {
        fence(Ordering::SeqCst);
        if self.asleep.load(Ordering::Relaxed) && self.asleep.swap(false, Ordering::SeqCst) {
            if let Some(unparker) = &self.state().unparker {
                unparker.unpark();
            }
        }
    }
}

/// The process's watch (its thread runs while dedicated threads are timed).
fn watch() -> &'static Arc<Watch> {
    static WATCH: OnceLock<Arc<Watch>> = OnceLock::new();
    WATCH.get_or_init(Watch::new)
}

thread_local! {
    /// This thread's registration, for the waits ([`waiting`]).
    static CURRENT: RefCell<Option<Arc<Watched>>> = const { RefCell::new(None) };
}

/// A dedicated thread watched for long handlers, until dropped (before
/// the thread ends: see `executor::thread::drive`).
pub(crate) struct Registration {
    watched: Arc<Watched>,
}

impl Registration {
    /// What the thread marks its handlers on.
    pub fn watched(&self) -> &Watched {
        &self.watched
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // `try_with`: this thread's locals may be going (see `with_current`).
        let _ = CURRENT.try_with(|current| current.borrow_mut().take());
        self.watched.watch.unregister(&self.watched);
    }
}

/// Watches the calling dedicated thread's handlers if the system times
/// handlers (`threshold`).
pub(crate) fn register(threshold: Option<Duration>) -> Option<Registration> {
    Some(watch().register(threshold?))
}

/// Runs `wait`, a wait the runtime knows of, on a thread that is not a
/// pool worker: if the thread is watched, the wait does not count as
/// handler time (the handler's clock starts afresh after it).
pub(crate) fn waiting<T>(wait: impl FnOnce() -> T) -> T {
    /// Leaves the wait on return or unwinding alike (a handler may catch
    /// a panic out of a wait and go on).
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            with_current(|watched| {
                watched.probe.waiting(false);
                watched.watch.wake_if_asleep();
            });
        }
    }
    if !with_current(|watched| watched.probe.waiting(true)) {
        return wait();
    }
    let _leave = Leave;
    wait()
}

/// Runs `f` on this thread's registration, if any; whether there was one.
/// A wait in another thread-local's destructor (a `Bridge::call` there)
/// may come after this one is gone: then there is none (`with` would
/// panic, and a panic in a destructor aborts).
fn with_current(f: impl FnOnce(&Watched)) -> bool {
    CURRENT
        .try_with(|current| current.borrow().as_deref().map(f).is_some())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests;
