//! Start acknowledgements: `SpawnOptions::notify_started`,
//! `Context::defer_start_ack` / `ack_started` (with both kinds of spawner),
//! and `Context::answer_stop`.

use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use ferrotp::{
    silence_actor_panics, Actor, ActorRef, Context, ExitReason, Handlers, Inbox, SpawnError,
    SpawnOptions, StartAck, Stop, Stopped, System,
};

const WAIT: Duration = Duration::from_secs(10);

/// The next message in `inbox`, which must be a `T` and arrive within `WAIT`.
fn recv<T: 'static>(inbox: &Inbox) -> T {
    let envelope = inbox.recv(WAIT).expect("nothing arrived in time");
    let got = envelope.type_name();
    envelope
        .downcast::<T>()
        .unwrap_or_else(|_| panic!("expected {}, got {got}", std::any::type_name::<T>()))
}

/// A marker sent after something that would have queued an acknowledgement
/// at once: if it arrives first, none was queued.
struct Marker;

/// Waits in `started` until told how to end it; says on `entered`, if
/// given, that `started` began.
struct Gated {
    gate: Receiver<Result<(), ExitReason>>,
    entered: Option<Sender<()>>,
}

impl Actor for Gated {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
    fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if let Some(entered) = &self.entered {
            let _ = entered.send(());
        }
        self.gate.recv_timeout(WAIT).unwrap_or(Ok(()))
    }
}

fn gated() -> (Gated, Sender<Result<(), ExitReason>>) {
    let (tx, gate) = crossbeam_channel::bounded(1);
    (
        Gated {
            gate,
            entered: None,
        },
        tx,
    )
}

/// Defers its acknowledgement in `started`; acknowledges on `Ready`, or
/// stops on `Fail`. `Ready` also reports on `seen` before it acknowledges.
struct Deferring {
    seen: Option<Sender<&'static str>>,
    ack_in_started: bool,
}
struct Ready;
struct Fail;

impl Deferring {
    fn ready(&mut self, _: Ready, ctx: &mut Context<Self>) {
        if let Some(seen) = &self.seen {
            let _ = seen.send("ready");
        }
        ctx.ack_started();
        // A second acknowledgement tells nothing more.
        ctx.ack_started();
    }
    fn fail(&mut self, _: Fail, ctx: &mut Context<Self>) {
        ctx.stop(ExitReason::Error("not ready".into()));
    }
}

impl Actor for Deferring {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::ready).on(Self::fail)
    }
    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.defer_start_ack();
        if self.ack_in_started {
            ctx.ack_started();
        }
        Ok(())
    }
}

/// Handles `Stop` itself: answers it only after a message to itself.
struct Winding;
struct Wound;

impl Winding {
    fn stop(&mut self, _: Stop, ctx: &mut Context<Self>) {
        let stopper = ctx
            .sender()
            .cloned()
            .expect("Bridge::stop sends with a sender");
        ctx.answer_stop(&stopper);
        ctx.send(ctx.myself(), Wound);
    }
    fn wound(&mut self, _: Wound, ctx: &mut Context<Self>) {
        ctx.stop(ExitReason::Normal);
    }
}

impl Actor for Winding {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::stop).on(Self::wound)
    }
}

struct Idle;

impl Actor for Idle {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
}

fn notify(inbox: &Inbox) -> SpawnOptions {
    SpawnOptions::new().notify_started(inbox.actor())
}

