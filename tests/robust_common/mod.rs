//! What the robustness tests (`tests/robustness.rs`) and their stress
//! versions (`tests/stress_robustness.rs`) share: a message whose `Drop`
//! panics, actors that hold mail or answer calls, and the rounds both loop
//! (a few times there, for seconds here), so the two cannot drift apart.

#![allow(dead_code)]

use std::time::Duration;

use crossbeam_channel::Receiver;
use ferrotp::{Actor, ActorRef, Context, Down, Executor, Handlers, Inbox, System};

pub const WAIT: Duration = Duration::from_secs(10);

/// The text a [`Bomb`] panics with when dropped.
pub const BOMB: &str = "bomb went off in Drop";

/// A message whose `Drop` panics: no one handles it, so whoever drops it
/// meets the panic.
pub struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("{BOMB}");
    }
}

/// Handles nothing but [`Hold`] and [`Echo`]: a `Bomb` sent here is unhandled.
pub struct Holder;

/// Makes a [`Holder`] wait in its handler until the channel gives (or
/// closes), then stop with `Normal`: mail sent meanwhile is left unread.
pub struct Hold(pub Receiver<()>);

/// Answered with the same number.
pub struct Echo(pub u64);

impl Holder {
    fn hold(&mut self, Hold(release): Hold, ctx: &mut Context<Self>) {
        let _ = release.recv_timeout(WAIT);
        ctx.stop(ferrotp::ExitReason::Normal);
    }
    fn echo(&mut self, Echo(n): Echo, ctx: &mut Context<Self>) {
        ctx.reply(n);
    }
}

impl Actor for Holder {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::hold).on(Self::echo)
    }
}

/// A system on `executor`; a pool gets exactly two workers, so that two
/// lost workers would leave it with none.
pub fn system_on(executor: Executor) -> System {
    ferrotp::silence_actor_panics();
    System::builder().executor(executor).workers(2).build()
}

/// Whether a freshly spawned actor on `system` answers a call: the
/// executor still has a thread to run it.
pub fn fresh_actor_answers(system: &System) -> bool {
    let fresh = system.spawn(Holder);
    let answer = system.bridge().call::<u64, _>(&fresh, Echo(7), WAIT);
    fresh.send(ferrotp::Stop);
    answer == Ok(7)
}

/// The next `Down` in `inbox`.
pub fn next_down(inbox: &Inbox) -> Down {
    let envelope = inbox.recv(WAIT).expect("a Down within the wait");
    envelope.downcast::<Down>().expect("a Down")
}

/// The executor kept its threads: a fresh actor runs, and a pool still
/// has its two workers.
pub fn executor_intact(system: &System, executor: Executor) {
    assert!(fresh_actor_answers(system), "a fresh actor did not run");
    if executor == Executor::Pool {
        assert_eq!(system.pool_workers(), 2);
    }
}

/// Tells a reader of a shared inbox to stop reading.
pub struct Quit;

/// Has `readers` threads read `inbox` at once, each until it gets a
/// [`Quit`], while `send(i)` sends `messages` numbered messages and then one
/// `Quit` per reader. Returns how many numbered messages the readers got;
/// panics if a reader waited `WAIT` with mail waiting (a lost wake-up).
pub fn read_shared(
    readers: usize,
    messages: u64,
    recv: impl Fn() -> Result<ferrotp::Envelope, ferrotp::RecvError> + Sync,
    send: impl Fn(Option<u64>),
) -> u64 {
    let got = std::sync::atomic::AtomicU64::new(0);
    let started = std::sync::Barrier::new(readers + 1);
    std::thread::scope(|scope| {
        for _ in 0..readers {
            scope.spawn(|| {
                started.wait();
                loop {
                    let envelope = recv().expect("a reader slept while mail waited");
                    match envelope.downcast::<u64>() {
                        Ok(_) => got.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                        Err(envelope) => match envelope.downcast::<Quit>() {
                            Ok(_) => break,
                            Err(other) => panic!("unexpected {other:?}"),
                        },
                    };
                }
            });
        }
        started.wait();
        for n in 0..messages {
            send(Some(n));
        }
        for _ in 0..readers {
            send(None);
        }
    });
    got.into_inner()
}

