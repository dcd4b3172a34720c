//! Links, monitors and exit signals between ferrotp actors and real
//! Erlang processes, with the exit reasons checked both ways, and a killed
//! Erlang node firing `noconnection` on every link and monitor across it.

mod common;

use std::time::Duration;

use common::{next, sink, with_erlang, Erl, WAIT};
use ferrotp::{Actor, ActorRef, Context, Down, ExitReason, Handlers, Stopped, System};
use ferrotp_dist::codec::{atom, is_atom};
use ferrotp_dist::term::{Atom, Term};
use ferrotp_dist::{is_noconnection, Node};

/// Panics on `crash`, stops with an error on `fail`.
struct Worker;

impl Worker {
    fn command(&mut self, term: Term, ctx: &mut Context<Self>) {
        if is_atom(&term, "crash") {
            panic!("boom");
        }
        if is_atom(&term, "fail") {
            ctx.stop(ExitReason::error("disk full"));
        }
    }
}

impl Actor for Worker {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::command)
    }
}

/// The Erlang node, a probe registered there, and a ferrotp node.
fn setup() -> (System, Node, Erl) {
    ferrotp::silence_actor_panics();
    let (system, node, mut erl) = with_erlang();
    erl.ok("register(probe, self()).");
    erl.ok("process_flag(trap_exit, true).");
    (system, node, erl)
}

/// Hands `actor`'s pid to the Erlang driver, bound to `var` there.
fn give_pid(node: &Node, erl: &mut Erl, var: &str, actor: &ActorRef) {
    node.send(
        &node.remote("probe", &erl.name),
        (atom("pid"), actor.clone()),
    );
    erl.ok(&format!(
        "{var} = receive {{pid, X{var}}} -> X{var} after 20000 -> timeout end."
    ));
}

/// An Erlang process, `exit(Reason)` on `{stop, Reason}`, as a ferrotp ref.
fn erlang_process(node: &Node, erl: &mut Erl, var: &str) -> ActorRef {
    let (_, got) = sink(node.system(), &format!("sink_{var}"));
    erl.ok(&format!(
        "{var} = spawn(fun() -> receive {{stop, R}} -> exit(R) end end)."
    ));
    node.accept_named::<(Atom, ActorRef)>(&format!("sink_{var}"));
    erl.ok(&format!(
        "{{sink_{var}, '{}'}} ! {{pid, {var}}}.",
        node.name()
    ));
    next::<(Atom, ActorRef)>(&got).0 .1
}

/// Waits (in Erlang) until `var` is monitored by someone: our proxy's
/// monitor is in place, so its end cannot be a `noproc` race.
fn wait_monitored(erl: &mut Erl, var: &str) {
    let answer = erl.ok(&format!(
        "(fun W(0) -> gave_up; W(N) -> case erlang:process_info({var}, monitored_by) of \
         {{monitored_by, [_|_]}} -> yes; _ -> timer:sleep(10), W(N - 1) end end)(2000)."
    ));
    assert_eq!(answer, "yes");
}

#[test]
fn erlang_linked_to_a_crashing_actor_gets_its_panic() {
    let (system, node, mut erl) = setup();
    let worker = system.spawn(Worker);
    give_pid(&node, &mut erl, "W", &worker);
    erl.ok("link(W).");
    erl.ok("W ! crash.");
    assert_eq!(
        erl.recv(),
        format!("{{'EXIT',{},{{panic,<<98,111,111,109>>}}}}", erl.ok("W."))
    );
    // And an error reason keeps its text.
    let worker = system.spawn(Worker);
    give_pid(&node, &mut erl, "W2", &worker);
    erl.ok("link(W2).");
    erl.ok("W2 ! fail.");
    let text = "<<100,105,115,107,32,102,117,108,108>>";
    assert_eq!(
        erl.recv(),
        format!("{{'EXIT',{},{{error,{text}}}}}", erl.ok("W2."))
    );
    node.stop();
}

#[test]
fn an_erlang_exit_reaches_linked_ferrotp_code_mapped() {
    let (system, node, mut erl) = setup();
    let bridge = system.bridge();
    for (reason, expected) in [
        ("normal", ExitReason::Normal),
        ("shutdown", ExitReason::Shutdown),
        ("{panic, <<\"boom\">>}", ExitReason::Panic("boom".into())),
        ("badarith", ExitReason::Error("'badarith'".into())),
    ] {
        let var = format!("E{}", expected.to_string().len() + reason.len());
        let remote = erlang_process(&node, &mut erl, &var);
        bridge.link(&remote);
        wait_monitored(&mut erl, &var);
        erl.ok(&format!("{var} ! {{stop, {reason}}}."));
        let stopped = bridge
            .recv(WAIT)
            .expect("the link fires")
            .downcast::<Stopped>()
            .expect("a Stopped");
        assert_eq!(stopped.actor, remote.id());
        assert_eq!(stopped.reason, expected, "exit({reason})");
    }
    node.stop();
}

