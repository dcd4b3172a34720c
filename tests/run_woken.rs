//! `System::run_woken`: a plain thread runs the turn of the pooled actor
//! it woke, with every guarantee of a worker's turn (per-sender order,
//! signals before queued messages), never strands the actor, and calls
//! its relief when the turn holds it (a runtime wait, a long handler).
//! With `Executor::Threads` it only runs its closure.

#[allow(dead_code)]
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use common::{next, WAIT};
use ferrotp::{Actor, ActorRef, Context, Down, Executor, ExitReason, Handlers, System};

/// What a `Probe` handler runs, given the probe's report channel.
struct Run(Box<dyn FnOnce() + Send>);

/// `(sender, seq)`: checked in order per sender.
struct Seq(usize, u64);

/// Reports the thread of each message it handles; runs `Run`s; checks
/// that each sender's sequence numbers come in order.
struct Probe {
    threads: mpsc::Sender<ThreadId>,
    last: Vec<u64>,
    out_of_order: Arc<AtomicBool>,
    seen: Arc<AtomicUsize>,
}

impl Probe {
    fn new(threads: mpsc::Sender<ThreadId>) -> Self {
        Probe {
            threads,
            last: vec![0; 8],
            out_of_order: Arc::default(),
            seen: Arc::default(),
        }
    }
    fn ping(&mut self, _: u32, _: &mut Context<Self>) {
        let _ = self.threads.send(std::thread::current().id());
    }
    fn run(&mut self, Run(job): Run, _: &mut Context<Self>) {
        job();
    }
    fn seq(&mut self, Seq(sender, n): Seq, _: &mut Context<Self>) {
        if n != self.last[sender] + 1 {
            self.out_of_order.store(true, Ordering::SeqCst);
        }
        self.last[sender] = n;
        self.seen.fetch_add(1, Ordering::SeqCst);
    }
}

impl Actor for Probe {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::ping).on(Self::run).on(Self::seq)
    }
}

fn pool() -> System {
    System::builder().executor(Executor::Pool).build()
}

/// Lends this thread until `actor`'s turn runs on it (it must, once the
/// actor is idle), answering each ping on `threads`.
fn until_run_here(system: &System, actor: &ActorRef, threads: &mpsc::Receiver<ThreadId>) {
    let me = std::thread::current().id();
    let deadline = Instant::now() + WAIT;
    loop {
        system.run_woken(|| actor.send(0u32), || {});
        if threads.recv_timeout(WAIT).expect("the probe answers") == me {
            return;
        }
        assert!(Instant::now() < deadline, "never ran on the lending thread");
    }
}

ferrotp::on_each_executor! {
    /// On the pool the woken actor's turn runs on the lending thread; on
    /// threads it runs on its own. Either way every message arrives.
    #[test]
    fn the_woken_actor_runs_here_on_the_pool_and_on_its_thread_otherwise() {
        let system = new_system();
        let (tx, threads) = mpsc::channel();
        let probe = system.spawn(Probe::new(tx));
        let me = std::thread::current().id();
        match EXECUTOR {
            Executor::Pool => until_run_here(&system, &probe, &threads),
            Executor::Threads => {
                for _ in 0..100 {
                    assert_eq!(system.run_woken(|| { probe.send(0u32); 7 }, || {}), 7);
                    assert_ne!(threads.recv_timeout(WAIT).unwrap(), me);
                }
            }
        }
    }

    /// Three threads send numbered messages, two of them lending
    /// themselves for each: every sender's messages arrive, in order.
    #[test]
    fn lent_turns_keep_each_senders_order() {
        let system = new_system();
        let (tx, _threads) = mpsc::channel();
        let probe = Probe::new(tx);
        let (out_of_order, seen) = (probe.out_of_order.clone(), probe.seen.clone());
        let actor = system.spawn(probe);
        const N: u64 = 3_000;
        std::thread::scope(|scope| {
            for sender in 0..3 {
                let (system, actor) = (&system, &actor);
                scope.spawn(move || {
                    for n in 1..=N {
                        if sender < 2 {
                            system.run_woken(|| actor.send(Seq(sender, n)), || {});
                        } else {
                            actor.send(Seq(sender, n));
                        }
                    }
                });
            }
        });
        let deadline = Instant::now() + WAIT;
        while seen.load(Ordering::SeqCst) < 3 * N as usize {
            assert!(Instant::now() < deadline, "messages lost");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!out_of_order.load(Ordering::SeqCst), "a sender's messages were reordered");
    }
}

