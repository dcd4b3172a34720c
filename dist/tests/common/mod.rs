//! Test support: real Erlang nodes driven line by line, unique names and
//! cookies, and a guard that always kills the node.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::Receiver;
use ferrotp::{Actor, Context, Handlers, System};
use ferrotp_dist::codec::is_atom;
use ferrotp_dist::term::Term;
use ferrotp_dist::{Node, NodeConfig};

/// Generous: the machine is shared and loaded.
pub const WAIT: Duration = Duration::from_secs(30);

fn unique() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}x{}x{:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// A node name on localhost nobody else uses.
pub fn node_name(prefix: &str) -> String {
    format!("{prefix}{}@localhost", unique())
}

/// A random cookie.
pub fn cookie() -> String {
    format!("c{}", unique())
}

/// A ferrotp node with a fresh name and the given cookie.
pub fn start_node(system: &System, cookie: &str) -> Node {
    trace();
    Node::start(system, NodeConfig::new(node_name("rs")).cookie(cookie)).expect("node starts")
}

/// A system, a ferrotp node in it and a real Erlang node, sharing a fresh
/// cookie: the start of every test against Erlang. Fails the test when
/// `erl` is missing ([`require_erl`]).
pub fn with_erlang() -> (System, Node, Erl) {
    assert!(require_erl());
    let cookie = cookie();
    let system = System::new();
    let node = start_node(&system, &cookie);
    let erl = Erl::start(&cookie);
    (system, node, erl)
}

/// A free port for an EPMD of our own (nothing runs there yet).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A node named `name` with `cookie` that registers with the EPMD on
/// `epmd` and does not start one: tests of ferrotp nodes among
/// themselves run their own, away from any real EPMD.
pub fn on_epmd(name: String, cookie: &str, epmd: u16) -> NodeConfig {
    NodeConfig::new(name)
        .cookie(cookie)
        .epmd_port(epmd)
        .spawn_epmd(false)
}

/// Two ferrotp nodes, `a` and `b`, each in a system of its own, on the
/// EPMD at `epmd`, with one random cookie; not yet connected.
pub fn ferrotp_pair(epmd: u16) -> (System, Node, System, Node) {
    trace();
    let cookie = cookie();
    let (sys_a, sys_b) = (System::new(), System::new());
    let a = Node::start(&sys_a, on_epmd(node_name("a"), &cookie, epmd)).expect("node a");
    let b = Node::start(&sys_b, on_epmd(node_name("b"), &cookie, epmd)).expect("node b");
    (sys_a, a, sys_b, b)
}

/// Answers `get` with 42 and `{n, N}` with `N`.
pub struct Answer;

impl Actor for Answer {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|_: &mut Self, term: Term, ctx: &mut Context<Self>| {
            if is_atom(&term, "get") {
                ctx.reply(42i64);
            } else if let Term::Tuple(t) = term {
                ctx.reply(t.elements[1].clone());
            }
        })
    }
}

