//! Stress of what a killed actor's thread is doing at the moment of its
//! kill, on both executors: each scenario loops for `FERROTP_STRESS_SECS`
//! seconds (default 3) and fails on the first breach. Ignored by default:
//!
//! ```text
//! FERROTP_STRESS_SECS=10 cargo test --release --test stress_kill_races -- --ignored stress
//! ```
//!
//! A kill makes the actor's later sends void, and waits for a send
//! already under way before it tells anyone of the end: so an exit signal
//! or a kill the handler is making then is discarded or takes effect
//! before the killed actor's `Down`, and two actors killing each other
//! both end. (Messages: `stress_inbox_ends.rs` `requests_racing_the_end`.)

#[path = "common/budget.rs"]
mod budget;
#[allow(dead_code)]
mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use budget::for_budget;
use common::{next, WAIT};
use ferrotp::{Actor, ActorRef, Context, Down, ExitReason, Handlers, System};

/// Does nothing: a victim.
struct Idle;

impl Actor for Idle {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
}

/// Sends exit signals to `to` on `Go` until `enough`, then says it is
/// done (on a channel outside the system, which a kill does not void).
struct Signaller {
    to: ActorRef,
    enough: Arc<AtomicBool>,
    done: std::sync::mpsc::Sender<usize>,
}
struct Go;

impl Actor for Signaller {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|me: &mut Self, Go, ctx: &mut Context<Self>| {
            let mut sent = 0;
            while !me.enough.load(Ordering::Acquire) {
                ctx.exit(&me.to, ExitReason::error("signal"));
                sent += 1;
            }
            let _ = me.done.send(sent);
        })
    }
}

/// A handler streams exit signals to a trapping inbox that monitors it,
/// while plain code kills it: every signal either is discarded or arrives
/// before the sender's `Down`, never after it.
fn exit_signals_racing_the_senders_kill(system: &System, round: u64) {
    struct Fence;
    let watcher = system.inbox();
    let enough = Arc::new(AtomicBool::new(false));
    let (done, finished) = std::sync::mpsc::channel();
    let sender = system.spawn(Signaller {
        to: watcher.actor().clone(),
        enough: enough.clone(),
        done,
    });
    watcher.monitor(&sender);
    sender.send(Go);
    // The kill lands at varied points of the stream, once it flows.
    let first = watcher.recv(WAIT).expect("the first signal");
    assert!(first.is::<ferrotp::Stopped>(), "{}", first.type_name());
    for _ in 0..round % 128 {
        std::hint::spin_loop();
    }
    sender.kill();
    enough.store(true, Ordering::Release);
    // Once the handler is done (it runs on after the kill, its signals
    // discarded), nothing more of its can arrive.
    finished.recv_timeout(WAIT).expect("the handler ends");
    watcher.actor().send(Fence);
    let (mut signals, mut down) = (1, false);
    loop {
        let envelope = watcher.recv(WAIT).expect("the fence comes");
        if envelope.is::<Fence>() {
            break;
        }
        match envelope.downcast::<ferrotp::Stopped>() {
            Ok(stopped) => {
                assert_eq!(stopped.actor, sender.id());
                assert!(!down, "a signal after the sender's Down ({signals} before)");
                signals += 1;
            }
            Err(envelope) => {
                let down_now = envelope.downcast::<Down>().expect("a Down");
                assert_eq!(down_now.reason, ExitReason::Killed);
                down = true;
            }
        }
    }
    assert!(down, "the Down came");
}

/// Kills its victims one after another on `Go`, until `enough`, then says
/// it is done (on a channel outside the system).
struct Killer {
    victims: Vec<ActorRef>,
    enough: Arc<AtomicBool>,
    done: std::sync::mpsc::Sender<()>,
}

impl Actor for Killer {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|me: &mut Self, Go, _: &mut Context<Self>| {
            for victim in &me.victims {
                if me.enough.load(Ordering::Acquire) {
                    break;
                }
                victim.kill();
            }
            let _ = me.done.send(());
        })
    }
}

