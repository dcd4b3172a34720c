//! Introspection: what each actor is doing, cheaply enough to keep on.
//!
//! Every actor carries two words ([`Stats`]): how many pieces of mail it
//! has handled, and what it does now (idle, queued for a pool worker, or
//! running a handler) with the time it started doing it. Only whoever
//! drives the actor at the moment writes them — the worker running its
//! turn, the thread it owns, or the sender that just queued it (between
//! claiming it and handing it to the pool, when no worker can hold it) —
//! so they are plain stores, no read-modify-write, and a pool turn writes
//! them once at its start and once at its end, not per message. The time
//! is the coarse monotonic clock (a few nanoseconds, millisecond
//! precision), which is enough for an operator asking "how long has this
//! actor been stuck"; a pool worker reads it once per turn (the end of one
//! turn is the start of the next, and the stamp of what the turn queues).
//!
//! Readers ([`ActorRef::stats`], [`System::actor_stats`], [`System::top`],
//! [`ActorRef::info`]) take a snapshot of those words and of the mailbox
//! length: a live view, not an atomic picture of the whole system.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::address::{ActorId, ActorInfo, ActorRef, Driver};
use crate::executor::Executor;
use crate::system::System;

mod clock;
use clock::coarse_now;

/// What an actor is doing at the moment of a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activity {
    /// Waiting for mail: nothing to do.
    Idle,
    /// Mail waits and the actor waits for a pool worker to run it (a long
    /// time here means the pool is saturated).
    Queued,
    /// A worker or its own thread runs its handler (or its `started` hook).
    /// A long time here is a long handler, or one blocked.
    Running,
}

impl Activity {
    /// `idle`, `queued` or `running`.
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Idle => "idle",
            Activity::Queued => "queued",
            Activity::Running => "running",
        }
    }
}

const IDLE: u64 = 0;
const QUEUED: u64 = 1;
const RUNNING: u64 = 2;
const STATE_BITS: u32 = 2;
const STATE_MASK: u64 = (1 << STATE_BITS) - 1;

/// A time on the coarse clock, in milliseconds.
pub(crate) fn now_ms() -> u64 {
    ms(coarse_now())
}

thread_local! {
    /// On a pool worker inside a turn: when the turn started (0: not in a
    /// turn). Senders stamp the actors they queue with it.
    static TURN_MS: Cell<u64> = const { Cell::new(0) };
}

/// The time to stamp an actor this thread just queued with: inside a pool
/// turn, the turn's start (no clock read on the message path; the stamp is
/// early by at most the sender's turn so far, and a wait the pool knows of
/// restarts it), else now.
pub(crate) fn queued_at() -> u64 {
    match TURN_MS.with(Cell::get) {
        0 => now_ms(),
        at => at,
    }
}

/// Marks this pool worker as running a turn that started at `at_ms` (0: none).
pub(crate) fn set_turn_ms(at_ms: u64) {
    TURN_MS.with(|t| t.set(at_ms));
}

/// After a wait inside a turn: the stamp moves on to now.
pub(crate) fn restart_turn_ms() {
    TURN_MS.with(|t| {
        if t.get() != 0 {
            t.set(now_ms());
        }
    });
}

/// A reading of the coarse clock in milliseconds.
pub(crate) fn ms(at: Duration) -> u64 {
    u64::try_from(at.as_millis()).unwrap_or(u64::MAX >> STATE_BITS)
}

/// One actor's counters, written only by whoever drives it at the moment.
pub(crate) struct Stats {
    /// Pieces of mail handled (messages, `Down`s, exit signals).
    handled: AtomicU64,
    /// What it does now (low bits) and since when (`now_ms`, high bits).
    activity: AtomicU64,
}

impl Stats {
    /// A new actor, queued for its first turn (or its thread's start).
    pub fn new() -> Self {
        Stats {
            handled: AtomicU64::new(0),
            activity: AtomicU64::new(pack(QUEUED, now_ms())),
        }
    }

    fn set(&self, state: u64, at_ms: u64) {
        self.activity.store(pack(state, at_ms), Ordering::Relaxed);
    }

    /// It starts running a turn (or a handler) at `at_ms`.
    pub fn running(&self, at_ms: u64) {
        self.set(RUNNING, at_ms);
    }

    /// It waits for a worker from `at_ms` on.
    pub fn queued(&self, at_ms: u64) {
        self.set(QUEUED, at_ms);
    }

