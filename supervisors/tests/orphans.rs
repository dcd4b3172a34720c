//! Issue 15: a child that a supervisor began to stop is killed at its
//! deadline whatever happens to the supervisor, and `stop` returns only
//! when every actor of the subtree is dead — grandchildren of a supervisor
//! killed at its own deadline (or brutally) included.
//!
//! The busy children here block in a handler until the test opens a gate:
//! a non-trapping actor acts on the exit signal `Shutdown` only when its
//! handler returns, so only the kill at its deadline can end it.

mod common;

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use ferrotp::{Actor, ActorRef, Context, ExitReason, Handlers, Inbox, MonitorRef};
use ferrotp_supervisors::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, Shutdown, Supervisor, SupervisorError,
    SupervisorSpec,
};

/// The busy child's own shutdown timeout.
const CHILD_TIMEOUT: Duration = Duration::from_millis(300);
/// The shutdown timeout of the supervisor above it, shorter.
const SUPERVISOR_TIMEOUT: Duration = Duration::from_millis(100);

/// Blocks in its handler for [`Hold`] until the gate opens.
struct Busy {
    gate: Gate,
    holding: Sender<ActorRef>,
}

/// Makes a [`Busy`] actor block (it reports when it does).
struct Hold;

impl Actor for Busy {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|busy: &mut Self, Hold, ctx: &mut Context<Self>| {
            let _ = busy.holding.send(ctx.myself().clone());
            busy.gate.wait();
        })
    }
}

/// The gate the busy children wait on, opened when the test ends however
/// it ends, so that no thread stays blocked.
struct Busyness {
    gate: Gate,
    holding: Sender<ActorRef>,
    held: Mutex<Receiver<ActorRef>>,
}

impl Busyness {
    fn new() -> Self {
        let (holding, held) = channel();
        Busyness {
            gate: Gate::new(),
            holding,
            held: Mutex::new(held),
        }
    }

    fn spec(&self, id: &str) -> ChildSpec {
        let (gate, holding) = (self.gate.clone(), self.holding.clone());
        ChildSpec::worker(id, move || Busy {
            gate: gate.clone(),
            holding: holding.clone(),
        })
        .shutdown(Shutdown::Timeout(CHILD_TIMEOUT))
    }

    /// Makes `actor` busy and returns once it is.
    fn hold(&self, actor: &ActorRef) {
        actor.send(Hold);
        let held = self.held.lock().unwrap().recv_timeout(WAIT);
        assert_eq!(
            held.as_ref().ok(),
            Some(actor),
            "the child did not get busy"
        );
    }
}

impl Drop for Busyness {
    fn drop(&mut self) {
        self.gate.open();
    }
}

fn watch(actor: &ActorRef, system: &ferrotp::System) -> (Inbox, MonitorRef) {
    let inbox = system.inbox();
    let monitor = inbox.monitor(actor);
    (inbox, monitor)
}

/// Waits until `condition` holds (checked every millisecond, up to
/// [`WAIT`]): an unlink sends no message to wait on. A millisecond apart,
/// not in a spin, so that on a loaded machine the check does not take the
/// CPU from the supervisor it waits for.
fn eventually(condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        thread::sleep(Duration::from_millis(1));
    }
    condition()
}

/// A worker whose `stopped` hook takes a while, reporting to a probe.
struct SlowToStop {
    events: Sender<Ev>,
    tag: String,
}

impl Actor for SlowToStop {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }

    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        // The slowness is the point: `stop` must wait for it.
        thread::sleep(Duration::from_millis(200));
        let _ = self.events.send(Ev::Stopped {
            tag: self.tag.clone(),
            actor: ctx.myself().id(),
            reason: reason.clone(),
        });
    }
}

fn slow_to_stop(tag: &str, probe: &Probe) -> ChildSpec {
    let (events, owned) = (probe.sender(), tag.to_string());
    ChildSpec::worker(tag, move || SlowToStop {
        events: events.clone(),
        tag: owned.clone(),
    })
}

