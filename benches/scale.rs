//! Scale on the pooled executor: a million actors at once.
//!
//! - `spawn_1m/pool/N`: N actors spawned, each handles one message, all
//!   stopped (each answers its `Stop` with `Stopped`, so all have ended).
//! - `skynet/pool/N`: a 10-ary tree of actors with N leaves; leaf `i` sends
//!   `i` to its parent, each parent sums its children's sums and sends the
//!   total up, and the root's total must be 0 + 1 + … + (N−1)
//!   (499,999,500,000 for a million) from exactly N leaves.
//! - memory (printed, not timed): resident bytes per idle pooled actor, for N
//!   actors spawned that each handled one message, from `/proc/self/statm`
//!   before and after: `memory: … bytes/actor`. It runs first, in a fresh
//!   process, unless a filter that does not occur in `memory` is given.
//!
//! - mass_stop (printed, not timed): `Bridge::stop` of min(N, 100,000)
//!   actors and `System::shutdown` of N actors, each as a ratio to the time
//!   spawning those actors took (each handled one message), median of 3:
//!   `mass_stop/pool: … x`.
//!
//! - tree (printed, not timed): a 10-ary supervision tree over N idle
//!   workers (N/9 supervisors more) started with `Supervisor::start` and
//!   stopped with `Supervisor::stop`, each as a ratio to spawning as many
//!   plain actors (each handled one message) in the same process, and per
//!   actor against one raw crossbeam send+receive; median of 3:
//!   `tree/pool: … x`.
//!
//! - dynamic_terminate (printed, not timed): `terminate_child` of each of
//!   min(N, 10,000) children of a dynamic supervisor, one call after the
//!   other, as a ratio to spawning as many plain actors; median of 3:
//!   `dynamic_terminate/pool: … x`.
//!
//! N is `FERROTP_SCALE` (default 1,000,000; `_` separators allowed).
//!
//! ```text
//! cargo bench --bench scale
//! cargo bench --bench scale -- skynet
//! FERROTP_SCALE=10_000 cargo bench --bench scale -- --test
//! ```

mod common;

use std::time::{Duration, Instant};

use common::rss::rss_bytes;
use common::{expect_within, spawn_and_greet, spawn_greet_stop, stop_all, system_on};
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use ferrotp::{Actor, ActorRef, Context, Executor, ExitReason, Handlers, SpawnOptions};
use ferrotp_supervisors::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, Supervisor, SupervisorSpec,
};

/// How long one scale iteration may take before the bench declares it lost.
const SCALE_WAIT: Duration = Duration::from_secs(300);

/// N: the number of actors (`FERROTP_SCALE`, default a million).
fn scale() -> usize {
    common::env_size("FERROTP_SCALE", 1_000_000)
}

/// Whether criterion's command line asks for the untimed figure `name`: no
/// filter, or a filter (taken as a plain substring) that occurs in it; never
/// under `--list`.
fn wanted(name: &str) -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--list") {
        return false;
    }
    match args.iter().find(|arg| !arg.starts_with('-')) {
        None => true,
        Some(filter) => name.contains(filter.as_str()),
    }
}

// ---- memory: resident bytes per idle pooled actor ----

fn memory(_c: &mut Criterion) {
    if !wanted("memory/pool") {
        return;
    }
    let n = scale();
    let system = system_on(Executor::Pool);
    let inbox = system.inbox();
    let before = rss_bytes();
    let actors = spawn_and_greet(&system, &inbox, n);
    let after = rss_bytes();
    let per_actor = after.saturating_sub(before) as f64 / n as f64;
    println!(
        "memory: {per_actor:.0} bytes/actor ({n} idle pooled actors that each handled one \
         message; RSS {:.1} → {:.1} MiB; includes the bench's 8-byte address per actor)",
        before as f64 / (1 << 20) as f64,
        after as f64 / (1 << 20) as f64,
    );
    stop_all(&inbox, actors);
}

// ---- spawn_1m: N actors spawned, each handles one message, all stopped ----

