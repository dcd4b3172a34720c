//! Tokio tasks of actors (feature `tokio`): `Context::spawn_task` delivers
//! the mapped output as a message, a panic as `TaskFailed`, the actor's end
//! aborts its tasks, and `ActorInfo::tasks` counts them.

use std::sync::mpsc;
use std::time::Duration;

use ferrotp::{
    silence_actor_panics, Actor, ActorRef, Context, ExitReason, Handlers, Inbox, SystemBuilder,
    TaskError, TaskFailed, TaskRef,
};
use tokio::sync::oneshot;

const WAIT: Duration = Duration::from_secs(10);

/// Tells the test, by a message, that a task's future was dropped.
struct DropGuard {
    label: &'static str,
    dropped: mpsc::Sender<&'static str>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        let _ = self.dropped.send(self.label);
    }
}

/// Starts tasks as the test says and reports their outcomes to `report`.
struct Tasker {
    report: ActorRef,
}

/// Start a task that holds `guard` and ends with what `gate` brings.
struct Start {
    label: &'static str,
    gate: oneshot::Receiver<u64>,
    guard: DropGuard,
}
/// The outcome of a `Start` task.
#[derive(Debug, PartialEq, Eq)]
struct Done(&'static str, Option<u64>);
/// Start a task that panics (in the future, or in the mapping function).
struct StartPanicking {
    in_map: bool,
}
/// Start a task that reports the name of the thread it runs on.
struct WhereDoTasksRun;
#[derive(Debug)]
struct RanOn(Option<String>);
struct Abort(TaskRef);

impl Tasker {
    fn start(&mut self, start: Start, ctx: &mut Context<Self>) {
        let Start { label, gate, guard } = start;
        let task = ctx.spawn_task(
            async move {
                let _guard = guard;
                gate.await.ok()
            },
            move |n| Done(label, n),
        );
        ctx.reply(task);
    }
    fn done(&mut self, done: Done, ctx: &mut Context<Self>) {
        ctx.send(&self.report, done);
    }
    fn start_panicking(&mut self, start: StartPanicking, ctx: &mut Context<Self>) {
        let task = if start.in_map {
            ctx.spawn_task(async { 1u64 }, |_| -> Done { panic!("map failed") })
        } else {
            ctx.spawn_task(async { panic!("task failed") }, |()| Done("never", None))
        };
        ctx.reply(task);
    }
    fn failed(&mut self, failed: TaskFailed, ctx: &mut Context<Self>) {
        ctx.send(&self.report, failed);
    }
    fn where_do_tasks_run(&mut self, _: WhereDoTasksRun, ctx: &mut Context<Self>) {
        ctx.spawn_task(
            async { std::thread::current().name().map(String::from) },
            RanOn,
        );
    }
    fn ran_on(&mut self, ran_on: RanOn, ctx: &mut Context<Self>) {
        ctx.send(&self.report, ran_on);
    }
    fn abort(&mut self, Abort(task): Abort, ctx: &mut Context<Self>) {
        ctx.reply(ctx.abort_task(task));
    }
}

impl Actor for Tasker {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::start)
            .on(Self::done)
            .on(Self::start_panicking)
            .on(Self::failed)
            .on(Self::where_do_tasks_run)
            .on(Self::ran_on)
            .on(Self::abort)
    }
}

/// The next message of `inbox`, which must be a `T`.
fn expect<T: Send + 'static>(inbox: &Inbox) -> T {
    let envelope = inbox.recv(WAIT).expect("nothing arrived");
    let name = envelope.type_name();
    envelope
        .downcast::<T>()
        .unwrap_or_else(|_| panic!("expected {}, got {name}", std::any::type_name::<T>()))
}

/// A task gated by the test: the sender that ends it, and the message to
/// start it.
fn gated(
    label: &'static str,
    dropped: &mpsc::Sender<&'static str>,
) -> (oneshot::Sender<u64>, Start) {
    let (open, gate) = oneshot::channel();
    let guard = DropGuard {
        label,
        dropped: dropped.clone(),
    };
    (open, Start { label, gate, guard })
}

