//! Lifecycle events (issue 3, "Events"): every exit, link firing, monitor
//! firing, kill and (un)registration is a `tracing` event carrying the
//! actor's id (and name); abnormal exits are warnings, `Normal` and
//! `Shutdown` exits are debug events.
//!
//! A small subscriber records every event of the process. Actor threads
//! emit them, so it is installed as the global default, and the tests run
//! one at a time (ids restart at 1 in every system).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

use ferrotp::{Actor, ActorRef, Context, Down, ExitReason, Handlers, Inbox, SpawnOptions, Stop};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

const WAIT: Duration = Duration::from_secs(10);

/// One recorded event: its level and its fields, printed (`message` too).
#[derive(Clone, Debug)]
struct Recorded {
    level: Level,
    fields: HashMap<String, String>,
}

impl Recorded {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
    fn message(&self) -> &str {
        self.field("message").unwrap_or("")
    }
}

static EVENTS: Mutex<Vec<Recorded>> = Mutex::new(Vec::new());

fn events() -> MutexGuard<'static, Vec<Recorded>> {
    EVENTS.lock().unwrap_or_else(|e| e.into_inner())
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` fields arrive here and print with their `Display`.
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

/// Records every event; spans are not needed.
struct Recorder;

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        events().push(Recorded {
            level: *event.metadata().level(),
            fields,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

static SERIAL: Mutex<()> = Mutex::new(());

/// Installs the recorder (once), takes the test lock, and forgets the
/// events of earlier tests.
fn recording() -> MutexGuard<'static, ()> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(Recorder).expect("no other global subscriber");
    });
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    events().clear();
    serial
}

/// The events whose `actor` field is `actor`'s id.
fn events_of(actor: &ActorRef) -> Vec<Recorded> {
    let id = actor.id().to_string();
    events()
        .iter()
        .filter(|e| e.field("actor") == Some(id.as_str()))
        .cloned()
        .collect()
}

fn the_exit_event(actor: &ActorRef) -> Recorded {
    let exits: Vec<Recorded> = events_of(actor)
        .into_iter()
        .filter(|e| e.message() == "actor exited")
        .collect();
    assert_eq!(exits.len(), 1, "one exit event for {actor}: {exits:?}");
    exits.into_iter().next().unwrap()
}

/// Crashes on `Crash`, stops with the reason it is given on `StopWith`.
struct Subject;
struct Crash;
struct StopWith(ExitReason);
/// Computes for this long.
struct Crunch(Duration);

impl Subject {
    fn crunch(&mut self, Crunch(how_long): Crunch, _ctx: &mut Context<Self>) {
        let start = std::time::Instant::now();
        while start.elapsed() < how_long {
            std::hint::spin_loop();
        }
    }
    fn crash(&mut self, _: Crash, _ctx: &mut Context<Self>) {
        panic!("kaboom");
    }
    fn stop_with(&mut self, StopWith(reason): StopWith, ctx: &mut Context<Self>) {
        ctx.stop(reason);
    }
}

impl Actor for Subject {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::crash)
            .on(Self::stop_with)
            .on(Self::crunch)
    }
}

fn wait_down(inbox: &Inbox, actor: &ActorRef) -> ExitReason {
    let down: Down = inbox
        .recv(WAIT)
        .expect("a Down")
        .downcast()
        .expect("only Downs arrive here");
    assert_eq!(down.actor, actor.id());
    down.reason
}

ferrotp::on_each_executor! {
    #[test]
    fn a_shutdown_exit_is_a_debug_event_not_a_warning() {
        let _recording = recording();
        let system = new_system();
        let inbox = system.inbox();
        let a = system
            .spawn_with(Subject, SpawnOptions::new().name("quiet"))
            .unwrap();
        let b = system
            .spawn_with(Subject, SpawnOptions::new().link(&a))
            .unwrap();
        let b_watch = system.inbox();
        b_watch.monitor(&b);
        inbox.monitor(&a);
        a.send(StopWith(ExitReason::Shutdown));
        assert_eq!(wait_down(&inbox, &a), ExitReason::Shutdown);
        assert_eq!(wait_down(&b_watch, &b), ExitReason::Shutdown);

        let exit = the_exit_event(&a);
        assert_eq!(exit.level, Level::DEBUG);
        assert_eq!(exit.field("reason"), Some("shutdown"));
        assert_eq!(exit.field("name"), Some("quiet"));
        // `b` died of the link, also with Shutdown, also quietly.
        assert_eq!(the_exit_event(&b).level, Level::DEBUG);

        let loud: Vec<Recorded> = events()
            .iter()
            .filter(|e| e.level <= Level::WARN)
            .cloned()
            .collect();
        assert!(
            loud.is_empty(),
            "Shutdown exits logged as failures: {loud:?}"
        );

        // The link and the monitor firing are events too, naming both ends.
        let a_events = events_of(&a);
        let b_id = b.id().to_string();
        assert!(
            a_events
                .iter()
                .any(|e| e.message() == "link fired" && e.field("to") == Some(b_id.as_str())),
            "{a_events:?}"
        );
        let inbox_id = inbox.actor().id().to_string();
        assert!(
            a_events
                .iter()
                .any(|e| e.message() == "monitor fired"
                    && e.field("watcher") == Some(inbox_id.as_str())),
            "{a_events:?}"
        );
    }

    #[test]
    fn a_panic_exit_is_a_warning_with_the_actor_id_and_name() {
        ferrotp::silence_actor_panics();
        let _recording = recording();
        let system = new_system();
        let inbox = system.inbox();
        let a = system
            .spawn_with(Subject, SpawnOptions::new().name("fragile"))
            .unwrap();
        inbox.monitor(&a);
        a.send(Crash);
        assert_eq!(wait_down(&inbox, &a), ExitReason::Panic("kaboom".into()));
        let exit = the_exit_event(&a);
        assert_eq!(exit.level, Level::WARN);
        assert_eq!(exit.field("name"), Some("fragile"));
        assert!(
            exit.field("reason").is_some_and(|r| r.contains("kaboom")),
            "{exit:?}"
        );
    }

    #[test]
    fn normal_and_error_exits_log_at_their_levels() {
        let _recording = recording();
        let system = new_system();
        let inbox = system.inbox();
        let normal = system.spawn(Subject);
        inbox.monitor(&normal);
        normal.send(Stop);
        assert_eq!(wait_down(&inbox, &normal), ExitReason::Normal);
        assert_eq!(the_exit_event(&normal).level, Level::DEBUG);

        let failed = system.spawn(Subject);
        inbox.monitor(&failed);
        failed.send(StopWith(ExitReason::error("disk full")));
        assert_eq!(wait_down(&inbox, &failed), ExitReason::error("disk full"));
        let exit = the_exit_event(&failed);
        assert_eq!(exit.level, Level::WARN);
        assert_eq!(exit.field("reason"), Some("error: disk full"));
    }

    #[test]
    fn a_kill_is_a_warning_event() {
        let _recording = recording();
        let system = new_system();
        let inbox = system.inbox();
        let a = system
            .spawn_with(Subject, SpawnOptions::new().name("victim"))
            .unwrap();
        inbox.monitor(&a);
        a.kill();
        assert_eq!(wait_down(&inbox, &a), ExitReason::Killed);
        let a_events = events_of(&a);
        assert!(
            a_events
                .iter()
                .any(|e| e.level == Level::WARN && e.message() == "killed"),
            "{a_events:?}"
        );
        let exit = the_exit_event(&a);
        assert_eq!(exit.level, Level::WARN);
        assert_eq!(exit.field("reason"), Some("killed"));
        assert_eq!(exit.field("name"), Some("victim"));
    }

    // Issue 18: an exit is logged only for what was spawned — not for a
    // spawn refused because its name is taken, nor for an inbox.
    #[test]
    fn a_refused_spawn_and_an_inbox_log_no_exit() {
        let _recording = recording();
        let system = new_system();
        let first = system
            .spawn_with(Subject, SpawnOptions::new().name("one"))
            .unwrap();
        let refused = system.spawn_with(Subject, SpawnOptions::new().name("one"));
        assert!(refused.is_err(), "{refused:?}");
        let inbox = system.inbox();
        inbox.monitor(&first);
        drop(inbox);
        assert!(first.is_alive());
        let exits: Vec<Recorded> = events()
            .iter()
            .filter(|e| e.message() == "actor exited")
            .cloned()
            .collect();
        assert!(exits.is_empty(), "{exits:?}");
    }

    #[test]
    fn registering_and_unregistering_are_events() {
        let _recording = recording();
        let system = new_system();
        let inbox = system.inbox();
        let a = system.spawn(Subject);
        system.register("svc", &a).unwrap();
        system.unregister("svc").unwrap();
        system.register("svc2", &a).unwrap();
        inbox.monitor(&a);
        a.send(Stop);
        assert_eq!(wait_down(&inbox, &a), ExitReason::Normal);
        let names: Vec<(String, String)> = events_of(&a)
            .into_iter()
            .filter(|e| e.message() == "registered" || e.message() == "unregistered")
            .map(|e| {
                (
                    e.message().to_string(),
                    e.field("name").unwrap_or("").to_string(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = [
            ("registered", "svc"),
            ("unregistered", "svc"),
            ("registered", "svc2"),
            // Freed by its end.
            ("unregistered", "svc2"),
        ]
        .iter()
        .map(|(m, n)| (m.to_string(), n.to_string()))
        .collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn a_long_handler_is_an_event_with_the_actor_its_name_and_the_message_type() {
        let _recording = recording();
        let system = ferrotp::System::builder()
            .executor(EXECUTOR)
            .long_handler(Duration::from_millis(30))
            .build();
        let inbox = system.inbox();
        let a = system
            .spawn_with(Subject, SpawnOptions::new().name("slowpoke"))
            .unwrap();
        inbox.monitor(&a);
        // On the pool the watchdog, looking every millisecond, must see the
        // handler twice 30 ms apart: it ran 100 ms before, and once missed
        // that while a million-actor bench starved the watchdog's thread
        // (load 50 on 2 cores). The report's fields are what is checked here.
        a.send(Crunch(Duration::from_millis(400)));
        a.send(Stop);
        assert_eq!(wait_down(&inbox, &a), ExitReason::Normal);
        let long: Vec<Recorded> = events_of(&a)
            .into_iter()
            .filter(|e| e.message().starts_with("long handler"))
            // The threshold is wall time: under load a thread descheduled
            // in `Stop` makes that handler long too, truly.
            .filter(|e| e.field("message_type") == Some(std::any::type_name::<Crunch>()))
            .collect();
        assert_eq!(long.len(), 1, "{long:?}");
        let expected_level = match EXECUTOR {
            // It held a worker that other actors share.
            ferrotp::Executor::Pool => Level::WARN,
            // It delayed no one but its own actor.
            ferrotp::Executor::Threads => Level::DEBUG,
        };
        assert_eq!(long[0].level, expected_level);
        assert_eq!(long[0].field("name"), Some("slowpoke"));
        assert_eq!(
            long[0].field("message_type"),
            Some(std::any::type_name::<Crunch>())
        );
        assert!(
            long[0]
                .field("elapsed_ms")
                .and_then(|ms| ms.parse::<u64>().ok())
                .is_some_and(|ms| ms >= 30),
            "{long:?}"
        );
    }
}
