//! `kill` (issue 3, semantics 6): untrappable, immediate even when the
//! target's handler never returns, with links, monitors and the name
//! released at once, the stuck thread's later sends discarded, and no
//! `stopped` hook.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

#[allow(dead_code)]
mod common;

use common::{answers_ping, ask, next, spawn_puppet, WAIT};
use ferrotp::{
    Actor, ActorId, ActorRef, Context, Down, Envelope, ExitReason, Handlers, Inbox, MonitorRef,
    SpawnOptions, Stopped, System,
};

// ---- the target ----

/// Runs `then` after `gate` opens (or its sender hangs up).
struct Block {
    gate: mpsc::Receiver<()>,
    then: Task,
}

type Task = Box<dyn FnOnce(&mut Context<Target>) + Send>;

/// Tells the test the target is inside its blocking handler.
struct Entered;

/// Records whether its `stopped` hook ran, and says when its state drops
/// (which, for a killed actor, is when its thread gets back to the runtime).
struct Target {
    report: ActorRef,
    stopped_ran: Arc<AtomicBool>,
    dropped: mpsc::Sender<()>,
}

impl Target {
    fn block(&mut self, Block { gate, then }: Block, ctx: &mut Context<Self>) {
        ctx.send(&self.report, Entered);
        let _ = gate.recv();
        then(ctx);
    }
}

