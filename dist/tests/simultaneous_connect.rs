//! Two ferrotp nodes that connect to each other at the same moment end
//! with one connection, which both use: nothing sent while it was being
//! made is lost, and nothing tied to it fires `noconnection` (see
//! `handshake::settle`). Hundreds of rounds here; `stress_simultaneous.rs`
//! loops them for longer.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use common::{cookie, free_port, node_name, on_epmd, raw, trace, WAIT};
use erl_dist::handshake::HandshakeStatus;
use ferrotp::{Down, Executor, Inbox, MonitorRef, System};
use ferrotp_dist::codec::atom;
use ferrotp_dist::term::Term;
use ferrotp_dist::{is_noconnection, Node, NodeDown, NodeUp};

#[test]
fn nodes_connecting_to_each_other_at_once_keep_one_connection() {
    for executor in [Executor::Pool, Executor::Threads] {
        for round in 0..200 {
            common::simultaneous::round(executor, round);
        }
    }
}

/// Reads `stream` until a frame that is not a tick: the node wrote
/// something (here, the monitor placed across the connection).
fn next_frame(stream: &mut TcpStream) {
    loop {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).expect("a frame");
        let len = u32::from_be_bytes(len) as usize;
        if len > 0 {
            let mut body = vec![0u8; len];
            stream.read_exact(&mut body).expect("the frame's body");
            return;
        }
    }
}

/// A second connect from a node that is connected already. From the same
/// creation we answer `alive`: a peer that says `false` kept another
/// connection (a connect that lost a race), and nothing changes; one that
/// says `true` has no connection to us any more (a cut network we did not
/// notice, or it closed the old socket), and the new connection replaces
/// the old, whose monitors fire `noconnection`. From a new creation the
/// node restarted, and the new connection replaces the old at once.
#[test]
fn a_connected_node_connecting_again_is_asked_alive_unless_it_restarted() {
    trace();
    let cookie = cookie();
    let system = System::new();
    let a = Node::start(&system, on_epmd(node_name("a"), &cookie, free_port())).unwrap();
    let nodes = system.inbox();
    a.monitor_nodes(nodes.actor());
    let peer = node_name("raw");
    let (status, first) = raw::handshake(&a, &cookie, &peer, 7).unwrap();
    assert_eq!(status, HandshakeStatus::Ok);
    let mut first = first.expect("connected");
    let up = nodes
        .recv(WAIT)
        .expect("NodeUp")
        .downcast::<NodeUp>()
        .unwrap();
    assert_eq!(up.node, peer);
    let watcher = system.inbox();
    let monitor = watcher.monitor(&a.remote("anyone", &peer));
    next_frame(&mut first);

    // The same node again, which kept its first connection: `false`.
    let (status, none) = raw::handshake_answering(&a, &cookie, &peer, 7, false).unwrap();
    assert_eq!(status, HandshakeStatus::Alive);
    assert!(none.is_none());
    assert_eq!(a.nodes(), vec![peer.clone()]);
    assert_eq!(a.stats().connections, 1);
    assert!(watcher.recv(Duration::ZERO).is_err(), "nothing fired");

    // The same node, which lost its side of the first connection without
    // a close reaching us (a cut network): `true`, and it replaces it.
    let (status, second) = raw::handshake_answering(&a, &cookie, &peer, 7, true).unwrap();
    assert_eq!(status, HandshakeStatus::Alive);
    let mut second = second.expect("connected");
    replaced(&a, &nodes, &watcher, monitor, &peer, first);
    assert_eq!(a.stats().connections, 2);
    let monitor = watcher.monitor(&a.remote("anyone", &peer));
    next_frame(&mut second);

    // The node restarted (a new creation) before its old socket closed.
    let (status, third) = raw::handshake(&a, &cookie, &peer, 8).unwrap();
    assert_eq!(status, HandshakeStatus::Ok);
    let third = third.expect("connected");
    replaced(&a, &nodes, &watcher, monitor, &peer, second);
    assert_eq!(a.stats().connections, 3);

    // The same creation again, right after it closed its socket (it gave
    // the connection up, whether or not our reader saw that yet): taken.
    third.shutdown(std::net::Shutdown::Both).unwrap();
    let (status, fourth) = raw::handshake(&a, &cookie, &peer, 8).unwrap();
    assert!(
        matches!(status, HandshakeStatus::Ok | HandshakeStatus::Alive),
        "{status:?}"
    );
    assert!(fourth.is_some());
    let gone = nodes.recv(WAIT).unwrap().downcast::<NodeDown>().unwrap();
    assert_eq!(gone.node, peer);
    let up = nodes.recv(WAIT).unwrap().downcast::<NodeUp>().unwrap();
    assert_eq!(up.node, peer);
    assert_eq!(a.stats().connections, 4);
    a.stop();
}

/// The connection `old` was replaced: `monitor` fired `noconnection`,
/// the node went down and up again, and `old` was closed.
fn replaced(
    a: &Node,
    nodes: &Inbox,
    watcher: &Inbox,
    monitor: MonitorRef,
    peer: &str,
    mut old: TcpStream,
) {
    let down: Down = watcher.recv(WAIT).unwrap().downcast().unwrap();
    assert_eq!(down.monitor, monitor);
    assert!(is_noconnection(&down.reason), "{:?}", down.reason);
    let gone = nodes.recv(WAIT).unwrap().downcast::<NodeDown>().unwrap();
    assert_eq!(gone.node, peer);
    let up = nodes.recv(WAIT).unwrap().downcast::<NodeUp>().unwrap();
    assert_eq!(up.node, peer);
    let mut buf = [0u8; 16];
    loop {
        match old.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => continue,
        }
    }
    assert_eq!(a.nodes(), vec![peer.to_string()]);
}

/// An incoming handshake claims the node's entry as it answers, so a
/// local send meanwhile waits for that connection; when the handshake
/// then fails, the send is not lost: the node connects in its place.
#[test]
fn a_send_waiting_on_a_failed_incoming_handshake_connects_instead() {
    trace();
    let cookie = cookie();
    let epmd = free_port();
    let (sys_a, sys_b) = (System::new(), System::new());
    let a = Node::start(&sys_a, on_epmd(node_name("a"), &cookie, epmd)).unwrap();
    let b = Node::start(&sys_b, on_epmd(node_name("b"), &cookie, epmd)).unwrap();
    let sink = sys_b.inbox();
    sys_b.register("sink", sink.actor()).unwrap();
    // Someone claiming to be b begins a handshake with a, and stops.
    let (status, socket) = raw::name_only(&a, &cookie, b.name(), 9).unwrap();
    assert_eq!(status, HandshakeStatus::Ok);
    a.send(&a.remote("sink", b.name()), atom("waited"));
    drop(socket);
    let got = sink.recv(WAIT).expect("the send arrives");
    assert_eq!(got.downcast::<Term>().unwrap(), atom("waited"));
    assert_eq!(a.nodes(), vec![b.name().to_string()]);
    assert_eq!(a.stats().refused_handshakes, 1);
    a.stop();
    b.stop();
}
