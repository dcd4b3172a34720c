//! Connections to other nodes: accepting, connecting on first use, the
//! cookie handshake, and one reader and one writer thread per connection.
//!
//! A [`Peer`] is one connection's life: created when first needed (by a
//! send, or by an incoming handshake), up once a handshake completes, and
//! down for good when the socket fails; the next use makes a new `Peer`.
//! Which handshake a `Peer` takes when both nodes connect at once is
//! settled in `handshake`: a `Peer` that is connecting names the one
//! [`Attempt`] whose result it takes, and any other ends quietly.

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use erl_dist::message::Message;
use erl_dist::term::{Pid, Reference};
use ferrotp::ActorRef;
use parking_lot::{Condvar, Mutex};

use crate::handshake;
use crate::node::{NodeInner, Target};
use crate::outgoing::Outgoing;
use crate::reader::{self, ReadState};
use crate::reason;
use crate::remote::RemoteDown;

/// One handshake with a peer node: a connect of ours (`dialing`) or one
/// the peer made that we accept. A connecting [`Peer`] takes the result
/// of one attempt only; another (a connect of ours overtaken by the
/// peer's, see `handshake::settle`) ends without touching it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Attempt {
    id: u64,
    pub dialing: bool,
}

impl Attempt {
    fn new(dialing: bool) -> Attempt {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Attempt {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            dialing,
        }
    }

    /// A connect of ours.
    pub fn dial() -> Attempt {
        Attempt::new(true)
    }

    /// An incoming handshake.
    pub fn accept() -> Attempt {
        Attempt::new(false)
    }
}

pub(crate) enum State {
    Connecting(Attempt),
    Up {
        stream: TcpStream,
        /// The peer's creation (its incarnation), when its handshake
        /// said it: a new connection from another creation is a
        /// restarted node's; from the same one, the peer is asked
        /// whether it still wants it (`alive`).
        creation: Option<u32>,
    },
    Down,
}

/// One connection to one other node.
pub(crate) struct Peer {
    pub name: String,
    /// Someone here uses this connection (made it, or found it in the
    /// table): an incoming handshake that claimed it and then failed
    /// connects in its place rather than dropping it (see `handshake`).
    pub wanted: AtomicBool,
    /// What is written to the connection, and by whom.
    out: Outgoing,
    pub state: Mutex<State>,
    changed: Condvar,
    /// Monitors local actors hold on processes of this node, by reference.
    monitors: Mutex<HashMap<Reference, (ActorRef, Target)>>,
    /// The sender of the last message the reader delivered, and its proxy
    /// (see `dispatch`).
    pub last_sender: Mutex<Option<(Pid, ActorRef)>>,
    /// The reader's state while its thread runs an actor's turn, for a
    /// relief to take (see `reader`).
    pub reading: Mutex<Option<ReadState>>,
    /// The connection's reading side, which callers read their replies
    /// from too (see `reader`); set once the connection is up.
    #[cfg(target_os = "linux")]
    pub conn: std::sync::OnceLock<Arc<crate::conn::Conn>>,
}

impl Peer {
    /// A connection to `name` being made by `attempt`.
    pub fn new(name: &str, attempt: Attempt, wanted: bool) -> Arc<Self> {
        Arc::new(Peer {
            name: name.to_string(),
            wanted: AtomicBool::new(wanted),
            out: Outgoing::default(),
            state: Mutex::new(State::Connecting(attempt)),
            changed: Condvar::new(),
            monitors: Mutex::default(),
            last_sender: Mutex::default(),
            reading: Mutex::default(),
            #[cfg(target_os = "linux")]
            conn: std::sync::OnceLock::new(),
        })
    }

    pub fn is_up(&self) -> bool {
        matches!(*self.state.lock(), State::Up { .. })
    }

    /// Whether `attempt` is the handshake this peer takes the result of.
    pub fn awaits(&self, attempt: Attempt) -> bool {
        matches!(*self.state.lock(), State::Connecting(a) if a == attempt)
    }

    /// Writes `message` now, on this thread (or queues it: see
    /// `outgoing`); before the connection is up it waits for it, and it is
    /// dropped if the connection never comes up, as Erlang drops sends to a
    /// node it cannot reach.
    pub fn send(&self, message: Message) {
        self.send_all([message]);
    }

    /// Sends `message` with the connection's next write, or within
    /// `outgoing::LATER`: for what nobody waits for.
    pub fn send_later(&self, message: Message) {
        self.out.send_later(message);
    }

    /// Sends `messages` in order, in one write when they can go now.
    pub fn send_all(&self, messages: impl IntoIterator<Item = Message>) {
        let written = self.out.send(messages);
        self.check(written);
    }

    /// Sends a plain message: as [`send`](Self::send), but one that
    /// follows another closely goes with the writer thread's next batch
    /// (see `outgoing`).
    pub fn send_message(&self, message: Message) {
        let written = self.out.send_message(message);
        self.check(written);
    }