fn spawn_1m(c: &mut Criterion) {
    let n = scale();
    let mut group = c.benchmark_group("spawn_1m");
    group
        .throughput(Throughput::Elements(n as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    let mut setup = None;
    group.bench_function(BenchmarkId::new("pool", n), |b| {
        let (system, inbox) = setup.get_or_insert_with(|| {
            let system = system_on(Executor::Pool);
            let inbox = system.inbox();
            (system, inbox)
        });
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                spawn_greet_stop(system, inbox, n);
            }
            start.elapsed()
        })
    });
    group.finish();
}

// ---- skynet: a 10-ary tree of N leaves sums their numbers ----

const FANOUT: u64 = 10;

/// A subtree's sum: the total of its leaves' numbers, and how many leaves.
struct Sum {
    total: u64,
    leaves: u64,
}

/// A node of the tree: leaves `first .. first + size` are below it.
struct Skynet {
    parent: ActorRef,
    first: u64,
    size: u64,
    pending: u64,
    sum: Sum,
}

impl Skynet {
    fn new(parent: ActorRef, first: u64, size: u64) -> Self {
        Skynet {
            parent,
            first,
            size,
            pending: 0,
            sum: Sum {
                total: 0,
                leaves: 0,
            },
        }
    }

    /// Sends the sum up and ends.
    fn report(&mut self, sum: Sum, ctx: &mut Context<Self>) {
        ctx.send(&self.parent, sum);
        ctx.stop(ExitReason::Normal);
    }

    fn child_sum(&mut self, Sum { total, leaves }: Sum, ctx: &mut Context<Self>) {
        self.sum.total += total;
        self.sum.leaves += leaves;
        self.pending -= 1;
        if self.pending == 0 {
            let sum = std::mem::replace(
                &mut self.sum,
                Sum {
                    total: 0,
                    leaves: 0,
                },
            );
            self.report(sum, ctx);
        }
    }
}

impl Actor for Skynet {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::child_sum)
    }

    /// A leaf reports its number; a parent spawns up to ten children that
    /// split its leaves between them.
    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if self.size == 1 {
            let sum = Sum {
                total: self.first,
                leaves: 1,
            };
            self.report(sum, ctx);
            return Ok(());
        }
        let part = self.size.div_ceil(FANOUT);
        let end = self.first + self.size;
        let mut first = self.first;
        while first < end {
            let size = part.min(end - first);
            let child = Skynet::new(ctx.myself().clone(), first, size);
            // A child that cannot be spawned is left out: the root's count
            // of leaves comes up short and fails the bench at once.
            if ctx.spawn_with(child, SpawnOptions::new()).is_ok() {
                self.pending += 1;
            }
            first += size;
        }
        if self.pending == 0 {
            self.report(
                Sum {
                    total: 0,
                    leaves: 0,
                },
                ctx,
            );
        }
        Ok(())
    }
}

/// How many actors a tree over `size` leaves has.
fn tree_size(size: u64) -> u64 {
    if size == 1 {
        return 1;
    }
    let part = size.div_ceil(FANOUT);
    let mut actors = 1;
    let mut left = size;
    while left > 0 {
        let child = part.min(left);
        actors += tree_size(child);
        left -= child;
    }
    actors
}

fn skynet(c: &mut Criterion) {
    let n = scale() as u64;
    let expected_total = n * (n - 1) / 2;
    let mut group = c.benchmark_group("skynet");
    // Per actor spawned (leaves and parents: 1,111,111 for a million leaves).
    group
        .throughput(Throughput::Elements(tree_size(n)))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    let mut setup = None;
    group.bench_function(BenchmarkId::new("pool", n), |b| {
        let (system, done) = setup.get_or_insert_with(|| {
            let system = system_on(Executor::Pool);
            let done = system.inbox();
            (system, done)
        });
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let root = system.spawn(Skynet::new(done.actor().clone(), 0, n));
                let monitor = done.monitor(&root);
                let Sum { total, leaves } = expect_within(done, SCALE_WAIT, "the root's sum");
                assert_eq!(leaves, n, "leaves heard from");
                assert_eq!(total, expected_total, "the sum of 0..{n}");
                // The root ends once it has reported; nothing else is queued.
                done.demonitor(monitor);
            }
            start.elapsed()
        })
    });
    group.finish();
}

