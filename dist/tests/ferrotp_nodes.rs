//! Two ferrotp nodes in one process, no Erlang needed: the EPMD served
//! from this process, the handshake both ways, messages by name and pid,
//! gen_server calls, links and monitors, and `noconnection` when a node stops.

mod common;

use common::ferrotp_pair as pair;

use std::time::Duration;

use common::{cookie, eventually, free_port, next, node_name, on_epmd, sink, trace, Got, WAIT};
use ferrotp::{Actor, ActorRef, Context, Down, ExitReason, Handlers, Stopped, System};
use ferrotp_dist::codec::{atom, is_atom};
use ferrotp_dist::term::{Atom, Term};
use ferrotp_dist::{is_noconnection, Node, NodeDown, RemoteCallError};

#[test]
fn two_ferrotp_nodes_talk_through_their_own_epmd() {
    let (_sys_a, a, sys_b, b) = pair(free_port());
    let (sink_b, got) = sink(&sys_b, "sink");
    b.accept::<(Atom, ActorRef)>(&sink_b);

    assert!(a.connect(b.name(), Duration::from_secs(30)));
    assert_eq!(a.nodes(), vec![b.name().to_string()]);

    // By name, with a pid inside: b sees a's actor as a proxy.
    let (sink_a, got_a) = sink(&_sys_a, "sink");
    a.send(&a.remote("sink", b.name()), (atom("hello"), sink_a.clone()));
    let ((tag, from_a), _) = next::<(Atom, ActorRef)>(&got);
    assert_eq!(tag.name, "hello");
    // And back, by pid: it reaches a's sink as a raw term.
    b.send(&from_a, atom("back"));
    let (term, _) = next::<ferrotp_dist::term::Term>(&got_a);
    assert_eq!(term, atom("back"));
    a.stop();
    b.stop();
}

/// Panics on `crash`; answers `get` with its count of messages.
struct Worker(i64);

impl Worker {
    fn on_term(&mut self, term: Term, ctx: &mut Context<Self>) {
        if is_atom(&term, "crash") {
            panic!("boom");
        }
        if is_atom(&term, "get") {
            ctx.reply(self.0);
        } else {
            self.0 += 1;
        }
    }
}

impl Actor for Worker {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::on_term)
    }
}

/// `node`'s view of an actor of the other node: sends `actor` over by
/// name and returns the proxy the other side decoded.
fn proxy_of(from: &Node, to: &Node, to_sink: &Got, actor: &ActorRef) -> ActorRef {
    from.send(
        &from.remote("sink", to.name()),
        (atom("pid"), actor.clone()),
    );
    next::<(Atom, ActorRef)>(to_sink).0 .1
}

#[test]
fn gen_server_calls_links_and_monitors_between_two_ferrotp_nodes() {
    ferrotp::silence_actor_panics();
    let (sys_a, a, sys_b, b) = pair(free_port());
    let (sink_a, got_a) = sink(&sys_a, "sink");
    let (sink_b, got_b) = sink(&sys_b, "sink");
    a.accept::<(Atom, ActorRef)>(&sink_a);
    b.accept::<(Atom, ActorRef)>(&sink_b);

    // gen_server call across: b's worker answers a's Node::call.
    let worker_b = sys_b
        .spawn_with(Worker(0), ferrotp::SpawnOptions::new().name("worker"))
        .unwrap();
    let by_name = a.remote("worker", b.name());
    a.send(&by_name, atom("tick"));
    a.send(&by_name, atom("tick"));
    let count: i64 = a.call(&by_name, atom("get"), WAIT).unwrap();
    assert_eq!(count, 2);
    let missing = a.call::<i64>(&a.remote("nobody", b.name()), atom("get"), WAIT);
    assert_eq!(missing, Err(RemoteCallError::Down(ExitReason::NoProc)));

    // a links to and monitors b's worker; it panics.
    let remote_worker = proxy_of(&b, &a, &got_a, &worker_b);
    let bridge_a = sys_a.bridge();
    bridge_a.link(&remote_worker);
    let monitor = bridge_a.monitor(&remote_worker);
    wait_for_monitor(&worker_b);
    a.send(&remote_worker, atom("crash"));
    let (stopped, down) = stopped_and_down(&bridge_a);
    assert_eq!(stopped.actor, remote_worker.id());
    assert_eq!(stopped.reason, ExitReason::Panic("boom".into()));
    assert_eq!(
        (down.monitor, down.reason),
        (monitor, ExitReason::Panic("boom".into()))
    );

    // And the other way: b watches a's worker, killed by a.
    let worker_a = sys_a.spawn(Worker(0));
    let remote_a = proxy_of(&a, &b, &got_b, &worker_a);
    let bridge_b = sys_b.bridge();
    bridge_b.link(&remote_a);
    let monitor = bridge_b.monitor(&remote_a);
    wait_for_monitor(&worker_a);
    worker_a.kill();
    let (stopped, down) = stopped_and_down(&bridge_b);
    assert_eq!(stopped.reason, ExitReason::Killed);
    assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Killed));
    a.stop();
    b.stop();
}

