//! Semantics 8: when a named child crashes and is restarted, `whereis(name)`
//! returns the new actor as soon as the restart is done and never a dead one
//! after that; restarts never fail on the name.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use common::*;
use ferrotp::{CallError, ExitReason};
use ferrotp_supervisors::{Supervisor, SupervisorSpec};

const CRASHES: u32 = 50;

ferrotp::on_each_executor! {
    #[test]
    fn whereis_finds_the_restarted_child_at_once_and_never_a_dead_one() {
        let system = new_system();
        let probe = Probe::new();
        // Exactly enough intensity for the crashes: one failed restart attempt
        // (say, the name still taken) would make the supervisor give up.
        let spec = SupervisorSpec::one_for_one()
            .intensity(CRASHES, HOUR)
            .child(worker("svc", &probe).name("svc"));
        let sup = Supervisor::start(&system, spec).unwrap();
        let mut current = probe.started("svc");

        // Meanwhile a client looks the name up and calls whatever it finds.
        let done = Arc::new(AtomicBool::new(false));
        let client = {
            let system = system.clone();
            let done = done.clone();
            thread::spawn(move || {
                let bridge = system.bridge();
                let mut answered = 0u64;
                while !done.load(Ordering::Acquire) {
                    if let Some(svc) = system.whereis("svc") {
                        match bridge.call::<u64, _>(&svc, Get, WAIT) {
                            Ok(_) => answered += 1,
                            // It crashed between the lookup and the call.
                            Err(CallError::Stopped(_)) => {}
                            Err(other) => panic!("call to `svc` failed: {other}"),
                        }
                    }
                }
                answered
            })
        };

        for _ in 0..CRASHES {
            let svc = system.whereis("svc").expect("registered");
            assert_eq!(svc.id(), current);
            svc.send(Crash);
            probe.stopped("svc", ExitReason::error("crash"));
            // The new incarnation has run `started`: the name is already its own.
            let new = probe.started("svc");
            let found = system.whereis("svc").expect("registered again at once");
            assert_eq!(found.id(), new);
            assert!(found.is_alive());
            assert!(!svc.is_alive());
            current = new;
        }
        done.store(true, Ordering::Release);
        client.join().expect("the client saw no error");

        let children = sup.which_children().unwrap();
        assert_eq!(children[0].restarts, CRASHES);
        assert_eq!(children[0].actor.as_ref().map(|a| a.id()), Some(current));
        assert_eq!(system.whereis("svc").map(|a| a.id()), Some(current));
    }
}
