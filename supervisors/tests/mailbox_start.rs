//! A supervisor starts its children from its own mailbox (each child's
//! `StartAck` brings the next): what happens while a start is under way —
//! a child killed in `started`, reads of the supervisor, a child that dies
//! before its siblings started, an exit signal from the parent, `Stop`.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread;

use common::*;
use ferrotp::{Actor, Context, ExitReason, Handlers, Stopped};
use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorError, SupervisorSpec};

/// Says it entered `started`, then waits there until its gate opens; then
/// reports `Started` (and later `Stopped`) like a test worker.
struct HeldInStart {
    tag: &'static str,
    entered: Sender<()>,
    gate: Gate,
    events: Sender<Ev>,
}

impl Actor for HeldInStart {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let _ = self.entered.send(());
        self.gate.wait();
        let _ = self.events.send(Ev::Started {
            tag: self.tag.into(),
            actor: ctx.myself().id(),
        });
        Ok(())
    }

    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        let _ = self.events.send(Ev::Stopped {
            tag: self.tag.into(),
            actor: ctx.myself().id(),
            reason: reason.clone(),
        });
    }
}

fn held(tag: &'static str, probe: &Probe, gate: &Gate, entered: &Sender<()>) -> ChildSpec {
    let (events, gate, entered) = (probe.sender(), gate.clone(), entered.clone());
    ChildSpec::worker(tag, move || HeldInStart {
        tag,
        entered: entered.clone(),
        gate: gate.clone(),
        events: events.clone(),
    })
    .name(tag)
}

/// Reports its start; its first incarnation fails right after `started`
/// (by a message to itself), later ones live on.
struct FailsOnce {
    failed: Arc<AtomicBool>,
    events: Sender<Ev>,
}
struct FailNow;

impl Actor for FailsOnce {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|_: &mut Self, _: FailNow, _: &mut Context<Self>| {
            Err::<(), _>("first incarnation fails".to_string())
        })
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let _ = self.events.send(Ev::Started {
            tag: "once".into(),
            actor: ctx.myself().id(),
        });
        if !self.failed.swap(true, Ordering::SeqCst) {
            ctx.send(ctx.myself(), FailNow);
        }
        Ok(())
    }

    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        let _ = self.events.send(Ev::Stopped {
            tag: "once".into(),
            actor: ctx.myself().id(),
            reason: reason.clone(),
        });
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn a_child_killed_in_started_fails_the_start_and_the_started_ones_stop_in_reverse() {
        let system = new_system();
        let probe = Probe::new();
        let (gate, (entered_tx, entered)) = (Gate::new(), channel());
        let spec = SupervisorSpec::one_for_one()
            .child(worker("a", &probe))
            .child(worker("b", &probe))
            .child(held("stuck", &probe, &gate, &entered_tx))
            .child(worker("z", &probe));
        let starter = {
            let system = system.clone();
            thread::spawn(move || Supervisor::start(&system, spec))
        };
        entered.recv_timeout(WAIT).expect("`stuck` entered started");
        let stuck = system.whereis("stuck").expect("named before it runs");
        stuck.kill();
        match starter.join().unwrap() {
            Err(SupervisorError::StartFailed { id, reason }) => {
                assert_eq!((id.as_str(), reason), ("stuck", ExitReason::Killed));
            }
            other => panic!("expected StartFailed, got {other:?}"),
        }
        let a = probe.started("a");
        let b = probe.started("b");
        assert_eq!(probe.stopped("b", ExitReason::Shutdown), b);
        assert_eq!(probe.stopped("a", ExitReason::Shutdown), a);
        probe.assert_quiet();
        gate.open();
        assert_eq!(system.whereis("stuck"), None);
    }

    #[test]
    fn reads_are_answered_while_a_child_is_starting() {
        let system = new_system();
        let probe = Probe::new();
        let (gate, (entered_tx, entered)) = (Gate::new(), channel());
        let spec = SupervisorSpec::one_for_one()
            .name("sup")
            .child(worker("a", &probe))
            .child(held("slow", &probe, &gate, &entered_tx))
            .child(worker("z", &probe));
        let starter = {
            let system = system.clone();
            thread::spawn(move || Supervisor::start(&system, spec))
        };
        entered.recv_timeout(WAIT).expect("`slow` entered started");
        let sup = system.whereis("sup").expect("the supervisor is registered");
        let snapshot = ferrotp_supervisors::inspect(&system, &sup, 0..10, WAIT).unwrap();
        let ids: Vec<&str> = snapshot.children.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "slow"], "`z` waits for `slow` to start");
        gate.open();
        let sup = starter.join().unwrap().expect("the tree starts");
        let children = sup.which_children().unwrap();
        let ids: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "slow", "z"]);
        probe.started("a");
        probe.started("slow");
        probe.started("z");
        sup.stop(WAIT).unwrap();
    }

    #[test]
    fn a_child_that_dies_during_the_start_is_restarted_once_all_have_started() {
        let system = new_system();
        let probe = Probe::new();
        let (gate, (entered_tx, entered)) = (Gate::new(), channel());
        let failed = Arc::new(AtomicBool::new(false));
        let events = probe.sender();
        let spec = SupervisorSpec::one_for_one()
            .intensity(5, HOUR)
            .child(ChildSpec::worker("once", move || FailsOnce {
                failed: failed.clone(),
                events: events.clone(),
            }))
            .child(held("slow", &probe, &gate, &entered_tx));
        let starter = {
            let system = system.clone();
            thread::spawn(move || Supervisor::start(&system, spec))
        };
        let first = probe.started("once");
        let reason = ExitReason::Error("first incarnation fails".into());
        assert_eq!(probe.stopped("once", reason), first);
        entered.recv_timeout(WAIT).expect("`slow` entered started");
        gate.open();
        let sup = starter.join().unwrap().expect("the tree starts");
        // As in OTP: the restart comes once every child has started.
        probe.started("slow");
        let second = probe.started("once");
        assert_ne!(first, second);
        let children = sup.which_children().unwrap();
        assert_eq!(children[0].restarts, 1);
        assert_eq!(children[0].actor.as_ref().map(|a| a.id()), Some(second));
        sup.stop(WAIT).unwrap();
    }

    #[test]
    fn an_exit_signal_from_the_parent_during_the_start_stops_what_started() {
        let system = new_system();
        let probe = Probe::new();
        let (gate, (entered_tx, entered)) = (Gate::new(), channel());
        let spec = SupervisorSpec::one_for_one()
            .name("sup")
            .child(worker("a", &probe))
            .child(held("slow", &probe, &gate, &entered_tx))
            .child(worker("z", &probe));
        let starter = {
            let system = system.clone();
            thread::spawn(move || Supervisor::start(&system, spec))
        };
        entered.recv_timeout(WAIT).expect("`slow` entered started");
        let sup = system.whereis("sup").expect("the supervisor is registered");
        // From plain code: the parent's exit signal.
        sup.exit(ExitReason::Shutdown);
        gate.open();
        match starter.join().unwrap() {
            Err(SupervisorError::SupervisorDown(reason)) => assert_eq!(reason, ExitReason::Shutdown),
            other => panic!("expected SupervisorDown(Shutdown), got {other:?}"),
        }
        let a = probe.started("a");
        let slow = probe.started("slow");
        assert_eq!(probe.stopped("slow", ExitReason::Shutdown), slow);
        assert_eq!(probe.stopped("a", ExitReason::Shutdown), a);
        probe.assert_quiet();
        assert!(!sup.is_alive());
    }

    #[test]
    fn a_stop_during_the_start_waits_for_the_start_then_stops_all_in_reverse() {
        let system = new_system();
        let probe = Probe::new();
        let (gate, (entered_tx, entered)) = (Gate::new(), channel());
        let spec = SupervisorSpec::one_for_one()
            .name("sup")
            .child(worker("a", &probe))
            .child(held("slow", &probe, &gate, &entered_tx))
            .child(worker("z", &probe));
        let starter = {
            let system = system.clone();
            thread::spawn(move || Supervisor::start(&system, spec))
        };
        entered.recv_timeout(WAIT).expect("`slow` entered started");
        let sup = system.whereis("sup").expect("the supervisor is registered");
        let stopper = {
            let system = system.clone();
            thread::spawn(move || system.bridge().stop(std::slice::from_ref(&sup), WAIT))
        };
        gate.open();
        starter.join().unwrap().expect("the start completes first");
        let stopped: Vec<Option<Stopped>> = stopper.join().unwrap();
        assert_eq!(stopped[0].as_ref().map(|s| &s.reason), Some(&ExitReason::Normal));
        let a = probe.started("a");
        let slow = probe.started("slow");
        let z = probe.started("z");
        assert_eq!(probe.stopped("z", ExitReason::Shutdown), z);
        assert_eq!(probe.stopped("slow", ExitReason::Shutdown), slow);
        assert_eq!(probe.stopped("a", ExitReason::Shutdown), a);
        probe.assert_quiet();
    }
}

