//! The testkit's runner, pinned by hand (the model test relies on it): what
//! a trace says, that a step is over when it returns, and that a user's own
//! worker type can be supervised and crashed.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotp::{Actor, ActorId, Context, Handlers};
use ferrotp_supervisors::testkit::{
    CrashReason, Outcome, Path, Ping, Pong, Refusal, RunError, Runner, Schedule, Skip, Step,
    TreeShape,
};
use ferrotp_supervisors::{ChildSpec, Restart, Strategy};

const HOUR: Duration = Duration::from_secs(3600);

fn p<const N: usize>(ids: [&str; N]) -> Path {
    Path::new(ids)
}

fn crash(ids: &[&str], reason: CrashReason) -> Step {
    Step::Crash {
        child: Path::new(ids.iter().copied()),
        reason,
    }
}

/// A worker of the user's own, which counts what it handled.
struct Account {
    balance: i64,
}

struct Deposit(i64);
struct Balance;

impl Account {
    fn deposit(&mut self, Deposit(n): Deposit, _: &mut Context<Self>) {
        self.balance += n;
    }
    fn balance(&mut self, _: Balance, ctx: &mut Context<Self>) {
        ctx.reply(self.balance);
    }
}

impl Actor for Account {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::deposit).on(Self::balance)
    }
}

/// A worker that traps exits ignores the exit signal `Error`: the runner
/// says so with a timeout error instead of hanging.
struct Trapper;

