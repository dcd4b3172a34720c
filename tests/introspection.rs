//! Introspection (issue 13): every field of `ActorInfo` and `ActorStats`,
//! `System::actor_stats`, `System::actors_info` and `System::top`, on both
//! executors.
//!
//! Counters are written when a handler (or, on the pool, a turn) ends, a
//! moment after the handler's reply leaves, so a test that has its reply
//! waits for the counter to show it (`eventually`, bounded by 10 s).

use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use ferrotp::{
    Activity, Actor, ActorId, ActorRef, Context, Executor, Handlers, SpawnOptions, System, TopBy,
};

const WAIT: Duration = Duration::from_secs(10);

/// Handles notes, answers pings, blocks on request, spawns on request.
struct Worker;

struct Note;
struct Ping;
/// Tells `entered` it runs, then blocks until `release` is closed or sent to.
struct Block {
    entered: Sender<()>,
    release: Receiver<()>,
}
/// Spawns a labelled child and answers with its address.
struct SpawnChild(&'static str);
struct Label(&'static str, &'static str);

impl Worker {
    fn note(&mut self, _: Note, _ctx: &mut Context<Self>) {}
    fn ping(&mut self, _: Ping, ctx: &mut Context<Self>) {
        ctx.reply(());
    }
    fn block(&mut self, block: Block, _ctx: &mut Context<Self>) {
        let _ = block.entered.send(());
        let _ = block.release.recv_timeout(WAIT);
    }
    fn spawn_child(&mut self, SpawnChild(id): SpawnChild, ctx: &mut Context<Self>) {
        let options = SpawnOptions::new()
            .label("test.child_id", id)
            .link(ctx.myself());
        let child = ctx.spawn_with(Worker, options).expect("spawn");
        ctx.reply(child);
    }
    fn label(&mut self, Label(key, value): Label, ctx: &mut Context<Self>) {
        ctx.set_label(key, value);
        ctx.reply(());
    }
}

impl Actor for Worker {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::note)
            .on(Self::ping)
            .on(Self::block)
            .on(Self::spawn_child)
            .on(Self::label)
    }
}

fn ping(system: &System, actor: &ActorRef) {
    let () = system.bridge().call(actor, Ping, WAIT).expect("ping");
}

/// Blocks `actor` in a handler; returns once the handler runs, with the
/// sender that releases it (dropping it releases it too).
fn block(actor: &ActorRef) -> Sender<()> {
    let (entered_tx, entered) = bounded(1);
    let (release, release_rx) = bounded(1);
    actor.send(Block {
        entered: entered_tx,
        release: release_rx,
    });
    entered.recv_timeout(WAIT).expect("the handler never ran");
    release
}

