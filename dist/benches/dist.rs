//! One-way messages/s and round trips/s over loopback: ferrotp↔ferrotp,
//! ferrotp↔Erlang, and the anchor Erlang↔Erlang between two BEAM nodes,
//! measured in the same run (`cargo bench -p ferrotp-dist --bench dist`).
//! Prints each figure (best of [`RUNS`]) and its ratio to the Erlang↔Erlang
//! anchor.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{cookie, node_name, sink, Erl};
use ferrotp::{Actor, Context, Handlers, System};
use ferrotp_dist::codec::{atom, is_atom};
use ferrotp_dist::term::Term;
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
    fn done(
        &mut self,
        (_, to): (ferrotp_dist::term::Atom, ferrotp::ActorRef),
        _: &mut Context<Self>,
    ) {
        to.send(atom("done"));
    }
}

impl Actor for Sink {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::on_term).on(Self::done)
    }
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// The Erlang side: `esink` counts and answers `{done, Pid}`; `becho`
/// answers gen_server calls.
const ERLANG_SERVERS: &str = "register(esink, spawn(fun() -> L = fun L() -> receive {done, P} -> P ! done, L(); _ -> L() end end, L() end)), \
    register(becho, spawn(fun() -> L = fun L() -> receive {'$gen_call', {P, T}, R} -> P ! {T, pong}, L(); _ -> L() end end, L() end)).";

fn main() {
    let cookie = cookie();
    let config = |prefix: &str| NodeConfig::new(node_name(prefix)).cookie(cookie.clone());
    let (sys_a, sys_b) = (System::new(), System::new());
    let a = Node::start(&sys_a, config("ba")).unwrap();
    let b = Node::start(&sys_b, config("bb")).unwrap();
    let (done_sink, got) = sink(&sys_a, "done");
    b.accept_named::<(ferrotp_dist::term::Atom, ferrotp::ActorRef)>("esink");
    sys_b
        .spawn_with(Sink, ferrotp::SpawnOptions::new().name("esink"))
        .unwrap();

    let one_way = |node: &Node, target: &str, on: &str| {
        let to = node.remote(target, on);
        let started = Instant::now();
        for i in 0..ONE_WAY {
            node.send(&to, i as i64);
        }
        node.send(&to, (atom("done"), done_sink.clone()));
        // An Erlang receiver may take far longer than the tests' wait to
        // drain 100k messages on a loaded machine.
        let (done, _) = got
            .recv_timeout(Duration::from_secs(600))
            .expect("the sink answers done");
        assert_eq!(done.downcast::<Term>().ok().map(|t| *t), Some(atom("done")));
        rate(ONE_WAY, started.elapsed())
    };
    let round_trips = |node: &Node, target: &str, on: &str| {
        let to = node.remote(target, on);
        let started = Instant::now();
        for _ in 0..ROUND_TRIPS {
            let pong: Term = node
                .call(&to, atom("ping"), Duration::from_secs(30))
                .unwrap();
            assert_eq!(pong, atom("pong"));
        }
        rate(ROUND_TRIPS, started.elapsed())
    };
    let best = |runs: &mut Vec<f64>, rate: f64| runs.push(rate);
    let max = |runs: &[f64]| runs.iter().copied().fold(0.0, f64::max);
    // Warm up the connection, then measure.
    one_way(&a, "esink", b.name());
    let (mut ff_one_way, mut ff_round_trips) = (vec![], vec![]);

    let Some(mut e1) = Erl::try_start(&cookie) else {
        for _ in 0..RUNS {
            best(&mut ff_one_way, one_way(&a, "esink", b.name()));
            best(&mut ff_round_trips, round_trips(&a, "esink", b.name()));
        }
        println!(
            "ferrotp↔ferrotp: {:.0} msgs/s one-way, {:.0} round trips/s",
            max(&ff_one_way),
            max(&ff_round_trips)
        );
        println!("Erlang (`erl`) is missing: `apt-get install erlang-base` for the anchor.");
        return;
    };
    let mut e2 = Erl::start(&cookie);
    e1.ok(ERLANG_SERVERS);
    one_way(&a, "esink", &e1.name);
    let e1_name = e1.name.clone();
    let micros = |answer: String| answer.parse::<f64>().expect("microseconds");
    e2.ok(&format!("net_adm:ping('{e1_name}')."));
    let (mut fe_one_way, mut fe_round_trips) = (vec![], vec![]);
    let (mut ee_one_way, mut ee_round_trips) = (vec![], vec![]);
    for _ in 0..RUNS {
        let us = micros(e2.ok(&format!(
            "element(1, timer:tc(fun() -> [{{esink, '{e1_name}'}} ! I || I <- lists:seq(1, {ONE_WAY})], \
             {{esink, '{e1_name}'}} ! {{done, self()}}, receive done -> ok end end))."
        )));
        best(&mut ee_one_way, ONE_WAY as f64 / (us / 1e6));
        best(&mut ff_one_way, one_way(&a, "esink", b.name()));
        best(&mut fe_one_way, one_way(&a, "esink", &e1.name));
        let us = micros(e2.ok(&format!(
            "element(1, timer:tc(fun() -> [pong = gen_server:call({{becho, '{e1_name}'}}, ping) || _ <- lists:seq(1, {ROUND_TRIPS})] end))."
        )));
        best(&mut ee_round_trips, ROUND_TRIPS as f64 / (us / 1e6));
        best(&mut ff_round_trips, round_trips(&a, "esink", b.name()));
        best(&mut fe_round_trips, round_trips(&a, "becho", &e1.name));
    }
    let (ee_one_way, ee_round_trips) = (max(&ee_one_way), max(&ee_round_trips));
    let (ff_one_way, ff_round_trips) = (max(&ff_one_way), max(&ff_round_trips));
    let (fe_one_way, fe_round_trips) = (max(&fe_one_way), max(&fe_round_trips));

    let date = std::process::Command::new("date")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("{date}, loopback, {ONE_WAY} one-way messages (integers) and {ROUND_TRIPS} gen_server round trips, best of {RUNS}");
    println!(
        "{:<22} {:>14} {:>8} {:>14} {:>8}",
        "", "one-way msg/s", "ratio", "round trips/s", "ratio"
    );
    for (what, ow, rt) in [
        ("Erlang↔Erlang (anchor)", ee_one_way, ee_round_trips),
        ("ferrotp↔ferrotp", ff_one_way, ff_round_trips),
        ("ferrotp→Erlang", fe_one_way, fe_round_trips),
    ] {
        println!(
            "{what:<22} {ow:>14.0} {:>8.2} {rt:>14.0} {:>8.2}",
            ow / ee_one_way,
            rt / ee_round_trips
        );
    }
    a.stop();
    b.stop();
}
