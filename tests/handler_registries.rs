//! Handler registries: unhandled types and the fallback, merged
//! registries, and a type's registry built once.

#[allow(dead_code)]
#[path = "common/messaging_actors.rs"]
mod actors;
#[path = "common/receive.rs"]
#[allow(dead_code)]
mod receive;

use actors::*;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use ferrotp::{Actor, ActorRef, Context, Down, ExitReason, Handlers, Stop, System};
use receive::{assert_empty, next};

const WAIT: Duration = Duration::from_secs(10);

ferrotp::on_each_executor! {
    // ---------------------------------------------------------------------------
    // Unhandled message types

    #[test]
    fn unhandled_types_go_to_the_fallback() {
        let system = new_system();
        let probe = system.inbox();
        let actor = system.spawn(Fallback {
            probe: probe.actor().clone(),
        });
        actor.send("hello".to_string());
        actor.send(7i64);
        actor.send(5u32);

        assert_eq!(
            next::<OtherSeen>(&probe),
            OtherSeen {
                type_name: std::any::type_name::<String>(),
                text: Some("hello".to_string()),
            }
        );
        assert_eq!(
            next::<OtherSeen>(&probe),
            OtherSeen {
                type_name: std::any::type_name::<i64>(),
                text: None,
            }
        );
        assert_eq!(next::<GotU32>(&probe), GotU32(5));
        assert_eq!(system.dead_letters(), 0, "the fallback took them");
        assert!(actor.is_alive());
    }

    /// Handles only `Ping`: anything else is a dead letter.
    #[test]
    fn unhandled_types_without_fallback_are_dead_letters_and_do_not_stop_the_actor() {
        let system = new_system();
        let probe = system.inbox();
        let ponger = system.spawn(Ponger);
        let monitor = probe.monitor(&ponger);
        ponger.send("not for you".to_string());
        ponger.send(3u64);
        ponger.send(Pong(0));

        // The call is queued after the three unhandled messages, so once it is
        // answered they have all been dealt with.
        let pong: Pong = system.bridge().call(&ponger, Ping(1), WAIT).unwrap();
        assert_eq!(pong, Pong(2));
        assert_eq!(system.dead_letters(), 3);
        assert!(ponger.is_alive());
        assert_empty(&probe);

        // It still terminates normally when asked, not before.
        ponger.send(Stop);
        let down: Down = next(&probe);
        assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Normal));
    }

    // ---------------------------------------------------------------------------
    // Handlers::merge

    #[test]
    fn merged_registries_compose_and_the_later_one_wins() {
        let table = <Merged as Actor>::handlers();
        assert!(table.handles::<u32>());
        assert!(table.handles::<String>());
        assert!(!table.handles::<i64>());

        let system = new_system();
        let probe = system.inbox();
        let merged = system.spawn(Merged {
            probe: probe.actor().clone(),
        });
        merged.send(1u32);
        merged.send("kept".to_string());
        merged.send(2i64);
        assert_eq!(next::<Ran>(&probe), Ran::SecondNumber(1));
        assert_eq!(next::<Ran>(&probe), Ran::FirstText("kept".to_string()));
        assert_eq!(
            next::<Ran>(&probe),
            Ran::SecondOther(std::any::type_name::<i64>())
        );

        let keeps = system.spawn(MergedKeepsFallback {
            inner: Merged {
                probe: probe.actor().clone(),
            },
        });
        keeps.send(3u32);
        keeps.send(4i64);
        assert_eq!(next::<Ran>(&probe), Ran::SecondNumber(3));
        assert_eq!(
            next::<Ran>(&probe),
            Ran::FirstOther(std::any::type_name::<i64>())
        );
        assert_eq!(system.dead_letters(), 0);
    }
}

// ---------------------------------------------------------------------------
// Handler registries are built once per type
//
// A type's table is built once per process, whatever executor runs its
// actors; so these two run once, on the default executor (a second run
// in another module would find `Raced`'s table already built).

static SOLO_TABLES: AtomicUsize = AtomicUsize::new(0);

/// Counts how often its handler registry is built.
struct Solo;

impl Solo {
    fn ping(&mut self, Ping(n): Ping, ctx: &mut Context<Self>) {
        ctx.reply(Pong(n + 1));
    }
}

impl Actor for Solo {
    fn handlers() -> Handlers<Self> {
        SOLO_TABLES.fetch_add(1, Ordering::SeqCst);
        Handlers::new().on(Self::ping)
    }
}

#[test]
fn the_handler_registry_is_built_once_per_type_not_per_spawn() {
    let system = System::new();
    let bridge = system.bridge();
    let actors: Vec<ActorRef> = (0..40).map(|_| system.spawn(Solo)).collect();
    for (n, actor) in actors.iter().enumerate() {
        let pong: Pong = bridge.call(actor, Ping(n as u32), WAIT).unwrap();
        assert_eq!(pong, Pong(n as u32 + 1));
    }
    assert_eq!(SOLO_TABLES.load(Ordering::SeqCst), 1);
}

static RACED_TABLES: AtomicUsize = AtomicUsize::new(0);

/// Its registry takes a while to build, so that concurrent first spawns
/// overlap while it is being built.
struct Raced;

impl Actor for Raced {
    fn handlers() -> Handlers<Self> {
        RACED_TABLES.fetch_add(1, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(100));
        Handlers::new().on(|_: &mut Self, Ping(n), ctx: &mut Context<Self>| ctx.reply(Pong(n + 1)))
    }
}

#[test]
fn the_handler_registry_is_built_once_even_by_concurrent_first_spawns() {
    const THREADS: usize = 6;
    let system = System::new();
    let start = Arc::new(Barrier::new(THREADS));
    let spawners: Vec<_> = (0..THREADS)
        .map(|_| {
            let system = system.clone();
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                system.spawn(Raced)
            })
        })
        .collect();
    let bridge = system.bridge();
    for spawner in spawners {
        let actor = spawner.join().unwrap();
        let pong: Pong = bridge.call(&actor, Ping(1), WAIT).unwrap();
        assert_eq!(pong, Pong(2));
    }
    assert_eq!(RACED_TABLES.load(Ordering::SeqCst), 1);
}
