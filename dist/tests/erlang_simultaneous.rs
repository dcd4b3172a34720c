//! A ferrotp node and a real Erlang node that connect to each other at
//! the same moment (Erlang's `net_adm:ping` and ferrotp's `connect`,
//! released together, the ferrotp side a little later each round to
//! sweep the Erlang side's latency): one connection comes up and stays,
//! and it carries messages both ways.

mod common;

use std::sync::Barrier;
use std::time::Duration;

use common::{eventually, next, sink, with_erlang, WAIT};
use ferrotp_dist::codec::atom;
use ferrotp_dist::term::Term;
use ferrotp_dist::{NodeDown, NodeUp};

#[test]
fn an_erlang_node_and_a_ferrotp_node_connecting_at_once_keep_one_connection() {
    let (system, node, mut erl) = with_erlang();
    let (_sink, got) = sink(&system, "sink");
    let nodes = system.inbox();
    node.monitor_nodes(nodes.actor());
    erl.ok("register(probe, self()).");
    let probe = node.remote("probe", &erl.name);
    let ping = format!("net_adm:ping('{}').", node.name());
    let disconnect = format!("erlang:disconnect_node('{}').", node.name());
    let rounds = 40u64;
    for round in 0..rounds {
        let barrier = Barrier::new(2);
        let erl_name = erl.name.clone();
        let (pong, connected) = std::thread::scope(|scope| {
            let (erl, barrier, ping, node) = (&mut erl, &barrier, &ping, &node);
            let erlang = scope.spawn(move || {
                barrier.wait();
                erl.ok(ping)
            });
            let ferrotp = scope.spawn(move || {
                barrier.wait();
                // Erlang reads, parses and runs the line first.
                std::thread::sleep(Duration::from_micros(100 * (round % 10)));
                node.connect(&erl_name, WAIT)
            });
            (erlang.join().unwrap(), ferrotp.join().unwrap())
        });
        assert_eq!(pong, "pong", "round {round}");
        assert!(connected, "round {round}");
        // The connection carries messages both ways...
        probe.send(atom("hi"));
        assert_eq!(erl.recv(), "hi", "round {round}");
        erl.ok(&format!("{{sink, '{}'}} ! {round}.", node.name()));
        assert_eq!(next::<Term>(&got).0, node.to_term(round as i64));
        // ...and is the only one that came up, none went down.
        let up = nodes.recv(WAIT).expect("NodeUp").downcast::<NodeUp>();
        assert_eq!(up.map(|u| u.node).ok(), Some(erl.name.clone()));
        if let Ok(envelope) = nodes.recv(Duration::ZERO) {
            let down = envelope.downcast::<NodeDown>().map(|d| d.reason);
            panic!("round {round}: another connection event: {down:?}");
        }
        assert_eq!(node.stats().connections, round + 1, "round {round}");
        assert_eq!(node.nodes(), vec![erl.name.clone()]);
        // Apart again for the next round.
        assert_eq!(erl.ok(&disconnect), "true");
        let down = nodes.recv(WAIT).expect("NodeDown").downcast::<NodeDown>();
        assert_eq!(down.map(|d| d.node).ok(), Some(erl.name.clone()));
        eventually("the connection is gone", || node.nodes().is_empty());
    }
    // (`refused_handshakes` may count a few: Erlang closes its own
    // connect, given up for ours, as soon as it has opened the socket.)
    node.stop();
}

/// An Erlang node that drops its connection to us and connects again at
/// once, over and over: each time its new connect is taken, whether our
/// side saw the old one close first or still held it (then we answer
/// `alive`, Erlang says it wants the new one, and it replaces the old).
#[test]
fn an_erlang_node_reconnecting_at_once_is_taken_back_each_time() {
    let (_system, node, mut erl) = with_erlang();
    let rounds = 50;
    let again = format!(
        "lists:usort([begin erlang:disconnect_node('{n}'), net_adm:ping('{n}') end \
         || _ <- lists:seq(1, {rounds})]).",
        n = node.name()
    );
    assert_eq!(erl.ok(&format!("net_adm:ping('{}').", node.name())), "pong");
    assert_eq!(erl.ok(&again), "[pong]");
    eventually("the last connection is the only one", || {
        node.nodes() == vec![erl.name.clone()]
    });
    assert!(node.stats().connections > rounds, "{:?}", node.stats());
    node.stop();
}
