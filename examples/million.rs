//! A million supervised actors on the pooled executor.
//!
//! Starts 1,000,000 workers under one `DynamicSupervisor`, crashes 1% of
//! them chosen at random (each panics in a handler), and shows that every
//! crashed worker is restarted: the supervisor reports each restart on the
//! system's event stream, and each replacement answers a call with the
//! number of the worker it replaces. Prints what it costs:
//!
//! - spawn: the time to start every worker (`start_children`, in batches of
//!   10,000);
//! - memory: resident bytes per worker (`/proc/self/statm` before and after
//!   the spawn; includes the supervisor's record of each child and this
//!   program's address of it);
//! - crash + restart: from the first crash to the last restart reported;
//! - verify, stop, and the total.
//!
//! ```text
//! cargo run --release --example million            # 1,000,000 workers
//! cargo run --release --example million -- 10000   # fewer
//! ```
//!
//! The crashes are chosen by a xorshift generator; set `MILLION_SEED` to
//! repeat a run's choice (the seed is printed).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrotp::{Actor, ActorId, ActorRef, Context, Executor, Handlers, System};
use ferrotp_supervisors::{DynamicSupervisor, DynamicSupervisorSpec, Shutdown, SupervisorEvent};

/// Workers started per `start_children` call.
const BATCH: usize = 10_000;

/// How long any one phase may take before the example gives up.
const PHASE: Duration = Duration::from_secs(600);

/// Makes a worker panic.
struct Crash;
/// Asks a worker for its number.
struct Which;

/// Worker number `n`: answers `Which` with `n`, panics at `Crash`.
struct Worker {
    n: u32,
}

impl Worker {
    fn which(&mut self, _: Which, ctx: &mut Context<Self>) {
        ctx.reply(self.n);
    }

    fn crash(&mut self, _: Crash, _ctx: &mut Context<Self>) {
        panic!("worker {} crashed on purpose", self.n);
    }
}

impl Actor for Worker {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::which).on(Self::crash)
    }
}

/// xorshift64* (Vigna): small, fast, and good enough to pick victims.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (the modulo bias is negligible for n ≪ 2⁶⁴).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// This process's resident set in bytes (`/proc/self/statm`, Linux; pages
/// taken as 4 KiB).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm (Linux only)");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("resident pages in /proc/self/statm");
    pages * 4096
}

fn per_second(count: usize, time: Duration) -> String {
    let rate = count as f64 / time.as_secs_f64();
    if rate >= 1e6 {
        format!("{:.2} M/s", rate / 1e6)
    } else {
        format!("{:.1} k/s", rate / 1e3)
    }
}

