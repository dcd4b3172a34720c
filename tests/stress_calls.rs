//! Stress of `Bridge::call` from plain threads, on both executors: each
//! scenario loops for `FERROTP_STRESS_SECS` seconds (default 3) and fails
//! on the first breach of a call's guarantees. Ignored by default:
//!
//! ```text
//! FERROTP_STRESS_SECS=10 cargo test --release --test stress_calls -- --ignored stress
//! ```
//!
//! On the pool, a call to an idle actor while a worker searches hands the
//! actor and its request to that worker, which puts the request in the
//! mailbox itself (`Core::offer_request`); these loops meet that path with
//! other senders, kills and stops, short timeouts and calls from inside
//! the pool, with pauses that find workers spinning, yielding or parked.

#[path = "common/budget.rs"]
mod budget;
#[allow(dead_code)]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use budget::{for_budget, pause};
use common::WAIT;
use ferrotp::{
    Actor, ActorRef, Bridge, CallError, Context, Executor, ExitReason, Handlers, Stop, System,
};

/// A request: echo `n` back, after spinning `spin_us` microseconds.
struct Echo {
    n: u64,
    spin_us: u64,
}

/// The `seq`-th message of plain sender `from`.
struct Told {
    from: usize,
    seq: u64,
}

/// How many `Told` came from each sender, in order; or the first breach.
struct Tally;

/// Answers `n` twice, and once more, with `u64::MAX`, when the next
/// `Echo` comes (from whoever): three answers that no later call of the
/// same caller may take for its own.
struct Thrice {
    n: u64,
}

/// Calls `target` with `Echo` from inside its handler (a call from a pool
/// worker) and answers what it got.
struct Relay {
    target: ActorRef,
    n: u64,
}

/// Echoes, and checks that each plain sender's messages come in order.
#[derive(Default)]
struct Server {
    next: [u64; 2],
    breach: Option<String>,
    /// The sender of the last `Thrice`, answered again at the next `Echo`.
    kept: Option<ActorRef>,
}

impl Server {
    fn echo(&mut self, Echo { n, spin_us }: Echo, ctx: &mut Context<Self>) {
        let until = Instant::now() + Duration::from_micros(spin_us);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        if let Some(kept) = self.kept.take() {
            ctx.send(&kept, u64::MAX);
        }
        ctx.reply(n);
    }

    fn thrice(&mut self, Thrice { n }: Thrice, ctx: &mut Context<Self>) {
        ctx.reply(n);
        ctx.reply(n);
        self.kept = ctx.sender().cloned();
    }

    fn told(&mut self, Told { from, seq }: Told, _ctx: &mut Context<Self>) {
        if self.breach.is_none() && self.next[from] != seq {
            self.breach = Some(format!(
                "sender {from}: {seq} came when {} was due",
                self.next[from]
            ));
        }
        self.next[from] = seq + 1;
    }

    fn tally(&mut self, _: Tally, ctx: &mut Context<Self>) {
        let answer = match self.breach.take() {
            Some(breach) => Err(breach),
            None => Ok(self.next),
        };
        ctx.reply(answer);
    }

    fn relay(&mut self, Relay { target, n }: Relay, ctx: &mut Context<Self>) {
        let bridge = ctx.system().bridge();
        let got: Result<u64, CallError> = bridge.call(&target, Echo { n, spin_us: 0 }, WAIT);
        ctx.reply(got.map_err(|e| e.to_string()));
    }
}

impl Actor for Server {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::echo)
            .on(Self::told)
            .on(Self::tally)
            .on(Self::relay)
            .on(Self::thrice)
    }
}

type Tallied = Result<[u64; 2], String>;

/// Two plain threads call one actor while two others send it numbered
/// messages: every call gets its own answer, and each sender's messages
/// arrive in the order sent.
fn calls_among_other_senders(system: &System, round: u64) {
    let server = system.spawn(Server::default());
    let calls = 100;
    let told = 150;
    std::thread::scope(|scope| {
        for caller in 0..2u64 {
            let (system, server) = (system.clone(), server.clone());
            scope.spawn(move || {
                let bridge = system.bridge();
                for i in 0..calls {
                    let n = (caller << 32) | i;
                    let spin_us = u64::from(i % 5 == 0);
                    let got: u64 = bridge
                        .call(&server, Echo { n, spin_us }, WAIT)
                        .expect("an answer");
                    assert_eq!(got, n, "a call took another's answer");
                    pause(round + i);
                }
            });
        }
        for from in 0..2usize {
            let server = server.clone();
            scope.spawn(move || {
                for seq in 0..told {
                    server.send(Told { from, seq });
                    if seq % 50 == 0 {
                        std::thread::yield_now();
                    }
                }
            });
        }
    });
    let bridge = system.bridge();
    let tally: Tallied = bridge.call(&server, Tally, WAIT).expect("a tally");
    assert_eq!(tally, Ok([told, told]));
    server.send(Stop);
}

