//! Two ferrotp nodes that connect to each other at the same moment: the
//! round shared by `simultaneous_connect.rs` (a few hundred rounds) and
//! `stress_simultaneous.rs` (looped for `FERROTP_STRESS_SECS`).

use std::sync::{Barrier, OnceLock};
use std::time::Duration;

use ferrotp::{Down, Executor, Inbox, System};
use ferrotp_dist::codec::atom;
use ferrotp_dist::term::Term;
use ferrotp_dist::{Node, NodeDown, NodeUp};

use super::{cookie, free_port, node_name, on_epmd, trace, Answer, WAIT};

/// Messages each side sends the other as the connection is being made.
const SENT: i64 = 20;

/// One EPMD for the whole run (the one a node serves itself lives on with
/// the process, as the `epmd` daemon does).
fn epmd() -> u16 {
    static EPMD: OnceLock<u16> = OnceLock::new();
    *EPMD.get_or_init(free_port)
}

/// One side: a node with `answer` and an inbox registered as `sink`, an
/// inbox that monitors the other's `answer`, one that hears `NodeUp` /
/// `NodeDown`.
struct Side {
    system: System,
    node: Node,
    sink: Inbox,
    watcher: Inbox,
    nodes: Inbox,
}

fn side(executor: Executor, prefix: &str, cookie: &str) -> Side {
    let system = System::builder().executor(executor).build();
    let node = Node::start(&system, on_epmd(node_name(prefix), cookie, epmd())).expect("node");
    system
        .spawn_with(Answer, ferrotp::SpawnOptions::new().name("answer"))
        .unwrap();
    let sink = system.inbox();
    system.register("sink", sink.actor()).unwrap();
    let watcher = system.inbox();
    let nodes = system.inbox();
    node.monitor_nodes(nodes.actor());
    Side {
        system,
        node,
        sink,
        watcher,
        nodes,
    }
}

/// What one side's thread does once released: monitors the other's
/// `answer`, sends `SENT` messages to its `sink`, and calls `answer` —
/// the first of these opens the connection, from both sides at once.
fn reach(me: &Side, other: &str, barrier: &Barrier) {
    let answer = me.node.remote("answer", other);
    let sink = me.node.remote("sink", other);
    barrier.wait();
    me.watcher.monitor(&answer);
    for i in 0..SENT {
        me.node.send(&sink, (atom("n"), i));
    }
    let got: i64 = me
        .node
        .call(&answer, atom("get"), WAIT)
        .unwrap_or_else(|e| panic!("{}'s call across: {e:?}", me.node.name()));
    assert_eq!(got, 42);
}

/// After both threads: every message came in order, no monitor fired,
/// one connection came up and none went down.
fn check(me: &Side, other: &Node, round: u64) {
    let name = me.node.name();
    // The thread that sent them called after them, on the same
    // connection, and had its reply: they are all in by now, or lost.
    for i in 0..SENT {
        let envelope = me
            .sink
            .recv(Duration::ZERO)
            .unwrap_or_else(|_| panic!("round {round}: {name} lost message {i} of {SENT}"));
        let term = envelope.downcast::<Term>().expect("a term");
        assert_eq!(term, me.node.to_term((atom("n"), i)), "round {round}");
    }
    if let Ok(envelope) = me.watcher.recv(Duration::ZERO) {
        let down = envelope.downcast::<Down>().map(|d| d.reason);
        panic!("round {round}: {name}'s monitor fired while both nodes are up: {down:?}");
    }
    let up = me
        .nodes
        .recv(Duration::ZERO)
        .unwrap_or_else(|_| panic!("round {round}: {name} saw no NodeUp"));
    assert_eq!(
        up.downcast::<NodeUp>().expect("a NodeUp").node,
        other.name()
    );
    if let Ok(envelope) = me.nodes.recv(Duration::ZERO) {
        match envelope.downcast::<NodeDown>() {
            Ok(down) => panic!("round {round}: {name} saw {down:?} while both nodes are up"),
            Err(_) => panic!("round {round}: {name} saw a second NodeUp"),
        }
    }
    assert_eq!(
        me.node.stats().connections,
        1,
        "round {round}: {name} brought up more than one connection"
    );
    assert_eq!(me.node.nodes(), vec![other.name().to_string()]);
}

/// One round: two fresh nodes reach each other at the same moment; the
/// connection they end with carries calls both ways.
pub fn round(executor: Executor, round: u64) {
    trace();
    let cookie = cookie();
    let a = side(executor, "a", &cookie);
    let b = side(executor, "b", &cookie);
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        let from_a = scope.spawn(|| reach(&a, b.node.name(), &barrier));
        let from_b = scope.spawn(|| reach(&b, a.node.name(), &barrier));
        from_a.join().expect("a's side");
        from_b.join().expect("b's side");
    });
    check(&a, &b.node, round);
    check(&b, &a.node, round);
    for (me, other) in [(&a, &b), (&b, &a)] {
        let answer = me.node.remote("answer", other.node.name());
        let got: i64 = me.node.call(&answer, (atom("n"), 7i64), WAIT).unwrap();
        assert_eq!(got, 7, "round {round}: a call after the connect");
    }
    assert_eq!(a.node.stats().connections, 1, "round {round}");
    assert_eq!(b.node.stats().connections, 1, "round {round}");
    a.node.stop();
    b.node.stop();
    a.system.shutdown(WAIT).expect("a shuts down");
    b.system.shutdown(WAIT).expect("b shuts down");
}