#[test]
fn monitors_both_ways() {
    let (system, node, mut erl) = setup();
    // Erlang monitors a ferrotp actor, by pid and by name.
    let worker = system
        .spawn_with(Worker, ferrotp::SpawnOptions::new().name("worker"))
        .unwrap();
    give_pid(&node, &mut erl, "W", &worker);
    erl.ok("R1 = monitor(process, W).");
    erl.ok(&format!(
        "R2 = monitor(process, {{worker, '{}'}}).",
        node.name()
    ));
    erl.ok("W ! crash.");
    let (a, b) = (erl.recv(), erl.recv());
    let panic = "{panic,<<98,111,111,109>>}";
    let by_pid = format!(
        "{{'DOWN',{},process,{},{panic}}}",
        erl.ok("R1."),
        erl.ok("W.")
    );
    let by_name = format!(
        "{{'DOWN',{},process,{{worker,{}}},{panic}}}",
        erl.ok("R2."),
        node.name()
    );
    let mut got = [a, b];
    got.sort();
    let mut want = [by_pid, by_name];
    want.sort();
    assert_eq!(got, want);
    // Monitoring what does not exist: noproc at once.
    erl.ok(&format!(
        "R3 = monitor(process, {{nobody, '{}'}}).",
        node.name()
    ));
    assert!(erl.recv().ends_with(",noproc}"));

    // ferrotp monitors an Erlang process.
    let bridge = system.bridge();
    let remote = erlang_process(&node, &mut erl, "E");
    let monitor = bridge.monitor(&remote);
    wait_monitored(&mut erl, "E");
    erl.ok("E ! {stop, shutdown}.");
    let down = bridge.recv(WAIT).unwrap().downcast::<Down>().unwrap();
    assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Shutdown));
    node.stop();
}

#[test]
fn exit_signals_both_ways() {
    let (system, node, mut erl) = setup();
    // Erlang's exit(W, kill) kills a ferrotp actor.
    let bridge = system.bridge();
    let worker = system.spawn(Worker);
    let monitor = bridge.monitor(&worker);
    give_pid(&node, &mut erl, "W", &worker);
    erl.ok("exit(W, kill).");
    let down = bridge.recv(WAIT).unwrap().downcast::<Down>().unwrap();
    assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Killed));

    // ferrotp's exit on a remote ref reaches the Erlang process.
    let remote = erlang_process(&node, &mut erl, "E");
    erl.ok("M = monitor(process, E).");
    wait_monitored(&mut erl, "E");
    remote.exit(ExitReason::error("stop now"));
    let down = erl.recv();
    assert!(
        down.starts_with(&format!("{{'DOWN',{},process,", erl.ok("M."))),
        "{down}"
    );
    assert!(
        down.ends_with("{error,<<115,116,111,112,32,110,111,119>>}}"),
        "{down}"
    );
    // And kill kills it.
    let remote = erlang_process(&node, &mut erl, "E2");
    erl.ok("M2 = monitor(process, E2).");
    wait_monitored(&mut erl, "E2");
    remote.kill();
    assert!(erl.recv().ends_with(",killed}"));
    node.stop();
}

#[test]
fn a_killed_erlang_node_fires_noconnection_on_every_link_and_monitor() {
    let (system, node, mut erl) = setup();
    let bridge = system.bridge();
    let linked = erlang_process(&node, &mut erl, "E1");
    let watched = erlang_process(&node, &mut erl, "E2");
    bridge.link(&linked);
    let monitor = bridge.monitor(&watched);
    wait_monitored(&mut erl, "E1");
    wait_monitored(&mut erl, "E2");
    let (watcher, got) = sink(&system, "watcher");
    node.monitor_nodes(&watcher);
    erl.kill();
    let mut stopped = None;
    let mut down = None;
    while stopped.is_none() || down.is_none() {
        let envelope = bridge.recv(WAIT).expect("both fire");
        match envelope.downcast::<Stopped>() {
            Ok(s) => stopped = Some(s),
            Err(envelope) => down = Some(envelope.downcast::<Down>().expect("a Down")),
        }
    }
    let (stopped, down) = (stopped.unwrap(), down.unwrap());
    assert_eq!(stopped.actor, linked.id());
    assert!(is_noconnection(&stopped.reason), "{:?}", stopped.reason);
    assert_eq!(down.monitor, monitor);
    assert!(is_noconnection(&down.reason), "{:?}", down.reason);
    let (node_down, _) = next::<ferrotp_dist::NodeDown>(&got);
    assert_eq!(node_down.node, erl.name);
    assert!(node.nodes().is_empty());
    let _ = Duration::ZERO;
    node.stop();
}