/// A plain thread calls an actor that another thread stops or kills at a
/// moment of its own: each call answers right or fails with `Stopped`
/// within the timeout, never hangs, and the bridge's next call to a live
/// actor gets its own answer.
fn calls_racing_the_end(system: &System, round: u64) {
    let bridge = system.bridge();
    let server = system.spawn(Server::default());
    let ended = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..(round % 13) * 5 {
                std::hint::spin_loop();
            }
            match round % 3 {
                0 => server.kill(),
                1 => server.send(Stop),
                _ => server.exit(ExitReason::Error("stress".into())),
            }
            ended.store(true, Ordering::SeqCst);
        });
        let started = Instant::now();
        for i in 0u64.. {
            match bridge.call::<u64, _>(&server, Echo { n: i, spin_us: 0 }, WAIT) {
                Ok(got) => assert_eq!(got, i, "a call took another's answer"),
                Err(CallError::Stopped(_)) => break,
                Err(other) => panic!("call {i}: {other}"),
            }
            assert!(
                started.elapsed() < WAIT,
                "the target never ended (ended: {})",
                ended.load(Ordering::SeqCst)
            );
        }
    });
    let fresh = system.spawn(Server::default());
    let got: u64 = bridge
        .call(
            &fresh,
            Echo {
                n: round,
                spin_us: 0,
            },
            WAIT,
        )
        .expect("a live actor answers");
    assert_eq!(got, round, "a stale answer reached a later call");
    fresh.send(Stop);
}

/// Calls that time out while the answer is on its way, then a call with
/// time to spare: it gets its own answer, never the late one.
fn timeouts_leave_no_stale_answer(system: &System, bridge: &Bridge, server: &ActorRef, round: u64) {
    let late = bridge.call::<u64, _>(
        server,
        Echo {
            n: u64::MAX,
            spin_us: 20 + round % 50,
        },
        Duration::from_micros(round % 30),
    );
    match late {
        Ok(got) => assert_eq!(got, u64::MAX),
        Err(CallError::Timeout) => {}
        Err(other) => panic!("{other}"),
    }
    let got: u64 = bridge
        .call(
            server,
            Echo {
                n: round,
                spin_us: 0,
            },
            WAIT,
        )
        .expect("an answer");
    assert_eq!(got, round, "a late answer reached the next call");
    let _ = system;
}

/// An actor calls another from its handler (from a pool worker), while a
/// plain thread calls the second too.
fn calls_from_inside_and_outside(system: &System, round: u64) {
    let (relay, target) = (
        system.spawn(Server::default()),
        system.spawn(Server::default()),
    );
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let bridge = system.bridge();
            for i in 0..50 {
                let got: u64 = bridge
                    .call(&target, Echo { n: i, spin_us: 0 }, WAIT)
                    .expect("an answer");
                assert_eq!(got, i);
            }
        });
        let bridge = system.bridge();
        for i in 0..50 {
            let n = (round << 8) | i;
            let got: Result<u64, String> = bridge
                .call(
                    &relay,
                    Relay {
                        target: target.clone(),
                        n,
                    },
                    WAIT,
                )
                .expect("the relay answers");
            assert_eq!(got, Ok(n));
        }
    });
    relay.send(Stop);
    target.send(Stop);
}

/// Three threads share one bridge (a `Bridge` is `Sync`) and call one
/// actor: plain echoes, calls that time out while the answer is on its
/// way, and calls the actor answers three times (twice at once, once
/// more at a later request, from an address it kept). Every call gets its
/// own answer: the bridge's reply addresses, passed between the threads'
/// calls, never hand one call another's answer, nor a late or extra one.
fn calls_sharing_one_bridge(system: &System, round: u64) {
    let bridge = system.bridge();
    let server = system.spawn(Server::default());
    std::thread::scope(|scope| {
        for caller in 0..3u64 {
            let (bridge, server) = (&bridge, &server);
            scope.spawn(move || {
                for i in 0..24u64 {
                    let n = (caller << 32) | (round << 8) | i;
                    let (got, timeout): (Result<u64, _>, bool) = match i % 4 {
                        0 => (bridge.call(server, Thrice { n }, WAIT), false),
                        1 => {
                            let spin_us = 5 + (round + i) % 20;
                            let timeout = Duration::from_micros((round + i) % 15);
                            (bridge.call(server, Echo { n, spin_us }, timeout), true)
                        }
                        _ => (bridge.call(server, Echo { n, spin_us: 0 }, WAIT), false),
                    };
                    match got {
                        Ok(got) => assert_eq!(got, n, "call {i} of {caller} took another answer"),
                        Err(CallError::Timeout) if timeout => {}
                        Err(other) => panic!("call {i} of {caller}: {other}"),
                    }
                    if i % 6 == 0 {
                        pause(round + i / 6);
                    }
                }
            });
        }
    });
    server.send(Stop);
}

fn small_system(executor: Executor) -> System {
    System::builder().executor(executor).workers(2).build()
}

ferrotp::on_each_executor! {
    #[test]
    #[ignore = "stress: run with --ignored stress"]
    fn stress_calls_among_other_senders() {
        let system = small_system(EXECUTOR);
        for_budget("calls among senders", |round| calls_among_other_senders(&system, round));
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    #[ignore = "stress: run with --ignored stress"]
    fn stress_calls_racing_the_end() {
        let system = small_system(EXECUTOR);
        for_budget("calls racing the end", |round| calls_racing_the_end(&system, round));
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    #[ignore = "stress: run with --ignored stress"]
    fn stress_timeouts_leave_no_stale_answer() {
        let system = small_system(EXECUTOR);
        let bridge = system.bridge();
        let server = system.spawn(Server::default());
        for_budget("timeouts", |round| {
            timeouts_leave_no_stale_answer(&system, &bridge, &server, round);
            pause(round);
        });
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    #[ignore = "stress: run with --ignored stress"]
    fn stress_calls_sharing_one_bridge() {
        let system = small_system(EXECUTOR);
        for_budget("calls sharing a bridge", |round| calls_sharing_one_bridge(&system, round));
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    #[ignore = "stress: run with --ignored stress"]
    fn stress_calls_from_inside_and_outside() {
        let system = small_system(EXECUTOR);
        for_budget("calls inside and out", |round| calls_from_inside_and_outside(&system, round));
        system.shutdown(WAIT).unwrap();
    }
}
