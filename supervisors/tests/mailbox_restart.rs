//! A supervisor restarts children from its own mailbox (each sibling's
//! `Down`, then each child's `StartAck`, brings the next step): what
//! arrives during a restart waits for its end, and a supervisor stopped or
//! killed in the middle of one leaves nothing behind. Both looped on both
//! executors.

mod common;

use std::thread;
use std::time::Instant;

use common::*;
use ferrotp::{Actor, ActorId, Context, Executor, ExitReason, Handlers, Stopped, System};
use ferrotp_supervisors::{ChildSpec, Shutdown, Strategy, Supervisor, SupervisorSpec};

/// A worker that ends with an error on [`Crash`]; `trap` makes it trap
/// exits (then it ends on its supervisor's `Shutdown` as a message, as a
/// gen_server that traps exits does, and a killed supervisor's exit signal
/// leaves it running: an orphan, unless it is stopped for it).
struct Crashy {
    trap: bool,
}

impl Actor for Crashy {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(|_: &mut Self, Crash, ctx: &mut Context<Self>| {
                ctx.stop(ExitReason::error("crash"));
            })
            .on(|_: &mut Self, stopped: Stopped, ctx: &mut Context<Self>| {
                if stopped.reason == ExitReason::Shutdown {
                    ctx.stop(ExitReason::Shutdown);
                }
            })
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if self.trap {
            ctx.trap_exit(true);
        }
        Ok(())
    }
}

const WORKERS: usize = 4;

fn workers(strategy: Strategy, trap: bool) -> SupervisorSpec {
    let mut spec = SupervisorSpec::new(strategy).intensity(1_000_000, HOUR);
    for w in 0..WORKERS {
        spec = spec.child(
            ChildSpec::worker(format!("w{w}"), move || Crashy { trap })
                .shutdown(Shutdown::Timeout(WAIT)),
        );
    }
    spec
}

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

/// Waits until `system` has no actor left (10 s at most).
fn wait_empty(system: &System, what: &str) {
    let deadline = Instant::now() + WAIT;
    while system.actor_count() > 0 {
        assert!(
            Instant::now() < deadline,
            "{what}: {} actors left behind",
            system.actor_count()
        );
        thread::yield_now();
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
/// (stopping siblings, or starting them), every actor ends.
#[test]
fn a_supervisor_stopped_or_killed_mid_restart_leaves_nothing() {
    for executor in [Executor::Pool, Executor::Threads] {
        let system = System::builder().executor(executor).build();
        for round in 0..rounds(executor, 1_500, 150) {
            let context = format!("{executor:?} round {round}");
            let strategy = if round % 2 == 0 {
                Strategy::OneForAll
            } else {
                Strategy::RestForOne
            };
            let inner = workers(strategy, round % 4 < 2);
            let root = Supervisor::start(
                &system,
                SupervisorSpec::one_for_one()
                    .intensity(1_000_000, HOUR)
                    .child(ChildSpec::supervisor("s", inner)),
            )
            .unwrap();
            let s = root.child_supervisor("s").unwrap();
            let victim = actor_of(&s.which_children().unwrap(), &format!("w{}", round % 3));
            victim.send(Crash);
            match round % 3 {
                0 => {}
                1 => {
                    let s_actor = actor_of(&root.which_children().unwrap(), "s");
                    s_actor.kill();
                }
                _ => {
                    let _ = s.stop(WAIT);
                }
            }
            root.stop(WAIT).unwrap_or_else(|e| panic!("{context}: {e}"));
            wait_empty(&system, &context);
        }
    }
}
