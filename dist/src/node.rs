//! [`Node`]: a ferrotp system as a node of an Erlang cluster.

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use erl_dist::message::Message;
use erl_dist::node::{LocalNode, NodeName};
use erl_dist::term::{Atom, Pid, Reference, Term};
use erl_dist::DistributionFlags;
use ferrotp::{ActorId, ActorRef, Inbox, SpawnOptions, System};
use parking_lot::Mutex;

use crate::actors::Kernel;
use crate::calls::Calls;
use crate::codec::{Codec, FromTerm, IntoTerm};
use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::peer::Peer;
use crate::proxies::Proxies;
pub(crate) use crate::proxies::Target;
use crate::types::{Key, Types};
use crate::watches::Watches;
use crate::{epmd, peer, watches};

/// Counters of what a node refused or could not deliver (see [`Node::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Connections closed because a peer sent a bad frame (garbage,
    /// oversized, truncated, a malformed term or control message).
    pub bad_frames: u64,
    /// Handshakes that failed (wrong cookie, garbage, timeout).
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
}

#[derive(Default)]
pub(crate) struct Counters {
    pub bad_frames: AtomicU64,
    pub refused_handshakes: AtomicU64,
    pub connections: AtomicU64,
    pub undeliverable: AtomicU64,
    pub unencodable: AtomicU64,
    pub retired_proxies: AtomicU64,
}

pub(crate) struct NodeInner {
    me: Weak<NodeInner>,
    /// Does not own the system: a node never keeps its system alive.
    pub system: System,
    pub name: String,
    pub atom: Atom,
    pub creation: u32,
    pub cookie: String,
    pub config: NodeConfig,
    pub local: LocalNode,
    pub port: u16,
    pub peers: Mutex<HashMap<String, Arc<Peer>>>,
    exports: Mutex<HashMap<u64, ActorRef>>,
    pub proxies: Mutex<Proxies>,
    pub types: Types,
    next_ref: AtomicU32,
    pub counters: Counters,
    kernel: OnceLock<ActorRef>,
    epmd: Mutex<Option<TcpStream>>,
    pub stopped: AtomicBool,
    watchers: Mutex<Vec<ActorRef>>,
    /// The calls this node makes, waiting for replies to `endpoint`.
    pub calls: Calls,
    /// Never read: its id is the pid every call of this node replies to.
    endpoint: Inbox,
    /// Monitors remote processes hold on local actors.
    pub watches: Arc<Watches>,
}

/// A node watcher's notice that a connection to `node` is up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeUp {
    /// The peer node's name.
    pub node: String,
}

/// A node watcher's notice that the connection to `node` is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeDown {
    /// The peer node's name.
    pub node: String,
    /// Why, as text (the peer closed, a bad frame, silence past the tick).
    pub reason: String,
}

/// A ferrotp [`System`] as a node of an Erlang cluster.
///
/// Remote processes are ordinary [`ActorRef`]s here (a local address
/// stands for each, whose mail the sending thread writes out), local actors are reachable from Erlang by pid and by
/// registered name, and links and monitors work across nodes. See the
/// crate documentation for an example.
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
}

