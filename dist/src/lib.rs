//! # ferrotp-dist
//!
//! A ferrotp [`System`](ferrotp::System) as a node of an Erlang cluster,
//! speaking Erlang's own distribution protocol: EPMD, the cookie
//! handshake, the external term format, and the control messages for
//! send, registered send, link, unlink, exit, monitor and demonitor. It
//! talks to real Erlang and Elixir nodes and to other ferrotp nodes alike.
//!
//! - A remote process is an ordinary [`ActorRef`](ferrotp::ActorRef): a
//!   local address (a proxy, a [`FnAddress`](ferrotp::FnAddress) with no
//!   mailbox of its own) stands for it, and what is sent to it is encoded
//!   and written to the connection by the sending thread. Sends, links,
//!   monitors, `exit` and `kill` work on it as on a local actor; when the
//!   remote process ends, the proxy ends with the same reason (see
//!   [`reason`]), and a lost connection ends it with [`noconnection()`]. A
//!   link made here is recorded on the remote side too. [`Node::remote`]
//!   addresses a name, and can be linked and monitored as well. Proxies for
//!   pids are bounded ([`NodeConfig::max_proxies`]).
//! - Local actors are reachable from Erlang by pid (any `ActorRef` in a
//!   message travels as a pid) and by registered name
//!   (`{counter, 'app@localhost'} ! Msg`).
//! - Terms become Rust types through [`IntoTerm`] / [`FromTerm`]
//!   ([`Node::accept`], [`Node::register_type`]); a term no registered type
//!   accepts arrives as the raw [`Term`](term::Term).
//! - `gen_server` conventions both ways: `gen_server:call` and `cast` from
//!   Erlang reach a ferrotp actor (its `ctx.reply` answers the call), and
//!   [`Node::call`] calls an Erlang `gen_server`.
//!
//! The cookie is the only authentication between nodes, as in Erlang, and
//! traffic is not encrypted: the node listens on 127.0.0.1 unless told
//! otherwise ([`NodeConfig::listen`]).
//!
//! Inside, each connection has a reader thread, which runs the turn of
//! the actor a `gen_server` call from the other node wakes on its own
//! thread (`System::run_woken`; reading moves to a new thread if that turn
//! waits or runs long). On Linux a thread waiting in [`Node::call`] reads
//! the connection itself meanwhile (the reader thread is not woken for its
//! reply, and whatever else comes is handled as the reader would); the
//! threads that send write to it themselves, and a writer thread takes
//! over when the socket is full or a stream of messages comes faster than
//! one `send` each (it writes them in batches). erl_dist's async
//! handshake runs on them with `block_on`. Users see no async.
//!
//! ```no_run
//! use ferrotp::System;
//! use ferrotp_dist::{Node, NodeConfig};
//! use ferrotp_dist::term::Term;
//! use std::time::Duration;
//!
//! let system = System::new();
//! let node = Node::start(&system, NodeConfig::new("app@localhost").cookie("secret")).unwrap();
//! // `{echo, 'probe@localhost'} ! hello` from Rust:
//! let echo = node.remote("echo", "probe@localhost");
//! echo.send(ferrotp_dist::codec::atom("hello"));
//! // `gen_server:call({counter, 'probe@localhost'}, get, 5000)`:
//! let counter = node.remote("counter", "probe@localhost");
//! let total: i64 = node.call(&counter, ferrotp_dist::codec::atom("get"), Duration::from_secs(5)).unwrap();
//! # let _ = total;
//! node.stop();
//! ```

#![warn(missing_docs)]

mod actors;
mod blocking;
mod calls;
pub mod codec;
mod config;
#[cfg(target_os = "linux")]
mod conn;
mod dispatch;
mod epmd;
mod error;
#[cfg(target_os = "linux")]
mod frames;
mod handshake;
mod node;
mod node_watchers;
mod outgoing;
mod peer;
mod pids;
mod proxies;
mod reader;
pub mod reason;
mod remote;
mod routing;
mod stats;
mod types;
mod watches;
mod wire;

/// Erlang terms (the `eetf` types, as `erl_dist` re-exports them).
pub use erl_dist::term;

pub use codec::{Codec, DecodeError, FromTerm, IntoTerm};
pub use config::NodeConfig;
pub use error::{NodeError, RemoteCallError};
pub use node::Node;
pub use node_watchers::{NodeDown, NodeUp};
pub use reason::{is_noconnection, noconnection};
pub use stats::NodeStats;
pub use wire::FrameError;
