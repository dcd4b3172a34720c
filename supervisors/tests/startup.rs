//! Semantics 5: children start in order, each fully started before the
//! next; a start-up failure stops the started ones in reverse order and
//! `Supervisor::start` returns `StartFailed` with the child's id and reason;
//! a child that fails to start during a restart counts as a restart and is
//! retried until the intensity is exceeded.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use ferrotp::{Actor, Context, ExitReason, Handlers};
use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorError, SupervisorSpec};

/// Logs when its `started` begins and ends; the first one is slow, which
/// gives a supervisor that did not wait for it the chance to start the
/// next one meanwhile.
struct Ordered {
    index: usize,
    log: Arc<Mutex<Vec<String>>>,
}

impl Actor for Ordered {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }

    fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.log
            .lock()
            .unwrap()
            .push(format!("begin {}", self.index));
        if self.index == 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        self.log.lock().unwrap().push(format!("end {}", self.index));
        Ok(())
    }
}

struct PanicsOnStart;

impl Actor for PanicsOnStart {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }

    fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        panic!("no start");
    }
}

/// Counts its starts; the starts listed in `fail` fail.
struct Flaky {
    attempt: u32,
    fail: Arc<HashSet<u32>>,
    events: Sender<Ev>,
}

impl Flaky {
    fn crash(&mut self, _: Crash, _ctx: &mut Context<Self>) -> Result<(), String> {
        Err("crash".into())
    }
}

impl Actor for Flaky {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::crash)
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if self.fail.contains(&self.attempt) {
            return Err(ExitReason::error(format!("attempt {}", self.attempt)));
        }
        let _ = self.events.send(Ev::Started {
            tag: format!("attempt {}", self.attempt),
            actor: ctx.myself().id(),
        });
        Ok(())
    }
}

fn flaky(probe: &Probe, fail: &[u32]) -> (ChildSpec, Arc<AtomicU32>) {
    let starts = Arc::new(AtomicU32::new(0));
    let counter = starts.clone();
    let fail: Arc<HashSet<u32>> = Arc::new(fail.iter().copied().collect());
    let events = probe.sender();
    let spec = ChildSpec::worker("flaky", move || Flaky {
        attempt: counter.fetch_add(1, Ordering::SeqCst) + 1,
        fail: fail.clone(),
        events: events.clone(),
    });
    (spec, starts)
}

