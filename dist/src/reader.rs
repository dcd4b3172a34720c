//! A connection's reader: the thread that reads its frames and acts on
//! them, how reading moves to a new thread when an actor's turn holds
//! the reader, and (on Linux) how a thread waiting for a call's reply
//! reads the connection itself.
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
//! the turn runs, the reader's state is left in the peer, and the turn's
//! relief (its handler waits in the runtime or in
//! [`Node::call`](crate::Node::call), or it ran past a millisecond) takes
//! it to a new reader thread. The old thread finds it gone after the turn
//! and ends. Frames are handled by one thread at a time, in order: the
//! new reader starts after the old one delivered everything it read.
//!
//! On Linux the reader is not the only thread that reads: a thread that
//! waits in [`Node::call`](crate::Node::call) for its reply reads the
//! connection itself while it waits ([`read_for_call`]), and the reader
//! thread is not woken meanwhile (see `conn`), so a round trip costs the
//! caller one wake-up, as an Erlang process waiting in `gen:call` costs
//! one, instead of two (the reader's, then the caller's). The received
//! bytes ([`Frames`](crate::frames::Frames)) are under one lock: whoever
//! reads handles every frame in order, other callers' replies and
//! messages to local actors alike, so nothing on the connection waits
//! for the reader thread while a caller reads.

use std::cell::RefCell;
#[cfg(not(target_os = "linux"))]
use std::io::BufReader;
use std::net::TcpStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
#[cfg(target_os = "linux")]
use std::time::Instant;

#[cfg(target_os = "linux")]
use erl_dist::message::Message;

#[cfg(target_os = "linux")]
use crate::calls::Slot;
#[cfg(target_os = "linux")]
use crate::conn::{self, Conn};
use crate::dispatch;
#[cfg(target_os = "linux")]
use crate::frames::Frames;
use crate::node::NodeInner;
use crate::peer::{lost, Peer};
#[cfg(not(target_os = "linux"))]
use crate::wire;
use crate::wire::{Frame, FrameError};

/// What reading a connection needs, passed from one reader thread to the
/// next.
#[cfg(target_os = "linux")]
pub(crate) struct ReadState {
    conn: Arc<Conn>,
}

/// What reading a connection needs, passed from one reader thread to the
/// next.
#[cfg(not(target_os = "linux"))]
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
#[cfg(target_os = "linux")]
pub(crate) fn start(inner: &Arc<NodeInner>, peer: &Arc<Peer>, stream: TcpStream) -> bool {
    let conn = match Conn::new(stream) {
        Ok(conn) => Arc::new(conn),
        Err(e) => {
            tracing::error!(peer = %peer.name, error = %e, "cannot set up reading the connection");
            return false;
        }
    };
    // Callers find it there to read their replies.
    let _ = peer.conn.set(conn.clone());
    spawn(inner, peer, ReadState { conn })
}

/// Starts reading `stream` on a thread of its own; `false` if no thread
/// could be started.
#[cfg(not(target_os = "linux"))]
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

/// Hands `message` to its local destination.
fn deliver(inner: &NodeInner, peer: &Arc<Peer>, message: erl_dist::message::Message) {
    let handled = catch_unwind(AssertUnwindSafe(|| {
        dispatch::handle(inner, Some(peer), message)
    }));
    if handled.is_err() {
        tracing::error!(peer = %peer.name, "handling a control message panicked");
    }
}

/// All that came is read, and a caller waits: `deliver` delivers its
/// request, and the actor it wakes runs here, the reader's state left in
/// the peer meanwhile. The state back, or `None` if a relief took it
/// (another thread reads now).
fn run_turn(
    inner: &Arc<NodeInner>,
    peer: &Arc<Peer>,
    state: ReadState,
    deliver: impl FnOnce(),
) -> Option<ReadState> {
    *peer.reading.lock() = Some(state);
    LENT.with(|l| *l.borrow_mut() = Some((inner.clone(), peer.clone())));
    let relief = {
        let (inner, peer) = (inner.clone(), peer.clone());
        move || relieve(&inner, &peer)
    };
    let handled = catch_unwind(AssertUnwindSafe(|| inner.system.run_woken(deliver, relief)));
    LENT.with(|l| *l.borrow_mut() = None);
    if handled.is_err() {
        tracing::error!(peer = %peer.name, "handling a control message panicked");
    }
    peer.reading.lock().take()
}

