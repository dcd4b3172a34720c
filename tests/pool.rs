//! What only the pooled executor has to prove: a worker stuck in a killed
//! actor's handler is replaced, actors that block on each other cannot
//! deadlock a small pool, no actor starves the others, and many senders
//! lose and reorder nothing. (Everything else runs on both executors in the
//! other test files.)

mod common;

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{answers_ping, ask, next, spawn_puppet, tell, Puppet, WAIT};
use ferrotp::{
    Actor, ActorRef, Bridge, Context, Down, Executor, ExitReason, Handlers, Stop, Stopped, System,
};

fn pool(workers: usize) -> System {
    System::builder()
        .executor(Executor::Pool)
        .workers(workers)
        .build()
}

/// Waits for a counter to reach a state. The pool's thread counts change
/// without a message to wait on, so this re-reads them, for at most `WAIT`.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_worker_stuck_in_a_killed_actors_handler_is_replaced() {
    let system = pool(1);
    let inbox = system.inbox();
    let bridge = system.bridge();
    let stuck = spawn_puppet(&system, &inbox, false);
    let monitor = inbox.monitor(&stuck);
    let (entered_tx, entered) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    tell(&stuck, move |_| {
        entered_tx.send(()).unwrap();
        // Blocks the only worker, outside anything the runtime knows of.
        let _ = released.recv();
    });
    entered.recv_timeout(WAIT).expect("the handler runs");
    assert_eq!(system.pool_workers(), 1);

    stuck.kill();
    let (down, _) = next::<Down>(&inbox);
    assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Killed));
    assert_eq!(system.stuck_workers(), 1);
    assert_eq!(
        system.pool_workers(),
        2,
        "a worker took the stuck one's place"
    );

    // The pool still runs actors, old and new.
    let fresh = spawn_puppet(&system, &inbox, false);
    assert!(answers_ping(&bridge, &fresh));

    // The handler returns at last: the abandoned worker leaves, and what
    // it does on its way out is void.
    release.send(()).unwrap();
    wait_until("the abandoned worker leaves", || {
        system.stuck_workers() == 0 && system.pool_workers() == 1
    });
    assert!(answers_ping(&bridge, &fresh));
    system.shutdown(WAIT).unwrap();
}

/// Asks each actor of `chain` to ask the next, from inside its handler, with
/// a blocking `Bridge::call`: every link holds its worker while it waits.
fn relay(bridge: &Bridge, chain: &[ActorRef]) -> usize {
    match chain.split_first() {
        None => 0,
        Some((first, rest)) => {
            let rest = rest.to_vec();
            ask(bridge, first, move |ctx| {
                1 + relay(&ctx.system().bridge(), &rest)
            })
        }
    }
}

#[test]
fn actors_that_call_each_other_do_not_deadlock_a_one_worker_pool() {
    let system = pool(1);
    let inbox = system.inbox();
    let chain: Vec<ActorRef> = (0..6)
        .map(|_| spawn_puppet(&system, &inbox, false))
        .collect();
    assert_eq!(relay(&system.bridge(), &chain), 6);
    // The workers added while the chain waited leave once they are idle.
    system.shutdown(WAIT).unwrap();
}

#[test]
fn a_child_started_from_a_handler_runs_while_its_spawner_waits() {
    // A pooled spawner that awaits `started` on a one-worker pool: the
    // child's `started` must not need the worker its spawner holds.
    let system = pool(1);
    let inbox = system.inbox();
    let parent = spawn_puppet(&system, &inbox, false);
    let report = inbox.actor().clone();
    let started = ask(&system.bridge(), &parent, move |ctx| {
        let child = Puppet {
            report,
            stopped_ran: Default::default(),
        };
        ctx.spawn_with(child, ferrotp::SpawnOptions::new().await_started())
            .is_ok()
    });
    assert!(started);
    system.shutdown(WAIT).unwrap();
}

struct Ball;

/// Sends the ball back to its partner, forever.
struct Bouncer {
    partner: Option<ActorRef>,
}

impl Bouncer {
    fn partner(&mut self, partner: ActorRef, _ctx: &mut Context<Self>) {
        self.partner = Some(partner);
    }
    fn ball(&mut self, _: Ball, ctx: &mut Context<Self>) {
        if let Some(partner) = &self.partner {
            ctx.send(partner, Ball);
        }
    }
}

impl Actor for Bouncer {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::partner).on(Self::ball)
    }
}

/// Sends itself another message for every message it handles.
fn flood(ctx: &mut Context<Puppet>) {
    let me = ctx.myself().clone();
    tell(&me, flood);
}

