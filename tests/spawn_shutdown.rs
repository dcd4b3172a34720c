//! Spawning (options, failures) and shutting down (explicitly, by drop,
//! with actors that will not stop), and systems that share a process.

#[path = "common/receive.rs"]
#[allow(dead_code)]
mod receive;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use ferrotp::{
    silence_actor_panics, Actor, ActorRef, CallError, Context, Down, Executor, ExitReason,
    Handlers, RegistryError, ShutdownError, SpawnError, SpawnOptions, Stopped, System,
};
use receive::next;

const WAIT: Duration = Duration::from_secs(10);

/// What a `Reporter` says, on a plain channel, when its hooks run or it is
/// dropped.
#[derive(Debug, PartialEq)]
enum Event {
    Started(usize),
    Stopped(usize, ExitReason),
    Dropped(usize),
}

/// Reports its lifecycle on a channel; answers `Ping` with its number.
/// It keeps its own system handle, which must not keep the system alive.
struct Reporter {
    n: usize,
    events: mpsc::Sender<Event>,
    system: Option<System>,
}
struct Ping;

impl Reporter {
    fn new(n: usize, events: &mpsc::Sender<Event>) -> Self {
        Reporter {
            n,
            events: events.clone(),
            system: None,
        }
    }
    fn ping(&mut self, _: Ping, ctx: &mut Context<Self>) {
        ctx.reply(self.n);
    }
}

impl Actor for Reporter {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::ping)
    }
    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.system = Some(ctx.system().clone());
        let _ = self.events.send(Event::Started(self.n));
        Ok(())
    }
    fn stopped(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        let _ = self.events.send(Event::Stopped(self.n, reason.clone()));
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        let _ = self.events.send(Event::Dropped(self.n));
    }
}

fn next_event(events: &mpsc::Receiver<Event>) -> Event {
    events.recv_timeout(WAIT).expect("no event in time")
}

// ---------------------------------------------------------------------------
// The OS refuses a thread

/// A system whose every actor thread asks for an impossible stack. These
/// tests are about the thread a spawn starts, so they run on
/// `Executor::Threads` only.
fn starved_system() -> System {
    System::builder()
        .executor(Executor::Threads)
        .stack_size(usize::MAX / 2)
        .build()
}

#[test]
fn try_spawn_returns_the_error_when_the_os_refuses_a_thread() {
    let system = starved_system();
    let (tx, events) = mpsc::channel();
    let result = system.try_spawn(Reporter::new(1, &tx));
    assert!(
        matches!(result, Err(SpawnError::Thread(_))),
        "got {result:?}"
    );
    // The actor never ran, and its state was not leaked.
    assert_eq!(next_event(&events), Event::Dropped(1));
    assert!(events.try_recv().is_err());

    // A named spawn that fails leaves the name free.
    let result = system.spawn_with(Reporter::new(2, &tx), SpawnOptions::new().name("svc"));
    assert!(
        matches!(result, Err(SpawnError::Thread(_))),
        "got {result:?}"
    );
    assert_eq!(system.whereis("svc"), None);

    // Nothing is left behind, and the system shuts down at once.
    assert!(system.actors().is_empty());
    assert_eq!(system.threads(), 0);
    system.shutdown(WAIT).unwrap();
}

#[test]
fn spawn_returns_a_dead_actor_when_the_os_refuses_a_thread() {
    let system = starved_system();
    let (tx, events) = mpsc::channel();
    let actor = system.spawn(Reporter::new(1, &tx));
    assert!(!actor.is_alive());
    assert_eq!(next_event(&events), Event::Dropped(1));

    // Messages to it are dead letters; watching it reports `NoProc`.
    let before = system.dead_letters();
    actor.send(Ping);
    assert_eq!(system.dead_letters(), before + 1);
    let inbox = system.inbox();
    let monitor = inbox.monitor(&actor);
    let down: Down = next(&inbox);
    assert_eq!((down.monitor, down.reason), (monitor, ExitReason::NoProc));
    let result: Result<usize, CallError> = system.bridge().call(&actor, Ping, WAIT);
    assert_eq!(result, Err(CallError::Stopped(ExitReason::NoProc)));
}

// ---------------------------------------------------------------------------
// Spawn options

/// Fails in `started` at once (so a link made after it runs would be too late).
struct DiesAtOnce;

impl Actor for DiesAtOnce {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
    fn started(&mut self, _: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(ExitReason::Error("born dead".to_string()))
    }
}

