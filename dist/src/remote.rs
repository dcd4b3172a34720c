//! [`Remote`]: what stands for one remote process (or one remote name)
//! among local actors — an ordinary [`ActorRef`] whose mail is encoded and
//! written to the connection on the sending thread.
//!
//! The address is a [`FnAddress`]: a local actor's `send` to it runs
//! [`Remote::mail`] on the actor's own thread, which encodes the message
//! and writes it (see `outgoing`). There is no proxy actor and no hand-off
//! to one, so what one thread sends to a remote process (messages, calls,
//! link and exit signals) leaves in the order it was sent, through one
//! path, and a round trip crosses one thread fewer.
//!
//! Links, monitors and exit signals work on the address as on an actor.
//! It traps exits: a linked local actor's end, or an exit signal sent to
//! it, travels on to the remote process (`EXIT` / `EXIT2`). It hears of
//! the links local actors make to it ([`TieNotice`]) and passes them on as
//! `LINK` / `UNLINK_ID`, so the remote side records them too. When the
//! remote process ends (or its connection is lost) the address ends with
//! the same reason, so local links and monitors on it fire as for a local
//! actor. The reader applies what the remote process does to local actors
//! (it links to one, exits one, ends while linked) directly, in the order
//! the connection carried it.
//!
//! A name's address is an address until a local actor links to or
//! monitors it: then it monitors the name on the remote node (`{Name,
//! Node}`), stands for the process holding it, and ends when that one
//! does; the node's next `remote(name, node)` is a fresh address.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, Weak};

use erl_dist::message::Message;
use erl_dist::term::{Pid, Reference};
use ferrotp::{ActorId, ActorRef, Envelope, ExitReason, FnAddress, Stop, Stopped, TieNotice};
use parking_lot::Mutex;

use crate::node::{NodeInner, Target};
use crate::reason;

/// A monitor this node holds on a remote process fired (or its connection
/// was lost). Delivered to the address that holds the monitor.
#[derive(Clone, Debug)]
pub(crate) struct RemoteDown {
    pub reference: Reference,
    pub reason: ExitReason,
}

#[derive(Default)]
struct State {
    /// The monitor this address holds on the remote process (a pid's
    /// from the start, a name's once bound).
    own_monitor: Option<Reference>,
    /// Local actors linked with the remote process (either side linked).
    linked: HashSet<ActorId>,
}

/// One remote process (or remote name) as a local address.
pub(crate) struct Remote {
    node: Weak<NodeInner>,
    pub target: Target,
    address: OnceLock<FnAddress>,
    state: Mutex<State>,
}

impl Remote {
    /// A new address for `target` (`None` if the node is gone). A pid's
    /// address monitors its process at once: see [`start`](Self::start).
    pub fn new(node: &NodeInner, target: Target) -> Option<Arc<Remote>> {
        let remote = Arc::new(Remote {
            node: node.arc().as_ref().map(Arc::downgrade)?,
            target,
            address: OnceLock::new(),
            state: Mutex::default(),
        });
        // The function holds the remote weakly: the node's table owns it
        // (and through it the `FnAddress`) while the address lives.
        let weak = Arc::downgrade(&remote);
        let address = FnAddress::new(&node.system, move |envelope| match weak.upgrade() {
            Some(remote) => remote.mail(envelope),
            None => tracing::debug!("mail for a remote address being dropped"),
        })
        .tie_notices();
        let _ = remote.address.set(address);
        Some(remote)
    }

    /// A pid's address starts watching its process (a name's waits until
    /// someone ties itself to it). Called once it is in the node's table.
    pub fn start(&self) {
        if let Target::Pid(_) = &self.target {
            self.watch_remote();
        }
    }

    /// The address as an ordinary `ActorRef`.
    pub fn actor(&self) -> &ActorRef {
        self.address
            .get()
            .expect("set in Remote::new before anyone sees it")
            .actor()
    }

    fn node(&self) -> Option<Arc<NodeInner>> {
        self.node.upgrade()
    }

    fn remote_pid(&self) -> Option<&Pid> {
        match &self.target {
            Target::Pid(pid) => Some(pid),
            Target::Name { .. } => None,
        }
    }

    /// Whatever is sent to the address, on the sender's thread.
    fn mail(&self, envelope: Envelope) {
        let envelope = match envelope.downcast::<RemoteDown>() {
            Ok(down) => return self.remote_down(down),
            Err(envelope) => envelope,
        };
        let envelope = match envelope.downcast::<TieNotice>() {
            Ok(notice) => return self.tie(notice),
            Err(envelope) => envelope,
        };
        if envelope.is::<Stop>() {
            return self.stop(envelope.sender().cloned());
        }
        match envelope.downcast::<Stopped>() {
            Ok(stopped) => self.exit_signal(stopped),
            Err(envelope) => self.forward(envelope),
        }
    }

    /// A [`Stop`] ends the address with `Normal` and is answered with
    /// `Stopped`, as an actor's runtime does; the remote process goes on
    /// (as before, when a proxy actor stood for it).
    fn stop(&self, sender: Option<ActorRef>) {
        self.end(ExitReason::Normal);
        if let Some(sender) = sender {
            sender.send(Stopped {
                actor: self.actor().id(),
                reason: ExitReason::Normal,
            });
        }
    }