    /// It waits for mail from `at_ms` on.
    pub fn idle(&self, at_ms: u64) {
        self.set(IDLE, at_ms);
    }

    /// Adds `n` pieces of mail handled. Only the actor's driver calls it,
    /// one at a time: a load and a store, no locked instruction.
    pub fn handled(&self, n: u64) {
        let before = self.handled.load(Ordering::Relaxed);
        self.handled
            .store(before.wrapping_add(n), Ordering::Relaxed);
    }

    /// The count of pieces of mail handled.
    pub fn handled_count(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    /// What it does and for how long, as seen at `now_ms`.
    pub fn activity(&self, now_ms: u64) -> (Activity, Duration) {
        let word = self.activity.load(Ordering::Relaxed);
        let state = match word & STATE_MASK {
            RUNNING => Activity::Running,
            QUEUED => Activity::Queued,
            _ => Activity::Idle,
        };
        let since = word >> STATE_BITS;
        (state, Duration::from_millis(now_ms.saturating_sub(since)))
    }
}

fn pack(state: u64, at_ms: u64) -> u64 {
    (at_ms << STATE_BITS) | state
}

/// The numbers of one actor, without its name, labels, links or monitors:
/// cheap enough to take for a million actors every second
/// ([`System::actor_stats`]). [`ActorInfo`] has everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActorStats {
    /// The actor.
    pub id: ActorId,
    /// The actor whose code spawned it, if one did (see [`ActorInfo::parent`]).
    pub parent: Option<ActorId>,
    /// The executor that runs it.
    pub executor: Executor,
    /// Messages waiting in its mailbox (including internal wake-ups).
    pub mailbox_len: usize,
    /// Pieces of mail it has handled: messages, `Down`s and exit signals.
    /// Brought up to date as each run of messages ends (a pooled actor's
    /// turn, at least once a turn's quota; the batch a dedicated thread took
    /// from its mailbox), so it can lag behind a reply the handler has
    /// already sent.
    pub messages_handled: u64,
    /// What it was doing at the snapshot.
    pub activity: Activity,
    /// For how long it has been doing it (to the coarse clock's
    /// millisecond precision).
    pub activity_for: Duration,
}

/// What [`System::top`] ranks actors by: Erlang's `etop` sort keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TopBy {
    /// The longest mailboxes: who falls behind.
    MailboxLen,
    /// The most pieces of mail handled since spawn: who works hardest.
    MessagesHandled,
}

impl ActorRef {
    /// The actor's numbers now: mailbox length, messages handled, what it
    /// does and for how long. Cheaper than [`info`](Self::info): no lock
    /// but the mailbox's, no allocation.
    ///
    /// ```
    /// # use ferrotp::{Actor, Context, Handlers, System, Activity};
    /// # use std::time::Duration;
    /// struct Echo;
    /// impl Echo { fn echo(&mut self, n: u32, ctx: &mut Context<Self>) { ctx.reply(n); } }
    /// impl Actor for Echo { fn handlers() -> Handlers<Self> { Handlers::new().on(Self::echo) } }
    ///
    /// let system = System::new();
    /// let echo = system.spawn(Echo);
    /// let _: u32 = system.bridge().call(&echo, 7u32, Duration::from_secs(5)).unwrap();
    /// assert_eq!(echo.stats().mailbox_len, 0);
    /// // The count is brought up to date as the actor's turn ends, which can
    /// // be just after the caller has its answer.
    /// let deadline = std::time::Instant::now() + Duration::from_secs(5);
    /// while echo.stats().messages_handled < 1 && std::time::Instant::now() < deadline {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(echo.stats().messages_handled, 1);
    /// ```
    pub fn stats(&self) -> ActorStats {
        self.stats_at(now_ms())
    }

    pub(crate) fn stats_at(&self, now_ms: u64) -> ActorStats {
        let core = &self.core;
        let (activity, activity_for) = core.stats.activity(now_ms);
        ActorStats {
            id: core.id,
            parent: core.parent(),
            executor: self.executor(),
            mailbox_len: core.queued(),
            messages_handled: core.stats.handled_count(),
            activity,
            activity_for,
        }
    }

