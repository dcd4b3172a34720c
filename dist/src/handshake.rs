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
//! - a connection to it is up: from a new creation (the node restarted),
//!   the new connection replaces the old once its handshake completes,
//!   and the old one's links and monitors fire `noconnection`; from the
//!   same creation we answer `alive` and the peer says whether it still
//!   wants this connect: `true` when it has no connection to us (it closed
//!   ours, or lost it to a cut network we have not noticed), and the new
//!   one replaces the old as above; `false` when its side kept another
//!   (a connect that lost a simultaneous race), and the new one is
//!   dropped with nothing fired;
//! - another incoming handshake from it is under way: `nok`.
//!
//! erl_dist's accepting side sends `alive` and goes on without reading
//! the answer, so that exchange is made here on the socket itself and
//! erl_dist's own status message is then held back ([`Recorded`]).
//! erl_dist also hides the peer's creation until the handshake is over;
//! it is read here from the name message's bytes (`N`, protocol 6,
//! carries it). As the connecting side we answer a node's `alive`
//! ourselves (erl_dist's client never flushes its answer).

use std::cell::Cell;
use std::io::{Read, Write};
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
/// reads (the peer's name message) to find the peer's creation in, and
/// can hold back erl_dist's `ok` status once we answered `alive` and
/// read the peer's `true` ourselves.
struct Recorded {
    stream: Blocking,
    seen: Vec<u8>,
    /// The creation, once the name message's head was read (shared: the
    /// handshake owns the recorder until it ends).
    creation: Rc<Cell<Option<u32>>>,
    /// How many bytes of [`OK_STATUS`] are still to be held back.
    hold_back: Rc<Cell<usize>>,
}

/// Length (2), tag `N` (1), flags (8), creation (4).
const NAME_HEAD: usize = 15;

/// The status message erl_dist writes for `ok`: length, tag `s`, `ok`.
const OK_STATUS: &[u8] = b"\0\x03sok";

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
        let this = self.get_mut();
        let left = this.hold_back.get();
        if left > 0 {
            // The peer already had its status (`alive`, which it answered
            // `true`): erl_dist's `ok` is not for the wire.
            let due = &OK_STATUS[OK_STATUS.len() - left..];
            let n = left.min(buf.len());
            if buf[..n] != due[..n] {
                let wrong =
                    std::io::Error::other("the handshake wrote something other than its status");
                return Poll::Ready(Err(wrong));
            }
            this.hold_back.set(left - n);
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
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
    /// `old`, which the peer (restarted) gave up.
    Replace { old: Arc<Peer> },
    /// Answer `alive`: `old` is up and the peer is the same incarnation;
    /// if it still wants this connect, it replaces `old`.
    AskAlive { old: Arc<Peer> },
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
        State::Up { creation: up, .. } => {
            let restarted = creation.is_some() && up.is_some() && creation != *up;
            drop(state);
            if restarted {
                Settled::Replace { old: existing }
            } else {
                Settled::AskAlive { old: existing }
            }
        }
    }
}

/// Answers `alive` on `stream` (the peer is connected to us already) and
/// reads whether the peer still wants this connect. erl_dist's accepting
/// side cannot read that answer, so the exchange is made here.
fn ask_alive(stream: &TcpStream) -> std::io::Result<bool> {
    let mut stream = stream;
    stream.write_all(b"\0\x06salive")?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let len = usize::from(u16::from_be_bytes(len));
    if len > 16 {
        return Err(std::io::Error::other(format!(
            "a {len}-byte answer to alive"
        )));
    }
    let mut answer = vec![0u8; len];
    stream.read_exact(&mut answer)?;
    match answer.as_slice() {
        b"strue" => Ok(true),
        b"sfalse" => Ok(false),
        other => Err(std::io::Error::other(format!(
            "{:?} in answer to alive",
            String::from_utf8_lossy(other)
        ))),
    }
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
    let Ok(status_stream) = stream.try_clone() else {
        return;
    };
    let creation = Rc::new(Cell::new(None));
    let hold_back = Rc::new(Cell::new(0));
    let recorded = Recorded {
        stream: Blocking(stream),
        seen: Vec::with_capacity(NAME_HEAD),
        creation: creation.clone(),
        hold_back: hold_back.clone(),
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
        Settled::AskAlive { old } => match ask_alive(&status_stream) {
            Ok(true) => {
                hold_back.set(OK_STATUS.len());
                (HandshakeStatus::Ok, None, Some(old))
            }
            Ok(false) => {
                tracing::debug!(node = %inner.name, peer = %name, "a duplicate connect, given up by the peer");
                return;
            }
            Err(e) => return refused(inner, &name, &format!("alive: {e}")),
        },
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