    fn check(&self, written: std::io::Result<()>) {
        if let Err(e) = written {
            // The reader sees the closed socket and declares the
            // connection lost (and fires what depends on it).
            tracing::debug!(peer = %self.name, error = %e, "write failed: closing");
            if let State::Up { stream, .. } = &*self.state.lock() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    pub fn wait_up(&self, deadline: Instant) -> bool {
        let mut state = self.state.lock();
        loop {
            match *state {
                State::Up { .. } => return true,
                State::Down => return false,
                State::Connecting(_) => {
                    if self.changed.wait_until(&mut state, deadline).timed_out() {
                        return matches!(*state, State::Up { .. });
                    }
                }
            }
        }
    }

    pub fn watch(&self, reference: Reference, watcher: ActorRef, target: Target) {
        let lost = matches!(*self.state.lock(), State::Down);
        if lost {
            watcher.send(RemoteDown {
                reference,
                reason: reason::noconnection(),
            });
            return;
        }
        self.monitors.lock().insert(reference, (watcher, target));
    }

    pub fn unwatch(&self, reference: &Reference) -> Option<(ActorRef, Target)> {
        self.monitors.lock().remove(reference)
    }
}

impl NodeInner {
    /// The connection to `node`, opened in the background on first use.
    pub fn peer(&self, node: &str) -> Arc<Peer> {
        let mut peers = self.peers.lock();
        if let Some(peer) = peers.get(node) {
            // Read first: the flag is written once, not on every send.
            if !peer.wanted.load(Ordering::Relaxed) {
                peer.wanted.store(true, Ordering::Relaxed);
            }
            return peer.clone();
        }
        let attempt = Attempt::dial();
        let peer = Peer::new(node, attempt, true);
        peers.insert(node.to_string(), peer.clone());
        drop(peers);
        self.dial(&peer, attempt);
        peer
    }

    /// Starts `attempt`, a connect of ours, on a thread of its own.
    pub fn dial(&self, peer: &Arc<Peer>, attempt: Attempt) {
        let Some(inner) = self.arc() else { return };
        let connecting = peer.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("ferrotp-dist-connect-{}", peer.name))
            .spawn(move || handshake::connect(&inner, &connecting, attempt));
        if spawned.is_err() {
            give_up(self, peer, attempt, "cannot start a thread");
        }
    }
}

/// The handshake `attempt` is done: start reading and writing on
/// `stream`, unless `peer` no longer takes that attempt's result.
pub(crate) fn attach(
    inner: &NodeInner,
    peer: &Arc<Peer>,
    attempt: Attempt,
    stream: TcpStream,
    creation: Option<u32>,
) {
    let (Ok(reading), Ok(kept), Ok(writing)) =
        (stream.try_clone(), stream.try_clone(), stream.try_clone())
    else {
        give_up(inner, peer, attempt, "cannot clone the socket");
        return;
    };
    {
        let mut state = peer.state.lock();
        if !matches!(*state, State::Connecting(a) if a == attempt) {
            // Another attempt took the peer, or it was given up: with
            // both sides settling as `handshake::settle` does, the other
            // side did not take this connection either.
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        *state = State::Up {
            stream: kept,
            creation,
        };
        peer.out.up(writing);
    }
    peer.changed.notify_all();
    let Some(me) = inner.arc() else { return };
    inner.counters.connections.fetch_add(1, Ordering::Relaxed);
    tracing::info!(node = %inner.name, peer = %peer.name, "connection up");
    // Watchers hear `NodeUp` before the reader starts: as in Erlang, it
    // comes before any message from the peer through this connection (and
    // before the `NodeDown` of its loss). Told after, a message read at
    // once could be delivered first (stress_simultaneous saw it).
    inner.notify_watchers(true, &peer.name, "");
    let reader = reader::start(&me, peer, reading);
    let writer_peer = peer.clone();
    let writer = std::thread::Builder::new()
        .name(format!("ferrotp-dist-write-{}", peer.name))
        .spawn(move || {
            if let Err(e) = writer_peer.out.writer_loop(me.config.tick) {
                lost(&me, &writer_peer, &format!("write failed: {e}"));
            }
            drop(stream);
        });
    if !reader || writer.is_err() {
        lost(inner, peer, "cannot start the connection's threads");
    }
}

/// The connection is gone: close it, forget it, and fire `noconnection`
/// on every monitor (and so every proxy's links) across it.
pub(crate) fn lost(inner: &NodeInner, peer: &Arc<Peer>, why: &str) {
    end(inner, peer, None, why);
}

/// The handshake `attempt` failed: the connection is lost, if `peer`
/// still waited for that attempt (another may have taken it over).
pub(crate) fn give_up(inner: &NodeInner, peer: &Arc<Peer>, attempt: Attempt, why: &str) {
    end(inner, peer, Some(attempt), why);
}

fn end(inner: &NodeInner, peer: &Arc<Peer>, attempt: Option<Attempt>, why: &str) {
    let was_up = {
        let mut state = peer.state.lock();
        if let Some(attempt) = attempt {
            if !matches!(*state, State::Connecting(a) if a == attempt) {
                return;
            }
        }
        let was = std::mem::replace(&mut *state, State::Down);
        match was {
            State::Down => return,
            State::Up { stream, .. } => {
                let _ = stream.shutdown(Shutdown::Both);
                true
            }
            State::Connecting(_) => false,
        }
    };
    peer.changed.notify_all();
    peer.out.close();
    // The reader thread may be waiting while a caller reads: it ends now.
    #[cfg(target_os = "linux")]
    if let Some(conn) = peer.conn.get() {
        conn.wake_reader();
    }
    {
        let mut peers = inner.peers.lock();
        if peers.get(&peer.name).is_some_and(|p| Arc::ptr_eq(p, peer)) {
            peers.remove(&peer.name);
        }
    }
    inner.watches.node_down(&peer.name);
    inner.calls.node_down(&peer.name, &reason::noconnection());
    let monitors = std::mem::take(&mut *peer.monitors.lock());
    for (reference, (watcher, _)) in monitors {
        watcher.send(RemoteDown {
            reference,
            reason: reason::noconnection(),
        });
    }
    if was_up {
        tracing::info!(node = %inner.name, peer = %peer.name, why, "connection down");
        inner.notify_watchers(false, &peer.name, why);
    } else {
        tracing::debug!(node = %inner.name, peer = %peer.name, why, "connection failed");
    }
}