impl Actor for Trapper {
    fn handlers() -> Handlers<Self> {
        Handlers::new().other(|_: &mut Self, _payload, _type_name, _ctx| {})
    }
    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ferrotp::ExitReason> {
        ctx.trap_exit(true);
        Ok(())
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn a_rest_for_one_crash_restarts_the_rest_and_keeps_the_others() {
        let tree = TreeShape::new(Strategy::RestForOne)
            .intensity(5, HOUR)
            .worker("a", Restart::Permanent)
            .worker("b", Restart::Permanent)
            .worker("c", Restart::Permanent);
        let schedule = Schedule {
            tree,
            steps: vec![crash(&["b"], CrashReason::Panic)],
        };
        let trace = Runner::new().run(&new_system(), &schedule).unwrap();
        let step = &trace.steps[0];
        assert_eq!(step.outcome, Outcome::Applied);
        assert_eq!(step.restarted, vec![p(["b"]), p(["c"])]);
        assert_eq!(step.kept, vec![p(["a"])]);
        assert_eq!(step.replaced, vec![p(["b"]), p(["c"])]);
        assert!(step.escalated.is_empty());
        let tree = step.tree.as_ref().unwrap();
        let restarts: Vec<u32> = tree.children.iter().map(|c| c.restarts).collect();
        assert_eq!(restarts, vec![0, 1, 1]);
        assert_eq!(
            tree.children[0].actor, trace.initial.children[0].actor,
            "a kept its actor"
        );
    }

    #[test]
    fn killing_a_supervisor_returns_once_its_old_subtree_is_gone() {
        let inner = TreeShape::new(Strategy::OneForOne)
            .intensity(5, HOUR)
            .worker("w0", Restart::Permanent)
            .worker("w1", Restart::Permanent);
        let tree = TreeShape::new(Strategy::OneForOne)
            .intensity(5, HOUR)
            .worker("x", Restart::Permanent)
            .supervisor("s", Restart::Permanent, inner);
        let system = new_system();
        let mut live = Runner::new().start(&system, &tree).unwrap();
        let before = live.snapshot().unwrap().unwrap();

        let step = live.apply(&crash(&["s"], CrashReason::Killed)).unwrap();
        assert_eq!(step.restarted, vec![p(["s"])]);
        assert_eq!(step.kept, vec![p(["x"])]);
        assert_eq!(
            step.replaced,
            vec![p(["s"]), p(["s", "w0"]), p(["s", "w1"])]
        );
        for old in ["s", "s/w0", "s/w1"] {
            let path = Path::new(old.split('/'));
            let actor = before.get(&path).unwrap().actor.clone().unwrap();
            assert!(!actor.is_alive(), "{old} of the old subtree still runs");
        }
        // No orphan: the system runs exactly the tree's actors.
        let mut tree_actors: Vec<ActorId> = step
            .tree
            .as_ref()
            .unwrap()
            .actors()
            .iter()
            .map(|a| a.id())
            .collect();
        tree_actors.sort();
        let running: Vec<ActorId> = system.actors().iter().map(|a| a.id()).collect();
        assert_eq!(running, tree_actors);
        live.stop().unwrap();
        assert!(system.actors().is_empty());
    }

    #[test]
    fn steps_without_a_target_are_skipped_or_refused() {
        let inner = TreeShape::new(Strategy::OneForOne).worker("w0", Restart::Permanent);
        let tree = TreeShape::new(Strategy::OneForOne)
            .intensity(5, HOUR)
            .worker("t", Restart::Transient)
            .supervisor("s", Restart::Permanent, inner);
        let steps = vec![
            crash(&["nope"], CrashReason::Error),
            crash(&["t", "w0"], CrashReason::Error),
            crash(&[], CrashReason::Error),
            crash(&["s"], CrashReason::Error),
            crash(&["t"], CrashReason::Normal),
            crash(&["t"], CrashReason::Normal),
            Step::TerminateChild { child: p(["nope"]) },
            Step::RestartChild { child: p(["s"]) },
            Step::DeleteChild { child: p(["s"]) },
            Step::StartChild {
                supervisor: p(["s"]),
                id: "w0".into(),
                restart: Restart::Temporary,
            },
            Step::StartChild {
                supervisor: p(["t"]),
                id: "x0".into(),
                restart: Restart::Temporary,
            },
            Step::RestartChild { child: p(["t"]) },
        ];
        let expected = vec![
            Outcome::Skipped(Skip::NoSuchChild),
            Outcome::Skipped(Skip::NoSupervisor),
            Outcome::Skipped(Skip::NoSuchChild),
            Outcome::Skipped(Skip::TrapsExits),
            Outcome::Applied,
            Outcome::Skipped(Skip::NotRunning),
            Outcome::Refused(Refusal::NoSuchChild),
            Outcome::Refused(Refusal::ChildRunning),
            Outcome::Refused(Refusal::ChildRunning),
            Outcome::Refused(Refusal::DuplicateChildId),
            Outcome::Skipped(Skip::NoSupervisor),
            Outcome::Applied,
        ];
        let trace = Runner::new()
            .run(&new_system(), &Schedule { tree, steps })
            .unwrap();
        let outcomes: Vec<Outcome> = trace.steps.iter().map(|s| s.outcome.clone()).collect();
        assert_eq!(outcomes, expected);
        // Nothing was restarted by a supervisor; `t` came back by hand.
        assert!(trace.steps.iter().all(|s| s.restarted.is_empty()));
        assert_eq!(trace.steps[11].replaced, vec![p(["t"])]);
    }

    #[test]
    fn a_user_worker_type_is_supervised_and_crashed_through_the_kernel() {
        let tree = TreeShape::new(Strategy::OneForOne)
            .intensity(10, HOUR)
            .worker("acct", Restart::Permanent);
        let system = new_system();
        let runner = Runner::new().workers(|id| ChildSpec::worker(id, || Account { balance: 0 }));
        let mut live = runner.start(&system, &tree).unwrap();
        let bridge = system.bridge();
        let t = Duration::from_secs(10);
        for reason in CrashReason::ALL {
            let before = live.snapshot().unwrap().unwrap();
            let acct = before.get(&p(["acct"])).unwrap().actor.clone().unwrap();
            acct.send(Deposit(5));
            assert_eq!(bridge.call::<i64, _>(&acct, Balance, t).unwrap(), 5);
            let step = live.apply(&crash(&["acct"], reason)).unwrap();
            assert_eq!(step.restarted, vec![p(["acct"])], "{reason:?}");
            let after = step.tree.unwrap();
            let again = after.get(&p(["acct"])).unwrap().actor.clone().unwrap();
            assert_ne!(again, acct);
            assert_eq!(
                bridge.call::<i64, _>(&again, Balance, t).unwrap(),
                0,
                "fresh state"
            );
        }
        live.stop().unwrap();
    }

    #[test]
    fn a_crash_that_cannot_happen_fails_the_run_with_a_timeout() {
        let tree = TreeShape::new(Strategy::OneForOne).worker("trap", Restart::Permanent);
        let system = new_system();
        let runner = Runner::new()
            .workers(|id| ChildSpec::worker(id, || Trapper))
            .timeout(Duration::from_millis(100));
        let mut live = runner.start(&system, &tree).unwrap();
        match live.apply(&crash(&["trap"], CrashReason::Error)) {
            Err(RunError::Timeout(what)) => assert!(what.contains("trap"), "{what}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[test]
    fn test_workers_answer_pings() {
        let tree = TreeShape::new(Strategy::OneForOne).worker("w", Restart::Permanent);
        let system = new_system();
        let live = Runner::new().start(&system, &tree).unwrap();
        let w = live.snapshot().unwrap().unwrap().children[0]
            .actor
            .clone()
            .unwrap();
        let pong: Pong = system
            .bridge()
            .call(&w, Ping, Duration::from_secs(10))
            .unwrap();
        assert_eq!(pong, Pong);
    }

    #[test]
    fn a_failed_restart_is_retried_within_the_step_that_caused_it() {
        // The retry used to race the step's last round trip: the crash step
        // listed no restart and a permanent child down, the next step the
        // same child both restarted and kept.
        for _ in 0..20 {
            let starts = Arc::new(AtomicU32::new(0));
            let counted = starts.clone();
            let runner = Runner::new().workers(move |id| {
                let starts = counted.clone();
                ChildSpec::worker(id, move || FailsOnSomeStarts {
                    start: starts.fetch_add(1, Ordering::SeqCst) + 1,
                })
            });
            let tree = TreeShape::new(Strategy::OneForOne)
                .intensity(10, HOUR)
                .worker("w", Restart::Permanent);
            let schedule = Schedule {
                tree,
                steps: vec![
                    crash(&["w"], CrashReason::Error),
                    Step::AdvanceClock(Duration::from_secs(1)),
                ],
            };
            let trace = runner.run(&new_system(), &schedule).unwrap();
            assert_eq!(starts.load(Ordering::SeqCst), 4, "one start, two failed, one more");
            let crashed = &trace.steps[0];
            assert_eq!(crashed.restarted, vec![p(["w"])]);
            assert_eq!(crashed.replaced, vec![p(["w"])]);
            let tree = crashed.tree.as_ref().unwrap();
            assert!(tree.permanent_children_running(), "{tree:?}");
            assert_eq!(tree.children[0].restarts, 1);
            let later = &trace.steps[1];
            assert!(later.restarted.is_empty(), "{later:?}");
            assert_eq!(later.kept, vec![p(["w"])]);
        }
    }

    #[test]
    fn kill_while_stopping_restarts_the_supervisor_and_ends_its_old_subtree() {
        let inner = TreeShape::new(Strategy::OneForOne)
            .worker("w0", Restart::Permanent)
            .worker("w1", Restart::Permanent);
        let tree = TreeShape::new(Strategy::OneForOne)
            .intensity(3, HOUR)
            .worker("a", Restart::Permanent)
            .supervisor("s0", Restart::Permanent, inner);
        let system = new_system();
        let mut live = Runner::new().start(&system, &tree).unwrap();
        let before = live.snapshot().unwrap().unwrap();
        let old: Vec<ferrotp::ActorRef> = before
            .children_deep()
            .into_iter()
            .filter(|(path, _)| path.ids().first().map(String::as_str) == Some("s0"))
            .filter_map(|(_, child)| child.actor.clone())
            .collect();
        assert_eq!(old.len(), 3);

        let step = live
            .apply(&Step::KillWhileStopping { supervisor: p(["s0"]) })
            .unwrap();
        assert_eq!(step.outcome, Outcome::Applied);
        assert_eq!(step.restarted, vec![p(["s0"])]);
        assert_eq!(step.kept, vec![p(["a"])]);
        assert_eq!(
            step.replaced,
            vec![p(["s0"]), p(["s0", "w0"]), p(["s0", "w1"])]
        );
        // The busy `w1` too: it ended at its shutdown deadline.
        for actor in &old {
            assert!(!actor.is_alive(), "{actor} outlived the step");
        }

        let on_a_worker = live
            .apply(&Step::KillWhileStopping { supervisor: p(["a"]) })
            .unwrap();
        assert_eq!(on_a_worker.outcome, Outcome::Skipped(Skip::NoSupervisor));
        let on_the_root = live
            .apply(&Step::KillWhileStopping { supervisor: Path::root() })
            .unwrap();
        assert_eq!(on_the_root.outcome, Outcome::Skipped(Skip::NoSuchChild));
        live.stop().unwrap();
    }
}

/// Fails its second and third starts.
struct FailsOnSomeStarts {
    start: u32,
}

impl Actor for FailsOnSomeStarts {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
    fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ferrotp::ExitReason> {
        match self.start {
            2 | 3 => Err(ferrotp::ExitReason::error("not now")),
            _ => Ok(()),
        }
    }
}
