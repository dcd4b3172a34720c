//! The cookie handshake both ways, and which connection two nodes keep
//! when both connect at once.
//!
//! Each node connects on first use, so two nodes that reach each other at
//! the same moment each start a handshake. Both must end with the same
//! one connection: a second one taken for a restarted peer fires
//! `noconnection` on everything tied to the first, and what was queued
//! on a connection given up is lost. The rule (Erlang's, in `dist_util`
//! and `net_kernel`), applied by the accepting side before it answers the
//! peer's name (see [`settle`]):
//!
//! - nothing to that node here: the incoming handshake claims the table's
//!   entry at once, in the same lock as the look, so a local send from
//!   now on waits for this connection instead of starting a second one;
//! - our own connect to it is under way: the node with the greater name
//!   keeps its connect (`nok` to the other); the smaller answers
//!   `ok_simultaneous` and takes the incoming handshake in place of its
//!   own, whose result (the peer answers it `nok`) is then ignored — the
//!   entry, and what was queued on it, stays the same;
//! - a connection to it is up: from the same creation, and the old
//!   socket not closed by the peer, the new one is a duplicate (`nok`);
//!   from a new creation (the node restarted), or after the peer closed
//!   the old one, the new connection replaces the old once its handshake
//!   completes, and the old one's links and monitors fire `noconnection`;
//! - another incoming handshake from it is under way: `nok`.
//!
//! Erlang answers the `up` case with an `alive` exchange instead (the
//! connecting side says whether it still wants the connection). erl_dist
//! cannot do that as the accepting side (it sends `alive` and goes on
//! without reading the answer), and hides the peer's creation until the
//! handshake is over; the creation is read here from the name message's
//! bytes (`N`, protocol 6, carries it). As the connecting side we answer
//! an Erlang node's `alive` ourselves (erl_dist's client never flushes
//! its answer).

use std::cell::Cell;
use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use erl_dist::handshake::{ClientSideHandshake, HandshakeStatus, ServerSideHandshake};
use erl_dist::LOWEST_DISTRIBUTION_PROTOCOL_VERSION;
use futures::io::{AsyncRead, AsyncWrite};

use crate::blocking::{run, Blocking};
use crate::epmd;
use crate::node::NodeInner;
use crate::peer::{attach, give_up, lost, Attempt, Peer, State};

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

/// The stream of an incoming handshake, which keeps the first bytes it
/// reads (the peer's name message) to find the peer's creation in.
struct Recorded {
    stream: Blocking,
    seen: Vec<u8>,
    /// The creation, once the name message's head was read (shared: the
    /// handshake owns the recorder until it ends).
    creation: Rc<Cell<Option<u32>>>,
}

/// Length (2), tag `N` (1), flags (8), creation (4).
const NAME_HEAD: usize = 15;

impl Recorded {
    fn keep(&mut self, read: &[u8]) {
        let room = NAME_HEAD.saturating_sub(self.seen.len()).min(read.len());
        if room == 0 {
            return;
        }
        self.seen.extend_from_slice(&read[..room]);
        // Protocol 6's `N` carries the creation; the older `n` does not.
        if let Some(head) = self.seen.get(..NAME_HEAD) {
            if head[2] == b'N' {
                let creation = u32::from_be_bytes([head[11], head[12], head[13], head[14]]);
                self.creation.set(Some(creation));
            }
        }
    }
}

impl AsyncRead for Recorded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = read {
            this.keep(&buf[..n]);
        }
        read
    }
}

impl AsyncWrite for Recorded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_close(cx)
    }
}