fn main() {
    let workers: usize = match std::env::args().nth(1) {
        Some(arg) => match arg.replace('_', "").parse() {
            Ok(n) if n > 0 && n <= u32::MAX as usize => n,
            _ => panic!("usage: million [WORKERS], got {arg:?}"),
        },
        None => 1_000_000,
    };
    let crashes = (workers / 100).max(1);
    let seed = std::env::var("MILLION_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |t| t.as_nanos() as u64)
        });
    // A crash is expected here: no panic message for each.
    ferrotp::silence_actor_panics();

    let begin = Instant::now();
    let system = System::builder().executor(Executor::Pool).build();
    let sup = DynamicSupervisor::start(
        &system,
        DynamicSupervisorSpec::worker("worker", |n: u32| Worker { n })
            // Room for every planned restart within the window.
            .intensity(crashes as u32 * 2, Duration::from_secs(60))
            // When the supervisor stops, all its workers share one shutdown
            // timeout; the default 5 s is too short for a million, and the
            // workers still running at its end would be killed.
            .shutdown(Shutdown::Timeout(PHASE)),
    )
    .expect("the supervisor starts")
    .with_call_timeout(PHASE);
    println!("million: {workers} supervised workers on the pooled executor, {crashes} to crash (seed {seed})");

    // Spawn: batches of children, one round trip to the supervisor each.
    let rss_before = rss_bytes();
    let spawn_start = Instant::now();
    let mut children: Vec<ActorRef> = Vec::with_capacity(workers);
    for first in (0..workers).step_by(BATCH) {
        let last = (first + BATCH).min(workers);
        let started = sup
            .start_children((first..last).map(|n| n as u32))
            .expect("the supervisor answers");
        children.extend(
            started
                .into_iter()
                .map(|child| child.expect("a worker starts")),
        );
    }
    let spawn_time = spawn_start.elapsed();
    let rss_after = rss_bytes();
    assert_eq!(children.len(), workers);
    assert_eq!(sup.count_children().expect("counts").active, workers);
    let bytes = rss_after.saturating_sub(rss_before) as f64 / workers as f64;
    println!(
        "spawn:          {workers} in {:.2} s ({})",
        spawn_time.as_secs_f64(),
        per_second(workers, spawn_time)
    );
    println!(
        "memory:         {bytes:.0} bytes/worker (RSS {:.1} → {:.1} MiB)",
        rss_before as f64 / (1 << 20) as f64,
        rss_after as f64 / (1 << 20) as f64
    );

    // Crash 1% at random and wait until the supervisor reports each restart.
    let mut rng = XorShift::new(seed);
    let mut victims = HashSet::with_capacity(crashes);
    while victims.len() < crashes {
        victims.insert(rng.below(workers));
    }
    // Each victim's current actor → its number.
    let mut crashed: HashMap<ActorId, usize> =
        victims.iter().map(|&n| (children[n].id(), n)).collect();
    let events = system.subscribe();
    let crash_start = Instant::now();
    for &n in &victims {
        children[n].send(Crash);
    }
    let deadline = crash_start + PHASE;
    // Each replacement → the number of the worker it replaces.
    let mut replacements: HashMap<ActorId, usize> = HashMap::with_capacity(crashes);
    while !crashed.is_empty() {
        let event = events
            .recv_deadline(deadline)
            .unwrap_or_else(|_| panic!("{} crashed workers were not restarted", crashed.len()));
        match event.custom::<SupervisorEvent>() {
            Some(SupervisorEvent::ChildRestarted {
                old: Some(old),
                new,
                ..
            }) => {
                if let Some(n) = crashed.remove(old) {
                    replacements.insert(*new, n);
                }
            }
            Some(SupervisorEvent::SupervisorEscalated { .. }) => {
                panic!("the supervisor gave up: too many restarts")
            }
            _ => {}
        }
    }
    let crash_time = crash_start.elapsed();
    drop(events);
    println!(
        "crash+restart:  {crashes} in {:.1} ms ({})",
        crash_time.as_secs_f64() * 1e3,
        per_second(crashes, crash_time)
    );

    // Verify: the restarted children are exactly the replacements, and each
    // answers with the number of the worker it replaced.
    let verify_start = Instant::now();
    let restarted: Vec<ActorRef> = sup
        .which_children()
        .expect("the children")
        .into_iter()
        .filter(|child| child.restarts > 0)
        .map(|child| child.actor.expect("a restarted child runs"))
        .collect();
    assert_eq!(restarted.len(), crashes, "children restarted");
    let answers = system
        .bridge()
        .multi_call::<u32, _>(restarted.iter().map(|child| (child.clone(), Which)), PHASE);
    let mut answered = HashSet::with_capacity(crashes);
    for (child, answer) in restarted.iter().zip(answers) {
        let n = answer.expect("a replacement answers") as usize;
        assert_eq!(
            replacements.get(&child.id()),
            Some(&n),
            "replacement of worker {n}"
        );
        answered.insert(n);
    }
    assert_eq!(answered, victims, "every crashed worker answers again");
    assert_eq!(sup.count_children().expect("counts").active, workers);
    let verify_time = verify_start.elapsed();
    println!(
        "verify:         all {crashes} replacements answered as the workers they replace, in {:.1} ms",
        verify_time.as_secs_f64() * 1e3
    );

    let stop_start = Instant::now();
    drop(children);
    sup.stop(PHASE).expect("the supervisor stops its workers");
    let stop_time = stop_start.elapsed();
    system.shutdown(PHASE).expect("the system shuts down");
    println!(
        "stop:           {:.2} s (the supervisor and its workers; {:.2} s with the system's shutdown)",
        stop_time.as_secs_f64(),
        stop_start.elapsed().as_secs_f64()
    );
    println!("total:          {:.2} s", begin.elapsed().as_secs_f64());
}