impl Node {
    /// Starts a node for `system`: listens, registers with EPMD (starting
    /// one if none runs), and registers the `net_kernel` actor that answers
    /// `net_adm:ping`. Connections to other nodes open on first use.
    pub fn start(system: &System, config: NodeConfig) -> Result<Node, NodeError> {
        let (alive, host) = config
            .name
            .split_once('@')
            .filter(|(a, h)| !a.is_empty() && !h.is_empty())
            .ok_or_else(|| NodeError::BadName(config.name.clone()))?;
        let node_name: NodeName = config
            .name
            .parse()
            .map_err(|_| NodeError::BadName(config.name.clone()))?;
        let _ = host;
        let cookie = config.resolve_cookie()?;
        if system.whereis("net_kernel").is_some() {
            return Err(NodeError::AlreadyStarted);
        }
        let listener = TcpListener::bind(config.listen).map_err(|source| NodeError::Listen {
            addr: config.listen,
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| NodeError::Listen {
                addr: config.listen,
                source,
            })?
            .port();
        let (registration, creation) = epmd::register(
            config.epmd_port_from_env(),
            config.spawn_epmd,
            config.listen.ip().is_loopback(),
            alive,
            port,
            config.hidden,
        )?;
        let mut local = LocalNode::new(node_name, creation);
        local.flags |= DistributionFlags::DIST_MONITOR | DistributionFlags::DIST_MONITOR_NAME;
        if !config.hidden {
            local.flags |= DistributionFlags::PUBLISHED;
        }
        let inner = Arc::new_cyclic(|me| NodeInner {
            me: me.clone(),
            system: system.bridge().system().clone(),
            name: config.name.clone(),
            atom: Atom::from(config.name.as_str()),
            creation: creation.get(),
            cookie,
            config,
            local,
            port,
            peers: Mutex::default(),
            exports: Mutex::default(),
            proxies: Mutex::default(),
            types: Types::with_builtins(),
            next_ref: AtomicU32::new(1),
            counters: Counters::default(),
            kernel: OnceLock::new(),
            epmd: Mutex::new(Some(registration)),
            stopped: AtomicBool::new(false),
            watchers: Mutex::default(),
            calls: Calls::default(),
            endpoint: system.inbox(),
            watches: Arc::new(Watches::new(system.inbox())),
        });
        watches::start(Arc::downgrade(&inner), inner.watches.clone());
        let kernel = system
            .spawn_with(
                Kernel::new(inner.clone()),
                SpawnOptions::new().name("net_kernel").await_started(),
            )
            .map_err(|_| NodeError::AlreadyStarted)?;
        let _ = inner.kernel.set(kernel);
        peer::accept(inner.clone(), listener);
        tracing::info!(node = %inner.name, port, creation = creation.get(), "node started");
        Ok(Node { inner })
    }

    /// This node's name (`app@localhost`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The port this node accepts connections on.
    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// The system this node serves.
    pub fn system(&self) -> &System {
        &self.inner.system
    }

    /// The address of the process registered as `name` on `node`: messages
    /// to it go by name (Erlang's `{Name, Node} ! Msg`), so they reach
    /// whichever process holds the name when they arrive, and it stays
    /// valid across restarts there.
    ///
    /// Until a local actor links to or monitors it: from then on it stands
    /// for the process holding the name at that moment (a monitor by name,
    /// as Erlang's `monitor(process, {Name, Node})`), and ends with that
    /// process's reason, or `NoProc` if nobody holds the name; the next
    /// `remote(name, node)` is a fresh address. Erlang links only to pids,
    /// so a link to a name carries the holder's end to the local actor but
    /// not the other way; link to the pid for both ways.
    ///
    /// ```no_run
    /// # use ferrotp::{Down, System};
    /// # use ferrotp_dist::{Node, NodeConfig};
    /// # use std::time::Duration;
    /// # let system = System::new();
    /// # let node = Node::start(&system, NodeConfig::new("app@localhost")).unwrap();
    /// let watcher = system.inbox();
    /// let counter = node.remote("counter", "erl@localhost");
    /// let monitor = watcher.monitor(&counter);
    /// // ... the Erlang process registered as `counter` exits(shutdown):
    /// let down: Down = watcher.recv(Duration::from_secs(5)).unwrap().downcast().unwrap();
    /// assert_eq!(down.monitor, monitor);
    /// ```
    pub fn remote(&self, name: &str, node: &str) -> ActorRef {
        self.inner.proxy(Target::Name {
            name: name.to_string(),
            node: node.to_string(),
        })
    }

    /// The nodes connected now, sorted.
    pub fn nodes(&self) -> Vec<String> {
        let mut nodes: Vec<String> = self
            .inner
            .peers
            .lock()
            .iter()
            .filter(|(_, p)| p.is_up())
            .map(|(n, _)| n.clone())
            .collect();
        nodes.sort();
        nodes
    }

    /// Connects to `node` now (otherwise the first message connects) and
    /// waits up to `timeout`; `true` if the connection is up — Erlang's
    /// `net_kernel:connect_node/1`.
    pub fn connect(&self, node: &str, timeout: Duration) -> bool {
        let peer = self.inner.peer(node);
        peer.wait_up(Instant::now() + timeout)
    }

    /// Delivers terms sent to `actor` as `T` when they decode to it. Several
    /// types may be registered per actor; they are tried in order, and a
    /// term none accepts arrives as the raw [`Term`].
    pub fn accept<T: FromTerm>(&self, actor: &ActorRef) {
        self.inner.types.decoder::<T>(Key::Actor(actor.id()));
        self.inner.export(actor);
    }

    /// Like [`accept`](Self::accept) for whichever actor is registered as
    /// `name`, now or later: a supervisor's restarted child keeps its types.
    pub fn accept_named<T: FromTerm>(&self, name: &str) {
        self.inner.types.decoder::<T>(Key::Name(name.to_string()));
    }

    /// Lets local actors send `T` to remote processes (the usual Rust types
    /// are registered already; see [`codec`](crate::codec)).
    pub fn register_type<T: IntoTerm>(&self) {
        self.inner.types.encoder::<T>();
    }

    /// Sends `message` to `to` as a term, encoded now: no
    /// [`register_type`](Self::register_type) needed. To a local actor it
    /// arrives as the [`Term`].
    pub fn send(&self, to: &ActorRef, message: impl IntoTerm) {
        to.send(self.to_term(message));
    }

    /// The term for `value`, with this node's pids.
    pub fn to_term(&self, value: impl IntoTerm) -> Term {
        value.into_term(&self.inner.codec())
    }

    /// `T` from `term`, with this node's pids.
    pub fn from_term<T: FromTerm>(&self, term: &Term) -> Result<T, crate::DecodeError> {
        T::from_term(term, &self.inner.codec())
    }

    /// Sends [`NodeUp`] and [`NodeDown`] to `watcher` for every connection
    /// that opens or closes from now on (Erlang's `net_kernel:monitor_nodes`).
    pub fn monitor_nodes(&self, watcher: &ActorRef) {
        self.inner.watchers.lock().push(watcher.clone());
    }

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
        }
    }

    /// Stops the node: closes every connection (links and monitors across
    /// them fire with `noconnection`), leaves EPMD, stops accepting, and
    /// stops its `net_kernel` actor and proxies. The system goes on.
    pub fn stop(&self) {
        self.inner.stop();
    }
}

