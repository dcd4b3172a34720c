//! Panics inside actors become exit reasons: they never crash the program
//! or another actor, `stopped` runs, and whoever watches learns the reason.

#[path = "common/receive.rs"]
#[allow(dead_code)]
mod receive;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use ferrotp::{
    silence_actor_panics, Actor, ActorRef, CallError, Context, Down, ExitReason, Handlers, Inbox,
    SpawnOptions, Stop, Stopped, System,
};
use receive::{assert_empty, next};

const WAIT: Duration = Duration::from_secs(10);

/// What an actor's `stopped` hook reports.
#[derive(Debug, PartialEq)]
struct HookRan(ExitReason);
/// What a handler reports when it runs.
#[derive(Debug, PartialEq)]
struct Handled(u32);

/// Panics on demand, in a handler, with a `String` or a `&str` payload, or
/// with a payload that is not text.
struct Fragile {
    probe: ActorRef,
}
struct PanicFormatted(u32);
struct PanicStatic;
struct PanicOpaque;
struct Record(u32);

impl Fragile {
    fn formatted(&mut self, PanicFormatted(n): PanicFormatted, _: &mut Context<Self>) {
        panic!("boom {n}");
    }
    fn fixed(&mut self, _: PanicStatic, _: &mut Context<Self>) {
        panic!("static boom");
    }
    fn opaque(&mut self, _: PanicOpaque, _: &mut Context<Self>) {
        std::panic::panic_any(17u8);
    }
    fn record(&mut self, Record(n): Record, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, Handled(n));
        ctx.reply(Handled(n));
    }
}

impl Actor for Fragile {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::formatted)
            .on(Self::fixed)
            .on(Self::opaque)
            .on(Self::record)
    }
    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, HookRan(reason.clone()));
    }
}

fn fragile(system: &System, probe: &Inbox) -> ActorRef {
    system.spawn(Fragile {
        probe: probe.actor().clone(),
    })
}

/// Panics when told to stop.
struct PanicsOnStop;

impl PanicsOnStop {
    fn stop(&mut self, _: Stop, _: &mut Context<Self>) {
        panic!("refusing to stop");
    }
}

impl Actor for PanicsOnStop {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::stop)
    }
}

/// Keeps a count; used to show that one actor's panic leaves others alone.
struct Tally {
    total: u64,
}
struct AddOne;
struct Total;

impl Tally {
    fn add(&mut self, _: AddOne, _: &mut Context<Self>) {
        self.total += 1;
    }
    fn total(&mut self, _: Total, ctx: &mut Context<Self>) {
        ctx.reply(self.total);
    }
}

impl Actor for Tally {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::add).on(Self::total)
    }
}

// ---------------------------------------------------------------------------
// `started` failing

/// How its `started` hook fails, after a pause that lets a message sent
/// right after the spawn reach the mailbox first.
enum StartFailure {
    Panic,
    Error,
    CtxStop,
}

struct FailsToStart {
    how: StartFailure,
    probe: ActorRef,
    handled: Arc<AtomicUsize>,
}

impl FailsToStart {
    fn record(&mut self, Record(n): Record, ctx: &mut Context<Self>) {
        self.handled.fetch_add(1, Ordering::SeqCst);
        ctx.send(&self.probe, Handled(n));
    }
}

impl Actor for FailsToStart {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::record)
    }
    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        thread::sleep(Duration::from_millis(50));
        match self.how {
            StartFailure::Panic => panic!("cannot start"),
            StartFailure::Error => Err(ExitReason::Error("no config".to_string())),
            StartFailure::CtxStop => {
                ctx.stop(ExitReason::Shutdown);
                Ok(())
            }
        }
    }
    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, HookRan(reason.clone()));
    }
}

// ---------------------------------------------------------------------------
// Panics in `stopped` and in `Drop`

/// Panics in its `stopped` hook, after saying it ran; says when dropped.
struct PanicsInStopped {
    probe: ActorRef,
}
#[derive(Debug, PartialEq)]
struct Dropped;

impl Actor for PanicsInStopped {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, HookRan(reason.clone()));
        panic!("stopped hook exploded");
    }
}

impl Drop for PanicsInStopped {
    fn drop(&mut self) {
        self.probe.send(Dropped);
    }
}

/// Panics when dropped, after saying so on a channel (not a message: a
/// killed actor's sends are discarded, and it is dropped after its kill).
struct PanicsInDrop {
    dropped: mpsc::Sender<()>,
}

