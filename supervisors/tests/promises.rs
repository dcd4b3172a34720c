//! Issue 18: the supervisors' documented promises that an audit found
//! false or vague — `SupervisorDown` carries the reason the supervisor
//! terminated with, and `DynamicSupervisor::which_children`'s order.

mod common;

use common::*;
use ferrotp::{ActorId, ExitReason};
use ferrotp_supervisors::{
    DynamicSupervisor, DynamicSupervisorSpec, Supervisor, SupervisorError, SupervisorSpec,
};

/// The reason in a `SupervisorDown`, or a panic naming what came instead.
fn down_reason<T: std::fmt::Debug>(result: Result<T, SupervisorError>) -> ExitReason {
    match result {
        Err(SupervisorError::SupervisorDown(reason)) => reason,
        other => panic!("expected SupervisorDown, got {other:?}"),
    }
}

ferrotp::on_each_executor! {
    // False 7: a dead supervisor's handle answers with the reason it
    // terminated with — here an escalation (`Shutdown`) — not `NoProc`.
    #[test]
    fn a_handle_tells_an_escalation() {
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .intensity(0, HOUR)
            .child(worker("a", &probe));
        let sup = Supervisor::start(&system, spec).unwrap();
        probe.started("a");
        let watcher = system.inbox();
        let down = watcher.monitor(sup.actor());
        let a = actor_of(&sup.which_children().unwrap(), "a");
        a.send(Crash);
        assert_eq!(wait_down(&watcher, down), ExitReason::Shutdown);
        assert_eq!(down_reason(sup.which_children()), ExitReason::Shutdown);
        assert_eq!(down_reason(sup.count_children()), ExitReason::Shutdown);
        assert_eq!(down_reason(sup.stop(WAIT)), ExitReason::Shutdown);
    }

    // False 7: ... `Normal` after a stop, `Killed` after a kill.
    #[test]
    fn a_handle_tells_a_stop_from_a_kill() {
        let system = new_system();
        let probe = Probe::new();
        let stopped = Supervisor::start(&system, SupervisorSpec::one_for_one().child(worker("a", &probe))).unwrap();
        probe.started("a");
        stopped.stop(WAIT).unwrap();
        assert_eq!(down_reason(stopped.which_children()), ExitReason::Normal);
        assert_eq!(down_reason(stopped.stop(WAIT)), ExitReason::Normal);

        let killed = DynamicSupervisor::start(&system, DynamicSupervisorSpec::worker("w", |n: u32| {
            FailsToStart(ExitReason::error(n))
        }))
        .unwrap();
        assert_eq!(kill(&system, killed.actor()), ExitReason::Killed);
        assert_eq!(down_reason(killed.which_children()), ExitReason::Killed);
        assert_eq!(down_reason(killed.start_child(1)), ExitReason::Killed);
    }

    // Vague: `DynamicSupervisor::which_children` lists the running children
    // oldest (re)start first — a restarted child moves after the others.
    #[test]
    fn dynamic_which_children_lists_a_restarted_child_last() {
        let system = new_system();
        let probe = Probe::new();
        let events = probe.sender();
        let spec = DynamicSupervisorSpec::worker("w", move |n: u32| {
            Worker::new(&format!("w{n}"), events.clone(), Default::default())
        })
        .intensity(5, HOUR);
        let sup = DynamicSupervisor::start(&system, spec).unwrap();
        let children: Vec<ActorId> = (0..3u32)
            .map(|n| {
                let child = sup.start_child(n).unwrap();
                probe.started(&format!("w{n}"));
                child.id()
            })
            .collect();
        let running = |sup: &DynamicSupervisor<u32>| -> Vec<ActorId> {
            sup.which_children()
                .unwrap()
                .iter()
                .map(|c| c.actor.as_ref().expect("running").id())
                .collect()
        };
        assert_eq!(running(&sup), children);

        let first = system.actors().into_iter().find(|a| a.id() == children[0]).unwrap();
        end_with(&system, &first, Crash);
        probe.stopped("w0", ExitReason::error("crash"));
        let again = probe.started("w0");
        assert_eq!(running(&sup), vec![children[1], children[2], again]);
        let restarts: Vec<u32> = sup.which_children().unwrap().iter().map(|c| c.restarts).collect();
        assert_eq!(restarts, vec![0, 0, 1]);
    }
}
