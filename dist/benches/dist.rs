//! One-way messages/s and round trips/s over loopback between two nodes,
//! each an OS process of its own:
//! ferrotp↔ferrotp, ferrotp→Erlang, Erlang→ferrotp, and the anchor
//! Erlang↔Erlang between two BEAM nodes, measured in the same run
//! (`cargo bench -p ferrotp-dist --bench dist`). Prints each figure (best
//! of [`RUNS`], interleaved), its ratio to the anchor, and the CPU time
//! both nodes' processes spent per message or round trip (which a loaded
//! machine disturbs far less than wall clock).
//!
//! The Erlang side is `dist_bench.erl`, compiled and loaded by the bench.
//!
//! For profiling one pair alone, without Erlang (`perf` follows the
//! server process too):
//! `DIST_BENCH_ONLY=round_trips DIST_BENCH_N=20000` (or `one_way`) runs
//! ferrotp↔ferrotp only, e.g. under `perf stat -e task-clock`;
//! `erlang_one_way` or `erlang_round_trips` runs Erlang→ferrotp only.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{cookie, node_name, sink, Erl};
use ferrotp::{Actor, ActorRef, Context, Handlers, System};
use ferrotp_dist::codec::{atom, is_atom};
use ferrotp_dist::term::{Atom, Term};
use ferrotp_dist::{Node, NodeConfig};

const ONE_WAY: usize = 100_000;
const ROUND_TRIPS: usize = 10_000;
/// Each figure is the best of this many runs, interleaved with the
/// anchor's: the machine is shared, and a run slowed by someone else's
/// build says nothing about either side.
const RUNS: usize = 3;

/// Counts messages; `{done, Pid}` is answered with `done` once all
/// earlier messages were counted; `ping` calls are answered with `pong`.
struct Sink;

impl Sink {
    fn on_term(&mut self, term: Term, ctx: &mut Context<Self>) {
        if is_atom(&term, "ping") {
            ctx.reply(atom("pong"));
        }
    }
    fn done(&mut self, (_, to): (Atom, ActorRef), _: &mut Context<Self>) {
        to.send(atom("done"));
    }
}

impl Actor for Sink {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::on_term).on(Self::done)
    }
}

/// User plus system CPU time of the processes `pids` (0: this one) so
/// far, from `/proc` (clock ticks of 10 ms).
fn cpu(pids: &[u32]) -> Duration {
    let ticks = |pid: u32| -> u64 {
        let path = if pid == 0 {
            "/proc/self/stat".to_string()
        } else {
            format!("/proc/{pid}/stat")
        };
        let Ok(stat) = std::fs::read_to_string(path) else {
            return 0;
        };
        // Fields after the command name (which may hold spaces): state is
        // the 3rd field, utime and stime the 14th and 15th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok());
        field(14).unwrap_or(0) + field(15).unwrap_or(0)
    };
    Duration::from_millis(pids.iter().map(|&p| ticks(p)).sum::<u64>() * 10)
}

/// One measurement: operations per second of wall clock, and CPU
/// microseconds per operation over the processes involved.
#[derive(Clone, Copy, Default)]
struct Sample {
    rate: f64,
    cpu_us: f64,
}

/// Runs `work` (which does `n` operations and returns its own wall-clock
/// time), charging the CPU of `pids` to it.
fn measure(n: usize, pids: &[u32], work: impl FnOnce() -> Duration) -> Sample {
    let before = cpu(pids);
    let elapsed = work();
    let spent = cpu(pids).saturating_sub(before);
    Sample {
        rate: n as f64 / elapsed.as_secs_f64(),
        cpu_us: spent.as_secs_f64() * 1e6 / n as f64,
    }
}

/// The best rate and the least CPU per operation of several runs.
#[derive(Default)]
struct Best(Vec<Sample>);

impl Best {
    fn add(&mut self, sample: Sample) {
        self.0.push(sample);
    }
    fn rate(&self) -> f64 {
        self.0.iter().map(|s| s.rate).fold(0.0, f64::max)
    }
    fn cpu_us(&self) -> f64 {
        self.0
            .iter()
            .map(|s| s.cpu_us)
            .fold(f64::INFINITY, f64::min)
    }
}

/// The serving ferrotp node, in a process of its own (as each Erlang node
/// is): this bench's binary run again with `DIST_BENCH_SERVE` set. Killed
/// when dropped.
struct Server {
    name: String,
    child: std::process::Child,
}

