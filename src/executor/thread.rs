//! One thread per actor, and the thread bookkeeping both executors share.
//!
//! A dedicated actor's thread handles the batch it took from its mailbox,
//! then takes the next mail: an exit signal that overtakes messages, else
//! the message in the lane in front of its mailbox (`mailbox::Lane`), else
//! a batch from the mailbox. With none, it spins for some microseconds
//! (looking at the lane's flag and the mailbox's), then sleeps on the
//! mailbox, where a push to either wakes it. Plain code's request (a
//! `Bridge::call`, an `Inbox::send`) goes into the lane when the actor
//! waits with nothing queued: the caller and the thread then share one
//! cache line each way, as two raw threads on a crossbeam channel do,
//! rather than the mailbox's lock, queue and flags. Other mail (an actor's
//! send, a stream from producers) goes into the mailbox, which the thread
//! takes in batches.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::long_handler::{self, STARTED};
use super::thread_watch::{self, Registration, Watched};
use super::Executor;
use crate::actor::Actor;
use crate::address::{ActorId, Core};
use crate::cell::{ActorCell, Flow, LastHandler};
use crate::error::SpawnError;
use crate::introspect::now_ms;
use crate::mailbox::{user_messages, Lane, LaneGuard, Mail, Mailbox, RECEIVER_POLLS};
use crate::spin::SpinWait;

/// Drives `cell` on the calling thread until the actor terminates.
fn drive<A: Actor>(mut cell: ActorCell<A>) {
    let core = cell.core().clone();
    crate::address::running(&core, || {
        // Handlers are timed by the thread watch, which this thread only
        // tells when each starts (see `thread_watch`).
        let watch = thread_watch::register(core.system.long_handler());
        let watched = watch.as_ref().map(Registration::watched);
        core.stats.running(now_ms());
        if let Some(watched) = watched {
            watched.handler_started();
        }
        let flow = cell.start();
        if let Some(elapsed) = watched.and_then(Watched::handler_ended) {
            ran_long(&core, || STARTED, elapsed);
        }
        core.stats.idle(now_ms());
        if flow == Flow::Continue {
            handle_mail(&mut cell, watched);
        }
        // Unwatched before the thread ends: whoever joined it finds no
        // registration of it left.
        drop(watch);
        cell.finish();
    });
}

/// Handles mail until the actor terminates. Mail is taken in batches,
/// each under one lock, as a pool turn takes it, or one message at a time
/// from the lane in front of the mailbox (see `mailbox::Lane`), where the
/// common request waits when nothing else does; the thread is `running`
/// from a handler until it finds neither holds anything.
fn handle_mail<A: Actor>(cell: &mut ActorCell<A>, watched: Option<&Watched>) {
    let core = cell.core().clone();
    let lane = core.lane();
    let mut last = LastHandler::default();
    let mut batch = VecDeque::new();
    let mut running = false;
    // Handled since the count in `stats` was last brought up to date: once
    // per batch, not per message, whose write would land on the actor's
    // shared lines its senders read at every send.
    let mut handled = 0;
    loop {
        // Read before each piece of mail: only this actor's own handlers
        // change it. A signal that may overtake messages goes before the
        // batch's rest and before the lane's message.
        let trapping = core.trapping.load(Ordering::Acquire);
        let signal = match core.mailbox.signal_overtakes(trapping) {
            true => core.mailbox.pop_signal(trapping),
            false => None,
        };
        let Some(mail) = signal.or_else(|| batch.pop_front()).or_else(|| {
            core.stats.handled(std::mem::take(&mut handled));
            next(&core.mailbox, lane, &mut batch, trapping)
        }) else {
            if running {
                running = false;
                core.stats.idle(now_ms());
            }
            wait(&core.mailbox, lane);
            continue;
        };
        if !running {
            running = true;
            core.stats.running(now_ms());
        }
        // Taken to be handled: its place in a bounded mailbox is free.
        core.mailbox.release(&mail);
        let what = mail.type_namer();
        if let Some(watched) = watched {
            watched.handler_started();
        }
        let flow = cell.handle(mail, &mut last);
        handled += 1;
        if let Some(elapsed) = watched.and_then(Watched::handler_ended) {
            ran_long(&core, what, elapsed);
        }
        if flow == Flow::Done {
            break;
        }
    }
    core.stats.handled(handled);
    let left = user_messages(batch.drain(..), core.id);
    if left > 0 {
        core.system.dead_letters_dropped(core.id, left);
    }
}

