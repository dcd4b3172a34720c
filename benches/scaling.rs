//! Cost per item as the work grows: each row is measured at n = 1k, 10k,
//! 100k and 1M and printed as time per item, with the growth factor (cost
//! at the largest n over cost at 1k: 1× is O(1) per item, 1000× at 1M
//! would be O(n) per item). Pooled executor.
//!
//! ```text
//! cargo bench --bench scaling                       # up to 1M
//! FERROTP_SCALE_MAX=100_000 cargo bench --bench scaling
//! cargo bench --bench scaling -- restart tree       # rows whose name contains a word
//! ```
//!
//! The anchor row (a crossbeam channel: send then receive n items, one
//! thread) is measured in the same run: it shows what the machine did at
//! each n, so a row that grows with it is the machine, not ferrotp.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{env_size, system_on, WAIT};
use ferrotp::{Actor, ActorId, ActorRef, Context, Down, Executor, Handlers, Inbox, System};
use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorSpec};

/// The sizes measured, capped by `FERROTP_SCALE_MAX`.
fn sizes() -> Vec<usize> {
    let max = env_size("FERROTP_SCALE_MAX", 1_000_000);
    [1_000, 10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|&n| n <= max)
        .collect()
}

/// Repetitions of an operation whose cost should not depend on n.
const REPS: usize = 200;

/// An idle actor that reports each start on a shared counter.
struct Idle {
    starts: Arc<AtomicU64>,
}

impl Actor for Idle {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }

    fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ferrotp::ExitReason> {
        self.starts.fetch_add(1, Ordering::Release);
        Ok(())
    }
}

struct Plain;

impl Actor for Plain {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
}

fn system() -> System {
    system_on(Executor::Pool)
}

fn idle_child(id: String, starts: &Arc<AtomicU64>) -> ChildSpec {
    let starts = starts.clone();
    ChildSpec::worker(id, move || Idle {
        starts: starts.clone(),
    })
}

/// A one-for-one supervisor with n idle children; the last is named
/// `last`, so that it is found without asking the supervisor.
fn flat_supervisor(system: &System, n: usize, starts: &Arc<AtomicU64>) -> Supervisor {
    let mut spec = SupervisorSpec::one_for_one().intensity(u32::MAX, Duration::from_secs(1));
    for i in 0..n {
        let child = idle_child(format!("c{i}"), starts);
        spec = spec.child(if i + 1 == n {
            child.name("last")
        } else {
            child
        });
    }
    Supervisor::start(system, spec)
        .expect("the supervisor starts")
        .with_call_timeout(WAIT)
}

fn wait_for(counter: &AtomicU64, at_least: u64) {
    let deadline = Instant::now() + WAIT;
    while counter.load(Ordering::Acquire) < at_least {
        assert!(Instant::now() < deadline, "nothing within {WAIT:?}");
        std::thread::yield_now();
    }
}

fn expect_down(inbox: &Inbox) -> Down {
    inbox
        .recv(WAIT)
        .expect("a Down")
        .downcast::<Down>()
        .unwrap_or_else(|_| panic!("not a Down"))
}

/// Crash → restart of the last child of a static supervisor with n children.
fn restart_last(n: usize) -> Duration {
    let system = system();
    let starts = Arc::new(AtomicU64::new(0));
    let sup = flat_supervisor(&system, n, &starts);
    let mut total = Duration::ZERO;
    for _ in 0..REPS {
        let last = system.whereis("last").expect("the last child runs");
        let before = starts.load(Ordering::Acquire);
        let t = Instant::now();
        last.kill();
        wait_for(&starts, before + 1);
        total += t.elapsed();
    }
    sup.stop(WAIT).expect("the supervisor stops");
    total / REPS as u32
}

/// `terminate_child` then `restart_child` of the last child, by id.
fn terminate_restart_last(n: usize) -> Duration {
    let system = system();
    let starts = Arc::new(AtomicU64::new(0));
    let sup = flat_supervisor(&system, n, &starts);
    let id = format!("c{}", n - 1);
    let t = Instant::now();
    for _ in 0..REPS {
        sup.terminate_child(&id).expect("terminated");
        sup.restart_child(&id).expect("restarted");
    }
    let per = t.elapsed() / REPS as u32;
    sup.stop(WAIT).expect("the supervisor stops");
    per
}

