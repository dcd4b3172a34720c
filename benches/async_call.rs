//! The cost of a call from async code (feature `tokio`): `Bridge::call_async`
//! from tokio tasks to an actor (pooled and dedicated), against the raw
//! anchor measured in the same run: a tokio `oneshot` round trip to a plain
//! thread that serves requests from a crossbeam channel.
//!
//! A second anchor adds a tokio timeout around each raw wait, as every
//! `call_async` has one: it shows what the timer costs.
//!
//! Two shapes: one task making calls one after the other (latency of a
//! round trip), and 32 tasks calling one actor at once (what a server that
//! calls a shard per request sees).
//!
//! ```text
//! cargo bench --bench async_call
//! cargo bench --bench async_call -- --test     # each once, as a check
//! FERROTP_INTERLEAVED=1 cargo bench --bench async_call   # medians of
//!                          # alternating rounds, and ratios to the raw anchor
//! ```

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::WAIT;
use criterion::{criterion_group, Criterion, Throughput};
use crossbeam_channel::Sender;
use ferrotp::{Actor, ActorRef, Bridge, Context, Handlers, SpawnOptions, System};
use tokio::sync::oneshot;

/// Tasks calling at once in the concurrent shape.
const TASKS: u64 = 32;

struct Double(u64);

struct Doubler;

impl Actor for Doubler {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(|_: &mut Self, Double(n): Double, ctx: &mut Context<Self>| ctx.reply(n * 2))
    }
}

/// The anchor: a thread that answers each request on its oneshot.
fn raw_server() -> Sender<(u64, oneshot::Sender<u64>)> {
    let (tx, rx) = crossbeam_channel::unbounded::<(u64, oneshot::Sender<u64>)>();
    std::thread::spawn(move || {
        for (n, reply) in rx {
            let _ = reply.send(n * 2);
        }
    });
    tx
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

/// How one call is made, so both shapes drive every target alike.
#[derive(Clone)]
enum Target {
    Actor(Arc<Bridge>, ActorRef),
    Raw(Sender<(u64, oneshot::Sender<u64>)>),
    /// The anchor with a tokio timeout around each wait, as `call_async` has.
    RawTimeout(Sender<(u64, oneshot::Sender<u64>)>),
}

impl Target {
    async fn call(&self, n: u64) -> u64 {
        match self {
            Target::Actor(bridge, actor) => bridge
                .call_async::<u64, _>(actor, Double(n), WAIT)
                .await
                .expect("call failed"),
            Target::Raw(server) => {
                let (tx, rx) = oneshot::channel();
                server.send((n, tx)).expect("raw server gone");
                rx.await.expect("raw server dropped the reply")
            }
            Target::RawTimeout(server) => {
                let (tx, rx) = oneshot::channel();
                server.send((n, tx)).expect("raw server gone");
                tokio::time::timeout(WAIT, rx)
                    .await
                    .expect("raw server too slow")
                    .expect("raw server dropped the reply")
            }
        }
    }
}

/// `calls` calls spread over `tasks` tasks; checks every answer.
fn run(rt: &tokio::runtime::Runtime, target: &Target, tasks: u64, calls: u64) -> Duration {
    let start = Instant::now();
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|task| {
                let target = target.clone();
                let per_task = calls / tasks + u64::from(task < calls % tasks);
                tokio::spawn(async move {
                    for i in 0..per_task {
                        let n = task << 32 | i;
                        assert_eq!(target.call(n).await, n * 2, "a reply was mixed up");
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("a calling task failed");
        }
    });
    start.elapsed()
}

fn targets(system: &System) -> Vec<(&'static str, Target)> {
    let bridge = Arc::new(system.bridge());
    let pooled = system.spawn(Doubler);
    let dedicated = system
        .spawn_with(Doubler, SpawnOptions::new().dedicated())
        .expect("a dedicated thread");
    vec![
        ("raw_oneshot_thread", Target::Raw(raw_server())),
        (
            "raw_oneshot_thread_timeout",
            Target::RawTimeout(raw_server()),
        ),
        ("pool", Target::Actor(bridge.clone(), pooled)),
        ("dedicated", Target::Actor(bridge, dedicated)),
    ]
}

fn call_async(c: &mut Criterion) {
    let system = System::new();
    let rt = runtime();
    let targets = targets(&system);
    for (shape, tasks) in [("sequential", 1), ("concurrent", TASKS)] {
        let mut group = c.benchmark_group(format!("call_async/{shape}"));
        group.throughput(Throughput::Elements(1));
        for (label, target) in &targets {
            group.bench_function(*label, |b| {
                b.iter_custom(|iters| run(&rt, target, tasks, iters))
            });
        }
        group.finish();
    }
}

/// The same workloads measured in alternation, round after round, so that
/// every target sees the same load on a shared machine: the median time
/// per call of each, and its ratio to the raw anchor.
fn interleaved() {
    const ROUNDS: usize = 21;
    let system = System::new();
    let rt = runtime();
    let targets = targets(&system);
    println!(
        "{:<12} {:<28} {:>10} {:>8}",
        "shape", "target", "per call", "vs raw"
    );
    for (shape, tasks, calls) in [("sequential", 1, 2_000), ("concurrent", TASKS, 20_000)] {
        let mut samples = vec![Vec::with_capacity(ROUNDS); targets.len()];
        for _ in 0..ROUNDS {
            for (samples, (_, target)) in samples.iter_mut().zip(&targets) {
                samples.push(run(&rt, target, tasks, calls) / calls as u32);
            }
        }
        let labels: Vec<&str> = targets.iter().map(|(label, _)| *label).collect();
        common::print_medians(shape, &labels, &mut samples);
    }
}

criterion_group!(benches, call_async);

fn main() {
    if std::env::var_os("FERROTP_INTERLEAVED").is_some() {
        interleaved();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
