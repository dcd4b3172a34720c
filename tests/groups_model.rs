//! Issue 13, process groups against a model: random sequences of {spawn,
//! join, leave (by the system or by the actor itself), broadcast (from
//! the system or from an actor), kill, stop, crash, monitor a group,
//! demonitor it} over up to eight actors and two groups run against a
//! live system, one step at a time, and against a plain model (a count of
//! joins per actor per group, who is alive, which group monitors are on).
//!
//! After every step the test's inbox must have received exactly the
//! predicted messages: one `GroupChanged` per join and leave of a watched
//! group (an actor's end: one notice per group, naming it once per join),
//! one `Down` per death, one copy of each broadcast per live member; every
//! notice about an actor's end comes before its `Down`, and when the `Down`
//! is read, `members` no longer lists the dead actor (it left before anyone
//! was told). Then `members` of each group must equal the model's.

use std::collections::BTreeMap;

#[allow(dead_code)]
mod common;
#[path = "common/model_config.rs"]
mod model_config;

use common::WAIT;
use ferrotp::{
    Actor, ActorId, ActorRef, Bridge, Context, Down, GroupChanged, GroupError, GroupMonitorRef,
    Handlers, Inbox, Stop, System,
};
use proptest::prelude::*;

const GROUPS: [&str; 2] = ["red", "blue"];
const MAX_SPAWNED: usize = 8;

/// A group member: joins, leaves and broadcasts on request, and reports
/// each `Hello` it gets to the test's inbox.
struct Member {
    report: ActorRef,
}