impl Actor for Target {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::block)
    }
    fn stopped(&mut self, _reason: &ExitReason, _ctx: &mut Context<Self>) {
        self.stopped_ran.store(true, Ordering::SeqCst);
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

struct Spawned {
    actor: ActorRef,
    stopped_ran: Arc<AtomicBool>,
    dropped: mpsc::Receiver<()>,
}

fn spawn_target(system: &System, report: &Inbox, options: SpawnOptions) -> Spawned {
    let stopped_ran = Arc::new(AtomicBool::new(false));
    let (dropped_tx, dropped) = mpsc::channel();
    let target = Target {
        report: report.actor().clone(),
        stopped_ran: stopped_ran.clone(),
        dropped: dropped_tx,
    };
    Spawned {
        actor: system
            .spawn_with(target, options)
            .expect("spawn the target"),
        stopped_ran,
        dropped,
    }
}

/// What a watcher forwarded (or a monitor delivered) to the test's inbox.
#[derive(Debug)]
enum Report {
    Stopped(Stopped),
    Down(Down),
}

/// An envelope that must be a `Stopped` or a `Down`, with its sender.
fn report(envelope: Envelope) -> (Option<ActorId>, Report) {
    let sender = envelope.sender().map(|s| s.id());
    let got = envelope.type_name();
    match envelope.downcast::<Stopped>() {
        Ok(stopped) => (sender, Report::Stopped(stopped)),
        Err(envelope) => match envelope.downcast::<Down>() {
            Ok(down) => (sender, Report::Down(down)),
            Err(_) => panic!("expected a Stopped or a Down, got a {got}"),
        },
    }
}

/// Takes the `Down` of `monitor` from what `inbox` already holds, without
/// waiting; returns it and the other reports that were there, in order.
fn down_already_here(inbox: &Inbox, monitor: MonitorRef) -> (Down, Vec<(Option<ActorId>, Report)>) {
    let mut down = None;
    let mut others = Vec::new();
    while let Some(envelope) = inbox.try_recv() {
        match report(envelope) {
            (_, Report::Down(d)) if d.monitor == monitor && down.is_none() => down = Some(d),
            other => others.push(other),
        }
    }
    (down.expect("a Down as soon as kill returned"), others)
}

/// What the stuck handler does once released, too late.
struct TooLate;

ferrotp::on_each_executor! {
    #[test]
    fn kill_terminates_a_trapping_actor_with_killed_at_once() {
        let system = new_system();
        let inbox = system.inbox();
        let spawned = spawn_target(
            &system,
            &inbox,
            SpawnOptions::new().trap_exit(true).name("trapper"),
        );
        let target = spawned.actor;
        let monitor = inbox.monitor(&target);
        assert!(target.info().trap_exit);

        target.kill();
        assert!(!target.is_alive());
        let (down, others) = down_already_here(&inbox, monitor);
        assert_eq!((down.actor, down.reason), (target.id(), ExitReason::Killed));
        assert!(others.is_empty(), "{others:?}");
        assert_eq!(system.whereis("trapper"), None);
        assert_eq!(target.name(), None);

        // The idle thread wakes, sees it was killed and drops the state
        // without running `stopped`.
        spawned
            .dropped
            .recv_timeout(WAIT)
            .expect("the killed actor's state is dropped");
        assert!(
            !spawned.stopped_ran.load(Ordering::SeqCst),
            "stopped ran for Killed"
        );

        // A second kill changes nothing: still one Down.
        target.kill();
        system.shutdown(WAIT).expect("shutdown");
        assert!(inbox.try_recv().is_none(), "a second Down");
    }

    #[test]
    fn kill_of_an_actor_whose_handler_never_returns_takes_effect_at_once() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let trapping = spawn_puppet(&system, &inbox, true);
        let plain = spawn_puppet(&system, &inbox, false);
        let victim = spawn_puppet(&system, &inbox, false);
        let kill_victim = spawn_puppet(&system, &inbox, false);
        let actor_watcher = spawn_puppet(&system, &inbox, false);

        let spawned = spawn_target(
            &system,
            &inbox,
            SpawnOptions::new().name("stuck").link(&trapping),
        );
        let stuck = spawned.actor.clone();
        let stuck2 = stuck.clone();
        ask(&bridge, &plain, move |ctx| ctx.link(&stuck2));
        // A separate inbox for plain's death, which may come before or after
        // the stuck actor's Down reaches `inbox`.
        let plain_watch = system.inbox();
        plain_watch.monitor(&plain);
        let monitor = inbox.monitor(&stuck);
        let stuck2 = stuck.clone();
        let watcher_monitor: ferrotp::MonitorRef =
            ask(&bridge, &actor_watcher, move |ctx| ctx.monitor(&stuck2));

        // Block the target in a handler that, once released, tries every way
        // of reaching the world.
        let (release, gate) = mpsc::channel::<()>();
        let (to_inbox, victim2) = (inbox.actor().clone(), victim.clone());
        let kill_victim2 = kill_victim.clone();
        stuck.send(Block {
            gate,
            then: Box::new(move |ctx| {
                ctx.send(&to_inbox, TooLate);
                to_inbox.send(TooLate);
                ctx.exit(&victim2, ExitReason::error("from a killed actor"));
                kill_victim2.kill();
                ctx.stop(ExitReason::error("too late to choose"));
            }),
        });
        next::<Entered>(&inbox);

        stuck.kill();
        // Dead at once: alive flag, name, monitors.
        assert!(!stuck.is_alive());
        assert!(!stuck.info().alive);
        assert_eq!(stuck.name(), None);
        assert_eq!(system.whereis("stuck"), None);
        assert!(!system.registered().contains(&"stuck".to_string()));
        let (down, mut heard) = down_already_here(&inbox, monitor);
        assert_eq!((down.actor, down.reason), (stuck.id(), ExitReason::Killed));
        // The name can be taken again at once.
        let heir = spawn_puppet(&system, &inbox, false);
        system.register("stuck", &heir).expect("the name is free");
        assert_eq!(system.whereis("stuck"), Some(heir));

        // Linked and monitoring actors hear of it while the handler is stuck:
        // the trapping one gets Stopped (and forwards it), the watching one a
        // Down (forwarded too), the plain one dies with Killed (below).
        while heard.len() < 2 {
            heard.push(report(inbox.recv(WAIT).expect("the watchers' reports")));
        }
        assert_eq!(heard.len(), 2, "{heard:?}");
        for (from, what) in heard {
            match what {
                Report::Stopped(stopped) => {
                    assert_eq!(from, Some(trapping.id()));
                    assert_eq!(
                        stopped,
                        Stopped {
                            actor: stuck.id(),
                            reason: ExitReason::Killed
                        }
                    );
                }
                Report::Down(down) => {
                    assert_eq!(from, Some(actor_watcher.id()));
                    assert_eq!(
                        down,
                        Down {
                            monitor: watcher_monitor,
                            actor: stuck.id(),
                            reason: ExitReason::Killed
                        }
                    );
                }
            }
        }
        assert!(answers_ping(&bridge, &trapping));
        let (plain_down, _) = next::<Down>(&plain_watch);
        assert_eq!(
            (plain_down.actor, plain_down.reason),
            (plain.id(), ExitReason::Killed)
        );

        // Release the stuck handler and wait for its thread to give the state
        // back: everything it sent after the kill was sent by then.
        release.send(()).unwrap();
        spawned
            .dropped
            .recv_timeout(WAIT)
            .expect("the released thread ends");
        assert!(
            inbox.try_recv().is_none(),
            "a killed actor's late send was delivered"
        );
        assert!(
            answers_ping(&bridge, &victim),
            "a killed actor's late exit signal was delivered"
        );
        assert!(
            answers_ping(&bridge, &kill_victim),
            "a killed actor's late kill took effect"
        );
        assert!(
            !spawned.stopped_ran.load(Ordering::SeqCst),
            "stopped ran for Killed"
        );
    }
}