impl PanicsInDrop {
    fn boom(&mut self, _: PanicStatic, _: &mut Context<Self>) {
        panic!("static boom");
    }
    fn record(&mut self, Record(n): Record, ctx: &mut Context<Self>) {
        ctx.reply(Handled(n));
    }
}

impl Actor for PanicsInDrop {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::boom).on(Self::record)
    }
}

impl Drop for PanicsInDrop {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
        panic!("drop exploded");
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn a_panic_in_a_handler_terminates_the_actor_with_its_text() {
        silence_actor_panics();
        let system = new_system();
        let probe = system.inbox();
        for (trigger, text) in [(0, "boom 7"), (1, "static boom")] {
            let actor = fragile(&system, &probe);
            let monitor = probe.monitor(&actor);
            actor.send(Record(1));
            match trigger {
                0 => actor.send(PanicFormatted(7)),
                _ => actor.send(PanicStatic),
            }
            actor.send(Record(2));
            let reason = ExitReason::Panic(text.to_string());

            assert_eq!(next::<Handled>(&probe), Handled(1));
            // `stopped` runs with the panic, and returns before the monitor fires.
            assert_eq!(next::<HookRan>(&probe), HookRan(reason.clone()));
            let down: Down = next(&probe);
            assert_eq!(
                down,
                Down {
                    monitor,
                    actor: actor.id(),
                    reason
                }
            );
            // The message queued after the panic is never handled.
            assert_empty(&probe);
            assert!(!actor.is_alive());
        }
    }

    #[test]
    fn a_panic_with_a_non_text_payload_is_still_a_panic_reason() {
        silence_actor_panics();
        let system = new_system();
        let probe = system.inbox();
        let actor = fragile(&system, &probe);
        probe.monitor(&actor);
        actor.send(PanicOpaque);
        let HookRan(reason) = next(&probe);
        assert!(matches!(reason, ExitReason::Panic(_)), "got {reason:?}");
        let down: Down = next(&probe);
        assert_eq!(down.reason, reason);
    }

    #[test]
    fn a_bridge_call_learns_the_panic_reason() {
        silence_actor_panics();
        let system = new_system();
        let probe = system.inbox();
        let actor = fragile(&system, &probe);
        let started = Instant::now();
        let result: Result<Handled, CallError> =
            system
                .bridge()
                .call(&actor, PanicFormatted(3), Duration::from_secs(60));
        assert_eq!(
            result,
            Err(CallError::Stopped(ExitReason::Panic("boom 3".to_string())))
        );
        assert!(
            started.elapsed() < WAIT,
            "the call waited {:?} instead of failing at once",
            started.elapsed()
        );
    }

    #[test]
    fn a_bridge_stop_learns_the_panic_reason() {
        silence_actor_panics();
        let system = new_system();
        let actor = system.spawn(PanicsOnStop);
        let stopped = system.bridge().stop(std::slice::from_ref(&actor), WAIT);
        assert_eq!(
            stopped,
            vec![Some(Stopped {
                actor: actor.id(),
                reason: ExitReason::Panic("refusing to stop".to_string())
            })]
        );
    }

    #[test]
    fn a_panic_leaves_other_actors_and_the_program_running() {
        silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let probe = system.inbox();
        let tally = system.spawn(Tally { total: 0 });
        let watch_tally = probe.monitor(&tally);
        for _ in 0..10 {
            tally.send(AddOne);
        }
        // Many panicking actors, at once, while the tally is being used.
        let fragiles: Vec<ActorRef> = (0..20).map(|_| fragile(&system, &probe)).collect();
        for actor in &fragiles {
            probe.monitor(actor);
            actor.send(PanicStatic);
            tally.send(AddOne);
        }
        let mut downs = 0;
        while downs < fragiles.len() {
            let envelope = probe.recv(WAIT).expect("every panicking actor ends");
            if let Ok(down) = envelope.downcast::<Down>() {
                assert_ne!(down.monitor, watch_tally, "the tally must not end");
                assert_eq!(down.reason, ExitReason::Panic("static boom".to_string()));
                downs += 1;
            }
        }
        let total: u64 = bridge.call(&tally, Total, WAIT).unwrap();
        assert_eq!(total, 30, "the tally kept its state");
        assert!(tally.is_alive());

        // New actors still work, and the system shuts down cleanly.
        let fresh = fragile(&system, &probe);
        let handled: Handled = bridge.call(&fresh, Record(5), WAIT).unwrap();
        assert_eq!(handled, Handled(5));
        system.shutdown(WAIT).unwrap();
    }