#[derive(Clone)]
struct Hello(u64);
struct JoinSelf(&'static str);
struct LeaveSelf(&'static str);
struct BroadcastFrom(&'static str, u64);
struct Crash;

/// What a member reports: the hello's number and who got it.
struct Got(u64, ActorId);

impl Member {
    fn hello(&mut self, Hello(n): Hello, ctx: &mut Context<Self>) {
        ctx.send(&self.report, Got(n, ctx.myself().id()));
    }
    fn join(&mut self, JoinSelf(group): JoinSelf, ctx: &mut Context<Self>) {
        ctx.join(group);
        ctx.reply(());
    }
    fn leave(&mut self, LeaveSelf(group): LeaveSelf, ctx: &mut Context<Self>) {
        let left = ctx.leave(group);
        ctx.reply(left);
    }
    fn broadcast(&mut self, BroadcastFrom(group, n): BroadcastFrom, ctx: &mut Context<Self>) {
        let sent = ctx.broadcast(group, Hello(n));
        ctx.reply(sent);
    }
    fn crash(&mut self, _: Crash, _ctx: &mut Context<Self>) {
        panic!("model crash");
    }
}

impl Actor for Member {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::hello)
            .on(Self::join)
            .on(Self::leave)
            .on(Self::broadcast)
            .on(Self::crash)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Spawn,
    Join {
        actor: usize,
        group: usize,
        by_self: bool,
    },
    Leave {
        actor: usize,
        group: usize,
        by_self: bool,
    },
    Broadcast {
        group: usize,
        from: Option<usize>,
    },
    Kill(usize),
    Stop(usize),
    Crash(usize),
    Monitor(usize),
    Demonitor(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let actor = 0..MAX_SPAWNED;
    let group = 0..GROUPS.len();
    prop_oneof![
        1 => Just(Op::Spawn),
        4 => (actor.clone(), group.clone(), any::<bool>())
            .prop_map(|(actor, group, by_self)| Op::Join { actor, group, by_self }),
        3 => (actor.clone(), group.clone(), any::<bool>())
            .prop_map(|(actor, group, by_self)| Op::Leave { actor, group, by_self }),
        2 => (group.clone(), proptest::option::of(actor.clone()))
            .prop_map(|(group, from)| Op::Broadcast { group, from }),
        1 => actor.clone().prop_map(Op::Kill),
        1 => actor.clone().prop_map(Op::Stop),
        1 => actor.prop_map(Op::Crash),
        1 => group.clone().prop_map(Op::Monitor),
        1 => group.prop_map(Op::Demonitor),
    ]
}

/// What one step must deliver to the test's inbox.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
enum Expect {
    /// A notice: the group, the ids that joined, the ids that left.
    Changed(usize, Vec<ActorId>, Vec<ActorId>),
    Down(ActorId),
    Got(u64, ActorId),
}

#[derive(Default)]
struct Model {
    alive: Vec<bool>,
    /// Joins per group, per actor index.
    joins: [BTreeMap<usize, usize>; 2],
    monitored: [bool; 2],
}

struct Harness {
    system: System,
    bridge: Bridge,
    inbox: Inbox,
    actors: Vec<ActorRef>,
    monitors: [Option<GroupMonitorRef>; 2],
    model: Model,
    hellos: u64,
}

impl Harness {
    fn new(system: System) -> Self {
        let bridge = system.bridge();
        let inbox = system.inbox();
        let mut harness = Harness {
            system,
            bridge,
            inbox,
            actors: Vec::new(),
            monitors: [None, None],
            model: Model::default(),
            hellos: 0,
        };
        for _ in 0..3 {
            harness.spawn();
        }
        harness
    }

    fn spawn(&mut self) {
        let member = self.system.spawn(Member {
            report: self.inbox.actor().clone(),
        });
        self.inbox.monitor(&member);
        self.actors.push(member);
        self.model.alive.push(true);
    }

    /// The actor an op names, if that many were spawned.
    fn pick(&self, i: usize) -> Option<usize> {
        (!self.actors.is_empty()).then(|| i % self.actors.len())
    }

    fn id(&self, i: usize) -> ActorId {
        self.actors[i].id()
    }

    fn ids_of(&self, i: usize, times: usize) -> Vec<ActorId> {
        vec![self.id(i); times]
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let mut expect = Vec::new();
        match *op {
            Op::Spawn => {
                if self.actors.len() < MAX_SPAWNED {
                    self.spawn();
                }
            }
            Op::Join {
                actor,
                group,
                by_self,
            } => {
                let i = self.pick(actor).unwrap();
                let alive = self.model.alive[i];
                let name = GROUPS[group];
                if by_self && alive {
                    let () = self
                        .bridge
                        .call(&self.actors[i], JoinSelf(name), WAIT)
                        .unwrap();
                } else {
                    let joined = self.system.join(name, &self.actors[i]);
                    let want = if alive {
                        Ok(())
                    } else {
                        Err(GroupError::NotAlive(self.id(i)))
                    };
                    prop_assert_eq!(joined, want);
                }
                if alive {
                    *self.model.joins[group].entry(i).or_default() += 1;
                    if self.model.monitored[group] {
                        expect.push(Expect::Changed(group, self.ids_of(i, 1), vec![]));
                    }
                }
            }
            Op::Leave {
                actor,
                group,
                by_self,
            } => {
                let i = self.pick(actor).unwrap();
                let name = GROUPS[group];
                let left = if by_self && self.model.alive[i] {
                    self.bridge
                        .call(&self.actors[i], LeaveSelf(name), WAIT)
                        .unwrap()
                } else {
                    self.system.leave(name, &self.actors[i])
                };
                let joins = self.model.joins[group].get(&i).copied().unwrap_or(0);
                prop_assert_eq!(left, joins > 0);
                if joins > 0 {
                    if joins == 1 {
                        self.model.joins[group].remove(&i);
                    } else {
                        self.model.joins[group].insert(i, joins - 1);
                    }
                    if self.model.monitored[group] {
                        expect.push(Expect::Changed(group, vec![], self.ids_of(i, 1)));
                    }
                }
            }
            Op::Broadcast { group, from } => {
                self.hellos += 1;
                let n = self.hellos;
                let name = GROUPS[group];
                let from = from
                    .and_then(|f| self.pick(f))
                    .filter(|f| self.model.alive[*f]);
                let sent = match from {
                    Some(f) => self
                        .bridge
                        .call(&self.actors[f], BroadcastFrom(name, n), WAIT)
                        .unwrap(),
                    None => self.system.broadcast(name, Hello(n)),
                };
                let members: Vec<usize> = self.model.joins[group].keys().copied().collect();
                prop_assert_eq!(sent, members.len());
                for i in members {
                    expect.push(Expect::Got(n, self.id(i)));
                }
            }
            Op::Kill(actor) | Op::Stop(actor) | Op::Crash(actor) => {
                let i = self.pick(actor).unwrap();
                if !self.model.alive[i] {
                    return Ok(());
                }
                match op {
                    Op::Kill(_) => self.actors[i].kill(),
                    Op::Stop(_) => self.actors[i].send(Stop),
                    _ => self.actors[i].send(Crash),
                }
                self.model.alive[i] = false;
                for group in 0..GROUPS.len() {
                    if let Some(joins) = self.model.joins[group].remove(&i) {
                        if self.model.monitored[group] {
                            expect.push(Expect::Changed(group, vec![], self.ids_of(i, joins)));
                        }
                    }
                }
                expect.push(Expect::Down(self.id(i)));
            }
            Op::Monitor(group) => {
                if self.monitors[group].is_none() {
                    let (monitor, members) = self.inbox.monitor_group(GROUPS[group]);
                    let ids: Vec<ActorId> = members.iter().map(ActorRef::id).collect();
                    prop_assert_eq!(ids, self.model_members(group));
                    self.monitors[group] = Some(monitor);
                    self.model.monitored[group] = true;
                }
            }
            Op::Demonitor(group) => {
                if let Some(monitor) = self.monitors[group].take() {
                    prop_assert!(self.inbox.demonitor_group(monitor));
                    self.model.monitored[group] = false;
                }
            }
        }
        self.check_delivered(expect)?;
        for (group, name) in GROUPS.iter().enumerate() {
            let live: Vec<ActorId> = self.system.members(name).iter().map(ActorRef::id).collect();
            prop_assert_eq!(live, self.model_members(group));
        }
        Ok(())
    }

    /// The model's members of `group`: by id, once per join.
    fn model_members(&self, group: usize) -> Vec<ActorId> {
        let mut ids: Vec<ActorId> = self.model.joins[group]
            .iter()
            .flat_map(|(i, joins)| vec![self.id(*i); *joins])
            .collect();
        ids.sort();
        ids
    }

    fn check_delivered(&mut self, mut expect: Vec<Expect>) -> Result<(), TestCaseError> {
        let mut got = Vec::new();
        for _ in 0..expect.len() {
            let envelope = self.inbox.recv(WAIT);
            prop_assert!(
                envelope.is_ok(),
                "expected {:?}, got only {:?}",
                expect,
                got
            );
            let envelope = envelope.unwrap();
            let kind = envelope.type_name();
            let envelope = match envelope.downcast::<GroupChanged>() {
                Ok(changed) => {
                    let group = GROUPS.iter().position(|g| *g == changed.group).unwrap();
                    prop_assert_eq!(Some(changed.monitor), self.monitors[group]);
                    let ids = |v: &[ActorRef]| v.iter().map(ActorRef::id).collect();
                    got.push(Expect::Changed(
                        group,
                        ids(&changed.joined),
                        ids(&changed.left),
                    ));
                    continue;
                }
                Err(envelope) => envelope,
            };
            let envelope = match envelope.downcast::<Down>() {
                Ok(down) => {
                    // Told of the end: it is no member any more.
                    for group in GROUPS {
                        let members = self.system.members(group);
                        prop_assert!(members.iter().all(|m| m.id() != down.actor));
                    }
                    // Every notice of its leaving came before.
                    let pending = expect.iter().any(|e| {
                        matches!(e, Expect::Changed(_, _, left) if left.contains(&down.actor))
                            && !got.contains(e)
                    });
                    prop_assert!(!pending, "the Down of {} overtook its leave", down.actor);
                    got.push(Expect::Down(down.actor));
                    continue;
                }
                Err(envelope) => envelope,
            };
            match envelope.downcast::<Got>() {
                Ok(Got(n, who)) => got.push(Expect::Got(n, who)),
                Err(_) => prop_assert!(false, "an unexpected {}", kind),
            }
        }
        // Whatever else was sent this step has arrived by now (notices are
        // queued by the change itself, and `Got`s before the expected ones
        // would have shown as unexpected): nothing more may be waiting.
        expect.sort();
        got.sort();
        prop_assert_eq!(got, expect);
        Ok(())
    }

    /// Ends the run: demonitors, then checks that nothing else arrived.
    fn finish(mut self) -> Result<(), TestCaseError> {
        for monitor in self.monitors.iter_mut().filter_map(Option::take) {
            prop_assert!(self.inbox.demonitor_group(monitor));
        }
        let alive = self.model.alive.iter().filter(|a| **a).count();
        self.system.shutdown(WAIT).unwrap();
        for _ in 0..alive {
            let down = self.inbox.recv(WAIT).unwrap();
            prop_assert!(down.is::<Down>(), "unexpected {}", down.type_name());
        }
        let extra = self.inbox.try_recv().map(|e| e.type_name());
        prop_assert!(extra.is_none(), "unexpected {:?}", extra);
        Ok(())
    }
}

ferrotp::on_each_executor! {
    proptest! {
        #![proptest_config(model_config::config(96))]

        #[test]
        fn joins_leaves_broadcasts_and_ends_follow_the_model(
            ops in proptest::collection::vec(op(), 1..60)
        ) {
            ferrotp::silence_actor_panics();
            let mut harness = Harness::new(new_system());
            for op in &ops {
                harness.step(op)?;
            }
            harness.finish()?;
        }
    }
}
