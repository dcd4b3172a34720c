//! The stress suite of async interop (feature `tokio`), on both executors:
//! each scenario loops for `FERROTP_STRESS_SECS` seconds (default 3) and
//! fails on the first breach of what the README promises. Ignored by
//! default; run them with
//!
//! ```text
//! FERROTP_STRESS_SECS=10 cargo test --release --test stress_async -- --ignored stress
//! ```
//!
//! The races: a call against its target's death, a call dropped or timed
//! out against its reply, a task spawned against its actor's kill, and a
//! task aborted against its own completion.

use std::sync::mpsc;
use std::time::Duration;

use ferrotp::{Actor, ActorRef, CallError, Context, ExitReason, Handlers, Inbox, TaskRef};

#[path = "common/budget.rs"]
mod budget;

use budget::for_budget;

const WAIT: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

/// Answers `Twice(n)` with `n`, then `n + 100`.
struct Twice(u64);
struct Service;

impl Actor for Service {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|_: &mut Self, Twice(n): Twice, ctx: &mut Context<Self>| {
            ctx.reply(n);
            ctx.reply(n + 100);
        })
    }
}

/// Tells the test that a task's future was dropped.
struct DropGuard(mpsc::Sender<()>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// A future that is ready at once and keeps its guard until it is
/// dropped: the guard's drop says the task's body is over.
struct ReadyHolding {
    _guard: DropGuard,
}

impl std::future::Future for ReadyHolding {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

/// Spawns tasks as told and forwards what it receives to `report`.
struct Tasker {
    report: ActorRef,
}
/// Spawn a task that never completes on its own.
struct Forever(DropGuard);
/// Spawn a task that completes at once, and abort it right away; answer
/// whether the abort found it running.
struct SpawnAndAbort(DropGuard);
#[derive(Debug)]
struct Done;
#[derive(Debug)]
struct Marker;

impl Actor for Tasker {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(
                |_: &mut Self, Forever(guard): Forever, ctx: &mut Context<Self>| {
                    ctx.spawn_task(
                        async move {
                            let _guard = guard;
                            std::future::pending::<()>().await
                        },
                        |()| Done,
                    );
                    ctx.reply(());
                },
            )
            .on(
                |_: &mut Self, SpawnAndAbort(guard): SpawnAndAbort, ctx: &mut Context<Self>| {
                    let task: TaskRef = ctx.spawn_task(ReadyHolding { _guard: guard }, |()| Done);
                    ctx.reply(ctx.abort_task(task));
                },
            )
            .on(|tasker: &mut Self, done: Done, ctx: &mut Context<Self>| {
                ctx.send(&tasker.report, done)
            })
            .on(
                |tasker: &mut Self, marker: Marker, ctx: &mut Context<Self>| {
                    ctx.send(&tasker.report, marker)
                },
            )
    }
}

fn expect<T: Send + 'static>(inbox: &Inbox) -> Result<T, &'static str> {
    let envelope = inbox.recv(WAIT).expect("nothing arrived");
    envelope.downcast::<T>().map_err(|other| other.type_name())
}

ferrotp::on_each_executor! {
    /// A call races its target's exit: it is answered, or fails with the
    /// reason (or `NoProc`), never by the timeout.
    #[test]
    #[ignore]
    fn stress_call_async_racing_the_death_of_its_target() {
        let system = new_system();
        let bridge = system.bridge();
        let rt = runtime();
        for_budget("call_async racing death", |n| {
            let service = system.spawn(Service);
            let call = bridge.call_async::<u64, _>(&service, Twice(n), WAIT);
            let killer = service.clone();
            let exit = std::thread::spawn(move || killer.exit(ExitReason::error("gone")));
            match rt.block_on(call) {
                Ok(got) => assert_eq!(got, n),
                Err(CallError::Stopped(reason)) => assert!(
                    reason == ExitReason::error("gone") || reason == ExitReason::NoProc,
                    "{reason}"
                ),
                Err(other) => panic!("call {n}: {other}"),
            }
            exit.join().unwrap();
        });
    }

    /// Calls time out (or are dropped) as their replies arrive: the next
    /// call always gets its own answer, and no monitor is left behind.
    #[test]
    #[ignore]
    fn stress_call_async_timed_out_or_dropped_racing_the_reply() {
        let system = new_system();
        let bridge = system.bridge();
        let service = system.spawn(Service);
        let rt = runtime();
        for_budget("call_async timeout racing the reply", |n| {
            let tiny = Duration::from_micros(n % 50);
            let first = bridge.call_async::<u64, _>(&service, Twice(n), tiny);
            if n % 2 == 0 {
                drop(first);
            } else {
                match rt.block_on(first) {
                    Ok(got) => assert_eq!(got, n),
                    Err(error) => assert_eq!(error, CallError::Timeout),
                }
            }
            let next = rt.block_on(bridge.call_async::<u64, _>(&service, Twice(n + 1), WAIT));
            assert_eq!(next, Ok(n + 1));
            assert!(service.info().monitored_by.is_empty());
        });
    }

    /// A task is spawned as its actor is killed: the task is always
    /// aborted (its future dropped), never left running.
    #[test]
    #[ignore]
    fn stress_spawn_task_racing_a_kill() {
        let system = new_system();
        let inbox = system.inbox();
        for_budget("spawn_task racing kill", |_| {
            let tasker = system.spawn(Tasker { report: inbox.actor().clone() });
            let (dropped, drops) = mpsc::channel();
            inbox.send(&tasker, Forever(DropGuard(dropped)));
            tasker.kill();
            // Dropped with the unhandled message, or with the aborted task.
            drops.recv_timeout(WAIT).expect("a task outlived its actor");
            // The actor's `()` reply may have reached the inbox: drain it.
            while inbox.try_recv().is_some() {}
        });
    }

    /// A task that completes at once is aborted right after its spawn:
    /// if the abort found it running, its outcome never arrives.
    #[test]
    #[ignore]
    fn stress_abort_task_racing_its_completion() {
        let system = new_system();
        let inbox = system.inbox();
        let bridge = system.bridge();
        let tasker = system.spawn(Tasker { report: inbox.actor().clone() });
        let (mut aborted, mut completed) = (0u64, 0u64);
        for_budget("abort_task racing completion", |_| {
            let (dropped, drops) = mpsc::channel();
            let found: bool = bridge.call(&tasker, SpawnAndAbort(DropGuard(dropped)), WAIT).unwrap();
            // Once the future is dropped, the task's body is over: its
            // outcome, if any, is queued before the marker.
            drops.recv_timeout(WAIT).unwrap();
            tasker.send(Marker);
            if found {
                aborted += 1;
                assert_eq!(expect::<Marker>(&inbox).map(|_| ()), Ok(()), "an aborted task was heard of");
            } else {
                completed += 1;
                assert_eq!(expect::<Done>(&inbox).map(|_| ()), Ok(()));
                assert_eq!(expect::<Marker>(&inbox).map(|_| ()), Ok(()));
            }
            assert_eq!(tasker.info().tasks, 0);
        });
        eprintln!("aborted {aborted}, completed first {completed}");
    }
}
