//! Kernel throughput on the workloads of `shared/ANCHORS.md`, on each
//! executor (`…/pool`, `…/threads`), with raw std-thread baselines measured
//! in the same run (`…/raw_threads`): ping-pong round trips, a Bridge call
//! (against one round trip between two raw threads),
//! 2→1 fan-in, a token ring, spawn+stop, and the cost of a lifecycle-event
//! subscriber.
//!
//! Every workload checks its own counts and order, so a lost or reordered
//! message fails the bench with a panic (an actor that dies fails it at once:
//! the bench monitors the actors it drives).
//!
//! ```text
//! cargo bench --bench kernel                  # everything
//! cargo bench --bench kernel -- ping_pong     # one workload, all executors
//! cargo bench --bench kernel -- /pool         # one executor
//! cargo bench --bench kernel -- --test        # each once, as a check
//! FERROTP_INTERLEAVED=1 cargo bench --bench kernel  # bridge_call only: the
//!                  # targets take turns, round after round; medians and
//!                  # ratios to raw (FERROTP_CALL_ONLY=pool|threads|inbox_pool|inbox_threads|raw_threads
//!                  # runs one target, FERROTP_CALLS=n calls per round)
//! FERROTP_INTERLEAVED=all cargo bench --bench kernel  # likewise bridge_call,
//!                  # ping_pong, fan_in and spawn (or a list: =ping_pong,fan_in);
//!                  # FERROTP_ROUNDS=n rounds (21), FERROTP_SPREAD=1 adds the
//!                  # quartiles, slowest round and mean of each target
//! ```
//!
//! The pooled spawn workload spawns 100,000 actors per iteration; set
//! `FERROTP_POOL_SPAWN` to spawn fewer (the thread executor spawns 1,000).

mod common;

use std::time::{Duration, Instant};

use common::{env_size, expect, spawn_greet_stop, system_on, EXECUTORS, WAIT};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use crossbeam_channel::{Receiver, Sender};
use ferrotp::{Actor, ActorRef, Context, Executor, Handlers, Inbox, System};

// ---- ping-pong: two actors, n sequential request → reply round trips ----

const ROUNDS: u64 = 10_000;

struct Ping(u64);
struct Pong(u64);
struct Serve {
    rounds: u64,
    partner: ActorRef,
    done: ActorRef,
}
/// What a finished rally reports: `Err` names the round trip that was lost
/// or reordered.
type Rallied = Result<(), String>;

/// Serves `rounds` pings to its partner, one at a time, and reports.
struct Pinger {
    left: u64,
    done: Option<ActorRef>,
}

impl Pinger {
    fn serve(&mut self, serve: Serve, ctx: &mut Context<Self>) {
        self.left = serve.rounds;
        self.done = Some(serve.done);
        ctx.send(&serve.partner, Ping(self.left));
    }

    fn pong(&mut self, Pong(n): Pong, ctx: &mut Context<Self>) {
        let report: Rallied = if n != self.left {
            Err(format!("expected pong {}, got pong {n}", self.left))
        } else if self.left == 1 {
            Ok(())
        } else {
            self.left -= 1;
            ctx.reply(Ping(self.left));
            return;
        };
        self.left = 0;
        if let Some(done) = &self.done {
            ctx.send(done, report);
        }
    }
}

impl Actor for Pinger {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::serve).on(Self::pong)
    }
}

struct Ponger;

impl Ponger {
    fn ping(&mut self, Ping(n): Ping, ctx: &mut Context<Self>) {
        ctx.reply(Pong(n));
    }
}

impl Actor for Ponger {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::ping)
    }
}

/// A pinger and a ponger on one executor, and the inbox that hears the end
/// of each rally (and of either actor, should one die).
struct Rally {
    _system: System,
    done: Inbox,
    pinger: ActorRef,
    ponger: ActorRef,
}

impl Rally {
    fn new(executor: Executor) -> Self {
        let system = system_on(executor);
        let done = system.inbox();
        let pinger = system.spawn(Pinger {
            left: 0,
            done: None,
        });
        let ponger = system.spawn(Ponger);
        done.monitor(&pinger);
        done.monitor(&ponger);
        Rally {
            _system: system,
            done,
            pinger,
            ponger,
        }
    }