#[cfg(not(target_os = "linux"))]
fn read_loop(inner: &Arc<NodeInner>, peer: &Arc<Peer>, mut state: ReadState) {
    loop {
        match wire::read_frame_into(&mut state.reader, inner.config.max_frame, &mut state.body) {
            Ok(Frame::Tick) => {}
            Ok(Frame::Control(message))
                if !state.reader.buffer().is_empty() || !dispatch::is_call(&message) =>
            {
                // More is read already, or nobody waits for an answer:
                // deliver, and read on (the pool runs the actor meanwhile).
                deliver(inner, peer, *message);
            }
            Ok(Frame::Control(message)) => {
                match run_turn(inner, peer, state, || deliver(inner, peer, *message)) {
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

/// What reading the connection gave.
#[cfg(target_os = "linux")]
enum Next {
    Message(Box<Message>),
    /// Nothing more for now.
    Empty,
    /// The connection is lost (closed, or a bad frame: counted).
    Closed,
}

/// The next control message (ticks skipped), read without waiting.
#[cfg(target_os = "linux")]
fn next_message(inner: &NodeInner, peer: &Arc<Peer>, conn: &Conn, frames: &mut Frames) -> Next {
    loop {
        match frames.next(conn.fd(), inner.config.max_frame) {
            Ok(Some(Frame::Tick)) => {}
            Ok(Some(Frame::Control(message))) => return Next::Message(message),
            Ok(None) => return Next::Empty,
            Err(FrameError::Io(e)) => {
                lost(inner, peer, &format!("connection closed: {e}"));
                return Next::Closed;
            }
            Err(bad) => {
                inner.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(node = %inner.name, peer = %peer.name, error = %bad, "bad frame: closing the connection");
                lost(inner, peer, &format!("bad frame: {bad}"));
                return Next::Closed;
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn read_loop(inner: &Arc<NodeInner>, peer: &Arc<Peer>, mut state: ReadState) {
    let conn = state.conn.clone();
    // Silence for four ticks means the peer or the network is gone.
    let silence = inner.config.tick * 4;
    loop {
        if !peer.is_up() {
            return;
        }
        let mut frames = conn.read();
        let call = loop {
            match next_message(inner, peer, &conn, &mut frames) {
                // More is read already, or nobody waits for an answer:
                // deliver, and read on (the pool runs the actor meanwhile).
                Next::Message(message) if frames.buffered() || !dispatch::is_call(&message) => {
                    deliver(inner, peer, *message)
                }
                Next::Message(message) => break Some(message),
                Next::Empty => break None,
                Next::Closed => return,
            }
        };
        if let Some(message) = call {
            // The bytes are let go once the request is delivered: what
            // comes next is handled after it, here or by a caller, while
            // the turn runs.
            let delivered = move || {
                deliver(inner, peer, *message);
                drop(frames);
            };
            match run_turn(inner, peer, state, delivered) {
                Some(back) => state = back,
                // Relieved: another thread reads now.
                None => return,
            }
            // Nothing was left to read before the turn: what came since
            // makes the wait below end at once (no `recv` to find nothing,
            // the usual case on a request's connection).
            frames = conn.read();
        }
        let quiet = frames.last_read().elapsed();
        drop(frames);
        if quiet >= silence {
            lost(
                inner,
                peer,
                "connection closed: nothing came for four ticks",
            );
            return;
        }
        conn.wait(silence - quiet);
        inner
            .counters
            .reader_wakeups
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// The calling thread waits for the reply of a call to `node` (its
/// outcome goes to `slot`) until `deadline`: if no other caller does, it
/// reads the connection itself meanwhile, handling all that comes as the
/// reader would, and returns once its outcome is in (or at `deadline`, or
/// when the connection is lost). If another caller reads, it returns at
/// once, to wait on `slot` for whoever reads its reply.
#[cfg(target_os = "linux")]
pub(crate) fn read_for_call(inner: &NodeInner, node: &str, slot: &Slot, deadline: Instant) {
    let Some(peer) = inner.peers.lock().get(node).cloned() else {
        return;
    };
    let Some(conn) = peer.conn.get() else {
        return;
    };
    if conn::reading() {
        // Called while this thread handles what it read (a function
        // address's function, which must not block): it cannot read, and
        // waits as before for its timeout.
        return;
    }
    conn::with_waker(|waker| {
        let Some(mut lead) = conn.lead() else {
            return;
        };
        'wait: while slot.arm(waker) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            conn.wait_as_caller(waker, left);
            slot.disarm();
            if slot.is_done() {
                // The reader read it (it was reading when this call began).
                break;
            }
            let mut frames = conn.read();
            loop {
                match next_message(inner, &peer, conn, &mut frames) {
                    Next::Message(message) => {
                        deliver(inner, &peer, *message);
                        if slot.is_done() {
                            inner.counters.caller_reads.fetch_add(1, Ordering::Relaxed);
                            // What came after the reply is the reader's.
                            lead.left = frames.buffered();
                            break 'wait;
                        }
                    }
                    Next::Empty => break,
                    Next::Closed => break 'wait,
                }
            }
        }
        slot.disarm();
    });
}
