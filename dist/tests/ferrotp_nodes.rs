//! Two ferrotp nodes in one process, no Erlang needed: the EPMD served
//! from this process, the handshake both ways, messages by name and pid.

mod common;

use std::time::Duration;

use common::{cookie, next, node_name, sink, trace};
use ferrotp::{ActorRef, System};
use ferrotp_dist::codec::atom;
use ferrotp_dist::term::Atom;
use ferrotp_dist::{Node, NodeConfig};

/// A free port for an EPMD of our own (nothing runs there yet).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn pair(epmd: u16) -> (System, Node, System, Node) {
    trace();
    let cookie = cookie();
    let config = |name: String| {
        NodeConfig::new(name)
            .cookie(cookie.clone())
            .epmd_port(epmd)
            .spawn_epmd(false)
    };
    let (sys_a, sys_b) = (System::new(), System::new());
    let a = Node::start(&sys_a, config(node_name("a"))).expect("node a");
    let b = Node::start(&sys_b, config(node_name("b"))).expect("node b");
    (sys_a, a, sys_b, b)
}

#[test]
fn two_ferrotp_nodes_talk_through_their_own_epmd() {
    let (_sys_a, a, sys_b, b) = pair(free_port());
    let (sink_b, got) = sink(&sys_b, "sink");
    b.accept::<(Atom, ActorRef)>(&sink_b);

    assert!(a.connect(b.name(), Duration::from_secs(30)));
    assert_eq!(a.nodes(), vec![b.name().to_string()]);

    // By name, with a pid inside: b sees a's actor as a proxy.
    let (sink_a, got_a) = sink(&_sys_a, "sink");
    a.send(&a.remote("sink", b.name()), (atom("hello"), sink_a.clone()));
    let ((tag, from_a), _) = next::<(Atom, ActorRef)>(&got);
    assert_eq!(tag.name, "hello");
    // And back, by pid: it reaches a's sink as a raw term.
    b.send(&from_a, atom("back"));
    let (term, _) = next::<ferrotp_dist::term::Term>(&got_a);
    assert_eq!(term, atom("back"));
    a.stop();
    b.stop();
}
