//! `monitor_nodes`: [`NodeUp`] and [`NodeDown`] for the actors that watch
//! this node's connections come and go.

use ferrotp::ActorRef;

use crate::node::{Node, NodeInner};

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

impl Node {
    /// Sends [`NodeUp`] and [`NodeDown`] to `watcher` for every connection
    /// that opens or closes from now on (Erlang's `net_kernel:monitor_nodes`).
    pub fn monitor_nodes(&self, watcher: &ActorRef) {
        self.inner.watchers.lock().push(watcher.clone());
    }
}

impl NodeInner {
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
}
