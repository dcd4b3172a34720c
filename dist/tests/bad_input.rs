//! Bad input and security: a wrong cookie is refused on both sides with no
//! other effect; garbage, oversized, truncated and malformed frames close
//! only the connection that sent them, are counted, and never panic the
//! node, whose other connections keep working.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{cookie, eventually, free_port, next, node_name, on_epmd, sink, trace};
use erl_dist::handshake::HandshakeStatus;
use erl_dist::message::Message;
use erl_dist::term::{Atom, FixInteger, List, Mfa, Pid, PidOrAtom, Reference};
use ferrotp::System;
use ferrotp_dist::codec::atom;
use ferrotp_dist::term::Term;
use ferrotp_dist::Node;

fn start(system: &System, cookie: &str, epmd: u16) -> Node {
    trace();
    let config = on_epmd(node_name("n"), cookie, epmd).max_frame(1 << 20);
    Node::start(system, config).expect("node starts")
}

/// A raw peer that completes the handshake with `cookie`, then lets the
/// test write whatever bytes it likes.
fn raw_peer(node: &Node, cookie: &str) -> Result<TcpStream, String> {
    raw_peer_named(node, cookie, &node_name("raw"))
}

fn raw_peer_named(node: &Node, cookie: &str, name: &str) -> Result<TcpStream, String> {
    let (status, stream) = common::raw::handshake(node, cookie, name, 7)?;
    assert_eq!(status, HandshakeStatus::Ok);
    Ok(stream.expect("the handshake completed"))
}

/// The peer closed the socket: a read sees the end (or a reset).
fn closed(mut stream: TcpStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return true,
            Ok(_) => continue, // ticks
        }
    }
}

#[test]
fn a_wrong_cookie_is_refused_both_ways_with_no_other_effect() {
    let epmd = free_port();
    let (sys_a, sys_b) = (System::new(), System::new());
    let a = start(&sys_a, &cookie(), epmd);
    let b = start(&sys_b, &cookie(), epmd);
    // a -> b and b -> a: refused on both sides.
    assert!(!a.connect(b.name(), Duration::from_secs(10)));
    assert!(!b.connect(a.name(), Duration::from_secs(10)));
    eventually("both count refusals", || {
        a.stats().refused_handshakes >= 2 && b.stats().refused_handshakes >= 2
    });
    assert!(a.nodes().is_empty() && b.nodes().is_empty());
    // A raw client with a wrong cookie gets a clear error.
    let error = raw_peer(&a, "wrong").unwrap_err();
    assert!(!error.is_empty());
    // The node still serves peers with the right cookie.
    let shared = cookie();
    let (sys_c, sys_d) = (System::new(), System::new());
    let c = start(&sys_c, &shared, epmd);
    let d = start(&sys_d, &shared, epmd);
    assert!(c.connect(d.name(), Duration::from_secs(30)));
    for node in [a, b, c, d] {
        node.stop();
    }
}

#[test]
fn bad_frames_close_only_their_connection() {
    let epmd = free_port();
    let shared = cookie();
    let (sys_a, sys_b) = (System::new(), System::new());
    let a = start(&sys_a, &shared, epmd);
    let b = start(&sys_b, &shared, epmd);
    let (_sink, got) = sink(&sys_a, "sink");
    let to_sink = b.remote("sink", a.name());

    let mut bad: Vec<(&str, Vec<u8>)> = vec![
        ("garbage after the tag", vec![0, 0, 0, 5, 112, 1, 2, 3, 4]),
        ("no pass-through tag", vec![0, 0, 0, 3, 99, 131, 106]),
        ("oversized", vec![0, 0x20, 0, 0]),
        (
            "huge list count",
            vec![0, 0, 0, 8, 112, 131, 108, 0xff, 0xff, 0xff, 0xff, 106],
        ),
        ("atom cache reference", vec![0, 0, 0, 4, 112, 131, 82, 0]),
        (
            "control message that is no tuple",
            vec![0, 0, 0, 3, 112, 131, 106],
        ),
        ("truncated", vec![0, 0, 1, 0, 112, 131, 104]),
        // DFLAG_FRAGMENTS is not offered: a fragment's header is refused.
        (
            "fragmented frame",
            vec![
                0, 0, 0, 19, 131, 69, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0,
            ],
        ),
    ];
    let mut deep = vec![112, 131];
    for _ in 0..5_000 {
        deep.extend([104, 1]);
    }
    deep.push(106);
    let mut frame = (deep.len() as u32).to_be_bytes().to_vec();
    frame.extend(deep);
    bad.push(("nested too deep", frame));

    for (i, (what, bytes)) in bad.into_iter().enumerate() {
        let mut raw = raw_peer(&a, &shared).expect("handshake");
        raw.write_all(&bytes).unwrap();
        if what == "truncated" {
            raw.shutdown(std::net::Shutdown::Write).unwrap();
        }
        assert!(closed(raw), "{what}: the node closes the connection");
        eventually(what, || a.stats().bad_frames as usize > i);
        // The node and its other connections keep working.
        b.send(&to_sink, (atom("still"), i as i64));
        let (term, _) = next::<Term>(&got);
        assert_eq!(term, b.to_term((atom("still"), i as i64)), "{what}");
    }
    assert_eq!(a.stats().bad_frames, 9);
    a.stop();
    b.stop();
}

