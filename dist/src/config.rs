//! [`NodeConfig`]: a node's name, cookie, listen address and limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::NodeError;

/// How a [`Node`](crate::Node) starts.
///
/// ```
/// use ferrotp_dist::NodeConfig;
/// let config = NodeConfig::new("app@localhost").cookie("secret").hidden();
/// assert_eq!(config.name(), "app@localhost");
/// ```
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub(crate) name: String,
    pub(crate) cookie: Option<String>,
    pub(crate) listen: SocketAddr,
    pub(crate) hidden: bool,
    pub(crate) epmd_port: u16,
    pub(crate) spawn_epmd: bool,
    pub(crate) max_frame: usize,
    pub(crate) max_proxies: usize,
    pub(crate) tick: Duration,
    pub(crate) handshake_timeout: Duration,
}

impl NodeConfig {
    /// A node named `name` (`"app@localhost"`): the cookie from
    /// `~/.erlang.cookie`, listening on 127.0.0.1 on a free port, visible.
    pub fn new(name: impl Into<String>) -> Self {
        NodeConfig {
            name: name.into(),
            cookie: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            hidden: false,
            epmd_port: 4369,
            spawn_epmd: true,
            max_frame: 64 << 20,
            max_proxies: 100_000,
            tick: Duration::from_secs(15),
            handshake_timeout: Duration::from_secs(10),
        }
    }

    /// The cookie: the only authentication between nodes, as in Erlang.
    /// Without it, `~/.erlang.cookie` is read.
    pub fn cookie(mut self, cookie: impl Into<String>) -> Self {
        self.cookie = Some(cookie.into());
        self
    }

    /// Where to accept connections (default 127.0.0.1, a free port). Bind
    /// another interface only on a network you trust: the cookie is the
    /// only authentication, and the traffic is not encrypted.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// A hidden node (Erlang's `-hidden`): peers do not list it in `nodes()`
    /// nor connect it to the rest of their cluster.
    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// The EPMD port (default 4369, or `ERL_EPMD_PORT` as Erlang reads it).
    pub fn epmd_port(mut self, port: u16) -> Self {
        self.epmd_port = port;
        self
    }

    /// When no EPMD runs: start Erlang's `epmd -daemon` if it is on `PATH`
    /// (`true`, the default; it outlives this process, as with `erl`), or
    /// serve the EPMD protocol from this process (`false`, or no `epmd`).
    pub fn spawn_epmd(mut self, spawn: bool) -> Self {
        self.spawn_epmd = spawn;
        self
    }

    /// The largest frame accepted from a peer (default 64 MiB); a larger
    /// one closes that connection.
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// How many proxies for remote pids the node keeps (default 100 000).
    /// Past it, making one retires the least recently used (made, or seen
    /// arriving in a message) that no local actor links to or monitors: it
    /// ends with `Normal`, and its pid gets a fresh proxy when it arrives
    /// again. Keep a remote ref you hold on to linked or monitored, or
    /// raise the bound, if sends to it must not be dropped.
    pub fn max_proxies(mut self, proxies: usize) -> Self {
        self.max_proxies = proxies.max(1);
        self
    }

    /// How often an idle connection sends a keep-alive (default 15 s, as
    /// Erlang's default `net_ticktime` of 60 s does). A connection silent
    /// for four ticks is lost.
    pub fn tick(mut self, every: Duration) -> Self {
        self.tick = every;
        self
    }

    /// The node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn resolve_cookie(&self) -> Result<String, NodeError> {
        if let Some(cookie) = &self.cookie {
            return Ok(cookie.clone());
        }
        let path = std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or(NodeError::NoCookie("HOME is not set".into()))?
            .join(".erlang.cookie");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| NodeError::NoCookie(format!("{}: {e}", path.display())))?;
        let cookie = text.trim().to_string();
        if cookie.is_empty() {
            return Err(NodeError::NoCookie(format!("{} is empty", path.display())));
        }
        Ok(cookie)
    }

    pub(crate) fn epmd_port_from_env(&self) -> u16 {
        match std::env::var("ERL_EPMD_PORT") {
            Ok(port) if self.epmd_port == 4369 => port.parse().unwrap_or(self.epmd_port),
            _ => self.epmd_port,
        }
    }
}
