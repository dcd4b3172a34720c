//! Actors the blocking and async Bridge tests share (`tests/bridge.rs`,
//! `tests/async_bridge.rs`): both hold the Bridge to the same promises,
//! so they call the same targets.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ferrotp::{Actor, ActorRef, Context, ExitReason, Handlers, Stop, System};

pub const WAIT: Duration = Duration::from_secs(10);
/// A timeout no test should ever reach: calls that must fail "at once" are
/// given this one and must return well before it.
pub const LONG: Duration = Duration::from_secs(60);

/// Asserts that an operation begun at `started` did not wait anywhere near
/// `LONG`.
pub fn assert_prompt(started: Instant) {
    let waited = started.elapsed();
    assert!(waited < WAIT, "waited {waited:?}, as if for the timeout");
}

/// Answers a `Req` in the way it says: doubling, with the wrong type,
/// never, by dying, twice, or after a pause. One request type for all,
/// because a `multi_call` sends one type to every target.
pub struct Service;

pub enum Req {
    Double(u64),
    /// The pause makes this reply come after those of faster targets.
    SlowDouble(u64, Duration),
    WrongType,
    Ignore,
    Die,
    /// Answers, then dies: the answer must win over the end.
    DoubleThenDie(u64),
    Panic,
    /// Answer `n`, then `n + 100`: the second reply must reach no one.
    Twice(u64),
}

impl Service {
    fn request(&mut self, req: Req, ctx: &mut Context<Self>) {
        match req {
            Req::Double(n) => ctx.reply(n * 2),
            Req::SlowDouble(n, pause) => {
                thread::sleep(pause);
                ctx.reply(n * 2);
            }
            Req::WrongType => ctx.reply("not a number"),
            Req::Ignore => {}
            Req::Die => ctx.stop(ExitReason::error("gone")),
            Req::DoubleThenDie(n) => {
                ctx.reply(n * 2);
                ctx.stop(ExitReason::error("gone"));
            }
            Req::Panic => panic!("service panicked"),
            Req::Twice(n) => {
                ctx.reply(n);
                ctx.reply(n + 100);
            }
        }
    }
}

impl Actor for Service {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::request)
    }
}

/// Replies with the number it is given; for `Gated` requests, only once
/// the test opens the gate.
pub struct Gatekeeper {
    gate: mpsc::Receiver<()>,
    entered: mpsc::Sender<()>,
}
pub struct Gated(pub u64);
pub struct Open(pub u64);

impl Gatekeeper {
    fn gated(&mut self, Gated(n): Gated, ctx: &mut Context<Self>) {
        let _ = self.entered.send(());
        let _ = self.gate.recv_timeout(LONG);
        ctx.reply(n);
    }
    fn open(&mut self, Open(n): Open, ctx: &mut Context<Self>) {
        ctx.reply(n);
    }
}

impl Actor for Gatekeeper {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::gated).on(Self::open)
    }
}

/// A gatekeeper, the sender that opens its gate, and the receiver that
/// says when a `Gated` handler has begun.
pub fn gatekeeper(system: &System) -> (ActorRef, mpsc::Sender<()>, mpsc::Receiver<()>) {
    let (open, gate) = mpsc::channel();
    let (entered, entries) = mpsc::channel();
    let actor = system.spawn(Gatekeeper { gate, entered });
    (actor, open, entries)
}

/// Handles `Stop` itself and ignores it.
pub struct Unstoppable;

impl Actor for Unstoppable {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|_: &mut Self, _: Stop, _: &mut Context<Self>| {})
    }
}