/// Reports a handler the thread watch found running long (named by `what`
/// only now: naming every message's type cost the hot path).
#[cold]
#[inline(never)]
fn ran_long(core: &Core, what: fn() -> &'static str, elapsed: Duration) {
    long_handler::report(core, Executor::Threads, what(), elapsed);
}

/// The oldest mail after a handled batch, if any: the lane's message (the
/// oldest there is when one waits), else the first of a batch taken from
/// the mailbox into the empty `batch`. The lane is held while the mailbox
/// is read: no message goes in it ahead of the mailbox's mail.
fn next(
    mailbox: &Mailbox,
    lane: Option<&Lane>,
    batch: &mut VecDeque<Mail>,
    trapping: bool,
) -> Option<Mail> {
    if let Some(lane) = lane.filter(|lane| lane.is_ready()) {
        if let Some(envelope) = lane.lock().take() {
            return Some(Mail::Message(envelope));
        }
    }
    if !mailbox.may_have_mail() {
        return None;
    }
    let mut held = lane.map(Lane::lock);
    if let Some(envelope) = held.as_mut().and_then(LaneGuard::take) {
        return Some(Mail::Message(envelope));
    }
    mailbox.take_batch(batch, BATCH, trapping);
    drop(held);
    batch.pop_front()
}

/// Waits until mail may have come, in the lane or the mailbox: spins
/// briefly, looking after every pause (a request often comes within
/// microseconds, and sleeping costs more than that), then sleeps on the
/// mailbox, where the senders of both wake it.
fn wait(mailbox: &Mailbox, lane: Option<&Lane>) {
    let in_lane = || lane.is_some_and(Lane::is_ready);
    let spin = SpinWait::new(RECEIVER_POLLS);
    while spin.pause() {
        if in_lane() || mailbox.may_have_mail() {
            return;
        }
    }
    let sleep = || crate::executor::pool::blocking(|| mailbox.sleep_until_any(in_lane));
    match lane {
        Some(lane) => lane.asleep(sleep),
        None => sleep(),
    }
}

/// The most messages a dedicated thread takes from its mailbox at a time
/// (more when a backlog is taken whole, see `Mailbox::take_batch`).
const BATCH: usize = 64;

/// Threads this process's ferrotp systems have running, against
/// [`thread_limit`].
static LIVE_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Memory mappings one thread costs: its stack, the stack's guard page, and
/// the alternate signal stack with its own guard, which Rust's runtime sets
/// up inside the new thread.
const MAPPINGS_PER_THREAD: usize = 4;
/// Mappings left for everything else in the process (libraries, heap).
const MAPPINGS_RESERVED: usize = 8192;

/// How many threads ferrotp starts in this process before `try_spawn`
/// refuses. When the kernel's map limit (`vm.max_map_count`) runs out,
/// the thread creation itself can succeed and the new thread then aborts
/// the whole process as it sets up its signal stack, so the limit must be
/// kept below, not detected.
pub(crate) fn thread_limit() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|text| text.trim().parse::<usize>().ok())
            .map(|maps| maps.saturating_sub(MAPPINGS_RESERVED) / MAPPINGS_PER_THREAD)
            .unwrap_or(usize::MAX)
            .max(64)
    })
}

/// A slot counted in [`LIVE_THREADS`], returned when dropped.
struct ThreadSlot;

impl ThreadSlot {
    fn take() -> Result<Self, SpawnError> {
        let limit = thread_limit();
        LIVE_THREADS
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .map(|_| ThreadSlot)
            .map_err(|_| SpawnError::TooManyThreads { limit })
    }
}

