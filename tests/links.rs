//! Links and exit signals (issue 3, semantics 1–5): propagation of
//! abnormal exits along chains and rings, `Normal` and `Shutdown`,
//! trapping, and ordering against earlier messages and against a backlog.
//! Making and undoing links and exit signals sent by hand are in
//! `linking.rs`.
//!
//! Every wait is on an event (a reply, a `Down`, a `Stopped`, a channel)
//! with a generous bound; no test sleeps to guess timing.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[allow(dead_code)]
mod common;
#[allow(dead_code)]
#[path = "common/links_helpers.rs"]
mod helpers;

use helpers::*;

use common::{answers_ping, ask, crash, next, puppet, tell, WAIT};
use ferrotp::{
    Actor, ActorId, ActorRef, Context, Down, ExitReason, Handlers, Inbox, SpawnOptions, Stop,
    Stopped, System,
};

/// The chain and the ring use thousands of threads (on `Executor::Threads`);
/// running them one at a time keeps the binary well under the process's
/// thread and map limits.
static HEAVY: Mutex<()> = Mutex::new(());

fn heavy() -> MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

// ---- 1. abnormal exits propagate ----

/// A chain member: counts its own terminations.
struct Member {
    terminations: Arc<Vec<AtomicU32>>,
    index: usize,
}

impl Member {
    fn link(&mut self, Link(other): Link, ctx: &mut Context<Self>) {
        ctx.link(&other);
        ctx.reply(());
    }
    fn crash(&mut self, _: Crash, _ctx: &mut Context<Self>) {
        panic!("crash");
    }
}

struct Link(ActorRef);
struct Crash;

impl Actor for Member {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::link).on(Self::crash)
    }
    fn stopped(&mut self, _reason: &ExitReason, _ctx: &mut Context<Self>) {
        self.terminations[self.index].fetch_add(1, Ordering::SeqCst);
    }
}

/// Spawns `n` members, each linked to the previous one before it runs,
/// all monitored by `inbox`, on small stacks: a runtime that recursed
/// along the links would overflow them.
fn spawn_chain(system: &System, inbox: &Inbox, n: usize) -> (Vec<ActorRef>, Arc<Vec<AtomicU32>>) {
    let terminations: Arc<Vec<AtomicU32>> = Arc::new((0..n).map(|_| AtomicU32::new(0)).collect());
    let mut members: Vec<ActorRef> = Vec::with_capacity(n);
    for index in 0..n {
        let mut options = SpawnOptions::new();
        if let Some(previous) = members.last() {
            options = options.link(previous);
        }
        let member = Member {
            terminations: terminations.clone(),
            index,
        };
        let member = system.spawn_with(member, options).expect("spawn a member");
        inbox.monitor(&member);
        members.push(member);
    }
    (members, terminations)
}

/// Waits for one `Down` per member, each with `reason`, each member once.
fn expect_all_down(inbox: &Inbox, members: &[ActorRef], reason: &ExitReason, within: Duration) {
    let deadline = Instant::now() + within;
    let expected: HashSet<ActorId> = members.iter().map(|m| m.id()).collect();
    let mut seen = HashSet::new();
    while seen.len() < members.len() {
        let envelope = inbox.recv_deadline(deadline).unwrap_or_else(|_| {
            panic!(
                "only {} of {} members terminated",
                seen.len(),
                members.len()
            )
        });
        let down: Down = envelope.downcast().expect("only Downs arrive here");
        assert_eq!(&down.reason, reason);
        assert!(expected.contains(&down.actor), "a Down about a stranger");
        assert!(seen.insert(down.actor), "{} terminated twice", down.actor);
    }
}

fn assert_each_terminated_once(terminations: &[AtomicU32]) {
    for (index, count) in terminations.iter().enumerate() {
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "member {index}'s stopped hook"
        );
    }
}

struct FailsAtStart;
impl Actor for FailsAtStart {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
    fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        panic!("failed to start");
    }
}

// ---- 4. trapping: Stopped through the handler, in order ----

/// Something the dying actor sent before it died.
#[derive(Debug, PartialEq)]
struct Last;

/// Blocks the handling actor until the sender side sends or hangs up.
struct Hold(mpsc::Receiver<()>);

