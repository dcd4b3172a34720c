//! The actors `messaging.rs`, `stopping.rs` and `handler_registries.rs`
//! script: senders and sequencers, an exclusive worker, witnesses of the
//! sender, fallbacks, merged registries, fallible and stubborn actors.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use ferrotp::{Actor, ActorId, ActorRef, Context, Down, ExitReason, Handlers, Inbox, Stop, System};

use super::receive::{assert_empty, next};

// ---------------------------------------------------------------------------
// Order per sender

/// A numbered message from sender number `from`.
pub struct Seq {
    pub from: usize,
    pub n: u32,
}
pub struct Dump;

/// Records, per sender number, the numbers in the order handled.
pub struct Sequencer {
    pub seen: Vec<Vec<u32>>,
}

impl Sequencer {
    pub fn seq(&mut self, Seq { from, n }: Seq, _: &mut Context<Self>) {
        self.seen[from].push(n);
    }
    pub fn dump(&mut self, _: Dump, ctx: &mut Context<Self>) {
        ctx.reply(self.seen.clone());
    }
}

impl Actor for Sequencer {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::seq).on(Self::dump)
    }
}

/// On `Burst`, sends `count` numbered messages to `to` with `ctx.send`.
pub struct Burster {
    pub from: usize,
}
pub struct Burst {
    pub to: ActorRef,
    pub count: u32,
}

