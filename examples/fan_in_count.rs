//! The fan-in path in numbers of instructions, for `valgrind --tool=callgrind`.
//!
//! One thread sends `N` messages (default 200,000) to an actor that is held
//! in its `started` hook, then lets it go; the actor drains its mailbox and
//! reports. Sending and receiving so run apart, the same each run, and
//! callgrind's inclusive counts of `send_all` (the sender) and of the
//! driver's turn (`Local::run` on the pool, `drive` on a thread) divided by
//! `N` are the instructions per message on either side:
//!
//! ```text
//! cargo build --release --example fan_in_count
//! valgrind --tool=callgrind --callgrind-out-file=fan_in.out \
//!     target/release/examples/fan_in_count pool 200000
//! callgrind_annotate --inclusive=yes fan_in.out | grep -E 'send_all|Local::run|drive'
//! ```
//!
//! Pass `threads` instead of `pool` for the thread-per-actor executor, or
//! `raw` for the anchor: one crossbeam channel, `raw_send_all` and
//! `raw_drain` on either side.

use std::sync::mpsc;
use std::time::Duration;

use ferrotp::{Actor, ActorRef, Context, Executor, ExitReason, Handlers, System};

/// What the bench's producers send.
struct Item {
    producer: usize,
    seq: u64,
}

/// Told when every item arrived, each producer's in order.
struct Drained(u64);

/// Held in `started` until its gate opens, then counts items.
struct Sink {
    gate: mpsc::Receiver<()>,
    expected: u64,
    next: [u64; 2],
    seen: u64,
    done: ActorRef,
}

impl Sink {
    fn item(&mut self, Item { producer, seq }: Item, ctx: &mut Context<Self>) {
        assert_eq!(
            self.next[producer], seq,
            "producer {producer}: out of order"
        );
        self.next[producer] = seq + 1;
        self.seen += 1;
        if self.seen == self.expected {
            ctx.send(&self.done, Drained(self.seen));
        }
    }
}

impl Actor for Sink {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::item)
    }

    fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let _ = self.gate.recv();
        Ok(())
    }
}

/// The sending side, apart so that callgrind counts it on its own.
#[inline(never)]
fn send_all(sink: &ActorRef, n: u64) {
    for seq in 0..n {
        sink.send(Item {
            producer: (seq & 1) as usize,
            seq: seq >> 1,
        });
    }
}

/// The anchor's sending side.
#[inline(never)]
fn raw_send_all(tx: &crossbeam_channel::Sender<Item>, n: u64) {
    for seq in 0..n {
        tx.send(Item {
            producer: (seq & 1) as usize,
            seq: seq >> 1,
        })
        .expect("the receiver is alive");
    }
}

/// The anchor's receiving side, with the sink's checks.
#[inline(never)]
fn raw_drain(rx: &crossbeam_channel::Receiver<Item>) -> u64 {
    let mut next = [0u64; 2];
    let mut seen = 0;
    for Item { producer, seq } in rx.iter() {
        assert_eq!(next[producer], seq, "producer {producer}: out of order");
        next[producer] = seq + 1;
        seen += 1;
    }
    seen
}

fn main() {
    let mut args = std::env::args().skip(1);
    let executor = match args.next().as_deref() {
        None | Some("pool") => Executor::Pool,
        Some("threads") => Executor::Threads,
        Some("raw") => Executor::Pool,
        Some(other) => panic!("executor `{other}`: `pool`, `threads` or `raw`"),
    };
    let raw = std::env::args().nth(1).as_deref() == Some("raw");
    let n: u64 = args
        .next()
        .map(|n| n.parse().expect("a number of messages"))
        .unwrap_or(200_000);
    if raw {
        let (tx, rx) = crossbeam_channel::unbounded();
        raw_send_all(&tx, n);
        drop(tx);
        let seen = std::thread::spawn(move || raw_drain(&rx))
            .join()
            .expect("the drain checks the order");
        assert_eq!(seen, n);
        println!("{n} messages sent and received");
        return;
    }
    let system = System::builder().executor(executor).build();
    let inbox = system.inbox();
    let (open, gate) = mpsc::channel();
    let sink = system.spawn(Sink {
        gate,
        expected: n,
        next: [0; 2],
        seen: 0,
        done: inbox.actor().clone(),
    });
    send_all(&sink, n);
    open.send(()).expect("the sink waits at its gate");
    let drained = inbox
        .recv(Duration::from_secs(600))
        .expect("the sink drains its mailbox")
        .downcast::<Drained>()
        .unwrap_or_else(|_| panic!("the sink's report"));
    assert_eq!(drained.0, n);
    println!("{n} messages sent and received");
}