/// What a thread sends to a remote address and then calls on it arrives
/// in that order, by name and by pid: the call never overtakes the sends
/// (both are written by the sending thread, in turn).
#[test]
fn a_call_keeps_its_place_after_the_sends_of_the_same_thread() {
    let (sys_a, a, sys_b, b) = pair(free_port());
    let (sink_a, got_a) = sink(&sys_a, "sink");
    a.accept::<(Atom, ActorRef)>(&sink_a);
    let worker = sys_b
        .spawn_with(Worker(0), ferrotp::SpawnOptions::new().name("worker"))
        .unwrap();
    let by_name = a.remote("worker", b.name());
    let by_pid = proxy_of(&b, &a, &got_a, &worker);
    let mut sent = 0;
    for round in 0..1_000i64 {
        let to = if round % 2 == 0 { &by_name } else { &by_pid };
        for _ in 0..round % 4 {
            a.send(to, atom("tick"));
            sent += 1;
        }
        let count: i64 = a.call(to, atom("get"), WAIT).unwrap();
        assert_eq!(count, sent, "round {round}: the call overtook a send");
    }
    a.stop();
    b.stop();
}

/// A fast stream from two senders, interleaved: every message arrives,
/// in the order it was sent, with its own sender. (The stream leaves in
/// batches through the writer thread; the receiving reader remembers the
/// last sender's proxy.)
#[test]
fn a_stream_from_two_senders_arrives_whole_in_order_with_its_senders() {
    let (sys_a, a, sys_b, b) = pair(free_port());
    let (_sink, got) = sink(&sys_b, "sink");
    let (x, y) = (sys_a.inbox(), sys_a.inbox());
    let to = a.remote("sink", b.name());
    let n = 20_000i64;
    for i in 0..n {
        let from = if i % 3 == 0 { x.actor() } else { y.actor() };
        to.send_from(a.to_term(i), from);
    }
    let (pid_x, pid_y) = (a.to_term(x.actor().clone()), a.to_term(y.actor().clone()));
    for i in 0..n {
        let (term, sender) = next::<Term>(&got);
        assert_eq!(term, a.to_term(i), "message {i}");
        let sender = b.to_term(sender.expect("a sender"));
        let expected = if i % 3 == 0 { &pid_x } else { &pid_y };
        assert_eq!(&sender, expected, "the sender of message {i}");
    }
    a.stop();
    b.stop();
}

/// A remote monitor placed while its target dies (or after) still fires:
/// the watching side always hears of the end, `Killed` or `NoProc`.
#[test]
fn a_monitor_racing_its_targets_end_always_fires() {
    let (sys_a, a, sys_b, b) = pair(free_port());
    let (sink_a, got_a) = sink(&sys_a, "sink");
    a.accept::<(Atom, ActorRef)>(&sink_a);
    let watcher = sys_a.inbox();
    for round in 0..300 {
        let worker = sys_b.spawn(Worker(0));
        let killer = {
            let worker = worker.clone();
            std::thread::spawn(move || worker.kill())
        };
        // Its proxy on a monitors it on b as it is made.
        let remote = proxy_of(&b, &a, &got_a, &worker);
        let monitor = watcher.monitor(&remote);
        killer.join().unwrap();
        let down: Down = watcher
            .recv(WAIT)
            .unwrap_or_else(|_| panic!("round {round}: no Down"))
            .downcast()
            .unwrap();
        assert_eq!(down.monitor, monitor);
        assert!(
            matches!(down.reason, ExitReason::Killed | ExitReason::NoProc),
            "round {round}: {:?}",
            down.reason
        );
    }
    a.stop();
    b.stop();
}

