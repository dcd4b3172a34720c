//! Stress of plain code's requests racing an actor's end, on both
//! executors: each scenario loops for `FERROTP_STRESS_SECS` seconds
//! (default 3) and fails on the first breach. Ignored by default:
//!
//! ```text
//! FERROTP_STRESS_SECS=10 cargo test --release --test stress_inbox_ends -- --ignored stress
//! ```
//!
//! On the pool, a request sent the moment the last answer came finds its
//! actor still ending the turn that answered, and the sender waits a
//! moment for it to go idle (`Pool::claim_for_request`). On threads, a
//! request to an idle dedicated actor waits in the lane in front of its
//! mailbox. These loops end the actor (kill, `Stop`, an exit signal)
//! while requests take those paths: each is answered in order before the
//! end, or counted as a dead letter and dropped once.

#[path = "common/budget.rs"]
mod budget;
#[allow(dead_code)]
mod common;
#[path = "common/inbox_server.rs"]
mod inbox_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use budget::{for_budget, pause, wait_until};
use common::WAIT;
use ferrotp::{Actor, Context, Down, ExitReason, Handlers, Inbox, Stop, System};
use inbox_server::{systems, Counted, Server, Tally, Token};

/// The `n`-th message of sender `from`, answered with `n` if it came
/// with a sender.
struct Tagged {
    from: usize,
    n: u64,
}

/// How far each sender's messages came, or the first breach.
type Counts = Result<[u64; 3], String>;

/// Answers what asks, and checks that each sender's messages come in
/// the order sent.
#[derive(Default)]
struct PerSender {
    next: [u64; 3],
    breach: Option<String>,
}

impl PerSender {
    fn tagged(&mut self, Tagged { from, n }: Tagged, ctx: &mut Context<Self>) {
        if self.breach.is_none() && self.next[from] != n {
            let due = self.next[from];
            self.breach = Some(format!("sender {from}: {n} came when {due} was due"));
        }
        self.next[from] = n + 1;
        if ctx.sender().is_some() {
            ctx.reply(n);
        }
    }

    fn tally(&mut self, _: Tally, ctx: &mut Context<Self>) {
        let counts: Counts = match self.breach.take() {
            Some(breach) => Err(breach),
            None => Ok(self.next),
        };
        ctx.reply(counts);
    }
}

impl Actor for PerSender {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::tagged).on(Self::tally)
    }
}

/// An inbox's requests sent the moment the last answer came, which on
/// the pool find the actor still ending the turn that answered (the
/// sender waits a moment for it to go idle, `Pool::claim_for_request`),
/// while another thread streams mail to the actor and a second inbox
/// sends without waiting for answers; in one round of four a thread
/// kills the actor meanwhile. Each sender's messages arrive in order,
/// each answer is its own request's, and a killed actor's `Down` comes
/// (no request waits on an actor that ended).
fn requests_racing_the_turns_end(system: &System) {
    for_budget("requests racing the end of the turn", |round| {
        let actor = system.spawn(PerSender::default());
        let inbox = Inbox::new(system);
        let monitor = inbox.monitor(&actor);
        let kill = round % 4 == 3;
        let (asks, streamed, sent) = (200u64, 300u64, 100u64);
        let mut answered = 0;
        std::thread::scope(|scope| {
            let streamer = actor.clone();
            scope.spawn(move || {
                for n in 0..streamed {
                    streamer.send(Tagged { from: 1, n });
                    if n % 64 == round % 64 {
                        std::thread::yield_now();
                    }
                }
            });
            let (other, to) = (Inbox::new(system), actor.clone());
            scope.spawn(move || {
                for n in 0..sent {
                    other.send(&to, Tagged { from: 2, n });
                }
            });
            if kill {
                let victim = actor.clone();
                scope.spawn(move || {
                    for _ in 0..(round % 41) * 20 {
                        std::hint::spin_loop();
                    }
                    victim.kill();
                });
            }
            for n in 0..asks {
                inbox.send(&actor, Tagged { from: 0, n });
                let got = inbox.recv(WAIT).expect("an answer or the end");
                match got.downcast::<u64>() {
                    Ok(m) => {
                        assert_eq!(m, n, "an answer to another request");
                        answered += 1;
                    }
                    Err(other) => {
                        let down: Down = other.downcast().expect("an answer or a Down");
                        assert!(kill, "the actor ended unkilled: {:?}", down.reason);
                        assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Killed));
                        break;
                    }
                }
            }
        });
        if kill {
            if answered == asks {
                let down: Down = inbox
                    .recv(WAIT)
                    .expect("the killed actor's Down")
                    .downcast()
                    .expect("a Down");
                assert_eq!(down.reason, ExitReason::Killed);
            }
        } else {
            let counts: Counts = system.bridge().call(&actor, Tally, WAIT).expect("a tally");
            assert_eq!(counts, Ok([asks, streamed, sent]));
            actor.send(Stop);
        }
        pause(round);
    });
}