impl Burster {
    pub fn burst(&mut self, Burst { to, count }: Burst, ctx: &mut Context<Self>) {
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
pub struct Exclusive {
    pub inside: Arc<AtomicBool>,
    pub overlaps: Arc<AtomicUsize>,
    pub handled: usize,
}
pub struct Work;
pub struct Count;

impl Exclusive {
    /// Holds the flag for a moment, so that a concurrent entry would see it.
    ///
    /// The moment is a spin, not `yield_now`: two handlers running at once
    /// would each hold the flag nearly all their time either way, but 2,000
    /// handlers of 50 yields each took longer than the test's 10 s bound at
    /// load 85 (a yield hands the core to any of dozens of other threads).
    /// A spin costs microseconds of CPU whatever the load; a preemption in
    /// it only holds the flag longer.
    pub fn occupy(&self) {
        if self.inside.swap(true, Ordering::SeqCst) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        for _ in 0..2_000 {
            std::hint::spin_loop();
        }
        self.inside.store(false, Ordering::SeqCst);
    }
    pub fn work(&mut self, _: Work, _: &mut Context<Self>) {
        self.occupy();
        self.handled += 1;
    }
    pub fn count(&mut self, _: Count, ctx: &mut Context<Self>) {
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
pub struct SenderSeen(pub Option<ActorId>);
pub struct WhoSent;

/// Tells `probe` who sent each `WhoSent`.
pub struct Witness {
    pub probe: ActorRef,
}

impl Witness {
    pub fn who(&mut self, _: WhoSent, ctx: &mut Context<Self>) {
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
pub struct Relay;
pub struct RelayTo(pub ActorRef);

impl Relay {
    pub fn relay(&mut self, RelayTo(to): RelayTo, ctx: &mut Context<Self>) {
        ctx.send(&to, WhoSent);
    }
}

impl Actor for Relay {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::relay)
    }
}

/// Replies to `Ping` with `Pong` (the number plus one).
pub struct Ponger;
pub struct Ping(pub u32);
#[derive(Debug, PartialEq)]
pub struct Pong(pub u32);

impl Ponger {
    pub fn ping(&mut self, Ping(n): Ping, ctx: &mut Context<Self>) {
        ctx.reply(Pong(n + 1));
    }
}

impl Actor for Ponger {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::ping)
    }
}

/// Replies to `Ask` (whoever sent it), then tells `probe` it did.
pub struct Answerer {
    pub probe: ActorRef,
}
pub struct Ask;
pub struct Answered;

impl Answerer {
    pub fn ask(&mut self, _: Ask, ctx: &mut Context<Self>) {
        ctx.reply(42u32);
        ctx.send(&self.probe, Answered);
    }
    pub fn ping(&mut self, Ping(n): Ping, ctx: &mut Context<Self>) {
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
pub struct Fallback {
    pub probe: ActorRef,
}
#[derive(Debug, PartialEq)]
pub struct OtherSeen {
    pub type_name: &'static str,
    pub text: Option<String>,
}
#[derive(Debug, PartialEq)]
pub struct GotU32(pub u32);

impl Fallback {
    pub fn number(&mut self, n: u32, ctx: &mut Context<Self>) {
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
pub enum Ran {
    FirstNumber(u32),
    SecondNumber(u32),
    FirstText(String),
    FirstOther(&'static str),
    SecondOther(&'static str),
}

pub struct Merged {
    pub probe: ActorRef,
}

impl Merged {
    pub fn first_number(&mut self, n: u32, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, Ran::FirstNumber(n));
    }
    pub fn second_number(&mut self, n: u32, ctx: &mut Context<Self>) {
        ctx.send(&self.probe, Ran::SecondNumber(n));
    }
    pub fn first_text(&mut self, s: String, ctx: &mut Context<Self>) {
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
pub struct MergedKeepsFallback {
    pub inner: Merged,
}

impl MergedKeepsFallback {
    pub fn number(&mut self, n: u32, ctx: &mut Context<Self>) {
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
pub struct Fallible {
    pub probe: ActorRef,
}
/// A handler result: `Ok` goes on, `Err` terminates.
pub struct Try(pub Result<(), String>);
/// Fails with a custom error type, printed through `Display`.
pub struct TryCustom;
/// Calls `ctx.stop(reason)`, then keeps running until the handler returns.
pub struct StopWith(pub ExitReason);
#[derive(Debug, PartialEq)]
pub struct Note(pub &'static str);
#[derive(Debug, PartialEq)]
pub struct HookRan(pub ExitReason);

#[derive(Debug)]
pub struct DiskFull {
    pub free: u32,
}

impl std::fmt::Display for DiskFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "disk full ({} bytes free)", self.free)
    }
}

impl Fallible {
    pub fn attempt(&mut self, Try(result): Try, ctx: &mut Context<Self>) -> Result<(), String> {
        ctx.send(&self.probe, Note("attempted"));
        result
    }
    pub fn attempt_custom(&mut self, _: TryCustom, _: &mut Context<Self>) -> Result<(), DiskFull> {
        Err(DiskFull { free: 3 })
    }
    pub fn stop_with(&mut self, StopWith(reason): StopWith, ctx: &mut Context<Self>) {
        ctx.stop(reason);
        // Still running: the stop takes effect once the handler returns.
        ctx.send(&self.probe, Note("after ctx.stop"));
    }
    pub fn note(&mut self, note: Note, ctx: &mut Context<Self>) {
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
pub fn fallible(system: &System, probe: &Inbox) -> ActorRef {
    let actor = system.spawn(Fallible {
        probe: probe.actor().clone(),
    });
    probe.monitor(&actor);
    actor
}

/// After the termination notice, the actor has handled nothing more.
pub fn expect_end(probe: &Inbox, actor: &ActorRef, reason: ExitReason) {
    assert_eq!(next::<HookRan>(probe), HookRan(reason.clone()));
    let down: Down = next(probe);
    assert_eq!((down.actor, down.reason), (actor.id(), reason));
    assert!(!actor.is_alive());
    assert_empty(probe);
}

// ---------------------------------------------------------------------------
// Stop and Stopped

/// Handles `Stop` itself: counts it and goes on.
pub struct Stubborn {
    pub stops: u32,
}

impl Stubborn {
    pub fn stop(&mut self, _: Stop, ctx: &mut Context<Self>) {
        self.stops += 1;
        ctx.reply(format!("ignored stop #{}", self.stops));
    }
    pub fn ping(&mut self, Ping(n): Ping, ctx: &mut Context<Self>) {
        ctx.reply(Pong(n + 1));
    }
}

impl Actor for Stubborn {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::stop).on(Self::ping)
    }
}

/// Two message types with handlers, and a fallback for the rest.
pub struct Apple(pub u32);
pub struct Pear(pub u32);
pub struct Report;

/// Records which handler took each message, and in what order; takes
/// none until its gate opens.
pub struct Sorter {
    pub seen: Vec<String>,
    pub gate: std::sync::mpsc::Receiver<()>,
}

impl Sorter {
    pub fn apple(&mut self, Apple(n): Apple, _: &mut Context<Self>) {
        self.seen.push(format!("apple {n}"));
    }
    pub fn pear(&mut self, Pear(n): Pear, _: &mut Context<Self>) {
        self.seen.push(format!("pear {n}"));
    }
    pub fn report(&mut self, _: Report, ctx: &mut Context<Self>) {
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
