//! A thread lent to the pool for one turn: [`System::run_woken`].
//!
//! A plain thread that receives requests (a socket's reader, say) and
//! sends each to a pooled actor pays a wake-up of a parked worker per
//! request, and the actor's turn runs on another core than the one that
//! has the request in its cache. A pool worker does not pay that: the
//! first actor a turn wakes runs right after that turn, on the same
//! worker (see `run_queue`). This gives a plain thread the same: the
//! first pooled actor its sends wake inside `run_woken` is caught instead
//! of queued, and its turn runs on this thread once `f` returns, exactly
//! as a worker would run it (signals first, mail in order, up to the
//! pool's quota; what is left goes back to the pool).
//!
//! The thread lent has duties of its own (reading its socket), which a
//! handler that waits or runs long would hold up, or deadlock (a handler
//! that waits for a reply the thread itself would read). So the caller
//! gives a *relief*: called once if the turn holds the thread, so the
//! caller can hand its duties to another thread. It is called on this
//! thread when a handler of the turn waits in the runtime (before the
//! wait), or by the watchdog when it sees the turn still running a tick
//! later ([`RELIEF_TICKS`]).
//!
//! Apart from the worker loop because the thread is not a worker: it has
//! no queue to steal from, no place in the pool's counts, and it runs one
//! turn per `run_woken`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use super::entry::FINISHED;
use super::turn::{TurnEnd, TurnEnv};
use super::worker::current_worker;
use super::{lock, Pool};
use crate::address::{running, Core, Driver};
use crate::executor::watchdog::Probe;
use crate::introspect::{now_ms, set_turn_ms};
use crate::System;

/// Watchdog ticks that must see a lent turn running before its relief is
/// called: two, so the turn has run at least one tick (a millisecond).
pub(crate) const RELIEF_TICKS: u32 = 2;

type Relief = Box<dyn FnOnce() + Send>;

/// A lent turn, as the watchdog sees it.
pub(crate) struct LentTurn {
    /// Watchdog ticks that saw this turn running.
    ticks: AtomicU32,
    /// Taken by whoever calls it first (the watchdog, or this thread).
    relief: Mutex<Option<Relief>>,
}

impl LentTurn {
    fn relieve(&self) {
        let relief = lock(&self.relief).take();
        if let Some(relief) = relief {
            relief();
        }
    }
}

/// A catch open on this thread: the pool it catches for, and the actor
/// caught so far.
struct Catch {
    pool: Arc<Pool>,
    caught: Option<Arc<Core>>,
}

thread_local! {
    static CATCH: RefCell<Option<Catch>> = const { RefCell::new(None) };
    /// The lent turn this thread runs, if any.
    static LENT: RefCell<Option<Arc<LentTurn>>> = const { RefCell::new(None) };
}

/// Keeps `core` (just claimed, by this thread) for this thread to run, if
/// a catch for `pool` is open here and empty; gives it back otherwise.
pub(super) fn catch(pool: &Arc<Pool>, core: Arc<Core>) -> Result<(), Arc<Core>> {
    CATCH.with(|slot| {
        let Ok(mut slot) = slot.try_borrow_mut() else {
            return Err(core);
        };
        match slot.as_mut() {
            Some(open) if open.caught.is_none() && Arc::ptr_eq(&open.pool, pool) => {
                open.caught = Some(core);
                Ok(())
            }
            _ => Err(core),
        }
    })
}

/// This thread is about to wait in the runtime: an actor it caught goes
/// to the pool (the wait may be for that very actor), and a lent turn it
/// runs calls its relief (the wait may be for the thread's own duties).
pub(super) fn before_wait() {
    close_catch();
    let lent = LENT.with(|l| l.try_borrow().ok().and_then(|l| l.clone()));
    if let Some(lent) = lent {
        lent.relieve();
    }
}

/// Closes this thread's catch; an actor caught and not run goes to the pool.
fn close_catch() {
    let open = CATCH.with(|slot| slot.try_borrow_mut().ok().and_then(|mut s| s.take()));
    if let Some(Catch {
        pool,
        caught: Some(core),
    }) = open
    {
        pool.schedule(core);
    }
}

/// Closes the catch when `run_woken` returns or unwinds: an actor caught
/// and not run is never stranded.
struct Closing;

impl Drop for Closing {
    fn drop(&mut self) {
        close_catch();
    }
}