/// One round of readers sharing an inbox: four threads read a fresh inbox
/// of `system` while `messages` numbered messages arrive; each reaches one
/// of them, and none sleeps while mail waits.
pub fn inbox_readers_round(system: &System, messages: u64) {
    let inbox = system.inbox();
    let got = read_shared(
        4,
        messages,
        || inbox.recv(WAIT),
        |n| match n {
            Some(n) => inbox.send(inbox.actor(), n),
            None => inbox.send(inbox.actor(), Quit),
        },
    );
    assert_eq!(got, messages);
}

/// One round of readers sharing a `Bridge`: four threads `recv` on a
/// fresh bridge of `system` while `forward` echoes `messages` numbered
/// messages back to it; each reply reaches one of them.
pub fn bridge_readers_round(system: &System, forward: &ActorRef, messages: u64) {
    let bridge = system.bridge();
    let got = read_shared(
        4,
        messages,
        || bridge.recv(WAIT),
        |n| match n {
            Some(n) => bridge.send(forward, Echo(n)),
            None => bridge.send(forward, Quit),
        },
    );
    assert_eq!(got, messages);
}

/// One round of a spawn racing shutdown: a thread spawns as fast as it can
/// while this one shuts the system down after `head_start` yields. Panics
/// if any spawned actor outlives the shutdown, or a thread or worker is
/// left; returns how many spawns succeeded.
pub fn spawn_racing_shutdown(executor: Executor, head_start: usize) -> usize {
    let system = system_on(executor);
    let spawner_ready = std::sync::Barrier::new(2);
    let spawned = std::thread::scope(|scope| {
        let spawner = scope.spawn(|| {
            let mut spawned = Vec::new();
            spawner_ready.wait();
            loop {
                match system.try_spawn(Holder) {
                    Ok(actor) => spawned.push(actor),
                    Err(ferrotp::SpawnError::ShuttingDown) => return spawned,
                    Err(other) => panic!("unexpected spawn error: {other}"),
                }
            }
        });
        spawner_ready.wait();
        for _ in 0..head_start {
            std::thread::yield_now();
        }
        system.shutdown(WAIT).expect("every actor stopped");
        spawner.join().unwrap()
    });
    for actor in &spawned {
        assert!(!actor.is_alive(), "{actor} outlived the shutdown");
    }
    assert!(system.actors().is_empty(), "{:?}", system.actors());
    assert_eq!((system.threads(), system.pool_workers()), (0, 0));
    spawned.len()
}

/// How long each stress test loops: `FERROTP_STRESS_SECS` seconds
/// (default 3).
pub fn stress_duration() -> Duration {
    let secs = std::env::var("FERROTP_STRESS_SECS")
        .ok()
        .and_then(|text| text.trim().parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs.max(0.0))
}

/// Answers `Echo(n)` with `n` and `Quit` with `Quit`.
pub struct Forward;
impl Forward {
    fn echo(&mut self, Echo(n): Echo, ctx: &mut Context<Self>) {
        ctx.reply(n);
    }
    fn quit(&mut self, _: Quit, ctx: &mut Context<Self>) {
        ctx.reply(Quit);
    }
}
impl Actor for Forward {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::echo).on(Self::quit)
    }
}

/// Shuts down the system it is sent, from inside an actor of another
/// system, and answers whether the shutdown succeeded.
pub struct ShutdownOther;
pub struct ShutDown(pub System);
impl ShutdownOther {
    fn shut_down(&mut self, ShutDown(other): ShutDown, ctx: &mut Context<Self>) {
        ctx.reply(other.shutdown(WAIT).is_ok());
    }
}
impl Actor for ShutdownOther {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::shut_down)
    }
}

/// System `a` is shut down by an actor of system `b` numbered like one of
/// `a`'s actors: panics unless every actor of `a` ended and its threads
/// and workers are gone.
pub fn shutdown_from_another_system(executor: Executor) {
    let a = system_on(executor);
    let b = system_on(executor);
    let a_actors: Vec<_> = (0..6).map(|_| a.spawn(Holder)).collect();
    let caller = (0..6).map(|_| b.spawn(ShutdownOther)).nth(3).unwrap();
    assert!(
        a_actors.iter().any(|x| x.id() == caller.id()),
        "the test needs an actor of `a` numbered like the caller"
    );
    let done = b
        .bridge()
        .call::<bool, _>(&caller, ShutDown(a.clone()), WAIT);
    assert_eq!(done, Ok(true));
    for actor in &a_actors {
        assert!(!actor.is_alive(), "{actor} outlived its system's shutdown");
    }
    assert_eq!((a.threads(), a.pool_workers()), (0, 0));
    b.shutdown(WAIT).unwrap();
}
