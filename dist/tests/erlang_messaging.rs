//! A ferrotp node and a real Erlang node: ping, and messages both ways by
//! pid and by registered name.

mod common;

use common::{cookie, next, require_erl, sink, start_node, with_erlang, Erl};
use ferrotp::{ActorRef, System};
use ferrotp_dist::codec::atom;
use ferrotp_dist::term::{Atom, Term};

#[test]
fn erlang_pings_the_ferrotp_node() {
    let (_system, node, mut erl) = with_erlang();
    assert_eq!(erl.ok(&format!("net_adm:ping('{}').", node.name())), "pong");
    assert_eq!(node.nodes(), vec![erl.name.clone()]);
    node.stop();
}

#[test]
fn registered_sends_both_ways() {
    let (system, node, mut erl) = with_erlang();
    let (_sink, got) = sink(&system, "sink");

    // Erlang -> ferrotp, by name, decoded to a Rust type.
    node.accept_named::<(Atom, i64)>("sink");
    erl.ok(&format!("{{sink, '{}'}} ! {{hello, 42}}.", node.name()));
    let ((tag, n), _) = next::<(Atom, i64)>(&got);
    assert_eq!((tag.name.as_str(), n), ("hello", 42));

    // A term no registered type accepts arrives raw.
    erl.ok(&format!(
        "{{sink, '{}'}} ! [1, 2.5, <<\"x\">>].",
        node.name()
    ));
    let (raw, _) = next::<Term>(&got);
    assert_eq!(raw.to_string(), "[1,2.5,<<120>>]");

    // ferrotp -> Erlang, by name.
    erl.ok("register(probe, self()).");
    let probe = node.remote("probe", &erl.name);
    probe.send(atom("hi"));
    // Any `IntoTerm` value, encoded here, with no type registration.
    node.send(&probe, (atom("n"), 7i64, "text".to_string()));
    assert_eq!(erl.recv(), "hi");
    assert_eq!(erl.recv(), "{n,7,<<116,101,120,116>>}");
    node.stop();
}

#[test]
fn pids_travel_and_work_both_ways() {
    let (system, node, mut erl) = with_erlang();
    let (sink_ref, got) = sink(&system, "sink");
    node.accept::<(Atom, ActorRef)>(&sink_ref);

    // An Erlang pid arrives as an ActorRef; sending to it reaches Erlang.
    erl.ok(&format!("{{sink, '{}'}} ! {{pid, self()}}.", node.name()));
    let ((_, shell), _) = next::<(Atom, ActorRef)>(&got);
    shell.send(atom("by_pid"));
    assert_eq!(erl.recv(), "by_pid");

    // A local ActorRef travels as a pid; Erlang sends to it. A Rust type
    // not registered yet needs `register_type` (or `node.to_term`).
    node.register_type::<(Term, ActorRef)>();
    shell.send((atom("me"), sink_ref.clone()));
    erl.ok("P = receive {me, X} -> X after 20000 -> timeout end.");
    assert_eq!(erl.ok("is_pid(P)."), "true");
    erl.ok("P ! {pid, self()}.");
    let ((_, again), _) = next::<(Atom, ActorRef)>(&got);
    assert_eq!(again, shell, "one proxy per remote pid");
    node.stop();
}

#[test]
fn a_wrong_cookie_is_refused_both_ways_with_erlang() {
    if !require_erl() {
        return;
    }
    let system = System::new();
    let node = start_node(&system, &cookie());
    let mut erl = Erl::start(&cookie());
    // Erlang -> ferrotp: pang, and the node counts the refusal.
    assert_eq!(erl.ok(&format!("net_adm:ping('{}').", node.name())), "pang");
    // ferrotp -> Erlang: no connection.
    assert!(!node.connect(&erl.name, std::time::Duration::from_secs(10)));
    common::eventually("both refusals counted", || {
        node.stats().refused_handshakes >= 2
    });
    assert!(node.nodes().is_empty());
    assert_eq!(erl.ok("nodes(hidden)."), "[]");
    node.stop();
}

#[test]
fn rpc_and_erpc_from_erlang_fail_cleanly() {
    let (_system, node, mut erl) = with_erlang();
    assert_eq!(erl.ok(&format!("net_adm:ping('{}').", node.name())), "pong");
    let erpc = erl.eval(&format!(
        "erpc:call('{}', erlang, node, [], 5000).",
        node.name()
    ));
    let rpc = erl.eval(&format!(
        "rpc:call('{}', erlang, node, [], 5000).",
        node.name()
    ));
    // The node offers no DFLAG_SPAWN: Erlang refuses both itself.
    assert_eq!(erpc, "{error,error,{erpc,notsup}}");
    assert_eq!(rpc, "{ok,{badrpc,notsup}}");
    // The node still answers afterwards.
    assert_eq!(erl.ok(&format!("net_adm:ping('{}').", node.name())), "pong");
    node.stop();
}
