//! The `Supervisor` handle: start_child, terminate_child, restart_child,
//! delete_child, count_children, and how calls fail.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::*;
use ferrotp::{Actor, Context, ExitReason, Handlers};
use ferrotp_supervisors::{
    ChildCount, ChildSpec, Restart, Shutdown, Supervisor, SupervisorError, SupervisorSpec,
};

/// Its first incarnation starts; every later one fails to.
struct Once {
    first: bool,
}

impl Once {
    fn crash(&mut self, _: Crash, _ctx: &mut Context<Self>) -> Result<(), String> {
        Err("crash".into())
    }
}

impl Actor for Once {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::crash)
    }

    fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if self.first {
            Ok(())
        } else {
            Err(ExitReason::error("never again"))
        }
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn children_are_added_stopped_restarted_and_deleted_by_id() {
        let system = new_system();
        let probe = Probe::new();
        let sup = Supervisor::start(
            &system,
            SupervisorSpec::one_for_one().child(worker("a", &probe)),
        )
        .unwrap();
        probe.started("a");

        let b = sup.start_child(worker("b", &probe).name("b")).unwrap();
        assert_eq!(probe.started("b"), b.id());
        let listed: Vec<String> = sup
            .which_children()
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(listed, vec!["a", "b"]);
        assert!(matches!(
            sup.start_child(worker("b", &probe)),
            Err(SupervisorError::DuplicateChildId(id)) if id == "b"
        ));

        sup.terminate_child("b").unwrap();
        probe.stopped("b", ExitReason::Shutdown);
        let children = sup.which_children().unwrap();
        assert_eq!(children[1].actor, None, "the spec is kept");
        assert_eq!(system.whereis("b"), None);
        sup.terminate_child("b").unwrap(); // not running: nothing to do
        assert!(matches!(
            sup.start_child(worker("b", &probe)),
            Err(SupervisorError::DuplicateChildId(_))
        ));

        let b2 = sup.restart_child("b").unwrap();
        assert_eq!(probe.started("b"), b2.id());
        assert_eq!(system.whereis("b"), Some(b2));
        assert!(matches!(
            sup.restart_child("b"),
            Err(SupervisorError::ChildRunning(_))
        ));
        assert!(matches!(
            sup.delete_child("b"),
            Err(SupervisorError::ChildRunning(_))
        ));
        sup.terminate_child("b").unwrap();
        probe.stopped("b", ExitReason::Shutdown);
        sup.delete_child("b").unwrap();
        assert_eq!(sup.which_children().unwrap().len(), 1);

        for result in [
            sup.terminate_child("zz"),
            sup.delete_child("zz"),
            sup.restart_child("zz").map(drop),
            sup.delete_child("b"),
        ] {
            assert!(
                matches!(result, Err(SupervisorError::NoSuchChild(_))),
                "{result:?}"
            );
        }
        probe.assert_quiet();
    }

    #[test]
    fn a_child_that_cannot_start_is_not_added() {
        let system = new_system();
        let probe = Probe::new();
        let sup = Supervisor::start(&system, SupervisorSpec::one_for_one()).unwrap();
        assert!(matches!(
            sup.start_child(ChildSpec::worker("bad", || FailsToStart(ExitReason::error("nope")))),
            Err(SupervisorError::StartFailed { id, reason }) if id == "bad" && reason == ExitReason::error("nope")
        ));
        // A name held by another actor is a start failure too.
        let squatter = system.spawn(Worker::new(
            "squatter",
            probe.sender(),
            Behaviour::default(),
        ));
        probe.started("squatter");
        system.register("taken", &squatter).unwrap();
        match sup.start_child(worker("c", &probe).name("taken")) {
            Err(SupervisorError::StartFailed { id, reason }) => {
                assert_eq!(id, "c");
                assert!(reason.to_string().contains("taken"), "{reason}");
            }
            other => panic!("expected StartFailed, got {other:?}"),
        }
        assert!(sup.which_children().unwrap().is_empty());
        assert!(matches!(
            sup.start_child(worker("", &probe)),
            Err(SupervisorError::InvalidSpec(_))
        ));
        probe.assert_quiet();
    }

    #[test]
    fn terminating_a_temporary_child_removes_it() {
        let system = new_system();
        let probe = Probe::new();
        let sup = Supervisor::start(
            &system,
            SupervisorSpec::one_for_one().child(worker("t", &probe).restart(Restart::Temporary)),
        )
        .unwrap();
        probe.started("t");
        sup.terminate_child("t").unwrap();
        probe.stopped("t", ExitReason::Shutdown);
        assert!(sup.which_children().unwrap().is_empty());
    }

    #[test]
    fn count_children_counts_specs_live_children_and_kinds() {
        let system = new_system();
        let probe = Probe::new();
        let sup = Supervisor::start(
            &system,
            SupervisorSpec::one_for_one()
                .child(worker("a", &probe))
                .child(worker("b", &probe))
                .child(ChildSpec::supervisor(
                    "inner",
                    SupervisorSpec::one_for_one().child(worker("x", &probe)),
                )),
        )
        .unwrap();
        sup.terminate_child("b").unwrap();
        assert_eq!(
            sup.count_children().unwrap(),
            ChildCount {
                specs: 3,
                active: 2,
                supervisors: 1,
                workers: 2
            }
        );
    }

    #[test]
    fn calls_to_a_stopped_supervisor_fail_at_once() {
        let system = new_system();
        let sup = Supervisor::start(&system, SupervisorSpec::one_for_one()).unwrap();
        sup.stop(WAIT).unwrap();
        // A long timeout: the failure must come from the supervisor being gone.
        let sup = sup.with_call_timeout(Duration::from_secs(3600));
        assert!(matches!(
            sup.which_children(),
            Err(SupervisorError::SupervisorDown(_))
        ));
        assert!(matches!(
            sup.count_children(),
            Err(SupervisorError::SupervisorDown(_))
        ));
        assert!(matches!(
            sup.terminate_child("a"),
            Err(SupervisorError::SupervisorDown(_))
        ));
    }

    #[test]
    fn a_busy_supervisor_makes_calls_time_out() {
        let system = new_system();
        let probe = Probe::new();
        let gate = Gate::new();
        let slow = Behaviour {
            trap_exits: true,
            ignore_shutdown: false,
            gate: Some(gate.clone()),
        };
        let sup = Supervisor::start(
            &system,
            SupervisorSpec::one_for_one()
                .child(worker_with("slow", &probe, slow).shutdown(Shutdown::Infinity)),
        )
        .unwrap();
        probe.started("slow");
        let terminating = {
            let sup = sup.clone();
            thread::spawn(move || sup.terminate_child("slow"))
        };
        assert_eq!(probe.next(), Ev::ShutdownRequested { tag: "slow".into() });
        // The supervisor waits for its child until the gate opens.
        let impatient = sup.clone().with_call_timeout(Duration::from_millis(100));
        assert!(matches!(
            impatient.which_children(),
            Err(SupervisorError::Timeout)
        ));
        gate.open();
        terminating.join().unwrap().unwrap();
        probe.stopped("slow", ExitReason::Shutdown);
        assert_eq!(sup.which_children().unwrap()[0].actor, None);
    }

    #[test]
    fn a_child_being_restarted_cannot_be_restarted_or_deleted_until_terminated() {
        let system = new_system();
        let starts = Arc::new(AtomicU32::new(0));
        let counter = starts.clone();
        let child = ChildSpec::worker("once", move || Once {
            first: counter.fetch_add(1, Ordering::SeqCst) == 0,
        });
        // Unbounded intensity: the supervisor keeps retrying, one retry message
        // at a time, serving requests in between.
        let sup = Supervisor::start(
            &system,
            SupervisorSpec::one_for_one()
                .intensity(u32::MAX, HOUR)
                .child(child),
        )
        .unwrap();
        let first = actor_of(&sup.which_children().unwrap(), "once");
        end_with(&system, &first, Crash);

        assert!(matches!(
            sup.restart_child("once"),
            Err(SupervisorError::ChildRestarting(_))
        ));
        assert!(matches!(
            sup.delete_child("once"),
            Err(SupervisorError::ChildRestarting(_))
        ));
        assert_eq!(sup.which_children().unwrap()[0].actor, None);
        // Terminating it ends the retries.
        sup.terminate_child("once").unwrap();
        let attempts = starts.load(Ordering::SeqCst);
        assert!(matches!(
            sup.restart_child("once"),
            Err(SupervisorError::StartFailed { reason, .. }) if reason == ExitReason::error("never again")
        ));
        assert_eq!(starts.load(Ordering::SeqCst), attempts + 1);
        sup.delete_child("once").unwrap();
        assert!(sup.which_children().unwrap().is_empty());
        assert!(sup.actor().is_alive());
    }
}

#[test]
fn handles_and_specs_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Supervisor>();
    shareable::<ferrotp_supervisors::DynamicSupervisor<String>>();
    shareable::<SupervisorSpec>();
    shareable::<ChildSpec>();
    shareable::<ferrotp_supervisors::DynamicSupervisorSpec<String>>();
    fn sendable<T: Send + 'static>() {}
    sendable::<SupervisorError>();
}