impl Drop for ThreadSlot {
    fn drop(&mut self) {
        LIVE_THREADS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Threads started under keys, so that they can be joined later.
pub(crate) struct ThreadSet<K> {
    stack_size: Option<usize>,
    handles: Mutex<HashMap<K, JoinHandle<()>>>,
    /// Each thread sends its key here just before it ends.
    exited_tx: Sender<K>,
    exited_rx: Receiver<K>,
}

impl<K: Copy + Eq + std::hash::Hash + Ord + Send + 'static> ThreadSet<K> {
    pub fn new(stack_size: Option<usize>) -> Self {
        let (exited_tx, exited_rx) = crossbeam_channel::unbounded();
        ThreadSet {
            stack_size,
            handles: Mutex::new(HashMap::new()),
            exited_tx,
            exited_rx,
        }
    }

    fn handles(&self) -> MutexGuard<'_, HashMap<K, JoinHandle<()>>> {
        self.handles.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a thread named `name` that runs `body`.
    pub fn start(
        &self,
        key: K,
        name: String,
        body: impl FnOnce() + Send + 'static,
    ) -> Result<(), SpawnError> {
        let slot = ThreadSlot::take()?;
        let mut builder = std::thread::Builder::new().name(name);
        if let Some(size) = self.stack_size {
            builder = builder.stack_size(size);
        }
        let exited = self.exited_tx.clone();
        // The lock is held across the spawn so that a thread that ends at
        // once cannot report before its handle is stored.
        let mut handles = self.handles();
        Self::reap(&mut handles, &self.exited_rx);
        let handle = builder
            .spawn(move || {
                body();
                let _ = exited.send(key);
                drop(slot);
            })
            .map_err(SpawnError::Thread)?;
        handles.insert(key, handle);
        Ok(())
    }

    /// Joins the threads that have reported their end.
    fn reap(handles: &mut HashMap<K, JoinHandle<()>>, exited: &Receiver<K>) {
        while let Ok(key) = exited.try_recv() {
            if let Some(handle) = handles.remove(&key) {
                let _ = handle.join();
            }
        }
    }

    /// Joins every thread that ends before `deadline`, except `except`'s;
    /// returns the keys of the threads still running (they are detached).
    pub fn join_all(&self, deadline: Instant, except: Option<K>) -> Vec<K> {
        let mut handles = self.handles();
        Self::reap(&mut handles, &self.exited_rx);
        if let Some(me) = except {
            handles.remove(&me);
        }
        while !handles.is_empty() {
            match self.exited_rx.recv_deadline(deadline) {
                Ok(key) => {
                    if let Some(handle) = handles.remove(&key) {
                        let _ = handle.join();
                    }
                }
                Err(_) => break,
            }
        }
        let mut running: Vec<K> = handles.drain().map(|(key, _detached)| key).collect();
        running.sort();
        running
    }

    /// Threads started and not yet joined.
    pub fn len(&self) -> usize {
        let mut handles = self.handles();
        Self::reap(&mut handles, &self.exited_rx);
        handles.len()
    }
}

/// The dedicated-thread executor: a thread per actor.
pub(crate) struct ThreadExecutor {
    threads: ThreadSet<ActorId>,
}

impl ThreadExecutor {
    pub fn new(stack_size: Option<usize>) -> Self {
        ThreadExecutor {
            threads: ThreadSet::new(stack_size),
        }
    }

    /// Starts a thread that drives `cell`.
    pub fn launch<A: Actor>(&self, cell: ActorCell<A>) -> Result<(), SpawnError> {
        let id = cell.core().id;
        self.threads
            .start(id, format!("ferrotp-{}", id.as_u64()), move || drive(cell))
    }

    /// See [`ThreadSet::join_all`].
    pub fn join_all(&self, deadline: Instant, except: Option<ActorId>) -> Vec<ActorId> {
        self.threads.join_all(deadline, except)
    }

    /// Threads started and not yet joined.
    pub fn threads(&self) -> usize {
        self.threads.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_leaves_room_below_the_map_limit() {
        let limit = thread_limit();
        if let Ok(text) = std::fs::read_to_string("/proc/sys/vm/max_map_count") {
            let maps: usize = text.trim().parse().unwrap();
            assert!(limit * MAPPINGS_PER_THREAD < maps || limit == 64);
        }
    }
}