/// `f` may wait for the very actor it woke: it goes to the pool (or runs
/// on its thread) first, and the call is answered.
#[test]
fn a_closure_that_calls_the_actor_it_woke_gets_its_answer() {
    struct Answer;
    impl Actor for Answer {
        fn handlers() -> Handlers<Self> {
            Handlers::new().on(|_: &mut Self, n: u32, ctx: &mut Context<Self>| ctx.reply(n + 1))
        }
    }
    for system in [
        pool(),
        System::builder().executor(Executor::Threads).build(),
    ] {
        let actor = system.spawn(Answer);
        let bridge = system.bridge();
        for n in 0..200u32 {
            let answer = system.run_woken(
                || {
                    actor.send(n);
                    bridge.call::<u32, _>(&actor, n, WAIT)
                },
                || {},
            );
            assert_eq!(answer.unwrap(), n + 1);
        }
    }
}

/// Exit signals go before the messages queued with them, as on a worker:
/// a turn that finds three messages and then a kill-like exit signal in
/// the mailbox handles none of the messages.
#[test]
fn a_lent_turn_takes_the_exit_signal_before_queued_messages() {
    let system = pool();
    let (tx, threads) = mpsc::channel();
    let watcher = system.inbox();
    for _ in 0..100 {
        let probe = system.spawn(Probe::new(tx.clone()));
        until_run_here(&system, &probe, &threads);
        let monitor = watcher.monitor(&probe);
        system.run_woken(
            || {
                for _ in 0..3 {
                    probe.send(0u32);
                }
                probe.exit(ExitReason::Error("stop".into()));
            },
            || {},
        );
        let (down, _) = next::<Down>(&watcher);
        assert_eq!(down.monitor, monitor);
        assert_eq!(down.reason, ExitReason::Error("stop".into()));
        assert!(
            threads.try_recv().is_err(),
            "a queued message overtook the signal"
        );
    }
}

/// A closure that panics after waking an actor does not strand it: its
/// message is handled (by the pool).
#[test]
fn a_panicking_closure_strands_no_actor() {
    let system = pool();
    let (tx, threads) = mpsc::channel();
    let probe = system.spawn(Probe::new(tx));
    for _ in 0..50 {
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            system.run_woken(
                || {
                    probe.send(0u32);
                    panic!("the closure panics");
                },
                || {},
            )
        }));
        assert!(unwound.is_err());
        threads
            .recv_timeout(WAIT)
            .expect("the woken actor still runs");
    }
}

/// A relief that records where it was called and that it was dropped.
fn relief(called: &mpsc::Sender<ThreadId>, dropped: &Arc<AtomicUsize>) -> impl FnOnce() + Send {
    struct Dropped(Arc<AtomicUsize>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (called, dropped) = (called.clone(), Dropped(dropped.clone()));
    move || {
        // Dropped before it tells: the test may look at the count next.
        drop(dropped);
        let _ = called.send(std::thread::current().id());
    }
}

/// A quick turn never calls its relief, and drops it.
#[test]
fn a_quick_turn_drops_its_relief_uncalled() {
    let system = pool();
    let (tx, threads) = mpsc::channel();
    let probe = system.spawn(Probe::new(tx));
    until_run_here(&system, &probe, &threads);
    let (called, reliefs) = mpsc::channel();
    let dropped = Arc::new(AtomicUsize::new(0));
    let me = std::thread::current().id();
    let mut here = 0;
    for _ in 0..200 {
        system.run_woken(|| probe.send(0u32), relief(&called, &dropped));
        if threads.recv_timeout(WAIT).unwrap() == me {
            here += 1;
        }
    }
    assert!(here > 0);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        200,
        "every relief is dropped"
    );
    assert!(reliefs.try_recv().is_err(), "no quick turn was relieved");
}