/// Traps exits (when spawned so) and forwards `Last` and `Stopped` to `report`.
struct Forwarder {
    report: ActorRef,
}

impl Forwarder {
    fn hold(&mut self, Hold(gate): Hold, _ctx: &mut Context<Self>) {
        let _ = gate.recv();
    }
    fn last(&mut self, last: Last, ctx: &mut Context<Self>) {
        ctx.send(&self.report, last);
    }
    fn stopped(&mut self, stopped: Stopped, ctx: &mut Context<Self>) {
        ctx.send(&self.report, stopped);
    }
}

impl Actor for Forwarder {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::hold)
            .on(Self::last)
            .on(Self::stopped)
    }
}

// ---- 5. an exit signal overtakes the backlog ----

struct Work;
/// Tells the test the backlog actor is inside its first handler.
struct Entered;
/// Tells the test that handler ran to its end.
struct Leaving;

/// Counts the `Work` it handles; its first handler waits on a gate.
struct Backlogged {
    report: ActorRef,
    handled: Arc<AtomicUsize>,
}

impl Backlogged {
    fn hold(&mut self, Hold(gate): Hold, ctx: &mut Context<Self>) {
        ctx.send(&self.report, Entered);
        let _ = gate.recv();
        ctx.send(&self.report, Leaving);
    }
    fn work(&mut self, _: Work, _ctx: &mut Context<Self>) {
        self.handled.fetch_add(1, Ordering::SeqCst);
    }
}

impl Actor for Backlogged {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::hold).on(Self::work)
    }
}

/// Puts a non-trapping actor of `system` inside a held handler with
/// 100,000 messages behind it, lets `signal` send it an exit signal,
/// releases the handler, and returns the reason it died with and how much
/// `Work` it handled.
fn die_with_backlog(
    system: &System,
    signal: impl FnOnce(&System, &Inbox, &ActorRef),
) -> (ExitReason, usize) {
    const BACKLOG: usize = 100_000;
    let inbox = system.inbox();
    let handled = Arc::new(AtomicUsize::new(0));
    let actor = system.spawn(Backlogged {
        report: inbox.actor().clone(),
        handled: handled.clone(),
    });
    let monitor = inbox.monitor(&actor);
    let (release, gate) = mpsc::channel::<()>();
    actor.send(Hold(gate));
    next::<Entered>(&inbox);
    for _ in 0..BACKLOG {
        actor.send(Work);
    }
    assert!(actor.info().mailbox_len >= BACKLOG);
    signal(system, &inbox, &actor);
    release.send(()).unwrap();
    // The running handler is not interrupted: it finishes first.
    next::<Leaving>(&inbox);
    let down = loop {
        let down = next_down(&inbox);
        if down.monitor == monitor {
            break down;
        }
    };
    (down.reason, handled.load(Ordering::SeqCst))
}

