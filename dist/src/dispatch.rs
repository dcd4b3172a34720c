//! What a received control message does on this node.
//!
//! Messages go straight to the local actor (decoded to its Rust types);
//! link, exit and monitor signals from a remote process go through that
//! process's proxy, which links to, exits, or monitors the local actor as
//! the remote process would, so the kernel's own links and monitors carry
//! them.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use erl_dist::message::Message;
use erl_dist::term::{Pid, PidOrAtom, Reference, Term};
use ferrotp::ActorRef;

use crate::actors::gen_reply;
use crate::calls::Outcome;
use crate::codec::{atom, is_atom};
use crate::node::NodeInner;
use crate::peer::Peer;
use crate::reason;
use crate::remote::RemoteDown;

pub(crate) fn handle(inner: &NodeInner, peer: Option<&Arc<Peer>>, message: Message) {
    match message {
        Message::Send(m) if m.to_pid == inner.endpoint_pid() => reply(inner, m.message),
        Message::Send(m) => deliver_to_pid(inner, peer, &m.to_pid, m.message, None),
        Message::SendTt(m) => deliver_to_pid(inner, peer, &m.to_pid, m.message, None),
        Message::SendSender(m) => {
            deliver_to_pid(inner, peer, &m.to_pid, m.message, Some(&m.from_pid))
        }
        Message::SendSenderTt(m) => {
            deliver_to_pid(inner, peer, &m.to_pid, m.message, Some(&m.from_pid))
        }
        Message::RegSend(m) => {
            deliver_to_name(inner, peer, &m.to_name.name, m.message, &m.from_pid)
        }
        Message::RegSendTt(m) => {
            deliver_to_name(inner, peer, &m.to_name.name, m.message, &m.from_pid)
        }
        Message::Link(m) => link(inner, &m.from_pid, &m.to_pid),
        Message::Unlink(m) => unlink(inner, &m.from_pid, &m.to_pid),
        Message::UnlinkId(m) => {
            unlink(inner, &m.from_pid, &m.to_pid);
            let node = m.from_pid.node.name.clone();
            inner.send_ctl(&node, Message::unlink_id_ack(m.id, m.to_pid, m.from_pid));
        }
        Message::UnlinkIdAck(_) => {}
        Message::Exit(m) => link_exit(inner, &m.from_pid, &m.reason),
        Message::ExitTt(m) => link_exit(inner, &m.from_pid, &m.reason),
        Message::PayloadExit(m) => link_exit(inner, &m.from_pid, &m.reason),
        Message::PayloadExitTt(m) => link_exit(inner, &m.from_pid, &m.reason),
        Message::Exit2(m) => exit(inner, &m.from_pid, &m.to_pid, &m.reason),
        Message::Exit2Tt(m) => exit(inner, &m.from_pid, &m.to_pid, &m.reason),
        Message::PayloadExit2(m) => exit(inner, &m.from_pid, &m.to_pid, &m.reason),
        Message::PayloadExit2Tt(m) => exit(inner, &m.from_pid, &m.to_pid, &m.reason),
        Message::MonitorP(m) => monitor(inner, &m.from_pid, m.to_proc, m.reference),
        Message::DemonitorP(m) => inner.watches.remove(&m.reference),
        Message::MonitorPExit(m) => {
            monitor_exit(inner, peer, m.from_proc, &m.to_pid, m.reference, &m.reason)
        }
        Message::PayloadMonitorPExit(m) => {
            monitor_exit(inner, peer, m.from_proc, &m.to_pid, m.reference, &m.reason)
        }
        Message::AliasSend(m) => alias_send(inner, m.message),
        Message::AliasSendTt(m) => alias_send(inner, m.message),
        Message::SpawnRequest(m) => refuse_spawn(inner, m.req_id, m.from_pid),
        Message::SpawnRequestTt(m) => refuse_spawn(inner, m.req_id, m.from_pid),
        Message::Tick => {}
        other => {
            tracing::debug!(node = %inner.name, message = ?other, "control message not supported: ignored");
        }
    }
}

