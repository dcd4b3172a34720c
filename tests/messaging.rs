//! Messaging semantics of the kernel: per-sender order, one message at a
//! time, who the sender is, replies, unhandled types, handler registries,
//! handler errors, `ctx.stop`, and `Stop`/`Stopped`.

#[path = "common/receive.rs"]
#[allow(dead_code)]
mod receive;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use ferrotp::{
    Actor, ActorId, ActorRef, Context, Down, ExitReason, Handlers, Inbox, Stop, Stopped, System,
};
use receive::{assert_empty, next};

const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Order per sender

/// A numbered message from sender number `from`.
struct Seq {
    from: usize,
    n: u32,
}
struct Dump;

/// Records, per sender number, the numbers in the order handled.
struct Sequencer {
    seen: Vec<Vec<u32>>,
}

impl Sequencer {
    fn seq(&mut self, Seq { from, n }: Seq, _: &mut Context<Self>) {
        self.seen[from].push(n);
    }
    fn dump(&mut self, _: Dump, ctx: &mut Context<Self>) {
        ctx.reply(self.seen.clone());
    }
}

impl Actor for Sequencer {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::seq).on(Self::dump)
    }
}

/// On `Burst`, sends `count` numbered messages to `to` with `ctx.send`.
struct Burster {
    from: usize,
}
struct Burst {
    to: ActorRef,
    count: u32,
}

impl Burster {
    fn burst(&mut self, Burst { to, count }: Burst, ctx: &mut Context<Self>) {
        for n in 0..count {
            ctx.send(&to, Seq { from: self.from, n });
        }
        ctx.reply(());
    }
}

impl Actor for Burster {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::burst)
    }
}

// ---------------------------------------------------------------------------
// One message at a time

/// Detects whether two of its handlers (or a handler and `started`) ever
/// run at the same time, through a flag shared outside the actor.
struct Exclusive {
    inside: Arc<AtomicBool>,
    overlaps: Arc<AtomicUsize>,
    handled: usize,
}
struct Work;
struct Count;

impl Exclusive {
    /// Holds the flag for a moment, so that a concurrent entry would see it.
    ///
    /// The moment is a spin, not `yield_now`: two handlers running at once
    /// would each hold the flag nearly all their time either way, but 2,000
    /// handlers of 50 yields each took longer than the test's 10 s bound at
    /// load 85 (a yield hands the core to any of dozens of other threads).
    /// A spin costs microseconds of CPU whatever the load; a preemption in
    /// it only holds the flag longer.
    fn occupy(&self) {
        if self.inside.swap(true, Ordering::SeqCst) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        for _ in 0..2_000 {
            std::hint::spin_loop();
        }
        self.inside.store(false, Ordering::SeqCst);
    }
    fn work(&mut self, _: Work, _: &mut Context<Self>) {
        self.occupy();
        self.handled += 1;
    }
    fn count(&mut self, _: Count, ctx: &mut Context<Self>) {
        ctx.reply(self.handled);
    }
}

impl Actor for Exclusive {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::work).on(Self::count)
    }
    fn started(&mut self, _: &mut Context<Self>) -> Result<(), ExitReason> {
        self.occupy();
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The sender seen is the one given

/// What `WhoSent` reports: the sender the handler saw.
#[derive(Debug, PartialEq)]
struct SenderSeen(Option<ActorId>);
struct WhoSent;

/// Tells `probe` who sent each `WhoSent`.
struct Witness {
    probe: ActorRef,
}

impl Witness {
    fn who(&mut self, _: WhoSent, ctx: &mut Context<Self>) {
        let seen = SenderSeen(ctx.sender().map(|s| s.id()));
        ctx.send(&self.probe, seen);
    }
}

impl Actor for Witness {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::who)
    }
}

/// Sends `WhoSent` to the target with `ctx.send`, so it is the sender.
struct Relay;
struct RelayTo(ActorRef);

impl Relay {
    fn relay(&mut self, RelayTo(to): RelayTo, ctx: &mut Context<Self>) {
        ctx.send(&to, WhoSent);
    }
}

impl Actor for Relay {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::relay)
    }
}

