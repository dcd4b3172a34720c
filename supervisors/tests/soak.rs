//! Soak: random crashes across a 101-actor tree for a while, every step
//! checked against the reference model; then no child is lost, no actor is
//! left over, the process's threads are back to where they were, and the
//! resident memory did not grow beyond a generous bound.
//!
//! Ignored by default. `cargo test -p ferrotp-supervisors -- --ignored soak`
//! (add `--release` for more crashes per second); `FERROTP_SOAK_SECS`
//! sets the duration (default 60) on each executor; the two soaks run one
//! after the other, since each measures the whole process.

mod model;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferrotp::ActorId;
use ferrotp_supervisors::testkit::{
    crash_schedules, Ping, Pong, Runner, ScheduleConfig, ShapeKind, Step, TreeShape,
};
use ferrotp_supervisors::{Restart, Strategy};
use model::{Model, View};
use proptest::prelude::Just;
use proptest::strategy::{Strategy as _, ValueTree};
use proptest::test_runner::TestRunner;

/// Held by the running soak: threads and resident memory are the process's.
static ALONE: Mutex<()> = Mutex::new(());

/// Steps drawn at a time (the soak draws batches until its time is up).
const BATCH: usize = 100;

/// root → 4 supervisors → 4 supervisors each → 5 workers each, that is
/// 1 + 4 + 16 + 80 = 101 actors, all permanent, so that every child must
/// run at the end. The root's intensity is unbounded so that the tree never
/// goes away; the others escalate now and then, and their parents absorb it.
fn hundred_actor_tree() -> TreeShape {
    let strategies = [
        Strategy::OneForOne,
        Strategy::OneForAll,
        Strategy::RestForOne,
    ];
    let mut root = TreeShape::new(Strategy::OneForOne).intensity(u32::MAX, Duration::from_secs(1));
    for i in 0..4 {
        let mut middle = TreeShape::new(strategies[i % 3]).intensity(2, Duration::from_secs(30));
        for j in 0..4 {
            let mut leaf =
                TreeShape::new(strategies[(i + j) % 3]).intensity(1, Duration::from_secs(10));
            for k in 0..5 {
                leaf = leaf.worker(format!("w{k}"), Restart::Permanent);
            }
            middle = middle.supervisor(format!("s{j}"), Restart::Permanent, leaf);
        }
        root = root.supervisor(format!("s{i}"), Restart::Permanent, middle);
    }
    root
}

fn soak_duration() -> Duration {
    let secs = std::env::var("FERROTP_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// The process's threads (`/proc/self/task`), but for the other executor's
/// soak's: it runs on a test harness thread of its own, named after its
/// test (and after the process until it names itself), which may start or
/// end while this soak runs.
fn thread_count() -> usize {
    let name = |task: &Path| std::fs::read_to_string(task.join("comm")).ok();
    let mine = name(Path::new("/proc/thread-self"));
    let process = name(Path::new("/proc/self"));
    let main = std::process::id().to_string();
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| {
            let task = task.ok()?;
            Some((task.file_name(), name(&task.path())?))
        })
        .filter(|(id, name)| {
            let harness = name.starts_with("pool::")
                || name.starts_with("threads::")
                || (Some(name) == process.as_ref() && *id != *main);
            Some(name) == mine.as_ref() || !harness
        })
        .count()
}

/// Resident memory in pages (`/proc/self/statm`, second field).
fn resident_pages() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("statm's resident field")
}

ferrotp::on_each_executor! {
    #[test]
    #[ignore = "soak (a minute): cargo test -p ferrotp-supervisors -- --ignored soak"]
    fn soak_random_crashes_across_a_hundred_actor_tree() {
        let _alone = ALONE.lock().unwrap_or_else(PoisonError::into_inner);
        let duration = soak_duration();
        let threads_before = thread_count();
        let tree = hundred_actor_tree();
        assert_eq!(tree.actor_count(), 101);

        let system = new_system();
        let mut live = Runner::new().start(&system, &tree).unwrap();
        let mut model = Model::start(&tree);
        let config = ScheduleConfig {
            max_advance_secs: 4,
            ..ScheduleConfig::crashes_only(BATCH..BATCH + 1)
        };
        let schedules = crash_schedules(Just(tree.clone()), config);
        let mut rng = TestRunner::deterministic();

        let started = Instant::now();
        let (mut steps, mut crashes, mut restarts, mut escalations) =
            (0usize, 0usize, 0usize, 0usize);
        let mut resident_at_start = None;
        while started.elapsed() < duration {
            let batch = schedules.new_tree(&mut rng).unwrap().current().steps;
            for step in &batch {
                let trace = live.apply(step).unwrap();
                restarts += trace.restarted.len();
                escalations += trace.escalated.len();
                let observed = View::of_trace(&trace);
                let predicted = model.step(step);
                assert_eq!(observed, predicted, "step {steps} ({step:?})");
                steps += 1;
                crashes += usize::from(matches!(step, Step::Crash { .. }));
            }
            // Sampled after a first batch, once allocators and thread stacks
            // have reached their working size.
            resident_at_start.get_or_insert_with(resident_pages);
        }
        let resident_at_end = resident_pages();

        // No child lost: every spec of the shape runs, and its actor answers.
        let last = live.snapshot().unwrap().expect("the root never escalates");
        for (path, shape) in tree.children_deep() {
            let child = last.get(&path).unwrap_or_else(|| panic!("{path} is gone"));
            let actor = child
                .actor
                .as_ref()
                .unwrap_or_else(|| panic!("{path} is not running"));
            if matches!(shape.kind, ShapeKind::Worker) {
                let pong: Pong = system
                    .bridge()
                    .call(actor, Ping, Duration::from_secs(10))
                    .unwrap();
                assert_eq!(pong, Pong);
            }
        }
        // Nothing else runs: no orphan of an old incarnation.
        let tree_actors: BTreeSet<ActorId> = last.actors().iter().map(|a| a.id()).collect();
        let running: BTreeSet<ActorId> = system.actors().iter().map(|a| a.id()).collect();
        assert_eq!(running, tree_actors);
        assert_eq!(tree_actors.len(), 101);

        live.stop().unwrap();
        system.shutdown(Duration::from_secs(10)).unwrap();
        assert_eq!(system.threads(), 0, "the system joined its threads");
        drop(system);
        // A joined thread leaves /proc/self/task a moment after `join` returns;
        // there is no event for that, so wait for the count itself.
        let deadline = Instant::now() + Duration::from_secs(10);
        while thread_count() > threads_before && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let threads_after = thread_count();

        let resident_at_start = resident_at_start.expect("at least one batch ran");
        println!(
            "soak: {:?}, {steps} steps ({crashes} crashes), {restarts} restarts, \
             {escalations} escalations; resident {} KiB -> {} KiB; threads {threads_before} -> {threads_after}",
            started.elapsed(),
            resident_at_start * 4,
            resident_at_end * 4,
        );
        assert_eq!(threads_after, threads_before, "threads leaked");
        // Generous (half again, plus 16 MiB): allocator and thread-stack caches
        // move the figure by a few MiB; leaking a mailbox or a thread's stack at
        // each of the tens of thousands of restarts would exceed it.
        let bound = resident_at_start + resident_at_start / 2 + 4096;
        assert!(
            resident_at_end <= bound,
            "resident memory grew from {resident_at_start} to {resident_at_end} pages (bound {bound})"
        );
    }
}
