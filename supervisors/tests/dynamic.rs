//! DynamicSupervisor: one template, children started on demand with
//! arguments, many of them, each restarted per its policy with its own
//! arguments.

mod common;

use std::collections::BTreeSet;

use common::*;
use ferrotp::{Actor, ActorId, Context, ExitReason, Handlers};
use ferrotp_supervisors::{
    ChildKind, ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, Restart, Supervisor,
    SupervisorError, SupervisorSpec,
};

fn template(probe: &Probe) -> DynamicSupervisorSpec<u32> {
    let events = probe.sender();
    DynamicSupervisorSpec::worker("w", move |n: u32| {
        Worker::new(&format!("w{n}"), events.clone(), Behaviour::default())
    })
}

fn actor_ids(sup: &DynamicSupervisor<u32>) -> BTreeSet<ActorId> {
    sup.which_children()
        .unwrap()
        .iter()
        .map(|c| c.actor.as_ref().expect("running").id())
        .collect()
}

/// Fails its `started` when its number ends in 3.
struct Picky(u32);

impl Actor for Picky {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }

    fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        match self.0 % 10 {
            3 => Err(ExitReason::error("picky")),
            _ => Ok(()),
        }
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn start_children_starts_a_batch_in_order_and_reports_each_failure() {
        let system = new_system();
        let spec = DynamicSupervisorSpec::worker("p", Picky).intensity(1, HOUR);
        let sup = DynamicSupervisor::start(&system, spec).unwrap();
        let results = sup.start_children(0..100u32).unwrap();
        assert_eq!(results.len(), 100);
        let mut started = Vec::new();
        for (n, result) in results.into_iter().enumerate() {
            match result {
                Ok(child) => {
                    assert_ne!(n % 10, 3, "child {n} should have failed");
                    started.push(child.id());
                }
                Err(SupervisorError::StartFailed { reason, .. }) => {
                    assert_eq!((n % 10, reason), (3, ExitReason::error("picky")));
                }
                Err(other) => panic!("child {n}: {other}"),
            }
        }
        // In order: children start one after another, so ids increase.
        assert!(started.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(actor_ids(&sup), started.iter().copied().collect());
        // Failed starts are not restarts: the supervisor is still up.
        assert_eq!(sup.count_children().unwrap().active, 90);
        sup.stop(WAIT).unwrap();
    }

    #[test]
    fn many_children_start_on_demand_and_each_restarts_with_its_arguments() {
        const N: u32 = 1000;
        let system = new_system();
        let probe = Probe::new();
        let sup = DynamicSupervisor::start(&system, template(&probe).intensity(10, HOUR)).unwrap();
        let mut children = Vec::new();
        for n in 0..N {
            let child = sup.start_child(n).unwrap();
            assert_eq!(probe.started(&format!("w{n}")), child.id());
            children.push(child);
        }
        let counts = sup.count_children().unwrap();
        assert_eq!(
            (
                counts.specs,
                counts.active,
                counts.workers,
                counts.supervisors
            ),
            (1, N as usize, N as usize, 0)
        );

        let before = actor_ids(&sup);
        let victim = &children[N as usize / 2];
        victim.send(Bump);
        assert_eq!(count(&system, victim), 1);
        end_with(&system, victim, Crash);
        probe.stopped(&format!("w{}", N / 2), ExitReason::error("crash"));
        // Restarted from the same arguments, with a fresh state.
        let again = probe.started(&format!("w{}", N / 2));
        let after = actor_ids(&sup);
        let mut expected = before.clone();
        expected.remove(&victim.id());
        expected.insert(again);
        assert_eq!(after, expected);
        let infos = sup.which_children().unwrap();
        let restarted = infos
            .iter()
            .find(|c| c.actor.as_ref().map(|a| a.id()) == Some(again))
            .unwrap();
        assert_eq!((restarted.id.as_str(), restarted.restarts), ("w", 1));
        assert_eq!(count(&system, restarted.actor.as_ref().unwrap()), 0);
        probe.assert_quiet();

        sup.stop(WAIT).unwrap();
        let stopped = probe.pending();
        assert_eq!(stopped.len(), N as usize);
        assert!(stopped.iter().all(|ev| matches!(
            ev,
            Ev::Stopped {
                reason: ExitReason::Shutdown,
                ..
            }
        )));
        assert!(system.actors().is_empty());
    }

    #[test]
    fn transient_and_temporary_children_leave_when_not_restarted() {
        let system = new_system();
        let probe = Probe::new();
        let transient = DynamicSupervisor::start(
            &system,
            template(&probe)
                .restart(Restart::Transient)
                .intensity(10, HOUR),
        )
        .unwrap();
        let quits = transient.start_child(0).unwrap();
        let crashes = transient.start_child(1).unwrap();
        probe.started("w0");
        probe.started("w1");
        end_with(&system, &quits, Quit(ExitReason::Normal));
        probe.stopped("w0", ExitReason::Normal);
        end_with(&system, &crashes, Crash);
        probe.stopped("w1", ExitReason::error("crash"));
        let again = probe.started("w1");
        assert_eq!(actor_ids(&transient), [again].into());

        let temporary = DynamicSupervisor::start(
            &system,
            template(&probe)
                .restart(Restart::Temporary)
                .intensity(10, HOUR),
        )
        .unwrap();
        let child = temporary.start_child(2).unwrap();
        probe.started("w2");
        end_with(&system, &child, Crash);
        probe.stopped("w2", ExitReason::error("crash"));
        assert!(temporary.which_children().unwrap().is_empty());
        probe.assert_quiet();
    }

    #[test]
    fn terminate_child_stops_and_forgets_a_child() {
        let system = new_system();
        let probe = Probe::new();
        let sup = DynamicSupervisor::start(&system, template(&probe)).unwrap();
        let a = sup.start_child(0).unwrap();
        let b = sup.start_child(1).unwrap();
        probe.started("w0");
        probe.started("w1");
        sup.terminate_child(&a).unwrap();
        probe.stopped("w0", ExitReason::Shutdown);
        assert!(!a.is_alive());
        assert_eq!(actor_ids(&sup), [b.id()].into());
        assert!(matches!(
            sup.terminate_child(&a),
            Err(SupervisorError::NoSuchChild(_))
        ));
        let stranger = system.spawn(Worker::new("x", probe.sender(), Behaviour::default()));
        probe.started("x");
        assert!(matches!(
            sup.terminate_child(&stranger),
            Err(SupervisorError::NoSuchChild(_))
        ));
        probe.assert_quiet();
    }

    #[test]
    fn a_child_that_fails_to_start_is_not_kept() {
        let system = new_system();
        let sup =
            DynamicSupervisor::start(&system, DynamicSupervisorSpec::worker("f", FailsToStart))
                .unwrap();
        match sup.start_child(ExitReason::error("nope")) {
            Err(SupervisorError::StartFailed { id, reason }) => {
                assert_eq!((id.as_str(), reason), ("f", ExitReason::error("nope")));
            }
            other => panic!("expected StartFailed, got {other:?}"),
        }
        assert_eq!(sup.count_children().unwrap().workers, 0);
    }

    #[test]
    fn exceeding_the_intensity_stops_every_child_and_the_supervisor() {
        let system = new_system();
        let probe = Probe::new();
        let sup = DynamicSupervisor::start(&system, template(&probe).intensity(1, HOUR)).unwrap();
        let children: Vec<_> = (0..3).map(|n| sup.start_child(n).unwrap()).collect();
        for n in 0..3 {
            probe.started(&format!("w{n}"));
        }
        let watcher = system.inbox();
        let sup_down = watcher.monitor(sup.actor());
        end_with(&system, &children[0], Crash);
        probe.stopped("w0", ExitReason::error("crash"));
        probe.started("w0");
        children[1].send(Crash);
        assert_eq!(wait_down(&watcher, sup_down), ExitReason::Shutdown);
        probe.stopped("w1", ExitReason::error("crash"));
        // The two others stop at once, in no particular order.
        let mut rest: Vec<String> = (0..2)
            .map(|_| match probe.next() {
                Ev::Stopped {
                    tag,
                    reason: ExitReason::Shutdown,
                    ..
                } => tag,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        rest.sort();
        assert_eq!(rest, vec!["w0", "w2"]);
        probe.assert_quiet();
    }

    #[test]
    fn a_dynamic_supervisor_nests_in_a_static_tree_and_supervises_supervisors() {
        let system = new_system();
        let probe = Probe::new();
        let events = probe.sender();
        let teams = DynamicSupervisorSpec::supervisor("team", move |n: u32| {
            let events = events.clone();
            SupervisorSpec::one_for_one().child(ChildSpec::worker("member", move || {
                Worker::new(&format!("t{n}"), events.clone(), Behaviour::default())
            }))
        });
        let root = Supervisor::start(
            &system,
            SupervisorSpec::one_for_one()
                .child(ChildSpec::dynamic_supervisor("pool", template(&probe)))
                .child(ChildSpec::dynamic_supervisor("teams", teams)),
        )
        .unwrap();

        let pool = root.child_dynamic_supervisor::<u32>("pool").unwrap();
        let w7 = pool.start_child(7).unwrap();
        assert_eq!(probe.started("w7"), w7.id());
        assert!(matches!(
            root.child_dynamic_supervisor::<String>("pool"),
            Err(SupervisorError::NoSuchChild(_))
        ));
        assert!(matches!(
            root.child_supervisor("pool"),
            Err(SupervisorError::NoSuchChild(_))
        ));

        let teams = root.child_dynamic_supervisor::<u32>("teams").unwrap();
        teams.start_child(1).unwrap();
        probe.started("t1");
        let infos = teams.which_children().unwrap();
        assert_eq!((infos.len(), infos[0].kind), (1, ChildKind::Supervisor));

        root.stop(WAIT).unwrap();
        let mut stopped: Vec<String> = probe
            .pending()
            .iter()
            .map(|e| e.tag().to_string())
            .collect();
        stopped.sort();
        assert_eq!(stopped, vec!["t1", "w7"]);
        assert!(system.actors().is_empty());
    }
}