impl NodeInner {
    pub fn codec(&self) -> Codec<'_> {
        Codec { node: self }
    }

    pub fn is_kernel(&self, actor: &ActorRef) -> bool {
        self.kernel.get().is_some_and(|k| k.id() == actor.id())
    }

    pub fn kernel_ref(&self) -> Option<ActorRef> {
        self.kernel.get().cloned()
    }

    /// The pid replies to this node's calls go to.
    pub fn endpoint_pid(&self) -> Pid {
        self.local_pid(self.endpoint.actor().id())
    }

    pub fn kernel_pid(&self) -> Pid {
        match self.kernel.get() {
            Some(kernel) => self.local_pid(kernel.id()),
            None => Pid::new(self.name.as_str(), 0, 0, self.creation),
        }
    }

    /// The pid for a local actor id (ids are 64-bit: low half, high half).
    pub fn local_pid(&self, id: ActorId) -> Pid {
        let id = id.as_u64();
        Pid::new(
            self.name.as_str(),
            id as u32,
            (id >> 32) as u32,
            self.creation,
        )
    }

    /// The local actor id a pid of this node names (`None` for another
    /// node's pid, or one of an earlier incarnation of this node).
    pub fn local_id(&self, pid: &Pid) -> Option<u64> {
        if pid.node.name != self.name || pid.creation != self.creation {
            return None;
        }
        Some(u64::from(pid.serial) << 32 | u64::from(pid.id))
    }

    /// The pid that stands for `actor`: the remote pid of a proxy, else the
    /// actor's own, which is then reachable from other nodes.
    pub fn pid_of(&self, actor: &ActorRef) -> Pid {
        if let Some(Target::Pid(pid)) = self.target_of(actor) {
            return pid;
        }
        self.export(actor);
        self.local_pid(actor.id())
    }

    /// Makes `actor` reachable by pid from other nodes until it ends.
    pub fn export(&self, actor: &ActorRef) {
        let fresh = self
            .exports
            .lock()
            .insert(actor.id().as_u64(), actor.clone())
            .is_none();
        if fresh {
            if let Some(kernel) = self.kernel.get() {
                kernel.send(crate::actors::KernelMsg::Watch(actor.clone()));
            }
        }
    }

    pub fn unexport(&self, id: ActorId) {
        self.exports.lock().remove(&id.as_u64());
        self.types.forget(&Key::Actor(id));
    }

    pub fn local_actor(&self, pid: &Pid) -> Option<ActorRef> {
        let id = self.local_id(pid)?;
        self.exports.lock().get(&id).cloned()
    }

    /// The address for `pid`: the local actor, or a proxy.
    pub fn actor_of(&self, pid: &Pid) -> Option<ActorRef> {
        if pid.node.name == self.name {
            return self.local_actor(pid);
        }
        Some(self.proxy(Target::Pid(pid.clone())))
    }

    /// The proxy for another node's `pid` (`None` for a pid of this node,
    /// or once the node stopped).
    pub fn remote_of(&self, pid: &Pid) -> Option<Arc<crate::remote::Remote>> {
        if pid.node.name == self.name {
            return None;
        }
        self.remote(Target::Pid(pid.clone()))
    }

    /// A fresh id for an `UNLINK_ID` (never 0).
    pub fn unlink_id(&self) -> Term {
        let n = self.next_ref.fetch_add(1, Ordering::Relaxed) & 0x07ff_ffff;
        Term::from(erl_dist::term::FixInteger::from(n.max(1) as i32))
    }

    /// This node as an `Arc` (for the threads and actors that serve it).
    pub fn arc(&self) -> Option<Arc<NodeInner>> {
        self.me.upgrade()
    }

    pub fn make_ref(&self) -> Reference {
        let n = self.next_ref.fetch_add(1, Ordering::Relaxed);
        let salt = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Reference {
            node: self.atom.clone(),
            id: vec![n & 0x3ffff, salt, n],
            creation: self.creation,
        }
    }

    /// Sends a control message to `node` (connecting first if needed).
    pub fn send_ctl(&self, node: &str, message: Message) {
        self.send_ctls(node, [message]);
    }

    /// Sends a control message nobody waits for to `node`, with the
    /// connection's next write (or within `outgoing::LATER`).
    pub fn send_ctl_later(&self, node: &str, message: Message) {
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        if node == self.name {
            crate::dispatch::handle(self, None, message);
            return;
        }
        self.peer(node).send_later(message);
    }

    /// Sends control messages to `node` in order, in one write if they
    /// can go at once.
    pub fn send_ctls(&self, node: &str, messages: impl IntoIterator<Item = Message>) {
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        if node == self.name {
            for message in messages {
                crate::dispatch::handle(self, None, message);
            }
            return;
        }
        self.peer(node).send_all(messages);
    }

    /// Sends `message` to a remote target (`from` is needed by name).
    pub fn send_to(&self, target: &Target, from: Option<Pid>, message: Term) {
        let control = self.send_message(target, from, message);
        let node = target.node();
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        if node == self.name {
            crate::dispatch::handle(self, None, control);
            return;
        }
        self.peer(node).send_message(control);
    }

    /// The control message that sends `message` to `target`.
    pub fn send_message(&self, target: &Target, from: Option<Pid>, message: Term) -> Message {
        match target {
            Target::Pid(pid) => Message::send(pid.clone(), message),
            Target::Name { name, .. } => Message::reg_send(
                from.unwrap_or_else(|| self.kernel_pid()),
                Atom::from(name.as_str()),
                message,
            ),
        }
    }

    /// Monitors a remote target under `reference` on behalf of the local
    /// `watcher`, which gets [`RemoteDown`](crate::remote::RemoteDown) when
    /// it ends or the connection is lost.
    pub fn monitor_remote(&self, watcher: &ActorRef, target: &Target, reference: Reference) {
        // The watcher's own pid, even for a proxy (whose `pid_of` is the
        // remote pid it stands for): the monitor's end comes back to it.
        self.export(watcher);
        let from = self.local_pid(watcher.id());
        let peer = self.peer(target.node());
        peer.watch(reference.clone(), watcher.clone(), target.clone());
        peer.send(Message::monitor_p(from, target.pid_or_atom(), reference));
    }

    pub fn demonitor_remote(&self, watcher: &ActorRef, target: &Target, reference: &Reference) {
        let Some(peer) = self.peers.lock().get(target.node()).cloned() else {
            return;
        };
        if peer.unwatch(reference).is_some() {
            peer.send(Message::demonitor_p(
                self.local_pid(watcher.id()),
                target.pid_or_atom(),
                reference.clone(),
            ));
        }
    }

    pub fn notify_watchers(&self, up: bool, node: &str, reason: &str) {
        let watchers = self.watchers.lock().clone();
        for watcher in watchers {
            if up {
                watcher.send(NodeUp {
                    node: node.to_string(),
                });
            } else {
                watcher.send(NodeDown {
                    node: node.to_string(),
                    reason: reason.to_string(),
                });
            }
        }
        self.watchers.lock().retain(|w| w.is_alive());
    }

    fn stop(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        // Wake the acceptor so it sees `stopped`.
        let _ = TcpStream::connect((self.config.listen.ip(), self.port));
        let peers: Vec<Arc<Peer>> = self.peers.lock().values().cloned().collect();
        for peer in peers {
            peer::lost(self, &peer, "node stopped");
        }
        self.epmd.lock().take();
        let proxies = self.proxies.lock().all();
        for proxy in proxies {
            proxy.end(ferrotp::ExitReason::Shutdown);
        }
        if let Some(kernel) = self.kernel.get() {
            kernel.exit(ferrotp::ExitReason::Shutdown);
        }
        self.watches.stop();
        self.exports.lock().clear();
        tracing::info!(node = %self.name, "node stopped");
    }
}