/// Whether `message` is a `gen_server` call to a local process (which
/// waits for its reply): the reader runs such a request's actor itself.
pub(crate) fn is_call(message: &Message) -> bool {
    let term = match message {
        Message::Send(m) => &m.message,
        Message::SendTt(m) => &m.message,
        Message::SendSender(m) => &m.message,
        Message::SendSenderTt(m) => &m.message,
        Message::RegSend(m) => &m.message,
        Message::RegSendTt(m) => &m.message,
        _ => return false,
    };
    matches!(term, Term::Tuple(t) if t.elements.len() == 3 && is_atom(&t.elements[0], "$gen_call"))
}

/// A reply to one of this node's calls.
fn reply(inner: &NodeInner, message: Term) {
    if !inner.calls.reply(message) {
        // A reply that came after its call gave up, as in Erlang.
        tracing::debug!(node = %inner.name, "late or unknown reply to a call: dropped");
    }
}

/// `ALIAS_SEND`: this node makes no aliases (it does not offer
/// `DFLAG_ALIAS`, so peers reply to its calls by pid), but a reply to one
/// of its calls that comes by alias is served; anything else sent to an
/// alias is undeliverable, as Erlang drops what is sent to an inactive one.
fn alias_send(inner: &NodeInner, message: Term) {
    if !inner.calls.reply(message) {
        undeliverable(inner, "an alias");
    }
}

/// `SPAWN_REQUEST` (`erpc`, `spawn_request`): a ferrotp node runs no
/// Erlang code. It does not offer `DFLAG_SPAWN`, so Erlang refuses such
/// calls itself (`{erpc, notsup}`); a peer that sends one anyway gets a
/// `SPAWN_REPLY` with the error `notsup`.
fn refuse_spawn(inner: &NodeInner, request: Reference, from: Pid) {
    tracing::debug!(node = %inner.name, from = %from, "spawn request refused: notsup");
    let node = from.node.name.clone();
    let reply = Message::spawn_reply(
        request,
        from,
        erl_dist::term::FixInteger::from(0),
        PidOrAtom::Atom(erl_dist::term::Atom::from("notsup")),
    );
    inner.send_ctl(&node, reply);
}

fn undeliverable(inner: &NodeInner, to: &str) {
    inner.counters.undeliverable.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(node = %inner.name, to, "message from a peer to no such process: dropped");
}

type PeerRef<'a> = Option<&'a Arc<Peer>>;

fn deliver_to_pid(inner: &NodeInner, peer: PeerRef, to: &Pid, message: Term, from: Option<&Pid>) {
    match inner.local_actor(to) {
        Some(actor) => deliver(inner, peer, &actor, None, message, from),
        None => undeliverable(inner, &to.to_string()),
    }
}

fn deliver_to_name(inner: &NodeInner, peer: PeerRef, name: &str, message: Term, from: &Pid) {
    match inner.system.whereis(name) {
        Some(actor) => deliver(inner, peer, &actor, Some(name), message, Some(from)),
        None => undeliverable(inner, name),
    }
}

/// Delivers a message term to `actor` (reached by `name`, if it was),
/// applying the `gen_server` conventions: a `{'$gen_call', From, Request}`
/// arrives as `Request` with a sender whose reply goes back to `From`, and
/// `{'$gen_cast', Request}` as `Request`.
fn deliver(
    inner: &NodeInner,
    peer: PeerRef,
    actor: &ActorRef,
    name: Option<&str>,
    mut message: Term,
    from: Option<&Pid>,
) {
    let codec = inner.codec();
    if let Some((caller, tag, request)) = take_gen_call(&mut message) {
        let reply = gen_reply(inner, caller, tag);
        inner
            .types
            .deliver(request, &codec, actor, name, reply.as_ref());
        return;
    }
    if let Some(request) = take_gen_cast(&mut message) {
        inner.types.deliver(request, &codec, actor, name, None);
        return;
    }
    let sender = from.and_then(|pid| sender_of(inner, peer, pid));
    inner
        .types
        .deliver(message, &codec, actor, name, sender.as_ref());
}

