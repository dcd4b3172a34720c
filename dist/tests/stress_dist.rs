//! Stress of a connection read by its reader thread and by the threads
//! waiting in `Node::call` (which read their own replies on Linux), on
//! both executors: callers in several threads, a stream and calls from
//! the other node on the same connection, and the connection lost in the
//! middle (either node stops). Every call ends with its own reply or
//! `noconnection` (never a timeout or someone else's reply), the stream
//! arrives in order with no gap, and a monitor across the connection
//! fires `noconnection`. Each scenario loops for `FERROTP_STRESS_SECS`
//! seconds (default 3); ignored by default:
//!
//! ```text
//! FERROTP_STRESS_SECS=10 cargo test --release -p ferrotp-dist --test stress_dist -- --ignored stress
//! ```

#[path = "../../tests/common/budget.rs"]
mod budget;
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use budget::for_budget;
use common::{cookie, free_port, node_name, on_epmd, trace, Answer, WAIT};
use ferrotp::{Executor, ExitReason, System};
use ferrotp_dist::term::Term;
use ferrotp_dist::{is_noconnection, Node, RemoteCallError};

/// A call's end after the connection went: `noconnection`, or on the
/// node that stopped (`here`) its addresses' end, `shutdown`; never a
/// timeout or another call's reply.
fn check_cut(what: &str, here: bool, result: Result<i64, RemoteCallError>) {
    match result {
        Err(RemoteCallError::Down(reason)) if is_noconnection(&reason) => {}
        Err(RemoteCallError::Down(ExitReason::Shutdown)) if here => {}
        other => panic!("{what}: expected noconnection, got {other:?}"),
    }
}

fn callers_stream_and_loss(executor: Executor, round: u64) {
    trace();
    // One EPMD for the whole run: the one a node serves itself when none
    // runs lives on with the process, as the `epmd` daemon does.
    static EPMD: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    let epmd = *EPMD.get_or_init(free_port);
    let cookie = cookie();
    let sys_a = System::builder().executor(executor).build();
    let sys_b = System::builder().executor(executor).build();
    let a = Node::start(&sys_a, on_epmd(node_name("a"), &cookie, epmd)).expect("node a");
    let b = Node::start(&sys_b, on_epmd(node_name("b"), &cookie, epmd)).expect("node b");
    sys_b
        .spawn_with(Answer, ferrotp::SpawnOptions::new().name("answer"))
        .unwrap();
    sys_a
        .spawn_with(Answer, ferrotp::SpawnOptions::new().name("answer"))
        .unwrap();
    let inbox = sys_a.inbox();
    let sink_name = format!("sink{round}");
    sys_a.register(&sink_name, inbox.actor()).unwrap();
    let answer_b = a.remote("answer", b.name());
    let answer_a = b.remote("answer", a.name());
    let to_a = b.remote(&sink_name, a.name());
    // Connected before the watch: a monitor placed after the loss would
    // fire `noconnection` anyway, but say nothing of a lost connection.
    let first: i64 = a
        .call(&answer_b, ferrotp_dist::codec::atom("get"), WAIT)
        .unwrap();
    assert_eq!(first, 42);
    let watcher = sys_a.inbox();
    let monitor = watcher.monitor(&answer_b);
    let b_stops = round % 2 == 0;
    let streaming = AtomicBool::new(true);
    std::thread::scope(|scope| {
        let mut callers = Vec::new();
        for thread in 0..3i64 {
            let (a, answer_b) = (&a, &answer_b);
            callers.push(scope.spawn(move || {
                let mut n = 0i64;
                loop {
                    let request = (ferrotp_dist::codec::atom("n"), thread * 1_000_000 + n);
                    match a.call::<i64>(answer_b, request, WAIT) {
                        Ok(got) => assert_eq!(got, thread * 1_000_000 + n, "another call's reply"),
                        cut => {
                            return check_cut(&format!("round {round}, a's call"), !b_stops, cut)
                        }
                    }
                    n += 1;
                }
            }));
        }
        let streamer = scope.spawn(|| {
            let mut n = 0i64;
            while streaming.load(Ordering::Acquire) {
                b.send(&to_a, n);
                if n % 50 == 0 {
                    match b.call::<i64>(&answer_a, (ferrotp_dist::codec::atom("n"), n), WAIT) {
                        Ok(got) => assert_eq!(got, n),
                        cut => return check_cut(&format!("round {round}, b's call"), b_stops, cut),
                    }
                }
                n += 1;
            }
        });
        // The stream comes in order with no gap until the cut.
        let cut_after = 200 + (round % 7) * 150;
        let mut expected = 0i64;
        while expected < cut_after as i64 {
            let envelope = inbox.recv(WAIT).expect("the stream flows");
            let term = envelope.downcast::<Term>().expect("a term");
            assert_eq!(term, a.to_term(expected), "the stream's order");
            expected += 1;
        }
        if b_stops {
            b.stop();
        } else {
            a.stop();
        }
        streaming.store(false, Ordering::Release);
        for caller in callers {
            caller.join().expect("a caller");
        }
        streamer.join().expect("the streamer");
        // Whatever else came is still in order.
        while let Ok(envelope) = inbox.recv(Duration::ZERO) {
            if let Ok(term) = envelope.downcast::<Term>() {
                assert_eq!(term, a.to_term(expected), "the stream's order");
                expected += 1;
            }
        }
    });
    if b_stops {
        let down = watcher.recv(WAIT).expect("the monitor fires");
        let down = down.downcast::<ferrotp::Down>().expect("a Down");
        assert_eq!(down.monitor, monitor);
        assert!(is_noconnection(&down.reason), "{:?}", down.reason);
    }
    a.stop();
    b.stop();
    sys_a.shutdown(WAIT).expect("a shuts down");
    sys_b.shutdown(WAIT).expect("b shuts down");
}

#[test]
#[ignore]
fn stress_callers_reader_stream_and_connection_loss_on_the_pool() {
    for_budget("callers_stream_and_loss (pool)", |round| {
        callers_stream_and_loss(Executor::Pool, round)
    });
}

#[test]
#[ignore]
fn stress_callers_reader_stream_and_connection_loss_on_threads() {
    for_budget("callers_stream_and_loss (threads)", |round| {
        callers_stream_and_loss(Executor::Threads, round)
    });
}

/// A few rounds of each, with the ordinary tests.
#[test]
fn a_few_rounds_of_callers_stream_and_loss() {
    for executor in [Executor::Pool, Executor::Threads] {
        for round in 0..4 {
            callers_stream_and_loss(executor, round);
        }
    }
}
