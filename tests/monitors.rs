//! Monitors (issue 3, semantics 7 and 8): exactly one `Down` per monitor,
//! several monitors each fire, `demonitor` flushes (no `Down` after it
//! returns, even when the target died just before), monitoring a dead
//! actor, `spawn_monitor`, and monitors held by plain code (`Inbox`,
//! `Bridge`).
//!
//! "No more `Down`" is checked after `System::shutdown`, which waits for
//! every actor to end: whatever anyone was going to deliver has been
//! delivered.

#[path = "common/receive.rs"]
#[allow(dead_code)]
mod receive;

use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Duration;

#[allow(dead_code)]
mod common;

use common::{ask, crash, puppet, tell, Ping, Pong, WAIT};
use ferrotp::{
    Actor, ActorId, ActorRef, Context, Down, Envelope, ExitReason, Handlers, Inbox, MonitorRef,
    Stop, System,
};
use receive::next;

fn spawn_probe(system: &System, report: &Inbox) -> ActorRef {
    system.spawn(puppet(report))
}

/// Shuts the system down (waiting for every actor to end) and returns what
/// `inbox` still holds.
fn settle(system: &System, inbox: &Inbox) -> Vec<Envelope> {
    system.shutdown(WAIT).expect("shutdown");
    std::iter::from_fn(|| inbox.try_recv()).collect()
}

fn downs(envelopes: Vec<Envelope>) -> Vec<Down> {
    envelopes
        .into_iter()
        .map(|e| e.downcast::<Down>().expect("only Downs arrive here"))
        .collect()
}

/// A reason, and a way to make an actor terminate with it.
type Ending = (ExitReason, fn(&ActorRef));

fn panic_reason() -> ExitReason {
    ExitReason::Panic("crash".into())
}

/// Tells the test the actor is inside its held handler.
struct Entered;

/// Fails in `started`, after reporting who monitors it.
struct FailsAtStart {
    report: ActorRef,
}

/// Who monitored the child when its first line of code ran.
struct MonitoredBy(Vec<ActorId>);