ferrotp::on_each_executor! {
    #[test]
    fn the_spawn_returns_before_started_and_the_ack_follows_it() {
        let system = new_system();
        let inbox = system.inbox();
        let (actor, gate) = gated();
        let child = system.spawn_with(actor, notify(&inbox)).unwrap();
        // `started` is still waiting on its gate: no acknowledgement yet.
        inbox.send(inbox.actor(), Marker);
        let Marker = recv(&inbox);
        gate.send(Ok(())).unwrap();
        let ack: StartAck = recv(&inbox);
        assert_eq!(ack, StartAck { actor: child.id(), outcome: Ok(()) });
        assert!(child.is_alive());
    }

    #[test]
    fn a_failed_start_is_acked_with_its_reason_before_the_exit_signal() {
        let system = new_system();
        let inbox = system.inbox();
        let (actor, gate) = gated();
        let child = system
            .spawn_with(actor, notify(&inbox).link(inbox.actor()))
            .unwrap();
        let reason = ExitReason::Error("bad config".into());
        gate.send(Err(reason.clone())).unwrap();
        let ack: StartAck = recv(&inbox);
        assert_eq!(ack, StartAck { actor: child.id(), outcome: Err(reason.clone()) });
        // The name is free and the actor gone by the time the ack comes.
        assert!(!child.is_alive());
        let stopped: Stopped = recv(&inbox);
        assert_eq!((stopped.actor, stopped.reason), (child.id(), reason));
    }

    #[test]
    fn a_panicking_started_is_acked_as_a_panic() {
        silence_actor_panics();
        struct Panics;
        impl Actor for Panics {
            fn handlers() -> Handlers<Self> {
                Handlers::new()
            }
            fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
                panic!("no start for me")
            }
        }
        let system = new_system();
        let inbox = system.inbox();
        let child = system.spawn_with(Panics, notify(&inbox)).unwrap();
        let ack: StartAck = recv(&inbox);
        assert_eq!(ack.actor, child.id());
        assert!(matches!(ack.outcome, Err(ExitReason::Panic(ref text)) if text.contains("no start for me")));
    }

    #[test]
    fn a_kill_during_started_acks_killed_at_once() {
        let system = new_system();
        let inbox = system.inbox();
        let (mut actor, gate) = gated();
        // Killed inside `started`, not before it begins (on the pool the
        // spawn returns before `started` runs).
        let (entered, inside) = crossbeam_channel::bounded(1);
        actor.entered = Some(entered);
        let child = system.spawn_with(actor, notify(&inbox)).unwrap();
        inside.recv_timeout(WAIT).expect("started began");
        child.kill();
        let ack: StartAck = recv(&inbox);
        assert_eq!(ack, StartAck { actor: child.id(), outcome: Err(ExitReason::Killed) });
        // Exactly one: the stuck hook returning later tells nothing more.
        gate.send(Ok(())).unwrap();
        let probe = system.spawn_with(Idle, notify(&inbox)).unwrap();
        let ack: StartAck = recv(&inbox);
        assert_eq!(ack.actor, probe.id());
    }

    #[test]
    fn a_child_linked_to_a_dead_actor_is_acked_noproc() {
        let system = new_system();
        let inbox = system.inbox();
        let dead = system.spawn(Idle);
        let _ = system.bridge().stop(std::slice::from_ref(&dead), WAIT);
        let child = system.spawn_with(Idle, notify(&inbox).link(&dead)).unwrap();
        let ack: StartAck = recv(&inbox);
        assert_eq!(ack, StartAck { actor: child.id(), outcome: Err(ExitReason::NoProc) });
    }

    #[test]
    fn a_spawn_that_fails_returns_its_error_and_acks_nothing() {
        let system = new_system();
        let inbox = system.inbox();
        let _holder = system.spawn_with(Idle, SpawnOptions::new().name("taken")).unwrap();
        let refused = system.spawn_with(Idle, notify(&inbox).name("taken"));
        assert!(matches!(refused, Err(SpawnError::Name(_))), "{refused:?}");
        inbox.send(inbox.actor(), Marker);
        let Marker = recv(&inbox);
        assert!(inbox.try_recv().is_none());
    }

    #[test]
    fn a_deferred_ack_comes_when_the_actor_says_so() {
        let system = new_system();
        let inbox = system.inbox();
        let (seen_tx, seen) = crossbeam_channel::unbounded();
        let actor = Deferring { seen: Some(seen_tx), ack_in_started: false };
        let child = system.spawn_with(actor, notify(&inbox)).unwrap();
        // Started and running, but not acknowledged: it handles messages.
        inbox.send(&child, Ready);
        let ack: StartAck = recv(&inbox);
        assert_eq!(ack, StartAck { actor: child.id(), outcome: Ok(()) });
        assert_eq!(seen.try_recv(), Ok("ready"), "the handler ran before the ack");
        // The second `ack_started` sent nothing.
        inbox.send(inbox.actor(), Marker);
        let Marker = recv(&inbox);
        assert!(inbox.try_recv().is_none());
    }

    #[test]
    fn an_actor_that_ends_before_its_deferred_ack_failed_to_start() {
        let system = new_system();
        let inbox = system.inbox();
        let actor = Deferring { seen: None, ack_in_started: false };
        let child = system.spawn_with(actor, notify(&inbox)).unwrap();
        inbox.send(&child, Fail);
        let ack: StartAck = recv(&inbox);
        assert_eq!(
            ack,
            StartAck { actor: child.id(), outcome: Err(ExitReason::Error("not ready".into())) }
        );
    }

    #[test]
    fn an_ack_from_within_started_answers_at_once() {
        let system = new_system();
        let inbox = system.inbox();
        let actor = Deferring { seen: None, ack_in_started: true };
        let child = system.spawn_with(actor, notify(&inbox)).unwrap();
        let ack: StartAck = recv(&inbox);
        assert_eq!(ack, StartAck { actor: child.id(), outcome: Ok(()) });
    }

    #[test]
    fn await_started_waits_for_a_deferred_ack() {
        let system = new_system();
        let (seen_tx, seen) = crossbeam_channel::unbounded();
        struct SelfReady(Deferring);
        impl Actor for SelfReady {
            fn handlers() -> Handlers<Self> {
                Handlers::new().on(|me: &mut Self, r: Ready, ctx: &mut Context<Self>| {
                    // The same as `Deferring::ready`, on the wrapper's context.
                    if let Some(seen) = &me.0.seen {
                        let _ = seen.send("ready");
                    }
                    let _ = r;
                    ctx.ack_started();
                })
            }
            fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
                ctx.defer_start_ack();
                ctx.send(ctx.myself(), Ready);
                Ok(())
            }
        }
        let actor = SelfReady(Deferring { seen: Some(seen_tx), ack_in_started: false });
        system
            .spawn_with(actor, SpawnOptions::new().await_started())
            .unwrap();
        // The spawn returned only once `Ready` had been handled.
        assert_eq!(seen.try_recv(), Ok("ready"));
    }

    #[test]
    fn await_started_fails_with_the_reason_of_an_end_before_the_deferred_ack() {
        let system = new_system();
        struct Quits;
        impl Actor for Quits {
            fn handlers() -> Handlers<Self> {
                Handlers::new().on(|_: &mut Self, _: Fail, ctx: &mut Context<Self>| {
                    ctx.stop(ExitReason::Error("gave up".into()));
                })
            }
            fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
                ctx.defer_start_ack();
                ctx.send(ctx.myself(), Fail);
                Ok(())
            }
        }
        let result = system.spawn_with(Quits, SpawnOptions::new().await_started());
        assert!(
            matches!(result, Err(SpawnError::StartFailed(ExitReason::Error(ref t))) if t == "gave up"),
            "{result:?}"
        );
    }

    #[test]
    fn await_started_and_notify_started_the_later_wins() {
        let system = new_system();
        let inbox = system.inbox();
        let options = SpawnOptions::new().await_started().notify_started(inbox.actor());
        let child = system.spawn_with(Idle, options).unwrap();
        let ack: StartAck = recv(&inbox);
        assert_eq!(ack.actor, child.id());
        let options = SpawnOptions::new().notify_started(inbox.actor()).await_started();
        let child = system.spawn_with(Idle, options).unwrap();
        assert!(child.is_alive());
        inbox.send(inbox.actor(), Marker);
        let Marker = recv(&inbox);
    }

    #[test]
    fn an_actor_that_starts_children_from_its_mailbox_starts_them_in_order() {
        // The pattern the option exists for: start one child, and on its
        // ack the next; a child that fails stops the parent.
        struct Parent {
            left: Vec<Result<(), ExitReason>>,
            report: Sender<ActorRef>,
        }
        impl Parent {
            fn next(&mut self, ctx: &mut Context<Self>) {
                if self.left.is_empty() {
                    return;
                }
                let outcome = self.left.remove(0);
                let (child, gate) = gated();
                gate.send(outcome).unwrap();
                let options = SpawnOptions::new().link(ctx.myself()).notify_started(ctx.myself());
                let child = ctx.spawn_with(child, options).unwrap();
                let _ = self.report.send(child);
            }
            fn on_ack(&mut self, ack: StartAck, ctx: &mut Context<Self>) {
                match ack.outcome {
                    Ok(()) => self.next(ctx),
                    Err(reason) => ctx.stop(reason),
                }
            }
        }
        impl Actor for Parent {
            fn handlers() -> Handlers<Self> {
                Handlers::new().on(Self::on_ack)
            }
            fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
                ctx.trap_exit(true);
                self.next(ctx);
                Ok(())
            }
        }
        let system = new_system();
        let inbox = system.inbox();
        let (report, children) = crossbeam_channel::unbounded();
        let failure = ExitReason::Error("third".into());
        let left = vec![Ok(()), Ok(()), Err(failure.clone()), Ok(())];
        let parent = system.spawn(Parent { left, report });
        inbox.monitor(&parent);
        let down: ferrotp::Down = recv(&inbox);
        assert_eq!(down.reason, failure);
        let spawned: Vec<ActorRef> = children.try_iter().collect();
        assert_eq!(spawned.len(), 3, "the fourth child was never spawned");
        assert!(spawned.windows(2).all(|w| w[0].id() < w[1].id()));
    }

    #[test]
    fn answer_stop_makes_a_bridge_stop_hear_stopped_after_the_end() {
        let system = new_system();
        let winding = system.spawn(Winding);
        let stopped = system.bridge().stop(std::slice::from_ref(&winding), WAIT);
        let stopped = stopped[0].as_ref().expect("answered");
        assert_eq!((stopped.actor, &stopped.reason), (winding.id(), &ExitReason::Normal));
        assert!(!winding.is_alive());
    }
}

