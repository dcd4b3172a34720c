//! Where this node's control messages go: to the connection of the node
//! they are for (opened on first use), or straight to the dispatcher when
//! that is this node; and the monitors it places on remote processes.

use std::sync::atomic::Ordering;

use erl_dist::message::Message;
use erl_dist::term::{Atom, Pid, Reference, Term};
use ferrotp::ActorRef;

use crate::node::{NodeInner, Target};

impl NodeInner {
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
}
