//! Bounded mailboxes (`SpawnOptions::mailbox`): what each way of sending
//! does with a full mailbox, what is never refused, the counts `ActorInfo`
//! shows, memory under a flood, and producers racing for the last place.

mod mailbox_common;
#[path = "../benches/common/rss.rs"]
mod rss;

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use ferrotp::{
    Actor, ActorRef, CallError, Context, Down, ExitReason, Handlers, SendError, SpawnError,
    SpawnOptions, Stop, Stopped, System,
};
use mailbox_common::{race, WAIT};
use rss::rss_bytes;

/// What a [`Gated`] actor was given, in order.
#[derive(Debug, PartialEq)]
enum Seen {
    Num(u32),
    Stopped(ExitReason),
    Down(ExitReason),
}

/// Takes no message until its gate opens (it waits in `started`), then
/// reports everything it handles. It answers a `u32` with the same number.
struct Gated {
    gate: Receiver<()>,
    seen: Sender<Seen>,
    /// Monitored from `started`, before the gate.
    watch: Option<ActorRef>,
    /// Awaited by a task spawned in `started`: its outcome is a `u32`.
    task: Option<tokio::sync::oneshot::Receiver<u32>>,
}

impl Gated {
    fn num(&mut self, n: u32, ctx: &mut Context<Self>) {
        let _ = self.seen.send(Seen::Num(n));
        ctx.reply(n);
    }

    fn stopped(&mut self, stopped: Stopped, _ctx: &mut Context<Self>) {
        let _ = self.seen.send(Seen::Stopped(stopped.reason));
    }

    fn down(&mut self, down: Down, _ctx: &mut Context<Self>) {
        let _ = self.seen.send(Seen::Down(down.reason));
    }
}

impl Actor for Gated {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::num)
            .on(Self::stopped)
            .on(Self::down)
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if let Some(target) = self.watch.take() {
            ctx.monitor(&target);
        }
        if let Some(outcome) = self.task.take() {
            ctx.spawn_task(outcome, |outcome| outcome.unwrap_or(0));
        }
        let _ = self.gate.recv_timeout(WAIT);
        Ok(())
    }
}

/// A gated actor with a mailbox of `capacity`: its gate, and what it saw.
fn gated(
    system: &System,
    capacity: usize,
    options: SpawnOptions,
    watch: Option<ActorRef>,
) -> (ActorRef, Sender<()>, Receiver<Seen>) {
    let (open, gate) = crossbeam_channel::bounded(1);
    let (seen_tx, seen) = crossbeam_channel::unbounded();
    let actor = Gated {
        gate,
        seen: seen_tx,
        watch,
        task: None,
    };
    let actor = system
        .spawn_with(actor, options.mailbox(capacity))
        .expect("a gated actor");
    (actor, open, seen)
}

fn next(seen: &Receiver<Seen>) -> Seen {
    seen.recv_timeout(WAIT)
        .expect("the actor to handle something")
}

/// Idles; handles nothing.
struct Idle;

impl Actor for Idle {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
}

/// Sends `count` numbers to `to` with `Context::try_send` and answers how
/// many were admitted and how many came back.
struct Flood {
    to: ActorRef,
    count: u32,
}

impl Flooder {
    fn flood(&mut self, Flood { to, count }: Flood, ctx: &mut Context<Self>) {
        let (mut admitted, mut back) = (0u32, Vec::new());
        for n in 0..count {
            match ctx.try_send(&to, n) {
                Ok(()) => admitted += 1,
                Err(SendError::Full(n)) => back.push(n),
            }
        }
        ctx.reply((admitted, back));
    }
}

struct Flooder;

impl Actor for Flooder {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::flood)
    }
}