#[test]
fn garbage_instead_of_a_handshake_is_refused() {
    let epmd = free_port();
    let system = System::new();
    let a = start(&system, &cookie(), epmd);
    for bytes in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0xff; 300][..],
        &[0, 1, b'n'][..],
    ] {
        let mut raw = TcpStream::connect(("127.0.0.1", a.port())).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        raw.write_all(bytes).unwrap();
        let _ = raw.shutdown(std::net::Shutdown::Write);
        assert!(closed(raw));
    }
    eventually("refusals counted", || a.stats().refused_handshakes >= 3);
    assert_eq!(a.stats().bad_frames, 0);
    a.stop();
}

/// Writes `message` as a frame.
fn write_message(stream: &mut TcpStream, message: Message) {
    let mut body = vec![112];
    message.write_into(&mut body).unwrap();
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend(body);
    stream.write_all(&frame).unwrap();
}

/// The next control message the node sends (ticks skipped).
fn read_message(stream: &mut TcpStream) -> Message {
    loop {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).expect("a frame");
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 {
            continue;
        }
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).expect("the frame's body");
        assert_eq!(body[0], 112);
        return Message::read_from(&mut &body[1..]).expect("a control message");
    }
}

#[test]
fn alias_sends_and_spawn_requests_are_answered_cleanly() {
    let epmd = free_port();
    let shared = cookie();
    let system = System::new();
    let a = start(&system, &shared, epmd);
    let (_sink, got) = sink(&system, "sink");
    let name = node_name("raw");
    let mut raw = raw_peer_named(&a, &shared, &name).expect("handshake");
    let me = Pid::new(name.as_str(), 1, 0, 7);
    let reference = |n: u32| Reference {
        node: Atom::from(name.as_str()),
        id: vec![n, 0, 0],
        creation: 7,
    };

    // erpc's spawn request: refused with notsup, the connection stays.
    let mfa = Mfa {
        module: Atom::from("erlang"),
        function: Atom::from("node"),
        arity: FixInteger::from(0),
    };
    write_message(
        &mut raw,
        Message::spawn_request(
            reference(1),
            me.clone(),
            me.clone(),
            mfa,
            List::nil(),
            List::nil(),
        ),
    );
    match read_message(&mut raw) {
        Message::SpawnReply(reply) => {
            assert_eq!(reply.req_id, reference(1));
            assert_eq!(reply.to_pid, me);
            assert_eq!(reply.result, PidOrAtom::Atom(Atom::from("notsup")));
        }
        other => panic!("expected a spawn reply, got {other:?}"),
    }

    // A send to an alias this node never made: undeliverable, counted.
    write_message(
        &mut raw,
        Message::alias_send(me.clone(), reference(2), Term::from(Atom::from("lost"))),
    );
    write_message(
        &mut raw,
        Message::reg_send(
            me.clone(),
            Atom::from("sink"),
            Term::from(Atom::from("after")),
        ),
    );
    let (term, _) = next::<Term>(&got);
    assert_eq!(term, atom("after"));
    assert_eq!(a.stats().undeliverable, 1);
    assert_eq!(a.stats().bad_frames, 0);
    a.stop();
}
