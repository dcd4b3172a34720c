//! Semantics 4: a restart that makes more than `max_restarts` within the
//! last `period` makes the supervisor stop all children (reverse order) and
//! terminate with `Shutdown`; its own supervisor then applies its policy.

mod common;

use std::time::Duration;

use common::*;
use ferrotp::ExitReason;
use ferrotp_supervisors::{ChildSpec, ManualClock, Supervisor, SupervisorError, SupervisorSpec};

ferrotp::on_each_executor! {
    #[test]
    fn exceeding_the_intensity_stops_children_in_reverse_and_the_supervisor() {
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .intensity(2, HOUR)
            .child(worker("a", &probe))
            .child(worker("b", &probe))
            .child(worker("c", &probe));
        let sup = Supervisor::start(&system, spec).unwrap();
        for tag in ["a", "b", "c"] {
            probe.started(tag);
        }
        let watcher = system.inbox();
        let sup_down = watcher.monitor(sup.actor());

        // Two restarts are within the intensity.
        for _ in 0..2 {
            let b = actor_of(&sup.which_children().unwrap(), "b");
            end_with(&system, &b, Crash);
            probe.stopped("b", ExitReason::error("crash"));
            probe.started("b");
        }
        // The third is one too many.
        let b = actor_of(&sup.which_children().unwrap(), "b");
        b.send(Crash);
        assert_eq!(wait_down(&watcher, sup_down), ExitReason::Shutdown);
        probe.stopped("b", ExitReason::error("crash"));
        probe.stopped("c", ExitReason::Shutdown);
        probe.stopped("a", ExitReason::Shutdown);
        probe.assert_quiet();
        assert!(matches!(
            sup.which_children(),
            Err(SupervisorError::SupervisorDown(_))
        ));
    }

    #[test]
    fn zero_intensity_escalates_at_the_first_restart() {
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .intensity(0, HOUR)
            .child(worker("a", &probe));
        let sup = Supervisor::start(&system, spec).unwrap();
        probe.started("a");
        let watcher = system.inbox();
        let sup_down = watcher.monitor(sup.actor());
        actor_of(&sup.which_children().unwrap(), "a").send(Crash);
        assert_eq!(wait_down(&watcher, sup_down), ExitReason::Shutdown);
        probe.stopped("a", ExitReason::error("crash"));
        probe.assert_quiet();
    }

    #[test]
    fn an_escalating_supervisor_is_restarted_by_its_parent() {
        let system = new_system();
        let probe = Probe::new();
        let inner = SupervisorSpec::one_for_one()
            .intensity(0, HOUR)
            .child(worker("w1", &probe))
            .child(worker("w2", &probe));
        let spec = SupervisorSpec::one_for_one()
            .intensity(5, HOUR)
            .child(worker("x", &probe))
            .child(ChildSpec::supervisor("inner", inner));
        let root = Supervisor::start(&system, spec).unwrap();
        let x = probe.started("x");
        probe.started("w1");
        probe.started("w2");

        let before = root.which_children().unwrap();
        let inner_sup = root.child_supervisor("inner").unwrap();
        let w1 = actor_of(&inner_sup.which_children().unwrap(), "w1");
        w1.send(Crash);
        // The inner supervisor gives up, its parent restarts it (and so its children).
        let watcher = system.inbox();
        assert_eq!(
            wait_down(&watcher, watcher.monitor(inner_sup.actor())),
            ExitReason::Shutdown
        );
        probe.stopped("w1", ExitReason::error("crash"));
        probe.stopped("w2", ExitReason::Shutdown);
        probe.started("w1");
        probe.started("w2");

        let after = root.which_children().unwrap();
        assert_eq!(after[0].actor.as_ref().unwrap().id(), x);
        assert_ne!(after[1].actor, before[1].actor);
        assert_eq!(after[1].restarts, 1);
        let inner_again = root.child_supervisor("inner").unwrap();
        assert_eq!(inner_again.which_children().unwrap().len(), 2);
        probe.assert_quiet();
    }

    #[test]
    fn escalation_climbs_to_the_root_when_no_one_absorbs_it() {
        let system = new_system();
        let probe = Probe::new();
        let inner = SupervisorSpec::one_for_one()
            .intensity(0, HOUR)
            .child(worker("w", &probe));
        let middle = SupervisorSpec::one_for_one()
            .intensity(0, HOUR)
            .child(ChildSpec::supervisor("inner", inner));
        let spec = SupervisorSpec::one_for_one()
            .intensity(0, HOUR)
            .child(worker("x", &probe))
            .child(ChildSpec::supervisor("middle", middle));
        let root = Supervisor::start(&system, spec).unwrap();
        probe.started("x");
        probe.started("w");
        let watcher = system.inbox();
        let root_down = watcher.monitor(root.actor());

        let inner_sup = root
            .child_supervisor("middle")
            .and_then(|middle| middle.child_supervisor("inner"))
            .unwrap();
        actor_of(&inner_sup.which_children().unwrap(), "w").send(Crash);
        assert_eq!(wait_down(&watcher, root_down), ExitReason::Shutdown);
        probe.stopped("w", ExitReason::error("crash"));
        probe.stopped("x", ExitReason::Shutdown);
        probe.assert_quiet();
        assert!(system.actors().is_empty(), "{:?}", system.actors());
    }

    #[test]
    fn restarts_leave_the_window_after_the_period() {
        let system = new_system();
        let probe = Probe::new();
        let clock = ManualClock::new();
        let spec = SupervisorSpec::one_for_one()
            .intensity(1, Duration::from_secs(10))
            .clock(clock.clone())
            .child(worker("a", &probe));
        let sup = Supervisor::start(&system, spec).unwrap();
        probe.started("a");
        let watcher = system.inbox();
        let sup_down = watcher.monitor(sup.actor());

        let crash = || {
            let a = actor_of(&sup.which_children().unwrap(), "a");
            end_with(&system, &a, Crash);
            probe.stopped("a", ExitReason::error("crash"));
        };
        crash();
        probe.started("a");
        clock.advance(Duration::from_secs(11));
        // The first restart has left the window: this one is allowed.
        crash();
        probe.started("a");
        clock.advance(Duration::from_secs(9));
        // The second is still in it: this one is too many.
        crash();
        assert_eq!(wait_down(&watcher, sup_down), ExitReason::Shutdown);
        probe.assert_quiet();
    }
}
