//! Helpers shared by several integration tests: `Puppet`, a scriptable
//! actor, and the functions that drive it.
//!
//! The kernel's tests run on both executors: each test binary wraps its
//! tests in `ferrotp::on_each_executor!`, which compiles them into
//! `mod pool` and `mod threads`, each with its own `new_system()`. The few
//! tests about one executor only (thread counts, a thread the OS refuses)
//! say so and build their system explicitly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotp::{
    Actor, ActorId, ActorRef, Bridge, Context, Down, ExitReason, Handlers, Inbox, SpawnOptions,
    Stopped, System,
};

pub const WAIT: Duration = Duration::from_secs(10);

/// A piece of code a `Puppet` runs inside one of its handlers.
pub struct Job(pub Task);

pub type Task = Box<dyn FnOnce(&mut Context<Puppet>) + Send>;

pub struct Ping;
#[derive(Debug, PartialEq)]
pub struct Pong;

/// Runs jobs, answers pings, and forwards every `Stopped` and `Down` it
/// handles to `report` (with itself as the sender), in the order it
/// handles them.
pub struct Puppet {
    pub report: ActorRef,
    /// Set by the `stopped` hook.
    pub stopped_ran: Arc<AtomicBool>,
}

impl Puppet {
    fn job(&mut self, Job(job): Job, ctx: &mut Context<Self>) {
        job(ctx);
    }
    fn ping(&mut self, _: Ping, ctx: &mut Context<Self>) {
        ctx.reply(Pong);
    }
    fn on_stopped(&mut self, stopped: Stopped, ctx: &mut Context<Self>) {
        ctx.send(&self.report, stopped);
    }
    fn on_down(&mut self, down: Down, ctx: &mut Context<Self>) {
        ctx.send(&self.report, down);
    }
}

impl Actor for Puppet {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::job)
            .on(Self::ping)
            .on(Self::on_stopped)
            .on(Self::on_down)
    }
    fn stopped(&mut self, _reason: &ExitReason, _ctx: &mut Context<Self>) {
        self.stopped_ran.store(true, Ordering::SeqCst);
    }
}

/// A puppet reporting to `inbox`.
pub fn puppet(inbox: &Inbox) -> Puppet {
    Puppet {
        report: inbox.actor().clone(),
        stopped_ran: Arc::new(AtomicBool::new(false)),
    }
}

/// Spawns a puppet reporting to `inbox`, trapping exits or not.
pub fn spawn_puppet(system: &System, inbox: &Inbox, trap: bool) -> ActorRef {
    system
        .spawn_with(puppet(inbox), SpawnOptions::new().trap_exit(trap))
        .expect("spawn")
}

/// Runs `f` inside `actor` and returns its result once the handler ran.
pub fn ask<R: Send + 'static>(
    bridge: &Bridge,
    actor: &ActorRef,
    f: impl FnOnce(&mut Context<Puppet>) -> R + Send + 'static,
) -> R {
    let job = Job(Box::new(move |ctx| {
        let result = f(ctx);
        ctx.reply(result);
    }));
    bridge.call(actor, job, WAIT).expect("the job's reply")
}

/// Has `actor` run `f` later, without waiting for it.
pub fn tell(actor: &ActorRef, f: impl FnOnce(&mut Context<Puppet>) + Send + 'static) {
    actor.send(Job(Box::new(f)));
}

pub fn crash(actor: &ActorRef) {
    tell(actor, |_| panic!("crash"));
}

/// Whether `actor` answers a ping. Because exit signals are acted on
/// before queued messages, a `true` means every exit signal queued before
/// the ping was handled and did not terminate it.
pub fn answers_ping(bridge: &Bridge, actor: &ActorRef) -> bool {
    bridge.call::<Pong, _>(actor, Ping, WAIT).is_ok()
}

/// The next message in `inbox`, which must be a `T`; returns it and its sender.
pub fn next<T: 'static>(inbox: &Inbox) -> (T, Option<ActorId>) {
    let envelope = inbox
        .recv(WAIT)
        .unwrap_or_else(|_| panic!("no {} within {WAIT:?}", std::any::type_name::<T>()));
    let sender = envelope.sender().map(|s| s.id());
    let got = envelope.type_name();
    match envelope.downcast::<T>() {
        Ok(value) => (value, sender),
        Err(_) => panic!("expected a {}, got a {got}", std::any::type_name::<T>()),
    }
}