    fn run(&self, rounds: u64) {
        self.pinger.send(Serve {
            rounds,
            partner: self.ponger.clone(),
            done: self.done.actor().clone(),
        });
        let rallied: Rallied = expect(&self.done, "the end of the rally");
        rallied.expect("every round trip, in order");
    }
}

/// Two std threads ping-ponging over crossbeam channels; a third (the
/// bench) starts each rally and hears its end, as with the actors.
struct RawRally {
    start: Option<Sender<u64>>,
    done: Receiver<Rallied>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl RawRally {
    fn new() -> Self {
        let (start_tx, start_rx) = crossbeam_channel::unbounded::<u64>();
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        let (ping_tx, ping_rx) = crossbeam_channel::unbounded::<u64>();
        let (pong_tx, pong_rx) = crossbeam_channel::unbounded::<u64>();
        let pinger = std::thread::spawn(move || {
            for rounds in start_rx {
                let mut report = Ok(());
                for left in (1..=rounds).rev() {
                    ping_tx.send(left).expect("the ponger runs");
                    let n = pong_rx.recv().expect("the ponger answers");
                    if n != left {
                        report = Err(format!("expected pong {left}, got pong {n}"));
                        break;
                    }
                }
                done_tx.send(report).expect("the bench waits");
            }
        });
        let ponger = std::thread::spawn(move || {
            for n in ping_rx {
                if pong_tx.send(n).is_err() {
                    break;
                }
            }
        });
        RawRally {
            start: Some(start_tx),
            done: done_rx,
            threads: vec![pinger, ponger],
        }
    }

    fn run(&self, rounds: u64) {
        let start = self.start.as_ref().expect("running");
        start.send(rounds).expect("the pinger runs");
        let rallied = self.done.recv_timeout(WAIT).expect("the end of the rally");
        rallied.expect("every round trip, in order");
    }
}

impl Drop for RawRally {
    fn drop(&mut self) {
        // Closing `start` ends the pinger, whose end closes the ponger's.
        self.start = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("ping_pong");
    group.throughput(Throughput::Elements(ROUNDS));
    for (label, executor) in EXECUTORS {
        // Set up on first use, so that a filter that skips a bench skips
        // its setup too; dropped (the system shut down) after the bench.
        let mut rally = None;
        group.bench_function(label, |b| {
            let rally = rally.get_or_insert_with(|| Rally::new(executor));
            b.iter(|| rally.run(ROUNDS))
        });
    }
    let mut raw = None;
    group.bench_function("raw_threads", |b| {
        let raw = raw.get_or_insert_with(RawRally::new);
        b.iter(|| raw.run(ROUNDS))
    });
    group.finish();
}

// ---- Bridge::call from plain code ----

/// The baseline of a call from plain code: a std thread that echoes what
/// it gets over one crossbeam channel back over another.
struct RawEcho {
    to: Option<Sender<u64>>,
    from: Receiver<u64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RawEcho {
    fn new() -> Self {
        let (to, requests) = crossbeam_channel::unbounded::<u64>();
        let (answers, from) = crossbeam_channel::unbounded::<u64>();
        let thread = std::thread::spawn(move || {
            for n in requests {
                if answers.send(n).is_err() {
                    break;
                }
            }
        });
        RawEcho {
            to: Some(to),
            from,
            thread: Some(thread),
        }
    }

    fn call(&self, n: u64) -> u64 {
        let to = self.to.as_ref().expect("running");
        to.send(n).expect("the echo thread runs");
        self.from.recv_timeout(WAIT).expect("an echo")
    }
}

impl Drop for RawEcho {
    fn drop(&mut self) {
        // Closing the request channel ends the echo thread.
        self.to = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn bridge_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("bridge_call");
    group.throughput(Throughput::Elements(1));
    for (label, executor) in EXECUTORS {
        let mut setup = None;
        group.bench_function(label, |b| {
            let (_system, bridge, ponger) = setup.get_or_insert_with(|| {
                let system = system_on(executor);
                let bridge = system.bridge();
                let ponger = system.spawn(Ponger);
                (system, bridge, ponger)
            });
            b.iter(|| {
                let Pong(n) = bridge.call(ponger, Ping(7), WAIT).expect("a reply");
                assert_eq!(n, 7);
            })
        });
    }
    // The other way plain code talks to actors: its own inbox as the
    // sender, the answer taken with `recv` (no per-call reply address).
    for (label, executor) in EXECUTORS {
        let mut setup = None;
        group.bench_function(format!("inbox_{label}"), |b| {
            let (_system, inbox, ponger) = setup.get_or_insert_with(|| {
                let system = system_on(executor);
                let inbox = Inbox::new(&system);
                let ponger = system.spawn(Ponger);
                (system, inbox, ponger)
            });
            b.iter(|| {
                inbox.send(ponger, Ping(7));
                let reply = inbox.recv(WAIT).expect("a reply");
                assert!(matches!(reply.downcast::<Pong>(), Ok(Pong(7))));
            })
        });
    }
    let mut raw = None;
    group.bench_function("raw_threads", |b| {
        let raw = raw.get_or_insert_with(RawEcho::new);
        b.iter(|| assert_eq!(raw.call(7), 7))
    });
    group.finish();
}

// ---- fan-in: two producer threads → one counting actor ----

const PRODUCERS: usize = 2;
const PER_PRODUCER: u64 = 100_000;

/// The `seq`-th message of producer `producer`.
struct Item {
    producer: usize,
    seq: u64,
}
/// Count `per_producer` items from each producer, then report to `done`.
struct Expect {
    per_producer: u64,
    done: ActorRef,
}
/// What the counter reports: the items counted, or what went wrong.
type Counted = Result<u64, String>;

/// Counts items and checks that each producer's arrive in order.
struct Count {
    next: [u64; PRODUCERS],
    seen: u64,
    per_producer: u64,
    fault: Option<String>,
    done: Option<ActorRef>,
}

impl Count {
    fn new() -> Self {
        Count {
            next: [0; PRODUCERS],
            seen: 0,
            per_producer: 0,
            fault: None,
            done: None,
        }
    }

