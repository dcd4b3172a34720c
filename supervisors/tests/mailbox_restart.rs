//! A supervisor restarts children from its own mailbox (each sibling's
//! `Down`, then each child's `StartAck`, brings the next step): what
//! arrives during a restart waits for its end, and a supervisor stopped or
//! killed in the middle of one leaves nothing behind. Both looped on both
//! executors.

mod common;

use common::mid_restart::*;
use common::*;
use ferrotp::{ActorId, Executor, System};
use ferrotp_supervisors::{ChildSpec, Strategy, Supervisor};

fn actors(sup: &Supervisor) -> Vec<ActorId> {
    sup.which_children()
        .unwrap()
        .iter()
        .map(|c| c.actor.as_ref().expect("running").id())
        .collect()
}

fn rounds(executor: Executor, pool: usize, threads: usize) -> usize {
    match executor {
        Executor::Pool => pool,
        _ => threads,
    }
}

/// A crash's exit signal reaches the supervisor before the `Down` the test
/// waits for reaches the test, so the reads and requests the test sends then
/// arrive during the restart: each is answered once the restart is done,
/// with the state after it (as OTP's supervisor, busy in its restart).
#[test]
fn requests_during_a_restart_are_served_after_it() {
    for executor in [Executor::Pool, Executor::Threads] {
        let system = System::builder().executor(executor).build();
        for strategy in [Strategy::OneForAll, Strategy::RestForOne] {
            let sup = Supervisor::start(&system, workers(strategy, false)).unwrap();
            for round in 0..rounds(executor, 1_000, 100) {
                let context = format!("{executor:?} {strategy:?} round {round}");
                let before = actors(&sup);
                let k = round % WORKERS;
                let victim = actor_of(&sup.which_children().unwrap(), &format!("w{k}"));
                end_with(&system, &victim, Crash);
                let after = sup.which_children().unwrap();
                assert_eq!(after.len(), WORKERS, "{context}");
                for (w, child) in after.iter().enumerate() {
                    let actor = child.actor.as_ref().expect("restarted before the answer");
                    assert!(actor.is_alive(), "{context}: w{w}");
                    let restarted = strategy == Strategy::OneForAll || w >= k;
                    assert_eq!(actor.id() != before[w], restarted, "{context}: w{w}");
                }
            }
            // A request that changes the children, during a restart: served
            // after it, in its turn.
            let victim = actor_of(&sup.which_children().unwrap(), "w0");
            end_with(&system, &victim, Crash);
            let extra = sup
                .start_child(ChildSpec::worker("extra", || Crashy { trap: false }))
                .unwrap();
            let ids: Vec<String> = sup
                .which_children()
                .unwrap()
                .into_iter()
                .map(|c| c.id)
                .collect();
            assert_eq!(ids, ["w0", "w1", "w2", "w3", "extra"]);
            assert!(extra.is_alive());
            sup.stop(WAIT).unwrap();
            assert_eq!(system.actor_count(), 0);
        }
    }
}

/// A crash, and at once a stop of the tree, a kill of the restarting
/// supervisor, or a stop of it: wherever the restart is at that moment
/// (stopping siblings, or starting them), every actor ends (see
/// `stress_supervisors.rs` for the same looped for a time budget).
#[test]
fn a_supervisor_stopped_or_killed_mid_restart_leaves_nothing() {
    for executor in [Executor::Pool, Executor::Threads] {
        let system = System::builder().executor(executor).build();
        for round in 0..rounds(executor, 1_500, 150) {
            stop_or_kill_mid_restart(&system, round as u64);
        }
    }
}