    // ---------------------------------------------------------------------------
    // `started` failing

    #[test]
    fn a_failing_started_terminates_the_actor_before_any_message() {
        silence_actor_panics();
        let system = new_system();
        let probe = system.inbox();
        for (how, reason) in [
            (
                StartFailure::Panic,
                ExitReason::Panic("cannot start".into()),
            ),
            (StartFailure::Error, ExitReason::Error("no config".into())),
            (StartFailure::CtxStop, ExitReason::Shutdown),
        ] {
            let handled = Arc::new(AtomicUsize::new(0));
            // Linked before it runs, so its end is learned even if it is quick.
            let actor = system
                .spawn_with(
                    FailsToStart {
                        how,
                        probe: probe.actor().clone(),
                        handled: handled.clone(),
                    },
                    SpawnOptions::new().link(probe.actor()),
                )
                .unwrap();
            actor.send(Record(1));

            assert_eq!(next::<HookRan>(&probe), HookRan(reason.clone()));
            let stopped: Stopped = next(&probe);
            assert_eq!(
                stopped,
                Stopped {
                    actor: actor.id(),
                    reason
                }
            );
            assert_empty(&probe);
            assert_eq!(handled.load(Ordering::SeqCst), 0, "a message was handled");
        }
    }

    // ---------------------------------------------------------------------------
    // Panics in `stopped` and in `Drop`

    #[test]
    fn a_panic_in_stopped_is_caught_and_the_actor_still_terminates() {
        silence_actor_panics();
        let system = new_system();
        let probe = system.inbox();
        let actor = system.spawn(PanicsInStopped {
            probe: probe.actor().clone(),
        });
        let monitor = probe.monitor(&actor);
        // The stop reason is what the actor terminated with; the hook's panic
        // is logged, not turned into another reason.
        probe.send(&actor, Stop);
        assert_eq!(next::<HookRan>(&probe), HookRan(ExitReason::Normal));
        next::<Dropped>(&probe);
        assert_eq!(
            next::<Stopped>(&probe),
            Stopped {
                actor: actor.id(),
                reason: ExitReason::Normal
            }
        );
        let down: Down = next(&probe);
        assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Normal));

        // At shutdown too: `shutdown` still succeeds.
        let other = system.spawn(PanicsInStopped {
            probe: probe.actor().clone(),
        });
        system.shutdown(WAIT).unwrap();
        assert!(!other.is_alive());
        assert_eq!(next::<HookRan>(&probe), HookRan(ExitReason::Shutdown));
        next::<Dropped>(&probe);
    }

    #[test]
    fn a_panic_in_drop_is_caught_and_the_system_keeps_working() {
        silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let probe = system.inbox();
        let (dropped_tx, dropped) = mpsc::channel();
        let spawn = || {
            let actor = system.spawn(PanicsInDrop {
                dropped: dropped_tx.clone(),
            });
            let monitor = probe.monitor(&actor);
            (actor, monitor)
        };
        let wait_dropped = || dropped.recv_timeout(WAIT).expect("the actor was dropped");

        // Dropped after a normal stop: the reason stays `Normal`.
        let (actor, monitor) = spawn();
        probe.send(&actor, Stop);
        assert_eq!(next::<Stopped>(&probe).reason, ExitReason::Normal);
        assert_eq!(next::<Down>(&probe).monitor, monitor);
        wait_dropped();

        // Dropped after a handler panic: the reason is the handler's panic.
        let (actor, monitor) = spawn();
        actor.send(PanicStatic);
        let down: Down = next(&probe);
        assert_eq!(
            (down.monitor, down.reason),
            (monitor, ExitReason::Panic("static boom".to_string()))
        );
        wait_dropped();

        // Dropped after a kill (no hooks run, but the state is still dropped).
        let (actor, monitor) = spawn();
        let handled: Handled = bridge.call(&actor, Record(1), WAIT).unwrap();
        assert_eq!(handled, Handled(1));
        actor.kill();
        let down: Down = next(&probe);
        assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Killed));
        wait_dropped();

        // The system goes on: spawn, call, shut down.
        let (actor, monitor) = spawn();
        let handled: Handled = bridge.call(&actor, Record(2), WAIT).unwrap();
        assert_eq!(handled, Handled(2));
        system.shutdown(WAIT).unwrap();
        wait_dropped();
        let down: Down = next(&probe);
        assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Shutdown));
    }
}
