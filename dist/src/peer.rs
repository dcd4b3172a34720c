//! Connections to other nodes: accepting, connecting on first use, the
//! cookie handshake, and one reader and one writer thread per connection.
//!
//! A [`Peer`] is one connection's life: created when first needed (by a
//! send, or by an incoming handshake), up once a handshake completes, and
//! down for good when the socket fails; the next use makes a new `Peer`.
//! Simultaneous connects are settled as Erlang does: the node whose name
//! is greater keeps its own attempt (the other side answers `nok`).

use std::collections::HashMap;
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use erl_dist::handshake::{ClientSideHandshake, HandshakeStatus, ServerSideHandshake};
use erl_dist::message::Message;
use erl_dist::term::{Pid, Reference};
use erl_dist::LOWEST_DISTRIBUTION_PROTOCOL_VERSION;
use ferrotp::ActorRef;
use parking_lot::{Condvar, Mutex};

use crate::blocking::{run, Blocking};
use crate::node::{NodeInner, Target};
use crate::outgoing::Outgoing;
use crate::reader::{self, ReadState};
use crate::remote::RemoteDown;
use crate::{epmd, reason};

enum State {
    Connecting,
    Up(TcpStream),
    Down,
}

/// One connection to one other node.
pub(crate) struct Peer {
    pub name: String,
    /// What is written to the connection, and by whom.
    out: Outgoing,
    state: Mutex<State>,
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
    fn new(name: &str) -> Arc<Self> {
        Arc::new(Peer {
            name: name.to_string(),
            out: Outgoing::default(),
            state: Mutex::new(State::Connecting),
            changed: Condvar::new(),
            monitors: Mutex::default(),
            last_sender: Mutex::default(),
            reading: Mutex::default(),
            #[cfg(target_os = "linux")]
            conn: std::sync::OnceLock::new(),
        })
    }

    pub fn is_up(&self) -> bool {
        matches!(*self.state.lock(), State::Up(_))
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
            if let State::Up(stream) = &*self.state.lock() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    pub fn wait_up(&self, deadline: Instant) -> bool {
        let mut state = self.state.lock();
        loop {
            match *state {
                State::Up(_) => return true,
                State::Down => return false,
                State::Connecting => {
                    if self.changed.wait_until(&mut state, deadline).timed_out() {
                        return matches!(*state, State::Up(_));
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
            return peer.clone();
        }
        let peer = Peer::new(node);
        peers.insert(node.to_string(), peer.clone());
        drop(peers);
        if let Some(inner) = self.arc() {
            let connecting = peer.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("ferrotp-dist-connect-{node}"))
                .spawn(move || connect(&inner, &connecting));
            if spawned.is_err() {
                lost(self, &peer, "cannot start a thread");
            }
        }
        peer
    }
}

/// Accepts connections on `listener` until the node stops.
pub(crate) fn accept(inner: Arc<NodeInner>, listener: TcpListener) {
    let spawned = std::thread::Builder::new()
        .name(format!("ferrotp-dist-accept-{}", inner.name))
        .spawn(move || {
            for stream in listener.incoming() {
                if inner.stopped.load(Ordering::Acquire) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let inner = inner.clone();
                let _ = std::thread::Builder::new()
                    .name("ferrotp-dist-handshake".into())
                    .spawn(move || accept_one(&inner, stream));
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the accept thread");
    }
}

fn refused(inner: &NodeInner, peer: &str, why: &str) {
    inner
        .counters
        .refused_handshakes
        .fetch_add(1, Ordering::Relaxed);
    tracing::warn!(node = %inner.name, peer, why, "handshake refused");
}

fn accept_one(inner: &NodeInner, stream: TcpStream) {
    let timeout = Some(inner.config.handshake_timeout);
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut handshake =
            ServerSideHandshake::new(Blocking(stream), inner.local.clone(), &inner.cookie);
        let name = match run(handshake.execute_recv_name()) {
            Ok(Some(name)) => name.to_string(),
            Ok(None) => {
                let _ = run(handshake.execute_rest(HandshakeStatus::NotAllowed));
                return Err(("?".to_string(), "dynamic node names are not served".into()));
            }
            Err(e) => return Err(("?".to_string(), e.to_string())),
        };
        // Settle a simultaneous connect before going on.
        let existing = inner.peers.lock().get(&name).cloned();
        let connecting = existing
            .as_ref()
            .is_some_and(|p| matches!(*p.state.lock(), State::Connecting));
        if connecting && inner.name > name {
            let _ = run(handshake.execute_rest(HandshakeStatus::Nok));
            return Ok(None);
        }
        match run(handshake.execute_rest(HandshakeStatus::Ok)) {
            Ok((Blocking(stream), peer)) if peer.name.to_string() == name => {
                Ok(Some((name, stream, existing.filter(|_| connecting))))
            }
            Ok((_, peer)) => Err((name, format!("the peer changed its name to {}", peer.name))),
            Err(e) => Err((name, e.to_string())),
        }
    }));
    match outcome {
        Ok(Ok(Some((name, stream, connecting)))) => {
            let peer = match connecting {
                Some(peer) => peer,
                None => {
                    // A new connection from a node we were connected to
                    // means it lost the old one (it restarted): replace it.
                    let fresh = Peer::new(&name);
                    let old = inner.peers.lock().insert(name.clone(), fresh.clone());
                    if let Some(old) = old {
                        lost(inner, &old, "replaced by a new connection from the peer");
                        inner.peers.lock().insert(name.clone(), fresh.clone());
                    }
                    fresh
                }
            };
            attach(inner, &peer, stream);
        }
        Ok(Ok(None)) => {}
        Ok(Err((peer, why))) => refused(inner, &peer, &why),
        Err(_) => refused(inner, "?", "the handshake code panicked"),
    }
}

fn resolve(host: &str, port: u16) -> Result<TcpStream, String> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("no address for {host}");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = format!("connect {addr}: {e}"),
        }
    }
    Err(last)
}

