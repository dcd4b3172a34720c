//! [`Node`]: a ferrotp system as a node of an Erlang cluster.

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use erl_dist::node::{LocalNode, NodeName};
use erl_dist::term::{Atom, Term};
use erl_dist::DistributionFlags;
use ferrotp::{ActorRef, Inbox, SpawnOptions, System};
use parking_lot::Mutex;

use crate::actors::Kernel;
use crate::calls::Calls;
use crate::codec::{Codec, FromTerm, IntoTerm};
use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::peer::Peer;
use crate::proxies::Proxies;
pub(crate) use crate::proxies::Target;
use crate::stats::Counters;
use crate::types::{Key, Types};
use crate::watches::Watches;
use crate::{epmd, handshake, peer};

/// What a node's handles, threads and addresses share. Its methods are
/// spread by concept: `pids` (which pid stands for which address),
/// `routing` (where control messages go), `proxies`, `node_watchers`.
pub(crate) struct NodeInner {
    pub me: Weak<NodeInner>,
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
    pub exports: Mutex<HashMap<u64, ActorRef>>,
    pub proxies: Mutex<Proxies>,
    pub types: Types,
    pub next_ref: AtomicU32,
    pub counters: Counters,
    pub kernel: OnceLock<ActorRef>,
    pub epmd: Mutex<Option<TcpStream>>,
    pub stopped: AtomicBool,
    pub watchers: Mutex<Vec<ActorRef>>,
    /// The calls this node makes, waiting for replies to `endpoint`.
    pub calls: Calls,
    /// Never read: its id is the pid every call of this node replies to.
    pub endpoint: Inbox,
    /// Monitors remote processes hold on local actors.
    pub watches: Arc<Watches>,
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
            watches: Watches::new(system, me.clone()),
        });
        let kernel = system
            .spawn_with(
                Kernel::new(inner.clone()),
                SpawnOptions::new().name("net_kernel").await_started(),
            )
            .map_err(|_| NodeError::AlreadyStarted)?;
        let _ = inner.kernel.set(kernel);
        handshake::accept(inner.clone(), listener);
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
        // Calls to a node whose connection was not made yet, or listed
        // as the stop began, end too.
        self.calls.all_down(&crate::reason::noconnection());
        self.epmd.lock().take();
        let proxies = self.proxies.lock().all();
        for proxy in proxies {
            proxy.end(ferrotp::ExitReason::Shutdown);
        }
        if let Some(kernel) = self.kernel.get() {
            kernel.exit(ferrotp::ExitReason::Shutdown);
        }
        self.exports.lock().clear();
        tracing::info!(node = %self.name, "node stopped");
    }
}
