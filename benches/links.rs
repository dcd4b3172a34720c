//! Registry and fault-propagation costs: register/whereis/unregister, a
//! whereis hit, and the time from a panic to the linked actor's `Stopped`.
//!
//! `cargo bench --bench links`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotp::{Actor, Context, ExitReason, Handlers, SpawnOptions, Stopped, System};

const WAIT: Duration = Duration::from_secs(60);

struct Idle;

impl Actor for Idle {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
}

fn registry(c: &mut Criterion) {
    let system = System::new();
    let actor = system.spawn(Idle);
    let mut group = c.benchmark_group("registry");
    group.throughput(Throughput::Elements(1));
    group.bench_function("register_whereis_unregister", |b| {
        b.iter(|| {
            system.register("bench", &actor).expect("the name is free");
            assert!(system.whereis("bench").is_some());
            assert!(system.unregister("bench").is_some());
        })
    });
    system.register("held", &actor).expect("the name is free");
    group.bench_function("whereis_hit", |b| {
        b.iter(|| assert!(system.whereis("held").is_some()))
    });
    group.finish();
}

/// Panics at its first message.
struct Fragile;

impl Fragile {
    fn crash(&mut self, _: (), _ctx: &mut Context<Self>) {
        panic!("bench crash");
    }
}

impl Actor for Fragile {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::crash)
    }
}

fn panic_to_linked_stopped(c: &mut Criterion) {
    ferrotp::silence_actor_panics();
    let system = System::new();
    let watcher = system.inbox();
    let mut group = c.benchmark_group("links");
    group.throughput(Throughput::Elements(1));
    group.bench_function("panic_to_linked_stopped", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Spawning is not what is measured: only crash → Stopped,
                // on an actor whose thread already runs.
                let fragile = system
                    .spawn_with(Fragile, SpawnOptions::new().await_started())
                    .expect("spawned");
                watcher.link(&fragile);
                let start = Instant::now();
                fragile.send(());
                let stopped: Stopped = watcher
                    .recv(WAIT)
                    .expect("linked")
                    .downcast()
                    .expect("Stopped");
                total += start.elapsed();
                assert!(matches!(stopped.reason, ExitReason::Panic(_)));
            }
            total
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = registry, panic_to_linked_stopped
}
criterion_main!(benches);
