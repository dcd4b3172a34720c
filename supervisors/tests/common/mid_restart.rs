//! A supervisor stopped or killed in the middle of a restart: the scenario
//! shared by `mailbox_restart.rs` (a fixed number of rounds) and
//! `stress_supervisors.rs` (as many as its time budget allows).

use std::thread;
use std::time::Instant;

use super::{actor_of, Crash, HOUR, WAIT};
use ferrotp::{Actor, Context, ExitReason, Handlers, Stopped, System};
use ferrotp_supervisors::{ChildSpec, Shutdown, Strategy, Supervisor, SupervisorSpec};

/// A worker that ends with an error on [`Crash`]; `trap` makes it trap
/// exits (then it ends on its supervisor's `Shutdown` as a message, as a
/// gen_server that traps exits does, and a killed supervisor's exit signal
/// leaves it running: an orphan, unless it is stopped for it).
pub struct Crashy {
    pub trap: bool,
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

pub const WORKERS: usize = 4;

/// `WORKERS` children `w0`, `w1`, ... of [`Crashy`] under `strategy`.
pub fn workers(strategy: Strategy, trap: bool) -> SupervisorSpec {
    let mut spec = SupervisorSpec::new(strategy).intensity(1_000_000, HOUR);
    for w in 0..WORKERS {
        spec = spec.child(
            ChildSpec::worker(format!("w{w}"), move || Crashy { trap })
                .shutdown(Shutdown::Timeout(WAIT)),
        );
    }
    spec
}

/// Waits until `system` has no actor left (10 s at most).
pub fn wait_empty(system: &System, what: &str) {
    let deadline = Instant::now() + WAIT;
    while system.actor_count() > 0 {
        assert!(
            Instant::now() < deadline,
            "{what}: {} actors left behind: {:?}",
            system.actor_count(),
            system
                .actors()
                .iter()
                .filter_map(|a| system.actor_info(a.id()))
                .map(|info| (info.id, info.labels, info.parent))
                .collect::<Vec<_>>()
        );
        thread::yield_now();
    }
}

/// Round `round` (its number picks the variant): a child of a nested
/// `one_for_all` or `rest_for_one` supervisor crashes, and at once the tree
/// is stopped, or the restarting supervisor is killed, or stopped, then the
/// tree: wherever the restart is at that moment (stopping siblings, or
/// starting them), every actor ends. Half the rounds have workers that
/// trap exits, which only their supervisor's shutdown (or whoever takes
/// over from a killed one) ends.
pub fn stop_or_kill_mid_restart(system: &System, round: u64) {
    let context = format!("{:?} round {round}", system.executor());
    let strategy = if round % 2 == 0 {
        Strategy::OneForAll
    } else {
        Strategy::RestForOne
    };
    let inner = workers(strategy, round % 4 < 2);
    let root = Supervisor::start(
        system,
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
    wait_empty(system, &context);
}
