//! [`NodeStats`]: what a node refused or could not deliver, counted.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::node::Node;

/// Counters of what a node refused or could not deliver (see [`Node::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Connections closed because a peer sent a bad frame (garbage,
    /// oversized, truncated, a malformed term or control message).
    pub bad_frames: u64,
    /// Handshakes that failed (wrong cookie, garbage, timeout, a socket
    /// closed before the peer's name: an Erlang node closes a connect it
    /// gave up for ours in a simultaneous connect).
    pub refused_handshakes: u64,
    /// Connections established (both directions).
    pub connections: u64,
    /// Messages from peers to local pids or names that do not exist.
    pub undeliverable: u64,
    /// Messages to remote processes whose Rust type has no encoder.
    pub unencodable: u64,
    /// Proxies for remote pids held now (see [`NodeConfig::max_proxies`]).
    pub proxies: u64,
    /// Proxies retired because there were more than the bound.
    pub retired_proxies: u64,
    /// Times a connection's reading moved to a new thread because a local
    /// actor's turn, run on the reader's thread, waited or ran long (see
    /// [`System::run_woken`](ferrotp::System::run_woken)).
    pub reader_reliefs: u64,
    /// Replies to [`Node::call`] that the calling thread read from the
    /// connection itself (on Linux, while no other caller reads it),
    /// rather than being woken by the connection's reader thread.
    pub caller_reads: u64,
    /// Times a connection's reader thread woke up to read (on Linux; a
    /// reply a caller read itself woke no reader).
    pub reader_wakeups: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub bad_frames: AtomicU64,
    pub refused_handshakes: AtomicU64,
    pub connections: AtomicU64,
    pub undeliverable: AtomicU64,
    pub unencodable: AtomicU64,
    pub retired_proxies: AtomicU64,
    pub reader_reliefs: AtomicU64,
    pub caller_reads: AtomicU64,
    pub reader_wakeups: AtomicU64,
}

impl Node {
    /// What this node refused or could not deliver so far.
    pub fn stats(&self) -> NodeStats {
        let c = &self.inner.counters;
        NodeStats {
            bad_frames: c.bad_frames.load(Ordering::Relaxed),
            refused_handshakes: c.refused_handshakes.load(Ordering::Relaxed),
            connections: c.connections.load(Ordering::Relaxed),
            undeliverable: c.undeliverable.load(Ordering::Relaxed),
            unencodable: c.unencodable.load(Ordering::Relaxed),
            proxies: self.inner.proxies.lock().pid_proxies() as u64,
            retired_proxies: c.retired_proxies.load(Ordering::Relaxed),
            reader_reliefs: c.reader_reliefs.load(Ordering::Relaxed),
            caller_reads: c.caller_reads.load(Ordering::Relaxed),
            reader_wakeups: c.reader_wakeups.load(Ordering::Relaxed),
        }
    }
}