    fn expect(&mut self, expect: Expect, _ctx: &mut Context<Self>) {
        *self = Count {
            per_producer: expect.per_producer,
            done: Some(expect.done),
            ..Count::new()
        };
    }

    fn item(&mut self, Item { producer, seq }: Item, ctx: &mut Context<Self>) {
        let next = &mut self.next[producer];
        if *next != seq && self.fault.is_none() {
            self.fault = Some(format!(
                "producer {producer}: expected item {next}, got {seq}"
            ));
        }
        *next = seq + 1;
        self.seen += 1;
        if self.seen == PRODUCERS as u64 * self.per_producer {
            let counted: Counted = match self.fault.take() {
                Some(fault) => Err(fault),
                None if self.next.iter().any(|&n| n != self.per_producer) => {
                    Err(format!("items per producer: {:?}", self.next))
                }
                None => Ok(self.seen),
            };
            if let Some(done) = &self.done {
                ctx.send(done, counted);
            }
        }
    }
}

impl Actor for Count {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::expect).on(Self::item)
    }
}

/// `PRODUCERS` threads each send `per_producer` numbered items to one
/// counting actor, which checks that all arrive, each producer's in order.
fn actor_fan_in(counter: &ActorRef, done: &Inbox, per_producer: u64) {
    counter.send(Expect {
        per_producer,
        done: done.actor().clone(),
    });
    std::thread::scope(|s| {
        for producer in 0..PRODUCERS {
            s.spawn(move || {
                for seq in 0..per_producer {
                    counter.send(Item { producer, seq });
                }
            });
        }
    });
    let counted: Counted = expect(done, "the count");
    let seen = counted.expect("every item, each producer's in order");
    assert_eq!(seen, PRODUCERS as u64 * per_producer);
}

/// The baseline: `PRODUCERS` std threads → one std thread, over one
/// crossbeam channel, with the same checks.
fn raw_fan_in(per_producer: u64) {
    let (tx, rx) = crossbeam_channel::unbounded::<Item>();
    std::thread::scope(|s| {
        let consumer = s.spawn(move || {
            let mut next = [0u64; PRODUCERS];
            let mut seen = 0u64;
            for Item { producer, seq } in rx {
                assert_eq!(seq, next[producer], "producer {producer}: out of order");
                next[producer] = seq + 1;
                seen += 1;
            }
            (seen, next)
        });
        for producer in 0..PRODUCERS {
            let tx = tx.clone();
            s.spawn(move || {
                for seq in 0..per_producer {
                    tx.send(Item { producer, seq }).expect("the consumer runs");
                }
            });
        }
        // The consumer ends when the producers' senders and this one close.
        drop(tx);
        let (seen, next) = consumer.join().expect("every item, in order");
        assert_eq!(seen, PRODUCERS as u64 * per_producer);
        assert_eq!(next, [per_producer; PRODUCERS]);
    });
}

fn fan_in(c: &mut Criterion) {
    let mut group = c.benchmark_group("fan_in");
    group.throughput(Throughput::Elements(PRODUCERS as u64 * PER_PRODUCER));
    for (label, executor) in EXECUTORS {
        let mut setup = None;
        group.bench_function(label, |b| {
            let (_system, done, counter) = setup.get_or_insert_with(|| {
                let system = system_on(executor);
                let done = system.inbox();
                let counter = system.spawn(Count::new());
                done.monitor(&counter);
                (system, done, counter)
            });
            b.iter(|| actor_fan_in(counter, done, PER_PRODUCER))
        });
    }
    group.bench_function("raw_threads", |b| b.iter(|| raw_fan_in(PER_PRODUCER)));
    group.finish();
}

// ---- ring: a token through 1,000 actors, 10 laps ----

const RING: usize = 1_000;
const LAPS: usize = 10;

struct Token(u64);

/// Passes the token on, one hop less to go; reports when none are left.
struct Hop {
    next: Option<ActorRef>,
    done: ActorRef,
}

impl Hop {
    fn token(&mut self, Token(left): Token, ctx: &mut Context<Self>) {
        match (&self.next, left) {
            (_, 0) => ctx.send(&self.done, Token(0)),
            (Some(next), _) => ctx.send(next, Token(left - 1)),
            (None, _) => panic!("a token reached a hop that is not linked"),
        }
    }