ferrotp::on_each_executor! {
    // ---- 1. abnormal exits propagate ----

    #[test]
    fn abnormal_exit_terminates_linked_actors_and_their_links_fire_in_turn() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let a = spawn_probe(&system, &inbox, false);
        let b = spawn_probe(&system, &inbox, false);
        let c = spawn_probe(&system, &inbox, false);
        a_crash_kills_the_chain(&bridge, &inbox, [&a, &b, &c]);
    }

    #[test]
    fn a_chain_of_10000_linked_actors_terminates_each_exactly_once() {
        ferrotp::silence_actor_panics();
        let _heavy = heavy();
        const N: usize = 10_000;
        let system = System::builder()
            .executor(EXECUTOR)
            .stack_size(128 * 1024)
            .build();
        let inbox = system.inbox();
        let (members, terminations) = spawn_chain(&system, &inbox, N);
        // From the middle, so the failure travels both ways.
        members[N / 2].send(Crash);
        expect_all_down(&inbox, &members, &panic_reason(), Duration::from_secs(120));
        assert_each_terminated_once(&terminations);
        let late = settle(&system, &inbox);
        assert!(
            late.is_empty(),
            "{} more notifications after the chain ended",
            late.len()
        );
        assert_each_terminated_once(&terminations);
    }

    #[test]
    fn a_ring_of_1000_linked_actors_terminates_each_exactly_once() {
        ferrotp::silence_actor_panics();
        let _heavy = heavy();
        const N: usize = 1_000;
        let system = System::builder()
            .executor(EXECUTOR)
            .stack_size(128 * 1024)
            .build();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let (members, terminations) = spawn_chain(&system, &inbox, N);
        // Close the ring: the last member links to the first.
        bridge
            .call::<(), _>(&members[N - 1], Link(members[0].clone()), WAIT)
            .expect("close the ring");
        assert!(members[0].info().links.contains(&members[N - 1].id()));
        members[0].send(Crash);
        expect_all_down(&inbox, &members, &panic_reason(), Duration::from_secs(60));
        assert_each_terminated_once(&terminations);
        let late = settle(&system, &inbox);
        assert!(
            late.is_empty(),
            "{} more notifications after the ring ended",
            late.len()
        );
        assert_each_terminated_once(&terminations);
    }

    #[test]
    fn spawn_link_links_before_the_child_runs() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let parent = spawn_probe(&system, &inbox, false);
        // The child fails in `started`, before any message. Had the link been
        // made after the child ran, the parent would see `NoProc` (or nothing).
        ask(&bridge, &parent, |ctx| {
            ctx.spawn_link(FailsAtStart);
        });
        assert_eq!(
            reason_of(&inbox, &parent),
            ExitReason::Panic("failed to start".into())
        );
    }

    // ---- 2. Normal does not propagate to actors that do not trap ----

    #[test]
    fn normal_exit_leaves_non_trapping_linked_actors_alive_and_tells_trapping_ones() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let a = spawn_probe(&system, &inbox, false);
        let plain = spawn_probe(&system, &inbox, false);
        let trapping = spawn_probe(&system, &inbox, true);
        for linked in [&plain, &trapping] {
            let a = a.clone();
            ask(&bridge, linked, move |ctx| ctx.link(&a));
        }
        let stopped = bridge.stop(std::slice::from_ref(&a), WAIT);
        assert_eq!(stopped[0].as_ref().unwrap().reason, ExitReason::Normal);

        // The trapping actor is told, through its handler.
        let mut saw_stopped = false;
        let mut saw_down = false;
        while !(saw_stopped && saw_down) {
            let envelope = inbox.recv(WAIT).expect("the Stopped and the Down about a");
            match envelope.downcast::<Stopped>() {
                Ok(stopped) => {
                    assert_eq!(
                        stopped,
                        Stopped {
                            actor: a.id(),
                            reason: ExitReason::Normal
                        }
                    );
                    saw_stopped = true;
                }
                Err(envelope) => {
                    let down: Down = envelope.downcast().expect("a Down");
                    assert_eq!((down.actor, down.reason), (a.id(), ExitReason::Normal));
                    saw_down = true;
                }
            }
        }
        // The exit signal reached `plain` before the Down reached us, and it is
        // acted on before the ping: it did not terminate `plain`.
        assert!(
            answers_ping(&bridge, &plain),
            "Normal killed a non-trapping actor"
        );
        assert!(answers_ping(&bridge, &trapping));
        assert!(
            plain.info().links.is_empty(),
            "the link to a dead actor remains"
        );
        assert!(trapping.info().links.is_empty());
    }

    // ---- 3. Shutdown is abnormal for links ----

    #[test]
    fn shutdown_terminates_non_trapping_linked_actors_with_shutdown() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let a = spawn_probe(&system, &inbox, false);
        let plain = spawn_probe(&system, &inbox, false);
        let trapping = spawn_probe(&system, &inbox, true);
        for linked in [&plain, &trapping] {
            let a = a.clone();
            ask(&bridge, linked, move |ctx| ctx.link(&a));
        }
        tell(&a, |ctx| ctx.stop(ExitReason::Shutdown));

        let mut downs = Vec::new();
        let mut stopped = Vec::new();
        while downs.len() < 2 || stopped.is_empty() {
            let envelope = inbox.recv(WAIT).expect("two Downs and a Stopped");
            match envelope.downcast::<Down>() {
                Ok(down) => downs.push((down.actor, down.reason)),
                Err(envelope) => stopped.push(envelope.downcast::<Stopped>().expect("a Stopped")),
            }
        }
        downs.sort_by_key(|(id, _)| *id);
        let mut expected = vec![
            (a.id(), ExitReason::Shutdown),
            (plain.id(), ExitReason::Shutdown),
        ];
        expected.sort_by_key(|(id, _)| *id);
        assert_eq!(downs, expected);
        assert_eq!(
            stopped,
            vec![Stopped {
                actor: a.id(),
                reason: ExitReason::Shutdown
            }]
        );
        assert!(answers_ping(&bridge, &trapping));
    }

    // ---- 4. trapping: Stopped through the handler, in order ----

    #[test]
    fn trapping_actor_gets_stopped_with_each_reason_through_its_handler() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let trapping = spawn_probe(&system, &inbox, true);
        let endings: Vec<Ending> = vec![
            (panic_reason(), crash),
            (ExitReason::error("bad"), |a| {
                tell(a, |ctx| ctx.stop(ExitReason::error("bad")))
            }),
            (ExitReason::Shutdown, |a| {
                tell(a, |ctx| ctx.stop(ExitReason::Shutdown))
            }),
            (ExitReason::Normal, |a| a.send(Stop)),
            (ExitReason::Killed, |a| a.kill()),
        ];
        for (reason, end) in endings {
            let linked = system.spawn(puppet(&inbox));
            let other = linked.clone();
            ask(&bridge, &trapping, move |ctx| ctx.link(&other));
            end(&linked);
            let (stopped, from) = next::<Stopped>(&inbox);
            assert_eq!(
                stopped,
                Stopped {
                    actor: linked.id(),
                    reason
                }
            );
            assert_eq!(
                from,
                Some(trapping.id()),
                "forwarded by the trapping actor's handler"
            );
        }
        assert!(answers_ping(&bridge, &trapping));
    }

    #[test]
    fn a_message_sent_before_dying_is_handled_before_the_stopped() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let trapping = system
            .spawn_with(
                Forwarder {
                    report: inbox.actor().clone(),
                },
                SpawnOptions::new().trap_exit(true),
            )
            .unwrap();
        for _round in 0..20 {
            let a = spawn_probe(&system, &inbox, false);
            let t = trapping.clone();
            ask(&bridge, &a, move |ctx| ctx.link(&t));
            // Hold the trapping actor so that `Last` and the exit signal are
            // both queued when it looks at its mailbox again: an exit signal
            // that jumped the queue would be seen first.
            let (release, gate) = mpsc::channel::<()>();
            trapping.send(Hold(gate));
            let t = trapping.clone();
            tell(&a, move |ctx| {
                ctx.send(&t, Last);
                panic!("crash");
            });
            assert_eq!(reason_of(&inbox, &a), panic_reason());
            release.send(()).unwrap();
            assert_eq!(next::<Last>(&inbox).0, Last);
            assert_eq!(
                next::<Stopped>(&inbox).0,
                Stopped {
                    actor: a.id(),
                    reason: panic_reason()
                }
            );
        }
    }

    // ---- 5. an exit signal overtakes the backlog ----

    #[test]
    fn an_exit_signal_takes_effect_before_a_backlog_of_100000_messages() {
        let (reason, handled) = die_with_backlog(&new_system(), |_, _, actor| {
            actor.exit(ExitReason::error("now"))
        });
        assert_eq!(reason, ExitReason::error("now"));
        assert_eq!(
            handled, 0,
            "queued messages were handled before the exit signal"
        );
    }

    #[test]
    fn a_link_exit_signal_takes_effect_before_a_backlog_of_100000_messages() {
        ferrotp::silence_actor_panics();
        let (reason, handled) = die_with_backlog(&new_system(), |system, inbox, actor| {
            let bridge = system.bridge();
            let linked = spawn_probe(system, inbox, false);
            let actor = actor.clone();
            ask(&bridge, &linked, move |ctx| ctx.link(&actor));
            crash(&linked);
            assert_eq!(reason_of(inbox, &linked), panic_reason());
        });
        assert_eq!(reason, panic_reason());
        assert_eq!(
            handled, 0,
            "queued messages were handled before the exit signal"
        );
    }
}
