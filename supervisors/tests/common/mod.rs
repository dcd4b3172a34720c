//! Test workers that report their lifecycle on a channel the test owns, and
//! helpers that wait for events (never for time).

#![allow(dead_code)]

pub mod mid_restart;

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ferrotp::{
    Activity, Actor, ActorId, ActorRef, Context, Down, ExitReason, Handlers, Inbox, Stopped, System,
};
use ferrotp_supervisors::{ChildInfo, ChildSpec};

/// How long a test waits for an event before it fails.
pub const WAIT: Duration = Duration::from_secs(10);
/// An intensity period long enough that counts, not timing, decide.
pub const HOUR: Duration = Duration::from_secs(3600);

/// What a test worker reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    /// Its `started` hook ran.
    Started { tag: String, actor: ActorId },
    /// Its `stopped` hook ran.
    Stopped {
        tag: String,
        actor: ActorId,
        reason: ExitReason,
    },
    /// It received the exit signal `Shutdown` while trapping exits.
    ShutdownRequested { tag: String },
}

impl Ev {
    pub fn tag(&self) -> &str {
        match self {
            Ev::Started { tag, .. } | Ev::Stopped { tag, .. } | Ev::ShutdownRequested { tag } => {
                tag
            }
        }
    }
}

/// The test's end of the event channel.
pub struct Probe {
    tx: Sender<Ev>,
    rx: Receiver<Ev>,
}

impl Default for Probe {
    fn default() -> Self {
        Self::new()
    }
}

impl Probe {
    pub fn new() -> Self {
        let (tx, rx) = channel();
        Probe { tx, rx }
    }

    pub fn sender(&self) -> Sender<Ev> {
        self.tx.clone()
    }

    /// The next event, waiting up to [`WAIT`].
    pub fn next(&self) -> Ev {
        match self.rx.recv_timeout(WAIT) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => panic!("no event within {WAIT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("event channel closed"),
        }
    }

    /// The next event must be `tag` starting; returns its actor id.
    pub fn started(&self, tag: &str) -> ActorId {
        match self.next() {
            Ev::Started { tag: t, actor } if t == tag => actor,
            other => panic!("expected `{tag}` to start, got {other:?}"),
        }
    }

    /// The next event must be `tag` stopping with `reason`.
    pub fn stopped(&self, tag: &str, reason: ExitReason) -> ActorId {
        match self.next() {
            Ev::Stopped {
                tag: t,
                actor,
                reason: r,
            } if t == tag && r == reason => actor,
            other => panic!("expected `{tag}` to stop with {reason}, got {other:?}"),
        }
    }

    /// Events already delivered, without waiting.
    pub fn pending(&self) -> Vec<Ev> {
        self.rx.try_iter().collect()
    }

    /// Nothing more was delivered (checked after a synchronous round trip,
    /// so anything the supervisor did before answering is already here).
    pub fn assert_quiet(&self) {
        let pending = self.pending();
        assert!(pending.is_empty(), "unexpected events: {pending:?}");
    }
}

/// How a test worker behaves.
#[derive(Clone, Default)]
pub struct Behaviour {
    /// Trap exits; on the exit signal `Shutdown` report `ShutdownRequested`
    /// and then stop, unless `ignore_shutdown`.
    pub trap_exits: bool,
    /// When trapping, ignore the exit signal `Shutdown` (a stuck child).
    pub ignore_shutdown: bool,
    /// When trapping, wait for this gate to open before stopping.
    pub gate: Option<Gate>,
}

/// A one-shot gate a test opens.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn open(&self) {
        let (open, cv) = &*self.0;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }

    pub fn wait(&self) {
        let (open, cv) = &*self.0;
        let mut guard = open.lock().unwrap();
        while !*guard {
            guard = cv.wait(guard).unwrap();
        }
    }
}

/// Increments the worker's counter.
pub struct Bump;
/// Answers the worker's counter (`u64`).
pub struct Get;
/// Makes the handler fail: the worker terminates with `Error("crash")`.
pub struct Crash;
/// Makes the handler panic: the worker terminates with `Panic("boom")`.
pub struct Panic;
/// Makes the worker stop with this reason.
pub struct Quit(pub ExitReason);

/// A worker that reports its lifecycle to a [`Probe`].
pub struct Worker {
    tag: String,
    events: Sender<Ev>,
    count: u64,
    behaviour: Behaviour,
}

impl Worker {
    pub fn new(tag: &str, events: Sender<Ev>, behaviour: Behaviour) -> Self {
        Worker {
            tag: tag.to_string(),
            events,
            count: 0,
            behaviour,
        }
    }

    fn bump(&mut self, _: Bump, _ctx: &mut Context<Self>) {
        self.count += 1;
    }