    fn link_to(&mut self, next: ActorRef, _ctx: &mut Context<Self>) {
        self.next = Some(next);
    }
}

impl Actor for Hop {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::token).on(Self::link_to)
    }
}

struct Ring {
    _system: System,
    done: Inbox,
    hops: Vec<ActorRef>,
}

impl Ring {
    fn new(executor: Executor) -> Self {
        let system = system_on(executor);
        let done = system.inbox();
        let hops: Vec<ActorRef> = (0..RING)
            .map(|_| {
                system.spawn(Hop {
                    next: None,
                    done: done.actor().clone(),
                })
            })
            .collect();
        for (i, hop) in hops.iter().enumerate() {
            hop.send(hops[(i + 1) % RING].clone());
            done.monitor(hop);
        }
        Ring {
            _system: system,
            done,
            hops,
        }
    }

    /// Sends a token `hops` hops round the ring and checks where it ends.
    fn run(&self, hops: usize) {
        self.hops[0].send(Token(hops as u64));
        let envelope = self
            .done
            .recv(WAIT)
            .expect("the token comes home within the wait");
        let last = envelope.sender().cloned();
        match envelope.downcast::<Token>() {
            Ok(Token(left)) => assert_eq!(left, 0, "only a spent token is reported"),
            Err(other) => panic!("expected the token, got a `{}`", other.type_name()),
        }
        assert_eq!(
            last.as_ref(),
            Some(&self.hops[hops % RING]),
            "the token ended at the wrong hop: one was skipped or repeated"
        );
    }
}

fn ring(c: &mut Criterion) {
    let hops = RING * LAPS;
    let mut group = c.benchmark_group("ring");
    group.throughput(Throughput::Elements(hops as u64));
    for (label, executor) in EXECUTORS {
        let mut ring = None;
        group.bench_function(label, |b| {
            let ring = ring.get_or_insert_with(|| Ring::new(executor));
            b.iter(|| ring.run(hops))
        });
    }
    group.finish();
}