ferrotp::on_each_executor! {
    /// A system, the tasker, the inbox it reports to, and a bridge.
    fn setup() -> (ferrotp::System, ActorRef, Inbox, ferrotp::Bridge) {
        let system = new_system();
        let inbox = system.inbox();
        let tasker = system.spawn(Tasker { report: inbox.actor().clone() });
        let bridge = system.bridge();
        (system, tasker, inbox, bridge)
    }

    #[test]
    fn a_task_delivers_its_mapped_output_as_a_message() {
        let (_system, tasker, inbox, bridge) = setup();
        let (dropped, _drops) = mpsc::channel();
        let (open, start) = gated("a", &dropped);
        let _task: TaskRef = bridge.call(&tasker, start, WAIT).unwrap();
        assert_eq!(tasker.info().tasks, 1);
        open.send(7).unwrap();
        assert_eq!(expect::<Done>(&inbox), Done("a", Some(7)));
        // Out of the count before its message was sent.
        assert_eq!(tasker.info().tasks, 0);
    }

    #[test]
    fn the_count_of_running_tasks_follows_them() {
        let (_system, tasker, inbox, bridge) = setup();
        let (dropped, _drops) = mpsc::channel();
        let mut opens = Vec::new();
        for label in ["a", "b", "c"] {
            let (open, start) = gated(label, &dropped);
            let _: TaskRef = bridge.call(&tasker, start, WAIT).unwrap();
            opens.push(open);
        }
        assert_eq!(tasker.info().tasks, 3);
        let open = opens.remove(1);
        open.send(2).unwrap();
        assert_eq!(expect::<Done>(&inbox), Done("b", Some(2)));
        assert_eq!(tasker.info().tasks, 2);
        // A task whose gate is dropped ends too (with `None`).
        opens.clear();
        let mut done = [expect::<Done>(&inbox), expect::<Done>(&inbox)];
        done.sort_by_key(|d| d.0);
        assert_eq!(done, [Done("a", None), Done("c", None)]);
        assert_eq!(tasker.info().tasks, 0);
    }

    #[test]
    fn a_panic_in_a_task_arrives_as_task_failed() {
        silence_actor_panics();
        let (_system, tasker, inbox, bridge) = setup();
        for in_map in [false, true] {
            let task: TaskRef = bridge.call(&tasker, StartPanicking { in_map }, WAIT).unwrap();
            let failed = expect::<TaskFailed>(&inbox);
            let text = if in_map { "map failed" } else { "task failed" };
            assert_eq!(failed, TaskFailed { task, error: TaskError::Panicked(text.to_string()) });
        }
        // The actor carries on.
        assert!(tasker.is_alive());
        assert_eq!(tasker.info().tasks, 0);
    }

    #[test]
    fn the_end_of_an_actor_aborts_its_tasks() {
        for end in ["stop", "exit", "kill"] {
            let (_system, tasker, _inbox, bridge) = setup();
            let (dropped, drops) = mpsc::channel();
            let (open_a, start) = gated("a", &dropped);
            let _: TaskRef = bridge.call(&tasker, start, WAIT).unwrap();
            let (open_b, start) = gated("b", &dropped);
            let _: TaskRef = bridge.call(&tasker, start, WAIT).unwrap();
            match end {
                "stop" => assert!(bridge.stop(std::slice::from_ref(&tasker), WAIT)[0].is_some()),
                "exit" => tasker.exit(ExitReason::error("gone")),
                _ => tasker.kill(),
            }
            let mut guards = [drops.recv_timeout(WAIT).unwrap(), drops.recv_timeout(WAIT).unwrap()];
            guards.sort();
            assert_eq!(guards, ["a", "b"], "after {end}");
            // The futures are gone: nobody awaits the gates any more.
            let (mut open_a, mut open_b) = (open_a, open_b);
            let gates_closed = async {
                open_a.closed().await;
                open_b.closed().await;
            };
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
            let waited = rt.block_on(async { tokio::time::timeout(WAIT, gates_closed).await });
            assert!(waited.is_ok(), "after {end}, a gate is still awaited");
        }
    }

    #[test]
    fn an_aborted_task_is_dropped_and_never_heard_of() {
        let (_system, tasker, inbox, bridge) = setup();
        let (dropped, drops) = mpsc::channel();
        let (open_a, start) = gated("a", &dropped);
        let a: TaskRef = bridge.call(&tasker, start, WAIT).unwrap();
        assert_eq!(bridge.call::<bool, _>(&tasker, Abort(a), WAIT), Ok(true));
        assert_eq!(drops.recv_timeout(WAIT).unwrap(), "a");
        assert_eq!(tasker.info().tasks, 0);
        assert_eq!(bridge.call::<bool, _>(&tasker, Abort(a), WAIT), Ok(false));
        let _ = open_a.send(1);
        // The next outcome to arrive is the next task's.
        let (open_b, start) = gated("b", &dropped);
        let _: TaskRef = bridge.call(&tasker, start, WAIT).unwrap();
        open_b.send(2).unwrap();
        assert_eq!(expect::<Done>(&inbox), Done("b", Some(2)));
    }

    #[test]
    fn tasks_run_on_the_runtime_given_to_the_system() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("given-runtime")
            .build()
            .unwrap();
        let system = SystemBuilder::default()
            .executor(EXECUTOR)
            .tokio(runtime.handle().clone())
            .build();
        let inbox = system.inbox();
        let tasker = system.spawn(Tasker { report: inbox.actor().clone() });
        tasker.send(WhereDoTasksRun);
        let RanOn(name) = expect::<RanOn>(&inbox);
        assert_eq!(name.as_deref(), Some("given-runtime"));
    }

    #[test]
    fn without_a_runtime_the_system_starts_its_own() {
        let (system, tasker, inbox, _bridge) = setup();
        tasker.send(WhereDoTasksRun);
        let RanOn(name) = expect::<RanOn>(&inbox);
        assert_eq!(name.as_deref(), Some("ferrotp-tokio"));
        // Dropping the system (and its runtime) inside async code is fine.
        drop((tasker, inbox));
        let outer = tokio::runtime::Builder::new_current_thread().build().unwrap();
        outer.block_on(async move { drop(system) });
    }
}
