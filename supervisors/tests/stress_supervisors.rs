//! The supervisors' stress suite, on both executors: each scenario loops
//! for `FERROTP_STRESS_SECS` seconds (default 3) and fails on the first
//! actor left behind. Ignored by default; run them with
//!
//! ```text
//! FERROTP_STRESS_SECS=10 cargo test --release -p ferrotp-supervisors --test stress_supervisors -- --ignored stress
//! ```
//!
//! The race they were written for: a supervisor killed while its handler
//! was spawning a child (a restart's next start, or a dynamic
//! supervisor's `start_child`) left that child running when it trapped
//! exits, 1 round in about 5,000 on the pool: the kill took effect before
//! the child was listed where whoever takes over a killed supervisor's
//! children looks (see `subtree`). And a kill of a dynamic supervisor in
//! the middle of a `terminate_child` served from its mailbox.

#[path = "../../tests/common/budget.rs"]
mod budget;
mod common;

use std::thread;

use budget::for_budget;
use common::mid_restart::{stop_or_kill_mid_restart, wait_empty, Crashy};
use common::*;
use ferrotp::{ActorRef, System};
use ferrotp_supervisors::{ChildSpec, DynamicSupervisorSpec, Shutdown, Supervisor, SupervisorSpec};

/// A dynamic supervisor of workers that trap exits, killed at a point that
/// moves with `round` while a batch of children is being started, or
/// while its children are terminated one by one (each from its mailbox,
/// answered on the child's `Down`): every actor ends once the tree is
/// stopped.
fn kill_dynamic_mid_start_or_terminate(system: &System, round: u64) {
    let context = format!("{:?} round {round}", system.executor());
    let template = DynamicSupervisorSpec::worker("w", |trap: bool| Crashy { trap })
        .shutdown(Shutdown::Timeout(WAIT));
    let root = Supervisor::start(
        system,
        SupervisorSpec::one_for_one()
            .intensity(1_000_000, HOUR)
            .child(ChildSpec::dynamic_supervisor("d", template)),
    )
    .unwrap();
    let d = root.child_dynamic_supervisor::<bool>("d").unwrap();
    let d_actor = d.actor().clone();
    let terminate = round % 2 == 1;
    let children: Vec<ActorRef> = if terminate {
        let started = d.start_children(vec![true; 4]).unwrap();
        started.into_iter().map(Result::unwrap).collect()
    } else {
        Vec::new()
    };
    thread::scope(|scope| {
        scope.spawn(|| {
            // Answered, or not (the supervisor was killed first).
            if terminate {
                for child in &children {
                    if d.terminate_child(child).is_err() {
                        break;
                    }
                }
            } else {
                let _ = d.start_children(vec![true; 8]);
            }
        });
        for _ in 0..(round / 2) % 64 {
            thread::yield_now();
        }
        d_actor.kill();
    });
    root.stop(WAIT).unwrap_or_else(|e| panic!("{context}: {e}"));
    wait_empty(system, &context);
}

ferrotp::on_each_executor! {
    #[test]
    #[ignore = "stress: run with --ignored stress"]
    fn stress_supervisor_stopped_or_killed_mid_restart_leaves_nothing() {
        let system = new_system();
        for_budget("stop or kill mid-restart", |round| {
            stop_or_kill_mid_restart(&system, round);
        });
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    #[ignore = "stress: run with --ignored stress"]
    fn stress_dynamic_supervisor_killed_mid_start_or_terminate_leaves_nothing() {
        let system = new_system();
        for_budget("kill dynamic mid-start or mid-terminate", |round| {
            kill_dynamic_mid_start_or_terminate(&system, round);
        });
        system.shutdown(WAIT).unwrap();
    }
}