/// n `start_child` calls on a supervisor that grows to n children.
fn start_child_calls(n: usize) -> Duration {
    let system = system();
    let starts = Arc::new(AtomicU64::new(0));
    let sup = flat_supervisor(&system, 1, &starts);
    let t = Instant::now();
    for i in 0..n {
        sup.start_child(idle_child(format!("x{i}"), &starts))
            .expect("started");
    }
    let per = t.elapsed() / n as u32;
    sup.stop(WAIT).expect("the supervisor stops");
    per
}

/// A 10-ary tree of supervisors with about n workers under it.
fn tree_spec(workers: usize, starts: &Arc<AtomicU64>) -> SupervisorSpec {
    let mut spec = SupervisorSpec::one_for_one();
    if workers <= 10 {
        for i in 0..workers {
            spec = spec.child(idle_child(format!("w{i}"), starts));
        }
    } else {
        for i in 0..10 {
            let nested = tree_spec(workers / 10, starts);
            spec = spec.child(ChildSpec::supervisor(format!("s{i}"), nested));
        }
    }
    spec
}

thread_local! {
    /// `tree(n)` measured once for both of its rows.
    static TREES: std::cell::RefCell<std::collections::HashMap<usize, (Duration, Duration)>> =
        std::cell::RefCell::default();
}

/// Starting and stopping a tree with n workers (and n/9 supervisors): the
/// cost of each per actor.
fn tree_start(n: usize) -> Duration {
    let measured = measure_tree(n);
    TREES.with(|t| t.borrow_mut().insert(n, measured));
    measured.0
}

/// The stop of the tree `tree_start(n)` measured last, if any.
fn tree_stop(n: usize) -> Duration {
    TREES
        .with(|t| t.borrow_mut().remove(&n))
        .unwrap_or_else(|| measure_tree(n))
        .1
}

fn measure_tree(n: usize) -> (Duration, Duration) {
    let system = system();
    let starts = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let root = Supervisor::start(&system, tree_spec(n, &starts)).expect("the tree starts");
    let started = t.elapsed();
    let actors = system.actors().len() as u32;
    let t = Instant::now();
    root.stop(Duration::from_secs(3600))
        .expect("the tree stops");
    let stopped = t.elapsed();
    (started / actors, stopped / actors)
}

/// `System::shutdown` of n idle actors, per actor.
fn shutdown(n: usize) -> Duration {
    let system = system();
    for _ in 0..n {
        system.spawn(Plain);
    }
    let t = Instant::now();
    system
        .shutdown(Duration::from_secs(3600))
        .expect("shut down");
    t.elapsed() / n as u32
}

/// `System::actors()` with n actors, per actor (best of 3).
fn actors_listing(n: usize) -> Duration {
    let system = system();
    for _ in 0..n {
        system.spawn(Plain);
    }
    let best = (0..3)
        .map(|_| {
            let t = Instant::now();
            assert!(system.actors().len() >= n);
            t.elapsed()
        })
        .min()
        .expect("three runs");
    let _ = system.shutdown(Duration::from_secs(3600));
    best / n as u32
}

/// Links from one inbox to n actors, then each actor killed and its exit
/// signal received: per link.
fn links(n: usize) -> Duration {
    let system = system();
    let actors: Vec<ActorRef> = (0..n).map(|_| system.spawn(Plain)).collect();
    let inbox = system.inbox();
    let t = Instant::now();
    for actor in &actors {
        inbox.link(actor);
    }
    for actor in &actors {
        inbox.unlink(actor);
    }
    let per = t.elapsed() / n as u32;
    let _ = system.shutdown(Duration::from_secs(3600));
    per
}

/// Monitors of n actors from one inbox, each actor killed and its `Down`
/// received: per monitor.
fn monitors(n: usize) -> Duration {
    let system = system();
    let actors: Vec<ActorRef> = (0..n).map(|_| system.spawn(Plain)).collect();
    let inbox = system.inbox();
    let t = Instant::now();
    for actor in &actors {
        inbox.monitor(actor);
    }
    for actor in &actors {
        actor.kill();
    }
    let mut seen: Vec<ActorId> = (0..n).map(|_| expect_down(&inbox).actor).collect();
    let per = t.elapsed() / n as u32;
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n);
    per
}

