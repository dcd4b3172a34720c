//! The errors of starting a node and of calling across nodes.

use ferrotp::ExitReason;
use thiserror::Error;

use crate::codec::DecodeError;

/// Why [`Node::start`](crate::Node::start) failed.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The node name is not `name@host`.
    #[error("bad node name {0:?}: expected name@host")]
    BadName(String),
    /// No cookie was given and none could be read.
    #[error("no cookie given and none readable: {0}")]
    NoCookie(String),
    /// The listen socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// EPMD refused the registration or could not be reached or started.
    #[error("epmd: {0}")]
    Epmd(String),
    /// The system already has a node (its `net_kernel` name is taken).
    #[error("this system already runs a node (the name net_kernel is taken)")]
    AlreadyStarted,
}

/// Why a call to a remote `gen_server` ([`Node::call`](crate::Node::call)) failed.
#[derive(Debug, Error, PartialEq)]
pub enum RemoteCallError {
    /// No reply within the timeout.
    #[error("no reply within the timeout")]
    Timeout,
    /// The target is a live local actor, not a remote process.
    #[error("the target is not a remote process")]
    NotRemote,
    /// The target process ended (or did not exist: `NoProc`), or the
    /// connection was lost (`noconnection`), before or during the call.
    #[error("the target ended: {0}")]
    Down(ExitReason),
    /// The reply did not decode to the type asked for.
    #[error("reply: {0}")]
    Decode(#[from] DecodeError),
}
