//! `FnAddress`: an address whose mail runs a function on the sender's
//! thread. Replies reach it, it runs before `send` returns, a one-shot
//! address ends after its one message, monitors and links reach it as
//! `Down` and `Stopped`, a panic in the function ends the address and not
//! the sender, and after `demonitor` returns no `Down` of that monitor runs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver};
use ferrotp::{
    Actor, ActorRef, Context, Down, Envelope, ExitReason, FnAddress, Handlers, SpawnOptions,
    Stopped, System, TieNotice,
};

const WAIT: Duration = Duration::from_secs(10);

/// Answers a `u64` with its double; panics on `"panic"`; stops on `"stop"`.
struct Doubler;

impl Doubler {
    fn double(&mut self, n: u64, ctx: &mut Context<Self>) {
        ctx.reply(n * 2);
    }
    fn order(&mut self, order: &'static str, ctx: &mut Context<Self>) {
        match order {
            "panic" => panic!("asked to"),
            "stop" => ctx.stop(ExitReason::Shutdown),
            _ => {}
        }
    }
}

impl Actor for Doubler {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::double).on(Self::order)
    }
}

/// An address that hands every envelope to a channel.
fn channel_address(system: &System) -> (FnAddress, Receiver<Envelope>) {
    let (tx, rx) = unbounded();
    let address = FnAddress::new(system, move |envelope| {
        let _ = tx.send(envelope);
    });
    (address, rx)
}

fn next<T: 'static>(rx: &Receiver<Envelope>) -> T {
    let envelope = rx.recv_timeout(WAIT).expect("the function ran");
    let name = envelope.type_name();
    envelope
        .downcast::<T>()
        .unwrap_or_else(|_| panic!("expected a {}, got {name}", std::any::type_name::<T>()))
}

/// Waits for `actor`'s end, seen through a monitor of an inbox.
fn wait_end(system: &System, actor: &ActorRef) -> ExitReason {
    let inbox = system.inbox();
    inbox.monitor(actor);
    let down: Down = inbox.recv(WAIT).unwrap().downcast().unwrap();
    down.reason
}