ferrotp::on_each_executor! {
    #[test]
    fn stop_waits_for_a_busy_grandchild_whose_supervisor_was_killed_at_its_deadline() {
        let system = new_system();
        let busy = Busyness::new();
        let middle = SupervisorSpec::one_for_one().child(busy.spec("busy"));
        let top = Supervisor::start(
            &system,
            SupervisorSpec::one_for_one().child(
                ChildSpec::supervisor("middle", middle).shutdown(Shutdown::Timeout(SUPERVISOR_TIMEOUT)),
            ),
        )
        .unwrap();
        let middle = top.child_supervisor("middle").unwrap();
        let worker = actor_of(&middle.which_children().unwrap(), "busy");
        let (inbox, monitor) = watch(&worker, &system);
        busy.hold(&worker);

        top.stop(WAIT).unwrap();
        assert!(!middle.actor().is_alive());
        assert!(!worker.is_alive(), "stop returned while the busy grandchild lives");
        assert_eq!(wait_down(&inbox, monitor), ExitReason::Killed);
        assert!(system.actors().is_empty(), "{:?}", system.actors());
    }

    #[test]
    fn a_child_being_terminated_dies_at_its_deadline_though_its_supervisor_was_killed() {
        let system = new_system();
        let busy = Busyness::new();
        let sup = Supervisor::start(
            &system,
            SupervisorSpec::one_for_one().child(busy.spec("stuck")),
        )
        .unwrap();
        let worker = actor_of(&sup.which_children().unwrap(), "stuck");
        let (inbox, monitor) = watch(&worker, &system);
        busy.hold(&worker);

        let terminating = {
            let sup = sup.clone();
            thread::spawn(move || sup.terminate_child("stuck"))
        };
        // The supervisor unlinks the child once it has armed the kill.
        assert!(eventually(|| worker.info().links.is_empty()));
        let killed_at = Instant::now();
        sup.actor().kill();
        assert!(matches!(
            terminating.join().unwrap(),
            Err(SupervisorError::SupervisorDown(ExitReason::Killed))
        ));
        assert_eq!(wait_down(&inbox, monitor), ExitReason::Killed);
        assert!(
            killed_at.elapsed() < CHILD_TIMEOUT + WAIT / 2,
            "the child died {:?} after its supervisor",
            killed_at.elapsed()
        );
    }

    #[test]
    fn a_supervisor_killed_at_any_point_of_a_stop_never_leaves_the_child_running() {
        // The kill lands anywhere after the stop began (the child is
        // unlinked only after its kill was armed), 200 times. Each round
        // lets its killed child's thread go at the end (its own gate), so
        // that stuck threads do not pile up on the pool.
        let system = new_system();
        let quick = Duration::from_millis(20);
        for round in 0..200 {
            let busy = Busyness::new();
            let (gate, holding) = (busy.gate.clone(), busy.holding.clone());
            let spec = ChildSpec::worker("stuck", move || Busy {
                gate: gate.clone(),
                holding: holding.clone(),
            })
            .shutdown(Shutdown::Timeout(quick));
            let sup = Supervisor::start(&system, SupervisorSpec::one_for_one().child(spec)).unwrap();
            let worker = actor_of(&sup.which_children().unwrap(), "stuck");
            let (inbox, monitor) = watch(&worker, &system);
            busy.hold(&worker);
            let terminating = {
                let sup = sup.clone();
                thread::spawn(move || sup.terminate_child("stuck"))
            };
            assert!(
                eventually(|| worker.info().links.is_empty()),
                "round {round}: the supervisor did not begin the stop ({:?}, {} pool workers)",
                sup.actor().info().activity,
                system.pool_workers()
            );
            if round % 2 == 0 {
                thread::yield_now();
            }
            sup.actor().kill();
            assert_eq!(wait_down(&inbox, monitor), ExitReason::Killed, "round {round}");
            let _ = terminating.join();
        }
    }

    #[test]
    fn a_dynamic_supervisors_child_dies_at_its_deadline_though_the_supervisor_was_killed() {
        let system = new_system();
        let busy = Busyness::new();
        let (gate, holding) = (busy.gate.clone(), busy.holding.clone());
        let spec = DynamicSupervisorSpec::worker("busy", move |()| Busy {
            gate: gate.clone(),
            holding: holding.clone(),
        })
        .shutdown(Shutdown::Timeout(CHILD_TIMEOUT));
        let sup = DynamicSupervisor::start(&system, spec).unwrap();
        let worker = sup.start_child(()).unwrap();
        let (inbox, monitor) = watch(&worker, &system);
        busy.hold(&worker);

        let terminating = {
            let (sup, worker) = (sup.clone(), worker.clone());
            thread::spawn(move || sup.terminate_child(&worker))
        };
        assert!(eventually(|| worker.info().links.is_empty()));
        sup.actor().kill();
        assert!(terminating.join().unwrap().is_err());
        assert_eq!(wait_down(&inbox, monitor), ExitReason::Killed);
    }

    #[test]
    fn stop_waits_for_a_busy_child_of_a_dynamic_supervisor_killed_at_its_deadline() {
        let system = new_system();
        let busy = Busyness::new();
        let (gate, holding) = (busy.gate.clone(), busy.holding.clone());
        let dynamic = DynamicSupervisorSpec::worker("busy", move |()| Busy {
            gate: gate.clone(),
            holding: holding.clone(),
        })
        .shutdown(Shutdown::Timeout(CHILD_TIMEOUT));
        let top = Supervisor::start(
            &system,
            SupervisorSpec::one_for_one().child(
                ChildSpec::dynamic_supervisor("pool", dynamic)
                    .shutdown(Shutdown::Timeout(SUPERVISOR_TIMEOUT)),
            ),
        )
        .unwrap();
        let pool = top.child_dynamic_supervisor::<()>("pool").unwrap();
        let workers: Vec<ActorRef> = (0..3).map(|_| pool.start_child(()).unwrap()).collect();
        let inbox = system.inbox();
        for worker in &workers {
            inbox.monitor(worker);
        }
        busy.hold(&workers[1]);

        top.stop(WAIT).unwrap();
        for worker in &workers {
            assert!(!worker.is_alive(), "stop returned while {worker} lives");
        }
        assert!(system.actors().is_empty(), "{:?}", system.actors());
    }

    #[test]
    fn dynamic_supervisor_stop_waits_for_its_subtree() {
        let system = new_system();
        let busy = Busyness::new();
        let inner = SupervisorSpec::one_for_one().child(busy.spec("busy"));
        let spec = DynamicSupervisorSpec::supervisor("team", move |()| inner.clone())
            .shutdown(Shutdown::Timeout(SUPERVISOR_TIMEOUT));
        let sup = DynamicSupervisor::start(&system, spec).unwrap();
        let team = sup.start_child(()).unwrap();
        let worker = system.actors().into_iter().find(|a| a != &team && a != sup.actor()).unwrap();
        let (inbox, monitor) = watch(&worker, &system);
        busy.hold(&worker);

        sup.stop(WAIT).unwrap();
        assert!(!team.is_alive());
        assert!(!worker.is_alive(), "stop returned while the busy grandchild lives");
        assert_eq!(wait_down(&inbox, monitor), ExitReason::Killed);
    }

    #[test]
    fn stop_waits_for_the_subtree_of_a_brutally_killed_supervisor() {
        let system = new_system();
        let probe = Probe::new();
        let middle = SupervisorSpec::one_for_one()
            .child(slow_to_stop("g1", &probe))
            .child(slow_to_stop("g2", &probe));
        let top = Supervisor::start(
            &system,
            SupervisorSpec::one_for_one()
                .child(ChildSpec::supervisor("middle", middle).shutdown(Shutdown::Brutal)),
        )
        .unwrap();
        let middle = top.child_supervisor("middle").unwrap();
        let grandchildren: Vec<ActorRef> = middle
            .which_children()
            .unwrap()
            .into_iter()
            .filter_map(|c| c.actor)
            .collect();

        top.stop(WAIT).unwrap();
        for grandchild in &grandchildren {
            assert!(!grandchild.is_alive(), "stop returned while {grandchild} lives");
        }
        // Their `stopped` hooks ran to the end before `stop` returned.
        let mut stopped: Vec<String> = probe
            .pending()
            .into_iter()
            .map(|ev| ev.tag().to_string())
            .collect();
        stopped.sort();
        assert_eq!(stopped, vec!["g1", "g2"]);
        assert!(system.actors().is_empty(), "{:?}", system.actors());
    }

    #[test]
    fn stop_of_a_supervisor_killed_meanwhile_still_waits_for_its_children() {
        let system = new_system();
        let busy = Busyness::new();
        let sup = Supervisor::start(
            &system,
            SupervisorSpec::one_for_one()
                .child(busy.spec("first"))
                .child(busy.spec("second")),
        )
        .unwrap();
        let first = actor_of(&sup.which_children().unwrap(), "first");
        let second = actor_of(&sup.which_children().unwrap(), "second");
        busy.hold(&second);

        let stopping = {
            let sup = sup.clone();
            thread::spawn(move || sup.stop(WAIT))
        };
        // Stopping `second` (the last started) first; `first` is not asked yet.
        assert!(eventually(|| second.info().links.is_empty()));
        sup.actor().kill();
        stopping.join().unwrap().unwrap();
        assert!(!second.is_alive(), "stop returned while the busy child lives");
        assert!(!first.is_alive(), "stop returned while the child not yet asked lives");
    }
}
