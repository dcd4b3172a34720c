//! Restart latency: from a crash to the restarted child answering a call,
//! for one child under one_for_one and for a one_for_all group of 10, with
//! the supervisor and its children on each executor
//! (`restart_one_for_one/pool`, `restart_one_for_one/threads`,
//! `restart_one_for_all_10/pool`, `restart_one_for_all_10/threads`). Each
//! iteration checks that the crashed child was replaced and that its
//! replacement answers.
//!
//! ```text
//! cargo bench -p ferrotp-supervisors --bench restart
//! cargo bench -p ferrotp-supervisors --bench restart -- /pool
//! cargo bench -p ferrotp-supervisors --bench restart -- --test
//! ```

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use ferrotp::{Actor, ActorRef, Context, Down, Executor, Handlers, Inbox, System};
use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorSpec};

const WAIT: Duration = Duration::from_secs(60);

struct Crash;
struct Ping;

struct Child;

impl Child {
    fn crash(&mut self, _: Crash, _ctx: &mut Context<Self>) -> Result<(), String> {
        Err("crash".into())
    }

    fn ping(&mut self, _: Ping, ctx: &mut Context<Self>) {
        ctx.reply(());
    }
}

impl Actor for Child {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::crash).on(Self::ping)
    }
}

/// A supervisor whose intensity never runs out: a window of 1 ms holds at
/// most a handful of restarts.
fn start(system: &System, spec: SupervisorSpec, children: usize) -> Supervisor {
    let mut spec = spec.intensity(u32::MAX, Duration::from_millis(1));
    for i in 0..children {
        spec = spec.child(ChildSpec::worker(format!("c{i}"), || Child));
    }
    Supervisor::start(system, spec).expect("supervisor starts")
}

/// Crashes child `victim`, then calls its new incarnation. Once the crashed
/// child's `Down` arrived, the supervisor has its `Stopped` queued, so the
/// `which_children` answer (which names the new incarnation) comes after
/// the restart. `current` holds the running children.
fn crash_and_call(
    system: &System,
    inbox: &Inbox,
    sup: &Supervisor,
    current: &mut Vec<ActorRef>,
    victim: usize,
) {
    let old = current[victim].clone();
    let monitor = inbox.monitor(&old);
    old.send(Crash);
    loop {
        let envelope = inbox.recv(WAIT).expect("Down");
        if envelope
            .downcast::<Down>()
            .is_ok_and(|d| d.monitor == monitor)
        {
            break;
        }
    }
    *current = running(sup);
    assert_ne!(current[victim], old, "not restarted");
    let () = system
        .bridge()
        .call(&current[victim], Ping, WAIT)
        .expect("restarted child answers");
}

fn running(sup: &Supervisor) -> Vec<ActorRef> {
    sup.which_children()
        .expect("which_children")
        .into_iter()
        .map(|c| c.actor.expect("running"))
        .collect()
}

/// The executors every workload runs on, with the label of its bench id.
const EXECUTORS: [(&str, Executor); 2] = [("pool", Executor::Pool), ("threads", Executor::Threads)];

/// A supervisor (and its children) on one executor, the inbox that watches
/// the crashes, and the children now running.
struct Tree {
    system: System,
    sup: Supervisor,
    inbox: Inbox,
    current: Vec<ActorRef>,
}

impl Tree {
    fn new(executor: Executor, spec: SupervisorSpec, children: usize) -> Self {
        let system = System::builder().executor(executor).build();
        let sup = start(&system, spec, children);
        let inbox = system.inbox();
        let current = running(&sup);
        Tree {
            system,
            sup,
            inbox,
            current,
        }
    }
}

fn restart_latency(c: &mut Criterion) {
    for (name, spec, children) in [
        (
            "restart_one_for_one",
            SupervisorSpec::one_for_one as fn() -> _,
            1,
        ),
        ("restart_one_for_all_10", SupervisorSpec::one_for_all, 10),
    ] {
        let mut group = c.benchmark_group(name);
        for (label, executor) in EXECUTORS {
            // Set up on first use, so that a filter that skips a bench
            // skips its setup too.
            let mut tree = None;
            group.bench_function(label, |b| {
                let Tree {
                    system,
                    sup,
                    inbox,
                    current,
                } = tree.get_or_insert_with(|| Tree::new(executor, spec(), children));
                b.iter_custom(|iters| {
                    let begin = Instant::now();
                    for i in 0..iters {
                        crash_and_call(system, inbox, sup, current, i as usize % children);
                    }
                    begin.elapsed()
                })
            });
            if let Some(tree) = tree {
                tree.sup.stop(WAIT).expect("stops");
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = restart_latency
}
criterion_main!(benches);
