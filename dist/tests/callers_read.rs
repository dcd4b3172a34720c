//! A thread waiting in `Node::call` reads its reply from the connection
//! itself (Linux), so the connection's reader thread is not woken for it;
//! and while a caller reads, everything else on that connection (messages
//! to local actors, calls from the other node, other callers' replies)
//! is delivered as the reader would, in order.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

use common::{eventually, free_port, next, sink, Answer, WAIT};
use ferrotp::{Actor, Context, Handlers, System};
use ferrotp_dist::codec::{atom, is_atom};
use ferrotp_dist::term::Term;
use ferrotp_dist::Node;

/// Two connected nodes. (Connected before both use the connection: two
/// nodes that connect to each other at the same moment can still lose
/// the first connection to the second, which is not what these tests
/// are about.)
fn pair(epmd: u16) -> (System, Node, System, Node) {
    let (sys_a, a, sys_b, b) = common::ferrotp_pair(epmd);
    assert!(a.connect(b.name(), WAIT), "a connects to b");
    eventually("b sees the connection", || {
        b.nodes().iter().any(|n| n == a.name())
    });
    (sys_a, a, sys_b, b)
}

/// Answers `nap` with `woke` once told to go on.
struct Sleeper(Mutex<mpsc::Receiver<()>>);

impl Actor for Sleeper {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|me: &mut Self, term: Term, ctx: &mut Context<Self>| {
            if is_atom(&term, "nap") {
                let _ = me.0.lock().unwrap().recv_timeout(WAIT);
                ctx.reply(atom("woke"));
            }
        })
    }
}

/// Calls in a row: their replies are read by the calling thread, and the
/// reader thread of the calling node is woken far less often than there
/// are calls (a reader woken for each reply would be woken once a call).
#[cfg(target_os = "linux")]
#[test]
fn a_caller_reads_its_own_reply_and_the_reader_sleeps() {
    let (_sys_a, a, sys_b, b) = pair(free_port());
    sys_b
        .spawn_with(Answer, ferrotp::SpawnOptions::new().name("answer"))
        .unwrap();
    let answer = a.remote("answer", b.name());
    // Connected, and the first calls made (the handshake's traffic read).
    for _ in 0..10 {
        let got: i64 = a.call(&answer, atom("get"), WAIT).unwrap();
        assert_eq!(got, 42);
    }
    let before = a.stats();
    let calls = 2_000;
    for i in 0..calls {
        let got: i64 = a.call(&answer, (atom("n"), i), WAIT).unwrap();
        assert_eq!(got, i);
    }
    let after = a.stats();
    let own = after.caller_reads - before.caller_reads;
    let woken = after.reader_wakeups - before.reader_wakeups;
    eprintln!("{calls} calls: {own} replies read by their callers, {woken} reader wake-ups");
    assert!(own > 0, "no caller read its own reply");
    // Generous: a reply that comes before its caller began to wait is
    // the reader's, which a loaded machine makes happen now and then.
    assert!(
        woken < calls as u64 / 2,
        "the reader woke {woken} times for {calls} calls ({own} replies read by their callers)"
    );
    a.stop();
    b.stop();
}

/// While a thread waits for a reply that takes long (it reads the
/// connection meanwhile), what the other node sends on that connection is
/// delivered at once, one message after another: messages to a local
/// actor, and calls to a local actor, which are answered.
#[test]
fn the_connection_flows_while_a_caller_waits_on_it() {
    let (sys_a, a, sys_b, b) = pair(free_port());
    let (wake, woken) = mpsc::channel();
    sys_b
        .spawn_with(
            Sleeper(Mutex::new(woken)),
            ferrotp::SpawnOptions::new().name("sleeper"),
        )
        .unwrap();
    sys_a
        .spawn_with(Answer, ferrotp::SpawnOptions::new().name("answer"))
        .unwrap();
    let (_sink_a, got_a) = sink(&sys_a, "sink");
    let sleeper = a.remote("sleeper", b.name());
    let to_a = b.remote("sink", a.name());
    let answer_a = b.remote("answer", a.name());
    std::thread::scope(|scope| {
        let caller = scope.spawn(|| a.call::<Term>(&sleeper, atom("nap"), WAIT));
        for n in 0..200i64 {
            // Each waits for the one before: nothing here waits for the
            // call to end.
            b.send(&to_a, n);
            let (got, _) = next::<Term>(&got_a);
            assert_eq!(got, a.to_term(n));
            if n % 10 == 0 {
                let got: i64 = b.call(&answer_a, (atom("n"), n), WAIT).unwrap();
                assert_eq!(got, n);
            }
        }
        wake.send(()).unwrap();
        assert_eq!(caller.join().unwrap().unwrap(), atom("woke"));
    });
    a.stop();
    b.stop();
}