/// Reports whether it traps exits from its first line, and forwards the
/// `Stopped` messages it receives.
struct Trapper {
    probe: ActorRef,
}
#[derive(Debug, PartialEq)]
struct TrapsExits(bool);

impl Trapper {
    fn stopped_msg(&mut self, stopped: Stopped, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, stopped);
    }
}

impl Actor for Trapper {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::stopped_msg)
    }
    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.send(&self.probe, TrapsExits(ctx.is_trapping_exits()));
        Ok(())
    }
}

/// Fails when told to.
struct Doomed;
struct Fail;

impl Actor for Doomed {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|_: &mut Self, _: Fail, ctx: &mut Context<Self>| {
            ctx.stop(ExitReason::Error("doomed".to_string()))
        })
    }
}

/// `started` takes a while, then succeeds or fails; `stopped` takes a
/// while too, and both leave a mark.
struct SlowStart {
    fail: Option<ExitReason>,
    started: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
}

impl SlowStart {
    fn new(fail: Option<ExitReason>) -> Self {
        SlowStart {
            fail,
            started: Arc::new(AtomicBool::new(false)),
            stopped: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Actor for SlowStart {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|_: &mut Self, _: Ping, ctx: &mut Context<Self>| ctx.reply(0usize))
    }
    fn started(&mut self, _: &mut Context<Self>) -> Result<(), ExitReason> {
        thread::sleep(Duration::from_millis(100));
        self.started.store(true, Ordering::SeqCst);
        match self.fail.take() {
            Some(ExitReason::Panic(text)) => panic!("{text}"),
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }
    fn stopped(&mut self, _: &ExitReason, _: &mut Context<Self>) {
        thread::sleep(Duration::from_millis(100));
        self.stopped.store(true, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// Shutdown

/// Blocks in its handler on a channel the test controls; says when it is
/// in, and when it is finally dropped.
struct Blocker {
    entered: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
    dropped: mpsc::Sender<()>,
}
struct Block;

impl Actor for Blocker {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|this: &mut Self, _: Block, _: &mut Context<Self>| {
            let _ = this.entered.send(());
            let _ = this.release.recv();
        })
    }
}

impl Drop for Blocker {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

ferrotp::on_each_executor! {
    // ---------------------------------------------------------------------------
    // Spawn options

    #[test]
    fn spawn_option_name_registers_before_the_actor_runs() {
        let system = new_system();
        let (tx, events) = mpsc::channel();
        let actor = system
            .spawn_with(Reporter::new(1, &tx), SpawnOptions::new().name("worker"))
            .unwrap();
        assert_eq!(system.whereis("worker"), Some(actor.clone()));
        assert_eq!(actor.name().as_deref(), Some("worker"));
        assert_eq!(next_event(&events), Event::Started(1));

        // The name is taken: the second actor is not spawned at all.
        let result = system.spawn_with(Reporter::new(2, &tx), SpawnOptions::new().name("worker"));
        match result {
            Err(SpawnError::Name(RegistryError::NameTaken { name, holder })) => {
                assert_eq!((name.as_str(), holder), ("worker", actor.id()));
            }
            other => panic!("expected NameTaken, got {other:?}"),
        }
        assert_eq!(next_event(&events), Event::Dropped(2));
        assert_eq!(system.actors(), vec![actor]);
    }

    #[test]
    fn spawn_option_link_is_made_before_the_actor_runs() {
        let system = new_system();
        let inbox = system.inbox();
        for _ in 0..20 {
            let actor = system
                .spawn_with(DiesAtOnce, SpawnOptions::new().link(inbox.actor()))
                .unwrap();
            // A link made after the actor died would report `NoProc`.
            assert_eq!(
                next::<Stopped>(&inbox),
                Stopped {
                    actor: actor.id(),
                    reason: ExitReason::Error("born dead".to_string())
                }
            );
        }
    }

    #[test]
    fn spawn_option_trap_exit_turns_exit_signals_into_messages() {
        let system = new_system();
        let probe = system.inbox();

        let doomed = system.spawn(Doomed);
        let trapper = system
            .spawn_with(
                Trapper {
                    probe: probe.actor().clone(),
                },
                SpawnOptions::new().link(&doomed).trap_exit(true),
            )
            .unwrap();
        assert_eq!(next::<TrapsExits>(&probe), TrapsExits(true));
        doomed.send(Fail);
        assert_eq!(
            next::<Stopped>(&probe),
            Stopped {
                actor: doomed.id(),
                reason: ExitReason::Error("doomed".to_string())
            }
        );
        assert!(trapper.is_alive());

        // Without the option, the same link takes the actor down.
        let doomed = system.spawn(Doomed);
        let plain = system
            .spawn_with(
                Trapper {
                    probe: probe.actor().clone(),
                },
                SpawnOptions::new().link(&doomed),
            )
            .unwrap();
        let monitor = probe.monitor(&plain);
        assert_eq!(next::<TrapsExits>(&probe), TrapsExits(false));
        doomed.send(Fail);
        let down: Down = next(&probe);
        assert_eq!(
            (down.monitor, down.reason),
            (monitor, ExitReason::Error("doomed".to_string()))
        );
    }

    #[test]
    fn await_started_returns_once_started_has_run() {
        let system = new_system();
        let actor = SlowStart::new(None);
        let started = actor.started.clone();
        let actor = system
            .spawn_with(actor, SpawnOptions::new().await_started())
            .unwrap();
        assert!(started.load(Ordering::SeqCst), "returned before `started`");
        assert!(actor.is_alive());
    }

    #[test]
    fn await_started_reports_start_failed_once_the_actor_has_terminated() {
        silence_actor_panics();
        let system = new_system();
        for reason in [
            ExitReason::Error("no config".to_string()),
            ExitReason::Panic("no disk".to_string()),
        ] {
            let actor = SlowStart::new(Some(reason.clone()));
            let stopped = actor.stopped.clone();
            let options = SpawnOptions::new().name("svc").await_started();
            match system.spawn_with(actor, options) {
                Err(SpawnError::StartFailed(got)) => assert_eq!(got, reason),
                other => panic!("expected StartFailed, got {other:?}"),
            }
            // Like any notice of an end: `stopped` has returned and the name
            // is free, so a restart can take it at once.
            assert!(stopped.load(Ordering::SeqCst), "`stopped` still running");
            assert_eq!(system.whereis("svc"), None);
            assert!(system.actors().is_empty());
            let again = system
                .spawn_with(SlowStart::new(None), SpawnOptions::new().name("svc"))
                .expect("the name was freed");
            system.bridge().stop(&[again], WAIT);
        }
    }

    // ---------------------------------------------------------------------------
    // Shutdown

    #[test]
    fn shutdown_stops_every_actor_and_leaves_children_to_their_parent() {
        let system = new_system();
        let (tx, events) = mpsc::channel();
        let mut actors = Vec::new();
        for n in 0..5 {
            // Trapping exits does not shield an actor from shutdown.
            let options = SpawnOptions::new().trap_exit(n == 2).await_started();
            actors.push(system.spawn_with(Reporter::new(n, &tx), options).unwrap());
        }
        // Children of #0 (linked to it, spawned after it); #7 traps exits,
        // so its parent's end does not take it along.
        for n in 5..8 {
            let options = SpawnOptions::new()
                .link(&actors[0])
                .trap_exit(n == 7)
                .await_started();
            actors.push(system.spawn_with(Reporter::new(n, &tx), options).unwrap());
        }
        for n in 0..8 {
            assert_eq!(next_event(&events), Event::Started(n));
        }

        system.shutdown(WAIT).unwrap();
        let seen: Vec<Event> = (0..16).map(|_| next_event(&events)).collect();
        let at = |event: Event| {
            seen.iter()
                .position(|e| *e == event)
                .unwrap_or_else(|| panic!("{event:?} not in {seen:?}"))
        };
        for n in 0..8 {
            // Roots end by the shutdown's signal, children by their parent's.
            assert!(at(Event::Stopped(n, ExitReason::Shutdown)) < at(Event::Dropped(n)));
        }
        for child in 5..8 {
            assert!(
                at(Event::Dropped(0)) < at(Event::Stopped(child, ExitReason::Shutdown)),
                "child {child} stopped before its parent: {seen:?}"
            );
        }
        assert!(actors.iter().all(|a| !a.is_alive()));
        assert!(system.actors().is_empty());
        assert_eq!(system.threads(), 0);
    }

    #[test]
    fn shutdown_reports_the_actors_that_did_not_stop() {
        let system = new_system();
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let (dropped_tx, dropped) = mpsc::channel();
        // Unrelated actors stop concurrently: the others stop while the
        // blocker uses up the timeout.
        let blocker = system.spawn(Blocker {
            entered: entered_tx,
            release: release_rx,
            dropped: dropped_tx,
        });
        let (tx, events) = mpsc::channel();
        let fine = system.spawn(Reporter::new(1, &tx));
        assert_eq!(next_event(&events), Event::Started(1));
        blocker.send(Block);
        entered.recv_timeout(WAIT).expect("the blocker is blocked");

        let timeout = Duration::from_secs(2);
        let started = Instant::now();
        let result = system.shutdown(timeout);
        assert!(started.elapsed() >= timeout, "gave up before the timeout");
        assert_eq!(
            result,
            Err(ShutdownError {
                actors: vec![blocker.id()],
                timeout
            })
        );
        assert_eq!(next_event(&events), Event::Stopped(1, ExitReason::Shutdown));
        assert!(!fine.is_alive());
        assert!(!blocker.is_alive(), "the stuck actor was killed");

        // Let the stuck thread end; the blocker's state is dropped then.
        release.send(()).unwrap();
        dropped.recv_timeout(WAIT).expect("the blocker was dropped");
    }

    #[test]
    fn spawning_after_shutdown_fails() {
        let system = new_system();
        system.shutdown(WAIT).unwrap();
        assert!(system.is_shutting_down());
        let (tx, events) = mpsc::channel();

        let result = system.try_spawn(Reporter::new(1, &tx));
        assert!(
            matches!(result, Err(SpawnError::ShuttingDown)),
            "got {result:?}"
        );
        let result = system.spawn_with(Reporter::new(2, &tx), SpawnOptions::new().await_started());
        assert!(
            matches!(result, Err(SpawnError::ShuttingDown)),
            "got {result:?}"
        );
        let dead = system.spawn(Reporter::new(3, &tx));
        assert!(!dead.is_alive());

        // None of them ever ran.
        for n in 1..=3 {
            assert_eq!(next_event(&events), Event::Dropped(n));
        }
        assert!(events.try_recv().is_err());
        assert_eq!(system.threads(), 0);
    }

    #[test]
    fn dropping_the_system_shuts_it_down() {
        let (tx, events) = mpsc::channel();
        let system = new_system();
        let actors: Vec<ActorRef> = (0..3)
            .map(|n| {
                system
                    .spawn_with(Reporter::new(n, &tx), SpawnOptions::new().await_started())
                    .unwrap()
            })
            .collect();
        for n in 0..3 {
            assert_eq!(next_event(&events), Event::Started(n));
        }
        // Neither a bridge, an inbox, nor the actors' own system handles keep
        // the system alive.
        let bridge = system.bridge();
        let _inbox = system.inbox();
        drop(system);

        let mut stopped: Vec<usize> = (0..6)
            .filter_map(|_| match next_event(&events) {
                Event::Stopped(n, ExitReason::Shutdown) => Some(n),
                _ => None,
            })
            .collect();
        // Unrelated actors stop concurrently: any order.
        stopped.sort_unstable();
        assert_eq!(stopped, vec![0, 1, 2]);
        assert!(actors.iter().all(|a| !a.is_alive()));
        assert!(bridge.system().is_shutting_down());
    }

    #[test]
    fn two_systems_do_not_see_each_other() {
        let one = new_system();
        let two = new_system();
        let (tx, events) = mpsc::channel();
        let a1 = one.spawn(Reporter::new(1, &tx));
        let a2 = one.spawn(Reporter::new(2, &tx));
        let b1 = two.spawn(Reporter::new(3, &tx));

        // Actor tables.
        assert_eq!(one.actors(), vec![a1.clone(), a2.clone()]);
        assert_eq!(two.actors(), vec![b1.clone()]);

        // Registries: the same name in each, for each its own actor.
        one.register("db", &a1).unwrap();
        two.register("db", &b1).unwrap();
        assert_eq!(one.whereis("db"), Some(a1.clone()));
        assert_eq!(two.whereis("db"), Some(b1.clone()));
        one.register("only-one", &a2).unwrap();
        assert_eq!(two.whereis("only-one"), None);
        assert_eq!(two.registered(), vec!["db".to_string()]);

        // Dead letters are counted where they happen.
        let dead = one.spawn(Reporter::new(4, &tx));
        one.bridge().stop(std::slice::from_ref(&dead), WAIT);
        let (one_before, two_before) = (one.dead_letters(), two.dead_letters());
        dead.send(Ping);
        assert_eq!(one.dead_letters(), one_before + 1);
        assert_eq!(two.dead_letters(), two_before);

        // Shutting one down leaves the other running.
        one.shutdown(WAIT).unwrap();
        assert!(!a1.is_alive() && !a2.is_alive());
        let n: usize = two.bridge().call(&b1, Ping, WAIT).unwrap();
        assert_eq!(n, 3);
        assert_eq!(two.whereis("db"), Some(b1));
        drop(events);
    }
}