/// Replies to `Ping` with `Pong` (the number plus one).
struct Ponger;
struct Ping(u32);
#[derive(Debug, PartialEq)]
struct Pong(u32);

impl Ponger {
    fn ping(&mut self, Ping(n): Ping, ctx: &mut Context<Self>) {
        ctx.reply(Pong(n + 1));
    }
}

impl Actor for Ponger {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::ping)
    }
}

/// Replies to `Ask` (whoever sent it), then tells `probe` it did.
struct Answerer {
    probe: ActorRef,
}
struct Ask;
struct Answered;

impl Answerer {
    fn ask(&mut self, _: Ask, ctx: &mut Context<Self>) {
        ctx.reply(42u32);
        ctx.send(&self.probe, Answered);
    }
    fn ping(&mut self, Ping(n): Ping, ctx: &mut Context<Self>) {
        ctx.reply(Pong(n + 1));
    }
}

impl Actor for Answerer {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::ask).on(Self::ping)
    }
}

// ---------------------------------------------------------------------------
// Unhandled message types

/// Handles `u32`; everything else goes to its fallback, which reports the
/// type name and the payload (when it is a `String`) to `probe`.
struct Fallback {
    probe: ActorRef,
}
#[derive(Debug, PartialEq)]
struct OtherSeen {
    type_name: &'static str,
    text: Option<String>,
}
#[derive(Debug, PartialEq)]
struct GotU32(u32);

impl Fallback {
    fn number(&mut self, n: u32, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, GotU32(n));
    }
    fn other(
        &mut self,
        payload: Box<dyn std::any::Any + Send>,
        type_name: &'static str,
        ctx: &mut Context<Self>,
    ) {
        let text = payload.downcast::<String>().ok().map(|s| *s);
        ctx.send(&self.probe, OtherSeen { type_name, text });
    }
}

impl Actor for Fallback {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::number).other(Self::other)
    }
}

// ---------------------------------------------------------------------------
// Handlers::merge

/// Reports which handler ran.
#[derive(Debug, PartialEq)]
enum Ran {
    FirstNumber(u32),
    SecondNumber(u32),
    FirstText(String),
    FirstOther(&'static str),
    SecondOther(&'static str),
}

struct Merged {
    probe: ActorRef,
}

impl Merged {
    fn first_number(&mut self, n: u32, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, Ran::FirstNumber(n));
    }
    fn second_number(&mut self, n: u32, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, Ran::SecondNumber(n));
    }
    fn first_text(&mut self, s: String, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, Ran::FirstText(s));
    }
    fn first_other(
        &mut self,
        _: Box<dyn std::any::Any + Send>,
        type_name: &'static str,
        ctx: &mut Context<Self>,
    ) {
        ctx.send(&self.probe, Ran::FirstOther(type_name));
    }
    fn second_other(
        &mut self,
        _: Box<dyn std::any::Any + Send>,
        type_name: &'static str,
        ctx: &mut Context<Self>,
    ) {
        ctx.send(&self.probe, Ran::SecondOther(type_name));
    }

    fn first() -> Handlers<Self> {
        Handlers::new()
            .on(Self::first_number)
            .on(Self::first_text)
            .other(Self::first_other)
    }
}

impl Actor for Merged {
    /// `u32` and the fallback are overridden by the later registry; `String`
    /// only exists in the earlier one.
    fn handlers() -> Handlers<Self> {
        let second = Handlers::new()
            .on(Self::second_number)
            .other(Self::second_other);
        Self::first().merge(second)
    }
}

/// The same registry merged with one that has no fallback: the earlier
/// fallback stays.
struct MergedKeepsFallback {
    inner: Merged,
}

impl MergedKeepsFallback {
    fn number(&mut self, n: u32, ctx: &mut Context<Self>) {
        ctx.send(&self.inner.probe, Ran::SecondNumber(n));
    }
    fn other(
        &mut self,
        _: Box<dyn std::any::Any + Send>,
        type_name: &'static str,
        ctx: &mut Context<Self>,
    ) {
        ctx.send(&self.inner.probe, Ran::FirstOther(type_name));
    }
}

impl Actor for MergedKeepsFallback {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .other(Self::other)
            .merge(Handlers::new().on(Self::number))
    }
}