/// Waits (in Erlang) until `expr` is true, polling.
fn wait_in_erlang(erl: &mut Erl, what: &str, expr: &str) {
    let answer = erl.ok(&format!(
        "(fun W(0) -> gave_up; W(N) -> case ({expr}) of true -> yes; _ -> timer:sleep(10), W(N - 1) end end)(2000)."
    ));
    assert_eq!(answer, "yes", "{what}");
}

#[test]
fn links_made_in_ferrotp_are_recorded_in_erlang() {
    let (system, node, mut erl) = setup();
    let remote = erlang_process(&node, &mut erl, "L");
    let inbox = system.inbox();
    give_pid(&node, &mut erl, "I", inbox.actor());
    inbox.link(&remote);
    wait_in_erlang(
        &mut erl,
        "the link is recorded",
        "process_info(L, links) =:= {links, [I]}",
    );
    inbox.unlink(&remote);
    wait_in_erlang(
        &mut erl,
        "the unlink is recorded",
        "process_info(L, links) =:= {links, []}",
    );
    // Linked again, the Erlang process ends with the connection.
    inbox.link(&remote);
    wait_in_erlang(
        &mut erl,
        "linked again",
        "process_info(L, links) =:= {links, [I]}",
    );
    erl.ok("M = monitor(process, L).");
    node.stop();
    let down = erl.recv();
    assert_eq!(
        down,
        format!(
            "{{'DOWN',{},process,{},noconnection}}",
            erl.ok("M."),
            erl.ok("L.")
        )
    );
}

#[test]
fn named_remote_addresses_can_be_monitored_and_linked() {
    let (system, node, mut erl) = setup();
    let bridge = system.bridge();
    let spawn_named = |erl: &mut Erl, name: &str| {
        erl.ok(&format!(
            "register({name}, spawn(fun() -> receive {{stop, R}} -> exit(R) end end))."
        ));
    };
    // A monitor on `{named, Node}` fires when its holder ends.
    spawn_named(&mut erl, "named");
    let address = node.remote("named", &erl.name);
    let monitor = bridge.monitor(&address);
    wait_in_erlang(
        &mut erl,
        "the name's holder is monitored",
        "element(2, process_info(whereis(named), monitored_by)) =/= []",
    );
    erl.ok("named ! {stop, shutdown}.");
    let down = bridge.recv(WAIT).unwrap().downcast::<Down>().unwrap();
    assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Shutdown));
    // Nobody holds the name now: a monitor on it fires with noproc.
    let monitor = bridge.monitor(&node.remote("named", &erl.name));
    let down = bridge.recv(WAIT).unwrap().downcast::<Down>().unwrap();
    assert_eq!((down.monitor, down.reason), (monitor, ExitReason::NoProc));

    // A link to a name: the holder's end reaches the linked actor.
    spawn_named(&mut erl, "named");
    let address = node.remote("named", &erl.name);
    bridge.link(&address);
    wait_in_erlang(
        &mut erl,
        "the name's holder is monitored",
        "element(2, process_info(whereis(named), monitored_by)) =/= []",
    );
    // An address nobody ties to stays one: it reaches the next holder too.
    let (_, got) = sink(&system, "answers");
    let fresh = node.remote("named", &erl.name);
    assert_ne!(
        fresh.id(),
        address.id(),
        "a bound address is no longer the name's"
    );
    erl.ok("named ! {stop, {panic, <<\"gone\">>}}.");
    let stopped = bridge.recv(WAIT).unwrap().downcast::<Stopped>().unwrap();
    assert_eq!(stopped.actor, address.id());
    assert_eq!(stopped.reason, ExitReason::Panic("gone".into()));
    erl.ok(&format!(
        "register(named, spawn(fun() -> receive {{From, Msg}} -> {{answers, '{}'}} ! {{From, Msg}} end end)).",
        node.name()
    ));
    node.send(&fresh, (atom("from_rust"), atom("hello")));
    let (term, _) = next::<Term>(&got);
    assert_eq!(
        term,
        ferrotp_dist::codec::tuple([atom("from_rust"), atom("hello")])
    );
    node.stop();
}