#[test]
#[ignore = "stress: run with --ignored"]
fn stress_inbox_requests_racing_the_turns_end() {
    for system in systems() {
        requests_racing_the_turns_end(&system);
        system.shutdown(WAIT).expect("the system shuts down");
    }
}

/// An inbox asks an actor one request at a time (on threads, each waits
/// in the lane for the actor's idle thread, spinning or asleep) while
/// another thread kills it, stops it or sends it an exit signal at a
/// moment of its own: each request is answered before the actor's end
/// comes, or is counted as a dead letter (one left in the lane, or taken
/// by the woken driver after the kill, too); every request is dropped
/// exactly once.
fn requests_racing_the_end(system: &System) {
    for_budget("requests racing the end", |round| {
        let inbox = Inbox::new(system);
        let server = system.spawn(Server);
        let monitor = inbox.monitor(&server);
        let drops = Arc::new(AtomicU64::new(0));
        let dead_before = system.dead_letters();
        let ask = |n| {
            let _token = Token(drops.clone());
            inbox.send(&server, Counted { n, _token });
        };
        let mut sent = 0;
        let mut answered = 0;
        std::thread::scope(|scope| {
            let target = server.clone();
            scope.spawn(move || {
                for _ in 0..(round % 29) * 20 {
                    std::hint::spin_loop();
                }
                pause(round / 2);
                match round % 3 {
                    0 => target.kill(),
                    1 => target.send(Stop),
                    _ => target.exit(ExitReason::Error("ends".into())),
                }
            });
            loop {
                ask(sent);
                sent += 1;
                let got = inbox.recv(WAIT).expect("an answer or the end");
                match got.downcast::<u64>() {
                    Ok(n) => {
                        assert_eq!(n, answered, "an answer came out of order");
                        answered += 1;
                    }
                    Err(end) => {
                        let down: Down = end.downcast().expect("an answer or a Down");
                        assert_eq!(down.monitor, monitor);
                        break;
                    }
                }
                if sent % 8 == 0 {
                    pause(round + sent);
                }
            }
        });
        // Sent after the end: refused at once.
        for _ in 0..round % 3 {
            ask(sent);
            sent += 1;
        }
        wait_until("every request dropped", WAIT, || {
            drops.load(Ordering::SeqCst) == sent
        });
        let dead = || system.dead_letters() - dead_before;
        wait_until("each unanswered request a dead letter", WAIT, || {
            dead() >= sent - answered
        });
        assert_eq!(
            dead(),
            sent - answered,
            "more dead letters than requests lost"
        );
        assert_eq!(
            drops.load(Ordering::SeqCst),
            sent,
            "a request was dropped twice"
        );
        assert!(inbox.try_recv().is_none(), "nothing came after the end");
    });
}

#[test]
#[ignore = "stress: run with --ignored"]
fn stress_inbox_requests_racing_the_end() {
    for system in systems() {
        requests_racing_the_end(&system);
        system.shutdown(WAIT).expect("the system shuts down");
    }
}