// ---- mass_stop: stopping N actors against spawning them (printed) ----

/// `Bridge::stop` of up to 100,000 actors and `System::shutdown` of N
/// actors, each against spawning the same actors (each spawned actor
/// handled one message) in the same process: printed as ratios, median of
/// three runs, not timed by criterion.
fn mass_stop(_c: &mut Criterion) {
    if !wanted("mass_stop/pool") {
        return;
    }
    let n = scale();
    let bridged = n.min(100_000);
    let mut bridge_runs = Vec::new();
    let mut shutdown_runs = Vec::new();
    for _ in 0..3 {
        bridge_runs.push(spawn_then(bridged, |system, actors| {
            let stopped = system.bridge().stop(&actors, SCALE_WAIT);
            assert!(stopped.iter().all(|s| s.is_some()), "every actor stopped");
        }));
        shutdown_runs.push(spawn_then(n, |system, actors| {
            system.shutdown(SCALE_WAIT).expect("every actor stopped");
            assert!(actors.iter().all(|a| !a.is_alive()));
        }));
    }
    for (what, count, mut runs) in [
        ("Bridge::stop", bridged, bridge_runs),
        ("System::shutdown", n, shutdown_runs),
    ] {
        runs.sort_by(|a, b| a.2.total_cmp(&b.2));
        let (spawn, stop, ratio) = runs[1];
        println!(
            "mass_stop/pool: {what} of {count} actors {:.0} ms, spawning them {:.0} ms: \
             {ratio:.2}x (median of 3)",
            stop.as_secs_f64() * 1e3,
            spawn.as_secs_f64() * 1e3,
        );
    }
}

/// Spawns `n` actors on a fresh pooled system (each handles one message),
/// then runs `stop` on them: returns both times and their ratio.
fn spawn_then(
    n: usize,
    stop: impl FnOnce(&ferrotp::System, Vec<ActorRef>),
) -> (Duration, Duration, f64) {
    let system = system_on(Executor::Pool);
    let inbox = system.inbox();
    let started = Instant::now();
    let actors = spawn_and_greet(&system, &inbox, n);
    let spawn = started.elapsed();
    let started = Instant::now();
    stop(&system, actors);
    let took = started.elapsed();
    (spawn, took, took.as_secs_f64() / spawn.as_secs_f64())
}

// ---- tree: a supervision tree started and stopped (printed) ----

/// An idle worker of the tree.
struct Worker;

impl Actor for Worker {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
}

/// A 10-ary tree of one-for-one supervisors over `workers` idle workers.
fn tree_spec(workers: usize) -> SupervisorSpec {
    let mut spec = SupervisorSpec::one_for_one();
    if workers <= 10 {
        for i in 0..workers {
            spec = spec.child(ChildSpec::worker(format!("w{i}"), || Worker));
        }
    } else {
        for i in 0..10 {
            spec = spec.child(ChildSpec::supervisor(
                format!("s{i}"),
                tree_spec(workers / 10),
            ));
        }
    }
    spec
}

/// One raw crossbeam send then receive on one thread, per item, over `n`.
fn raw_item(n: usize) -> Duration {
    let (tx, rx) = crossbeam_channel::unbounded();
    let started = Instant::now();
    for i in 0..n {
        tx.send(i).expect("open");
    }
    for _ in 0..n {
        rx.recv().expect("an item");
    }
    started.elapsed() / n as u32
}