// ---- spawn: actors spawned, each handles one message, all stopped ----

/// How many actors a spawn iteration spawns on each executor: the pool's
/// target size (`FERROTP_POOL_SPAWN` to change it), and what a process's
/// thread limit leaves room for.
fn spawn_batch(executor: Executor) -> usize {
    match executor {
        Executor::Pool => common::env_size("FERROTP_POOL_SPAWN", 100_000),
        Executor::Threads => 1_000,
    }
}

fn spawn_stop(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn");
    for (label, executor) in EXECUTORS {
        let batch = spawn_batch(executor);
        group.throughput(Throughput::Elements(batch as u64));
        let mut setup = None;
        group.bench_function(BenchmarkId::new(label, batch), |b| {
            let (system, inbox) = setup.get_or_insert_with(|| {
                let system = system_on(executor);
                let inbox = system.inbox();
                (system, inbox)
            });
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    spawn_greet_stop(system, inbox, batch);
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

// ---- lifecycle events: what a subscriber costs, and what none costs ----

fn lifecycle_events(c: &mut Criterion) {
    let batch = 1_000;
    let mut group = c.benchmark_group("events");
    group.throughput(Throughput::Elements(batch as u64));
    for (label, executor) in EXECUTORS {
        for subscribed in [false, true] {
            let id = BenchmarkId::new(
                label,
                if subscribed {
                    "spawn_stop_1000_subscribed"
                } else {
                    "spawn_stop_1000_no_subscriber"
                },
            );
            let mut setup = None;
            group.bench_function(id, |b| {
                let (system, inbox, events) = setup.get_or_insert_with(|| {
                    let system = system_on(executor);
                    let inbox = system.inbox();
                    let events = subscribed.then(|| system.subscribe());
                    (system, inbox, events)
                });
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        spawn_greet_stop(system, inbox, batch);
                        if let Some(events) = events {
                            // Spawned + Exited per actor.
                            let seen = std::iter::from_fn(|| events.try_recv()).count();
                            assert!(seen >= 2 * batch, "events were lost: {seen}");
                        }
                    }
                    start.elapsed()
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = ping_pong, bridge_call, fan_in, ring, spawn_stop, lifecycle_events
}
/// One target of an interleaved run: its label, and one round of its
/// workload, which returns the time per unit (call, round trip, message,
/// actor).
type Target = (&'static str, Box<dyn FnMut() -> Duration>);

/// Rounds of an interleaved run (`FERROTP_ROUNDS` for more): enough for a
/// median that one preempted round does not move.
const INTERLEAVED_ROUNDS: usize = 21;

/// The workloads of an interleaved run (`FERROTP_INTERLEAVED=1`:
/// `bridge_call`; `all`, or a comma-separated list of groups, for more).
const INTERLEAVED_GROUPS: [&str; 4] = ["bridge_call", "ping_pong", "fan_in", "spawn"];

/// Runs each wanted group with its targets taking turns, round after
/// round, so that each sees the same load on a shared machine, and prints
/// the median time per unit of each and its ratio to the group's first
/// target (the raw anchor, or for `spawn`, the pool).
fn interleaved(groups: &str) {
    let only = std::env::var("FERROTP_CALL_ONLY").ok();
    let wanted = |label: &str| only.as_deref().map_or(true, |only| only == label);
    for group in INTERLEAVED_GROUPS {
        let asked = match groups {
            "1" => group == "bridge_call",
            "all" => true,
            list => list.split(',').any(|g| g.trim() == group),
        };
        if !asked {
            continue;
        }
        let targets: Vec<Target> = group_targets(group)
            .into_iter()
            .filter(|(label, _)| wanted(label))
            .collect();
        run_interleaved(group, targets);
    }
}

fn run_interleaved(group: &str, mut targets: Vec<Target>) {
    let rounds = env_size("FERROTP_ROUNDS", INTERLEAVED_ROUNDS);
    let mut samples = vec![Vec::with_capacity(rounds); targets.len()];
    for _ in 0..rounds {
        for (samples, (_, round)) in samples.iter_mut().zip(&mut targets) {
            samples.push(round());
        }
    }
    let labels: Vec<&str> = targets.iter().map(|(label, _)| *label).collect();
    common::print_medians(group, &labels, &mut samples);
}

/// The time per unit of `units` done by `work`.
fn per_unit(units: u64, work: impl FnOnce()) -> Duration {
    let start = Instant::now();
    work();
    start.elapsed() / u32::try_from(units).expect("units per round fit a u32")
}

/// The targets of one group, raw anchor first.
fn group_targets(group: &str) -> Vec<Target> {
    let mut targets: Vec<Target> = Vec::new();
    match group {
        "bridge_call" => {
            let calls = env_size("FERROTP_CALLS", 20_000) as u64;
            let raw = RawEcho::new();
            targets.push((
                "raw_threads",
                Box::new(move || {
                    per_unit(calls, || {
                        for _ in 0..calls {
                            assert_eq!(raw.call(7), 7);
                        }
                    })
                }),
            ));
            for (label, executor) in EXECUTORS {
                let system = system_on(executor);
                let bridge = system.bridge();
                let ponger = system.spawn(Ponger);
                targets.push((
                    label,
                    Box::new(move || {
                        let _system = &system;
                        per_unit(calls, || {
                            for _ in 0..calls {
                                let Pong(n) = bridge.call(&ponger, Ping(7), WAIT).expect("a reply");
                                assert_eq!(n, 7);
                            }
                        })
                    }),
                ));
            }
            // The other way plain code talks to actors (see `bridge_call`).
            for (label, executor) in [
                ("inbox_pool", Executor::Pool),
                ("inbox_threads", Executor::Threads),
            ] {
                let system = system_on(executor);
                let inbox = Inbox::new(&system);
                let ponger = system.spawn(Ponger);
                targets.push((
                    label,
                    Box::new(move || {
                        let _system = &system;
                        per_unit(calls, || {
                            for _ in 0..calls {
                                inbox.send(&ponger, Ping(7));
                                let reply = inbox.recv(WAIT).expect("a reply");
                                assert!(matches!(reply.downcast::<Pong>(), Ok(Pong(7))));
                            }
                        })
                    }),
                ));
            }
        }
        "ping_pong" => {
            let raw = RawRally::new();
            targets.push((
                "raw_threads",
                Box::new(move || per_unit(ROUNDS, || raw.run(ROUNDS))),
            ));
            for (label, executor) in EXECUTORS {
                let rally = Rally::new(executor);
                targets.push((
                    label,
                    Box::new(move || per_unit(ROUNDS, || rally.run(ROUNDS))),
                ));
            }
        }
        "fan_in" => {
            let items = PRODUCERS as u64 * PER_PRODUCER;
            targets.push((
                "raw_threads",
                Box::new(move || per_unit(items, || raw_fan_in(PER_PRODUCER))),
            ));
            for (label, executor) in EXECUTORS {
                let system = system_on(executor);
                let done = system.inbox();
                let counter = system.spawn(Count::new());
                done.monitor(&counter);
                targets.push((
                    label,
                    Box::new(move || {
                        let _system = &system;
                        per_unit(items, || actor_fan_in(&counter, &done, PER_PRODUCER))
                    }),
                ));
            }
        }
        "spawn" => {
            for (label, executor) in EXECUTORS {
                // A tenth of the criterion bench's batch: 21 rounds of it.
                let batch = match executor {
                    Executor::Pool => common::env_size("FERROTP_POOL_SPAWN", 10_000),
                    Executor::Threads => 1_000,
                };
                let system = system_on(executor);
                let inbox = system.inbox();
                targets.push((
                    label,
                    Box::new(move || {
                        per_unit(batch as u64, || spawn_greet_stop(&system, &inbox, batch))
                    }),
                ));
            }
        }
        other => unreachable!("no interleaved group {other}"),
    }
    targets
}

fn main() {
    if let Ok(groups) = std::env::var("FERROTP_INTERLEAVED") {
        interleaved(&groups);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