/// A handler kills actor after actor while plain code kills it: once the
/// kill of the killer has returned (its notices sent), no victim still
/// alive then dies by its hand.
fn kills_racing_the_killers_kill(system: &System, round: u64) {
    const VICTIMS: usize = 256;
    let victims: Vec<ActorRef> = (0..VICTIMS).map(|_| system.spawn(Idle)).collect();
    let watch = system.inbox();
    watch.monitor(&victims[0]);
    let enough = Arc::new(AtomicBool::new(false));
    let (done, finished) = std::sync::mpsc::channel();
    let killer = system.spawn(Killer {
        victims: victims.clone(),
        enough: enough.clone(),
        done,
    });
    killer.send(Go);
    // The kill lands at varied points of the killing, once it has begun.
    let (first, _) = next::<Down>(&watch);
    assert_eq!(first.reason, ExitReason::Killed);
    for _ in 0..round % 128 {
        std::hint::spin_loop();
    }
    killer.kill();
    let alive: Vec<&ActorRef> = victims.iter().filter(|v| v.is_alive()).collect();
    enough.store(true, Ordering::Release);
    // Once the handler is done (it runs on after the kill, its kills
    // discarded), nothing more of its can happen.
    if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(WAIT) {
        panic!("the killer's handler did not end");
    }
    for victim in alive {
        assert!(
            victim.is_alive(),
            "{} killed after its killer's end",
            victim.id()
        );
        victim.kill();
    }
}

/// Kills the actor it is given, then says so (outside the system).
struct Duelist {
    done: std::sync::mpsc::Sender<()>,
}
struct Shoot(ActorRef);

impl Actor for Duelist {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|me: &mut Self, Shoot(other), _: &mut Context<Self>| {
            other.kill();
            let _ = me.done.send(());
        })
    }
}

/// Two actors kill each other at the same moment: both end and neither
/// handler hangs (a kill made by an actor decides inside a send of its
/// own, and the killer of that actor waits for such sends: a kill that
/// waited for its target inside its own would wait forever here).
fn mutual_kills(system: &System) {
    let watch = system.inbox();
    let (done, finished) = std::sync::mpsc::channel();
    let a = system.spawn(Duelist { done: done.clone() });
    let b = system.spawn(Duelist { done });
    watch.monitor(&a);
    watch.monitor(&b);
    a.send(Shoot(b.clone()));
    b.send(Shoot(a.clone()));
    // One shot lands first; the other lands too, or was discarded (its
    // shooter was killed before it) or never fired (killed before its
    // handler ran). Then the test ends whichever is left.
    let (first, _) = next::<Down>(&watch);
    assert_eq!(first.reason, ExitReason::Killed);
    a.kill();
    b.kill();
    let (second, _) = next::<Down>(&watch);
    assert_eq!(
        HashSet::from([first.actor, second.actor]),
        HashSet::from([a.id(), b.id()])
    );
    // Each handler that ran came back: the channel closes once both
    // actors' states are dropped.
    loop {
        match finished.recv_timeout(WAIT) {
            Ok(()) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("a duelist's handler hangs"),
        }
    }
}

ferrotp::on_each_executor! {
    #[test]
    #[ignore = "stress: run with --ignored stress"]
    fn stress_exit_signals_racing_the_senders_kill() {
        let system = new_system();
        for_budget("exit signals racing a kill", |round| {
            exit_signals_racing_the_senders_kill(&system, round)
        });
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    #[ignore = "stress: run with --ignored stress"]
    fn stress_kills_racing_the_killers_kill() {
        let system = new_system();
        for_budget("kills racing a kill", |round| kills_racing_the_killers_kill(&system, round));
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    #[ignore = "stress: run with --ignored stress"]
    fn stress_mutual_kills() {
        let system = new_system();
        for_budget("mutual kills", |_| mutual_kills(&system));
        system.shutdown(WAIT).unwrap();
    }
}