#[test]
fn a_flooding_actor_and_a_chatty_pair_do_not_starve_the_others() {
    let system = System::builder()
        .executor(Executor::Pool)
        .workers(1)
        .turn_quota(4)
        .build();
    let inbox = system.inbox();
    let bridge = system.bridge();
    let flooder = spawn_puppet(&system, &inbox, false);
    tell(&flooder, flood);
    let a = system.spawn(Bouncer { partner: None });
    let b = system.spawn(Bouncer { partner: None });
    a.send(b.clone());
    b.send(a.clone());
    a.send(Ball);

    // Neither the flood nor the rally ever leaves the only worker idle,
    // yet a newcomer and the flooder itself keep being served.
    let newcomer = spawn_puppet(&system, &inbox, false);
    for _ in 0..20 {
        assert!(answers_ping(&bridge, &newcomer));
        assert!(answers_ping(&bridge, &flooder));
    }
    system.shutdown(WAIT).unwrap();
}

/// A turn whose quota runs out while no other actor waits goes on (a
/// fan-in's consumer keeps its batch), but only while none does: an actor
/// that never runs out of mail and has the only worker still lets a call
/// from outside (the injector) and an actor it wakes itself (the worker's
/// own queue) run, at its next quota.
#[test]
fn a_turn_that_goes_on_past_its_quota_still_lets_the_others_run() {
    let system = System::builder()
        .executor(Executor::Pool)
        .workers(1)
        .turn_quota(4)
        .build();
    let inbox = system.inbox();
    let bridge = system.bridge();
    let flooder = spawn_puppet(&system, &inbox, false);
    tell(&flooder, flood);
    let newcomer = spawn_puppet(&system, &inbox, false);
    for _ in 0..20 {
        assert!(answers_ping(&bridge, &newcomer));
    }
    let report = inbox.actor().clone();
    for round in 0..20u32 {
        let partner = spawn_puppet(&system, &inbox, false);
        let report = report.clone();
        // Queued on the worker the flooder holds, by the flooder's handler.
        tell(&flooder, move |_| {
            tell(&partner, move |ctx| ctx.send(&report, round));
        });
        let (ran, _) = next::<u32>(&inbox);
        assert_eq!(ran, round);
    }
    system.shutdown(WAIT).unwrap();
}

/// Counts `(producer, sequence)` items and checks each producer's order.
struct Tally {
    expected: u64,
    seen: u64,
    last: HashMap<u64, u64>,
    out_of_order: u64,
    report: ActorRef,
}

impl Tally {
    fn item(&mut self, (producer, seq): (u64, u64), ctx: &mut Context<Self>) {
        let last = self.last.entry(producer).or_insert(0);
        if seq != *last + 1 {
            self.out_of_order += 1;
        }
        *last = seq;
        self.seen += 1;
        if self.seen == self.expected {
            ctx.send(&self.report, (self.seen, self.out_of_order));
        }
    }
}

impl Actor for Tally {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::item)
    }
}

/// How long the tally of [`many_senders_lose_and_reorder_nothing`] may
/// take: 120,000 messages in a debug build take about a second on a quiet
/// machine and up to 11 s on a loaded one, past the common `WAIT`. A lost
/// message still fails the test: the tally never reports.
const TALLY_WAIT: Duration = Duration::from_secs(60);

#[test]
fn many_senders_lose_and_reorder_nothing() {
    const PRODUCERS: u64 = 6;
    const EACH: u64 = 20_000;
    let system = pool(2);
    let inbox = system.inbox();
    let tally = system.spawn(Tally {
        expected: PRODUCERS * EACH,
        seen: 0,
        last: HashMap::new(),
        out_of_order: 0,
        report: inbox.actor().clone(),
    });
    // Pooled producers, in bursts so that they interleave with the tally,
    // and one plain thread.
    fn burst(ctx: &mut Context<Puppet>, producer: u64, from: u64, to: ActorRef) {
        let end = (from + 500).min(EACH + 1);
        for seq in from..end {
            ctx.send(&to, (producer, seq));
        }
        if end <= EACH {
            let me = ctx.myself().clone();
            tell(&me, move |ctx| burst(ctx, producer, end, to));
        }
    }
    for producer in 1..PRODUCERS {
        let actor = spawn_puppet(&system, &inbox, false);
        let to = tally.clone();
        tell(&actor, move |ctx| burst(ctx, producer, 1, to));
    }
    let to = tally.clone();
    let outside = std::thread::spawn(move || {
        for seq in 1..=EACH {
            to.send((PRODUCERS, seq));
        }
    });
    let report = inbox
        .recv(TALLY_WAIT)
        .unwrap_or_else(|_| panic!("no tally within {TALLY_WAIT:?}: a message was lost"));
    let (seen, out_of_order) = report
        .downcast::<(u64, u64)>()
        .unwrap_or_else(|other| panic!("expected the tally, got a {}", other.type_name()));
    outside.join().unwrap();
    assert_eq!((seen, out_of_order), (PRODUCERS * EACH, 0));
    // Ended before the shutdown, whose signal would overtake a queued
    // `Stop` and leave it unread (a dead letter).
    let monitor = inbox.monitor(&tally);
    tally.send(Stop);
    let down = next::<ferrotp::Down>(&inbox).0;
    assert_eq!(down.monitor, monitor);
    system.shutdown(WAIT).unwrap();
    assert_eq!(system.dead_letters(), 0);
}

