//! The node's own actors: a [`Proxy`] per remote process (or remote name),
//! and the [`Kernel`] registered as `net_kernel`; and the reply address of
//! each `gen_server:call` from another node ([`gen_reply`]).

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use erl_dist::message::Message;
use erl_dist::term::{Atom, Pid, Reference, Term};
use ferrotp::{
    Actor, ActorId, ActorRef, Context, Down, ExitReason, FnAddress, Handlers, MonitorRef, Stopped,
    TieNotice,
};

use crate::codec::{atom, tuple, untag};
use crate::node::{NodeInner, Target};
use crate::reason;

/// A monitor this node holds on a remote process fired (or its connection
/// was lost). Delivered to the local actor that holds the monitor.
#[derive(Clone, Debug)]
pub(crate) struct RemoteDown {
    pub reference: Reference,
    pub reason: ExitReason,
}

/// What the dispatcher asks a remote process's proxy to do on its behalf.
pub(crate) enum ProxyCtl {
    /// The remote process linked to this local actor.
    LinkFrom(ActorRef),
    UnlinkFrom(ActorRef),
    /// The remote process ended while linked to local actors.
    LinkExit(ExitReason),
    /// The remote process sent an exit signal to a local actor.
    ExitTo {
        to: ActorRef,
        reason: ExitReason,
    },
    /// The node keeps too many proxies and this one is the least recently
    /// used untied one: it ends (see `proxies`).
    Retire,
    /// A `Node::call`: its monitor and request, to write in order with
    /// what this proxy forwards.
    Call(Vec<Message>),
}

/// A request the sender waits for: a remote process's signals to a local
/// actor take effect in the order they arrived, before any message the
/// same connection carries after them (Erlang's signal order).
pub(crate) struct Ordered<T>(pub T, pub crossbeam_channel::Sender<()>);

/// Stands for one remote process (or one remote name) among local actors.
///
/// What a local actor sends it is encoded and sent on; when the remote
/// process ends (or its connection is lost) the proxy ends with the same
/// reason, so local links and monitors on it fire as for a local actor.
/// It traps exits: a local linked actor's end, or an exit signal sent to
/// it, travels on to the remote process. It is told of the links local
/// actors make to it ([`TieNotice`]) and passes them on as `LINK` /
/// `UNLINK_ID`, so the remote side records them too.
///
/// A proxy for a name is an address until a local actor links to or
/// monitors it: then it monitors the name on the remote node (`{Name,
/// Node}`), stands for the process holding it, and ends when that one
/// does; the node's next `remote(name, node)` is a fresh address.
pub(crate) struct Proxy {
    node: Arc<NodeInner>,
    target: Target,
    own_monitor: Option<Reference>,
    /// Local actors the remote process linked to.
    linked: HashSet<ActorId>,
}

impl Proxy {
    pub fn new(node: Arc<NodeInner>, target: Target) -> Self {
        Proxy {
            node,
            target,
            own_monitor: None,
            linked: HashSet::new(),
        }
    }

    fn remote_pid(&self) -> Option<&Pid> {
        match &self.target {
            Target::Pid(pid) => Some(pid),
            Target::Name { .. } => None,
        }
    }