impl System {
    /// Runs `f`, and then, on this thread, the turn of the first pooled
    /// actor that `f`'s sends woke (found idle and scheduled), instead of
    /// waking a pool worker for it. For a plain thread that hands requests
    /// to actors (a socket's reader): the actor runs at once, on the core
    /// that holds the request, with no wake-up and no thread switch, as
    /// the actor a handler wakes runs right after that handler on a pool
    /// worker. Returns what `f` returns.
    ///
    /// The turn is an ordinary one: the actor's exit signals go before its
    /// queued messages, its messages are handled in order, at most the
    /// pool's quota of them, and what is left goes back to the pool. Only
    /// one actor is caught; any other that `f` wakes is scheduled as
    /// usual. If `f` waits in the runtime (a `Bridge::call`, an inbox's
    /// `recv`, a full mailbox), the caught actor goes to the pool first, so
    /// `f` may wait for it.
    ///
    /// `relief` is called at most once, if the turn holds this thread: on
    /// this thread, just before a handler of the turn waits in the runtime
    /// (a `Bridge::call`, a full mailbox, …), or on the pool's watchdog
    /// thread when the turn has run a millisecond or two. It hands this
    /// thread's other duties to another thread: a reader whose actor
    /// waits for a reply that only the reader would read must not wait
    /// for itself. It is dropped uncalled when the turn ends in time.
    ///
    /// On a pool worker, or a thread that runs an actor's handler, or with
    /// [`Executor::Threads`](crate::Executor::Threads), `f` just runs and
    /// `relief` is dropped: those threads are not free to lend.
    ///
    /// ```
    /// use ferrotp::{Actor, Context, Handlers, System};
    ///
    /// struct Echo(std::sync::mpsc::Sender<std::thread::ThreadId>);
    /// impl Actor for Echo {
    ///     fn handlers() -> Handlers<Self> {
    ///         Handlers::new().on(|me: &mut Self, _: u32, _: &mut Context<Self>| {
    ///             let _ = me.0.send(std::thread::current().id());
    ///         })
    ///     }
    /// }
    ///
    /// let system = System::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let echo = system.spawn(Echo(tx));
    /// // Once the actor is idle (it has started), the message's turn runs
    /// // on this thread, before `run_woken` returns.
    /// let me = std::thread::current().id();
    /// loop {
    ///     system.run_woken(|| echo.send(1u32), || {});
    ///     if rx.recv().unwrap() == me {
    ///         break;
    ///     }
    /// }
    /// ```
    pub fn run_woken<T>(&self, f: impl FnOnce() -> T, relief: impl FnOnce() + Send + 'static) -> T {
        let Some(pool) = self.inner().pool().cloned() else {
            return f();
        };
        let lendable = current_worker().is_none()
            && !crate::address::runs_an_actor()
            && CATCH.with(|slot| {
                slot.try_borrow_mut().is_ok_and(|mut slot| {
                    if slot.is_some() {
                        return false;
                    }
                    *slot = Some(Catch {
                        pool: pool.clone(),
                        caught: None,
                    });
                    true
                })
            });
        if !lendable {
            return f();
        }
        let closing = Closing;
        let out = f();
        let caught = CATCH.with(|slot| {
            slot.try_borrow_mut()
                .ok()
                .and_then(|mut s| s.take())
                .and_then(|open| open.caught)
        });
        drop(closing);
        if let Some(core) = caught {
            pool.run_lent(core, Box::new(relief));
        }
        out
    }
}

/// Unregisters a lent turn when it ends (or unwinds).
struct Lending<'a> {
    pool: &'a Pool,
    turn: Arc<LentTurn>,
}

impl Drop for Lending<'_> {
    fn drop(&mut self) {
        LENT.with(|l| {
            if let Ok(mut l) = l.try_borrow_mut() {
                *l = None;
            }
        });
        lock(&self.pool.lent).retain(|t| !Arc::ptr_eq(t, &self.turn));
    }
}

impl Pool {
    /// Runs one turn of `core` (claimed by this thread) on this thread, as
    /// `Local::run` does on a worker; what is left goes to the pool.
    fn run_lent(self: &Arc<Self>, core: Arc<Core>, relief: Relief) {
        let Driver::Pool(entry) = &core.driver else {
            return;
        };
        let Some(mut turn) = lock(&entry.turn).take() else {
            return;
        };
        let lent = Arc::new(LentTurn {
            ticks: AtomicU32::new(0),
            relief: Mutex::new(Some(relief)),
        });
        lock(&self.lent).push(lent.clone());
        LENT.with(|l| {
            if let Ok(mut l) = l.try_borrow_mut() {
                *l = Some(lent.clone());
            }
        });
        let lending = Lending {
            pool: self,
            turn: lent,
        };
        // After it is listed: the watchdog, woken now if it sleeps, sees it.
        self.watchdog.turn_started();
        let started = now_ms();
        core.stats.running(started);
        set_turn_ms(started);
        // No watchdog looks at this probe: it never finds a handler long,
        // and the turn's relief stands in for what it would do.
        let probe = Probe::default();
        let in_hand = std::cell::Cell::new(0);
        let end = running(&core, || {
            let mut batch = VecDeque::new();
            let env = TurnEnv {
                core: &core,
                quota: self.quota,
                in_hand: &in_hand,
                probe: &probe,
                epoch: self.epoch,
                // One quota at most: the thread has duties of its own, and
                // what is left goes to the pool.
                alone: &|| false,
            };
            turn.run(&env, &mut batch)
        });
        set_turn_ms(0);
        drop(lending);
        let now = now_ms();
        match end {
            TurnEnd::Done => {
                core.claim.state.store(FINISHED, Ordering::SeqCst);
                drop(turn);
            }
            TurnEnd::Busy => {
                core.stats.queued(now);
                *lock(&entry.turn) = Some(turn);
                self.injector.push(core);
                self.notify_one();
            }
            TurnEnd::Idle => self.end_idle_turn(core, turn, now),
        }
    }

    /// Whether a lent turn runs now.
    pub(crate) fn lent_turns_run(&self) -> bool {
        !lock(&self.lent).is_empty()
    }

    /// One watchdog tick over the lent turns: those seen running for
    /// [`RELIEF_TICKS`] are relieved (on this, the watchdog's thread).
    /// `true` if any runs.
    pub(crate) fn tick_lent(&self) -> bool {
        let due: Vec<Arc<LentTurn>> = {
            let lent = lock(&self.lent);
            if lent.is_empty() {
                return false;
            }
            lent.iter()
                .filter(|t| t.ticks.fetch_add(1, Ordering::Relaxed) + 1 == RELIEF_TICKS)
                .cloned()
                .collect()
        };
        for turn in due {
            turn.relieve();
        }
        true
    }
}
