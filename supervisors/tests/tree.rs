//! `Supervisor::tree`: the live tree as indented text.

mod common;

use common::*;
use ferrotp_supervisors::{ChildSpec, DynamicSupervisorSpec, Supervisor, SupervisorSpec};

ferrotp::on_each_executor! {
    #[test]
    fn the_tree_shows_ids_names_actors_and_restart_counts() {
        let system = new_system();
        let probe = Probe::new();
        let events = probe.sender();
        let pool = DynamicSupervisorSpec::worker("conn", move |n: u32| {
            Worker::new(&format!("conn{n}"), events.clone(), Behaviour::default())
        });
        let jobs = SupervisorSpec::rest_for_one()
            .intensity(3, HOUR)
            .child(worker("fetch", &probe))
            .child(worker("store", &probe));
        let spec = SupervisorSpec::one_for_one()
            .name("app")
            .intensity(5, HOUR)
            .child(worker("cache", &probe).name("cache"))
            .child(ChildSpec::supervisor("jobs", jobs))
            .child(ChildSpec::dynamic_supervisor("pool", pool));
        let root = Supervisor::start(&system, spec).unwrap();
        root.child_dynamic_supervisor::<u32>("pool")
            .unwrap()
            .start_child(1)
            .unwrap();
        let cache = system.whereis("cache").unwrap();
        end_with(&system, &cache, Crash);
        // The supervisor handled the crash before answering this.
        let cache = actor_of(&root.which_children().unwrap(), "cache");
        assert_eq!(system.whereis("cache"), Some(cache.clone()));
        let store = actor_of(
            &root
                .child_supervisor("jobs")
                .unwrap()
                .which_children()
                .unwrap(),
            "store",
        );

        let tree = root.tree().unwrap();
        println!("{tree}");
        let lines: Vec<&str> = tree.lines().collect();
        assert_eq!(lines.len(), 7, "{tree}");
        assert!(lines[0].starts_with(&format!(
            "app {} one_for_one (1/5 restarts",
            root.actor().id()
        )));
        assert!(lines[1].starts_with(&format!(
            "├─ cache: worker {} \"cache\", permanent, restarted 1x",
            cache.id()
        )));
        assert!(
            lines[2].starts_with("├─ jobs: supervisor #"),
            "{}",
            lines[2]
        );
        assert!(
            lines[2].contains("rest_for_one (0/3 restarts"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].starts_with("│  ├─ fetch: worker #"),
            "{}",
            lines[3]
        );
        assert!(lines[4].starts_with(&format!("│  └─ store: worker {}, permanent", store.id())));
        assert!(lines[5].starts_with("└─ pool: supervisor #") && lines[5].contains("dynamic"));
        assert!(lines[6].starts_with("   └─ conn: worker #"), "{}", lines[6]);
    }
}
