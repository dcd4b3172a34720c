//! `System::run_woken` under races, on both executors: turns lent by
//! plain threads, pool workers and plain sends on one actor at once never
//! run it on two threads, never lose or reorder a sender's messages; a
//! kill during a lent turn ends the actor and frees the lender. Ignored by
//! default; run with
//!
//! ```text
//! FERROTP_STRESS_SECS=2 cargo test --release --test stress_run_woken -- --ignored stress
//! ```

#[path = "common/budget.rs"]
mod budget;
#[allow(dead_code)]
mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use budget::for_budget;
use common::{next, WAIT};
use ferrotp::{Actor, ActorRef, Context, Down, Executor, ExitReason, Handlers, System};

/// `(sender, seq)`.
struct Seq(usize, u64);

/// Checks that no two threads run it at once and that each sender's
/// numbers come in order; counts what it handled.
struct Exclusive {
    inside: Arc<AtomicBool>,
    last: [u64; 4],
    handled: Arc<AtomicU64>,
    broken: Arc<AtomicBool>,
}

impl Exclusive {
    fn seq(&mut self, Seq(sender, n): Seq, _: &mut Context<Self>) {
        if self.inside.swap(true, Ordering::SeqCst) {
            self.broken.store(true, Ordering::SeqCst);
        }
        if n != self.last[sender] + 1 {
            self.broken.store(true, Ordering::SeqCst);
        }
        self.last[sender] = n;
        self.handled.fetch_add(1, Ordering::SeqCst);
        self.inside.store(false, Ordering::SeqCst);
    }
}

impl Actor for Exclusive {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::seq)
    }
}

/// Sends `count` numbered messages as sender 3, from a pool worker (or
/// its own thread).
struct Pump(ActorRef);

impl Actor for Pump {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|me: &mut Self, count: u64, ctx: &mut Context<Self>| {
            for n in 1..=count {
                ctx.send(&me.0, Seq(3, n));
            }
        })
    }
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Two lending threads, a plain one and a pooled actor send to one actor
/// at once.
fn exclusive_and_in_order(executor: Executor, round: u64) {
    let system = System::builder().executor(executor).build();
    let (handled, broken) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let actor = system.spawn(Exclusive {
        inside: Arc::default(),
        last: [0; 4],
        handled: handled.clone(),
        broken: broken.clone(),
    });
    let pump = system.spawn(Pump(actor.clone()));
    let n = 50 + round % 150;
    std::thread::scope(|scope| {
        for sender in 0..3 {
            let (system, actor) = (&system, &actor);
            scope.spawn(move || {
                for i in 1..=n {
                    if sender < 2 {
                        system.run_woken(|| actor.send(Seq(sender, i)), || {});
                    } else {
                        actor.send(Seq(sender, i));
                    }
                }
            });
        }
        pump.send(n);
    });
    wait_until("every message handled", || {
        handled.load(Ordering::SeqCst) == 4 * n
    });
    assert!(
        !broken.load(Ordering::SeqCst),
        "two threads ran the actor, or a sender's messages were reordered"
    );
    system.shutdown(WAIT).expect("shuts down");
}

/// Spins for a while on each message.
struct Busy;

impl Actor for Busy {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|_: &mut Self, spins: u32, _: &mut Context<Self>| {
            for _ in 0..spins {
                std::hint::spin_loop();
            }
        })
    }
}

/// A lender sends to an actor in a loop while another thread kills it:
/// `Down` says `Killed`, and the lender is never left stuck.
fn kill_during_lent_turns(executor: Executor, round: u64) {
    let system = System::builder().executor(executor).build();
    let actor = system.spawn(Busy);
    let watcher = system.inbox();
    let monitor = watcher.monitor(&actor);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let lender = scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                system.run_woken(|| actor.send((round % 7) as u32 * 100), || {});
            }
        });
        for _ in 0..round % 50 {
            std::hint::spin_loop();
        }
        std::thread::yield_now();
        actor.kill();
        let (down, _) = next::<Down>(&watcher);
        assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Killed));
        stop.store(true, Ordering::SeqCst);
        lender.join().expect("the lender goes on");
    });
    system.shutdown(WAIT).expect("shuts down");
}

ferrotp::on_each_executor! {
    #[test]
    #[ignore]
    fn stress_lent_turns_are_exclusive_and_keep_each_senders_order() {
        for_budget("exclusive_and_in_order", |round| exclusive_and_in_order(EXECUTOR, round));
    }

    #[test]
    #[ignore]
    fn stress_a_kill_during_lent_turns_frees_the_lender() {
        for_budget("kill_during_lent_turns", |round| kill_during_lent_turns(EXECUTOR, round));
    }
}

/// One round of each, run with the ordinary tests.
#[test]
fn one_round_of_each_scenario() {
    for executor in [Executor::Pool, Executor::Threads] {
        for round in 0..20 {
            exclusive_and_in_order(executor, round);
            kill_during_lent_turns(executor, round);
        }
    }
}
