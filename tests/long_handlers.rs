//! Long handlers are visible (`SystemBuilder::long_handler`): a handler
//! that runs past the threshold becomes a `LifecycleEvent::LongHandler`
//! naming the actor, its name and the message type; waits in the runtime do
//! not count; `None` switches the reports off.

use std::time::{Duration, Instant};

use ferrotp::{
    Actor, Context, Events, Executor, Handlers, LifecycleEvent, SpawnOptions, Stop, System,
};

const WAIT: Duration = Duration::from_secs(10);
const THRESHOLD: Duration = Duration::from_millis(50);
const LONG: Duration = Duration::from_millis(150);

/// Computes for as long as it is told (a handler that holds its thread).
struct Compute(Duration);
/// Waits for mail that never comes, in `Inbox::recv` (a wait the runtime knows of).
struct Wait(Duration);
/// Returns at once.
struct Quick;

struct Worker;

impl Worker {
    fn compute(&mut self, Compute(how_long): Compute, _ctx: &mut Context<Self>) {
        let start = Instant::now();
        while start.elapsed() < how_long {
            std::hint::spin_loop();
        }
    }
    fn wait(&mut self, Wait(how_long): Wait, ctx: &mut Context<Self>) {
        let inbox = ctx.system().inbox();
        assert!(inbox.recv(how_long).is_err(), "no one sends to this inbox");
    }
    fn quick(&mut self, _: Quick, _ctx: &mut Context<Self>) {}
}

impl Actor for Worker {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::compute)
            .on(Self::wait)
            .on(Self::quick)
    }
}

/// The long-handler reports about `actor`'s handlers of `message_type`
/// (a `type_name`, or `"started"`) until it exits.
///
/// Reports of other handlers are left out: the threshold is wall time, so on
/// a loaded machine a thread descheduled mid-handler makes even a quick
/// handler (or `Stop`) run past it, and that report is true, not a bug.
fn long_handlers_until_exit(
    events: &Events,
    actor: ferrotp::ActorId,
    message_type: &str,
) -> Vec<LifecycleEvent> {
    let mut seen = Vec::new();
    loop {
        let event = events.recv(WAIT).expect("the actor's exit");
        match &event {
            LifecycleEvent::Exited { actor: a, .. } if *a == actor => return seen,
            LifecycleEvent::LongHandler {
                actor: a,
                message_type: t,
                ..
            } if *a == actor && *t == message_type => seen.push(event),
            _ => {}
        }
    }
}

ferrotp::on_each_executor! {
    fn timed_system(threshold: Option<Duration>) -> System {
        System::builder()
            .executor(EXECUTOR)
            .workers(2)
            .long_handler(threshold)
            .build()
    }

    #[test]
    fn a_handler_past_the_threshold_is_reported_with_the_actor_its_name_and_the_message_type() {
        let system = timed_system(Some(THRESHOLD));
        let events = system.subscribe();
        let worker = system
            .spawn_with(Worker, SpawnOptions::new().name("cruncher"))
            .unwrap();
        worker.send(Quick);
        worker.send(Compute(LONG));
        worker.send(Quick);
        worker.send(Stop);
        let reports = long_handlers_until_exit(&events, worker.id(), std::any::type_name::<Compute>());
        assert_eq!(reports.len(), 1, "the long handler, once: {reports:?}");
        match &reports[0] {
            LifecycleEvent::LongHandler {
                actor,
                name,
                message_type,
                elapsed,
                executor,
            } => {
                assert_eq!(*actor, worker.id());
                assert_eq!(name.as_deref(), Some("cruncher"));
                assert_eq!(*message_type, std::any::type_name::<Compute>());
                assert!(*elapsed >= THRESHOLD, "{elapsed:?}");
                assert!(*elapsed < WAIT, "{elapsed:?}");
                assert_eq!(*executor, EXECUTOR);
            }
            other => panic!("{other:?}"),
        }
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn a_long_started_hook_is_reported_as_started() {
        struct SlowStart;
        impl Actor for SlowStart {
            fn handlers() -> Handlers<Self> {
                Handlers::new()
            }
            fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ferrotp::ExitReason> {
                let start = Instant::now();
                while start.elapsed() < LONG {
                    std::hint::spin_loop();
                }
                Ok(())
            }
        }
        let system = timed_system(Some(THRESHOLD));
        let events = system.subscribe();
        let slow = system.spawn(SlowStart);
        slow.send(Stop);
        let reports = long_handlers_until_exit(&events, slow.id(), "started");
        assert!(
            matches!(
                reports.as_slice(),
                [LifecycleEvent::LongHandler { message_type: "started", .. }]
            ),
            "{reports:?}"
        );
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn waiting_in_the_runtime_does_not_count_as_running_long() {
        let system = timed_system(Some(THRESHOLD));
        let events = system.subscribe();
        let worker = system.spawn(Worker);
        worker.send(Wait(LONG));
        worker.send(Stop);
        let reports = long_handlers_until_exit(&events, worker.id(), std::any::type_name::<Wait>());
        assert!(reports.is_empty(), "{reports:?}");
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn no_threshold_no_reports() {
        let system = timed_system(None);
        let events = system.subscribe();
        let worker = system.spawn(Worker);
        worker.send(Compute(LONG));
        worker.send(Stop);
        let reports = long_handlers_until_exit(&events, worker.id(), std::any::type_name::<Compute>());
        assert!(reports.is_empty(), "{reports:?}");
        system.shutdown(WAIT).unwrap();
    }
}

#[test]
fn the_default_threshold_is_a_tenth_of_a_second() {
    assert_eq!(ferrotp::DEFAULT_LONG_HANDLER, Duration::from_millis(100));
    // A handler well past it is reported without any setting.
    let system = System::builder().executor(Executor::Pool).build();
    let events = system.subscribe();
    let worker = system.spawn(Worker);
    worker.send(Compute(Duration::from_millis(300)));
    worker.send(Stop);
    let reports = long_handlers_until_exit(&events, worker.id(), std::any::type_name::<Compute>());
    assert_eq!(reports.len(), 1, "{reports:?}");
    system.shutdown(WAIT).unwrap();
}