impl Actor for FailsAtStart {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let watchers = ctx.myself().info().monitored_by;
        ctx.send(&self.report, MonitoredBy(watchers));
        panic!("failed to start");
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn each_monitor_fires_exactly_once_with_the_reason() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let inbox = system.inbox();
        let report = system.inbox();
        let endings: Vec<Ending> = vec![
            (ExitReason::Normal, |a| a.send(Stop)),
            (panic_reason(), crash),
            (ExitReason::error("bad"), |a| {
                a.exit(ExitReason::error("bad"))
            }),
            (ExitReason::Shutdown, |a| a.exit(ExitReason::Shutdown)),
            (ExitReason::Killed, |a| a.kill()),
        ];
        for (reason, end) in endings {
            let target = spawn_probe(&system, &report);
            let monitor = inbox.monitor(&target);
            end(&target);
            let down: Down = next(&inbox);
            assert_eq!(
                (down.monitor, down.actor, &down.reason),
                (monitor, target.id(), &reason)
            );
        }
        let late = settle(&system, &inbox);
        assert!(late.is_empty(), "{} Downs too many", late.len());
    }

    #[test]
    fn several_monitors_on_one_target_each_fire_once() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let other = system.inbox();
        let target = spawn_probe(&system, &inbox);
        let watcher = spawn_probe(&system, &inbox);

        let mut mine: Vec<MonitorRef> = (0..3).map(|_| inbox.monitor(&target)).collect();
        let theirs: Vec<MonitorRef> = (0..2)
            .map(|_| {
                let t = target.clone();
                ask(&bridge, &watcher, move |ctx| ctx.monitor(&t))
            })
            .collect();
        let other_monitor = other.monitor(&target);
        mine.extend(&theirs);
        let all: HashSet<MonitorRef> = mine.iter().copied().chain([other_monitor]).collect();
        assert_eq!(all.len(), 6, "every monitor has its own reference");
        assert_eq!(target.info().monitored_by.len(), 6);

        crash(&target);
        // Five Downs reach `inbox`: three of its own, two forwarded by `watcher`.
        let mut fired: Vec<MonitorRef> = (0..5).map(|_| next::<Down>(&inbox).monitor).collect();
        fired.push(next::<Down>(&other).monitor);
        let late_inbox = settle(&system, &inbox);
        let late_other: Vec<Envelope> = std::iter::from_fn(|| other.try_recv()).collect();
        // The watcher was shut down; only Downs about the target count.
        let late: Vec<Down> = downs(late_inbox)
            .into_iter()
            .chain(downs(late_other))
            .filter(|d| d.actor == target.id())
            .collect();
        assert!(late.is_empty(), "a monitor fired twice: {late:?}");
        fired.sort();
        let mut expected: Vec<MonitorRef> = all.into_iter().collect();
        expected.sort();
        assert_eq!(fired, expected);
    }

    #[test]
    fn demonitor_before_the_target_dies_means_no_down() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let inbox = system.inbox();
        let target = spawn_probe(&system, &inbox);
        let kept = inbox.monitor(&target);
        let removed = inbox.monitor(&target);
        assert!(inbox.demonitor(removed), "the monitor was active");
        assert!(!inbox.demonitor(removed), "it is gone");
        assert_eq!(target.info().monitored_by, vec![inbox.actor().id()]);
        crash(&target);
        assert_eq!(next::<Down>(&inbox).monitor, kept);
        let late = settle(&system, &inbox);
        assert!(late.is_empty(), "a Down after demonitor");
    }

    #[test]
    fn demonitor_flushes_a_down_that_is_already_queued() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let inbox = system.inbox();
        // Killed from this thread: the Down is in `inbox` when kill returns.
        let target = spawn_probe(&system, &inbox);
        let monitor = inbox.monitor(&target);
        target.kill();
        assert_eq!(inbox.len(), 1, "the Down is queued");
        inbox.demonitor(monitor);
        assert!(
            inbox.try_recv().is_none(),
            "a Down after demonitor returned"
        );

        // Dying on its own thread: wait until a second watcher heard of it.
        let target = spawn_probe(&system, &inbox);
        let witness = system.inbox();
        witness.monitor(&target);
        let monitor = inbox.monitor(&target);
        crash(&target);
        assert_eq!(next::<Down>(&witness).reason, panic_reason());
        inbox.demonitor(monitor);
        let late = settle(&system, &inbox);
        assert!(late.is_empty(), "a Down after demonitor returned");
    }

    #[test]
    fn demonitor_inside_an_actor_flushes_a_queued_down() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let target = spawn_probe(&system, &inbox);
        let watcher = spawn_probe(&system, &inbox);
        let t = target.clone();
        let monitor = ask(&bridge, &watcher, move |ctx| ctx.monitor(&t));
        assert_eq!(watcher.info().monitoring, vec![(monitor, target.id())]);
        // Hold the watcher; the Down gets queued behind the held handler,
        // which demonitors when released.
        let (release, gate) = mpsc::channel::<()>();
        let report = inbox.actor().clone();
        tell(&watcher, move |ctx| {
            ctx.send(&report, Entered);
            let _ = gate.recv();
            assert!(
                ctx.demonitor(monitor),
                "a fired but undelivered monitor is still active"
            );
        });
        next::<Entered>(&inbox);
        target.kill();
        assert!(
            watcher.info().mailbox_len >= 1,
            "the Down waits in the mailbox"
        );
        release.send(()).unwrap();
        // A delivered Down would be forwarded before the pong.
        bridge
            .call::<Pong, _>(&watcher, Ping, WAIT)
            .expect("the watcher lives");
        assert!(
            inbox.try_recv().is_none(),
            "a Down after demonitor returned"
        );
        assert!(watcher.info().monitoring.is_empty());
    }

    #[test]
    fn demonitor_racing_the_targets_death_never_lets_a_down_through() {
        ferrotp::silence_actor_panics();
        const ROUNDS: usize = 1_000;
        let system = new_system();
        let inbox = system.inbox();
        // Every target is also watched by `control`, which proves each died.
        let control = system.inbox();
        let mut removed = HashSet::new();
        for round in 0..ROUNDS {
            let target = spawn_probe(&system, &inbox);
            control.monitor(&target);
            let monitor = inbox.monitor(&target);
            crash(&target);
            // Vary the moment of the demonitor against the death, from before
            // it to after its Down is queued.
            for _ in 0..(round % 64) * 16 {
                std::hint::spin_loop();
            }
            if round % 7 == 0 {
                std::thread::yield_now();
            }
            inbox.demonitor(monitor);
            removed.insert(monitor);
            // Nothing may come through once demonitor has returned.
            if let Some(envelope) = inbox.try_recv() {
                panic!("round {round}: {envelope:?} after demonitor");
            }
        }
        // Every target died of its crash (each exactly once), so every Down
        // that could ever come has been sent by the time the system settles.
        let mut died = HashSet::new();
        for _ in 0..ROUNDS {
            let down: Down = next(&control);
            assert_eq!(down.reason, panic_reason());
            assert!(died.insert(down.actor), "a target died twice");
        }
        let late = settle(&system, &inbox);
        assert!(late.is_empty(), "{} Downs after demonitor", late.len());
        assert!(control.try_recv().is_none());
    }

    #[test]
    fn demonitor_racing_a_kill_on_another_thread_never_lets_a_down_through() {
        const ROUNDS: usize = 500;
        let system = new_system();
        let inbox = system.inbox();
        for round in 0..ROUNDS {
            let target = spawn_probe(&system, &inbox);
            let monitor = inbox.monitor(&target);
            std::thread::scope(|scope| {
                let killer = scope.spawn(|| target.kill());
                for _ in 0..(round % 32) * 8 {
                    std::hint::spin_loop();
                }
                inbox.demonitor(monitor);
                let after = inbox.try_recv();
                // kill delivers on the killer's thread: once it is joined,
                // a Down that slipped through would be here.
                killer.join().unwrap();
                assert!(after.is_none(), "round {round}: a Down after demonitor");
                assert!(
                    inbox.try_recv().is_none(),
                    "round {round}: a Down after demonitor"
                );
            });
        }
    }

    #[test]
    fn monitoring_a_dead_actor_yields_down_noproc_at_once() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let dead = spawn_probe(&system, &inbox);
        bridge.stop(std::slice::from_ref(&dead), WAIT);
        assert!(!dead.is_alive());

        let monitor = inbox.monitor(&dead);
        let down: Down = inbox
            .try_recv()
            .expect("a Down as soon as monitor returns")
            .downcast()
            .expect("a Down");
        assert_eq!(
            down,
            Down {
                monitor,
                actor: dead.id(),
                reason: ExitReason::NoProc
            }
        );

        let watcher = spawn_probe(&system, &inbox);
        let d = dead.clone();
        let monitor = ask(&bridge, &watcher, move |ctx| ctx.monitor(&d));
        assert_eq!(
            next::<Down>(&inbox),
            Down {
                monitor,
                actor: dead.id(),
                reason: ExitReason::NoProc
            }
        );
        assert!(watcher.info().monitoring.is_empty());
    }

    #[test]
    fn spawn_monitor_watches_the_child_before_it_runs() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let parent = spawn_probe(&system, &inbox);
        let report = inbox.actor().clone();
        let (child, monitor) = ask(&bridge, &parent, move |ctx| {
            ctx.spawn_monitor(FailsAtStart { report })
        });
        let MonitoredBy(watchers) = next(&inbox);
        assert_eq!(watchers, vec![parent.id()]);
        assert_eq!(
            next::<Down>(&inbox),
            Down {
                monitor,
                actor: child.id(),
                reason: ExitReason::Panic("failed to start".into())
            }
        );
        // Monitoring is one way: the parent lives on.
        bridge
            .call::<Pong, _>(&parent, Ping, WAIT)
            .expect("parent alive");
    }

    #[test]
    fn a_bridge_monitors_and_receives_down() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let target = spawn_probe(&system, &inbox);
        let monitor = bridge.monitor(&target);
        crash(&target);
        let down: Down = bridge
            .recv(WAIT)
            .expect("a Down through the bridge")
            .downcast()
            .expect("a Down");
        assert_eq!(
            down,
            Down {
                monitor,
                actor: target.id(),
                reason: panic_reason()
            }
        );

        let target = spawn_probe(&system, &inbox);
        let monitor = bridge.monitor(&target);
        assert!(bridge.demonitor(monitor));
        crash(&target);
        system.shutdown(WAIT).expect("shutdown");
        assert!(
            bridge.recv(Duration::ZERO).is_err(),
            "a Down after demonitor"
        );
    }

    #[test]
    fn the_monitors_of_a_dead_watcher_are_dropped() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let target = spawn_probe(&system, &inbox);
        let watcher = spawn_probe(&system, &inbox);
        let t = target.clone();
        ask(&bridge, &watcher, move |ctx| ctx.monitor(&t));
        assert_eq!(target.info().monitored_by, vec![watcher.id()]);
        let witness = system.inbox();
        witness.monitor(&watcher);
        crash(&watcher);
        assert_eq!(next::<Down>(&witness).reason, panic_reason());
        assert!(
            target.info().monitored_by.is_empty(),
            "a dead watcher still monitors"
        );
    }
}
