//! A connection's reader: the thread that reads its frames and acts on
//! them, and how reading moves to a new thread when an actor's turn holds
//! the reader.
//!
//! When the reader has read all that came (its buffer is empty: the next
//! read would wait) and the last message is a `gen_server` call (someone
//! waits for the answer), the local actor it woke runs its turn
//! on the reader's thread ([`System::run_woken`](ferrotp::System::run_woken)),
//! as a BEAM scheduler that polled the socket runs the process it
//! delivered to: a request and its reply cost no wake-up of a pool worker
//! and no thread switch. Other messages, and frames that follow closely
//! (a stream), are only delivered, and the pool runs their actors
//! meanwhile, while the reader reads on.
//!
//! A handler that waits or runs long would hold up everything else on the
//! connection, or wait for a reply only this reader would read. So while
//! the turn runs, the reader's state (its socket and buffer) is left in
//! the peer, and the turn's relief (its handler waits in the runtime or in
//! [`Node::call`](crate::Node::call), or it ran past a millisecond) takes
//! it to a new reader thread. The old thread finds it gone after the turn
//! and ends. Frames are read by one thread at a time, in order: the new
//! reader starts after the old one delivered everything it read.

use std::cell::RefCell;
use std::io::BufReader;
use std::net::TcpStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::dispatch;
use crate::node::NodeInner;
use crate::peer::{lost, Peer};
use crate::wire::{self, Frame, FrameError};

/// What reading a connection needs, passed from one reader thread to the
/// next.
pub(crate) struct ReadState {
    reader: BufReader<TcpStream>,
    body: Vec<u8>,
}

thread_local! {
    /// On a reader thread while it lends itself to an actor's turn: its
    /// node and connection, for a relief from inside the turn.
    static LENT: RefCell<Option<(Arc<NodeInner>, Arc<Peer>)>> = const { RefCell::new(None) };
}

/// Starts reading `stream` on a thread of its own; `false` if no thread
/// could be started.
pub(crate) fn start(inner: &Arc<NodeInner>, peer: &Arc<Peer>, stream: TcpStream) -> bool {
    // Silence for four ticks means the peer or the network is gone.
    let _ = stream.set_read_timeout(Some(inner.config.tick * 4));
    let state = ReadState {
        reader: BufReader::with_capacity(64 << 10, stream),
        body: Vec::new(),
    };
    spawn(inner, peer, state)
}

fn spawn(inner: &Arc<NodeInner>, peer: &Arc<Peer>, state: ReadState) -> bool {
    let (inner, peer) = (inner.clone(), peer.clone());
    std::thread::Builder::new()
        .name(format!("ferrotp-dist-read-{}", peer.name))
        // The term decoder recurses once per nesting level (bounded by
        // `wire::MAX_DEPTH`): give it room.
        .stack_size(8 << 20)
        .spawn(move || read_loop(&inner, &peer, state))
        .is_ok()
}

/// The reader lent to an actor's turn must go on elsewhere: a new thread
/// takes its state, if it is still there (a second relief finds it gone).
fn relieve(inner: &Arc<NodeInner>, peer: &Arc<Peer>) {
    let Some(state) = peer.reading.lock().take() else {
        return;
    };
    inner
        .counters
        .reader_reliefs
        .fetch_add(1, Ordering::Relaxed);
    tracing::debug!(node = %inner.name, peer = %peer.name, "an actor's turn holds the reader: reading goes on in a new thread");
    if !spawn(inner, peer, state) {
        lost(inner, peer, "cannot start a reader thread");
    }
}

/// Called before this thread waits for a reply from `node`: if it is the
/// reader of the connection to `node`, lent to an actor's turn, reading
/// goes on in another thread (the reply comes on this very connection).
/// A wait on another node's reply that comes back round to this
/// connection is relieved by the watchdog, a millisecond on.
pub(crate) fn before_wait(node: &str) {
    let lent = LENT.with(|l| {
        l.try_borrow()
            .ok()
            .and_then(|l| l.clone())
            .filter(|(_, peer)| peer.name == node)
    });
    if let Some((inner, peer)) = lent {
        relieve(&inner, &peer);
    }
}

fn read_loop(inner: &Arc<NodeInner>, peer: &Arc<Peer>, mut state: ReadState) {
    loop {
        match wire::read_frame_into(&mut state.reader, inner.config.max_frame, &mut state.body) {
            Ok(Frame::Tick) => {}
            Ok(Frame::Control(message))
                if !state.reader.buffer().is_empty() || !dispatch::is_call(&message) =>
            {
                // More is read already, or nobody waits for an answer:
                // deliver, and read on (the pool runs the actor meanwhile).
                let handled = catch_unwind(AssertUnwindSafe(|| {
                    dispatch::handle(inner, Some(peer), *message)
                }));
                if handled.is_err() {
                    tracing::error!(peer = %peer.name, "handling a control message panicked");
                }
            }
            Ok(Frame::Control(message)) => {
                // All that came is read, and a caller waits: the actor it
                // wakes runs here.
                *peer.reading.lock() = Some(state);
                LENT.with(|l| *l.borrow_mut() = Some((inner.clone(), peer.clone())));
                let relief = {
                    let (inner, peer) = (inner.clone(), peer.clone());
                    move || relieve(&inner, &peer)
                };
                let handled = catch_unwind(AssertUnwindSafe(|| {
                    inner
                        .system
                        .run_woken(|| dispatch::handle(inner, Some(peer), *message), relief)
                }));
                LENT.with(|l| *l.borrow_mut() = None);
                if handled.is_err() {
                    tracing::error!(peer = %peer.name, "handling a control message panicked");
                }
                match peer.reading.lock().take() {
                    Some(back) => state = back,
                    // Relieved: another thread reads now.
                    None => return,
                }
            }
            Err(FrameError::Io(e)) => {
                lost(inner, peer, &format!("connection closed: {e}"));
                return;
            }
            Err(bad) => {
                inner.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(node = %inner.name, peer = %peer.name, error = %bad, "bad frame: closing the connection");
                lost(inner, peer, &format!("bad frame: {bad}"));
                return;
            }
        }
    }
}
