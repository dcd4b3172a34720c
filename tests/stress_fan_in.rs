//! A fan-in under the order rules: actors and plain threads flood one
//! consumer that traps exits, each actor linked to it and ending once it
//! has sent its share. Every sender's messages must arrive in the order
//! sent, and a producer's `Stopped` after every message it sent (a trapped
//! exit never overtakes earlier messages) — with backlogs far past a pool
//! turn's quota, where a consumer that no other actor waits behind keeps
//! its turn and its batch from one quota to the next.
//!
//! `a_fan_in_keeps_each_senders_order_and_every_trapped_exit_in_its_place`
//! runs a few rounds with the suite; the `#[ignore]`d stress version loops
//! for `FERROTP_STRESS_SECS` seconds (default 3) on both executors:
//! `FERROTP_STRESS_SECS=2 cargo test --release --test stress_fan_in -- --ignored stress`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ferrotp::{
    Actor, ActorId, ActorRef, Context, ExitReason, Handlers, Inbox, SpawnOptions, Stopped, System,
};

/// Generous: a loaded debug build is slow, and a lost message fails the
/// round anyway (no report comes).
const WAIT: Duration = Duration::from_secs(60);

/// Producer actors per round, each linked to the consumer.
const ACTORS: u64 = 2;
/// Items each producer actor sends (past a turn's quota of 64).
const ACTOR_ITEMS: u64 = 300;
/// Plain threads per round, each sending `THREAD_ITEMS`.
const THREADS: u64 = 2;
const THREAD_ITEMS: u64 = 3_000;

/// The `seq`-th item of producer `producer` (actors first, then threads).
struct Item {
    producer: u64,
    seq: u64,
}

/// What the consumer must see, and whom it tells.
struct Expect {
    /// Each producer actor's id and its index among the producers.
    actors: Vec<(ActorId, u64)>,
    report: ActorRef,
}

/// Checks each producer's order and that a producer actor's end comes
/// after all its items; reports `Ok` once everything came, or the first
/// fault, then ends.
struct Consumer {
    next: Vec<u64>,
    actors: HashMap<ActorId, u64>,
    ended: u64,
    fault: Option<String>,
    report: Option<ActorRef>,
}

impl Consumer {
    fn new() -> Self {
        Consumer {
            next: vec![0; (ACTORS + THREADS) as usize],
            actors: HashMap::new(),
            ended: 0,
            fault: None,
            report: None,
        }
    }

    fn expect(&mut self, expect: Expect, _ctx: &mut Context<Self>) {
        self.actors = expect.actors.into_iter().collect();
        self.report = Some(expect.report);
    }

    fn fault(&mut self, fault: String) {
        self.fault.get_or_insert(fault);
    }

    fn item(&mut self, Item { producer, seq }: Item, ctx: &mut Context<Self>) {
        let next = std::mem::replace(&mut self.next[producer as usize], seq + 1);
        if next != seq {
            self.fault(format!(
                "producer {producer}: item {seq} came when {next} was due"
            ));
        }
        self.check_done(ctx);
    }

    fn stopped(&mut self, stopped: Stopped, ctx: &mut Context<Self>) {
        match self.actors.get(&stopped.actor) {
            Some(&producer) => {
                let got = self.next[producer as usize];
                if stopped.reason != ExitReason::Normal || got != ACTOR_ITEMS {
                    let fault = format!(
                        "producer {producer} ended ({}) after {got} of its {ACTOR_ITEMS} items",
                        stopped.reason
                    );
                    self.fault(fault);
                }
                self.ended += 1;
            }
            None => self.fault(format!("an unknown end: {stopped:?}")),
        }
        self.check_done(ctx);
    }

    fn check_done(&mut self, ctx: &mut Context<Self>) {
        let threads_done = self.next[ACTORS as usize..]
            .iter()
            .all(|&n| n == THREAD_ITEMS);
        let done = self.ended == ACTORS && threads_done;
        if done || self.fault.is_some() {
            if let Some(report) = self.report.take() {
                let outcome: Result<(), String> = match self.fault.take() {
                    Some(fault) => Err(fault),
                    None => Ok(()),
                };
                ctx.send(&report, outcome);
                ctx.stop(ExitReason::Normal);
            }
        }
    }
}

impl Actor for Consumer {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::expect)
            .on(Self::item)
            .on(Self::stopped)
    }
}

/// Tells a producer actor to link to `consumer`, send it its items as
/// producer `producer`, and end.
struct Go {
    consumer: ActorRef,
    producer: u64,
}

struct Producer;

impl Producer {
    fn go(&mut self, Go { consumer, producer }: Go, ctx: &mut Context<Self>) {
        ctx.link(&consumer);
        for seq in 0..ACTOR_ITEMS {
            ctx.send(&consumer, Item { producer, seq });
        }
        ctx.stop(ExitReason::Normal);
    }
}

impl Actor for Producer {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::go)
    }
}

/// One round: a fresh consumer, its producers, and the outcome it reports.
fn round(system: &System, inbox: &Inbox) -> Result<(), String> {
    let consumer = system
        .spawn_with(Consumer::new(), SpawnOptions::new().trap_exit(true))
        .map_err(|e| format!("spawn: {e}"))?;
    let actors: Vec<ActorRef> = (0..ACTORS).map(|_| system.spawn(Producer)).collect();
    consumer.send(Expect {
        actors: actors.iter().zip(0..).map(|(a, i)| (a.id(), i)).collect(),
        report: inbox.actor().clone(),
    });
    for (actor, producer) in actors.iter().zip(0..) {
        actor.send(Go {
            consumer: consumer.clone(),
            producer,
        });
    }
    std::thread::scope(|s| {
        for producer in ACTORS..ACTORS + THREADS {
            let consumer = &consumer;
            s.spawn(move || {
                for seq in 0..THREAD_ITEMS {
                    consumer.send(Item { producer, seq });
                }
            });
        }
    });
    let envelope = inbox
        .recv(WAIT)
        .map_err(|_| format!("no report within {WAIT:?}: a message or an end was lost"))?;
    match envelope.downcast::<Result<(), String>>() {
        Ok(outcome) => outcome,
        Err(other) => Err(format!("expected the report, got a {}", other.type_name())),
    }
}

/// How long the stress test loops: `FERROTP_STRESS_SECS` seconds (default 3).
fn stress_duration() -> Duration {
    let secs = std::env::var("FERROTP_STRESS_SECS")
        .ok()
        .and_then(|text| text.trim().parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs.max(0.0))
}

ferrotp::on_each_executor! {
    #[test]
    fn a_fan_in_keeps_each_senders_order_and_every_trapped_exit_in_its_place() {
        let system = new_system();
        let inbox = system.inbox();
        for n in 0..3 {
            if let Err(fault) = round(&system, &inbox) {
                panic!("round {n}: {fault}");
            }
        }
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    #[ignore]
    fn stress_fan_in_keeps_each_senders_order_and_every_trapped_exit_in_its_place() {
        let system = new_system();
        let inbox = system.inbox();
        let until = Instant::now() + stress_duration();
        let mut rounds = 0u64;
        while rounds == 0 || Instant::now() < until {
            if let Err(fault) = round(&system, &inbox) {
                panic!("round {rounds}: {fault}");
            }
            rounds += 1;
        }
        println!("{rounds} rounds");
        system.shutdown(WAIT).unwrap();
    }
}