/// A tree over N workers started and stopped, against spawning as many
/// plain actors in the same process: printed as ratios, median of three
/// runs (by start ratio), not timed by criterion.
fn tree(_c: &mut Criterion) {
    if !wanted("tree/pool") {
        return;
    }
    let n = scale();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let system = system_on(Executor::Pool);
        let started = Instant::now();
        let root = Supervisor::start(&system, tree_spec(n)).expect("the tree starts");
        let start = started.elapsed();
        let actors = system.actor_count();
        let started = Instant::now();
        root.stop(SCALE_WAIT).expect("the tree stops");
        let stop = started.elapsed();
        assert_eq!(system.actor_count(), 0, "the whole tree stopped");
        drop(system);
        let (spawn, _, _) = spawn_then(actors, |system, _| {
            system.shutdown(SCALE_WAIT).expect("every actor stopped");
        });
        let raw = raw_item(actors);
        runs.push((actors, start, stop, spawn, raw));
    }
    runs.sort_by(|a, b| {
        let ratio = |r: &(usize, Duration, Duration, Duration, Duration)| {
            r.1.as_secs_f64() / r.3.as_secs_f64()
        };
        ratio(a).total_cmp(&ratio(b))
    });
    let (actors, start, stop, spawn, raw) = runs[1];
    let per = |d: Duration| d.as_secs_f64() * 1e6 / actors as f64;
    println!(
        "tree/pool: {actors} actors; start {:.0} ms ({:.2} µs/actor, {:.2}x spawning them, \
         {:.0}x a raw send+recv), stop {:.0} ms ({:.2} µs/actor, {:.2}x spawning them), \
         spawning {:.0} ms ({:.2} µs/actor), raw send+recv {} ns (median of 3 by start)",
        start.as_secs_f64() * 1e3,
        per(start),
        start.as_secs_f64() / spawn.as_secs_f64(),
        per(start) * 1e3 / raw.as_nanos().max(1) as f64,
        stop.as_secs_f64() * 1e3,
        per(stop),
        stop.as_secs_f64() / spawn.as_secs_f64(),
        spawn.as_secs_f64() * 1e3,
        per(spawn),
        raw.as_nanos(),
    );
}

// ---- dynamic_terminate: a dynamic supervisor's children terminated one by one (printed) ----

/// `terminate_child` of each of min(N, 10,000) children of a dynamic
/// supervisor, one call after the other from plain code, against spawning
/// as many plain actors (each handles one message) in the same process:
/// printed as a ratio, median of three runs, not timed by criterion.
fn dynamic_terminate(_c: &mut Criterion) {
    if !wanted("dynamic_terminate/pool") {
        return;
    }
    let n = scale().min(10_000);
    let mut runs = Vec::new();
    for _ in 0..3 {
        let system = system_on(Executor::Pool);
        let template = DynamicSupervisorSpec::worker("w", |_: u32| Worker);
        let sup = DynamicSupervisor::start(&system, template).expect("it starts");
        let children: Vec<ActorRef> = sup
            .start_children(0..n as u32)
            .expect("answered")
            .into_iter()
            .map(|child| child.expect("started"))
            .collect();
        let started = Instant::now();
        for child in &children {
            sup.terminate_child(child).expect("terminated");
        }
        let took = started.elapsed();
        sup.stop(SCALE_WAIT).expect("it stops");
        drop(system);
        let (spawn, _, _) = spawn_then(n, |system, _| {
            system.shutdown(SCALE_WAIT).expect("every actor stopped");
        });
        runs.push((took, spawn, took.as_secs_f64() / spawn.as_secs_f64()));
    }
    runs.sort_by(|a, b| a.2.total_cmp(&b.2));
    let (took, spawn, ratio) = runs[1];
    println!(
        "dynamic_terminate/pool: terminate_child of {n} children one by one {:.0} ms \
         ({:.1} µs each), spawning them {:.0} ms: {ratio:.1}x (median of 3)",
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / n as f64,
        spawn.as_secs_f64() * 1e3,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    // `memory` first: it reads the resident set of a fresh process.
    targets = memory, spawn_1m, skynet, mass_stop, tree, dynamic_terminate
}
criterion_main!(benches);
