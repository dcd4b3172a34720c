//! `spawn_link` and `spawn_monitor` that get no thread for the child
//! (`TooManyThreads`) report the failure exactly once, about the address
//! they return. This file is its own test binary: it fills the process's
//! thread limit, which no other test may share.

#[path = "common/receive.rs"]
#[allow(dead_code)]
mod receive;

use std::time::Duration;

use ferrotp::{
    Actor, ActorId, Context, Down, Executor, ExitReason, Handlers, Inbox, MonitorRef, SpawnError,
    SpawnOptions, Stopped, System,
};
use receive::next;

mod robust_common;

use robust_common::WAIT;

struct Idle;
impl Actor for Idle {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
}

/// Spawns a child on command, linked or monitored, and reports to `report`
/// what it got back and every `Stopped` and `Down` it receives.
struct Parent {
    report: ferrotp::ActorRef,
}
struct LinkChild;
struct MonitorChild;
struct Ping;
#[derive(Debug, PartialEq)]
struct Pong;
#[derive(Debug, PartialEq)]
struct Linked(ActorId);
#[derive(Debug, PartialEq)]
struct Monitoring(ActorId, MonitorRef);

impl Parent {
    fn link_child(&mut self, _: LinkChild, ctx: &mut Context<Self>) {
        let child = ctx.spawn_link(Idle);
        ctx.send(&self.report, Linked(child.id()));
    }
    fn monitor_child(&mut self, _: MonitorChild, ctx: &mut Context<Self>) {
        let (child, monitor) = ctx.spawn_monitor(Idle);
        ctx.send(&self.report, Monitoring(child.id(), monitor));
    }
    fn ping(&mut self, _: Ping, ctx: &mut Context<Self>) {
        ctx.send(&self.report, Pong);
    }
    fn stopped(&mut self, stopped: Stopped, ctx: &mut Context<Self>) {
        ctx.send(&self.report, stopped);
    }
    fn down(&mut self, down: Down, ctx: &mut Context<Self>) {
        ctx.send(&self.report, down);
    }
}

impl Actor for Parent {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::link_child)
            .on(Self::monitor_child)
            .on(Self::ping)
            .on(Self::stopped)
            .on(Self::down)
    }
}

/// `parent` spawns a linked child, then a monitored one, while no thread
/// is to be had: each attempt gives exactly one signal, about the id it
/// returned, with `NoProc`. The `Pong` after each proves nothing else
/// was queued (signals sent during a handler are queued before the ping).
fn one_signal_each(parent: &ferrotp::ActorRef, inbox: &Inbox) {
    parent.send(LinkChild);
    let Linked(child) = next::<Linked>(inbox);
    let stopped = next::<Stopped>(inbox);
    assert_eq!((stopped.actor, stopped.reason), (child, ExitReason::NoProc));
    parent.send(Ping);
    assert_eq!(next::<Pong>(inbox), Pong);

    parent.send(MonitorChild);
    let Monitoring(child, monitor) = next::<Monitoring>(inbox);
    let down = next::<Down>(inbox);
    assert_eq!(
        (down.actor, down.monitor, down.reason),
        (child, monitor, ExitReason::NoProc)
    );
    parent.send(Ping);
    assert_eq!(next::<Pong>(inbox), Pong);
}

/// A system whose children are dedicated, with a parent on each executor
/// (started while threads are still to be had), and a second system that
/// then takes every thread the process may start.
struct FullHouse {
    system: System,
    inbox: Inbox,
    parents: Vec<ferrotp::ActorRef>,
    filler: System,
    _one: std::sync::MutexGuard<'static, ()>,
}

/// The thread limit is the process's: one test at a time may fill it.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn full_house() -> FullHouse {
    let one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let system = System::builder()
        .executor(Executor::Threads)
        .stack_size(64 * 1024)
        .workers(1)
        .build();
    let inbox = system.inbox();
    let parents: Vec<_> = [Executor::Pool, Executor::Threads]
        .into_iter()
        .map(|executor| {
            let options = SpawnOptions::new().trap_exit(true).executor(executor);
            let parent = Parent {
                report: inbox.actor().clone(),
            };
            system.spawn_with(parent, options).expect("a parent")
        })
        .collect();
    let filler = System::builder()
        .executor(Executor::Threads)
        .stack_size(64 * 1024)
        .build();
    let mut filled = false;
    for _ in 0..System::thread_limit() + 1 {
        if let Err(error) = filler.try_spawn(Idle) {
            assert!(
                matches!(error, SpawnError::TooManyThreads { .. }),
                "{error}"
            );
            filled = true;
            break;
        }
    }
    assert!(filled, "the thread limit was reached");
    FullHouse {
        system,
        inbox,
        parents,
        filler,
        _one: one,
    }
}

impl FullHouse {
    fn shutdown(self) {
        self.filler.shutdown(Duration::from_secs(60)).unwrap();
        self.system.shutdown(WAIT).unwrap();
        assert_eq!(self.filler.threads(), 0, "the threads are given back");
    }
}

#[test]
fn spawns_that_get_no_thread_give_one_signal_about_the_returned_address() {
    let house = full_house();
    let (system, inbox, parents) = (&house.system, &house.inbox, &house.parents);
    for parent in parents {
        one_signal_each(parent, inbox);
    }
    // A plain spawn with a link that fails returns the error, and the
    // actor it names as its link hears nothing.
    let linked = system.spawn_with(Idle, SpawnOptions::new().link(inbox.actor()));
    assert!(matches!(linked, Err(SpawnError::TooManyThreads { .. })));
    let monitor = inbox.monitor(&parents[0]);
    parents[0].kill();
    let down = next::<Down>(inbox);
    assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Killed));
    house.shutdown();
}

/// The same, looped for `FERROTP_STRESS_SECS` (see `tests/stress_robustness.rs`).
#[test]
#[ignore]
fn stress_spawns_that_get_no_thread_give_one_signal() {
    let house = full_house();
    let until = std::time::Instant::now() + robust_common::stress_duration();
    let mut rounds = 0;
    while rounds == 0 || std::time::Instant::now() < until {
        for parent in &house.parents {
            one_signal_each(parent, &house.inbox);
        }
        rounds += 1;
    }
    println!("{rounds} rounds");
    house.shutdown();
}
