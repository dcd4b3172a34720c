//! What tools see of supervisors (issue 13): the parent link and child-id
//! label on every child, the kind label on every supervisor, and
//! `inspect`'s counts, restart totals and pages.

use std::time::{Duration, Instant};

use ferrotp::{Actor, ActorRef, Context, Handlers, System};
use ferrotp_supervisors::{
    inspect, is_supervisor, supervisor_of, ChildSpec, DynamicSupervisor, DynamicSupervisorSpec,
    Supervisor, SupervisorSpec, CHILD_ID_LABEL, KIND_LABEL, SUPERVISORS_GROUP,
};

const WAIT: Duration = Duration::from_secs(10);

struct Crashy;
struct Crash;
impl Crashy {
    fn crash(&mut self, _: Crash, _ctx: &mut Context<Self>) -> Result<(), String> {
        Err("asked to".to_string())
    }
}
impl Actor for Crashy {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::crash)
    }
}

/// The actor registered as `name`, once it is a new incarnation (not `old`).
fn restarted(system: &System, name: &str, old: &ActorRef) -> ActorRef {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(actor) = system.whereis(name).filter(|a| a != old) {
            return actor;
        }
        assert!(Instant::now() < deadline, "{name} was not restarted");
        std::thread::sleep(Duration::from_millis(1));
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn children_carry_their_supervisor_and_child_id_and_restarts_are_counted() {
        let system = new_system();
        let inner = SupervisorSpec::rest_for_one()
            .name("inner")
            .child(ChildSpec::worker("leaf", || Crashy).name("leaf"));
        let spec = SupervisorSpec::one_for_one()
            .name("top")
            .intensity(10, Duration::from_secs(60))
            .child(ChildSpec::worker("a", || Crashy).name("a"))
            .child(ChildSpec::supervisor("inner", inner));
        let top = Supervisor::start(&system, spec).unwrap();
        let a = system.whereis("a").unwrap();
        let inner = system.whereis("inner").unwrap();
        let leaf = system.whereis("leaf").unwrap();

        assert!(is_supervisor(top.actor()) && is_supervisor(&inner));
        assert_eq!(system.members(SUPERVISORS_GROUP), vec![top.actor().clone(), inner.clone()]);
        assert!(!is_supervisor(&a));
        assert_eq!(top.actor().label(KIND_LABEL).as_deref(), Some("supervisor"));
        assert_eq!(supervisor_of(&a.info()), Some((top.actor().id(), "a")));
        assert_eq!(supervisor_of(&inner.info()), Some((top.actor().id(), "inner")));
        assert_eq!(supervisor_of(&leaf.info()), Some((inner.id(), "leaf")));
        assert_eq!(supervisor_of(&top.actor().info()), None);

        let snapshot = inspect(&system, top.actor(), 0..10, WAIT).unwrap();
        assert_eq!(snapshot.id, top.actor().id());
        assert_eq!(snapshot.name.as_deref(), Some("top"));
        assert_eq!(snapshot.strategy, "one_for_one");
        assert_eq!((snapshot.child_count, snapshot.total_restarts), (2, 0));
        let ids: Vec<&str> = snapshot.children.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "inner"]);

        a.send(Crash);
        let a2 = restarted(&system, "a", &a);
        assert_eq!(a2.label(CHILD_ID_LABEL).as_deref(), Some("a"), "a restart labels it again");
        assert_eq!(a2.info().parent, Some(top.actor().id()));
        let snapshot = inspect(&system, top.actor(), 0..1, WAIT).unwrap();
        assert_eq!((snapshot.total_restarts, snapshot.restarts_in_window), (1, 1));
        assert_eq!(snapshot.children.len(), 1);
        assert_eq!(snapshot.children[0].restarts, 1);
        let nested = inspect(&system, &inner, 0..10, WAIT).unwrap();
        assert_eq!((nested.strategy.as_str(), nested.child_count), ("rest_for_one", 1));
        top.stop(WAIT).unwrap();
        assert!(system.members(SUPERVISORS_GROUP).is_empty(), "they leave when they end");
    }

    #[test]
    fn a_dynamic_supervisor_answers_with_counts_and_one_page() {
        let system = new_system();
        let spec = DynamicSupervisorSpec::worker("session", |_: u32| Crashy)
            .intensity(10, Duration::from_secs(60));
        let sessions = DynamicSupervisor::start(&system, spec).unwrap();
        let children: Vec<ActorRef> = sessions
            .start_children(0..50)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(sessions.actor().label(KIND_LABEL).as_deref(), Some("dynamic_supervisor"));
        assert_eq!(supervisor_of(&children[7].info()), Some((sessions.actor().id(), "session")));

        let page = inspect(&system, sessions.actor(), 45..60, WAIT).unwrap();
        assert_eq!((page.child_count, page.children.len()), (50, 5));
        let ids: Vec<_> = page.children.iter().map(|c| c.actor.as_ref().unwrap().id()).collect();
        assert_eq!(ids, children[45..].iter().map(ActorRef::id).collect::<Vec<_>>());

        children[0].send(Crash);
        let deadline = Instant::now() + WAIT;
        loop {
            let snapshot = inspect(&system, sessions.actor(), 0..0, WAIT).unwrap();
            if snapshot.total_restarts == 1 {
                assert_eq!(snapshot.child_count, 50);
                assert!(snapshot.children.is_empty());
                break;
            }
            assert!(Instant::now() < deadline, "the restart was never counted");
            std::thread::sleep(Duration::from_millis(1));
        }
        sessions.stop(WAIT).unwrap();
    }
}
