//! Observability: every restart and escalation is a `tracing` event with
//! the supervisor's id and name, the child id, and the actor ids.
//! Restarts and escalations are also published on the system's lifecycle
//! event stream. (Only the first test, on each executor in turn, records
//! with the process-wide subscriber.)

mod common;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use common::*;
use ferrotp::ExitReason;
use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorEvent, SupervisorSpec};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

type Fields = HashMap<String, String>;

/// Records every event's fields (the message under "message").
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Fields>>>);

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::new();
        event.record(&mut Visitor(&mut fields));
        self.0.lock().unwrap().push(fields);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    /// The process-wide subscriber (installed at the first call), emptied,
    /// and the caller's alone until the guard drops: both executors' tests
    /// record with it, one after the other, since their systems number
    /// their actors alike.
    fn install() -> (MutexGuard<'static, ()>, Capture) {
        static CAPTURE: OnceLock<Capture> = OnceLock::new();
        static ALONE: Mutex<()> = Mutex::new(());
        let alone = ALONE.lock().unwrap_or_else(PoisonError::into_inner);
        let capture = CAPTURE.get_or_init(|| {
            let capture = Capture::default();
            tracing::subscriber::set_global_default(capture.clone()).unwrap();
            capture
        });
        capture.0.lock().unwrap().clear();
        (alone, capture.clone())
    }

    fn with_message(&self, message: &str) -> Vec<Fields> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|f| f.get("message").map(String::as_str) == Some(message))
            .cloned()
            .collect()
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn restarts_and_escalations_are_tracing_events_with_ids() {
        let (_alone, capture) = Capture::install();

        let system = new_system();
        let probe = Probe::new();
        let inner = SupervisorSpec::one_for_one()
            .name("inner")
            .intensity(1, HOUR)
            .child(worker("w", &probe));
        let root = Supervisor::start(
            &system,
            SupervisorSpec::one_for_one()
                .name("root")
                .intensity(5, HOUR)
                .child(ChildSpec::supervisor("sub", inner)),
        )
        .unwrap();
        let w0 = probe.started("w");
        let inner = root.child_supervisor("sub").unwrap();
        let inner_id = inner.actor().id();

        // One restart inside `inner`...
        let w = actor_of(&inner.which_children().unwrap(), "w");
        end_with(&system, &w, Crash);
        probe.stopped("w", ExitReason::error("crash"));
        let w1 = probe.started("w");
        // ... then one too many: `inner` escalates and `root` restarts it.
        let watcher = system.inbox();
        let inner_down = watcher.monitor(inner.actor());
        let w = actor_of(&inner.which_children().unwrap(), "w");
        end_with(&system, &w, Crash);
        assert_eq!(wait_down(&watcher, inner_down), ExitReason::Shutdown);
        let new_inner = actor_of(&root.which_children().unwrap(), "sub");

        let restarted = capture.with_message("child restarted");
        let expect =
            |sup: String, name: &str, child: &str, old: String, new: String, count: &str| {
                let found = restarted.iter().any(|f| {
                    f.get("supervisor") == Some(&sup)
                        && f.get("supervisor_name").map(String::as_str) == Some(name)
                        && f.get("child").map(String::as_str) == Some(child)
                        && f.get("old_actor") == Some(&old)
                        && f.get("new_actor") == Some(&new)
                        && f.get("restarts_in_window").map(String::as_str) == Some(count)
                });
                assert!(
                    found,
                    "no restart event of {child} under {name}: {restarted:#?}"
                );
            };
        expect(
            inner_id.to_string(),
            "inner",
            "w",
            w0.to_string(),
            w1.to_string(),
            "1",
        );
        let root_id = root.actor().id().to_string();
        expect(
            root_id.clone(),
            "root",
            "sub",
            inner_id.to_string(),
            new_inner.id().to_string(),
            "1",
        );

        let escalated = capture.with_message("restart intensity exceeded; supervisor shuts down");
        assert!(
            escalated.iter().any(|f| {
                f.get("supervisor") == Some(&inner_id.to_string())
                    && f.get("supervisor_name").map(String::as_str) == Some("inner")
                    && f.get("child").map(String::as_str) == Some("w")
                    && f.get("actor") == Some(&w1.to_string())
                    && f.get("restarts_in_window").map(String::as_str) == Some("2")
            }),
            "{escalated:#?}"
        );
        let exited = capture.with_message("child terminated");
        assert!(
            exited.iter().any(|f| {
                f.get("supervisor") == Some(&root_id)
                    && f.get("child").map(String::as_str) == Some("sub")
                    && f.get("reason").map(String::as_str) == Some("shutdown")
            }),
            "{exited:#?}"
        );
    }

    #[test]
    fn restarts_and_escalations_are_published_on_the_lifecycle_stream() {
        let system = new_system();
        let events = system.subscribe();
        let probe = Probe::new();
        let sup = Supervisor::start(
            &system,
            SupervisorSpec::one_for_all()
                .intensity(1, HOUR)
                .child(worker("a", &probe))
                .child(worker("b", &probe)),
        )
        .unwrap();
        let (a0, b0) = (probe.started("a"), probe.started("b"));
        let next = || loop {
            let event = events.recv(WAIT).expect("a supervisor event");
            if let Some(e) = event.custom::<SupervisorEvent>() {
                return e.clone();
            }
        };

        actor_of(&sup.which_children().unwrap(), "b").send(Crash);
        let supervisor = sup.actor().id();
        // A group restart: one event per restarted child, in start order.
        let (first, second) = (next(), next());
        let now = sup.which_children().unwrap();
        let (a1, b1) = (actor_of(&now, "a").id(), actor_of(&now, "b").id());
        assert_eq!(
            first,
            SupervisorEvent::ChildRestarted {
                supervisor,
                child_id: "a".into(),
                old: Some(a0),
                new: a1
            }
        );
        assert_eq!(
            second,
            SupervisorEvent::ChildRestarted {
                supervisor,
                child_id: "b".into(),
                old: Some(b0),
                new: b1
            }
        );

        actor_of(&sup.which_children().unwrap(), "a").send(Crash);
        assert_eq!(
            next(),
            SupervisorEvent::SupervisorEscalated {
                supervisor,
                child_id: "a".into(),
                restarts_in_window: 2
            }
        );
    }
}