ferrotp::on_each_executor! {
    #[test]
    fn an_actors_reply_runs_the_function_with_the_actor_as_sender() {
        let system = new_system();
        let doubler = system.spawn(Doubler);
        let (address, rx) = channel_address(&system);
        doubler.send_from(21u64, address.actor());
        let envelope = rx.recv_timeout(WAIT).expect("a reply");
        assert_eq!(envelope.sender(), Some(&doubler));
        assert_eq!(envelope.downcast::<u64>().ok(), Some(42));
        // Many replies, each one a run of the function.
        for n in 0..100u64 {
            doubler.send_from(n, address.actor());
        }
        let mut got: Vec<u64> = (0..100).map(|_| next::<u64>(&rx)).collect();
        got.sort();
        assert_eq!(got, (0..100).map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_function_runs_before_send_returns_on_the_senders_thread() {
        let system = new_system();
        let runs = Arc::new(Mutex::new(Vec::new()));
        let seen = runs.clone();
        let address = FnAddress::new(&system, move |envelope| {
            let n = envelope.downcast::<u32>().unwrap();
            seen.lock().unwrap().push((n, std::thread::current().id()));
        });
        address.actor().send(7u32);
        assert_eq!(*runs.lock().unwrap(), vec![(7, std::thread::current().id())]);
        assert_eq!(address.actor().try_send(8u32).ok(), Some(()));
        assert_eq!(runs.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_one_shot_address_takes_one_message_then_ends_normally() {
        let system = new_system();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let address = FnAddress::once(&system, move |envelope| {
            assert_eq!(envelope.downcast::<u64>().ok(), Some(42));
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .detach();
        let watcher = system.inbox();
        let monitor = watcher.monitor(&address);
        let doubler = system.spawn(Doubler);
        let dead_before = system.dead_letters();
        doubler.send_from(21u64, &address);
        let down: Down = watcher.recv(WAIT).unwrap().downcast().unwrap();
        assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Normal));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        address.send(5u64);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(system.dead_letters(), dead_before + 1);
    }

    #[test]
    fn a_monitored_actors_end_runs_the_function_with_down() {
        let system = new_system();
        let doubler = system.spawn(Doubler);
        let (address, rx) = channel_address(&system);
        let monitor = address.monitor(&doubler);
        doubler.send("stop");
        let down: Down = next(&rx);
        assert_eq!(down.monitor, monitor);
        assert_eq!(down.actor, doubler.id());
        assert_eq!(down.reason, ExitReason::Shutdown);
        // Monitoring what is dead: `NoProc` at once.
        let again = address.monitor(&doubler);
        let down: Down = next(&rx);
        assert_eq!((down.monitor, down.reason), (again, ExitReason::NoProc));
    }

    #[test]
    fn no_down_runs_after_demonitor_returns() {
        let system = new_system();
        let doubler = system.spawn(Doubler);
        let (address, rx) = channel_address(&system);
        let monitor = address.monitor(&doubler);
        assert!(address.demonitor(monitor));
        doubler.send("stop");
        assert_eq!(wait_end(&system, &doubler), ExitReason::Shutdown);
        assert!(rx.try_recv().is_err(), "a Down after demonitor");
    }

    #[test]
    fn a_linked_actors_end_arrives_as_stopped() {
        let system = new_system();
        let (address, rx) = channel_address(&system);
        let doubler = system
            .spawn_with(Doubler, SpawnOptions::new().link(address.actor()))
            .unwrap();
        doubler.send("panic");
        let stopped: Stopped = next(&rx);
        assert_eq!(stopped.actor, doubler.id());
        assert!(matches!(stopped.reason, ExitReason::Panic(ref text) if text.contains("asked to")));
        assert!(address.actor().is_alive(), "it traps exits");
    }

    #[test]
    fn a_panic_in_the_function_ends_the_address_not_the_sender() {
        let system = new_system();
        let address = FnAddress::new(&system, |_| panic!("bad reply"));
        let doubler = system.spawn(Doubler);
        doubler.send_from(1u64, address.actor());
        let reason = wait_end(&system, address.actor());
        assert!(matches!(reason, ExitReason::Panic(ref text) if text.contains("bad reply")));
        // The sender handled the reply's send as any other: it goes on.
        let (second, rx) = channel_address(&system);
        doubler.send_from(2u64, second.actor());
        assert_eq!(next::<u64>(&rx), 4);
        assert!(doubler.is_alive());
    }

    #[test]
    fn dropping_the_handle_ends_the_address_and_kill_ends_it_too() {
        let system = new_system();
        let (address, rx) = channel_address(&system);
        let actor = address.actor().clone();
        drop(address);
        assert_eq!(actor.exit_reason(), Some(ExitReason::Normal));
        let dead_before = system.dead_letters();
        actor.send(1u64);
        assert!(rx.try_recv().is_err());
        assert_eq!(system.dead_letters(), dead_before + 1);

        let (address, _rx) = channel_address(&system);
        address.actor().kill();
        assert_eq!(address.actor().exit_reason(), Some(ExitReason::Killed));
        // A detached address lives as long as someone holds it.
        let (tx, rx) = unbounded();
        let detached = FnAddress::new(&system, move |e| {
            let _ = tx.send(e);
        })
        .detach();
        detached.send(3u64);
        assert_eq!(next::<u64>(&rx), 3);
        assert!(detached.is_alive());
    }

    #[test]
    fn demonitor_racing_the_targets_end_never_lets_a_down_through() {
        // Either demonitor wins (no Down ever runs) or the Down does
        // (demonitor says the monitor was gone): never both.
        let system = new_system();
        for _ in 0..2_000 {
            let doubler = system.spawn(Doubler);
            let (address, rx) = channel_address(&system);
            let monitor = address.monitor(&doubler);
            let stopper = {
                let doubler = doubler.clone();
                std::thread::spawn(move || doubler.send("stop"))
            };
            let removed = address.demonitor(monitor);
            let after = rx.try_iter().count();
            stopper.join().unwrap();
            wait_end(&system, &doubler);
            let later = rx.try_iter().count();
            assert_eq!(later, 0, "a Down ran after demonitor returned");
            assert_eq!(after, usize::from(!removed), "removed={removed}");
        }
    }

    #[test]
    fn links_the_address_makes_carry_both_ways_and_end_gives_its_reason() {
        let system = new_system();
        let (address, rx) = channel_address(&system);
        // The actor's end reaches the address.
        let doubler = system.spawn(Doubler);
        address.link(&doubler);
        doubler.send("panic");
        let stopped: Stopped = next(&rx);
        assert_eq!(stopped.actor, doubler.id());
        // The address's end reaches the actor, with the reason given.
        let other = system.spawn(Doubler);
        address.link(&other);
        let watcher = system.inbox();
        let monitor = watcher.monitor(address.actor());
        // Monitor `other` before the end: a monitor set after it has died
        // reports NoProc, as in Erlang.
        let other_watcher = system.inbox();
        other_watcher.monitor(&other);
        assert!(address.end(ExitReason::Shutdown));
        assert!(!address.end(ExitReason::Normal), "it ended once");
        let other_down: Down = other_watcher.recv(WAIT).unwrap().downcast().unwrap();
        assert_eq!(other_down.reason, ExitReason::Shutdown);
        let down: Down = watcher.recv(WAIT).unwrap().downcast().unwrap();
        assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Shutdown));
        assert_eq!(address.actor().exit_reason(), Some(ExitReason::Shutdown));
        let dead_before = system.dead_letters();
        address.actor().send(1u64);
        assert_eq!(system.dead_letters(), dead_before + 1);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn unlink_removes_the_link_both_ways() {
        let system = new_system();
        let (address, rx) = channel_address(&system);
        let doubler = system.spawn(Doubler);
        address.link(&doubler);
        address.unlink(&doubler);
        doubler.send("panic");
        wait_end(&system, &doubler);
        assert!(rx.try_recv().is_err(), "no Stopped after unlink");
        let other = system.spawn(Doubler);
        address.link(&other);
        address.unlink(&other);
        address.end(ExitReason::Shutdown);
        // A message sent after the end was the address's would be answered:
        // the actor lives on.
        let (probe, replies) = channel_address(&system);
        other.send_from(2u64, probe.actor());
        assert_eq!(next::<u64>(&replies), 4);
        assert!(other.is_alive());
    }

    #[test]
    fn exit_names_the_address_as_origin() {
        let system = new_system();
        let (address, _rx) = channel_address(&system);
        let (target, got) = channel_address(&system);
        address.exit(target.actor(), ExitReason::Shutdown);
        let stopped: Stopped = next(&got);
        assert_eq!(stopped.actor, address.actor().id());
        assert_eq!(stopped.reason, ExitReason::Shutdown);
        // A non-trapping actor ends with the reason.
        let doubler = system.spawn(Doubler);
        address.exit(&doubler, ExitReason::Shutdown);
        assert_eq!(wait_end(&system, &doubler), ExitReason::Shutdown);
    }

    #[test]
    fn tie_notices_run_the_function_for_ties_others_make() {
        let system = new_system();
        let (tx, rx) = unbounded();
        let address = FnAddress::new(&system, move |envelope| {
            let _ = tx.send(envelope);
        })
        .tie_notices();
        let inbox = system.inbox();
        inbox.link(address.actor());
        assert!(matches!(next::<TieNotice>(&rx), TieNotice::Linked(a) if a.id() == inbox.actor().id()));
        let monitor = inbox.monitor(address.actor());
        assert!(matches!(
            next::<TieNotice>(&rx),
            TieNotice::Monitored { by, monitor: m } if by.id() == inbox.actor().id() && m == monitor
        ));
        inbox.demonitor(monitor);
        assert!(matches!(next::<TieNotice>(&rx), TieNotice::Demonitored { monitor: m, .. } if m == monitor));
        inbox.unlink(address.actor());
        assert!(matches!(next::<TieNotice>(&rx), TieNotice::Unlinked(_)));
        // Ties the address makes itself are not announced to it.
        let doubler = system.spawn(Doubler);
        address.link(&doubler);
        address.monitor(&doubler);
        assert!(rx.try_recv().is_err());
        // Without asking, no notices.
        let (plain, plain_rx) = channel_address(&system);
        inbox.link(plain.actor());
        assert!(plain_rx.try_recv().is_err());
    }
}
