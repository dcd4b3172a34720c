//! A dynamic supervisor terminates a child for a handle from its own
//! mailbox (the child's `Down` brings the answer): what arrives meanwhile
//! is served after it, in order; a shutdown or a kill in the middle of it
//! leaves nothing behind.

mod common;

use std::thread;
use std::time::Instant;

use common::mid_restart::wait_empty;
use common::*;
use ferrotp::{ActorRef, ExitReason, System};
use ferrotp_supervisors::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, Shutdown, Supervisor, SupervisorError,
    SupervisorSpec,
};

/// Children tagged by their first argument, behaving per the second.
type Args = (String, Behaviour);

fn template(probe: &Probe) -> DynamicSupervisorSpec<Args> {
    let events = probe.sender();
    DynamicSupervisorSpec::worker("w", move |(tag, behaviour): Args| {
        Worker::new(&tag, events.clone(), behaviour)
    })
    .shutdown(Shutdown::Timeout(WAIT))
}

/// A root supervisor over a dynamic one, `d`, of [`template`], with a
/// [`slow`] child behind `gate`.
fn tree(
    system: &System,
    probe: &Probe,
    gate: &Gate,
) -> (Supervisor, DynamicSupervisor<Args>, ActorRef) {
    let root = Supervisor::start(
        system,
        SupervisorSpec::one_for_one().child(ChildSpec::dynamic_supervisor("d", template(probe))),
    )
    .unwrap();
    let d = root.child_dynamic_supervisor::<Args>("d").unwrap();
    let slow = d.start_child(slow(gate)).unwrap();
    probe.started("slow");
    (root, d, slow)
}

/// A child that traps exits and, asked to stop, stops once `gate` opens.
fn slow(gate: &Gate) -> Args {
    let behaviour = Behaviour {
        trap_exits: true,
        gate: Some(gate.clone()),
        ..Behaviour::default()
    };
    ("slow".to_string(), behaviour)
}

/// How many pieces of mail `actor` has handled.
fn handled(system: &System, actor: &ActorRef) -> u64 {
    system
        .actor_info(actor.id())
        .map_or(0, |info| info.messages_handled)
}

/// Waits until `actor` has handled more than `than` pieces of mail.
fn wait_handled(system: &System, actor: &ActorRef, than: u64) {
    let deadline = Instant::now() + WAIT;
    while handled(system, actor) <= than {
        assert!(Instant::now() < deadline, "no mail handled within {WAIT:?}");
        thread::yield_now();
    }
}

fn shutdown_requested(probe: &Probe, tag: &str) {
    match probe.next() {
        Ev::ShutdownRequested { tag: t } if t == tag => {}
        other => panic!("expected `{tag}` to be asked to stop, got {other:?}"),
    }
}

ferrotp::on_each_executor! {
    /// The `start_child` and the read that arrive while a child takes its
    /// time to stop are served once it is gone, in order: the new child
    /// starts after the old one's `stopped` hook, and the count sees it.
    #[test]
    fn requests_during_a_terminate_are_served_after_it_in_order() {
        let system = new_system();
        let probe = Probe::new();
        let sup = DynamicSupervisor::start(&system, template(&probe)).unwrap();
        let gate = Gate::new();
        let old = sup.start_child(slow(&gate)).unwrap();
        probe.started("slow");
        thread::scope(|scope| {
            let terminate = scope.spawn(|| sup.terminate_child(&old));
            shutdown_requested(&probe, "slow");
            let before = settled(&system, sup.actor());
            let start = scope.spawn(|| sup.start_child(("next".to_string(), Behaviour::default())));
            wait_handled(&system, sup.actor(), before);
            let count = scope.spawn(|| sup.count_children());
            wait_handled(&system, sup.actor(), before + 1);
            // Both wait: nothing has started.
            probe.assert_quiet();
            gate.open();
            assert_eq!(probe.stopped("slow", ExitReason::Shutdown), old.id());
            let next = probe.started("next");
            terminate.join().unwrap().unwrap();
            assert_eq!(start.join().unwrap().unwrap().id(), next);
            let count = count.join().unwrap().unwrap();
            assert_eq!((count.active, count.workers), (1, 1));
        });
        assert!(!old.is_alive());
        let children = sup.which_children().unwrap();
        assert_eq!(children.len(), 1);
        sup.stop(WAIT).unwrap();
        assert_eq!(system.actor_count(), 0);
    }

    /// Its parent's shutdown during a `terminate_child`: the child being
    /// terminated is waited for with the others, its caller hears that the
    /// supervisor is down, and the tree's stop returns once all are gone.
    #[test]
    fn a_shutdown_during_a_terminate_waits_for_its_child() {
        let system = new_system();
        let probe = Probe::new();
        let gate = Gate::new();
        let (root, d, old) = tree(&system, &probe, &gate);
        let trapping = Behaviour { trap_exits: true, ..Behaviour::default() };
        d.start_child(("other".to_string(), trapping)).unwrap();
        probe.started("other");
        thread::scope(|scope| {
            let terminate = scope.spawn(|| d.terminate_child(&old));
            shutdown_requested(&probe, "slow");
            let stop = scope.spawn(|| root.stop(WAIT));
            // The dynamic supervisor took its parent's exit signal and
            // began its shutdown.
            shutdown_requested(&probe, "other");
            gate.open();
            assert!(matches!(
                terminate.join().unwrap(),
                Err(SupervisorError::SupervisorDown(_))
            ));
            stop.join().unwrap().unwrap();
        });
        wait_empty(&system, "after the tree's stop");
    }

    /// A dynamic supervisor killed during a `terminate_child`: the child
    /// being terminated and the others (which trap exits, so the kill's
    /// signal does not end them) are ended by whoever takes over.
    #[test]
    fn a_dynamic_supervisor_killed_mid_terminate_leaves_nothing() {
        let system = new_system();
        let probe = Probe::new();
        let gate = Gate::new();
        let (root, d, old) = tree(&system, &probe, &gate);
        for n in 0..3 {
            let trapping = Behaviour { trap_exits: true, ..Behaviour::default() };
            d.start_child((format!("other{n}"), trapping)).unwrap();
            probe.started(&format!("other{n}"));
        }
        thread::scope(|scope| {
            let terminate = scope.spawn(|| d.terminate_child(&old));
            shutdown_requested(&probe, "slow");
            d.actor().kill();
            assert!(matches!(
                terminate.join().unwrap(),
                Err(SupervisorError::SupervisorDown(_))
            ));
        });
        gate.open();
        root.stop(WAIT).unwrap();
        wait_empty(&system, "after a kill mid-terminate");
    }
}