/// A `Stop` sent to a remote pid's address ends the address (answered
/// with `Stopped`, as an actor's runtime answers it); the remote process
/// goes on, and its pid arriving again gets a fresh address.
#[test]
fn a_stop_ends_the_address_not_the_remote_process() {
    let (sys_a, a, sys_b, b) = pair(free_port());
    let (sink_a, got_a) = sink(&sys_a, "sink");
    a.accept::<(Atom, ActorRef)>(&sink_a);
    let worker = sys_b.spawn(Worker(0));
    let remote = proxy_of(&b, &a, &got_a, &worker);
    let asker = sys_a.inbox();
    asker.send(&remote, ferrotp::Stop);
    let stopped: Stopped = asker.recv(WAIT).unwrap().downcast().unwrap();
    assert_eq!(
        (stopped.actor, stopped.reason),
        (remote.id(), ExitReason::Normal)
    );
    assert_eq!(remote.exit_reason(), Some(ExitReason::Normal));
    assert!(worker.is_alive());
    let again = proxy_of(&b, &a, &got_a, &worker);
    assert_ne!(again.id(), remote.id());
    a.send(&again, atom("tick"));
    let count: i64 = a.call(&again, atom("get"), WAIT).unwrap();
    assert_eq!(count, 1);
    a.stop();
    b.stop();
}

#[test]
fn a_stopped_node_fires_noconnection_on_the_other() {
    let (sys_a, a, sys_b, b) = pair(free_port());
    let (sink_a, got_a) = sink(&sys_a, "sink");
    a.accept::<(Atom, ActorRef)>(&sink_a);
    let worker_b = sys_b.spawn(Worker(0));
    let remote = proxy_of(&b, &a, &got_a, &worker_b);
    let bridge = sys_a.bridge();
    bridge.link(&remote);
    let monitor = bridge.monitor(&remote);
    wait_for_monitor(&worker_b);
    let (watcher, nodes) = sink(&sys_a, "watcher");
    a.monitor_nodes(&watcher);
    b.stop();
    let (stopped, down) = stopped_and_down(&bridge);
    assert!(is_noconnection(&stopped.reason), "{:?}", stopped.reason);
    assert_eq!(down.monitor, monitor);
    assert!(is_noconnection(&down.reason), "{:?}", down.reason);
    let (node_down, _) = next::<NodeDown>(&nodes);
    assert_eq!(node_down.node, b.name());
    a.stop();
}

/// Waits until the remote side's monitor and link on `actor` are in
/// place (the node's own kernel holds a monitor too, from when the actor
/// got a pid): both are signals that travel (as in Erlang, `link/1` returns
/// before the other node has linked), and a kill that overtakes the link
/// would rightly give `noproc`.
fn wait_for_monitor(actor: &ActorRef) {
    eventually("the remote side monitors and links the actor", || {
        let info = actor.info();
        info.monitored_by.len() >= 2 && !info.links.is_empty()
    });
}

fn stopped_and_down(bridge: &ferrotp::Bridge) -> (Stopped, Down) {
    let (mut stopped, mut down) = (None, None);
    while stopped.is_none() || down.is_none() {
        let envelope = bridge.recv(WAIT).expect("link and monitor fire");
        match envelope.downcast::<Stopped>() {
            Ok(s) => stopped = Some(s),
            Err(envelope) => down = Some(envelope.downcast::<Down>().expect("a Down")),
        }
    }
    (stopped.unwrap(), down.unwrap())
}

/// Answers each request with the request itself; `{crash, _}` panics
/// without answering; `{hang, _}` never answers.
struct Echo;

impl Echo {
    fn on_term(&mut self, term: Term, ctx: &mut Context<Self>) {
        match &term {
            Term::Tuple(t) if is_atom(&t.elements[0], "crash") => panic!("asked to crash"),
            Term::Tuple(t) if is_atom(&t.elements[0], "hang") => {}
            _ => ctx.reply(term),
        }
    }
}

impl Actor for Echo {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::on_term)
    }
}