/// Waits (up to 10 s) until `check` holds; panics with `what` otherwise.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn info_names_the_actor_its_executor_parent_and_labels() {
        let system = new_system();
        let parent = system
            .spawn_with(Worker, SpawnOptions::new().name("parent").label("test.role", "boss"))
            .unwrap();
        let child: ActorRef = system.bridge().call(&parent, SpawnChild("c1"), WAIT).unwrap();
        let info = child.info();
        assert_eq!(info.id, child.id());
        assert!(info.alive);
        assert_eq!(info.executor, EXECUTOR);
        assert_eq!(child.executor(), EXECUTOR);
        assert_eq!(info.parent, Some(parent.id()), "spawned from the parent's handler");
        assert_eq!(info.label("test.child_id"), Some("c1"));
        assert_eq!(info.links, vec![parent.id()]);
        let parent_info = parent.info();
        assert_eq!(parent_info.name.as_deref(), Some("parent"));
        assert_eq!(parent_info.parent, None, "spawned by plain code");
        assert_eq!(parent_info.labels, vec![("test.role".to_string(), "boss".to_string())]);
        assert_eq!(parent_info.links, vec![child.id()]);

        // An actor labels itself; labels stay sorted by key.
        let () = system.bridge().call(&parent, Label("test.phase", "busy"), WAIT).unwrap();
        let () = system.bridge().call(&parent, Label("test.role", "chief"), WAIT).unwrap();
        assert_eq!(
            parent.info().labels,
            vec![
                ("test.phase".to_string(), "busy".to_string()),
                ("test.role".to_string(), "chief".to_string()),
            ]
        );
        assert_eq!(parent.label("test.phase").as_deref(), Some("busy"));
        assert_eq!(parent.label("nope"), None);
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn a_dedicated_actor_reports_the_thread_executor() {
        let system = new_system();
        let own = system.spawn_with(Worker, SpawnOptions::new().dedicated()).unwrap();
        assert_eq!(own.info().executor, Executor::Threads);
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn messages_handled_counts_every_piece_of_mail() {
        let system = new_system();
        let worker = system.spawn(Worker);
        for _ in 0..10 {
            worker.send(Note);
        }
        ping(&system, &worker);
        eventually("11 messages counted", || worker.stats().messages_handled == 11);
        assert_eq!(worker.info().messages_handled, 11);
        let untouched = system.spawn(Worker);
        assert_eq!(untouched.info().messages_handled, 0);
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn a_blocked_handler_is_running_and_its_backlog_is_the_mailbox_length() {
        let system = new_system();
        let worker = system.spawn(Worker);
        ping(&system, &worker);
        eventually("idle after its ping", || worker.stats().activity == Activity::Idle);

        let release = block(&worker);
        for _ in 0..5 {
            worker.send(Note);
        }
        let stats = worker.stats();
        assert_eq!(stats.activity, Activity::Running);
        assert_eq!(stats.mailbox_len, 5);
        assert_eq!(worker.info().mailbox_len, 5);
        // How long: the coarse clock moves in milliseconds.
        eventually("running for 30 ms", || {
            worker.stats().activity_for >= Duration::from_millis(30)
        });
        let info = worker.info();
        assert_eq!(info.activity, Activity::Running);
        assert!(info.activity_for >= Duration::from_millis(30));

        drop(release);
        ping(&system, &worker);
        eventually("the backlog handled", || {
            let stats = worker.stats();
            stats.mailbox_len == 0 && stats.messages_handled == 8
        });
        eventually("idle again", || worker.stats().activity == Activity::Idle);
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn actor_stats_and_actors_info_cover_every_live_actor() {
        let system = new_system();
        let actors: Vec<ActorRef> = (0..5).map(|_| system.spawn(Worker)).collect();
        let inbox = system.inbox();
        inbox.monitor(&actors[1]);
        let ids: Vec<ActorId> = actors.iter().map(ActorRef::id).collect();
        let mut stats = system.actor_stats();
        stats.sort_unstable_by_key(|s| s.id);
        assert_eq!(stats.iter().map(|s| s.id).collect::<Vec<_>>(), ids);
        assert_eq!(system.actor_count(), 5);
        assert!(stats.iter().all(|s| s.executor == EXECUTOR && s.parent.is_none()));
        let infos = system.actors_info();
        assert_eq!(infos.iter().map(|i| i.id).collect::<Vec<_>>(), ids);
        assert_eq!(infos[1].monitored_by, vec![inbox.actor().id()]);
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn top_ranks_by_messages_handled_then_age() {
        let system = new_system();
        let actors: Vec<ActorRef> = (0..4).map(|_| system.spawn(Worker)).collect();
        for (i, actor) in actors.iter().enumerate() {
            for _ in 0..i {
                actor.send(Note);
            }
            ping(&system, actor);
        }
        eventually("counted", || actors[3].stats().messages_handled == 4);
        eventually("counted", || actors[2].stats().messages_handled == 3);
        let top = system.top(2, TopBy::MessagesHandled);
        let ids: Vec<ActorId> = top.iter().map(|i| i.id).collect();
        assert_eq!(ids, vec![actors[3].id(), actors[2].id()]);
        assert_eq!(top[0].messages_handled, 4);
        assert!(system.top(0, TopBy::MessagesHandled).is_empty());
        // More than there are: all, largest first; equal ones oldest first.
        let all = system.top(10, TopBy::MailboxLen);
        assert_eq!(all.iter().map(|i| i.id).collect::<Vec<_>>(), actors.iter().map(ActorRef::id).collect::<Vec<_>>());
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn top_ranks_by_mailbox_length() {
        // A worker for each blocked actor, and one to spare.
        let system = System::builder().executor(EXECUTOR).workers(4).build();
        let actors: Vec<ActorRef> = (0..3).map(|_| system.spawn(Worker)).collect();
        let mut releases = Vec::new();
        for (i, actor) in actors.iter().enumerate() {
            releases.push(block(actor));
            // Blocked: what arrives now stays in the mailbox.
            for _ in 0..(i * 3 + 1) {
                actor.send(Note);
            }
        }
        let top = system.top(2, TopBy::MailboxLen);
        let lens: Vec<(ActorId, usize)> = top.iter().map(|i| (i.id, i.mailbox_len)).collect();
        assert_eq!(lens, vec![(actors[2].id(), 7), (actors[1].id(), 4)]);
        drop(releases);
        system.shutdown(WAIT).unwrap();
    }
}

/// On the pool, an actor with mail and no worker free is `Queued`.
#[test]
fn a_pooled_actor_waiting_for_a_worker_is_queued() {
    let system = System::builder()
        .executor(Executor::Pool)
        .workers(1)
        .build();
    let hog = system.spawn(Worker);
    let waiting = system.spawn(Worker);
    ping(&system, &waiting);
    let release = block(&hog);
    waiting.send(Note);
    let stats = waiting.stats();
    assert_eq!(stats.activity, Activity::Queued, "{stats:?}");
    assert_eq!(stats.mailbox_len, 1);
    eventually("queued for 20 ms", || {
        waiting.stats().activity_for >= Duration::from_millis(20)
    });
    assert_eq!(hog.stats().activity, Activity::Running);
    drop(release);
    eventually("the queued note handled", || {
        waiting.stats().messages_handled == 2
    });
    system.shutdown(WAIT).unwrap();
}
