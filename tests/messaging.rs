//! Messaging semantics of the kernel: dispatch by type, per-sender order,
//! one message at a time, who the sender is, and replies. Handler
//! registries are in `handler_registries.rs`, handler errors and stopping
//! in `stopping.rs`; the actors they script in `common/messaging_actors.rs`.

#[allow(dead_code)]
#[path = "common/messaging_actors.rs"]
mod actors;
#[path = "common/receive.rs"]
#[allow(dead_code)]
mod receive;

use actors::*;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use receive::{assert_empty, next};

const WAIT: Duration = Duration::from_secs(10);

ferrotp::on_each_executor! {
    // ---------------------------------------------------------------------------
    // Dispatch by type

    /// Runs of one type and changes of type, handlers and the fallback, in
    /// one backlog the actor takes at once: each message reaches its own
    /// type's handler (a turn remembers the last type's handler).
    #[test]
    fn each_message_reaches_its_types_handler_in_runs_and_mixes() {
        let system = new_system();
        let bridge = system.bridge();
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let sorter = system.spawn(Sorter {
            seen: Vec::new(),
            gate,
        });
        sorter.send(Apple(1));
        sorter.send(Apple(2));
        sorter.send(Pear(3));
        sorter.send(Apple(4));
        sorter.send(5u8);
        sorter.send(6u8);
        sorter.send(Pear(7));
        sorter.send(Pear(8));
        open.send(()).unwrap();
        let seen: Vec<String> = bridge.call(&sorter, Report, WAIT).unwrap();
        let expected = [
            "apple 1", "apple 2", "pear 3", "apple 4", "other 5", "other 6", "pear 7", "pear 8",
        ];
        assert_eq!(seen, expected);
        system.shutdown(WAIT).unwrap();
    }

    // ---------------------------------------------------------------------------
    // Order per sender

    #[test]
    fn messages_from_one_sender_are_handled_in_the_order_sent() {
        const THREADS: usize = 4;
        const COUNT: u32 = 2_000;
        let system = new_system();
        let bridge = system.bridge();
        let sequencer = system.spawn(Sequencer {
            seen: vec![Vec::new(); THREADS + 1],
        });

        // Several plain threads and one actor send interleaved streams; each
        // stream must come out in its own order.
        let start = Arc::new(Barrier::new(THREADS));
        let senders: Vec<_> = (0..THREADS)
            .map(|from| {
                let to = sequencer.clone();
                let start = start.clone();
                thread::spawn(move || {
                    start.wait();
                    for n in 0..COUNT {
                        to.send(Seq { from, n });
                    }
                })
            })
            .collect();
        let burster = system.spawn(Burster { from: THREADS });
        let () = bridge
            .call(
                &burster,
                Burst {
                    to: sequencer.clone(),
                    count: COUNT,
                },
                WAIT,
            )
            .unwrap();
        for sender in senders {
            sender.join().unwrap();
        }

        let seen: Vec<Vec<u32>> = bridge.call(&sequencer, Dump, WAIT).unwrap();
        let expected: Vec<u32> = (0..COUNT).collect();
        for (from, numbers) in seen.iter().enumerate() {
            assert_eq!(numbers, &expected, "stream of sender {from} out of order");
        }
    }

    // ---------------------------------------------------------------------------
    // One message at a time

    #[test]
    fn an_actor_handles_one_message_at_a_time() {
        const THREADS: usize = 4;
        const EACH: usize = 500;
        let system = new_system();
        let overlaps = Arc::new(AtomicUsize::new(0));
        let actor = system.spawn(Exclusive {
            inside: Arc::new(AtomicBool::new(false)),
            overlaps: overlaps.clone(),
            handled: 0,
        });
        let senders: Vec<_> = (0..THREADS)
            .map(|_| {
                let to = actor.clone();
                thread::spawn(move || {
                    for _ in 0..EACH {
                        to.send(Work);
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.join().unwrap();
        }
        let handled: usize = system.bridge().call(&actor, Count, WAIT).unwrap();
        assert_eq!(
            handled,
            THREADS * EACH,
            "every message handled exactly once"
        );
        assert_eq!(overlaps.load(Ordering::SeqCst), 0, "handlers overlapped");
    }

    // ---------------------------------------------------------------------------
    // The sender seen is the one given

    #[test]
    fn the_sender_seen_is_the_one_given() {
        let system = new_system();
        let probe = system.inbox();
        let witness = system.spawn(Witness {
            probe: probe.actor().clone(),
        });

        // `send`: no sender.
        witness.send(WhoSent);
        let envelope = probe.recv(WAIT).unwrap();
        assert_eq!(
            envelope.sender(),
            Some(&witness),
            "ctx.send names the actor"
        );
        assert_eq!(envelope.downcast::<SenderSeen>().unwrap(), SenderSeen(None));

        // `send_from`: the given address, even one that is not the caller's.
        let other = system.inbox();
        witness.send_from(WhoSent, other.actor());
        assert_eq!(
            next::<SenderSeen>(&probe),
            SenderSeen(Some(other.actor().id()))
        );

        // `Inbox::send` and `Bridge::send`: their own address.
        other.send(&witness, WhoSent);
        assert_eq!(
            next::<SenderSeen>(&probe),
            SenderSeen(Some(other.actor().id()))
        );
        let bridge = system.bridge();
        bridge.send(&witness, WhoSent);
        assert_eq!(
            next::<SenderSeen>(&probe),
            SenderSeen(Some(bridge.actor().id()))
        );

        // `ctx.send` from another actor: that actor.
        let relay = system.spawn(Relay);
        relay.send(RelayTo(witness.clone()));
        assert_eq!(next::<SenderSeen>(&probe), SenderSeen(Some(relay.id())));
        assert_empty(&probe);
    }

    #[test]
    fn reply_goes_to_the_sender_of_the_current_message() {
        let system = new_system();
        let ponger = system.spawn(Ponger);
        let first = system.inbox();
        let second = system.inbox();
        ponger.send_from(Ping(1), first.actor());
        ponger.send_from(Ping(10), second.actor());

        let envelope = second.recv(WAIT).unwrap();
        assert_eq!(envelope.sender(), Some(&ponger), "a reply names its sender");
        assert_eq!(envelope.downcast::<Pong>().unwrap(), Pong(11));
        assert_eq!(next::<Pong>(&first), Pong(2));
        assert_empty(&first);
        assert_empty(&second);
    }

    #[test]
    fn reply_without_a_sender_counts_a_dead_letter() {
        let system = new_system();
        let probe = system.inbox();
        let answerer = system.spawn(Answerer {
            probe: probe.actor().clone(),
        });
        assert_eq!(system.dead_letters(), 0);

        answerer.send(Ask);
        next::<Answered>(&probe);
        assert_eq!(system.dead_letters(), 1, "the reply had nowhere to go");

        // It was not an error: the actor goes on.
        let pong: Pong = system.bridge().call(&answerer, Ping(1), WAIT).unwrap();
        assert_eq!(pong, Pong(2));
        assert!(answerer.is_alive());
    }
}