    fn forward(
        &mut self,
        message: Box<dyn Any + Send>,
        type_name: &'static str,
        ctx: &mut Context<Self>,
    ) {
        let codec = self.node.codec();
        let Some(term) = self.node.types.encode(message, &codec) else {
            self.node
                .counters
                .unencodable
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                to = ?self.target,
                type_name,
                "no encoder for this message type (Node::register_type): dropped"
            );
            return;
        };
        let from = ctx.sender().map(|s| self.node.pid_of(s));
        self.node.send_to(&self.target, from, term);
    }

    fn remote_down(&mut self, down: RemoteDown, ctx: &mut Context<Self>) {
        if self.own_monitor.as_ref() == Some(&down.reference) {
            self.own_monitor = None;
            ctx.stop(down.reason);
        }
    }

    fn control(&mut self, control: ProxyCtl, ctx: &mut Context<Self>) {
        match control {
            ProxyCtl::LinkFrom(local) => {
                self.linked.insert(local.id());
                ctx.link(&local);
            }
            ProxyCtl::UnlinkFrom(local) => {
                self.linked.remove(&local.id());
                ctx.unlink(&local);
            }
            ProxyCtl::LinkExit(reason) => {
                self.linked.clear();
                ctx.stop(reason);
            }
            ProxyCtl::ExitTo { to, reason } => ctx.exit(&to, reason),
            ProxyCtl::Retire => ctx.stop(ExitReason::Normal),
            ProxyCtl::Call(messages) => self.node.send_ctls(self.target.node(), messages),
        }
    }

    /// A local actor linked to, unlinked or monitors this proxy.
    fn tie(&mut self, notice: TieNotice, ctx: &mut Context<Self>) {
        let local = match &notice {
            TieNotice::Linked(local) | TieNotice::Unlinked(local) => local,
            // The node's kernel watches every proxy, for its own tables.
            TieNotice::Monitored { by, .. } if self.node.is_kernel(by) => return,
            TieNotice::Monitored { .. } => return self.bind(ctx),
            TieNotice::Demonitored { .. } => return,
        };
        // A tie between two proxies stays between them: neither remote
        // process is the other's peer on this connection.
        if self.node.target_of(local).is_some() {
            return;
        }
        let Target::Pid(remote) = &self.target else {
            // Erlang links only to pids: a link to a name binds the
            // address, and the holder's end reaches the linked actor.
            return self.bind(ctx);
        };
        let from = self.node.pid_of(local);
        let control = match notice {
            TieNotice::Linked(_) if self.linked.insert(local.id()) => {
                Message::link(from, remote.clone())
            }
            TieNotice::Unlinked(_) if self.linked.remove(&local.id()) => {
                Message::unlink_id(self.node.unlink_id(), from, remote.clone())
            }
            _ => return,
        };
        self.node.send_ctl(&remote.node.name, control);
    }

    /// A name proxy starts standing for the process holding the name.
    fn bind(&mut self, ctx: &mut Context<Self>) {
        if self.own_monitor.is_some() {
            return;
        }
        self.node.detach_proxy(ctx.myself().id(), &self.target);
        self.own_monitor = Some(self.node.monitor_remote(ctx.myself(), &self.target));
    }

    fn ordered(&mut self, Ordered(control, done): Ordered<ProxyCtl>, ctx: &mut Context<Self>) {
        self.control(control, ctx);
        let _ = done.send(());
    }

    /// A local linked actor ended, or someone sent this address an exit
    /// signal: the remote process gets it.
    fn exit_signal(&mut self, stopped: Stopped, _ctx: &mut Context<Self>) {
        let Some(remote) = self.remote_pid().cloned() else {
            tracing::debug!(to = ?self.target, "exit signal to a remote name: not forwarded");
            return;
        };
        let from = if stopped.actor == ActorId::EXTERNAL {
            self.node.kernel_pid()
        } else {
            self.node.local_pid(stopped.actor)
        };
        let reason = reason::to_term(&stopped.reason);
        let control = if self.linked.remove(&stopped.actor) {
            Message::exit(from, remote.clone(), reason)
        } else {
            Message::exit2(from, remote.clone(), reason)
        };
        self.node.send_ctl(&remote.node.name, control);
    }
}

impl Actor for Proxy {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::remote_down)
            .on(Self::control)
            .on(Self::ordered)
            .on(Self::tie)
            .on(Self::exit_signal)
            .other(Self::forward)
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if let Target::Pid(_) = &self.target {
            self.own_monitor = Some(self.node.monitor_remote(ctx.myself(), &self.target));
        }
        Ok(())
    }

    fn stopped(&mut self, _reason: &ExitReason, ctx: &mut Context<Self>) {
        self.node.forget_proxy(ctx.myself().id());
        if let Some(reference) = self.own_monitor.take() {
            self.node
                .demonitor_remote(ctx.myself(), &self.target, &reference);
        }
    }
}

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
    watching: HashMap<MonitorRef, ActorId>,
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
                self.watching.insert(monitor, actor.id());
            }
        }
    }

    fn down(&mut self, down: Down, _ctx: &mut Context<Self>) {
        let Some(id) = self.watching.remove(&down.monitor) else {
            return;
        };
        self.node.unexport(id);
        // A proxy still listed ended without its `stopped` hook: killed.
        if let Some(Target::Pid(pid)) = self.node.forget_proxy(id) {
            if down.reason == ExitReason::Killed {
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
