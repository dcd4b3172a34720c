//! A supervised service under load, watched live by the observer.
//!
//! The tree: `service` (one_for_one) runs the key-value service of
//! `supervised_service` as a rest_for_one subtree `kv` (a flaky `db` that
//! panics every 25th request, a `cache`, a `front`), a slow `jobs` worker
//! that a producer outruns in bursts (watch its mailbox grow and drain),
//! and a dynamic supervisor of `sessions`. Clients call the front, touch
//! sessions, and feed jobs; the database's crashes show as restart counts.
//!
//! ```text
//! cargo run --release --example observer                  # then open the URL it prints
//! cargo run --release --example observer -- --sessions 1000000
//! cargo run --release --example observer -- --for 30      # stop after 30 s
//! ```
//!
//! `FERROTP_OBSERVER_ADDR` picks the address (default `127.0.0.1:0`: loopback,
//! a free port).

#[path = "common/kv_service.rs"]
mod kv_service;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferrotp::{Actor, ActorRef, Context, Handlers, System};
use ferrotp_supervisors::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, Supervisor, SupervisorSpec,
};
use kv_service::{Disk, Get, Put, CALL};

/// A piece of work for the slow `jobs` worker.
pub struct Job;
/// Makes `jobs` stall until the sender is dropped (or a minute passes):
/// a stuck handler, to watch a mailbox grow.
pub struct Stall(pub mpsc::Receiver<()>);

/// Handles each job in about two milliseconds: slower than its producer's bursts.
struct Jobs;

impl Jobs {
    fn job(&mut self, _: Job, _ctx: &mut Context<Self>) {
        std::thread::sleep(Duration::from_millis(2));
    }
    fn stall(&mut self, Stall(until): Stall, _ctx: &mut Context<Self>) {
        let _ = until.recv_timeout(Duration::from_secs(60));
    }
}

impl Actor for Jobs {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::job).on(Self::stall)
    }
}

/// One user session.
struct Session {
    touched: u64,
}
pub struct Touch;

impl Session {
    fn touch(&mut self, _: Touch, _ctx: &mut Context<Self>) {
        self.touched += 1;
    }
}

impl Actor for Session {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::touch)
    }
}

/// The running service.
pub struct Demo {
    pub service: Supervisor,
    pub sessions: DynamicSupervisor<u64>,
    /// The sessions as started (they are never restarted: nothing crashes them).
    pub session_refs: Arc<Vec<ActorRef>>,
}

/// Starts the service with `sessions` sessions.
pub fn start(system: &System, count: u64) -> Demo {
    let disk = Disk::default();
    let kv = kv_service::spec(disk, 1000);
    let spec = SupervisorSpec::one_for_one()
        .name("service")
        .intensity(100, Duration::from_secs(1))
        .child(ChildSpec::supervisor("kv", kv))
        .child(ChildSpec::worker("jobs", || Jobs).name("jobs").dedicated());
    let service = Supervisor::start(system, spec).expect("the service starts");
    let sessions_spec = DynamicSupervisorSpec::worker("session", |_: u64| Session { touched: 0 })
        .name("sessions")
        .intensity(100, Duration::from_secs(1));
    let sessions = DynamicSupervisor::start(system, sessions_spec).expect("sessions start");
    // In batches: one call per batch, not one per session.
    let mut refs = Vec::new();
    let mut next = 0;
    while next < count {
        let batch = (count - next).min(10_000);
        let started = sessions
            .start_children(next..next + batch)
            .expect("sessions start");
        refs.extend(started.into_iter().map(|s| s.expect("a session starts")));
        next += batch;
    }
    Demo {
        service,
        sessions,
        session_refs: Arc::new(refs),
    }
}

/// Clients: a key-value client (which trips the database now and then), a
/// bursty job producer, and a session toucher; they run until `stop`.
pub fn load(system: &System, demo: &Demo, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    let mut threads = Vec::new();
    let (sys, halt) = (system.clone(), stop.clone());
    threads.push(std::thread::spawn(move || {
        let bridge = sys.bridge();
        let mut i = 0u64;
        while !halt.load(Ordering::Relaxed) {
            i += 1;
            if let Some(front) = sys.whereis("front") {
                let key = format!("k{}", i % 50);
                let _ = bridge.call::<(), _>(&front, Put(key.clone(), format!("v{i}")), CALL);
                let _ = bridge.call::<Option<String>, _>(&front, Get(key), CALL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }));
    let (sys, halt) = (system.clone(), stop.clone());
    threads.push(std::thread::spawn(move || {
        let started = Instant::now();
        while !halt.load(Ordering::Relaxed) {
            // Bursts: 4 s at half again what `jobs` handles, then 4 s quiet.
            let bursting = started.elapsed().as_secs() % 8 < 4;
            if bursting {
                if let Some(jobs) = sys.whereis("jobs") {
                    for _ in 0..15 {
                        jobs.send(Job);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }));
    let (sessions, halt) = (demo.session_refs.clone(), stop.clone());
    threads.push(std::thread::spawn(move || {
        let mut at = 0usize;
        while !halt.load(Ordering::Relaxed) && !sessions.is_empty() {
            // A few sessions at a time, different ones each round.
            for _ in 0..50 {
                at = (at + 7919) % sessions.len();
                sessions[at].send(Touch);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }));
    threads
}

#[allow(dead_code)]
fn main() {
    ferrotp::silence_actor_panics();
    let mut sessions = 200u64;
    let mut run_for = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sessions" => sessions = args.next().and_then(|n| n.parse().ok()).unwrap_or(sessions),
            "--for" => {
                run_for = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .map(Duration::from_secs)
            }
            _ => eprintln!("unknown argument {arg}"),
        }
    }
    let system = System::new();
    let started = Instant::now();
    let demo = start(&system, sessions);
    println!("started {sessions} sessions in {:?}", started.elapsed());
    let addr = std::env::var("FERROTP_OBSERVER_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let observer = ferrotp_observer::serve(&system, addr.as_str()).expect("the observer binds");
    println!("observer: {}", observer.url());
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(&system, &demo, &stop);
    match run_for {
        Some(duration) => std::thread::sleep(duration),
        None => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.join();
    }
    observer.stop();
    demo.sessions.stop(CALL).expect("sessions stop");
    demo.service.stop(CALL).expect("the service stops");
}
