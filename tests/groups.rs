//! Process groups (issue 13): join, leave, members, broadcast, group
//! monitors, and an actor's end, on both executors.
//!
//! "No notice after `demonitor_group`" and "no notice lost" are checked
//! after the work that could send one has been awaited (a reply, or the
//! system's shutdown, which waits for every actor to end).

use std::collections::BTreeMap;

#[allow(dead_code)]
mod common;

use common::{ask, crash, puppet, tell, WAIT};
use ferrotp::{
    Actor, ActorId, ActorRef, Context, Down, ExitReason, GroupChanged, GroupError, Handlers, Inbox,
    Stop,
};

fn changed(inbox: &Inbox) -> GroupChanged {
    let envelope = inbox.recv(WAIT).expect("a GroupChanged");
    assert!(envelope.sender().is_none(), "notices have no sender");
    let got = envelope.type_name();
    envelope
        .downcast()
        .unwrap_or_else(|_| panic!("expected a GroupChanged, got a {got}"))
}

fn ids(actors: &[ActorRef]) -> Vec<ActorId> {
    actors.iter().map(ActorRef::id).collect()
}

/// Counts what it is sent, and on each `Down` reports the members of
/// `group` it reads there.
struct Watcher {
    group: &'static str,
    report: ActorRef,
}

#[derive(Clone, Debug, PartialEq)]
struct Hello(u32);

/// What a `Watcher` saw on a `Down`: the dead actor and the members then.
struct SawOnDown(ActorId, Vec<ActorId>);

impl Watcher {
    fn down(&mut self, down: Down, ctx: &mut Context<Self>) {
        let members = ids(&ctx.system().members(self.group));
        ctx.send(&self.report, SawOnDown(down.actor, members));
    }
    fn hello(&mut self, hello: Hello, ctx: &mut Context<Self>) {
        let from = ctx.sender().map(ActorRef::id);
        ctx.send(&self.report, (hello, from));
    }
}

