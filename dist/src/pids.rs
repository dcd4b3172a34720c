//! Which pid stands for which address: local actors as pids of this node
//! (reachable from other nodes once exported), other nodes' pids as
//! proxies, and the references and ids this node makes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use erl_dist::term::{Pid, Reference, Term};
use ferrotp::{ActorId, ActorRef};

use crate::node::{NodeInner, Target};
use crate::remote::Remote;
use crate::types::Key;

impl NodeInner {
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
    pub fn remote_of(&self, pid: &Pid) -> Option<Arc<Remote>> {
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
}
