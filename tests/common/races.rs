//! The scenarios of issue 14's races, one iteration each: `tests/races.rs`
//! runs each a fixed number of times as a regression test, and
//! `tests/stress_races.rs` loops them for `FERROTP_STRESS_SECS`.
//! Each asserts what the README promises and panics on the first breach.

use std::sync::mpsc;
use std::time::Duration;

use ferrotp::{
    Actor, ActorRef, Context, Down, Executor, ExitReason, Handlers, Inbox, SpawnError,
    SpawnOptions, Stop, Stopped, System,
};

use super::common::{answers_ping, next, spawn_puppet, tell, Job, WAIT};

/// An actor that only answers `Stop` (the runtime's default).
pub struct Idle;

impl Actor for Idle {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
}

/// `Stopped` or `Down`, whichever arrives, from `inbox`.
pub enum Notice {
    Stopped(Stopped),
    Down(Down),
}

pub fn notice(inbox: &Inbox) -> Notice {
    let envelope = inbox.recv(WAIT).expect("a Stopped or a Down in time");
    let got = envelope.type_name();
    match envelope.downcast::<Stopped>() {
        Ok(stopped) => Notice::Stopped(stopped),
        Err(envelope) => match envelope.downcast::<Down>() {
            Ok(down) => Notice::Down(down),
            Err(_) => panic!("expected a Stopped or a Down, got a {got}"),
        },
    }
}

/// Race 1: a `kill` that comes just after an actor died of a `Stop` must
/// not void the `Stopped` answer its dying thread still sends.
pub fn late_kill_keeps_the_stopped_answer(system: &System) {
    let inbox = system.inbox();
    let idle = system.spawn(Idle);
    let monitor = inbox.monitor(&idle);
    std::thread::scope(|scope| {
        let target = idle.clone();
        scope.spawn(move || {
            while target.is_alive() {
                std::hint::spin_loop();
            }
            target.kill();
        });
        inbox.send(&idle, Stop);
        let (mut stopped, mut down) = (None, None);
        while stopped.is_none() || down.is_none() {
            match notice(&inbox) {
                Notice::Stopped(s) => assert!(stopped.replace(s).is_none(), "two Stopped"),
                Notice::Down(d) => assert!(down.replace(d).is_none(), "two Down"),
            }
        }
        let (stopped, down) = (stopped.unwrap(), down.unwrap());
        assert_eq!(
            (stopped.actor, stopped.reason),
            (idle.id(), ExitReason::Normal)
        );
        assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Normal));
    });
}

/// Blocks its `stopped` hook until the gate opens.
pub struct SlowStop {
    pub entered: mpsc::Sender<()>,
    pub gate: mpsc::Receiver<()>,
}

impl Actor for SlowStop {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
    fn stopped(&mut self, _reason: &ExitReason, _ctx: &mut Context<Self>) {
        let _ = self.entered.send(());
        let _ = self.gate.recv();
    }
}

/// Race 1, the other side: a kill that wins while the `stopped` hook of a
/// `Stop` runs answers the `Stop`'s sender itself, with `Killed`, at once.
pub fn kill_in_the_stopped_hook_answers_the_stopper(system: &System) {
    let inbox = system.inbox();
    let (entered_tx, entered) = mpsc::channel();
    let (open, gate) = mpsc::channel();
    let actor = system.spawn(SlowStop {
        entered: entered_tx,
        gate,
    });
    let monitor = inbox.monitor(&actor);
    inbox.send(&actor, Stop);
    entered.recv_timeout(WAIT).expect("the stopped hook runs");
    actor.kill();
    let (mut stopped, mut down) = (None, None);
    while stopped.is_none() || down.is_none() {
        match notice(&inbox) {
            Notice::Stopped(s) => assert!(stopped.replace(s).is_none(), "two Stopped"),
            Notice::Down(d) => assert!(down.replace(d).is_none(), "two Down"),
        }
    }
    let (stopped, down) = (stopped.unwrap(), down.unwrap());
    assert_eq!(
        (stopped.actor, stopped.reason),
        (actor.id(), ExitReason::Killed)
    );
    assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Killed));
    let _ = open.send(());
    assert!(
        inbox.recv(Duration::from_millis(20)).is_err(),
        "a late notice"
    );
}