    fn get(&mut self, _: Get, ctx: &mut Context<Self>) {
        ctx.reply(self.count);
    }

    fn crash(&mut self, _: Crash, _ctx: &mut Context<Self>) -> Result<(), String> {
        Err("crash".to_string())
    }

    fn panic(&mut self, _: Panic, _ctx: &mut Context<Self>) {
        panic!("boom");
    }

    fn quit(&mut self, Quit(reason): Quit, ctx: &mut Context<Self>) {
        ctx.stop(reason);
    }

    fn exit_signal(&mut self, stopped: Stopped, ctx: &mut Context<Self>) {
        if stopped.reason != ExitReason::Shutdown {
            ctx.stop(stopped.reason);
            return;
        }
        let _ = self.events.send(Ev::ShutdownRequested {
            tag: self.tag.clone(),
        });
        if self.behaviour.ignore_shutdown {
            return;
        }
        if let Some(gate) = &self.behaviour.gate {
            gate.wait();
        }
        ctx.stop(ExitReason::Shutdown);
    }
}

impl Actor for Worker {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::bump)
            .on(Self::get)
            .on(Self::crash)
            .on(Self::panic)
            .on(Self::quit)
            .on(Self::exit_signal)
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if self.behaviour.trap_exits {
            ctx.trap_exit(true);
        }
        let _ = self.events.send(Ev::Started {
            tag: self.tag.clone(),
            actor: ctx.myself().id(),
        });
        Ok(())
    }

    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        let _ = self.events.send(Ev::Stopped {
            tag: self.tag.clone(),
            actor: ctx.myself().id(),
            reason: reason.clone(),
        });
    }
}

/// A permanent worker child with id `tag`, reporting to `probe`.
pub fn worker(tag: &str, probe: &Probe) -> ChildSpec {
    worker_with(tag, probe, Behaviour::default())
}

pub fn worker_with(tag: &str, probe: &Probe, behaviour: Behaviour) -> ChildSpec {
    let events = probe.sender();
    let owned = tag.to_string();
    ChildSpec::worker(tag, move || {
        Worker::new(&owned, events.clone(), behaviour.clone())
    })
}

/// A worker whose `started` fails with `reason` (it reports nothing).
pub struct FailsToStart(pub ExitReason);

impl Actor for FailsToStart {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }

    fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(self.0.clone())
    }
}

/// Monitors `actor`, sends it `msg`, and waits for its end; returns the
/// reason. Once this returns, every supervisor linked to it has the
/// `Stopped` in its mailbox (links fire before monitors), so the next call
/// to it is answered after it handled the exit.
pub fn end_with<M: Send + 'static>(system: &System, actor: &ActorRef, msg: M) -> ExitReason {
    let inbox = system.inbox();
    let monitor = inbox.monitor(actor);
    actor.send(msg);
    wait_down(&inbox, monitor)
}

/// Kills `actor` and waits for its end (see [`end_with`]).
pub fn kill(system: &System, actor: &ActorRef) -> ExitReason {
    let inbox = system.inbox();
    let monitor = inbox.monitor(actor);
    actor.kill();
    wait_down(&inbox, monitor)
}

/// Waits for the `Down` of `monitor`.
pub fn wait_down(inbox: &Inbox, monitor: ferrotp::MonitorRef) -> ExitReason {
    loop {
        let envelope = inbox
            .recv(WAIT)
            .unwrap_or_else(|_| panic!("no Down within {WAIT:?}"));
        if let Ok(down) = envelope.downcast::<Down>() {
            if down.monitor == monitor {
                return down.reason;
            }
        }
    }
}

/// The running actor of child `id`.
pub fn actor_of(children: &[ChildInfo], id: &str) -> ActorRef {
    children
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no child `{id}` in {children:?}"))
        .actor
        .clone()
        .unwrap_or_else(|| panic!("child `{id}` is not running"))
}

/// `(id, actor id)` of each child, in order.
pub fn ids(children: &[ChildInfo]) -> Vec<(String, Option<ActorId>)> {
    children
        .iter()
        .map(|c| (c.id.clone(), c.actor.as_ref().map(ActorRef::id)))
        .collect()
}

/// The worker's counter.
pub fn count(system: &System, actor: &ActorRef) -> u64 {
    system.bridge().call(actor, Get, WAIT).expect("Get")
}

/// How many pieces of mail `actor` has handled, once it is idle with an
/// empty mailbox (so the count includes the handler it was finishing).
pub fn settled(system: &System, actor: &ActorRef) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let info = system.actor_info(actor.id()).expect("alive");
        if info.activity == Activity::Idle && info.mailbox_len == 0 {
            return info.messages_handled;
        }
        assert!(Instant::now() < deadline, "not idle within {WAIT:?}");
        std::thread::yield_now();
    }
}
