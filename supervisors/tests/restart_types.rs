//! Semantics 3: Permanent children are always restarted; Transient ones only
//! after an abnormal reason (`Normal` and `Shutdown` leave them stopped but
//! listed); Temporary ones never, and they leave the children list.

mod common;

use common::*;
use ferrotp::ExitReason;
use ferrotp_supervisors::{Restart, Supervisor, SupervisorSpec};

ferrotp::on_each_executor! {
    #[test]
    fn permanent_is_restarted_after_every_reason() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .intensity(10, HOUR)
            .child(worker("p", &probe));
        let sup = Supervisor::start(&system, spec).unwrap();
        probe.started("p");

        let reasons = [
            ExitReason::Normal,
            ExitReason::Shutdown,
            ExitReason::error("crash"),
            ExitReason::Panic("boom".into()),
            ExitReason::Killed,
        ];
        for (n, reason) in reasons.iter().enumerate() {
            let p = actor_of(&sup.which_children().unwrap(), "p");
            let ended = match reason {
                ExitReason::Killed => kill(&system, &p),
                ExitReason::Panic(_) => end_with(&system, &p, Panic),
                ExitReason::Error(_) => end_with(&system, &p, Crash),
                other => end_with(&system, &p, Quit(other.clone())),
            };
            assert_eq!(&ended, reason);
            if reason != &ExitReason::Killed {
                probe.stopped("p", reason.clone());
            }
            let again = probe.started("p");
            let children = sup.which_children().unwrap();
            assert_eq!(children[0].actor.as_ref().map(|a| a.id()), Some(again));
            assert_eq!(children[0].restarts as usize, n + 1);
        }
        probe.assert_quiet();
    }

    #[test]
    fn transient_is_restarted_only_after_an_abnormal_reason() {
        let system = new_system();
        let probe = Probe::new();
        // Intensity 1: the normal exits below must not count as restarts.
        let spec = SupervisorSpec::one_for_one()
            .intensity(1, HOUR)
            .child(worker("t", &probe).restart(Restart::Transient));
        let sup = Supervisor::start(&system, spec).unwrap();
        probe.started("t");

        for reason in [ExitReason::Normal, ExitReason::Shutdown] {
            let t = actor_of(&sup.which_children().unwrap(), "t");
            end_with(&system, &t, Quit(reason.clone()));
            probe.stopped("t", reason.clone());
            let children = sup.which_children().unwrap();
            assert_eq!(children.len(), 1, "a transient child stays listed");
            assert_eq!(children[0].actor, None, "not restarted after {reason}");
            probe.assert_quiet();
            sup.restart_child("t").unwrap();
            probe.started("t");
        }

        let t = actor_of(&sup.which_children().unwrap(), "t");
        end_with(&system, &t, Crash);
        probe.stopped("t", ExitReason::error("crash"));
        let again = probe.started("t");
        let children = sup.which_children().unwrap();
        assert_eq!(children[0].actor.as_ref().map(|a| a.id()), Some(again));
        assert_eq!(children[0].restarts, 1);
    }

    #[test]
    fn temporary_is_never_restarted_and_leaves_the_list() {
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .intensity(10, HOUR)
            .child(worker("keep", &probe))
            .child(worker("crashes", &probe).restart(Restart::Temporary))
            .child(worker("quits", &probe).restart(Restart::Temporary));
        let sup = Supervisor::start(&system, spec).unwrap();
        let keep = probe.started("keep");
        probe.started("crashes");
        probe.started("quits");

        let children = sup.which_children().unwrap();
        end_with(&system, &actor_of(&children, "crashes"), Crash);
        probe.stopped("crashes", ExitReason::error("crash"));
        end_with(
            &system,
            &actor_of(&children, "quits"),
            Quit(ExitReason::Normal),
        );
        probe.stopped("quits", ExitReason::Normal);

        let children = sup.which_children().unwrap();
        assert_eq!(ids(&children), vec![("keep".to_string(), Some(keep))]);
        probe.assert_quiet();
        assert_eq!(sup.count_children().unwrap().specs, 1);
    }
}