ferrotp::on_each_executor! {
    #[test]
    fn children_start_in_order_each_after_the_previous_started() {
        let system = new_system();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut spec = SupervisorSpec::one_for_one();
        for index in 0..3 {
            let log = log.clone();
            spec = spec.child(ChildSpec::worker(format!("w{index}"), move || Ordered {
                index,
                log: log.clone(),
            }));
        }
        let sup = Supervisor::start(&system, spec).unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            vec!["begin 0", "end 0", "begin 1", "end 1", "begin 2", "end 2"]
        );
        let children = sup.which_children().unwrap();
        let order: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(order, vec!["w0", "w1", "w2"]);
        // Start order is spawn order.
        let actors: Vec<_> = children
            .iter()
            .map(|c| c.actor.as_ref().unwrap().id())
            .collect();
        assert!(actors.windows(2).all(|w| w[0] < w[1]), "{actors:?}");
    }

    #[test]
    fn a_start_failure_stops_the_started_children_in_reverse_and_reports_the_child() {
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .name("sup")
            .child(worker("a", &probe).name("a"))
            .child(worker("b", &probe).name("b"))
            .child(ChildSpec::worker("bad", || {
                FailsToStart(ExitReason::error("nope"))
            }))
            .child(worker("d", &probe));
        match Supervisor::start(&system, spec) {
            Err(SupervisorError::StartFailed { id, reason }) => {
                assert_eq!(id, "bad");
                assert_eq!(reason, ExitReason::error("nope"));
            }
            other => panic!("expected StartFailed, got {other:?}"),
        }
        // All of it happened before `start` returned; `d` never started.
        let a = probe.started("a");
        let b = probe.started("b");
        assert_eq!(probe.stopped("b", ExitReason::Shutdown), b);
        assert_eq!(probe.stopped("a", ExitReason::Shutdown), a);
        probe.assert_quiet();
        assert_eq!(system.whereis("a"), None);
        assert_eq!(system.whereis("b"), None);
    }

    #[test]
    fn panics_in_started_or_in_the_factory_are_start_failures() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let spec = SupervisorSpec::one_for_one().child(ChildSpec::worker("p", || PanicsOnStart));
        assert!(matches!(
            Supervisor::start(&system, spec),
            Err(SupervisorError::StartFailed { id, reason: ExitReason::Panic(text) })
                if id == "p" && text == "no start"
        ));

        let spec = SupervisorSpec::one_for_one()
            .child(ChildSpec::worker("f", || -> PanicsOnStart {
                panic!("no factory")
            }));
        assert!(matches!(
            Supervisor::start(&system, spec),
            Err(SupervisorError::StartFailed { id, reason: ExitReason::Panic(text) })
                if id == "f" && text == "no factory"
        ));
    }

    #[test]
    fn a_nested_start_failure_fails_the_whole_tree() {
        let system = new_system();
        let probe = Probe::new();
        let inner = SupervisorSpec::one_for_one()
            .child(worker("x", &probe))
            .child(ChildSpec::worker("bad", || {
                FailsToStart(ExitReason::error("nope"))
            }));
        let spec = SupervisorSpec::one_for_one()
            .child(worker("a", &probe))
            .child(ChildSpec::supervisor("inner", inner))
            .child(worker("z", &probe));
        match Supervisor::start(&system, spec) {
            Err(SupervisorError::StartFailed { id, reason }) => {
                assert_eq!(id, "inner");
                let text = reason.to_string();
                assert!(text.contains("bad") && text.contains("nope"), "{text}");
            }
            other => panic!("expected StartFailed, got {other:?}"),
        }
        probe.started("a");
        probe.started("x");
        probe.stopped("x", ExitReason::Shutdown);
        probe.stopped("a", ExitReason::Shutdown);
        probe.assert_quiet();
    }

    #[test]
    fn a_failed_restart_counts_and_is_retried_until_the_intensity_is_exceeded() {
        let system = new_system();
        let probe = Probe::new();
        // Every start after the first fails.
        let (child, starts) = flaky(&probe, &(2..100).collect::<Vec<_>>());
        let spec = SupervisorSpec::one_for_one()
            .intensity(3, HOUR)
            .child(child);
        let sup = Supervisor::start(&system, spec).unwrap();
        probe.started("attempt 1");
        let watcher = system.inbox();
        let sup_down = watcher.monitor(sup.actor());

        actor_of(&sup.which_children().unwrap(), "flaky").send(Crash);
        assert_eq!(wait_down(&watcher, sup_down), ExitReason::Shutdown);
        // Three restart attempts fit in the intensity; the fourth is refused
        // before it starts anything.
        assert_eq!(starts.load(Ordering::SeqCst), 1 + 3);
        probe.assert_quiet();
    }

    #[test]
    fn a_failed_restart_is_retried_until_it_succeeds() {
        let system = new_system();
        let probe = Probe::new();
        let (child, starts) = flaky(&probe, &[2, 3]);
        let spec = SupervisorSpec::one_for_one()
            .intensity(5, HOUR)
            .child(child);
        let sup = Supervisor::start(&system, spec).unwrap();
        probe.started("attempt 1");

        actor_of(&sup.which_children().unwrap(), "flaky").send(Crash);
        let fourth = probe.started("attempt 4");
        let children = sup.which_children().unwrap();
        assert_eq!(children[0].actor.as_ref().map(|a| a.id()), Some(fourth));
        assert_eq!(children[0].restarts, 1);
        assert_eq!(starts.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn invalid_specs_are_refused_before_anything_starts() {
        let system = new_system();
        let probe = Probe::new();
        let zero_period = SupervisorSpec::one_for_one()
            .intensity(1, Duration::ZERO)
            .child(worker("a", &probe));
        assert!(matches!(
            Supervisor::start(&system, zero_period),
            Err(SupervisorError::InvalidSpec(_))
        ));
        let empty_id = SupervisorSpec::one_for_one().child(worker("", &probe));
        assert!(matches!(
            Supervisor::start(&system, empty_id),
            Err(SupervisorError::InvalidSpec(_))
        ));
        let twice = SupervisorSpec::one_for_one()
            .child(worker("a", &probe))
            .child(worker("a", &probe));
        assert!(matches!(
            Supervisor::start(&system, twice),
            Err(SupervisorError::DuplicateChildId(id)) if id == "a"
        ));
        let same_name = SupervisorSpec::one_for_one()
            .child(worker("a", &probe).name("n"))
            .child(worker("b", &probe).name("n"));
        assert!(matches!(
            Supervisor::start(&system, same_name),
            Err(SupervisorError::InvalidSpec(_))
        ));
        let nested = SupervisorSpec::one_for_one().child(ChildSpec::supervisor(
            "inner",
            SupervisorSpec::one_for_one().intensity(1, Duration::ZERO),
        ));
        assert!(matches!(
            Supervisor::start(&system, nested),
            Err(SupervisorError::InvalidSpec(_))
        ));
        probe.assert_quiet();
        assert!(system.actors().is_empty());
    }
}
