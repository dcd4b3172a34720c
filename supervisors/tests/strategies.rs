//! Semantics 2: one_for_all stops all other children in reverse start
//! order, then restarts all in start order; rest_for_one does the same for
//! the failed child and those started after it.

mod common;

use common::*;
use ferrotp::{ActorId, ExitReason, System};
use ferrotp_supervisors::{Restart, Supervisor, SupervisorSpec};

fn four(spec: SupervisorSpec, probe: &Probe) -> SupervisorSpec {
    spec.intensity(10, HOUR)
        .child(worker("a", probe))
        .child(worker("b", probe))
        .child(worker("c", probe))
        .child(worker("d", probe))
}

fn shutdown(tag: &str) -> (String, &'static str) {
    (tag.to_string(), "stopped")
}

/// The events as `(tag, "started" | "stopped")`, checking reasons.
fn steps(events: &[Ev]) -> Vec<(String, &'static str)> {
    events
        .iter()
        .map(|ev| match ev {
            Ev::Started { tag, .. } => (tag.clone(), "started"),
            Ev::Stopped { tag, reason, .. } => {
                assert_eq!(reason, &ExitReason::Shutdown, "{tag} stopped with {reason}");
                (tag.clone(), "stopped")
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

fn started(tag: &str) -> (String, &'static str) {
    (tag.to_string(), "started")
}

fn start_four(system: &System, spec: SupervisorSpec, probe: &Probe) -> (Supervisor, Vec<ActorId>) {
    let sup = Supervisor::start(system, four(spec, probe)).unwrap();
    let first = ["a", "b", "c", "d"].map(|t| probe.started(t)).to_vec();
    (sup, first)
}

ferrotp::on_each_executor! {
    #[test]
    fn one_for_all_stops_the_others_in_reverse_then_restarts_all_in_order() {
        let system = new_system();
        let probe = Probe::new();
        let (sup, first) = start_four(&system, SupervisorSpec::one_for_all(), &probe);

        let b = actor_of(&sup.which_children().unwrap(), "b");
        end_with(&system, &b, Crash);
        probe.stopped("b", ExitReason::error("crash"));
        // Everything the restart did happened before this answer.
        let children = sup.which_children().unwrap();
        assert_eq!(
            steps(&probe.pending()),
            vec![
                shutdown("d"),
                shutdown("c"),
                shutdown("a"),
                started("a"),
                started("b"),
                started("c"),
                started("d"),
            ]
        );
        for (child, old) in children.iter().zip(&first) {
            let now = child.actor.as_ref().expect("running").id();
            assert_ne!(now, *old, "{} kept its actor", child.id);
            assert_eq!(child.restarts, 1);
        }
    }

    #[test]
    fn rest_for_one_restarts_the_failed_child_and_those_after_it() {
        let system = new_system();
        let probe = Probe::new();
        let (sup, first) = start_four(&system, SupervisorSpec::rest_for_one(), &probe);

        let b = actor_of(&sup.which_children().unwrap(), "b");
        end_with(&system, &b, Crash);
        probe.stopped("b", ExitReason::error("crash"));
        let children = sup.which_children().unwrap();
        assert_eq!(
            steps(&probe.pending()),
            vec![
                shutdown("d"),
                shutdown("c"),
                started("b"),
                started("c"),
                started("d"),
            ]
        );
        assert_eq!(children[0].actor.as_ref().unwrap().id(), first[0]);
        assert_eq!(children[0].restarts, 0);
        for (child, old) in children[1..].iter().zip(&first[1..]) {
            assert_ne!(child.actor.as_ref().unwrap().id(), *old);
            assert_eq!(child.restarts, 1);
        }
    }

    #[test]
    fn rest_for_one_restarts_the_last_child_alone() {
        let system = new_system();
        let probe = Probe::new();
        let (sup, first) = start_four(&system, SupervisorSpec::rest_for_one(), &probe);

        let d = actor_of(&sup.which_children().unwrap(), "d");
        end_with(&system, &d, Crash);
        probe.stopped("d", ExitReason::error("crash"));
        let children = sup.which_children().unwrap();
        assert_eq!(steps(&probe.pending()), vec![started("d")]);
        let now: Vec<ActorId> = children
            .iter()
            .map(|c| c.actor.as_ref().unwrap().id())
            .collect();
        assert_eq!(&now[..3], &first[..3]);
        assert_ne!(now[3], first[3]);
    }

    #[test]
    fn one_for_all_drops_temporary_siblings_and_restarts_stopped_ones() {
        // OTP: a group restart removes temporary children (they are never
        // restarted) and starts every other child, also one that was stopped.
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_all()
            .intensity(10, HOUR)
            .child(worker("a", &probe))
            .child(worker("t", &probe).restart(Restart::Temporary))
            .child(worker("s", &probe))
            .child(worker("c", &probe));
        let sup = Supervisor::start(&system, spec).unwrap();
        for tag in ["a", "t", "s", "c"] {
            probe.started(tag);
        }
        sup.terminate_child("s").unwrap();
        probe.stopped("s", ExitReason::Shutdown);

        let c = actor_of(&sup.which_children().unwrap(), "c");
        end_with(&system, &c, Crash);
        probe.stopped("c", ExitReason::error("crash"));
        let children = sup.which_children().unwrap();
        assert_eq!(
            steps(&probe.pending()),
            vec![
                shutdown("t"),
                shutdown("a"),
                started("a"),
                started("s"),
                started("c"),
            ]
        );
        let listed: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(listed, vec!["a", "s", "c"]);
        assert!(children.iter().all(|c| c.actor.is_some()));
    }
}