/// Opens the connection to `peer`, or marks it lost.
fn connect(inner: &NodeInner, peer: &Arc<Peer>) {
    let attempt = || -> Result<Option<TcpStream>, String> {
        let (alive, host) = peer
            .name
            .split_once('@')
            .ok_or_else(|| format!("bad node name {:?}", peer.name))?;
        let port = epmd::lookup(host, inner.config.epmd_port_from_env(), alive)?;
        let stream = resolve(host, port)?;
        let timeout = Some(inner.config.handshake_timeout);
        stream
            .set_read_timeout(timeout)
            .and_then(|_| stream.set_write_timeout(timeout))
            .and_then(|_| stream.set_nodelay(true))
            .map_err(|e| e.to_string())?;
        let mut handshake =
            ClientSideHandshake::new(Blocking(stream), inner.local.clone(), &inner.cookie);
        let status = run(handshake.execute_send_name(LOWEST_DISTRIBUTION_PROTOCOL_VERSION))
            .map_err(|e| e.to_string())?;
        if status == HandshakeStatus::Nok {
            // The peer connects to us meanwhile and keeps its own attempt.
            return Ok(None);
        }
        let (Blocking(stream), node) =
            run(handshake.execute_rest(true)).map_err(|e| e.to_string())?;
        if node.name.to_string() != peer.name {
            return Err(format!("{} answered as {}", peer.name, node.name));
        }
        Ok(Some(stream))
    };
    match catch_unwind(AssertUnwindSafe(attempt)) {
        Ok(Ok(Some(stream))) => attach(inner, peer, stream),
        Ok(Ok(None)) => {
            if !peer.wait_up(Instant::now() + inner.config.handshake_timeout) {
                lost(inner, peer, "simultaneous connect did not complete");
            }
        }
        Ok(Err(why)) => {
            refused(inner, &peer.name, &why);
            lost(inner, peer, &why);
        }
        Err(_) => {
            refused(inner, &peer.name, "the handshake code panicked");
            lost(inner, peer, "the handshake code panicked");
        }
    }
}

/// The handshake is done: start reading and writing on `stream`.
fn attach(inner: &NodeInner, peer: &Arc<Peer>, stream: TcpStream) {
    let (Ok(reading), Ok(kept), Ok(writing)) =
        (stream.try_clone(), stream.try_clone(), stream.try_clone())
    else {
        lost(inner, peer, "cannot clone the socket");
        return;
    };
    {
        let mut state = peer.state.lock();
        if !matches!(*state, State::Connecting) {
            // Another connection won, or the peer was given up: drop this one.
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        *state = State::Up(kept);
        peer.out.up(writing);
    }
    peer.changed.notify_all();
    let Some(me) = inner.arc() else { return };
    inner.counters.connections.fetch_add(1, Ordering::Relaxed);
    tracing::info!(node = %inner.name, peer = %peer.name, "connection up");
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
        return;
    }
    inner.notify_watchers(true, &peer.name, "");
}

/// The connection is gone: close it, forget it, and fire `noconnection`
/// on every monitor (and so every proxy's links) across it.
pub(crate) fn lost(inner: &NodeInner, peer: &Arc<Peer>, why: &str) {
    let was_up = {
        let mut state = peer.state.lock();
        let was = std::mem::replace(&mut *state, State::Down);
        match was {
            State::Down => return,
            State::Up(stream) => {
                let _ = stream.shutdown(Shutdown::Both);
                true
            }
            State::Connecting => false,
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