#[test]
fn a_dedicated_actor_and_a_pooled_one_stop_each_other_through_a_link() {
    let system = pool(1);
    let inbox = system.inbox();
    let pooled = spawn_puppet(&system, &inbox, true);
    let dedicated = system
        .spawn_with(
            common::puppet(&inbox),
            ferrotp::SpawnOptions::new().dedicated().link(&pooled),
        )
        .unwrap();
    assert_eq!(
        system.threads(),
        1,
        "the dedicated actor has its own thread"
    );
    common::crash(&dedicated);
    let (stopped, from) = next::<Stopped>(&inbox);
    assert_eq!(from, Some(pooled.id()));
    assert_eq!(stopped.actor, dedicated.id());
    assert!(matches!(stopped.reason, ExitReason::Panic(_)));
    system.shutdown(WAIT).unwrap();
    assert_eq!((system.threads(), system.pool_workers()), (0, 0));
}

struct Idle;

impl Actor for Idle {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
}

#[test]
fn a_nested_supervision_tree_starts_and_stops_on_a_one_worker_pool() {
    use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorSpec};
    // Each supervisor starts its children from its own handler and, at the
    // end, waits in its handler for each child to stop: with one worker,
    // that only works if waiting lends the worker out.
    let leaf = |name: &str| {
        SupervisorSpec::one_for_one()
            .child(ChildSpec::worker(format!("{name}-a"), || Idle))
            .child(ChildSpec::worker(format!("{name}-b"), || Idle))
    };
    let middle = SupervisorSpec::one_for_all()
        .child(ChildSpec::supervisor("left", leaf("left")))
        .child(ChildSpec::supervisor("right", leaf("right")));
    let root = SupervisorSpec::rest_for_one()
        .child(ChildSpec::supervisor("middle", middle))
        .child(ChildSpec::worker("last", || Idle));
    let system = pool(1);
    let tree = Supervisor::start(&system, root).expect("the tree starts");
    assert_eq!(tree.count_children().unwrap().supervisors, 1);
    tree.stop(WAIT).expect("the tree stops in order");
    system.shutdown(WAIT).unwrap();
}

#[test]
fn an_actor_woken_by_a_turn_with_more_work_in_hand_runs_on_another_worker() {
    // A handler wakes `b`, then keeps its worker busy with the rest of
    // its batch: `b` must not wait for that batch to end while the other
    // worker idles. (Without that wake-up, this failed in about half the
    // runs: those where the other worker had parked already.)
    let system = pool(2);
    let inbox = system.inbox();
    let a = spawn_puppet(&system, &inbox, false);
    let b = spawn_puppet(&system, &inbox, false);
    let (held_tx, held) = mpsc::channel();
    let (release_first, first_released) = mpsc::channel::<()>();
    let (release_second, second_released) = mpsc::channel::<()>();
    tell(&a, move |_| {
        held_tx.send(()).unwrap();
        let _ = first_released.recv();
    });
    held.recv_timeout(WAIT).expect("a's first job runs");
    // Queued while `a` is busy, so its turn takes both at once.
    let report = inbox.actor().clone();
    let to_b = b.clone();
    tell(&a, move |ctx| {
        let job = common::Job(Box::new(move |ctx| ctx.send(&report, "b ran")));
        ctx.send(&to_b, job);
        // Blocks outside anything the runtime knows of.
        let _ = second_released.recv();
    });
    tell(&a, |_| {});
    release_first.send(()).unwrap();
    let (ran, from) = next::<&str>(&inbox);
    assert_eq!((ran, from), ("b ran", Some(b.id())));
    release_second.send(()).unwrap();
    system.shutdown(WAIT).unwrap();
}

/// Gives idle workers the time to stop searching and park, which makes the
/// hard case (a woken actor that only a parked worker could take) the usual
/// one. Nothing in the tests' outcome depends on this pause.
fn let_the_workers_park() {
    std::thread::sleep(Duration::from_millis(50));
}

/// Keeps the calling thread busy for `how_long`, as a CPU-heavy handler does.
fn compute_for(how_long: Duration) {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < how_long {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
    }
}