// ---------------------------------------------------------------------------
// Handler errors, ctx.stop, and the `stopped` hook's reason

/// Reports the reason its `stopped` hook got, and every `Note` it handles.
struct Fallible {
    probe: ActorRef,
}
/// A handler result: `Ok` goes on, `Err` terminates.
struct Try(Result<(), String>);
/// Fails with a custom error type, printed through `Display`.
struct TryCustom;
/// Calls `ctx.stop(reason)`, then keeps running until the handler returns.
struct StopWith(ExitReason);
#[derive(Debug, PartialEq)]
struct Note(&'static str);
#[derive(Debug, PartialEq)]
struct HookRan(ExitReason);

#[derive(Debug)]
struct DiskFull {
    free: u32,
}

impl std::fmt::Display for DiskFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "disk full ({} bytes free)", self.free)
    }
}

impl Fallible {
    fn attempt(&mut self, Try(result): Try, ctx: &mut Context<Self>) -> Result<(), String> {
        ctx.send(&self.probe, Note("attempted"));
        result
    }
    fn attempt_custom(&mut self, _: TryCustom, _: &mut Context<Self>) -> Result<(), DiskFull> {
        Err(DiskFull { free: 3 })
    }
    fn stop_with(&mut self, StopWith(reason): StopWith, ctx: &mut Context<Self>) {
        ctx.stop(reason);
        // Still running: the stop takes effect once the handler returns.
        ctx.send(&self.probe, Note("after ctx.stop"));
    }
    fn note(&mut self, note: Note, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, note);
    }
}

impl Actor for Fallible {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::attempt)
            .on(Self::attempt_custom)
            .on(Self::stop_with)
            .on(Self::note)
    }
    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, HookRan(reason.clone()));
    }
}

/// Spawns a `Fallible` reporting to `probe`, monitored by `probe`.
fn fallible(system: &System, probe: &Inbox) -> ActorRef {
    let actor = system.spawn(Fallible {
        probe: probe.actor().clone(),
    });
    probe.monitor(&actor);
    actor
}

/// After the termination notice, the actor has handled nothing more.
fn expect_end(probe: &Inbox, actor: &ActorRef, reason: ExitReason) {
    assert_eq!(next::<HookRan>(probe), HookRan(reason.clone()));
    let down: Down = next(probe);
    assert_eq!((down.actor, down.reason), (actor.id(), reason));
    assert!(!actor.is_alive());
    assert_empty(probe);
}

// ---------------------------------------------------------------------------
// Stop and Stopped

/// Handles `Stop` itself: counts it and goes on.
struct Stubborn {
    stops: u32,
}

impl Stubborn {
    fn stop(&mut self, _: Stop, ctx: &mut Context<Self>) {
        self.stops += 1;
        ctx.reply(format!("ignored stop #{}", self.stops));
    }
    fn ping(&mut self, Ping(n): Ping, ctx: &mut Context<Self>) {
        ctx.reply(Pong(n + 1));
    }
}

impl Actor for Stubborn {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::stop).on(Self::ping)
    }
}

/// Two message types with handlers, and a fallback for the rest.
struct Apple(u32);
struct Pear(u32);
struct Report;

/// Records which handler took each message, and in what order; takes
/// none until its gate opens.
struct Sorter {
    seen: Vec<String>,
    gate: std::sync::mpsc::Receiver<()>,
}

impl Sorter {
    fn apple(&mut self, Apple(n): Apple, _: &mut Context<Self>) {
        self.seen.push(format!("apple {n}"));
    }
    fn pear(&mut self, Pear(n): Pear, _: &mut Context<Self>) {
        self.seen.push(format!("pear {n}"));
    }
    fn report(&mut self, _: Report, ctx: &mut Context<Self>) {
        ctx.reply(std::mem::take(&mut self.seen));
    }
}

