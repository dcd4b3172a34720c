//! A connection's reader runs the turn of the actor a `gen_server` call
//! wakes (`System::run_woken`); a handler that then waits for a reply on
//! that same connection, or holds the reader long, moves reading to a new
//! thread instead of stalling the connection.

mod common;

use common::ferrotp_pair as pair;

use std::sync::mpsc;
use std::sync::Mutex;

use common::{free_port, next, sink, WAIT};
use ferrotp::{Actor, ActorRef, Context, Handlers};
use ferrotp_dist::codec::{atom, is_atom};
use ferrotp_dist::term::Term;
use ferrotp_dist::Node;

/// Answers `get` with 42.
struct Answer;

impl Actor for Answer {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|_: &mut Self, term: Term, ctx: &mut Context<Self>| {
            if is_atom(&term, "get") {
                ctx.reply(42i64);
            }
        })
    }
}

/// Answers `ask` with what its own call of `get` on `target` (across the
/// connection the `ask` came by) answered, or -1.
struct Relay {
    node: Node,
    target: ActorRef,
}

impl Actor for Relay {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|me: &mut Self, term: Term, ctx: &mut Context<Self>| {
            if is_atom(&term, "ask") {
                let got: i64 = me.node.call(&me.target, atom("get"), WAIT).unwrap_or(-1);
                ctx.reply(got);
            }
        })
    }
}

/// b's relay, run by b's reader, calls back to a over the same
/// connection: the reply it waits for comes by that reader, which so
/// hands reading to a new thread first. Without that, every call would
/// wait out its timeout.
#[test]
fn a_handler_calling_back_over_its_own_connection_is_answered() {
    let (sys_a, a, sys_b, b) = pair(free_port());
    sys_a
        .spawn_with(Answer, ferrotp::SpawnOptions::new().name("answer"))
        .unwrap();
    let target = b.remote("answer", a.name());
    sys_b
        .spawn_with(
            Relay {
                node: b.clone(),
                target,
            },
            ferrotp::SpawnOptions::new().name("relay"),
        )
        .unwrap();
    let relay = a.remote("relay", b.name());
    for _ in 0..50 {
        let got: i64 = a.call(&relay, atom("ask"), WAIT).unwrap();
        assert_eq!(got, 42);
    }
    // The relay was idle at most calls: its turns ran on b's reader.
    assert!(b.stats().reader_reliefs > 0, "no turn ran on the reader");
    a.stop();
    b.stop();
}

/// Naps until told to go on, then answers `nap` with `woke`.
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

/// A handler that holds b's reader (a wait the runtime cannot see) does
/// not hold up the connection: the watchdog relieves the reader, and what
/// a sends meanwhile arrives before the handler returns.
#[test]
fn a_long_handler_on_the_reader_does_not_hold_up_the_connection() {
    let (_sys_a, a, sys_b, b) = pair(free_port());
    let (wake, woken) = mpsc::channel();
    sys_b
        .spawn_with(
            Sleeper(Mutex::new(woken)),
            ferrotp::SpawnOptions::new().name("sleeper"),
        )
        .unwrap();
    let (_sink_b, got_b) = sink(&sys_b, "sink");
    let sleeper = a.remote("sleeper", b.name());
    let caller = {
        let a = a.clone();
        std::thread::spawn(move || a.call::<Term>(&sleeper, atom("nap"), WAIT))
    };
    // While the sleeper naps (on b's reader, or on a worker if it was not
    // idle yet), messages on the same connection get through.
    for n in 0..20i64 {
        a.send(&a.remote("sink", b.name()), n);
        let (got, _) = next::<Term>(&got_b);
        assert_eq!(got, b.to_term(n));
    }
    wake.send(()).unwrap();
    assert_eq!(caller.join().unwrap().unwrap(), atom("woke"));
    a.stop();
    b.stop();
}