impl Actor for Watcher {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::down)
            .on(Self::hello)
            .on(Self::monitor_job)
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn join_counts_and_members_are_in_id_order() {
        let system = new_system();
        let inbox = system.inbox();
        let (a, b) = (system.spawn(puppet(&inbox)), system.spawn(puppet(&inbox)));
        assert_eq!(system.members("g"), vec![]);
        system.join("g", &b).unwrap();
        system.join("g", &a).unwrap();
        system.join("g", &b).unwrap();
        assert_eq!(ids(&system.members("g")), vec![a.id(), b.id(), b.id()]);
        assert_eq!(system.groups(), vec!["g".to_string()]);
        assert!(system.leave("g", &b));
        assert_eq!(ids(&system.members("g")), vec![a.id(), b.id()]);
        assert!(system.leave("g", &b));
        assert!(!system.leave("g", &b), "b has no join left");
        assert!(!system.leave("other", &a));
        assert!(system.leave("g", &a));
        assert_eq!(system.members("g"), vec![]);
        assert!(system.groups().is_empty(), "an empty group is gone");
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn a_dead_actor_cannot_join() {
        let system = new_system();
        let inbox = system.inbox();
        let a = system.spawn(puppet(&inbox));
        inbox.monitor(&a);
        a.send(Stop);
        let _ = inbox.recv(WAIT).expect("the Down");
        assert_eq!(system.join("g", &a), Err(GroupError::NotAlive(a.id())));
        assert_eq!(system.members("g"), vec![]);
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn broadcast_reaches_each_member_once_with_the_sender() {
        let system = new_system();
        let report = system.inbox();
        let watchers: Vec<ActorRef> = (0..3)
            .map(|_| system.spawn(Watcher { group: "g", report: report.actor().clone() }))
            .collect();
        for w in &watchers {
            system.join("g", w).unwrap();
        }
        system.join("g", &watchers[0]).unwrap();
        assert_eq!(system.broadcast("g", Hello(1)), 3);
        let mut got = BTreeMap::new();
        for _ in 0..3 {
            let envelope = report.recv(WAIT).unwrap();
            let sender = envelope.sender().unwrap().id();
            let (hello, from): (Hello, Option<ActorId>) = envelope.downcast().unwrap();
            assert_eq!((hello, from), (Hello(1), None));
            *got.entry(sender).or_insert(0) += 1;
        }
        assert_eq!(got.keys().copied().collect::<Vec<_>>(), ids(&watchers));
        assert!(got.values().all(|n| *n == 1));

        // From an actor: it is the sender, and as a member it gets one too.
        let bridge = system.bridge();
        let inbox = system.inbox();
        let sender = system.spawn(puppet(&inbox));
        system.join("g", &sender).unwrap();
        let sent = ask(&bridge, &sender, |ctx| {
            ctx.leave("g");
            ctx.broadcast("g", Hello(2))
        });
        assert_eq!(sent, 3);
        for _ in 0..3 {
            let (hello, from): (Hello, Option<ActorId>) =
                report.recv(WAIT).unwrap().downcast().unwrap();
            assert_eq!((hello, from), (Hello(2), Some(sender.id())));
        }
        assert_eq!(system.broadcast("nobody", Hello(3)), 0);
        system.shutdown(WAIT).unwrap();
        assert!(report.try_recv().is_none(), "one copy per member");
    }

    #[test]
    fn a_monitor_sees_the_members_then_every_change_in_order() {
        let system = new_system();
        let inbox = system.inbox();
        let a = system.spawn(puppet(&inbox));
        system.join("g", &a).unwrap();
        let watcher = system.inbox();
        let (monitor, members) = watcher.monitor_group("g");
        assert_eq!(members, vec![a.clone()]);
        let b = system.spawn(puppet(&inbox));
        system.join("g", &b).unwrap();
        system.join("g", &b).unwrap();
        assert!(system.leave("g", &a));
        system.join("other", &a).unwrap();
        let expected = [(vec![b.id()], vec![]), (vec![b.id()], vec![]), (vec![], vec![a.id()])];
        for (joined, left) in expected {
            let change = changed(&watcher);
            assert_eq!(change.monitor, monitor);
            assert_eq!(change.group, "g");
            assert_eq!((ids(&change.joined), ids(&change.left)), (joined, left));
        }
        // Its end takes back both joins at once, before its `Down`.
        watcher.monitor(&b);
        crash(&b);
        let change = changed(&watcher);
        assert_eq!((ids(&change.joined), ids(&change.left)), (vec![], vec![b.id(), b.id()]));
        let down: Down = watcher.recv(WAIT).unwrap().downcast().unwrap();
        assert_eq!(down.actor, b.id());
        assert!(watcher.demonitor_group(monitor));
        assert!(!watcher.demonitor_group(monitor));
        system.join("g", &a).unwrap();
        system.shutdown(WAIT).unwrap();
        assert!(watcher.try_recv().is_none(), "nothing after demonitor_group");
    }

    #[test]
    fn an_actor_leaves_its_groups_before_anyone_hears_of_its_end() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let report = system.inbox();
        let watcher = system.spawn(Watcher { group: "g", report: report.actor().clone() });
        let keeper = system.spawn(puppet(&report));
        system.join("g", &keeper).unwrap();
        for round in 0..200 {
            let member = system.spawn(puppet(&report));
            system.join("g", &member).unwrap();
            system.join("g", &member).unwrap();
            // The watcher monitors it from its own handler.
            watcher.send(MonitorJob(member.clone()));
            let ack = report.recv(WAIT).expect("the watcher's ack");
            assert!(ack.is::<()>(), "round {round}: got a {}", ack.type_name());
            match round % 4 {
                0 => member.kill(),
                1 => member.send(Stop),
                2 => crash(&member),
                _ => member.exit(ExitReason::Shutdown),
            }
            let envelope = report.recv(WAIT).unwrap_or_else(|e| {
                panic!("round {round}: no report of the watcher ({e}); member {:?}", member.info())
            });
            let SawOnDown(dead, members) = envelope.downcast().unwrap_or_else(|e| {
                panic!("expected the watcher's report, got a {}", e.type_name())
            });
            assert_eq!(dead, member.id());
            assert_eq!(members, vec![keeper.id()], "round {round}: the dead actor was still a member");
        }
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn no_notice_after_demonitor_group_returns() {
        let system = new_system();
        let inbox = system.inbox();
        let bridge = system.bridge();
        let churner = system.spawn(puppet(&inbox));
        let watcher = system.spawn(puppet(&inbox));
        for _ in 0..200 {
            // Joins and leaves stream in while the watcher demonitors.
            tell(&churner, |ctx| {
                for _ in 0..20 {
                    ctx.join("g");
                    ctx.leave("g");
                }
            });
            let member = churner.clone();
            let late = ask(&bridge, &watcher, move |ctx| {
                let (monitor, _) = ctx.monitor_group("g");
                // At least this notice is queued when the monitor goes.
                ctx.system().join("h", &member).unwrap();
                ctx.system().join("g", &member).unwrap();
                ctx.system().leave("g", &member);
                ctx.demonitor_group(monitor)
            });
            assert!(late, "the monitor was active until demonitored");
            // Any notice queued meanwhile reaches the watcher's mailbox
            // before this ping's reply; none may be handled.
        }
        ask(&bridge, &churner, |_| ());
        // Every notice is queued by now (under the join); the watcher
        // reads them all before it answers.
        ask(&bridge, &watcher, |_| ());
        // The same for plain code.
        let watching = system.inbox();
        let (monitor, _) = watching.monitor_group("g");
        system.join("g", &churner).unwrap();
        assert!(watching.demonitor_group(monitor));
        assert!(watching.try_recv().is_none(), "a notice passed after demonitor_group");
        system.shutdown(WAIT).unwrap();
        // Puppets have no handler for GroupChanged: one handled would be a
        // dead letter "no handler"; one screened out is dropped silently.
        assert_eq!(system.dead_letters(), 0, "a notice passed after demonitor_group");
    }

    #[test]
    fn a_dead_watcher_holds_no_monitor() {
        let system = new_system();
        let inbox = system.inbox();
        let member = system.spawn(puppet(&inbox));
        let watcher = system.spawn(puppet(&inbox));
        let bridge = system.bridge();
        let (_, members) = ask(&bridge, &watcher, |ctx| ctx.monitor_group("g"));
        assert!(members.is_empty());
        inbox.monitor(&watcher);
        watcher.kill();
        let _down: Down = inbox.recv(WAIT).unwrap().downcast().unwrap();
        for _ in 0..10 {
            system.join("g", &member).unwrap();
        }
        assert_eq!(system.dead_letters(), 0, "a notice went to the dead watcher");
        system.shutdown(WAIT).unwrap();
    }
}

/// Has a `Watcher` monitor an actor, then acknowledge to its report.
struct MonitorJob(ActorRef);

impl Watcher {
    fn monitor_job(&mut self, MonitorJob(target): MonitorJob, ctx: &mut Context<Self>) {
        ctx.monitor(&target);
        ctx.send(&self.report, ());
    }
}