#[test]
fn concurrent_calls_get_their_own_replies_and_leave_no_monitors_behind() {
    ferrotp::silence_actor_panics();
    let (_sys_a, a, sys_b, b) = pair(free_port());
    let echo = sys_b
        .spawn_with(Echo, ferrotp::SpawnOptions::new().name("echo"))
        .unwrap();
    let watched_before = echo.info().monitored_by.len();
    let target = a.remote("echo", b.name());
    std::thread::scope(|scope| {
        for thread in 0..8i64 {
            let (a, target) = (&a, &target);
            scope.spawn(move || {
                for i in 0..200i64 {
                    let request = (atom("n"), thread * 1000 + i);
                    let (_, got): (Atom, i64) = a.call(target, request, WAIT).unwrap();
                    assert_eq!(got, thread * 1000 + i, "a reply went to another call");
                }
            });
        }
    });
    // Each call's monitor was taken back once it had its reply.
    eventually("every call's monitor is removed", || {
        echo.info().monitored_by.len() == watched_before
    });

    // A call the server never answers times out, and its monitor goes too.
    let hang = a.call::<Term>(&target, (atom("hang"), 1), Duration::from_millis(200));
    assert_eq!(hang, Err(RemoteCallError::Timeout));
    eventually("the timed-out call's monitor is removed", || {
        echo.info().monitored_by.len() == watched_before
    });

    // A server that dies during the call fails it with its reason.
    let crash = a.call::<Term>(&target, (atom("crash"), 1), WAIT);
    assert_eq!(
        crash,
        Err(RemoteCallError::Down(ExitReason::Panic(
            "asked to crash".into()
        )))
    );

    // A call waiting when the other node goes fails with noconnection.
    sys_b
        .spawn_with(Echo, ferrotp::SpawnOptions::new().name("echo"))
        .unwrap();
    let waiting = std::thread::scope(|scope| {
        let call = scope.spawn(|| a.call::<Term>(&target, (atom("hang"), 2), WAIT));
        eventually("the call is waiting on b", || {
            sys_b
                .whereis("echo")
                .is_some_and(|e| e.info().monitored_by.len() > watched_before)
        });
        b.stop();
        call.join().unwrap()
    });
    match waiting {
        Err(RemoteCallError::Down(reason)) => assert!(is_noconnection(&reason), "{reason:?}"),
        other => panic!("expected noconnection, got {other:?}"),
    }
    a.stop();
}

#[test]
fn proxies_for_remote_pids_are_bounded_and_tied_ones_kept() {
    trace();
    let epmd = free_port();
    let cookie = cookie();
    let (sys_a, sys_b) = (System::new(), System::new());
    let a = Node::start(
        &sys_a,
        on_epmd(node_name("a"), &cookie, epmd).max_proxies(20),
    )
    .unwrap();
    let b = Node::start(&sys_b, on_epmd(node_name("b"), &cookie, epmd)).unwrap();
    let (sink_a, got_a) = sink(&sys_a, "sink");
    a.accept::<(Atom, ActorRef)>(&sink_a);

    // The first pid's proxy is monitored on a: it is never retired.
    let (first, first_got) = sink(&sys_b, "first");
    let tied = proxy_of(&b, &a, &got_a, &first);
    let bridge = sys_a.bridge();
    bridge.monitor(&tied);
    // Then 200 more pids of long-lived actors, each a proxy on a.
    let (oldest, oldest_got) = sink(&sys_b, "oldest");
    let retired = proxy_of(&b, &a, &got_a, &oldest);
    let mut last = None;
    for _ in 0..200 {
        last = Some(proxy_of(&b, &a, &got_a, &sys_b.spawn(Worker(0))));
    }
    eventually("the table keeps to its bound", || {
        a.stats().proxies <= 20 && a.stats().retired_proxies >= 180
    });
    eventually("a retired proxy ends", || !retired.is_alive());
    assert!(tied.is_alive(), "a monitored proxy is kept");
    assert!(last.unwrap().is_alive(), "the latest proxy is kept");
    // The tied proxy still carries messages.
    a.send(&tied, atom("still here"));
    assert_eq!(next::<Term>(&first_got).0, atom("still here"));
    // A retired pid arriving again gets a fresh proxy that works.
    let fresh = proxy_of(&b, &a, &got_a, &oldest);
    assert_ne!(fresh.id(), retired.id());
    a.send(&fresh, atom("again"));
    assert_eq!(next::<Term>(&oldest_got).0, atom("again"));
    a.stop();
    b.stop();
}

/// A proxy killed as soon as it is made (before the node's kernel actor
/// watches it) still kills its remote process: killing an address for a
/// remote pid kills the process, however soon.
#[test]
fn a_proxy_killed_at_once_kills_its_remote_process() {
    let (sys_a, a, sys_b, b) = pair(free_port());
    let (sink_a, got_a) = sink(&sys_a, "sink");
    a.accept::<(Atom, ActorRef)>(&sink_a);
    let watcher = sys_b.inbox();
    for round in 0..200 {
        let worker = sys_b.spawn(Worker(0));
        let monitor = watcher.monitor(&worker);
        proxy_of(&b, &a, &got_a, &worker).kill();
        let down = watcher.recv(WAIT).expect("the worker ends");
        let down = down.downcast::<Down>().expect("a Down");
        assert_eq!(
            (down.monitor, down.reason),
            (monitor, ExitReason::Killed),
            "round {round}"
        );
    }
    a.stop();
    b.stop();
}
