//! Links and exit signals (issue 3, semantics 1–5 and 7):
//! propagation of abnormal exits along chains and rings, `Normal` and
//! `Shutdown`, trapping, ordering against earlier messages and against a
//! backlog, links to dead actors, idempotent links, unlink, and exit
//! signals sent with `ActorRef::exit` and `Context::exit`.
//!
//! Every wait is on an event (a reply, a `Down`, a `Stopped`, a channel)
//! with a generous bound; no test sleeps to guess timing.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod common;

use common::{answers_ping, ask, crash, next, puppet, spawn_puppet, tell, WAIT};
use ferrotp::{
    Actor, ActorId, ActorRef, Bridge, Context, Down, ExitReason, Handlers, Inbox, SpawnOptions,
    Stop, Stopped, System,
};

/// The chain and the ring use thousands of threads (on `Executor::Threads`);
/// running them one at a time keeps the binary well under the process's
/// thread and map limits.
static HEAVY: Mutex<()> = Mutex::new(());

fn heavy() -> MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

// ---- a scriptable actor ----

/// Spawns a puppet reporting to `inbox`, trapping exits or not, monitored by `inbox`.
fn spawn_probe(system: &System, inbox: &Inbox, trap: bool) -> ActorRef {
    let actor = spawn_puppet(system, inbox, trap);
    inbox.monitor(&actor);
    actor
}

/// A stopped actor, whose address is that of a dead actor.
fn dead_actor(system: &System, bridge: &Bridge, inbox: &Inbox) -> ActorRef {
    let actor = system.spawn(puppet(inbox));
    let stopped = bridge.stop(std::slice::from_ref(&actor), WAIT);
    assert_eq!(
        stopped[0].as_ref().map(|s| &s.reason),
        Some(&ExitReason::Normal)
    );
    assert!(!actor.is_alive());
    actor
}

// ---- receiving ----

fn next_down(inbox: &Inbox) -> Down {
    next::<Down>(inbox).0
}

/// Links `a — b — c`, crashes `a`, and asserts that all three die with
/// the panic. `c` is not linked to `a`, so it can only die because `b`'s
/// own links fire when `b` dies. All three are monitored from `inbox`.
fn a_crash_kills_the_chain(bridge: &Bridge, inbox: &Inbox, [a, b, c]: [&ActorRef; 3]) {
    let (a2, b2) = (a.clone(), b.clone());
    ask(bridge, b, move |ctx| ctx.link(&a2));
    ask(bridge, c, move |ctx| ctx.link(&b2));
    crash(a);
    let mut reasons: Vec<(ActorId, ExitReason)> = (0..3)
        .map(|_| {
            let d = next_down(inbox);
            (d.actor, d.reason)
        })
        .collect();
    reasons.sort_by_key(|(id, _)| *id);
    assert_eq!(
        reasons,
        vec![
            (a.id(), panic_reason()),
            (b.id(), panic_reason()),
            (c.id(), panic_reason())
        ]
    );
}

/// Waits for the `Down` about `actor` and returns its reason.
fn reason_of(inbox: &Inbox, actor: &ActorRef) -> ExitReason {
    let down = next_down(inbox);
    assert_eq!(down.actor, actor.id(), "a Down about another actor");
    down.reason
}

/// Shuts the system down, which waits for every actor to end: whatever any
/// actor was going to send has been sent. Returns what `inbox` still holds.
fn settle(system: &System, inbox: &Inbox) -> Vec<ferrotp::Envelope> {
    system.shutdown(WAIT).expect("shutdown");
    std::iter::from_fn(|| inbox.try_recv()).collect()
}

/// A reason, and a way to make an actor terminate with it.
type Ending = (ExitReason, fn(&ActorRef));