/// A 4 KiB message, for the memory test.
struct Chunk(#[allow(dead_code)] Vec<u8>);

/// Asks a [`Sink`] to answer once it has handled everything before this.
struct Flush(Sender<u64>);

/// Handles one [`Chunk`] per credit: the producer gives a credit per 100
/// chunks it sends, so it runs 100 times faster than this consumer.
struct Sink {
    credits: Receiver<()>,
    handled: u64,
}

impl Sink {
    fn chunk(&mut self, _chunk: Chunk, _ctx: &mut Context<Self>) {
        let _ = self.credits.recv_timeout(WAIT);
        self.handled += 1;
    }

    fn flush(&mut self, Flush(answer): Flush, _ctx: &mut Context<Self>) {
        let _ = answer.send(self.handled);
    }
}

impl Actor for Sink {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::chunk).on(Self::flush)
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn try_send_gives_a_message_back_when_the_mailbox_is_full() {
        let system = new_system();
        let (actor, open, seen) = gated(&system, 2, SpawnOptions::new(), None);
        assert_eq!(actor.try_send(1u32), Ok(()));
        assert_eq!(actor.try_send(2u32), Ok(()));
        assert_eq!(actor.try_send(3u32), Err(SendError::Full(3)));
        assert_eq!(actor.try_send(4u32).unwrap_err().into_inner(), 4);
        open.send(()).unwrap();
        assert_eq!(next(&seen), Seen::Num(1));
        assert_eq!(next(&seen), Seen::Num(2));
        // Room again once the actor took them.
        let deadline = std::time::Instant::now() + WAIT;
        let mut five = 5u32;
        while let Err(SendError::Full(back)) = actor.try_send(five) {
            assert!(std::time::Instant::now() < deadline, "no room after the backlog was handled");
            five = back;
            std::thread::yield_now();
        }
        assert_eq!(next(&seen), Seen::Num(5));
        assert!(seen.try_recv().is_err(), "a refused message was handled");
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn send_to_a_full_mailbox_is_a_counted_dead_letter() {
        let system = new_system();
        let (actor, open, seen) = gated(&system, 1, SpawnOptions::new(), None);
        let before = system.dead_letters();
        actor.send(1u32);
        actor.send(2u32);
        actor.send(3u32);
        assert_eq!(system.dead_letters() - before, 2);
        open.send(()).unwrap();
        assert_eq!(next(&seen), Seen::Num(1));
        // `Stop` goes after what was admitted: once it is handled, the
        // refused messages never come.
        let inbox = system.inbox();
        inbox.monitor(&actor);
        actor.send_timeout(Stop, WAIT).unwrap();
        let down = inbox.recv(WAIT).unwrap().downcast::<Down>().unwrap();
        assert_eq!(down.reason, ExitReason::Normal);
        assert!(seen.try_recv().is_err(), "a refused message was handled");
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn send_timeout_waits_for_room_and_gives_up_at_its_deadline() {
        let system = new_system();
        let (actor, open, seen) = gated(&system, 1, SpawnOptions::new(), None);
        actor.try_send(1u32).unwrap();
        // The actor takes nothing until its gate opens: no room comes.
        assert_eq!(
            actor.send_timeout(2u32, Duration::from_millis(20)),
            Err(SendError::Full(2))
        );
        let waiter = {
            let actor = actor.clone();
            std::thread::spawn(move || actor.send_timeout(3u32, WAIT))
        };
        open.send(()).unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert_eq!(next(&seen), Seen::Num(1));
        assert_eq!(next(&seen), Seen::Num(3));
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn a_sender_waiting_for_room_is_freed_when_the_actor_dies() {
        let system = new_system();
        let (actor, open, _seen) = gated(&system, 1, SpawnOptions::new(), None);
        actor.try_send(1u32).unwrap();
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let waiter = {
            let actor = actor.clone();
            std::thread::spawn(move || {
                let sent = actor.send_timeout(2u32, Duration::from_secs(60));
                let _ = done_tx.send(());
                sent
            })
        };
        let before = system.dead_letters();
        actor.kill();
        // Freed by the end, long before its own minute is up; like `send`
        // to a dead actor, not an error: a dead letter.
        done.recv_timeout(WAIT).expect("the waiting sender to be freed by the kill");
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert!(system.dead_letters() > before);
        // The killed actor's code still waits in `started`: let it return.
        drop(open);
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn exit_signals_down_and_kill_are_never_refused() {
        let system = new_system();
        let watched = system.spawn(Idle);
        let (actor, open, seen) =
            gated(&system, 1, SpawnOptions::new().trap_exit(true), Some(watched.clone()));
        actor.try_send(1u32).unwrap();
        assert!(actor.try_send(2u32).is_err());
        // Its monitor is made in `started`, before the gate.
        let deadline = std::time::Instant::now() + WAIT;
        while actor.info().monitoring.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the monitor was not made");
            std::thread::yield_now();
        }
        // A trapped exit signal and a `Down` reach a full mailbox...
        actor.exit(ExitReason::error("from outside"));
        watched.kill();
        let deadline = std::time::Instant::now() + WAIT;
        while actor.info().mailbox_len < 3 {
            assert!(std::time::Instant::now() < deadline, "the notices did not arrive");
            std::thread::yield_now();
        }
        let info = actor.info();
        assert_eq!(info.mailbox_capacity, Some(1));
        assert!(info.mailbox_high_water >= 3, "{info:?}");
        // ... and come in their places once the actor runs.
        open.send(()).unwrap();
        assert_eq!(next(&seen), Seen::Num(1));
        let mut notices = vec![next(&seen), next(&seen)];
        notices.sort_by_key(|seen| format!("{seen:?}"));
        assert_eq!(
            notices,
            vec![
                Seen::Down(ExitReason::Killed),
                Seen::Stopped(ExitReason::error("from outside")),
            ]
        );
        // `kill` of an actor with a full mailbox.
        let (full, full_open, _seen) = gated(&system, 1, SpawnOptions::new(), None);
        full.try_send(1u32).unwrap();
        let inbox = system.inbox();
        inbox.monitor(&full);
        full.kill();
        let down = inbox.recv(WAIT).unwrap().downcast::<Down>().unwrap();
        assert_eq!(down.reason, ExitReason::Killed);
        drop(full_open);
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn a_task_outcome_is_never_refused() {
        let system = new_system();
        let (open, gate) = crossbeam_channel::bounded(1);
        let (seen_tx, seen) = crossbeam_channel::unbounded();
        let (finish, outcome) = tokio::sync::oneshot::channel();
        let actor = Gated { gate, seen: seen_tx, watch: None, task: Some(outcome) };
        let actor = system.spawn_with(actor, SpawnOptions::new().mailbox(1)).unwrap();
        actor.try_send(1u32).unwrap();
        assert!(actor.try_send(2u32).is_err());
        // The task ends while the mailbox is full: its outcome gets in.
        finish.send(7).unwrap();
        let deadline = std::time::Instant::now() + WAIT;
        while actor.info().mailbox_len < 2 {
            assert!(std::time::Instant::now() < deadline, "the outcome did not arrive");
            std::thread::yield_now();
        }
        open.send(()).unwrap();
        assert_eq!(next(&seen), Seen::Num(1));
        assert_eq!(next(&seen), Seen::Num(7));
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn bridge_stop_waits_for_room_for_its_stop() {
        let system = new_system();
        let (actor, open, seen) = gated(&system, 1, SpawnOptions::new(), None);
        actor.try_send(1u32).unwrap();
        let stopper = {
            let (bridge, actor) = (system.bridge(), actor.clone());
            std::thread::spawn(move || bridge.stop(&[actor], WAIT))
        };
        open.send(()).unwrap();
        let stopped = stopper.join().unwrap();
        assert_eq!(stopped[0].as_ref().map(|s| &s.reason), Some(&ExitReason::Normal));
        assert_eq!(next(&seen), Seen::Num(1));
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn a_call_to_a_full_mailbox_fails_at_once_with_full() {
        let system = new_system();
        let (actor, open, seen) = gated(&system, 1, SpawnOptions::new(), None);
        actor.try_send(1u32).unwrap();
        let bridge = system.bridge();
        // Not the call's minute: `Full` comes at once, whatever the timeout.
        let started = std::time::Instant::now();
        let call = bridge.call::<u32, u32>(&actor, 2, Duration::from_secs(60));
        assert_eq!(call, Err(CallError::Full));
        assert!(started.elapsed() < WAIT);
        let calls = bridge.multi_call::<u32, u32>([(actor.clone(), 3)], Duration::from_secs(60));
        assert_eq!(calls, vec![Err(CallError::Full)]);
        open.send(()).unwrap();
        assert_eq!(next(&seen), Seen::Num(1));
        // Room again: a call goes through.
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            match bridge.call::<u32, u32>(&actor, 4, WAIT) {
                Ok(four) => break assert_eq!(four, 4),
                Err(CallError::Full) if std::time::Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                Err(error) => panic!("{error}"),
            }
        }
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn an_async_call_to_a_full_mailbox_fails_at_once_with_full() {
        let system = new_system();
        let (actor, open, seen) = gated(&system, 1, SpawnOptions::new(), None);
        actor.try_send(1u32).unwrap();
        let call = system.bridge().call_async::<u32, u32>(&actor, 2, Duration::from_secs(60));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let started = std::time::Instant::now();
        assert_eq!(runtime.block_on(call), Err(CallError::Full));
        assert!(started.elapsed() < WAIT);
        open.send(()).unwrap();
        assert_eq!(next(&seen), Seen::Num(1));
        // The next one handled is the one sent after: the refused request never comes.
        actor.send_timeout(3u32, WAIT).unwrap();
        assert_eq!(next(&seen), Seen::Num(3));
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn an_actor_meets_a_full_mailbox_without_blocking() {
        let system = new_system();
        let (target, open, seen) = gated(&system, 2, SpawnOptions::new(), None);
        let flooder = system.spawn(Flooder);
        let bridge = system.bridge();
        // The target takes nothing meanwhile: a sender that blocked would
        // never answer.
        let (admitted, back): (u32, Vec<u32>) = bridge
            .call(&flooder, Flood { to: target.clone(), count: 5 }, WAIT)
            .unwrap();
        assert_eq!((admitted, back), (2, vec![2, 3, 4]));
        open.send(()).unwrap();
        assert_eq!(next(&seen), Seen::Num(0));
        assert_eq!(next(&seen), Seen::Num(1));
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn a_zero_capacity_is_refused_and_unbounded_is_the_default() {
        let system = new_system();
        let zero = system.spawn_with(Idle, SpawnOptions::new().mailbox(0));
        assert!(matches!(zero, Err(SpawnError::ZeroCapacity)), "{zero:?}");
        // Unbounded: everything is admitted, and the high-water mark shows
        // the deepest backlog.
        let (open, gate) = crossbeam_channel::bounded(1);
        let (seen_tx, seen) = crossbeam_channel::unbounded();
        let unbounded = system.spawn(Gated { gate, seen: seen_tx, watch: None, task: None });
        for n in 0..100u32 {
            assert_eq!(unbounded.try_send(n), Ok(()));
        }
        let info = unbounded.info();
        assert_eq!(info.mailbox_capacity, None);
        assert_eq!((info.mailbox_len, info.mailbox_high_water), (100, 100));
        open.send(()).unwrap();
        for n in 0..100u32 {
            assert_eq!(next(&seen), Seen::Num(n));
        }
        let info = unbounded.info();
        assert_eq!((info.mailbox_len, info.mailbox_high_water), (0, 100));
        system.shutdown(WAIT).unwrap();
    }

    /// A producer 100 times faster than its consumer (it sends 100 chunks
    /// of 4 KiB for each one the consumer may take): 400 MB sent in all,
    /// while resident memory stays flat, because the mailbox holds 64.
    /// (Unbounded, the same flood would queue nearly all 400 MB: that case
    /// is documented in the README, not run.)
    #[test]
    fn a_flood_into_a_bounded_mailbox_keeps_memory_flat() {
        const CAPACITY: usize = 64;
        const ROUNDS: u64 = 1_000;
        const PER_ROUND: u64 = 100;
        let system = new_system();
        let (give, credits) = crossbeam_channel::unbounded();
        let sink = system
            .spawn_with(Sink { credits, handled: 0 }, SpawnOptions::new().mailbox(CAPACITY))
            .unwrap();
        let dead_before = system.dead_letters();
        // Warm up the allocator with one full mailbox before measuring.
        for _ in 0..CAPACITY {
            sink.send(Chunk(vec![1; 4096]));
        }
        let rss_before = rss_bytes();
        for _ in 0..ROUNDS {
            for _ in 0..PER_ROUND {
                sink.send(Chunk(vec![1; 4096]));
            }
            give.send(()).unwrap();
        }
        let rss_after = rss_bytes();
        let info = sink.info();
        // Let the sink drain what it holds, then count.
        for _ in 0..CAPACITY {
            give.send(()).unwrap();
        }
        let (answer, handled) = crossbeam_channel::bounded(1);
        sink.send_timeout(Flush(answer), WAIT).unwrap_or_else(|_| panic!("no room to flush"));
        let handled = handled.recv_timeout(WAIT).expect("the sink to flush");
        let refused = system.dead_letters() - dead_before;
        let sent = ROUNDS * PER_ROUND + CAPACITY as u64;
        assert_eq!(handled + refused, sent, "every chunk handled or a counted dead letter");
        assert!(handled <= ROUNDS + CAPACITY as u64, "the consumer ran ahead: {handled}");
        assert!(info.mailbox_high_water <= CAPACITY, "{info:?}");
        let grown = rss_after.saturating_sub(rss_before);
        assert!(
            grown < 32 << 20,
            "resident memory grew by {} MiB while {} MiB were sent",
            grown >> 20,
            (sent * 4096) >> 20
        );
        system.shutdown(WAIT).unwrap();
    }

    /// Producers racing for the places of one small mailbox (the stress
    /// version loops it for `FERROTP_STRESS_SECS`: `tests/stress_mailbox.rs`).
    #[test]
    fn racing_producers_never_overfill_a_mailbox_nor_lose_a_message() {
        let system = new_system();
        for _ in 0..20 {
            race(&system, 300);
        }
        system.shutdown(WAIT).unwrap();
    }
}