/// n one-hour timers armed, then all cancelled: per timer.
fn timers(n: usize) -> Duration {
    let system = system();
    let inbox = system.inbox();
    let t = Instant::now();
    let armed: Vec<_> = (0..n)
        .map(|i| system.send_after(Duration::from_secs(3600), inbox.actor(), i))
        .collect();
    for timer in armed {
        assert!(system.cancel_timer(timer));
    }
    t.elapsed() / n as u32
}

/// n names registered, looked up, unregistered: per name.
fn registry(n: usize) -> Duration {
    let system = system();
    let actors: Vec<ActorRef> = (0..n).map(|_| system.spawn(Plain)).collect();
    let names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    let t = Instant::now();
    for (name, actor) in names.iter().zip(&actors) {
        system.register(name, actor).expect("a free name");
    }
    for name in &names {
        assert!(system.whereis(name).is_some());
    }
    for name in &names {
        system.unregister(name);
    }
    let per = t.elapsed() / n as u32;
    let _ = system.shutdown(Duration::from_secs(3600));
    per
}

/// The anchor: n items through a crossbeam channel on one thread.
fn anchor(n: usize) -> Duration {
    let (tx, rx) = crossbeam_channel::unbounded();
    let t = Instant::now();
    for i in 0..n {
        tx.send(i).expect("open");
    }
    for _ in 0..n {
        rx.recv().expect("an item");
    }
    t.elapsed() / n as u32
}

struct Row {
    name: &'static str,
    cells: Vec<Option<Duration>>,
}

fn print_row(row: &Row, sizes: &[usize]) {
    let mut line = format!("| {:<52} |", row.name);
    for cell in &row.cells {
        match cell {
            Some(d) => line += &format!(" {:>10} |", format_duration(*d)),
            None => line += &format!(" {:>10} |", ""),
        }
    }
    let first = row.cells.first().copied().flatten();
    let last = row.cells.iter().rev().find_map(|c| *c);
    match (first, last) {
        (Some(first), Some(last)) if sizes.len() > 1 && first > Duration::ZERO => {
            line += &format!(" {:>6.1}× |", last.as_secs_f64() / first.as_secs_f64());
        }
        _ => line += "        |",
    }
    println!("{line}");
}

fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns >= 10_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else if ns >= 10_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
    }
}

fn main() {
    let sizes = sizes();
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    type Measure = fn(usize) -> Duration;
    let rows: [(&'static str, Measure); 11] = [
        ("anchor: crossbeam send+recv, per item", anchor),
        ("restart: crash → restart of the last child", restart_last),
        (
            "restart: terminate_child + restart_child of the last",
            terminate_restart_last,
        ),
        ("start_child: per call, n calls", start_child_calls),
        ("tree start, per actor", tree_start),
        ("tree stop, per actor", tree_stop),
        ("System::shutdown, per actor", shutdown),
        ("System::actors(), per actor", actors_listing),
        ("links: link + unlink, per link", links),
        ("monitors: monitor + kill + Down, per monitor", monitors),
        ("timers: send_after + cancel, per timer", timers),
    ];
    let registry_row: (&'static str, Measure) =
        ("registry: register + whereis + unregister", registry);
    println!(
        "ferrotp scaling, pooled executor, {} (per item; growth = largest n over 1k)",
        chrono_free_date()
    );
    let mut header = format!("| {:<52} |", "what");
    for n in &sizes {
        header += &format!(" {:>10} |", n);
    }
    header += " growth |";
    println!("{header}");
    println!(
        "{}",
        header
            .chars()
            .map(|c| if c == '|' { '|' } else { '-' })
            .collect::<String>()
    );
    for (name, measure) in rows.into_iter().chain(std::iter::once(registry_row)) {
        if !wanted(name) {
            continue;
        }
        // Warm-up at the smallest size, not shown: the first run of a row
        // pays for the pool's threads and the allocator's first pages.
        if let Some(&n) = sizes.first() {
            measure(n);
        }
        let cells = sizes.iter().map(|&n| Some(measure(n))).collect();
        print_row(&Row { name, cells }, &sizes);
    }
}

/// Today's date (UTC) from the system clock, without a date crate.
fn chrono_free_date() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year}-{month:02}-{day:02}")
}