/// A handler of the lent turn that waits in the runtime (a call to
/// another actor) calls the relief first, on the lending thread: the
/// other actor answers only once the relief was called. (The watchdog
/// relieves instead if the turn took a millisecond to get to its wait,
/// as it may on a loaded machine: then the round is run again.)
#[test]
fn a_runtime_wait_in_a_lent_turn_calls_the_relief_here_first() {
    /// Answers once its gate opens.
    struct Gated(std::sync::Mutex<mpsc::Receiver<()>>);
    impl Actor for Gated {
        fn handlers() -> Handlers<Self> {
            Handlers::new().on(|me: &mut Self, n: u32, ctx: &mut Context<Self>| {
                let opened = me.0.lock().unwrap().recv_timeout(WAIT).is_ok();
                ctx.reply(opened.then_some(n));
            })
        }
    }
    let system = pool();
    let (tx, threads) = mpsc::channel();
    let probe = system.spawn(Probe::new(tx));
    let (gate, gated) = mpsc::channel();
    let other = system.spawn(Gated(std::sync::Mutex::new(gated)));
    let me = std::thread::current().id();
    let deadline = Instant::now() + WAIT;
    loop {
        until_run_here(&system, &probe, &threads);
        let (called, reliefs) = mpsc::channel();
        let (answers, answered) = mpsc::channel();
        let (bridge, other, gate) = (system.bridge(), other.clone(), gate.clone());
        let job = Run(Box::new(move || {
            let answer = bridge.call::<Option<u32>, _>(&other, 5u32, WAIT);
            let _ = answers.send((std::thread::current().id(), answer.ok().flatten()));
        }));
        system.run_woken(
            || probe.send(job),
            move || {
                let _ = called.send(std::thread::current().id());
                let _ = gate.send(());
            },
        );
        let (ran_on, answer) = answered.recv_timeout(WAIT).unwrap();
        assert_eq!(ran_on, me, "the turn was lent");
        assert_eq!(answer, Some(5), "answered once relieved");
        let relieved_on = reliefs.recv_timeout(WAIT).unwrap();
        assert!(reliefs.try_recv().is_err(), "relieved once");
        if relieved_on == me {
            break;
        }
        assert!(Instant::now() < deadline, "never relieved before the wait");
    }
}

/// A handler that holds the lent thread (a wait the runtime cannot see)
/// is relieved by the watchdog, from its own thread, while it runs; a
/// kill of the actor meanwhile ends it at once, and the lending thread
/// goes on when the handler returns.
#[test]
fn a_long_lent_turn_is_relieved_by_the_watchdog_and_can_be_killed() {
    let system = pool();
    let (tx, threads) = mpsc::channel();
    let probe = system.spawn(Probe::new(tx));
    let watcher = system.inbox();
    let monitor = watcher.monitor(&probe);
    let (called, reliefs) = mpsc::channel();
    let dropped = Arc::new(AtomicUsize::new(0));
    let (release, released) = mpsc::channel::<()>();
    let (entered, in_handler) = mpsc::channel();
    let lender = std::thread::spawn({
        let (system, probe, called, dropped) =
            (system.clone(), probe.clone(), called, dropped.clone());
        move || {
            // Idle first, so the long job's turn is lent.
            until_run_here(&system, &probe, &threads);
            let job = Run(Box::new(move || {
                let _ = entered.send(std::thread::current().id());
                let _ = released.recv_timeout(WAIT);
            }));
            system.run_woken(|| probe.send(job), relief(&called, &dropped));
            std::thread::current().id()
        }
    });
    let ran_on = in_handler.recv_timeout(WAIT).expect("the job runs");
    let relieved_on = reliefs
        .recv_timeout(WAIT)
        .expect("relieved while the handler waits");
    assert_ne!(
        relieved_on, ran_on,
        "the watchdog relieves, from its own thread"
    );
    probe.kill();
    let (down, _) = next::<Down>(&watcher);
    assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Killed));
    release.send(()).unwrap();
    assert_eq!(lender.join().unwrap(), ran_on, "the turn was lent");
    assert!(reliefs.try_recv().is_err(), "relieved once");
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}