    /// The executor that runs this actor.
    pub fn executor(&self) -> Executor {
        match self.core.driver {
            Driver::Pool(_) => Executor::Pool,
            // A function address runs on its senders' threads; never in
            // the actor table.
            Driver::Thread(_) | Driver::Inbox(_) | Driver::Function(_) => Executor::Threads,
            // Only inboxes awaited by async code: never in the actor table.
            #[cfg(feature = "tokio")]
            Driver::Waker(_) => Executor::Threads,
        }
    }

    fn rank(&self, by: TopBy) -> u64 {
        match by {
            TopBy::MailboxLen => self.core.queued() as u64,
            TopBy::MessagesHandled => self.core.stats.handled_count(),
        }
    }
}

impl System {
    /// The numbers ([`ActorStats`]) of every live actor, in no particular
    /// order (sort by `id` for spawn order: at a million actors the sort
    /// would cost more than the pass, and a tool that aggregates needs none).
    ///
    /// One pass over the actor table, reading two counters and the mailbox
    /// length of each: a million actors take tens of milliseconds. Use it
    /// for a live view of everything; [`actors_info`](Self::actors_info)
    /// adds names, labels, links and monitors at a higher cost.
    pub fn actor_stats(&self) -> Vec<ActorStats> {
        let now = now_ms();
        let mut stats = Vec::new();
        self.inner()
            .for_each_actor(|actor| stats.push(actor.stats_at(now)));
        stats
    }

    /// A full snapshot ([`ActorInfo`]) of every live actor, in spawn order:
    /// each one's id, name, executor, mailbox length, messages handled,
    /// what it does and for how long, its links and monitors, its parent
    /// and its labels (where a supervisor records its child id).
    ///
    /// ```
    /// # use ferrotp::{Actor, Handlers, SpawnOptions, System};
    /// # struct Idle;
    /// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let db = system.spawn_with(Idle, SpawnOptions::new().name("db").label("role", "storage")).unwrap();
    /// let infos = system.actors_info();
    /// assert_eq!(infos.len(), 1);
    /// assert_eq!(infos[0].id, db.id());
    /// assert_eq!(infos[0].name.as_deref(), Some("db"));
    /// assert_eq!(infos[0].label("role"), Some("storage"));
    /// ```
    pub fn actors_info(&self) -> Vec<ActorInfo> {
        self.actors().iter().map(ActorRef::info).collect()
    }

    /// The `n` live actors with the longest mailboxes or the most messages
    /// handled, first the largest (ties: the oldest first) — Erlang's `etop`.
    ///
    /// One pass over the actor table keeping the `n` best in a heap, then a
    /// full [`ActorInfo`] for those `n` only.
    ///
    /// ```
    /// # use ferrotp::{Actor, Handlers, System, TopBy};
    /// # struct Idle;
    /// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::builder().executor(ferrotp::Executor::Threads).build();
    /// let quiet = system.spawn(Idle);
    /// let busy = system.spawn(Idle);
    /// for _ in 0..3 { busy.send(()); }
    /// let top = system.top(1, TopBy::MessagesHandled);
    /// assert_eq!(top.len(), 1);
    /// # let _ = quiet;
    /// ```
    pub fn top(&self, n: usize, by: TopBy) -> Vec<ActorInfo> {
        if n == 0 {
            return Vec::new();
        }
        // A min-heap of the best `n` so far: (rank, newest first) so that
        // among equal ranks the oldest stays.
        let mut best: BinaryHeap<Reverse<(u64, Reverse<ActorId>)>> = BinaryHeap::new();
        let mut refs = std::collections::HashMap::new();
        self.inner().for_each_actor(|actor| {
            let key = Reverse((actor.rank(by), Reverse(actor.id())));
            if best.len() < n {
                best.push(key);
                refs.insert(actor.id(), actor.clone());
            } else if best.peek().is_some_and(|worst| key < *worst) {
                if let Some(Reverse((_, Reverse(out)))) = best.pop() {
                    refs.remove(&out);
                }
                best.push(key);
                refs.insert(actor.id(), actor.clone());
            }
        });
        let mut ranked: Vec<(u64, ActorId)> = best
            .into_iter()
            .map(|Reverse((rank, Reverse(id)))| (rank, id))
            .collect();
        ranked.sort_unstable_by_key(|&(rank, id)| (Reverse(rank), id));
        ranked
            .into_iter()
            .filter_map(|(_, id)| refs.remove(&id))
            .map(|actor| actor.info())
            .collect()
    }
}
