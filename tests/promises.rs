//! Issue 18: every documented promise is true. One test per claim that an
//! audit found false or vague, on both executors; each names the claim.
//!
//! Every wait is on an event (a reply, a `Down`, a `Stopped`, a lifecycle
//! event) with a generous bound; no test sleeps to guess timing.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[allow(dead_code)]
mod common;

use common::{ask, next, spawn_puppet, tell, WAIT};
use ferrotp::testkit::{inject_panic, Probe, INJECTED_PANIC};
use ferrotp::{
    Actor, ActorId, ActorRef, Context, Down, Events, ExitReason, Handlers, LifecycleEvent,
    SpawnError, SpawnOptions, Stop, Stopped,
};

/// An actor whose `started` and `stopped` hooks leave a mark, and whose
/// handler does what its message says.
struct Marked {
    started: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
    /// Who sent the last ping: a trapped `Stopped` is forwarded there.
    pinger: Option<ActorRef>,
}

/// What `Marked` does with a message.
enum Act {
    /// `ctx.stop(reason)`, then return `Err(text)`.
    StopThenErr(ExitReason, &'static str),
    /// `ctx.stop(reason)`, then panic with `text`.
    StopThenPanic(ExitReason, &'static str),
    /// `ctx.exit(ctx.myself(), reason)`.
    ExitSelf(ExitReason),
}

impl Marked {
    fn new() -> (Self, Arc<AtomicBool>, Arc<AtomicBool>) {
        let (started, stopped) = (Arc::default(), Arc::default());
        let marked = Marked {
            started: Arc::clone(&started),
            stopped: Arc::clone(&stopped),
            pinger: None,
        };
        (marked, started, stopped)
    }

    fn act(&mut self, act: Act, ctx: &mut Context<Self>) -> Result<(), String> {
        match act {
            Act::StopThenErr(reason, text) => {
                ctx.stop(reason);
                Err(text.to_string())
            }
            Act::StopThenPanic(reason, text) => {
                ctx.stop(reason);
                panic!("{text}");
            }
            Act::ExitSelf(reason) => {
                ctx.exit(ctx.myself(), reason);
                Ok(())
            }
        }
    }

    fn ping(&mut self, n: u32, ctx: &mut Context<Self>) {
        self.pinger = ctx.sender().cloned();
        ctx.reply(n);
    }

    fn on_stopped(&mut self, stopped: Stopped, ctx: &mut Context<Self>) {
        if let Some(to) = &self.pinger {
            ctx.send(to, stopped);
        }
    }
}

impl Actor for Marked {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::act)
            .on(Self::ping)
            .on(Self::on_stopped)
    }
    fn started(&mut self, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.started.store(true, Ordering::SeqCst);
        Ok(())
    }
    fn stopped(&mut self, _: &ExitReason, _: &mut Context<Self>) {
        self.stopped.store(true, Ordering::SeqCst);
    }
}

/// Fails `started` after asking to stop.
struct StopThenFailStart;

impl Actor for StopThenFailStart {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.stop(ExitReason::Normal);
        Err(ExitReason::error("no disk"))
    }
}

/// Forwards every `Stopped` it gets, as a message, to the actor in `to`.
struct Relay {
    to: ActorRef,
}

impl Relay {
    fn on_stopped(&mut self, stopped: Stopped, ctx: &mut Context<Self>) {
        ctx.send(&self.to, stopped);
    }
}

impl Actor for Relay {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::on_stopped)
    }
}

struct Idle;

impl Actor for Idle {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
}

/// The events waiting now (they are emitted synchronously by the calls
/// that cause them).
fn pending(events: &Events) -> Vec<LifecycleEvent> {
    std::iter::from_fn(|| events.try_recv()).collect()
}

/// The text of a caught panic.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