impl Actor for Sorter {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::apple)
            .on(Self::pear)
            .on(Self::report)
            .other(|me: &mut Self, payload, _name, _ctx| {
                let n = payload.downcast::<u8>().map_or(0, |n| *n);
                me.seen.push(format!("other {n}"));
            })
    }

    fn started(&mut self, _: &mut Context<Self>) -> Result<(), ExitReason> {
        let _ = self.gate.recv();
        Ok(())
    }
}

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

    // ---------------------------------------------------------------------------
    // Handler errors, ctx.stop, and the `stopped` hook's reason

    #[test]
    fn a_handler_returning_err_terminates_the_actor_with_its_text() {
        let system = new_system();
        let probe = system.inbox();
        let actor = fallible(&system, &probe);
        actor.send(Try(Ok(())));
        actor.send(Try(Err("no space".to_string())));
        actor.send(Note("never handled"));
        assert_eq!(next::<Note>(&probe), Note("attempted"));
        assert_eq!(next::<Note>(&probe), Note("attempted"));
        expect_end(&probe, &actor, ExitReason::Error("no space".to_string()));

        let custom = fallible(&system, &probe);
        custom.send(TryCustom);
        expect_end(
            &probe,
            &custom,
            ExitReason::Error("disk full (3 bytes free)".to_string()),
        );
    }

    #[test]
    fn ctx_stop_terminates_after_the_handler_returns_with_that_reason() {
        let system = new_system();
        let probe = system.inbox();
        for reason in [
            ExitReason::Normal,
            ExitReason::Shutdown,
            ExitReason::Error("enough".to_string()),
        ] {
            let actor = fallible(&system, &probe);
            actor.send(StopWith(reason.clone()));
            actor.send(Note("never handled"));
            assert_eq!(next::<Note>(&probe), Note("after ctx.stop"));
            expect_end(&probe, &actor, reason);
        }
    }

    // ---------------------------------------------------------------------------
    // Stop and Stopped

    #[test]
    fn stop_is_handled_in_mailbox_order_and_answers_stopped_normal() {
        let system = new_system();
        let probe = system.inbox();
        let actor = fallible(&system, &probe);
        actor.send(Note("one"));
        actor.send(Note("two"));
        // The probe sends `Stop`, so the `Stopped` answer comes back to it.
        probe.send(&actor, Stop);
        actor.send(Note("after stop"));

        assert_eq!(next::<Note>(&probe), Note("one"));
        assert_eq!(next::<Note>(&probe), Note("two"));
        assert_eq!(next::<HookRan>(&probe), HookRan(ExitReason::Normal));
        let stopped: Stopped = next(&probe);
        assert_eq!(
            stopped,
            Stopped {
                actor: actor.id(),
                reason: ExitReason::Normal
            }
        );
        let down: Down = next(&probe);
        assert_eq!(down.reason, ExitReason::Normal);
        assert_empty(&probe);
    }

    #[test]
    fn stop_stops_an_actor_that_has_a_fallback() {
        // The fallback takes every other type, but not `Stop`.
        let system = new_system();
        let probe = system.inbox();
        let actor = system.spawn(Fallback {
            probe: probe.actor().clone(),
        });
        probe.send(&actor, Stop);
        let stopped: Stopped = next(&probe);
        assert_eq!(
            stopped,
            Stopped {
                actor: actor.id(),
                reason: ExitReason::Normal
            }
        );
        assert!(!actor.is_alive());
    }

    #[test]
    fn a_custom_stop_handler_overrides_the_default() {
        let system = new_system();
        let probe = system.inbox();
        let actor = system.spawn(Stubborn { stops: 0 });
        probe.send(&actor, Stop);
        probe.send(&actor, Stop);
        probe.send(&actor, Ping(1));
        assert_eq!(next::<String>(&probe), "ignored stop #1");
        assert_eq!(next::<String>(&probe), "ignored stop #2");
        assert_eq!(next::<Pong>(&probe), Pong(2));
        assert_empty(&probe);
        assert!(actor.is_alive());
    }

    #[test]
    fn sending_to_a_dead_actor_is_a_counted_dead_letter() {
        let system = new_system();
        let probe = system.inbox();
        let actor = system.spawn(Ponger);
        probe.send(&actor, Stop);
        let _: Stopped = next(&probe);
        let before = system.dead_letters();
        actor.send(Ping(1));
        probe.send(&actor, Ping(2));
        assert_eq!(system.dead_letters(), before + 2);
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