/// Several threads call in loops while the other node streams messages
/// and makes calls of its own on the same connection: every call gets
/// its own reply, and the stream arrives whole and in order.
#[test]
fn callers_in_several_threads_and_a_stream_share_the_connection() {
    let (sys_a, a, sys_b, b) = pair(free_port());
    sys_b
        .spawn_with(Answer, ferrotp::SpawnOptions::new().name("answer"))
        .unwrap();
    sys_a
        .spawn_with(Answer, ferrotp::SpawnOptions::new().name("answer"))
        .unwrap();
    let (_sink_a, got_a) = sink(&sys_a, "sink");
    let answer_b = a.remote("answer", b.name());
    let answer_a = b.remote("answer", a.name());
    let to_a = b.remote("sink", a.name());
    let streaming = AtomicBool::new(true);
    let total = 5_000i64;
    std::thread::scope(|scope| {
        for thread in 0..4i64 {
            let (a, answer_b, streaming) = (&a, &answer_b, &streaming);
            scope.spawn(move || {
                let mut i = 0;
                // At least 100 calls each, and on while the stream flows.
                while i < 100 || streaming.load(Ordering::Acquire) {
                    let n = thread * 1_000_000 + i;
                    let got: i64 = a.call(answer_b, (atom("n"), n), WAIT).unwrap();
                    assert_eq!(got, n, "a reply went to another call");
                    i += 1;
                }
            });
        }
        scope.spawn(|| {
            for n in 0..total {
                b.send(&to_a, n);
                if n % 100 == 0 {
                    let got: i64 = b.call(&answer_a, (atom("n"), n), WAIT).unwrap();
                    assert_eq!(got, n);
                }
            }
        });
        for n in 0..total {
            let (got, _) = next::<Term>(&got_a);
            assert_eq!(got, a.to_term(n), "message {n}");
        }
        streaming.store(false, Ordering::Release);
    });
    a.stop();
    b.stop();
}

/// A function address's function must not block, but one that calls a
/// node over the connection whose reader is handling the message that
/// runs it (so nobody can read the reply) ends by its timeout, as it
/// always did, and does not hang the connection.
#[test]
fn a_call_from_code_the_reader_runs_ends_by_its_timeout() {
    let (sys_a, a, sys_b, b) = pair(free_port());
    sys_b
        .spawn_with(Answer, ferrotp::SpawnOptions::new().name("answer"))
        .unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    let relay = {
        let (a, answer) = (a.clone(), a.remote("answer", b.name()));
        ferrotp::FnAddress::new(&sys_a, move |_| {
            let got = a.call::<i64>(&answer, atom("get"), std::time::Duration::from_millis(200));
            let _ = tx.send(got);
        })
    };
    sys_a.register("relay", relay.actor()).unwrap();
    b.send(&b.remote("relay", a.name()), atom("go"));
    let got = rx.recv_timeout(WAIT).expect("the call ends");
    assert!(
        matches!(got, Ok(42) | Err(ferrotp_dist::RemoteCallError::Timeout)),
        "{got:?}"
    );
    // The connection still works both ways.
    let got: i64 = a
        .call(&a.remote("answer", b.name()), atom("get"), WAIT)
        .unwrap();
    assert_eq!(got, 42);
    drop(relay);
    a.stop();
    b.stop();
}