ferrotp::on_each_executor! {
    // False 1: `System::spawn` "spawns `actor` on a thread of its own" —
    // it runs on the system's default executor.
    #[test]
    fn spawn_runs_on_the_default_executor_and_the_pool_makes_no_thread() {
        let system = new_system();
        let inbox = system.inbox();
        let bridge = system.bridge();
        let actor = spawn_puppet(&system, &inbox, false);
        assert_eq!(ask(&bridge, &actor, |_| 1u8), 1);
        match EXECUTOR {
            ferrotp::Executor::Pool => assert_eq!(system.threads(), 0),
            ferrotp::Executor::Threads => assert_eq!(system.threads(), 1),
        }
        // A thread of its own is what `dedicated` asks for.
        let dedicated = system
            .spawn_with(Idle, SpawnOptions::new().dedicated())
            .unwrap();
        assert!(dedicated.is_alive());
        match EXECUTOR {
            ferrotp::Executor::Pool => assert_eq!(system.threads(), 1),
            ferrotp::Executor::Threads => assert_eq!(system.threads(), 2),
        }
        system.shutdown(WAIT).unwrap();
    }

    // False 2: `inject_panic` makes the actor panic at its next message,
    // whatever it is: a `Stop` too (which then gets no `Stopped` answer).
    #[test]
    fn an_injected_panic_comes_before_a_stop() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let probe = Probe::new(&system);
        let (marked, _, stopped) = Marked::new();
        let actor = system.spawn(marked);
        let monitor = probe.monitor(&actor);
        inject_panic(&actor);
        probe.send(&actor, Stop);
        // The `Down` is the first message: no `Stopped` answered the `Stop`.
        let down = probe.expect::<Down>(WAIT);
        assert_eq!(down.monitor, monitor);
        assert_eq!(down.reason, ExitReason::Panic(INJECTED_PANIC.to_string()));
        assert!(stopped.load(Ordering::SeqCst), "`stopped` runs as for a real panic");
        probe.expect_no_message(Duration::from_millis(20));
    }

    // False 3: `expect_stopped` returns only on the actor's end, not on an
    // exit signal (or a `Stopped` message) the live actor sent the probe.
    #[test]
    fn expect_stopped_skips_what_a_live_actor_sends() {
        let system = new_system();
        let probe = Probe::new(&system);
        let inbox = system.inbox();
        let actor = spawn_puppet(&system, &inbox, false);
        let to = probe.actor().clone();
        let me = actor.id();
        // A monitor the probe does not hold, for a forged `Down`.
        let forged = inbox.monitor(&actor);
        tell(&actor, move |ctx| {
            ctx.exit(&to, ExitReason::Shutdown);
            ctx.send(&to, Stopped { actor: me, reason: ExitReason::Killed });
            ctx.send(&to, Down { monitor: forged, actor: me, reason: ExitReason::Killed });
        });
        probe.send(&actor, Stop);
        // Read only once the actor is dead, when the forged messages are
        // about a dead actor too.
        let watcher = system.inbox();
        watcher.monitor(&actor);
        next::<Down>(&watcher);
        assert_eq!(probe.expect_stopped(&actor, WAIT), ExitReason::Normal);
        probe.expect_no_message(Duration::from_millis(20));
    }

    // False 3 again: the end comes through a link or a monitor as well.
    #[test]
    fn expect_stopped_takes_the_end_through_a_link_or_a_monitor() {
        let system = new_system();
        let linked = Probe::new(&system);
        let watching = Probe::new(&system);
        let inbox = system.inbox();
        let actor = spawn_puppet(&system, &inbox, false);
        linked.link(&actor);
        watching.monitor(&actor);
        let (to_linked, to_watching) = (linked.actor().clone(), watching.actor().clone());
        tell(&actor, move |ctx| {
            ctx.exit(&to_linked, ExitReason::Shutdown);
            ctx.exit(&to_watching, ExitReason::Shutdown);
            ctx.stop(ExitReason::error("done"));
        });
        assert_eq!(linked.expect_stopped(&actor, WAIT), ExitReason::error("done"));
        assert_eq!(watching.expect_stopped(&actor, WAIT), ExitReason::error("done"));
    }

    // False 4: a probe's failure says what arrived instead — for
    // `expect_stopped`, the messages it skipped.
    #[test]
    fn expect_stopped_names_what_it_skipped_when_it_times_out() {
        let system = new_system();
        let probe = Probe::new(&system);
        let inbox = system.inbox();
        let actor = spawn_puppet(&system, &inbox, false);
        let (to, me) = (probe.actor().clone(), actor.id());
        // Everything is in the probe's mailbox once the call returns.
        ask(&system.bridge(), &actor, move |ctx| {
            ctx.send(&to, 42u32);
            ctx.exit(&to, ExitReason::Shutdown);
            ctx.send(&to, me);
        });
        let failure = catch_unwind(AssertUnwindSafe(|| {
            probe.expect_stopped(&actor, Duration::from_millis(300))
        }))
        .expect_err("the actor is alive: expect_stopped must fail");
        let text = panic_text(failure);
        assert!(text.contains("did not stop"), "{text}");
        assert!(text.contains("u32"), "names the skipped message: {text}");
        assert!(text.contains("Shutdown") && text.contains("exit signal"), "{text}");
        assert!(text.contains("ActorId"), "{text}");
        assert!(actor.is_alive());
    }

    // False 5: inboxes — every `Bridge::call`'s, every probe's — are not
    // actors: they make no lifecycle event.
    #[test]
    fn inboxes_make_no_lifecycle_events() {
        let system = new_system();
        let events = system.subscribe();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let actor = spawn_puppet(&system, &inbox, false);
        assert_eq!(ask(&bridge, &actor, |_| 7u32), 7);
        drop(Probe::new(&system));
        drop(system.inbox());
        actor.send(Stop);
        let exited = events
            .wait_for(WAIT, |e| matches!(e, LifecycleEvent::Exited { .. }))
            .unwrap();
        assert_eq!(exited.actor(), Some(actor.id()), "{exited:?}");
        drop(inbox);
        drop(bridge);
        let rest = pending(&events);
        assert!(rest.is_empty(), "{rest:?}");
    }

    // False 5: neither is the dead actor `spawn` returns when it fails.
    #[test]
    fn a_failed_spawn_makes_no_lifecycle_event() {
        let system = new_system();
        let events = system.subscribe();
        system.shutdown(WAIT).unwrap();
        let dead = system.spawn(Idle);
        assert!(!dead.is_alive());
        let all = pending(&events);
        assert!(all.is_empty(), "{all:?}");
    }

    // False 5/6 under races: whatever kills an actor while it is being
    // spawned (here, through its name), its `Exited` comes exactly when its
    // `Spawned` did — never one without the other.
    #[test]
    fn spawned_and_exited_pair_up_under_kills_during_spawn() {
        let system = new_system();
        let events = system.subscribe();
        let stop = Arc::new(AtomicBool::new(false));
        let killer = {
            let (system, stop) = (system.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if let Some(actor) = system.whereis("contested") {
                        actor.kill();
                    }
                    std::hint::spin_loop();
                }
            })
        };
        let mut spawned = Vec::new();
        for _ in 0..500 {
            if let Ok(actor) = system.spawn_with(Idle, SpawnOptions::new().name("contested")) {
                spawned.push(actor);
            }
        }
        stop.store(true, Ordering::SeqCst);
        killer.join().unwrap();
        system.shutdown(WAIT).unwrap();
        // Per actor, its events in the order they came.
        let mut seen = std::collections::HashMap::<ActorId, Vec<&'static str>>::new();
        for event in pending(&events) {
            let kind = match event {
                LifecycleEvent::Spawned { .. } => "Spawned",
                LifecycleEvent::Exited { .. } => "Exited",
                LifecycleEvent::Registered { .. } => "Registered",
                LifecycleEvent::Unregistered { .. } => "Unregistered",
                _ => continue,
            };
            seen.entry(event.actor().unwrap()).or_default().push(kind);
        }
        for actor in &spawned {
            assert!(!actor.is_alive());
            assert!(seen.contains_key(&actor.id()), "{actor} returned but never announced");
        }
        for (actor, story) in seen {
            assert_eq!(
                story,
                ["Spawned", "Registered", "Unregistered", "Exited"],
                "{actor}"
            );
        }
    }

    // False 6: a spawn refused because its name is taken emits nothing.
    #[test]
    fn a_spawn_refused_for_its_name_emits_nothing() {
        let system = new_system();
        let events = system.subscribe();
        let first = system
            .spawn_with(Idle, SpawnOptions::new().name("taken"))
            .unwrap();
        let announced = pending(&events);
        assert!(
            matches!(
                announced.as_slice(),
                [LifecycleEvent::Spawned { .. }, LifecycleEvent::Registered { .. }]
            ),
            "{announced:?}"
        );
        let refused = system.spawn_with(Idle, SpawnOptions::new().name("taken"));
        assert!(matches!(refused, Err(SpawnError::Name(_))), "{refused:?}");
        let after = pending(&events);
        assert!(after.is_empty(), "{after:?}");
        assert_eq!(system.whereis("taken"), Some(first));
    }

    // `ActorRef::exit_reason`: `None` while alive, then the real reason,
    // even where a later monitor only says `NoProc`.
    #[test]
    fn exit_reason_tells_the_real_end() {
        let system = new_system();
        let inbox = system.inbox();
        let actor = spawn_puppet(&system, &inbox, false);
        assert_eq!(actor.exit_reason(), None);
        let first = inbox.monitor(&actor);
        actor.exit(ExitReason::error("disk full"));
        let (down, _) = next::<Down>(&inbox);
        assert_eq!((down.monitor, &down.reason), (first, &ExitReason::error("disk full")));
        let late = inbox.monitor(&actor);
        let (down, _) = next::<Down>(&inbox);
        assert_eq!((down.monitor, down.reason), (late, ExitReason::NoProc));
        assert_eq!(actor.exit_reason(), Some(ExitReason::error("disk full")));

        let killed = spawn_puppet(&system, &inbox, false);
        killed.kill();
        assert_eq!(killed.exit_reason(), Some(ExitReason::Killed));
    }

    // Vague 1: `ctx.stop(reason)` then `Err(e)`: the failure wins.
    #[test]
    fn a_failure_after_a_requested_stop_wins() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let probe = Probe::new(&system);
        let (marked, _, _) = Marked::new();
        let erring = system.spawn(marked);
        probe.monitor(&erring);
        erring.send(Act::StopThenErr(ExitReason::Normal, "broken"));
        assert_eq!(probe.expect_stopped(&erring, WAIT), ExitReason::error("broken"));

        let (marked, _, _) = Marked::new();
        let panicking = system.spawn(marked);
        probe.monitor(&panicking);
        panicking.send(Act::StopThenPanic(ExitReason::Shutdown, "boom"));
        match probe.expect_stopped(&panicking, WAIT) {
            ExitReason::Panic(text) => assert!(text.contains("boom"), "{text}"),
            other => panic!("expected the panic, got {other}"),
        }

        let failed = system.spawn_with(StopThenFailStart, SpawnOptions::new().await_started());
        match failed {
            Err(SpawnError::StartFailed(reason)) => assert_eq!(reason, ExitReason::error("no disk")),
            other => panic!("expected StartFailed, got {other:?}"),
        }
    }

    // Vague 2: `SpawnOptions::link` to a dead actor: a non-trapping actor
    // dies of `NoProc` before running any code.
    #[test]
    fn a_link_to_a_dead_actor_ends_a_non_trapping_spawn_before_it_runs() {
        let system = new_system();
        let events = system.subscribe();
        let gone = system.spawn(Idle);
        let probe = Probe::new(&system);
        probe.monitor(&gone);
        gone.send(Stop);
        probe.expect_stopped(&gone, WAIT);
        let _ = pending(&events);

        let (marked, started, stopped) = Marked::new();
        let child = system
            .spawn_with(marked, SpawnOptions::new().link(&gone).name("orphan"))
            .unwrap();
        assert!(!child.is_alive());
        assert_eq!(child.exit_reason(), Some(ExitReason::NoProc));
        assert!(!started.load(Ordering::SeqCst), "`started` must not run");
        assert!(!stopped.load(Ordering::SeqCst), "`stopped` must not run");
        assert_eq!(system.whereis("orphan"), None);
        let seen: Vec<String> = pending(&events).iter().map(|e| format!("{e:?}")).collect();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(seen[0].starts_with("Spawned"), "{seen:?}");
        assert!(seen[1].starts_with("Registered"), "{seen:?}");
        assert!(seen[3].starts_with("Exited") && seen[3].contains("NoProc"), "{seen:?}");

        let (marked, started, _) = Marked::new();
        let waited = system.spawn_with(marked, SpawnOptions::new().link(&gone).await_started());
        assert!(
            matches!(waited, Err(SpawnError::StartFailed(ExitReason::NoProc))),
            "{waited:?}"
        );
        assert!(!started.load(Ordering::SeqCst));
    }

    // Vague 2: a trapping actor runs `started`, then gets `Stopped` with
    // `NoProc` as its first message.
    #[test]
    fn a_link_to_a_dead_actor_is_a_first_message_for_a_trapping_spawn() {
        let system = new_system();
        let probe = Probe::new(&system);
        let gone = system.spawn(Idle);
        probe.monitor(&gone);
        gone.send(Stop);
        probe.expect_stopped(&gone, WAIT);

        let relay = system
            .spawn_with(
                Relay { to: probe.actor().clone() },
                SpawnOptions::new().link(&gone).trap_exit(true),
            )
            .unwrap();
        let stopped = probe.expect::<Stopped>(WAIT);
        assert_eq!(stopped, Stopped { actor: gone.id(), reason: ExitReason::NoProc });
        assert!(relay.is_alive());
    }

    // Vague 3: `ctx.exit(ctx.myself(), Normal)` ends the actor with
    // `Normal`, as Erlang's `exit(self(), normal)`; `stopped` runs.
    #[test]
    fn an_actor_that_exits_itself_normally_terminates() {
        let system = new_system();
        let probe = Probe::new(&system);
        let (marked, _, stopped) = Marked::new();
        let actor = system.spawn(marked);
        probe.monitor(&actor);
        probe.send(&actor, Act::ExitSelf(ExitReason::Normal));
        probe.send(&actor, 1u32);
        assert_eq!(probe.expect_stopped(&actor, WAIT), ExitReason::Normal);
        assert!(stopped.load(Ordering::SeqCst));
        // The queued ping was never handled: the signal came first.
        probe.expect_no_message(Duration::from_millis(20));
    }

    // Vague 3: from anyone else, `Normal` is ignored; a trapping actor
    // gets its own `Normal` as `Stopped`.
    #[test]
    fn a_normal_exit_signal_from_another_is_ignored_and_a_trapper_gets_its_own() {
        let system = new_system();
        let probe = Probe::new(&system);
        let inbox = system.inbox();
        let (marked, _, _) = Marked::new();
        let target = system.spawn(marked);
        let sender = spawn_puppet(&system, &inbox, false);
        let t = target.clone();
        tell(&sender, move |ctx| ctx.exit(&t, ExitReason::Normal));
        target.exit(ExitReason::Normal);
        // Signals act before queued messages: an answer means it survived.
        // (The puppet's signal was sent once `ask` returns.)
        let bridge = system.bridge();
        assert_eq!(ask(&bridge, &sender, |_| 0u8), 0);
        probe.send(&target, 5u32);
        assert_eq!(probe.expect::<u32>(WAIT), 5);

        let (marked, _, _) = Marked::new();
        let trapper = system
            .spawn_with(marked, SpawnOptions::new().trap_exit(true))
            .unwrap();
        probe.send(&trapper, 6u32);
        assert_eq!(probe.expect::<u32>(WAIT), 6);
        probe.send(&trapper, Act::ExitSelf(ExitReason::Normal));
        let stopped = probe.expect::<Stopped>(WAIT);
        assert_eq!(stopped, Stopped { actor: trapper.id(), reason: ExitReason::Normal });
        assert!(trapper.is_alive());
    }
}
