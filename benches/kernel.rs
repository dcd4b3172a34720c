//! Kernel throughput on the workloads of `shared/ANCHORS.md`: ping-pong
//! round trips, a Bridge call, 2→1 fan-in, a token ring, and spawn+stop.
//! Every workload checks its own counts, so a lost message fails the bench.
//!
//! `cargo bench --bench kernel`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrotp::{Actor, ActorRef, Context, Handlers, Inbox, Stop, System};

const WAIT: Duration = Duration::from_secs(60);

// ---- ping-pong: two actors, n sequential request → reply round trips ----

struct Ping(u64);
struct Pong(u64);
struct Serve {
    rounds: u64,
    partner: ActorRef,
    done: ActorRef,
}

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
        assert_eq!(n, self.left, "a round trip was lost or reordered");
        self.left -= 1;
        if self.left == 0 {
            if let Some(done) = &self.done {
                ctx.send(done, ());
            }
        } else {
            ctx.reply(Ping(self.left));
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

fn ping_pong(c: &mut Criterion) {
    let system = System::new();
    let done = system.inbox();
    let pinger = system.spawn(Pinger {
        left: 0,
        done: None,
    });
    let ponger = system.spawn(Ponger);
    let rounds = 10_000;
    let mut group = c.benchmark_group("ping_pong");
    group.throughput(Throughput::Elements(rounds));
    group.bench_function("actor_to_actor_10k_round_trips", |b| {
        b.iter(|| {
            pinger.send(Serve {
                rounds,
                partner: ponger.clone(),
                done: done.actor().clone(),
            });
            done.recv(WAIT).expect("the rally finishes");
        })
    });
    group.finish();

    let mut group = c.benchmark_group("bridge");
    group.throughput(Throughput::Elements(1));
    let bridge = system.bridge();
    group.bench_function("call_round_trip", |b| {
        b.iter(|| {
            let pong: Pong = bridge.call(&ponger, Ping(7), WAIT).expect("a reply");
            assert_eq!(pong.0, 7);
        })
    });
    group.finish();
}

// ---- fan-in: two producer threads → one counting actor ----

struct Count {
    seen: u64,
    expect: u64,
    done: Option<ActorRef>,
}
struct Expect(u64, ActorRef);

impl Count {
    fn expect(&mut self, Expect(n, done): Expect, _ctx: &mut Context<Self>) {
        self.seen = 0;
        self.expect = n;
        self.done = Some(done);
    }

    fn item(&mut self, _item: u64, ctx: &mut Context<Self>) {
        self.seen += 1;
        if self.seen == self.expect {
            if let Some(done) = &self.done {
                ctx.send(done, self.seen);
            }
        }
    }
}

impl Actor for Count {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::expect).on(Self::item)
    }
}

fn fan_in(c: &mut Criterion) {
    let system = System::new();
    let done = system.inbox();
    let counter = system.spawn(Count {
        seen: 0,
        expect: 0,
        done: None,
    });
    let per_producer: u64 = 100_000;
    let mut group = c.benchmark_group("fan_in");
    group.throughput(Throughput::Elements(2 * per_producer));
    group.bench_function("2_producers_to_1_actor_200k_msgs", |b| {
        b.iter(|| {
            counter.send(Expect(2 * per_producer, done.actor().clone()));
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for i in 0..per_producer {
                            counter.send(i);
                        }
                    });
                }
            });
            let seen: u64 = done
                .recv(WAIT)
                .expect("all counted")
                .downcast()
                .expect("a count");
            assert_eq!(seen, 2 * per_producer);
        })
    });
    group.finish();
}

// ---- ring: a token through 1,000 actors, 10 laps ----

struct Token(u64);
struct Hop {
    next: Option<ActorRef>,
    done: ActorRef,
}

impl Hop {
    fn token(&mut self, Token(left): Token, ctx: &mut Context<Self>) {
        match (&self.next, left) {
            (_, 0) => ctx.send(&self.done, ()),
            (Some(next), _) => ctx.send(next, Token(left - 1)),
            (None, _) => {}
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

fn ring(c: &mut Criterion) {
    let system = System::new();
    let done = system.inbox();
    let size = 1_000;
    let laps = 10;
    let ring: Vec<ActorRef> = (0..size)
        .map(|_| {
            system.spawn(Hop {
                next: None,
                done: done.actor().clone(),
            })
        })
        .collect();
    for (i, hop) in ring.iter().enumerate() {
        hop.send(ring[(i + 1) % size].clone());
    }
    let hops = (size * laps) as u64;
    let mut group = c.benchmark_group("ring");
    group.throughput(Throughput::Elements(hops));
    group.bench_function("1000_actors_10_laps", |b| {
        b.iter(|| {
            ring[0].send(Token(hops));
            done.recv(WAIT).expect("the token comes home");
        })
    });
    group.finish();
}

// ---- spawn: actors spawned, each handles one message, all stopped ----

struct OneShot;

impl OneShot {
    fn hello(&mut self, _: u8, ctx: &mut Context<Self>) {
        ctx.reply(());
    }
}

impl Actor for OneShot {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::hello)
    }
}

fn spawn_stop_batch(system: &System, inbox: &Inbox, n: usize) {
    let actors: Vec<ActorRef> = (0..n).map(|_| system.spawn(OneShot)).collect();
    for actor in &actors {
        inbox.send(actor, 1u8);
    }
    for _ in 0..n {
        inbox.recv(WAIT).expect("each actor answers");
    }
    let watchers: Vec<_> = actors.iter().map(|a| inbox.monitor(a)).collect();
    for actor in &actors {
        actor.send(Stop);
    }
    for _ in &watchers {
        inbox.recv(WAIT).expect("each actor stops");
    }
}

fn spawn_stop(c: &mut Criterion) {
    let system = System::new();
    let inbox = system.inbox();
    let batch = 1_000;
    let mut group = c.benchmark_group("spawn");
    group.throughput(Throughput::Elements(batch as u64));
    group.bench_function("spawn_message_stop_1000", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                spawn_stop_batch(&system, &inbox, batch);
            }
            start.elapsed()
        })
    });
    group.finish();
}

// ---- lifecycle events: what a subscriber costs, and what none costs ----

fn lifecycle_events(c: &mut Criterion) {
    let batch = 1_000;
    let mut group = c.benchmark_group("events");
    group.throughput(Throughput::Elements(batch as u64));
    for subscribed in [false, true] {
        let system = System::new();
        let inbox = system.inbox();
        let events = subscribed.then(|| system.subscribe());
        let label = if subscribed {
            "spawn_stop_1000_subscribed"
        } else {
            "spawn_stop_1000_no_subscriber"
        };
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    spawn_stop_batch(&system, &inbox, batch);
                    if let Some(events) = &events {
                        // Spawned + Exited per actor (and the inboxes' exits).
                        let seen = std::iter::from_fn(|| events.try_recv()).count();
                        assert!(seen >= 2 * batch, "events were lost: {seen}");
                    }
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = ping_pong, fan_in, ring, spawn_stop, lifecycle_events
}
criterion_main!(benches);