/// What an incoming handshake does, decided before it answers.
enum Settled {
    /// Answer `nok`: the connection to that node that is up, or being
    /// made, is the one both sides keep.
    Refuse(&'static str),
    /// Go on; `peer` (in the table) takes the result of `attempt`.
    Claim {
        peer: Arc<Peer>,
        attempt: Attempt,
        status: HandshakeStatus,
    },
    /// Go on; once the handshake completes, a new connection replaces
    /// `old`, which the peer (restarted, or having closed it) gave up.
    Replace { old: Arc<Peer> },
}

/// Decides what an incoming handshake from `name` (of creation
/// `creation`, when known) does: the look at the table and the claim on
/// it are one step under its lock, so a local send cannot start a
/// second connection in between. See the module's rules.
fn settle(inner: &NodeInner, name: &str, creation: Option<u32>) -> Settled {
    let mut peers = inner.peers.lock();
    let claim_fresh = |peers: &mut std::collections::HashMap<String, Arc<Peer>>| {
        let attempt = Attempt::accept();
        let peer = Peer::new(name, attempt, false);
        peers.insert(name.to_string(), peer.clone());
        Settled::Claim {
            peer,
            attempt,
            status: HandshakeStatus::Ok,
        }
    };
    let Some(existing) = peers.get(name).cloned() else {
        return claim_fresh(&mut peers);
    };
    let mut state = existing.state.lock();
    match &*state {
        // Being removed from the table.
        State::Down => {
            drop(state);
            claim_fresh(&mut peers)
        }
        State::Connecting(ours) if ours.dialing => {
            if inner.name.as_str() > name {
                return Settled::Refuse("simultaneous connect: ours is kept");
            }
            // Ours is answered `nok` by the peer (or, if it got further,
            // ignored): the entry takes this handshake instead.
            let attempt = Attempt::accept();
            *state = State::Connecting(attempt);
            drop(state);
            Settled::Claim {
                peer: existing,
                attempt,
                status: HandshakeStatus::OkSimultaneous,
            }
        }
        State::Connecting(_) => Settled::Refuse("another handshake from it is under way"),
        State::Up {
            stream,
            creation: up,
        } => {
            if creation.is_some() && creation == *up && !closed_by_peer(stream) {
                return Settled::Refuse("a connection to it is up");
            }
            drop(state);
            Settled::Replace { old: existing }
        }
    }
}

/// Whether the peer closed (or reset) `stream`: it gave that connection
/// up, though our reader may not have seen it yet.
#[cfg(target_os = "linux")]
fn closed_by_peer(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: `fd` is one live, writable pollfd and 1 its count; the
    // socket is open while `stream` lives; a zero timeout never blocks.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n > 0 && fd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

#[cfg(not(target_os = "linux"))]
fn closed_by_peer(_stream: &TcpStream) -> bool {
    false
}

/// An incoming handshake that answered `ok` and then failed: the entry
/// it claimed is dropped, or, if something here uses it meanwhile,
/// connected by us instead.
fn release(inner: &NodeInner, peer: &Arc<Peer>, attempt: Attempt, why: &str) {
    let redial = {
        // Under the table's lock, which `peer()` holds as it marks an
        // entry wanted: it either is seen here, or finds the entry gone
        // and connects afresh.
        let mut peers = inner.peers.lock();
        let mut state = peer.state.lock();
        if !matches!(*state, State::Connecting(a) if a == attempt) {
            return;
        }
        if peer.wanted.load(Ordering::Relaxed) {
            let dial = Attempt::dial();
            *state = State::Connecting(dial);
            Some(dial)
        } else {
            if peers.get(&peer.name).is_some_and(|p| Arc::ptr_eq(p, peer)) {
                peers.remove(&peer.name);
            }
            None
        }
    };
    match redial {
        Some(dial) => inner.dial(peer, dial),
        None => give_up(inner, peer, attempt, why),
    }
}

/// After `old`'s replacement completed its handshake: `old` is lost, and
/// the table's entry for the node takes the new connection — a fresh
/// one, or the connect a local send started meanwhile. `None` if another
/// incoming handshake got there first.
fn replace(inner: &NodeInner, old: &Arc<Peer>) -> Option<(Arc<Peer>, Attempt)> {
    lost(inner, old, "replaced by a new connection from the peer");
    let mut peers = inner.peers.lock();
    let attempt = Attempt::accept();
    if let Some(existing) = peers.get(&old.name).cloned() {
        let mut state = existing.state.lock();
        return match &*state {
            State::Connecting(ours) if ours.dialing => {
                *state = State::Connecting(attempt);
                drop(state);
                Some((existing, attempt))
            }
            _ => None,
        };
    }
    let peer = Peer::new(&old.name, attempt, false);
    peers.insert(old.name.clone(), peer.clone());
    Some((peer, attempt))
}

fn accept_one(inner: &NodeInner, stream: TcpStream) {
    let timeout = Some(inner.config.handshake_timeout);
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    let creation = Rc::new(Cell::new(None));
    let recorded = Recorded {
        stream: Blocking(stream),
        seen: Vec::with_capacity(NAME_HEAD),
        creation: creation.clone(),
    };
    let mut handshake = ServerSideHandshake::new(recorded, inner.local.clone(), &inner.cookie);
    let name = match catch_unwind(AssertUnwindSafe(|| run(handshake.execute_recv_name()))) {
        Ok(Ok(Some(name))) => name.to_string(),
        Ok(Ok(None)) => {
            let _ = run(handshake.execute_rest(HandshakeStatus::NotAllowed));
            return refused(inner, "?", "dynamic node names are not served");
        }
        Ok(Err(e)) => return refused(inner, "?", &e.to_string()),
        Err(_) => return refused(inner, "?", "the handshake code panicked"),
    };
    let (status, claimed, old) = match settle(inner, &name, creation.get()) {
        Settled::Refuse(why) => {
            tracing::debug!(node = %inner.name, peer = %name, why, "answered nok");
            let _ = run(handshake.execute_rest(HandshakeStatus::Nok));
            return;
        }
        Settled::Claim {
            peer,
            attempt,
            status,
        } => (status, Some((peer, attempt)), None),
        Settled::Replace { old } => (HandshakeStatus::Ok, None, Some(old)),
    };
    let completed = catch_unwind(AssertUnwindSafe(|| {
        match run(handshake.execute_rest(status)) {
            Ok((recorded, node)) if node.name.to_string() == name => {
                Ok((recorded.stream.0, node.creation.map(|c| c.get())))
            }
            Ok((_, node)) => Err(format!("the peer changed its name to {}", node.name)),
            Err(e) => Err(e.to_string()),
        }
    }))
    .unwrap_or_else(|_| Err("the handshake code panicked".into()));
    match completed {
        Ok((stream, creation)) => {
            let taker = match (claimed, old) {
                (Some(claimed), _) => Some(claimed),
                (None, Some(old)) => replace(inner, &old),
                (None, None) => None,
            };
            match taker {
                Some((peer, attempt)) => attach(inner, &peer, attempt, stream, creation),
                None => {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            }
        }
        Err(why) => {
            refused(inner, &name, &why);
            if let Some((peer, attempt)) = claimed {
                release(inner, &peer, attempt, &why);
            }
        }
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

/// How a connect of ours ended.
enum Dialed {
    Up(TcpStream, Option<u32>),
    /// The peer answered `nok`: its own connect to us is the one kept.
    Nok,
    /// Another attempt took the entry (or it was given up): the connect
    /// stopped before its name was sent, or told the peer so (`alive`
    /// answered `false`).
    Dropped,
}

/// Answers an Erlang node's `alive` (it has a connection to us up):
/// `true` if this connect is still the one the entry waits for (so we
/// have no connection: the peer's is stale), else `false`. erl_dist
/// writes this answer without sending it, so it is written here.
fn answer_alive(stream: &TcpStream, still_wanted: bool) -> std::io::Result<()> {
    let text: &[u8] = if still_wanted { b"true" } else { b"false" };
    let mut frame = Vec::with_capacity(3 + text.len());
    frame.extend((1 + text.len() as u16).to_be_bytes());
    frame.push(b's');
    frame.extend_from_slice(text);
    (&*stream).write_all(&frame)
}

fn dial(inner: &NodeInner, peer: &Peer, attempt: Attempt) -> Result<Dialed, String> {
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
    if !peer.awaits(attempt) {
        // Overtaken (or given up) while it looked up and connected: the
        // peer need not hear of it.
        return Ok(Dialed::Dropped);
    }
    let answers = stream.try_clone().map_err(|e| e.to_string())?;
    let mut handshake =
        ClientSideHandshake::new(Blocking(stream), inner.local.clone(), &inner.cookie);
    let status = run(handshake.execute_send_name(LOWEST_DISTRIBUTION_PROTOCOL_VERSION))
        .map_err(|e| e.to_string())?;
    let go_on = match status {
        HandshakeStatus::Nok => return Ok(Dialed::Nok),
        HandshakeStatus::Alive => {
            let wanted = peer.awaits(attempt);
            answer_alive(&answers, wanted).map_err(|e| e.to_string())?;
            if !wanted {
                return Ok(Dialed::Dropped);
            }
            true
        }
        _ => true,
    };
    let (Blocking(stream), node) = run(handshake.execute_rest(go_on)).map_err(|e| e.to_string())?;
    if node.name.to_string() != peer.name {
        return Err(format!("{} answered as {}", peer.name, node.name));
    }
    Ok(Dialed::Up(stream, node.creation.map(|c| c.get())))
}

/// Makes `attempt`, a connect of ours to `peer`; its end matters only
/// while the peer still waits for it (see [`settle`]).
pub(crate) fn connect(inner: &NodeInner, peer: &Arc<Peer>, attempt: Attempt) {
    match catch_unwind(AssertUnwindSafe(|| dial(inner, peer, attempt))) {
        Ok(Ok(Dialed::Up(stream, creation))) => attach(inner, peer, attempt, stream, creation),
        Ok(Ok(Dialed::Nok)) => {
            // The peer keeps its own connect to us, which our accept
            // takes into this entry when it comes.
            if peer.awaits(attempt)
                && !peer.wait_up(Instant::now() + inner.config.handshake_timeout)
            {
                give_up(
                    inner,
                    peer,
                    attempt,
                    "simultaneous connect did not complete",
                );
            }
        }
        Ok(Ok(Dialed::Dropped)) => {}
        Ok(Err(why)) if peer.awaits(attempt) => {
            refused(inner, &peer.name, &why);
            give_up(inner, peer, attempt, &why);
        }
        Ok(Err(why)) => {
            tracing::debug!(node = %inner.name, peer = %peer.name, why, "a connect overtaken by the peer's ended");
        }
        Err(_) => {
            refused(inner, &peer.name, "the handshake code panicked");
            give_up(inner, peer, attempt, "the handshake code panicked");
        }
    }
}