fn panic_reason() -> ExitReason {
    ExitReason::Panic("crash".into())
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

/// Spawn options for an actor on a thread of its own, whatever the
/// system's default executor.
fn dedicated() -> SpawnOptions {
    SpawnOptions::new().dedicated()
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

    // ---- 7. links to dead actors, idempotence, unlink ----

    #[test]
    fn linking_plain_code_to_a_dead_actor_delivers_noproc_at_once() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let dead = dead_actor(&system, &bridge, &inbox);
        let watcher = system.inbox();
        watcher.link(&dead);
        // "At once": already there when `link` returns, no waiting.
        let envelope = watcher
            .try_recv()
            .expect("a Stopped as soon as link returns");
        let stopped: Stopped = envelope.downcast().expect("a Stopped");
        assert_eq!(
            stopped,
            Stopped {
                actor: dead.id(),
                reason: ExitReason::NoProc
            }
        );
        assert!(watcher.actor().info().links.is_empty());
    }

    #[test]
    fn linking_an_actor_to_a_dead_actor_delivers_noproc() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let dead = dead_actor(&system, &bridge, &inbox);

        let trapping = spawn_probe(&system, &inbox, true);
        let d = dead.clone();
        ask(&bridge, &trapping, move |ctx| ctx.link(&d));
        let (stopped, from) = next::<Stopped>(&inbox);
        assert_eq!(
            stopped,
            Stopped {
                actor: dead.id(),
                reason: ExitReason::NoProc
            }
        );
        assert_eq!(from, Some(trapping.id()));
        assert!(answers_ping(&bridge, &trapping));

        let plain = spawn_probe(&system, &inbox, false);
        let d = dead.clone();
        ask(&bridge, &plain, move |ctx| ctx.link(&d));
        assert_eq!(reason_of(&inbox, &plain), ExitReason::NoProc);
    }

    #[test]
    fn link_is_idempotent() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let a = spawn_probe(&system, &inbox, false);
        let watcher = system.inbox();
        let monitor = watcher.monitor(&a);
        for _ in 0..3 {
            watcher.link(&a);
        }
        for _ in 0..3 {
            let w = watcher.actor().clone();
            ask(&bridge, &a, move |ctx| ctx.link(&w));
        }
        assert_eq!(a.info().links, vec![watcher.actor().id()]);
        assert_eq!(watcher.actor().info().links, vec![a.id()]);

        crash(&a);
        let mut stopped = 0;
        let mut downs = 0;
        let envelopes: Vec<ferrotp::Envelope> = {
            // The Stopped and the Down, then everything else once all threads
            // have ended.
            let mut got = vec![watcher.recv(WAIT).unwrap(), watcher.recv(WAIT).unwrap()];
            got.extend(settle(&system, &watcher));
            got
        };
        for envelope in envelopes {
            match envelope.downcast::<Stopped>() {
                Ok(s) => {
                    assert_eq!(
                        s,
                        Stopped {
                            actor: a.id(),
                            reason: panic_reason()
                        }
                    );
                    stopped += 1;
                }
                Err(envelope) => {
                    let down: Down = envelope.downcast().expect("a Down");
                    assert_eq!(down.monitor, monitor);
                    downs += 1;
                }
            }
        }
        assert_eq!((stopped, downs), (1, 1), "one link, one exit signal");
    }

    #[test]
    fn one_unlink_undoes_several_links() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let inbox = system.inbox();
        let a = spawn_probe(&system, &inbox, false);
        let watcher = system.inbox();
        let monitor = watcher.monitor(&a);
        watcher.link(&a);
        watcher.link(&a);
        watcher.unlink(&a);
        assert!(a.info().links.is_empty());
        assert!(watcher.actor().info().links.is_empty());
        crash(&a);
        let down: Down = watcher
            .recv(WAIT)
            .unwrap()
            .downcast()
            .expect("only the Down");
        assert_eq!(down.monitor, monitor);
        let late = settle(&system, &watcher);
        assert!(
            late.is_empty(),
            "an exit signal came through a removed link"
        );
    }

    #[test]
    fn unlink_removes_both_directions() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        // Both directions, each way round: the side that unlinks survives the
        // other's death, and so does the other side.
        for unlinker_dies in [false, true] {
            let plain = spawn_probe(&system, &inbox, false);
            let trapping = spawn_probe(&system, &inbox, true);
            let t = trapping.clone();
            ask(&bridge, &plain, move |ctx| ctx.link(&t));
            assert_eq!(trapping.info().links, vec![plain.id()]);
            // The one that did not make the link removes it.
            let p = plain.clone();
            ask(&bridge, &trapping, move |ctx| ctx.unlink(&p));
            assert!(plain.info().links.is_empty());
            assert!(trapping.info().links.is_empty());
            if unlinker_dies {
                crash(&trapping);
                assert_eq!(reason_of(&inbox, &trapping), panic_reason());
                assert!(
                    answers_ping(&bridge, &plain),
                    "the exit signal crossed a removed link"
                );
                plain.kill();
                assert_eq!(reason_of(&inbox, &plain), ExitReason::Killed);
            } else {
                crash(&plain);
                assert_eq!(reason_of(&inbox, &plain), panic_reason());
                // A Stopped would be forwarded before the pong.
                assert!(answers_ping(&bridge, &trapping));
                assert!(
                    inbox.try_recv().is_none(),
                    "a Stopped through a removed link"
                );
                trapping.kill();
                assert_eq!(reason_of(&inbox, &trapping), ExitReason::Killed);
            }
        }
    }

    #[test]
    fn no_exit_signal_is_delivered_after_unlink_returns_even_if_already_queued() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        for trap in [true, false] {
            let dying = spawn_probe(&system, &inbox, false);
            let survivor = spawn_probe(&system, &inbox, trap);
            let d = dying.clone();
            ask(&bridge, &survivor, move |ctx| ctx.link(&d));
            // Hold the survivor; when released it first unlinks, while the
            // exit signal of `dying` already waits in its mailbox.
            let (release, gate) = mpsc::channel::<()>();
            let d = dying.clone();
            let report = inbox.actor().clone();
            tell(&survivor, move |ctx| {
                ctx.send(&report, Entered);
                let _ = gate.recv();
                ctx.unlink(&d);
            });
            // Only once the survivor is inside that handler: a signal that came
            // earlier would rightly be acted on before the unlink.
            next::<Entered>(&inbox);
            crash(&dying);
            assert_eq!(reason_of(&inbox, &dying), panic_reason());
            release.send(()).unwrap();
            // A delivered signal would kill the non-trapping survivor, or be
            // forwarded as a Stopped by the trapping one, before the pong.
            assert!(
                answers_ping(&bridge, &survivor),
                "trap={trap}: killed by a removed link"
            );
            assert!(
                inbox.try_recv().is_none(),
                "trap={trap}: a Stopped after unlink"
            );
            survivor.kill();
            assert_eq!(reason_of(&inbox, &survivor), ExitReason::Killed);
        }

        // The same for plain code.
        let dying = spawn_probe(&system, &inbox, false);
        let watcher = system.inbox();
        watcher.link(&dying);
        crash(&dying);
        assert_eq!(reason_of(&inbox, &dying), panic_reason());
        // The Stopped is queued in `watcher` by now (exit signals are sent
        // before Downs are, and the Down is here).
        watcher.unlink(&dying);
        assert!(
            watcher.try_recv().is_none(),
            "a Stopped after unlink returned"
        );
    }

    // ---- exit signals from outside and from actors ----

    #[test]
    fn actor_ref_exit_normal_is_ignored_by_a_non_trapping_actor() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let plain = spawn_probe(&system, &inbox, false);
        plain.exit(ExitReason::Normal);
        assert!(
            answers_ping(&bridge, &plain),
            "exit(Normal) terminated a non-trapping actor"
        );
        assert!(plain.is_alive());
    }

    #[test]
    fn actor_ref_exit_abnormal_terminates_a_non_trapping_actor_with_that_reason() {
        let system = new_system();
        let inbox = system.inbox();
        for reason in [
            ExitReason::Shutdown,
            ExitReason::error("go"),
            ExitReason::Killed,
        ] {
            let plain = spawn_probe(&system, &inbox, false);
            plain.exit(reason.clone());
            assert_eq!(reason_of(&inbox, &plain), reason);
        }
    }

    #[test]
    fn actor_ref_exit_reaches_a_trapping_actor_as_stopped_from_external() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let trapping = spawn_probe(&system, &inbox, true);
        for reason in [
            ExitReason::Normal,
            ExitReason::Shutdown,
            ExitReason::error("go"),
        ] {
            trapping.exit(reason.clone());
            let (stopped, from) = next::<Stopped>(&inbox);
            assert_eq!(
                stopped,
                Stopped {
                    actor: ActorId::EXTERNAL,
                    reason
                }
            );
            assert_eq!(from, Some(trapping.id()));
        }
        assert!(answers_ping(&bridge, &trapping));
        // Killed cannot be trapped.
        trapping.exit(ExitReason::Killed);
        assert_eq!(reason_of(&inbox, &trapping), ExitReason::Killed);
    }

    #[test]
    fn context_exit_names_the_sender() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let sender = spawn_probe(&system, &inbox, false);
        let trapping = spawn_probe(&system, &inbox, true);
        let plain = spawn_probe(&system, &inbox, false);

        let t = trapping.clone();
        ask(&bridge, &sender, move |ctx| {
            ctx.exit(&t, ExitReason::error("from an actor"))
        });
        let (stopped, _) = next::<Stopped>(&inbox);
        assert_eq!(
            stopped,
            Stopped {
                actor: sender.id(),
                reason: ExitReason::error("from an actor")
            }
        );

        let p = plain.clone();
        ask(&bridge, &sender, move |ctx| {
            ctx.exit(&p, ExitReason::error("from an actor"))
        });
        assert_eq!(
            reason_of(&inbox, &plain),
            ExitReason::error("from an actor")
        );
        // An exit signal is not a link: the sender lives on.
        assert!(answers_ping(&bridge, &sender));
        assert!(answers_ping(&bridge, &trapping));
    }

    // ---- across executors: a dedicated actor and one on the system default ----
    // (On `Executor::Threads` the default is a thread per actor too: there,
    // these show that asking for a dedicated thread changes nothing.)

    #[test]
    fn a_link_across_executors_tells_a_trapping_actor_each_reason_both_ways() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let endings: [Ending; 3] = [
            (panic_reason(), crash),
            (ExitReason::error("bad"), |a| {
                tell(a, |ctx| ctx.stop(ExitReason::error("bad")))
            }),
            (ExitReason::Killed, |a| a.kill()),
        ];
        for (trapping_on, linked_on) in [
            (SpawnOptions::new(), dedicated()),
            (dedicated(), SpawnOptions::new()),
        ] {
            let trapping = system
                .spawn_with(puppet(&inbox), trapping_on.trap_exit(true))
                .expect("spawn");
            for (reason, end) in endings.clone() {
                let linked = system
                    .spawn_with(puppet(&inbox), linked_on.clone())
                    .expect("spawn");
                let other = linked.clone();
                ask(&bridge, &trapping, move |ctx| ctx.link(&other));
                assert_eq!(linked.info().links, vec![trapping.id()]);
                end(&linked);
                let (stopped, from) = next::<Stopped>(&inbox);
                assert_eq!(
                    stopped,
                    Stopped {
                        actor: linked.id(),
                        reason
                    }
                );
                assert_eq!(from, Some(trapping.id()));
            }
            assert!(answers_ping(&bridge, &trapping));
        }
    }

    #[test]
    fn an_abnormal_exit_propagates_along_links_that_alternate_executors() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        for (ends, middle) in [
            (SpawnOptions::new(), dedicated()),
            (dedicated(), SpawnOptions::new()),
        ] {
            let spawn = |options: &SpawnOptions| {
                let actor = system
                    .spawn_with(puppet(&inbox), options.clone())
                    .expect("spawn");
                inbox.monitor(&actor);
                actor
            };
            let (a, b, c) = (spawn(&ends), spawn(&middle), spawn(&ends));
            // Whichever executor b is on, its own links fire when it dies.
            a_crash_kills_the_chain(&bridge, &inbox, [&a, &b, &c]);
        }
    }

    #[test]
    fn a_monitor_across_executors_gets_each_down_both_ways() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let endings: [Ending; 4] = [
            (panic_reason(), crash),
            (ExitReason::Normal, |a| a.send(Stop)),
            (ExitReason::Shutdown, |a| {
                tell(a, |ctx| ctx.stop(ExitReason::Shutdown))
            }),
            (ExitReason::Killed, |a| a.kill()),
        ];
        for (watcher_on, target_on) in [
            (SpawnOptions::new(), dedicated()),
            (dedicated(), SpawnOptions::new()),
        ] {
            let watcher = system
                .spawn_with(puppet(&inbox), watcher_on)
                .expect("spawn");
            for (reason, end) in endings.clone() {
                let target = system
                    .spawn_with(puppet(&inbox), target_on.clone())
                    .expect("spawn");
                let t = target.clone();
                let monitor = ask(&bridge, &watcher, move |ctx| ctx.monitor(&t));
                assert_eq!(target.info().monitored_by, vec![watcher.id()]);
                end(&target);
                let (down, from) = next::<Down>(&inbox);
                assert_eq!(
                    down,
                    Down {
                        monitor,
                        actor: target.id(),
                        reason
                    }
                );
                assert_eq!(from, Some(watcher.id()), "forwarded by the watcher");
            }
            // A monitor is not a link: the watcher lives on, its monitors
            // gone with their targets.
            assert!(answers_ping(&bridge, &watcher));
            assert!(watcher.info().monitoring.is_empty());
        }
    }
}