#[test]
fn an_actor_woken_by_a_long_handler_runs_while_that_handler_computes() {
    // `a` wakes `b` (which goes to the top of `a`'s worker's queue, to run
    // right after `a`'s turn), then computes for 400 ms. The other worker
    // has parked long before: it must be woken to take `b`.
    let system = pool(2);
    let inbox = system.inbox();
    let a = spawn_puppet(&system, &inbox, false);
    let b = spawn_puppet(&system, &inbox, false);
    assert!(answers_ping(&system.bridge(), &a));
    assert!(answers_ping(&system.bridge(), &b));
    let_the_workers_park();
    let report = inbox.actor().clone();
    tell(&a, move |ctx| {
        let to_report = report.clone();
        let job = common::Job(Box::new(move |ctx| ctx.send(&to_report, "b ran")));
        ctx.send(&b, job);
        compute_for(Duration::from_millis(400));
        ctx.send(&report, "a done");
    });
    let (first, _) = next::<&str>(&inbox);
    let (second, _) = next::<&str>(&inbox);
    assert_eq!(
        (first, second),
        ("b ran", "a done"),
        "the woken actor waited for its waker's whole handler"
    );
    system.shutdown(WAIT).unwrap();
}

#[test]
fn a_handler_that_waits_in_a_loop_for_an_actor_it_stopped_sees_it_stop() {
    // The wait is a loop the pool cannot see (no `Bridge::call`): the
    // stopped actor sits in this worker's queue unless another worker
    // takes it.
    let system = pool(2);
    let inbox = system.inbox();
    let bridge = system.bridge();
    let waiter = spawn_puppet(&system, &inbox, false);
    let target = spawn_puppet(&system, &inbox, false);
    assert!(answers_ping(&bridge, &target));
    let_the_workers_park();
    let saw_it = ask(&bridge, &waiter, move |ctx| {
        ctx.send(&target, Stop);
        let deadline = Instant::now() + WAIT / 2;
        while target.is_alive() && Instant::now() < deadline {
            std::hint::spin_loop();
        }
        !target.is_alive()
    });
    assert!(
        saw_it,
        "the stopped actor never ran while its stopper waited"
    );
    system.shutdown(WAIT).unwrap();
}

#[test]
fn chatty_pairs_on_every_worker_do_not_starve_a_new_actor() {
    let workers = 2;
    let system = pool(workers);
    let inbox = system.inbox();
    let bridge = system.bridge();
    let mut pairs = Vec::new();
    for _ in 0..workers {
        let a = system.spawn(Bouncer { partner: None });
        let b = system.spawn(Bouncer { partner: None });
        a.send(b.clone());
        b.send(a.clone());
        a.send(Ball);
        pairs.push((a, b));
    }
    // A newcomer spawned from plain code (it goes to the shared queue), and
    // one spawned by an actor (it goes to that worker's own queue).
    let newcomer = spawn_puppet(&system, &inbox, false);
    let report = inbox.actor().clone();
    let spawner = spawn_puppet(&system, &inbox, false);
    let inner = ask(&bridge, &spawner, move |ctx| {
        ctx.spawn(common::Puppet {
            report,
            stopped_ran: Default::default(),
        })
    });
    for _ in 0..20 {
        assert!(answers_ping(&bridge, &newcomer));
        assert!(answers_ping(&bridge, &inner));
    }
    system.shutdown(WAIT).unwrap();
}

/// Calls from plain threads reach a pooled actor however the workers
/// wait: spinning (the call is handed to a spinning worker directly),
/// yielding, or parked (the call goes through the injector and wakes
/// one). The pauses between calls cover each.
#[test]
fn calls_from_plain_threads_are_answered_whether_workers_spin_or_sleep() {
    let system = pool(2);
    let inbox = system.inbox();
    let bridge = std::sync::Arc::new(system.bridge());
    let actors: Vec<ActorRef> = (0..3)
        .map(|_| spawn_puppet(&system, &inbox, false))
        .collect();
    let pauses = [0u64, 0, 1, 3, 10, 30, 100, 2_000];
    std::thread::scope(|scope| {
        for caller in 0..3usize {
            let (bridge, actors) = (&bridge, &actors);
            scope.spawn(move || {
                for i in 0..400usize {
                    let actor = &actors[(caller + i) % actors.len()];
                    assert!(answers_ping(bridge, actor), "call {i} of caller {caller}");
                    let pause = pauses[(i * 7 + caller) % pauses.len()];
                    if pause > 0 {
                        std::thread::sleep(Duration::from_micros(pause));
                    }
                }
            });
        }
    });
    system.shutdown(WAIT).unwrap();
}