/// Whether `erl` is installed and runs.
fn erl_installed() -> bool {
    Command::new("erl")
        .args(["-noshell", "-eval", "halt()."])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Fails the test, with how to install Erlang, when `erl` is missing:
/// never passes silently (as the conformance tests do).
pub fn require_erl() -> bool {
    if erl_installed() {
        return true;
    }
    let message = "Erlang (`erl`) is not installed: these tests run against a real BEAM node.\n\
                   Install it with `apt-get install erlang-base` (Debian/Ubuntu), or see\n\
                   https://www.erlang.org/downloads. `.ci/run` installs it when missing.";
    panic!("{message}");
}

/// The Erlang side of a test: evaluates one expression per line and
/// answers with its value (`~w`), like a shell that cannot wander off.
const DRIVER: &str = r#"
Loop = fun Loop(B) ->
  case io:get_line("") of
    eof -> halt(0);
    Line ->
      {R, B2} = try
          {ok, T, _} = erl_scan:string(Line),
          {ok, E} = erl_parse:parse_exprs(T),
          {value, V, NB} = erl_eval:exprs(E, B),
          {{ok, V}, NB}
        catch C:X -> {{error, C, X}, B} end,
      io:format("=> ~w~n", [R]),
      Loop(B2)
  end
end,
Loop(erl_eval:new_bindings()).
"#;

/// A real Erlang node, killed when dropped (even when the test fails).
pub struct Erl {
    pub name: String,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    received: u32,
}

impl Erl {
    /// Like [`start`](Self::start), `None` when `erl` is not installed.
    pub fn try_start(cookie: &str) -> Option<Erl> {
        erl_installed().then(|| Erl::start(cookie))
    }

    /// Starts `erl` with a fresh name and `cookie`, and waits until it answers.
    pub fn start(cookie: &str) -> Erl {
        let name = node_name("erl");
        let mut child = Command::new("erl")
            .args(["-sname", &name, "-setcookie", cookie, "-noshell", "-hidden"])
            .args(["-kernel", "inet_dist_use_interface", "{127,0,0,1}"])
            .args(["-eval", DRIVER])
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("erl starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(answer) = line.strip_prefix("=> ") {
                    if tx.send(answer.to_string()).is_err() {
                        return;
                    }
                } else {
                    eprintln!("[erl] {line}");
                }
            }
        });
        let mut erl = Erl {
            name,
            child,
            stdin,
            lines,
            received: 0,
        };
        assert_eq!(erl.eval("ok."), "{ok,ok}", "the Erlang node answers");
        erl
    }

    /// Evaluates `expr` (ending with `.`) on the Erlang node and returns
    /// `{ok,Value}` or `{error,Class,Reason}` as Erlang prints it (`~w`).
    pub fn eval(&mut self, expr: &str) -> String {
        let line = expr.replace('\n', " ");
        writeln!(self.stdin, "{line}").expect("write to erl");
        self.stdin.flush().expect("flush erl");
        self.lines
            .recv_timeout(WAIT * 2)
            .unwrap_or_else(|_| panic!("erl did not answer {expr:?}"))
    }

    /// Like `eval`, expecting `{ok, Value}`; returns `Value`.
    pub fn ok(&mut self, expr: &str) -> String {
        let answer = self.eval(expr);
        match answer.strip_prefix("{ok,") {
            Some(rest) => rest[..rest.len() - 1].to_string(),
            None => panic!("{expr} failed: {answer}"),
        }
    }

    /// The next message the driver process (the one `eval` runs in)
    /// receives, or `timeout`.
    pub fn recv(&mut self) -> String {
        self.received += 1;
        let var = format!("Received{}", self.received);
        self.ok(&format!(
            "receive {var} -> {var} after 20000 -> timeout end."
        ))
    }

    /// The operating system's id of the node's process (`beam.smp`).
    pub fn os_pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the node at once (as a crash or a cut cable would).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Erl {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An actor that hands every message it gets (and its sender) to the test.
pub struct Sink {
    pub tx: crossbeam_channel::Sender<(Box<dyn std::any::Any + Send>, Option<ferrotp::ActorRef>)>,
}

impl ferrotp::Actor for Sink {
    fn handlers() -> Handlers<Self> {
        Handlers::new().other(|sink: &mut Sink, msg, _type, ctx| {
            let _ = sink.tx.send((msg, ctx.sender().cloned()));
        })
    }
}

/// What a [`Sink`] got.
pub type Got = Receiver<(Box<dyn std::any::Any + Send>, Option<ferrotp::ActorRef>)>;

/// Spawns a [`Sink`] registered as `name`.
pub fn sink(system: &System, name: &str) -> (ferrotp::ActorRef, Got) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let actor = system
        .spawn_with(Sink { tx }, ferrotp::SpawnOptions::new().name(name))
        .expect("sink spawns");
    (actor, rx)
}

/// The next message a sink got, as `T`.
pub fn next<T: 'static>(got: &Got) -> (T, Option<ferrotp::ActorRef>) {
    let (msg, sender) = got.recv_timeout(WAIT).expect("a message arrives");
    let name = format!("{msg:?}");
    match msg.downcast::<T>() {
        Ok(value) => (*value, sender),
        Err(_) => panic!("expected a {}, got {name}", std::any::type_name::<T>()),
    }
}

/// Logs to stderr when `FERROTP_TRACE` is set (debugging a failing test).
pub fn trace() {
    if std::env::var_os("FERROTP_TRACE").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_test_writer()
            .try_init();
    }
}

/// Waits until `cond` holds (nodes count and log asynchronously).
pub fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub mod raw;
pub mod simultaneous;