/// Race 2: unlinking and linking again to an actor that died meanwhile
/// yields `NoProc`, never the old link's signal.
pub fn relink_after_unlink_yields_noproc(system: &System) {
    let inbox = system.inbox();
    let watch = system.inbox();
    let b = spawn_puppet(system, &watch, false);
    inbox.link(&b);
    let monitor = watch.monitor(&b);
    tell(&b, |ctx| ctx.stop(ExitReason::error("boom")));
    // Sent after the link's signal: that signal now waits in `inbox`.
    let (down, _) = next::<Down>(&watch);
    assert_eq!(down.monitor, monitor);
    inbox.unlink(&b);
    inbox.link(&b);
    let (stopped, _) = next::<Stopped>(&inbox);
    assert_eq!(
        (stopped.actor, stopped.reason),
        (b.id(), ExitReason::NoProc)
    );
    assert!(inbox.try_recv().is_none(), "the old link's signal came too");
}

/// Race 2 inside an actor: a trapping actor unlinks and links again, in
/// one handler, to an actor whose exit signal waits in its mailbox.
pub fn an_actor_relinking_gets_noproc(system: &System) {
    let report = system.inbox();
    let watch = system.inbox();
    let a = spawn_puppet(system, &report, true);
    let b = spawn_puppet(system, &watch, false);
    let b2 = b.clone();
    let (linked_tx, linked) = mpsc::channel();
    tell(&a, move |ctx| {
        ctx.link(&b2);
        linked_tx.send(()).unwrap();
    });
    linked.recv_timeout(WAIT).expect("a links to b");
    let monitor = watch.monitor(&b);
    // Hold `a` in a handler while `b` dies, then relink from that handler.
    let (open, gate) = mpsc::channel::<()>();
    let b2 = b.clone();
    tell(&a, move |ctx| {
        let _ = gate.recv();
        ctx.unlink(&b2);
        ctx.link(&b2);
    });
    tell(&b, |ctx| ctx.stop(ExitReason::error("boom")));
    let (down, _) = next::<Down>(&watch);
    assert_eq!(down.monitor, monitor);
    open.send(()).unwrap();
    let (stopped, from) = next::<Stopped>(&report);
    assert_eq!(from, Some(a.id()));
    assert_eq!(
        (stopped.actor, stopped.reason),
        (b.id(), ExitReason::NoProc)
    );
    let bridge = system.bridge();
    assert!(answers_ping(&bridge, &a));
    assert!(
        report.try_recv().is_none(),
        "the old link's signal came too"
    );
}

/// Blocks in `started` until the gate opens; sends its address first.
pub struct StuckStart {
    pub me: mpsc::Sender<ActorRef>,
    pub gate: mpsc::Receiver<()>,
}

impl Actor for StuckStart {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let _ = self.me.send(ctx.myself().clone());
        let _ = self.gate.recv();
        Ok(())
    }
}

/// Pool workers left in the stuck `started` (none on threads).
fn stuck_expected(system: &System) -> usize {
    usize::from(system.executor() == Executor::Pool)
}

/// Race 3 from plain code: `kill` of a child stuck in `started` answers
/// its spawner with `StartFailed(Killed)` at once, and a pool worker takes
/// the stuck one's place.
pub fn kill_in_started_frees_a_plain_spawner(system: &System) {
    let (me_tx, me) = mpsc::channel();
    let (open, gate) = mpsc::channel::<()>();
    let (result_tx, result) = mpsc::channel();
    let spawner_system = system.clone();
    let spawner = std::thread::spawn(move || {
        let child = StuckStart { me: me_tx, gate };
        let spawned = spawner_system.spawn_with(child, SpawnOptions::new().await_started());
        result_tx.send(spawned.map(|_| ())).unwrap();
    });
    let child = me.recv_timeout(WAIT).expect("the child's started runs");
    child.kill();
    let spawned = result.recv_timeout(WAIT).expect("the spawner is freed");
    assert!(
        matches!(spawned, Err(SpawnError::StartFailed(ExitReason::Killed))),
        "{spawned:?}"
    );
    spawner.join().unwrap();
    // The pool still runs actors while `started` stays stuck.
    assert_eq!(system.stuck_workers(), stuck_expected(system));
    let inbox = system.inbox();
    let fresh = spawn_puppet(system, &inbox, false);
    assert!(answers_ping(&system.bridge(), &fresh));
    let _ = open.send(());
    // A stress loop runs this thousands of times: on threads, an actor
    // left alive each round is a thread left, up to the process's limit.
    fresh.kill();
}