/// The caller, tag and request of a `{'$gen_call', {Caller, Tag}, Request}`
/// (taken out of it), or `None` for any other term (left as it was).
fn take_gen_call(message: &mut Term) -> Option<(Pid, Term, Term)> {
    let Term::Tuple(tuple) = message else {
        return None;
    };
    let [head, from, request] = tuple.elements.as_mut_slice() else {
        return None;
    };
    if !is_atom(head, "$gen_call") {
        return None;
    }
    let Term::Tuple(from) = from else { return None };
    let [Term::Pid(caller), tag] = from.elements.as_mut_slice() else {
        return None;
    };
    Some((
        caller.clone(),
        std::mem::replace(tag, nil()),
        std::mem::replace(request, nil()),
    ))
}

/// The request of a `{'$gen_cast', Request}`, taken out of it.
fn take_gen_cast(message: &mut Term) -> Option<Term> {
    let Term::Tuple(tuple) = message else {
        return None;
    };
    let [head, request] = tuple.elements.as_mut_slice() else {
        return None;
    };
    is_atom(head, "$gen_cast").then(|| std::mem::replace(request, nil()))
}

fn nil() -> Term {
    Term::from(erl_dist::term::List::nil())
}

/// The address of a message's sender `pid`. A stream of messages mostly
/// comes from one process: the connection remembers the last sender's
/// proxy, which saves the node's proxy table a lookup per message.
fn sender_of(inner: &NodeInner, peer: PeerRef, pid: &Pid) -> Option<ActorRef> {
    if let Some(peer) = peer {
        if let Some((last, actor)) = &*peer.last_sender.lock() {
            if last == pid && actor.is_alive() {
                return Some(actor.clone());
            }
        }
    }
    let actor = inner.actor_of(pid)?;
    if let Some(peer) = peer {
        *peer.last_sender.lock() = Some((pid.clone(), actor.clone()));
    }
    Some(actor)
}

fn link(inner: &NodeInner, from: &Pid, to: &Pid) {
    match inner.local_actor(to) {
        Some(local) => {
            if let Some(remote) = inner.remote_of(from) {
                remote.link_from(&local);
            }
        }
        // Linking to a process that does not exist: the linker gets noproc.
        None => inner.send_ctl(
            &from.node.name,
            Message::exit(to.clone(), from.clone(), atom("noproc")),
        ),
    }
}

fn unlink(inner: &NodeInner, from: &Pid, to: &Pid) {
    if let (Some(remote), Some(local)) = (inner.existing_proxy(from), inner.local_actor(to)) {
        remote.unlink_from(&local);
    }
}

/// A remote process linked to local ones ended: its proxy ends with the
/// same reason, and the kernel's links carry it to every local actor.
fn link_exit(inner: &NodeInner, from: &Pid, reason: &Term) {
    if let Some(remote) = inner.existing_proxy(from) {
        remote.link_exit(reason::from_term(reason));
    }
}

fn exit(inner: &NodeInner, from: &Pid, to: &Pid, reason: &Term) {
    let Some(local) = inner.local_actor(to) else {
        return undeliverable(inner, &to.to_string());
    };
    match inner.remote_of(from) {
        Some(remote) => remote.exit_to(&local, reason::from_term(reason)),
        None => local.exit(reason::from_term(reason)),
    }
}

fn monitor(inner: &NodeInner, from: &Pid, to: PidOrAtom, reference: Reference) {
    let target = match &to {
        PidOrAtom::Pid(pid) => inner.local_actor(pid),
        PidOrAtom::Atom(name) => inner.system.whereis(&name.name),
    };
    match target {
        Some(target) => inner
            .watches
            .add(inner, from.clone(), &target, to, reference),
        // Monitoring what does not exist: `'DOWN'` with noproc at once.
        None => inner.send_ctl(
            &from.node.name,
            Message::monitor_p_exit(to, from.clone(), reference, atom("noproc")),
        ),
    }
}

fn monitor_exit(
    inner: &NodeInner,
    peer: Option<&Arc<Peer>>,
    _from: PidOrAtom,
    to: &Pid,
    reference: Reference,
    reason: &Term,
) {
    if inner
        .calls
        .complete(&reference, Outcome::Down(reason::from_term(reason)))
    {
        return;
    }
    let watcher = peer
        .and_then(|p| p.unwatch(&reference))
        .map(|(watcher, _)| watcher)
        .or_else(|| inner.local_actor(to));
    if let Some(watcher) = watcher {
        watcher.send(RemoteDown {
            reference,
            reason: reason::from_term(reason),
        });
    }
}
