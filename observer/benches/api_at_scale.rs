//! What the observer's JSON endpoints cost with a million actors: a
//! dynamic supervisor with `FERROTP_OBSERVER_N` children (default
//! 1,000,000) beside a small static tree, each endpoint asked five times
//! over HTTP on loopback; prints the fastest and the median answer and
//! its size, and the kernel scans behind them.
//!
//! ```text
//! cargo bench -p ferrotp-observer --bench api_at_scale
//! FERROTP_OBSERVER_N=100000 cargo bench -p ferrotp-observer --bench api_at_scale
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ferrotp::{Actor, Context, Handlers, System, TopBy};
use ferrotp_supervisors::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, Supervisor, SupervisorSpec,
};

const CALL: Duration = Duration::from_secs(120);
const ROUNDS: usize = 5;

struct Worker;
struct Note;
impl Worker {
    fn note(&mut self, _: Note, _ctx: &mut Context<Self>) {}
}
impl Actor for Worker {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::note)
    }
}

fn fetch(addr: SocketAddr, path: &str) -> usize {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(CALL)).unwrap();
    write!(conn, "GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{path}");
    answer.len()
}

/// Runs `f` `ROUNDS` times; prints the fastest and the median.
fn measure(what: &str, mut f: impl FnMut() -> usize) {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        bytes = f();
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "{what:<40} fastest {:>9.1} ms  median {:>9.1} ms  {bytes:>8} bytes",
        times[0].as_secs_f64() * 1e3,
        times[ROUNDS / 2].as_secs_f64() * 1e3
    );
}

fn main() {
    let n: u64 = std::env::var("FERROTP_OBSERVER_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let system = System::new();
    let app = Supervisor::start(
        &system,
        SupervisorSpec::one_for_one()
            .name("app")
            .child(ChildSpec::worker("a", || Worker).name("a"))
            .child(ChildSpec::worker("b", || Worker)),
    )
    .unwrap();
    let sessions = DynamicSupervisor::start(
        &system,
        DynamicSupervisorSpec::worker("session", |_: u64| Worker).name("sessions"),
    )
    .unwrap()
    .with_call_timeout(CALL);
    let started = Instant::now();
    let mut next = 0;
    while next < n {
        let batch = (n - next).min(10_000);
        sessions.start_children(next..next + batch).unwrap();
        next += batch;
    }
    println!(
        "{} actors ({n} sessions) started in {:.1} s",
        system.actor_count(),
        started.elapsed().as_secs_f64()
    );
    // Some traffic, so that counters and mailboxes are not all zero.
    for actor in system.actors().iter().step_by(1000) {
        actor.send(Note);
    }
    let observer = ferrotp_observer::serve(&system, "127.0.0.1:0").unwrap();
    let addr = observer.addr();

    measure("System::actor_stats (kernel pass)", || {
        system.actor_stats().len()
    });
    measure("System::top(20, MailboxLen)", || {
        system.top(20, TopBy::MailboxLen).len()
    });
    measure("GET /api/system", || fetch(addr, "/api/system"));
    measure("GET /api/trees (50 children a page)", || {
        fetch(addr, "/api/trees")
    });
    let last_page = n / 50 - 1;
    let id = sessions.actor().id().as_u64();
    measure("GET /api/trees (the last page)", || {
        fetch(addr, &format!("/api/trees?pages={id}:{last_page}"))
    });
    measure("GET /api/top?n=20", || fetch(addr, "/api/top?n=20"));
    measure("GET /api/actors?page=0&per=100", || {
        fetch(addr, "/api/actors?page=0&per=100")
    });
    measure("GET / (the page)", || fetch(addr, "/"));

    drop(observer);
    sessions.stop(CALL).unwrap();
    app.stop(CALL).unwrap();
}
