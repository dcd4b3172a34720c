//! A ferrotp node that Erlang can talk to: a `counter` (cast `{add, N}`,
//! call `get`, cast `crash`) and an `echo` (answers `{From, Term}` with
//! `{echo, Term}`), both registered by name under a one_for_one supervisor.
//!
//! ```sh
//! cargo run --release --example erlang_node -- --name ferrotp@localhost --cookie secret
//! erl -sname probe -setcookie secret      # then, in the Erlang shell:
//! net_adm:ping('ferrotp@localhost').
//! gen_server:cast({counter, 'ferrotp@localhost'}, {add, 5}).
//! gen_server:call({counter, 'ferrotp@localhost'}, get).
//! {echo, 'ferrotp@localhost'} ! {self(), hello}, flush().
//! ```

use std::time::Duration;

use ferrotp::{Actor, ActorRef, Context, Handlers, System};
use ferrotp_dist::codec::{atom, is_atom, untag, Codec};
use ferrotp_dist::term::Term;
use ferrotp_dist::{DecodeError, FromTerm, Node, NodeConfig};
use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorSpec};

/// `{add, N}`
struct Add(i64);
/// `get`
struct Get;
/// `crash`: the counter panics, and its supervisor restarts it.
struct Crash;

impl FromTerm for Add {
    fn from_term(term: &Term, codec: &Codec<'_>) -> Result<Self, DecodeError> {
        let n = untag(term, "add", 1).ok_or_else(|| DecodeError::new("{add, N}", term))?;
        Ok(Add(i64::from_term(&n[0], codec)?))
    }
}

impl FromTerm for Get {
    fn from_term(term: &Term, _: &Codec<'_>) -> Result<Self, DecodeError> {
        is_atom(term, "get")
            .then_some(Get)
            .ok_or_else(|| DecodeError::new("get", term))
    }
}

impl FromTerm for Crash {
    fn from_term(term: &Term, _: &Codec<'_>) -> Result<Self, DecodeError> {
        is_atom(term, "crash")
            .then_some(Crash)
            .ok_or_else(|| DecodeError::new("crash", term))
    }
}

struct Counter(i64);

impl Counter {
    fn add(&mut self, Add(n): Add, _: &mut Context<Self>) {
        self.0 += n;
    }
    fn get(&mut self, _: Get, ctx: &mut Context<Self>) {
        ctx.reply(self.0);
    }
    fn crash(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("asked to crash at {}", self.0);
    }
}

impl Actor for Counter {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::add).on(Self::get).on(Self::crash)
    }
}

/// Answers `{From, Term}` with `{echo, Term}` sent to `From`.
struct Echo {
    node: Node,
}

impl Echo {
    fn echo(&mut self, (from, term): (ActorRef, Term), _: &mut Context<Self>) {
        self.node.send(&from, (atom("echo"), term));
    }
}

impl Actor for Echo {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::echo)
    }
}

fn main() {
    let mut name = "ferrotp@localhost".to_string();
    let mut cookie = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--name", Some(value)) => name = value,
            ("--cookie", Some(value)) => cookie = Some(value),
            _ => {
                eprintln!("usage: erlang_node [--name NAME@HOST] [--cookie COOKIE]");
                std::process::exit(2);
            }
        }
    }
    // A crash is the counter's business (its supervisor restarts it):
    // no panic message on stderr.
    ferrotp::silence_actor_panics();
    let system = System::new();
    let mut config = NodeConfig::new(name);
    if let Some(cookie) = cookie {
        config = config.cookie(cookie);
    }
    let node = Node::start(&system, config).unwrap_or_else(|e| {
        eprintln!("cannot start the node: {e}");
        std::process::exit(1);
    });
    // What Erlang sends to these names arrives as these Rust types, for
    // whichever incarnation holds the name.
    node.accept_named::<Add>("counter");
    node.accept_named::<Get>("counter");
    node.accept_named::<Crash>("counter");
    node.accept_named::<(ActorRef, Term)>("echo");

    let echo_node = node.clone();
    let spec = SupervisorSpec::one_for_one()
        .intensity(10, Duration::from_secs(60))
        .name("app_sup")
        .child(ChildSpec::worker("counter", || Counter(0)).name("counter"))
        .child(
            ChildSpec::worker("echo", move || Echo {
                node: echo_node.clone(),
            })
            .name("echo"),
        );
    let supervisor = Supervisor::start(&system, spec).unwrap_or_else(|e| {
        eprintln!("cannot start the supervisor: {e}");
        std::process::exit(1);
    });
    println!(
        "node {} up on port {} (counter, echo); Ctrl-C to stop",
        node.name(),
        node.port()
    );
    println!("{}", supervisor.tree().unwrap_or_default());
    loop {
        std::thread::park();
    }
}