/// Many spawns in a row, each acknowledged exactly once, on both executors
/// and with starts that succeed, fail and are killed mixed: a loop of the
/// scenario, as races hide in it.
#[test]
fn every_spawn_is_acked_exactly_once_under_a_loop() {
    for executor in [ferrotp::Executor::Pool, ferrotp::Executor::Threads] {
        let system = System::builder().executor(executor).build();
        let inbox = system.inbox();
        let rounds = if executor == ferrotp::Executor::Pool {
            2_000
        } else {
            200
        };
        let mut expected = std::collections::HashMap::new();
        for i in 0..rounds {
            let (actor, gate) = gated();
            let child = system.spawn_with(actor, notify(&inbox)).unwrap();
            let outcome = match i % 3 {
                0 => {
                    gate.send(Ok(())).unwrap();
                    Ok(())
                }
                1 => {
                    gate.send(Err(ExitReason::Error(format!("{i}")))).unwrap();
                    Err(ExitReason::Error(format!("{i}")))
                }
                _ => {
                    child.kill();
                    drop(gate);
                    Err(ExitReason::Killed)
                }
            };
            expected.insert(child.id(), outcome);
        }
        for _ in 0..rounds {
            let ack: StartAck = recv(&inbox);
            let want = expected.remove(&ack.actor).expect("one ack per spawn");
            assert_eq!(ack.outcome, want, "{executor:?}");
        }
        inbox.send(inbox.actor(), Marker);
        let Marker = recv(&inbox);
        system.shutdown(WAIT).unwrap();
    }
}