/// Race 3 from an actor on a one-worker pool: the spawner (a pooled actor)
/// is freed at once, and other actors keep running.
pub fn kill_in_started_frees_an_actor_spawner(system: &System) {
    let inbox = system.inbox();
    let parent = spawn_puppet(system, &inbox, false);
    let (me_tx, me) = mpsc::channel();
    let (open, gate) = mpsc::channel::<()>();
    let report = inbox.actor().clone();
    tell(&parent, move |ctx| {
        let child = StuckStart { me: me_tx, gate };
        let spawned = ctx.spawn_with(child, SpawnOptions::new().await_started());
        ctx.send(&report, spawned.map(|_| ()));
    });
    let child = me.recv_timeout(WAIT).expect("the child's started runs");
    child.kill();
    let (spawned, from) = next::<Result<(), SpawnError>>(&inbox);
    assert_eq!(from, Some(parent.id()));
    assert!(
        matches!(spawned, Err(SpawnError::StartFailed(ExitReason::Killed))),
        "{spawned:?}"
    );
    assert_eq!(system.stuck_workers(), stuck_expected(system));
    let bridge = system.bridge();
    assert!(answers_ping(&bridge, &parent));
    let fresh = spawn_puppet(system, &inbox, false);
    assert!(answers_ping(&bridge, &fresh));
    let _ = open.send(());
    // As above: nothing of the round is left alive.
    fresh.kill();
    parent.kill();
}

/// What the job M1 sends to the test when B handles it.
pub struct Handled(pub &'static str);

/// What B did, in order, in [`toggle_trap_while_a_signal_waits`].
#[derive(Debug, PartialEq)]
pub enum Seen {
    M1,
    Stopped(ExitReason),
}

/// Race 4: B does not trap exits when A (linked) sends it M1 and dies; B,
/// still in one handler, turns trapping on (`trap_on`) — or B traps and
/// turns it off (`!trap_on`). Returns what B handled, in order, and how B
/// ended (`None`: alive), once B has acted on the signal.
pub fn toggle_trap_while_a_signal_waits(
    system: &System,
    trap_on: bool,
    reason: ExitReason,
) -> (Vec<Seen>, Option<ExitReason>) {
    let report = system.inbox();
    let watch = system.inbox();
    let b = spawn_puppet(system, &report, !trap_on);
    let b_monitor = watch.monitor(&b);
    let a = spawn_puppet(system, &watch, false);
    let (linked_tx, linked) = mpsc::channel();
    let b2 = b.clone();
    tell(&a, move |ctx| {
        ctx.link(&b2);
        linked_tx.send(()).unwrap();
    });
    linked.recv_timeout(WAIT).expect("a links to b");
    let a_monitor = watch.monitor(&a);

    let (entered_tx, entered) = mpsc::channel();
    let (open, gate) = mpsc::channel::<()>();
    tell(&b, move |ctx| {
        entered_tx.send(()).unwrap();
        let _ = gate.recv();
        ctx.trap_exit(trap_on);
    });
    entered.recv_timeout(WAIT).expect("b's handler runs");
    let to_report = report.actor().clone();
    let b2 = b.clone();
    tell(&a, move |ctx| {
        let m1 = Job(Box::new(move |ctx| ctx.send(&to_report, Handled("M1"))));
        ctx.send(&b2, m1);
        ctx.stop(reason);
    });
    let (down, _) = next::<Down>(&watch);
    assert_eq!(down.monitor, a_monitor);
    open.send(()).unwrap();

    // B acts on the signal; a ping afterwards tells when (if B lives).
    let bridge = system.bridge();
    let end = match answers_ping(&bridge, &b) {
        true => None,
        false => {
            let (down, _) = next::<Down>(&watch);
            assert_eq!(down.monitor, b_monitor);
            Some(down.reason)
        }
    };
    let mut seen = Vec::new();
    while let Some(envelope) = report.try_recv() {
        let got = envelope.type_name();
        match envelope.downcast::<Handled>() {
            Ok(Handled(_)) => seen.push(Seen::M1),
            Err(envelope) => match envelope.downcast::<Stopped>() {
                Ok(s) => {
                    assert_eq!(s.actor, a.id());
                    seen.push(Seen::Stopped(s.reason));
                }
                Err(_) => panic!("unexpected {got}"),
            },
        }
    }
    (seen, end)
}
