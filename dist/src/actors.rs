//! The node's own actor, the [`Kernel`] registered as `net_kernel`; and the
//! reply address of each `gen_server:call` from another node
//! ([`gen_reply`]). (Remote processes are addresses: see `remote`.)

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use erl_dist::message::Message;
use erl_dist::term::{Atom, Pid, Term};
use ferrotp::{Actor, ActorRef, Context, Down, ExitReason, FnAddress, Handlers, MonitorRef};

use crate::codec::{atom, tuple, untag};
use crate::node::{NodeInner, Target};

/// The address that answers one `gen_server:call` from another node: the
/// first message it gets (the local actor's `ctx.reply(..)`) goes back as
/// `{Tag, Reply}`, encoded and written by the replying thread itself (a
/// function address: no actor, no mailbox, no hand-off). It lives as long
/// as someone holds it, so an actor may keep it and answer later.
pub(crate) fn gen_reply(node: &NodeInner, caller: Pid, tag: Term) -> Option<ActorRef> {
    let node_ref = node.arc()?;
    let reply = move |envelope: ferrotp::Envelope| {
        let node = node_ref;
        let (message, type_name) = envelope.into_parts();
        match node.types.encode(message, &node.codec()) {
            Some(reply) => {
                let answer = tuple([tag, reply]);
                let to = caller.node.name.clone();
                node.send_ctl(&to, Message::send(caller, answer));
            }
            None => {
                node.counters.unencodable.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    type_name,
                    "gen_server reply of a type with no encoder: dropped"
                );
            }
        }
    };
    Some(FnAddress::once(&node.system, reply).detach())
}

/// What the node tells its kernel actor.
pub(crate) enum KernelMsg {
    /// A local actor became reachable by pid: forget it when it ends.
    Watch(ActorRef),
    /// A proxy was made: if it is killed, kill the remote process too.
    WatchProxy(ActorRef),
}

/// Registered as `net_kernel`: answers `net_adm:ping`, and keeps the
/// node's tables in step with the actors that end. (The monitors remote
/// processes hold on local actors are the reader's, in `watches`.)
pub(crate) struct Kernel {
    node: Arc<NodeInner>,
    watching: HashMap<MonitorRef, ActorRef>,
}

impl Kernel {
    pub fn new(node: Arc<NodeInner>) -> Self {
        Kernel {
            node,
            watching: HashMap::new(),
        }
    }

    fn watch(&mut self, msg: KernelMsg, ctx: &mut Context<Self>) {
        match msg {
            KernelMsg::Watch(actor) | KernelMsg::WatchProxy(actor) => {
                let monitor = ctx.monitor(&actor);
                self.watching.insert(monitor, actor);
            }
        }
    }

    fn down(&mut self, down: Down, _ctx: &mut Context<Self>) {
        let Some(actor) = self.watching.remove(&down.monitor) else {
            return;
        };
        let id = actor.id();
        self.node.unexport(id);
        // An address killed before this actor watched it is `noproc` to
        // the monitor: its own reason says how it ended.
        let reason = match down.reason {
            ExitReason::NoProc => actor.exit_reason().unwrap_or(ExitReason::NoProc),
            reason => reason,
        };
        // A proxy still listed ended without its `stopped` hook: killed.
        if let Some(Target::Pid(pid)) = self.node.forget_proxy(id) {
            if reason == ExitReason::Killed {
                let kill = Message::exit2(self.node.kernel_pid(), pid.clone(), atom("kill"));
                self.node.send_ctl(&pid.node.name, kill);
            }
        }
    }

    /// `net_adm:ping/1` calls `{net_kernel, Node}` with `{is_auth, Node}`.
    fn request(&mut self, request: Term, ctx: &mut Context<Self>) {
        if untag(&request, "is_auth", 1).is_some() {
            ctx.reply(Atom::from("yes"));
        }
    }
}

impl Actor for Kernel {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::watch)
            .on(Self::down)
            .on(Self::request)
    }
}

/// An actor that ends before it starts: the address given out when a
/// proxy cannot be made (the node stopped).
pub(crate) struct Dead;

impl Actor for Dead {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }

    fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        Err(ExitReason::NoProc)
    }
}