/// A tree whose child `fail` (counted in start order over the whole tree)
/// fails to start, over `nested` supervisors of `width` workers each.
fn tree_failing_at(fail: usize, nested: usize, width: usize) -> SupervisorSpec {
    let mut spec = SupervisorSpec::one_for_one();
    let mut n = 0;
    for s in 0..nested {
        let mut inner = SupervisorSpec::one_for_one();
        for w in 0..width {
            let id = format!("w{s}.{w}");
            inner = inner.child(if n == fail {
                ChildSpec::worker(id, || FailsToStart(ExitReason::error("nope")))
            } else {
                ChildSpec::worker(id, || Idle)
            });
            n += 1;
        }
        spec = spec.child(ChildSpec::supervisor(format!("s{s}"), inner));
    }
    spec
}

struct Idle;

impl Actor for Idle {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
}

/// The start-failure path looped on both executors: wherever the failing
/// child sits in a two-level tree, `Supervisor::start` returns
/// `StartFailed` naming the top-level child, and only once every actor of
/// the tree is gone.
#[test]
fn a_failed_tree_start_leaves_nothing_behind_under_a_loop() {
    for executor in [ferrotp::Executor::Pool, ferrotp::Executor::Threads] {
        let system = ferrotp::System::builder().executor(executor).build();
        let rounds = if executor == ferrotp::Executor::Pool {
            1_000
        } else {
            60
        };
        let (nested, width) = (3, 3);
        for round in 0..rounds {
            let fail = round % (nested * width);
            match Supervisor::start(&system, tree_failing_at(fail, nested, width)) {
                Err(SupervisorError::StartFailed { id, .. }) => {
                    assert_eq!(
                        id,
                        format!("s{}", fail / width),
                        "{executor:?} round {round}"
                    );
                }
                other => panic!("{executor:?} round {round}: expected StartFailed, got {other:?}"),
            }
            assert_eq!(system.actor_count(), 0, "{executor:?} round {round}");
        }
        // And a tree that starts, for contrast, stops leaving nothing.
        let sup = Supervisor::start(&system, tree_failing_at(usize::MAX, nested, width)).unwrap();
        assert_eq!(system.actor_count(), 1 + nested + nested * width);
        sup.stop(WAIT).unwrap();
        assert_eq!(system.actor_count(), 0);
    }
}
