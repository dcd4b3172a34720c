//! `gen_server` conventions both ways with a real Erlang node: Erlang's
//! `gen_server:call`/`cast` reach a ferrotp actor (under a supervisor,
//! reachable by name again after a restart), and ferrotp calls Erlang
//! gen_servers with a timeout.

mod common;

use std::time::Duration;

use common::{cookie, require_erl, start_node, with_erlang, Erl};
use ferrotp::{Actor, Context, Handlers, System};
use ferrotp_dist::codec::{atom, is_atom, untag, Codec};
use ferrotp_dist::term::Term;
use ferrotp_dist::{DecodeError, FromTerm, RemoteCallError};
use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorSpec};

struct Counter(i64);
struct Add(i64);
struct Get;
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

impl Counter {
    fn add(&mut self, Add(n): Add, _: &mut Context<Self>) {
        self.0 += n;
    }
    fn get(&mut self, _: Get, ctx: &mut Context<Self>) {
        ctx.reply(self.0);
    }
    fn crash(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("asked to crash");
    }
}

impl Actor for Counter {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::add).on(Self::get).on(Self::crash)
    }
}

#[test]
fn erlang_calls_and_casts_a_supervised_ferrotp_actor() {
    assert!(require_erl());
    ferrotp::silence_actor_panics();
    let cookie = cookie();
    let system = System::new();
    let node = start_node(&system, &cookie);
    node.accept_named::<Add>("counter");
    node.accept_named::<Get>("counter");
    node.accept_named::<Crash>("counter");
    let spec = SupervisorSpec::one_for_one()
        .intensity(5, Duration::from_secs(10))
        .child(ChildSpec::worker("counter", || Counter(0)).name("counter"));
    let supervisor = Supervisor::start(&system, spec).unwrap();
    let mut erl = Erl::start(&cookie);
    let counter = format!("{{counter, '{}'}}", node.name());

    erl.ok(&format!("gen_server:cast({counter}, {{add, 5}})."));
    erl.ok(&format!("gen_server:cast({counter}, {{add, 37}})."));
    assert_eq!(
        erl.ok(&format!("gen_server:call({counter}, get, 20000).")),
        "42"
    );

    // Crash it: the supervisor restarts it under its name, and Erlang
    // reaches the new incarnation (with its state fresh).
    let before = system.whereis("counter").unwrap();
    erl.ok(&format!("gen_server:cast({counter}, crash)."));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while system.whereis("counter").is_none_or(|c| c == before) {
        assert!(std::time::Instant::now() < deadline, "restarted in time");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        erl.ok(&format!("gen_server:call({counter}, get, 20000).")),
        "0"
    );
    // A call to a name nobody holds fails at once with noproc.
    let answer = erl.eval(&format!(
        "gen_server:call({{nobody, '{}'}}, get, 20000).",
        node.name()
    ));
    assert!(answer.contains("noproc"), "{answer}");
    supervisor.stop(Duration::from_secs(10)).unwrap();
    node.stop();
}

#[test]
fn ferrotp_calls_erlang_gen_servers() {
    let (_system, node, mut erl) = with_erlang();

    // application_controller is a real gen_server of every Erlang node.
    let controller = node.remote("application_controller", &erl.name);
    let apps: Vec<Term> = node
        .call(
            &controller,
            atom("which_applications"),
            Duration::from_secs(20),
        )
        .unwrap();
    assert!(
        apps.iter()
            .any(|app| matches!(app, Term::Tuple(t) if t.elements[0] == atom("kernel"))),
        "{apps:?}"
    );

    // A name nobody holds: noproc at once, not after the timeout.
    let nobody = node.remote("nobody", &erl.name);
    let started = std::time::Instant::now();
    let error = node
        .call::<Term>(&nobody, atom("hello"), Duration::from_secs(60))
        .unwrap_err();
    assert_eq!(error, RemoteCallError::Down(ferrotp::ExitReason::NoProc));
    assert!(started.elapsed() < Duration::from_secs(30));

    // A server that never answers: the timeout.
    erl.ok("register(silent, spawn(fun() -> receive stop -> ok end end)).");
    let silent = node.remote("silent", &erl.name);
    let error = node
        .call::<Term>(&silent, atom("hello"), Duration::from_millis(300))
        .unwrap_err();
    assert_eq!(error, RemoteCallError::Timeout);
    node.stop();
}
