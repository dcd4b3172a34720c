//! Semantics 1: one_for_one restarts only the failed child, with a fresh
//! state, under the same id and name; its siblings keep their actors and state.

mod common;

use common::*;
use ferrotp::ExitReason;
use ferrotp_supervisors::{Supervisor, SupervisorSpec};

ferrotp::on_each_executor! {
    #[test]
    fn only_the_failed_child_restarts_fresh_under_its_id_and_name() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .intensity(10, HOUR)
            .child(worker("a", &probe).name("a"))
            .child(worker("b", &probe).name("b"))
            .child(worker("c", &probe).name("c"));
        let sup = Supervisor::start(&system, spec).unwrap();
        let (a0, b0, c0) = (probe.started("a"), probe.started("b"), probe.started("c"));

        let before = sup.which_children().unwrap();
        assert_eq!(
            ids(&before),
            vec![
                ("a".to_string(), Some(a0)),
                ("b".to_string(), Some(b0)),
                ("c".to_string(), Some(c0))
            ]
        );
        let (a, b, c) = (
            actor_of(&before, "a"),
            actor_of(&before, "b"),
            actor_of(&before, "c"),
        );
        for (actor, n) in [(&a, 1), (&b, 2), (&c, 3)] {
            for _ in 0..n {
                actor.send(Bump);
            }
            assert_eq!(count(&system, actor), n);
        }

        assert_eq!(end_with(&system, &b, Crash), ExitReason::error("crash"));
        probe.stopped("b", ExitReason::error("crash"));
        let b1 = probe.started("b");

        let after = sup.which_children().unwrap();
        assert_eq!(
            ids(&after),
            vec![
                ("a".to_string(), Some(a0)),
                ("b".to_string(), Some(b1)),
                ("c".to_string(), Some(c0))
            ]
        );
        assert_ne!(b0, b1);
        assert_eq!(
            after.iter().map(|c| c.restarts).collect::<Vec<_>>(),
            vec![0, 1, 0]
        );
        // Same name, new actor; the siblings' names still point at them.
        let b_new = actor_of(&after, "b");
        assert_eq!(system.whereis("b"), Some(b_new.clone()));
        assert_eq!(system.whereis("a"), Some(a.clone()));
        assert_eq!(system.whereis("c"), Some(c.clone()));
        // A fresh state from the factory; the siblings kept theirs.
        assert_eq!(count(&system, &b_new), 0);
        assert_eq!(count(&system, &a), 1);
        assert_eq!(count(&system, &c), 3);
        // The siblings were never stopped or started again.
        probe.assert_quiet();
    }

    #[test]
    fn a_killed_or_panicking_child_is_restarted_alone() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .intensity(10, HOUR)
            .child(worker("a", &probe))
            .child(worker("b", &probe));
        let sup = Supervisor::start(&system, spec).unwrap();
        let a0 = probe.started("a");
        probe.started("b");

        let b = actor_of(&sup.which_children().unwrap(), "b");
        assert_eq!(
            end_with(&system, &b, Panic),
            ExitReason::Panic("boom".into())
        );
        probe.stopped("b", ExitReason::Panic("boom".into()));
        probe.started("b");

        let b = actor_of(&sup.which_children().unwrap(), "b");
        assert_eq!(kill(&system, &b), ExitReason::Killed);
        // A killed actor's `stopped` hook does not run: only the restart shows.
        let b2 = probe.started("b");

        let children = sup.which_children().unwrap();
        assert_eq!(
            ids(&children),
            vec![("a".to_string(), Some(a0)), ("b".to_string(), Some(b2))]
        );
        assert_eq!(children[1].restarts, 2);
        probe.assert_quiet();
    }

    /// A child on a thread of its own (`ChildSpec::dedicated`) next to one
    /// on the system's default executor: each is restarted alone, fresh.
    #[test]
    fn a_dedicated_child_and_a_pooled_child_are_restarted_alike() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        assert_eq!(system.executor(), EXECUTOR);
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .intensity(10, HOUR)
            .child(worker("dedicated", &probe).dedicated())
            .child(worker("pooled", &probe));
        let sup = Supervisor::start(&system, spec).unwrap();
        let d0 = probe.started("dedicated");
        let p0 = probe.started("pooled");

        let d = actor_of(&sup.which_children().unwrap(), "dedicated");
        d.send(Bump);
        assert_eq!(end_with(&system, &d, Crash), ExitReason::error("crash"));
        assert_eq!(probe.stopped("dedicated", ExitReason::error("crash")), d0);
        let d1 = probe.started("dedicated");
        assert_ne!(d1, d0);

        let p = actor_of(&sup.which_children().unwrap(), "pooled");
        p.send(Bump);
        assert_eq!(
            end_with(&system, &p, Panic),
            ExitReason::Panic("boom".into())
        );
        assert_eq!(
            probe.stopped("pooled", ExitReason::Panic("boom".into())),
            p0
        );
        let p1 = probe.started("pooled");
        assert_ne!(p1, p0);

        // Both run again, fresh, under their ids, and answer calls.
        let children = sup.which_children().unwrap();
        assert_eq!(
            ids(&children),
            vec![
                ("dedicated".to_string(), Some(d1)),
                ("pooled".to_string(), Some(p1))
            ]
        );
        assert_eq!(children[0].restarts, 1);
        assert_eq!(children[1].restarts, 1);
        assert_eq!(count(&system, &actor_of(&children, "dedicated")), 0);
        assert_eq!(count(&system, &actor_of(&children, "pooled")), 0);
        probe.assert_quiet();
    }
}