impl Server {
    fn start(cookie: &str) -> Server {
        let name = node_name("bb");
        let mut child = std::process::Command::new(std::env::current_exe().expect("own path"))
            .env("DIST_BENCH_SERVE", format!("{name} {cookie}"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the server node starts");
        let mut ready = String::new();
        let stdout = child.stdout.as_mut().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut ready)
            .expect("the server node answers");
        assert_eq!(ready.trim(), "ready");
        Server { name, child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server process: a node with the `esink` sink, until stdin closes.
fn serve(spec: &str) {
    let (name, cookie) = spec.split_once(' ').expect("DIST_BENCH_SERVE=name cookie");
    let system = System::new();
    let node = Node::start(&system, NodeConfig::new(name).cookie(cookie)).unwrap();
    node.accept_named::<(Atom, ActorRef)>("esink");
    system
        .spawn_with(Sink, ferrotp::SpawnOptions::new().name("esink"))
        .unwrap();
    println!("ready");
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    node.stop();
}

/// The calling ferrotp node, in this process.
struct Rust {
    /// Kept: a node does not keep its system alive.
    _system: System,
    a: Node,
    done: ActorRef,
    got: common::Got,
}

impl Rust {
    fn start(cookie: &str) -> Rust {
        let system = System::new();
        let a = Node::start(&system, NodeConfig::new(node_name("ba")).cookie(cookie)).unwrap();
        let (done, got) = sink(&system, "done");
        Rust {
            _system: system,
            a,
            done,
            got,
        }
    }

    /// `n` integers from node `a` to `esink` on `on`, then `{done, Pid}`.
    fn one_way(&self, on: &str, n: usize) -> Duration {
        let to = self.a.remote("esink", on);
        let started = Instant::now();
        for i in 0..n {
            self.a.send(&to, i as i64);
        }
        self.a.send(&to, (atom("done"), self.done.clone()));
        // An Erlang receiver may take far longer than the tests' wait to
        // drain 100k messages on a loaded machine.
        let (done, _) = self
            .got
            .recv_timeout(Duration::from_secs(600))
            .expect("the sink answers done");
        assert_eq!(done.downcast::<Term>().ok().map(|t| *t), Some(atom("done")));
        started.elapsed()
    }

    /// `n` gen_server calls of `ping` from node `a` to `name` on `on`.
    fn round_trips(&self, name: &str, on: &str, n: usize) -> Duration {
        let to = self.a.remote(name, on);
        let started = Instant::now();
        for _ in 0..n {
            let pong: Term = self
                .a
                .call(&to, atom("ping"), Duration::from_secs(30))
                .unwrap();
            assert_eq!(pong, atom("pong"));
        }
        started.elapsed()
    }
}

fn micros(answer: String) -> Duration {
    Duration::from_micros(answer.parse::<u64>().expect("microseconds"))
}

fn main() {
    if let Ok(spec) = std::env::var("DIST_BENCH_SERVE") {
        return serve(&spec);
    }
    let cookie = cookie();
    let rust = Rust::start(&cookie);
    let server = Server::start(&cookie);
    let b = server.name.clone();
    let ff_pids = [0, server.pid()];
    // Warm up the connection.
    rust.one_way(&b, 1000);
    rust.round_trips("esink", &b, 100);

    let only = std::env::var("DIST_BENCH_ONLY").ok();
    let n = std::env::var("DIST_BENCH_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ROUND_TRIPS);
    if let Some(only) = only.as_deref().filter(|o| !o.starts_with("erlang_")) {
        let sample = match only {
            "one_way" => measure(n, &ff_pids, || rust.one_way(&b, n)),
            "round_trips" => measure(n, &ff_pids, || rust.round_trips("esink", &b, n)),
            other => panic!("DIST_BENCH_ONLY={other}: one_way or round_trips"),
        };
        println!(
            "ferrotp↔ferrotp {only}: {n} at {:.0}/s, {:.1} µs CPU each",
            sample.rate, sample.cpu_us
        );
        return;
    }

    let Some(mut e1) = Erl::try_start(&cookie) else {
        println!("Erlang (`erl`) is missing: `apt-get install erlang-base` for the anchor.");
        return;
    };
    let mut e2 = Erl::start(&cookie);
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/dist_bench.erl");
    for erl in [&mut e1, &mut e2] {
        erl.ok(&format!(
            "{{ok, M, Bin}} = compile:file(\"{source}\", [binary, report]), \
             {{module, M}} = code:load_binary(M, \"{source}\", Bin)."
        ));
    }
    e1.ok("ferrotp_dist_bench:start_servers().");
    let n1 = e1.name.clone();
    e2.ok(&format!("pong = net_adm:ping('{n1}')."));
    e2.ok(&format!("pong = net_adm:ping('{b}')."));
    let (p1, p2) = (e1.os_pid(), e2.os_pid());
    // Warm up the connections to Erlang.
    rust.one_way(&n1, 1000);
    rust.round_trips("becho", &n1, 100);
    e2.ok(&format!("ferrotp_dist_bench:one_way('{b}', 1000)."));
    e2.ok(&format!(
        "ferrotp_dist_bench:round_trips({{esink, '{b}'}}, 100)."
    ));

    let erl_one_way = |erl: &mut Erl, to: &str| {
        micros(erl.ok(&format!("ferrotp_dist_bench:one_way('{to}', {ONE_WAY}).")))
    };
    if let Some(only) = only.as_deref() {
        // Erlang→ferrotp alone, for profiling the serving node's reader.
        let sample = match only {
            "erlang_one_way" => measure(n, &[p2, server.pid()], || {
                micros(e2.ok(&format!("ferrotp_dist_bench:one_way('{b}', {n}).")))
            }),
            "erlang_round_trips" => measure(n, &[p2, server.pid()], || {
                micros(e2.ok(&format!(
                    "ferrotp_dist_bench:round_trips({{esink, '{b}'}}, {n})."
                )))
            }),
            other => panic!("DIST_BENCH_ONLY={other}: erlang_one_way or erlang_round_trips"),
        };
        println!(
            "Erlang→ferrotp {only}: {n} at {:.0}/s, {:.1} µs CPU each (server pid {})",
            sample.rate,
            sample.cpu_us,
            server.pid()
        );
        return;
    }
    // Anchor, ferrotp↔ferrotp, ferrotp→Erlang, Erlang→ferrotp: one-way, round trips.
    let mut best: [(Best, Best); 4] = Default::default();
    for _ in 0..RUNS {
        let [ee, ff, fe, ef] = &mut best;
        ee.0.add(measure(ONE_WAY, &[p1, p2], || erl_one_way(&mut e2, &n1)));
        ff.0.add(measure(ONE_WAY, &ff_pids, || rust.one_way(&b, ONE_WAY)));
        fe.0.add(measure(ONE_WAY, &[0, p1], || rust.one_way(&n1, ONE_WAY)));
        ef.0.add(measure(ONE_WAY, &[p2, server.pid()], || {
            erl_one_way(&mut e2, &b)
        }));
        let mut erl_round_trips = |to: &str| {
            micros(e2.ok(&format!(
                "ferrotp_dist_bench:round_trips({to}, {ROUND_TRIPS})."
            )))
        };
        ee.1.add(measure(ROUND_TRIPS, &[p1, p2], || {
            erl_round_trips(&format!("{{becho, '{n1}'}}"))
        }));
        ff.1.add(measure(ROUND_TRIPS, &ff_pids, || {
            rust.round_trips("esink", &b, ROUND_TRIPS)
        }));
        fe.1.add(measure(ROUND_TRIPS, &[0, p1], || {
            rust.round_trips("becho", &n1, ROUND_TRIPS)
        }));
        ef.1.add(measure(ROUND_TRIPS, &[p2, server.pid()], || {
            erl_round_trips(&format!("{{esink, '{b}'}}"))
        }));
    }

    let date = std::process::Command::new("date")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("{date}, load average {}", load.trim());
    println!("loopback, {ONE_WAY} one-way messages (integers) and {ROUND_TRIPS} gen_server round trips, best of {RUNS}");
    println!(
        "{:<24} {:>12} {:>6} {:>8} {:>12} {:>6} {:>8}",
        "", "one-way/s", "ratio", "µs CPU", "round trips/s", "ratio", "µs CPU"
    );
    let names = [
        "Erlang↔Erlang (anchor)",
        "ferrotp↔ferrotp",
        "ferrotp→Erlang",
        "Erlang→ferrotp",
    ];
    let (anchor_ow, anchor_rt) = (best[0].0.rate(), best[0].1.rate());
    for (what, (ow, rt)) in names.iter().zip(&best) {
        println!(
            "{what:<24} {:>12.0} {:>6.2} {:>8.2} {:>12.0} {:>6.2} {:>8.1}",
            ow.rate(),
            ow.rate() / anchor_ow,
            ow.cpu_us(),
            rt.rate(),
            rt.rate() / anchor_rt,
            rt.cpu_us(),
        );
    }
    rust.a.stop();
    drop(server);
}