    /// A message for the remote process: encoded and written now.
    fn forward(&self, envelope: Envelope) {
        let Some(node) = self.node() else { return };
        // Only a send by name carries its sender (a pid of ours).
        let from = match &self.target {
            Target::Name { .. } => envelope.sender().map(|s| node.pid_of(s)),
            Target::Pid(_) => None,
        };
        let (message, type_name) = envelope.into_parts();
        let codec = node.codec();
        let Some(term) = node.types.encode(message, &codec) else {
            node.counters.unencodable.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                to = ?self.target,
                type_name,
                "no encoder for this message type (Node::register_type): dropped"
            );
            return;
        };
        node.send_to(&self.target, from, term);
    }

    fn remote_down(&self, down: RemoteDown) {
        let mut state = self.state.lock();
        if state.own_monitor.as_ref() == Some(&down.reference) {
            state.own_monitor = None;
            drop(state);
            self.end(down.reason);
        }
    }

    /// Ends the address with `reason` (the remote process ended, the
    /// connection was lost, the node stops, or it is retired): local links
    /// and monitors on it fire with that reason.
    pub fn end(&self, reason: ExitReason) {
        let Some(address) = self.address.get() else {
            return;
        };
        let node = self.node();
        // Forgotten first: the kernel, which watches every address, tells
        // an address that ended this way from one that was killed.
        if let Some(node) = &node {
            node.forget_proxy(address.actor().id());
        }
        if !address.end(reason) {
            return;
        }
        let own_monitor = self.state.lock().own_monitor.take();
        if let (Some(node), Some(reference)) = (node, own_monitor) {
            node.demonitor_remote(address.actor(), &self.target, &reference);
        }
    }

    /// Monitors the remote target on behalf of this address: its end (or
    /// the connection's) comes back as [`RemoteDown`]. The reference is
    /// kept before the monitor goes out, so an answer at once finds it.
    fn watch_remote(&self) {
        let Some(node) = self.node() else { return };
        let reference = {
            let mut state = self.state.lock();
            if state.own_monitor.is_some() {
                return;
            }
            let reference = node.make_ref();
            state.own_monitor = Some(reference.clone());
            reference
        };
        node.monitor_remote(self.actor(), &self.target, reference);
    }

    /// A local actor linked to, unlinked from or monitors this address.
    fn tie(&self, notice: TieNotice) {
        let Some(node) = self.node() else { return };
        let local = match &notice {
            TieNotice::Linked(local) | TieNotice::Unlinked(local) => local,
            // The node's kernel watches every address, for its own tables.
            TieNotice::Monitored { by, .. } if node.is_kernel(by) => return,
            TieNotice::Monitored { .. } => return self.bind(&node),
            TieNotice::Demonitored { .. } => return,
        };
        // A tie between two remote addresses stays between them: neither
        // remote process is the other's peer on this connection.
        if node.target_of(local).is_some() {
            return;
        }
        let Target::Pid(remote) = &self.target else {
            // Erlang links only to pids: a link to a name binds the
            // address, and the holder's end reaches the linked actor.
            return self.bind(&node);
        };
        let from = node.pid_of(local);
        let control = {
            let mut state = self.state.lock();
            match notice {
                TieNotice::Linked(_) if state.linked.insert(local.id()) => {
                    Message::link(from, remote.clone())
                }
                TieNotice::Unlinked(_) if state.linked.remove(&local.id()) => {
                    Message::unlink_id(node.unlink_id(), from, remote.clone())
                }
                _ => return,
            }
        };
        node.send_ctl(&remote.node.name, control);
    }

    /// A name's address starts standing for the process holding the name.
    fn bind(&self, node: &NodeInner) {
        if self.state.lock().own_monitor.is_some() {
            return;
        }
        node.detach_proxy(self.actor().id(), &self.target);
        self.watch_remote();
    }

    /// A local linked actor ended, or someone sent this address an exit
    /// signal: the remote process gets it.
    fn exit_signal(&self, stopped: Stopped) {
        let Some(node) = self.node() else { return };
        let Some(remote) = self.remote_pid() else {
            tracing::debug!(to = ?self.target, "exit signal to a remote name: not forwarded");
            return;
        };
        let from = if stopped.actor == ActorId::EXTERNAL {
            node.kernel_pid()
        } else {
            node.local_pid(stopped.actor)
        };
        let reason = reason::to_term(&stopped.reason);
        let control = if self.state.lock().linked.remove(&stopped.actor) {
            Message::exit(from, remote.clone(), reason)
        } else {
            Message::exit2(from, remote.clone(), reason)
        };
        node.send_ctl(&remote.node.name, control);
    }

    /// The remote process linked to the local actor `local`.
    pub fn link_from(&self, local: &ActorRef) {
        self.state.lock().linked.insert(local.id());
        if let Some(address) = self.address.get() {
            address.link(local);
        }
    }

    /// The remote process removed its link to `local`.
    pub fn unlink_from(&self, local: &ActorRef) {
        self.state.lock().linked.remove(&local.id());
        if let Some(address) = self.address.get() {
            address.unlink(local);
        }
    }

    /// The remote process ended while linked to local actors: they get
    /// its reason along their links (the address ends with it).
    pub fn link_exit(&self, reason: ExitReason) {
        self.state.lock().linked.clear();
        self.end(reason);
    }

    /// The remote process sent an exit signal to the local actor `to`.
    pub fn exit_to(&self, to: &ActorRef, reason: ExitReason) {
        if let Some(address) = self.address.get() {
            address.exit(to, reason);
        }
    }
}
