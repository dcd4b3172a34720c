//! Async calls (feature `tokio`): `Bridge::call_async`, `monitor_async`
//! and `stop_async` from tokio tasks, with the guarantees of the blocking
//! `Bridge`: replies never mix up, a dead or dying target fails a call at
//! once, a dropped future leaves nothing behind.

#[path = "common/bridge_service.rs"]
#[allow(dead_code)]
mod service;

use std::time::{Duration, Instant};

use ferrotp::{
    silence_actor_panics, Actor, ActorRef, CallError, Context, ExitReason, Handlers, System,
};

use service::{assert_prompt, gatekeeper, Gated, Open, Req, Service, Unstoppable, LONG, WAIT};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

/// Answers each `Next` with the number of `Next`s before it.
#[derive(Default)]
struct Counter {
    seen: u64,
}
struct Next;

impl Actor for Counter {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|counter: &mut Self, _: Next, ctx: &mut Context<Self>| {
            ctx.reply(counter.seen);
            counter.seen += 1;
        })
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn call_async_returns_the_reply() {
        let system = new_system();
        let bridge = system.bridge();
        let service = system.spawn(Service);
        let got: Result<u64, _> =
            runtime().block_on(bridge.call_async(&service, Req::Double(21), WAIT));
        assert_eq!(got, Ok(42));
    }

    #[test]
    fn many_tasks_call_at_once_and_each_gets_its_own_reply() {
        let system = new_system();
        let bridge = std::sync::Arc::new(system.bridge());
        let services: Vec<ActorRef> = (0..4).map(|_| system.spawn(Service)).collect();
        let rt = runtime();
        let tasks: Vec<_> = (0..64u64)
            .map(|task| {
                let bridge = bridge.clone();
                let services = services.clone();
                rt.spawn(async move {
                    for i in 0..50u64 {
                        let n = task * 1000 + i;
                        let target = &services[(n % 4) as usize];
                        let got: u64 = bridge.call_async(target, Req::Double(n), WAIT).await.unwrap();
                        assert_eq!(got, n * 2);
                    }
                })
            })
            .collect();
        rt.block_on(async {
            for task in tasks {
                task.await.unwrap();
            }
        });
    }

    #[test]
    fn pipelined_calls_reach_the_actor_in_call_order() {
        let system = new_system();
        let bridge = system.bridge();
        let counter = system.spawn(Counter::default());
        let rt = runtime();
        // All issued before any is awaited; awaited in reverse.
        let calls: Vec<_> = (0..100)
            .map(|_| bridge.call_async::<u64, _>(&counter, Next, WAIT))
            .collect();
        rt.block_on(async {
            for (place, call) in calls.into_iter().enumerate().rev() {
                assert_eq!(call.await, Ok(place as u64));
            }
        });
    }

    #[test]
    fn wrong_reply_type_is_an_error() {
        let system = new_system();
        let bridge = system.bridge();
        let service = system.spawn(Service);
        let got = runtime().block_on(bridge.call_async::<u64, _>(&service, Req::WrongType, WAIT));
        assert!(matches!(got, Err(CallError::WrongReplyType { .. })), "{got:?}");
    }

    #[test]
    fn a_timed_out_call_never_answers_a_later_one() {
        let system = new_system();
        let bridge = system.bridge();
        let (gatekeeper, open, entries) = gatekeeper(&system);
        let rt = runtime();
        let late = bridge.call_async::<u64, _>(&gatekeeper, Gated(1), Duration::from_millis(20));
        entries.recv_timeout(WAIT).unwrap();
        // The gate stays shut until the call has timed out.
        assert_eq!(rt.block_on(late), Err(CallError::Timeout));
        let dead_before = system.dead_letters();
        open.send(()).unwrap();
        // Handled after `Gated(1)` replied: the stale reply is on its way
        // (or gone) before this call's reply.
        let got = rt.block_on(bridge.call_async::<u64, _>(&gatekeeper, Open(2), WAIT));
        assert_eq!(got, Ok(2));
        assert_eq!(system.dead_letters(), dead_before + 1, "the late reply is a dead letter");
        // The timed-out call left no monitor on the target.
        assert!(gatekeeper.info().monitored_by.is_empty());
    }

    #[test]
    fn a_second_reply_never_answers_the_next_call() {
        let system = new_system();
        let bridge = system.bridge();
        let service = system.spawn(Service);
        let rt = runtime();
        rt.block_on(async {
            for n in 0..2000u64 {
                let got: u64 = bridge.call_async(&service, Req::Twice(n), WAIT).await.unwrap();
                assert_eq!(got, n);
                let got: u64 = bridge.call_async(&service, Req::Double(n), WAIT).await.unwrap();
                assert_eq!(got, n * 2);
            }
        });
    }

    #[test]
    fn a_dropped_call_leaves_nothing_behind() {
        let system = new_system();
        let bridge = system.bridge();
        let (gatekeeper, open, entries) = gatekeeper(&system);
        let rt = runtime();
        let dropped = bridge.call_async::<u64, _>(&gatekeeper, Gated(1), WAIT);
        entries.recv_timeout(WAIT).unwrap();
        assert_eq!(gatekeeper.info().monitored_by.len(), 1);
        drop(dropped);
        assert!(gatekeeper.info().monitored_by.is_empty());
        let dead_before = system.dead_letters();
        open.send(()).unwrap();
        let got = rt.block_on(bridge.call_async::<u64, _>(&gatekeeper, Open(2), WAIT));
        assert_eq!(got, Ok(2));
        assert_eq!(system.dead_letters(), dead_before + 1, "the orphan reply is a dead letter");
    }

    #[test]
    fn a_call_to_a_dead_actor_fails_at_once() {
        let system = new_system();
        let bridge = system.bridge();
        let service = system.spawn(Service);
        assert!(bridge.stop(std::slice::from_ref(&service), WAIT)[0].is_some());
        let started = Instant::now();
        let got = runtime().block_on(bridge.call_async::<u64, _>(&service, Req::Double(1), LONG));
        assert_eq!(got, Err(CallError::Stopped(ExitReason::NoProc)));
        assert_prompt(started);
    }

    #[test]
    fn a_target_that_dies_mid_call_fails_it_at_once() {
        silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let rt = runtime();
        let started = Instant::now();
        let service = system.spawn(Service);
        let got = rt.block_on(bridge.call_async::<u64, _>(&service, Req::Die, LONG));
        assert_eq!(got, Err(CallError::Stopped(ExitReason::error("gone"))));
        let service = system.spawn(Service);
        let got = rt.block_on(bridge.call_async::<u64, _>(&service, Req::Panic, LONG));
        assert!(matches!(got, Err(CallError::Stopped(ExitReason::Panic(_)))), "{got:?}");
        // Killed while it holds the request.
        let (gatekeeper, _open, entries) = gatekeeper(&system);
        let call = bridge.call_async::<u64, _>(&gatekeeper, Gated(1), LONG);
        entries.recv_timeout(WAIT).unwrap();
        gatekeeper.kill();
        assert_eq!(rt.block_on(call), Err(CallError::Stopped(ExitReason::Killed)));
        assert_prompt(started);
    }

    #[test]
    fn monitor_async_gives_the_end_of_an_actor() {
        let system = new_system();
        let bridge = system.bridge();
        let rt = runtime();
        let service = system.spawn(Service);
        let down = bridge.monitor_async(&service);
        service.exit(ExitReason::error("enough"));
        let down = rt.block_on(down);
        assert_eq!((down.actor, down.reason), (service.id(), ExitReason::error("enough")));
        // An actor already dead: `NoProc` at once.
        let down = rt.block_on(bridge.monitor_async(&service));
        assert_eq!(down.reason, ExitReason::NoProc);
    }

    #[test]
    fn a_dropped_monitor_future_removes_its_monitor() {
        let system = new_system();
        let bridge = system.bridge();
        let service = system.spawn(Service);
        let down = bridge.monitor_async(&service);
        assert_eq!(service.info().monitored_by.len(), 1);
        drop(down);
        assert!(service.info().monitored_by.is_empty());
    }

    #[test]
    fn stop_async_gives_each_end_in_target_order() {
        let system = new_system();
        let bridge = system.bridge();
        let rt = runtime();
        let a = system.spawn(Service);
        let stubborn = system.spawn(Unstoppable);
        let b = system.spawn(Service);
        let dead = system.spawn(Service);
        assert!(bridge.stop(std::slice::from_ref(&dead), WAIT)[0].is_some());
        let targets = [a.clone(), stubborn.clone(), b.clone(), dead.clone()];
        let stopped = rt.block_on(bridge.stop_async(&targets, Duration::from_millis(300)));
        let reasons: Vec<_> = stopped.iter().map(|s| s.as_ref().map(|s| (s.actor, s.reason.clone()))).collect();
        assert_eq!(
            reasons,
            vec![
                Some((a.id(), ExitReason::Normal)),
                None,
                Some((b.id(), ExitReason::Normal)),
                Some((dead.id(), ExitReason::NoProc)),
            ]
        );
        assert!(stubborn.is_alive());
    }
}

/// A runtime of one thread is enough: the wait parks no thread.
#[test]
fn call_async_runs_on_a_current_thread_runtime() {
    let system = System::new();
    let bridge = system.bridge();
    let service = system.spawn(Service);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let got: u64 = rt
        .block_on(bridge.call_async(&service, Req::Double(4), WAIT))
        .unwrap();
    assert_eq!(got, 8);
}
