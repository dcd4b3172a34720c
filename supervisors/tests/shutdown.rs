//! Semantics 6: children stop in reverse start order; `Timeout(d)` sends the
//! exit signal `Shutdown` and kills after `d`; `Brutal` kills at once;
//! `Infinity` waits; a nested supervisor stops its subtree first;
//! `Supervisor::stop` returns only when the whole subtree is gone.

mod common;

use std::thread;
use std::time::Duration;

use common::*;
use ferrotp::ExitReason;
use ferrotp_supervisors::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, Shutdown, Supervisor, SupervisorError,
    SupervisorSpec,
};

fn stubborn() -> Behaviour {
    Behaviour {
        trap_exits: true,
        ignore_shutdown: true,
        gate: None,
    }
}

fn cooperative() -> Behaviour {
    Behaviour {
        trap_exits: true,
        ..Behaviour::default()
    }
}

/// Nothing arrived but, perhaps, `tag` being asked to shut down: a child
/// killed after a short timeout may not have been scheduled to see the
/// signal before the kill (on a loaded machine).
fn assert_only_asked(probe: &Probe, tag: &str) {
    for ev in probe.pending() {
        assert_eq!(ev, Ev::ShutdownRequested { tag: tag.into() });
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn stop_stops_the_tree_in_reverse_order_and_returns_when_it_is_gone() {
        let system = new_system();
        let probe = Probe::new();
        let inner = SupervisorSpec::one_for_all()
            .child(worker("x", &probe).name("x"))
            .child(worker("y", &probe).name("y"));
        let spec = SupervisorSpec::one_for_one()
            .name("root")
            .child(worker("a", &probe).name("a"))
            .child(ChildSpec::supervisor("inner", inner).name("inner"))
            .child(worker("b", &probe).name("b"));
        let root = Supervisor::start(&system, spec).unwrap();
        for tag in ["a", "x", "y", "b"] {
            probe.started(tag);
        }
        let inner = root.child_supervisor("inner").unwrap();
        assert_eq!(
            system.registered(),
            vec!["a", "b", "inner", "root", "x", "y"]
        );

        root.stop(WAIT).unwrap();
        // Everything is gone by now: no waiting.
        let order: Vec<String> = probe
            .pending()
            .into_iter()
            .map(|ev| match ev {
                Ev::Stopped { tag, reason, .. } => {
                    assert_eq!(reason, ExitReason::Shutdown, "{tag}");
                    tag
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(order, vec!["b", "y", "x", "a"]);
        assert!(!root.actor().is_alive());
        assert!(!inner.actor().is_alive());
        assert!(system.registered().is_empty(), "{:?}", system.registered());
        assert!(system.actors().is_empty(), "{:?}", system.actors());
        assert!(matches!(
            root.stop(WAIT),
            Err(SupervisorError::SupervisorDown(ExitReason::Normal))
        ));
    }

    #[test]
    fn each_child_has_stopped_before_its_previous_sibling_is_asked() {
        // Children that trap exits report the request, then stop: with
        // OTP's order the two events of one child come together, and the
        // previous sibling is asked only after. `root` stops from its
        // `stopped` hook (a `Stop`), `inner` from its mailbox (its parent's
        // exit signal); both must keep the order.
        for _ in 0..20 {
            let system = new_system();
            let probe = Probe::new();
            let mut inner = SupervisorSpec::one_for_one();
            for tag in ["x0", "x1", "x2", "x3"] {
                inner = inner.child(worker_with(tag, &probe, cooperative()));
            }
            let spec = SupervisorSpec::one_for_one()
                .child(worker_with("a", &probe, cooperative()))
                .child(ChildSpec::supervisor("inner", inner))
                .child(worker_with("b", &probe, cooperative()));
            let root = Supervisor::start(&system, spec).unwrap();
            for tag in ["a", "x0", "x1", "x2", "x3", "b"] {
                probe.started(tag);
            }
            root.stop(WAIT).unwrap();
            let events = probe.pending();
            let mut expected = Vec::new();
            for tag in ["b", "x3", "x2", "x1", "x0", "a"] {
                expected.push(Ev::ShutdownRequested { tag: tag.into() });
                expected.push(Ev::Stopped {
                    tag: tag.into(),
                    actor: events
                        .iter()
                        .find_map(|ev| match ev {
                            Ev::Stopped { tag: t, actor, .. } if t == tag => Some(*actor),
                            _ => None,
                        })
                        .unwrap_or_else(|| panic!("`{tag}` did not stop: {events:?}")),
                    reason: ExitReason::Shutdown,
                });
            }
            assert_eq!(events, expected);
        }
    }

    #[test]
    fn timeout_sends_shutdown_and_kills_a_child_that_does_not_stop() {
        let system = new_system();
        let probe = Probe::new();
        let d = Duration::from_millis(100);
        let spec = SupervisorSpec::one_for_one()
            .child(worker_with("polite", &probe, cooperative()).shutdown(Shutdown::Timeout(WAIT)))
            .child(worker_with("stuck", &probe, stubborn()).shutdown(Shutdown::Timeout(d)));
        let sup = Supervisor::start(&system, spec).unwrap();
        probe.started("polite");
        probe.started("stuck");
        let children = sup.which_children().unwrap();
        let watcher = system.inbox();
        let polite = watcher.monitor(&actor_of(&children, "polite"));
        let stuck = watcher.monitor(&actor_of(&children, "stuck"));

        sup.terminate_child("polite").unwrap();
        assert_eq!(
            probe.next(),
            Ev::ShutdownRequested {
                tag: "polite".into()
            }
        );
        probe.stopped("polite", ExitReason::Shutdown);
        assert_eq!(wait_down(&watcher, polite), ExitReason::Shutdown);
        // Last: a late event from the killed child can then confuse nothing.
        sup.terminate_child("stuck").unwrap();
        // It ignored the signal (if it even saw it in time) and was killed, so
        // its `stopped` hook did not run.
        assert_eq!(wait_down(&watcher, stuck), ExitReason::Killed);
        assert_only_asked(&probe, "stuck");
    }

    #[test]
    fn brutal_kills_at_once() {
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .child(worker_with("b", &probe, cooperative()).shutdown(Shutdown::Brutal));
        let sup = Supervisor::start(&system, spec).unwrap();
        probe.started("b");
        let watcher = system.inbox();
        let b = watcher.monitor(&actor_of(&sup.which_children().unwrap(), "b"));
        sup.terminate_child("b").unwrap();
        assert_eq!(wait_down(&watcher, b), ExitReason::Killed);
        // Not asked to stop, no `stopped` hook.
        probe.assert_quiet();
    }

    #[test]
    fn infinity_waits_for_a_slow_child() {
        let system = new_system();
        let probe = Probe::new();
        let gate = Gate::new();
        let slow = Behaviour {
            trap_exits: true,
            ignore_shutdown: false,
            gate: Some(gate.clone()),
        };
        let spec = SupervisorSpec::one_for_one()
            .child(worker_with("slow", &probe, slow).shutdown(Shutdown::Infinity));
        let sup = Supervisor::start(&system, spec).unwrap();
        probe.started("slow");
        let watcher = system.inbox();
        let slow = watcher.monitor(&actor_of(&sup.which_children().unwrap(), "slow"));

        let terminating = {
            let sup = sup.clone();
            thread::spawn(move || sup.terminate_child("slow"))
        };
        assert_eq!(probe.next(), Ev::ShutdownRequested { tag: "slow".into() });
        // The child takes its time (much longer than the 100 ms a timeout
        // would have allowed in the test above); nothing may kill it meanwhile.
        thread::sleep(Duration::from_millis(500));
        gate.open();
        terminating.join().unwrap().unwrap();
        probe.stopped("slow", ExitReason::Shutdown);
        assert_eq!(wait_down(&watcher, slow), ExitReason::Shutdown);
    }

    #[test]
    fn a_supervisor_that_escalates_stops_its_children_per_their_shutdown() {
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .intensity(0, HOUR)
            .child(worker_with("brutal", &probe, cooperative()).shutdown(Shutdown::Brutal))
            .child(
                worker_with("stuck", &probe, stubborn())
                    .shutdown(Shutdown::Timeout(Duration::from_millis(50))),
            )
            .child(worker("crasher", &probe));
        let sup = Supervisor::start(&system, spec).unwrap();
        for tag in ["brutal", "stuck", "crasher"] {
            probe.started(tag);
        }
        let children = sup.which_children().unwrap();
        let watcher = system.inbox();
        let brutal = watcher.monitor(&actor_of(&children, "brutal"));
        let stuck = watcher.monitor(&actor_of(&children, "stuck"));
        let sup_down = watcher.monitor(sup.actor());
        actor_of(&children, "crasher").send(Crash);
        // Downs arrive in the order the actors ended (`wait_down` skips others,
        // so a wrong order would fail here): reverse start order, then the
        // supervisor itself.
        assert_eq!(wait_down(&watcher, stuck), ExitReason::Killed);
        assert_eq!(wait_down(&watcher, brutal), ExitReason::Killed);
        assert_eq!(wait_down(&watcher, sup_down), ExitReason::Shutdown);
        probe.stopped("crasher", ExitReason::error("crash"));
        assert_only_asked(&probe, "stuck");
    }

    #[test]
    fn a_system_shutdown_stops_the_tree_without_restarting_anything() {
        let system = new_system();
        let probe = Probe::new();
        let inner = SupervisorSpec::one_for_all()
            .intensity(10, HOUR)
            .child(worker("x", &probe))
            .child(worker("y", &probe));
        let spec = SupervisorSpec::one_for_one()
            .intensity(10, HOUR)
            .child(worker("a", &probe))
            .child(ChildSpec::supervisor("inner", inner))
            .child(worker("b", &probe));
        let _root = Supervisor::start(&system, spec).unwrap();
        for tag in ["a", "x", "y", "b"] {
            probe.started(tag);
        }
        system.shutdown(WAIT).unwrap();
        let mut stopped: Vec<String> = probe
            .pending()
            .into_iter()
            .map(|ev| match ev {
                Ev::Stopped {
                    tag,
                    reason: ExitReason::Shutdown,
                    ..
                } => tag,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        stopped.sort();
        assert_eq!(stopped, vec!["a", "b", "x", "y"]);
        assert!(system.actors().is_empty());
        assert_eq!(system.threads(), 0);
    }
    /// `System::shutdown` asks a root supervisor (static or dynamic) to
    /// stop, so it stops its children from its mailbox, one `Down` at a
    /// time, as for any other shutdown: while a child takes its time, the
    /// supervisor is idle, not blocked in its `stopped` hook holding a
    /// thread.
    #[test]
    fn a_system_shutdown_lets_supervisors_stop_their_children_from_their_mailbox() {
        for dynamic in [false, true] {
            let system = new_system();
            let probe = Probe::new();
            let gate = Gate::new();
            let slow = Behaviour {
                gate: Some(gate.clone()),
                ..cooperative()
            };
            let root = if dynamic {
                let events = probe.sender();
                let spec = DynamicSupervisorSpec::worker("w", move |tag: String| {
                    Worker::new(&tag, events.clone(), slow.clone())
                })
                .shutdown(Shutdown::Timeout(WAIT));
                let d = DynamicSupervisor::start(&system, spec).unwrap();
                d.start_child("slow".to_string()).unwrap();
                d.actor().clone()
            } else {
                let spec = SupervisorSpec::one_for_one()
                    .child(worker_with("a", &probe, cooperative()))
                    .child(worker_with("slow", &probe, slow).shutdown(Shutdown::Timeout(WAIT)));
                let root = Supervisor::start(&system, spec).unwrap();
                probe.started("a");
                root.actor().clone()
            };
            probe.started("slow");
            let stopping = {
                let system = system.clone();
                thread::spawn(move || system.shutdown(WAIT))
            };
            assert_eq!(probe.next(), Ev::ShutdownRequested { tag: "slow".into() });
            // The child waits for the gate: the supervisor must be done
            // with its handler and waiting for the child's `Down`.
            settled(&system, &root);
            gate.open();
            stopping.join().unwrap().unwrap();
            probe.stopped("slow", ExitReason::Shutdown);
            if !dynamic {
                assert_eq!(probe.next(), Ev::ShutdownRequested { tag: "a".into() });
                probe.stopped("a", ExitReason::Shutdown);
            }
            assert!(system.actors().is_empty());
        }
    }
}
