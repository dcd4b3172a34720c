//! Issue 3, semantics 11: links, monitors, trapping, kill and the registry
//! are race-free together. Random sequences of {spawn, link, unlink,
//! monitor, demonitor, trap on/off, panic, stop, kill, exit, register,
//! unregister} over 2–6 actors run against a live system, one step at a
//! time, and against a small pure model; after every step, every actor
//! must be in the predicted state (alive or dead with the predicted
//! reason, its links, monitors, trap flag and name) and every watcher must
//! have received exactly the predicted `Stopped`s and `Down`s.
//!
//! Each step is synchronous: the acting actor performs the operation in a
//! handler and replies through `Bridge::call`. Its consequences are awaited
//! as events: the test's inbox monitors every actor (one `Down` per death)
//! and every actor forwards each `Stopped` and `Down` it handles. Then a
//! ping to every live actor settles what needs no notice (a `Normal` exit
//! signal to an actor that does not trap exits is acted on before the ping).
//!
//! Only outcomes that do not depend on a race are predicted. The one
//! nondeterministic case is a notice addressed to an actor that itself dies
//! in the same step: whether it handles the notice before its own exit
//! signal depends on timing, so such notices are allowed but not required.
//!
//! The vocabulary and the pure model are in `common/lifecycle_spec.rs`;
//! the live side and the property are here.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

#[allow(dead_code)]
mod common;
#[path = "common/model_config.rs"]
mod model_config;
#[path = "common/lifecycle_spec.rs"]
mod spec;

use common::{puppet, Job, Ping, Pong, Puppet, WAIT};
use ferrotp::{
    ActorId, ActorRef, Bridge, CallError, Context, Down, Envelope, ExitReason, Inbox, MonitorRef,
    RegistryError, Stopped, System,
};
use proptest::prelude::*;
use spec::*;

// ---- the live side ----

/// A live system and the model it is held to.
struct Harness {
    model: Model,
    collector: Inbox,
    bridge: Bridge,
    system: System,
    actors: Vec<ActorRef>,
    index: HashMap<ActorId, usize>,
    /// The collector's monitor on each actor: its `Down` is the death notice.
    death_watch: HashMap<MonitorRef, usize>,
    /// Model monitor index -> the real monitor, and back.
    monitors: Vec<MonitorRef>,
    monitor_index: HashMap<MonitorRef, usize>,
    log: Vec<String>,
}

impl Harness {
    fn new(system: System) -> Self {
        let mut harness = Harness {
            model: Model::default(),
            collector: system.inbox(),
            bridge: system.bridge(),
            system,
            actors: Vec::new(),
            index: HashMap::new(),
            death_watch: HashMap::new(),
            monitors: Vec::new(),
            monitor_index: HashMap::new(),
            log: Vec::new(),
        };
        for _ in 0..2 {
            harness.step(&Op::Spawn { linked_to: None });
        }
        harness
    }

    fn puppet(&self) -> Puppet {
        puppet(&self.collector)
    }

    fn adopt(&mut self, actor: ActorRef) {
        let i = self.actors.len();
        let monitor = self.collector.monitor(&actor);
        self.death_watch.insert(monitor, i);
        self.index.insert(actor.id(), i);
        self.actors.push(actor);
    }

    /// Runs `f` in actor `i`'s handler and returns its result.
    fn ask<R: Send + 'static>(
        &self,
        i: usize,
        f: impl FnOnce(&mut Context<Puppet>) -> R + Send + 'static,
    ) -> R {
        let job = Job(Box::new(move |ctx| {
            let result = f(ctx);
            ctx.reply(result);
        }));
        self.bridge
            .call(&self.actors[i], job, WAIT)
            .unwrap_or_else(|e| panic!("actor {i} did not run its job: {e}\n{}", self.story()))
    }

    fn story(&self) -> String {
        self.log.join("\n")
    }

    /// Applies `op` to the system and the model, then checks the outcome.
    fn step(&mut self, op: &Op) {
        let n = self.actors.len();
        let alive: Vec<usize> = (0..n).filter(|&i| self.model.alive(i)).collect();
        // The acting actor: a live one, if any.
        let acting = |raw: u8| (!alive.is_empty()).then(|| alive[usize::from(raw) % alive.len()]);
        // Any actor.
        let any = |raw: u8| usize::from(raw) % n;
        // Any actor but `i`.
        let other = |raw: u8, i: usize| (n > 1).then(|| (i + 1 + usize::from(raw) % (n - 1)) % n);
        match *op {
            Op::Spawn { linked_to } => {
                if alive.len() >= MAX_ALIVE || n >= MAX_SPAWNED {
                    return;
                }
                let parent = linked_to.and_then(acting);
                let child = match parent {
                    Some(p) => {
                        let puppet = self.puppet();
                        self.ask(p, move |ctx| ctx.spawn_link(puppet))
                    }
                    None => self.system.spawn(self.puppet()),
                };
                self.model.spawn(parent);
                self.adopt(child);
            }
            Op::Link(a, b) | Op::Unlink(a, b) => {
                let Some(i) = acting(a) else { return };
                let Some(j) = other(b, i) else { return };
                let other = self.actors[j].clone();
                if matches!(op, Op::Link(..)) {
                    self.ask(i, move |ctx| ctx.link(&other));
                    self.model.link(i, j);
                } else {
                    self.ask(i, move |ctx| ctx.unlink(&other));
                    self.model.unlink(i, j);
                }
            }
            Op::Monitor(a, b) => {
                let Some(i) = acting(a) else { return };
                let Some(j) = other(b, i) else { return };
                let target = self.actors[j].clone();
                let monitor = self.ask(i, move |ctx| ctx.monitor(&target));
                let k = self.model.monitor(i, j);
                assert_eq!(k, self.monitors.len());
                self.monitors.push(monitor);
                self.monitor_index.insert(monitor, k);
            }
            Op::Demonitor(a, which) => {
                let Some(i) = acting(a) else { return };
                let held: Vec<usize> = (0..self.model.monitors.len())
                    .filter(|&k| self.model.monitors[k].watcher == i)
                    .collect();
                if held.is_empty() {
                    return;
                }
                let k = held[usize::from(which) % held.len()];
                let monitor = self.monitors[k];
                let removed = self.ask(i, move |ctx| ctx.demonitor(monitor));
                let expected = self.model.demonitor(k);
                assert_eq!(removed, expected, "demonitor's answer\n{}", self.story());
            }
            Op::Trap(a, on) => {
                let Some(i) = acting(a) else { return };
                self.ask(i, move |ctx| ctx.trap_exit(on));
                self.model.actors[i].trapping = on;
            }
            Op::Panic(a) => {
                let Some(i) = acting(a) else { return };
                let job = Job(Box::new(|_| panic!("{}", PANIC_TEXT)));
                let outcome = self.bridge.call::<(), _>(&self.actors[i], job, WAIT);
                assert_eq!(
                    outcome,
                    Err(CallError::Stopped(Reason::Panic.exit_reason()))
                );
                self.model.die(i, Reason::Panic);
            }
            Op::Stop(a) => {
                let i = any(a);
                let stopped = self.bridge.stop(&self.actors[i..=i], WAIT);
                let reason = stopped[0].as_ref().map(|s| s.reason.clone());
                if self.model.alive(i) {
                    assert_eq!(reason, Some(ExitReason::Normal), "{}", self.story());
                    self.model.die(i, Reason::Normal);
                } else {
                    assert_eq!(reason, Some(ExitReason::NoProc), "{}", self.story());
                }
            }
            Op::Kill(a) => {
                let i = any(a);
                self.actors[i].kill();
                self.model.die(i, Reason::Killed);
            }
            Op::Exit(a, reason) => {
                let i = any(a);
                self.actors[i].exit(reason.exit_reason());
                self.model.exit(i, reason);
            }
            Op::Register(a, name) => {
                let i = any(a);
                let name = NAMES[usize::from(name) % NAMES.len()];
                let got = self.system.register(name, &self.actors[i]);
                let allowed = self.model.register(i, name);
                let got_verdict = self.verdict(i, name, &got);
                let fits = got_verdict.is_some_and(|v| allowed.contains(&v));
                assert!(
                    fits,
                    "register({name}, {i}) gave {got:?}, expected one of {allowed:?}\n{}",
                    self.story()
                );
            }
            Op::Unregister(name) => {
                let name = NAMES[usize::from(name) % NAMES.len()];
                let got = self.system.unregister(name).map(|a| self.index[&a.id()]);
                assert_eq!(got, self.model.unregister(name), "{}", self.story());
            }
        }
        self.log.push(format!("{op:?}"));
        let effects = self.model.finish();
        self.await_effects(effects);
        self.check_state();
    }

    /// Waits for every predicted death and required notice; fails on any
    /// death or notice that was not predicted.
    fn await_effects(&mut self, effects: Effects) {
        let Effects {
            mut deaths,
            mut required,
            mut optional,
        } = effects;
        let deadline = Instant::now() + WAIT;
        while !deaths.is_empty() || !required.is_empty() {
            let Ok(envelope) = self.collector.recv_deadline(deadline) else {
                panic!(
                    "still waiting for deaths {deaths:?} and notices {required:?}\n{}",
                    self.story()
                );
            };
            self.account(envelope, &mut deaths, &mut required, &mut optional);
        }
        // Nothing else may have arrived: notices to actors that died were
        // forwarded before those actors' own Downs, which are all here.
        while let Some(envelope) = self.collector.try_recv() {
            self.account(envelope, &mut deaths, &mut required, &mut optional);
        }
    }

    /// Matches one arrival against what is still expected.
    fn account(
        &self,
        envelope: Envelope,
        deaths: &mut BTreeMap<usize, Reason>,
        required: &mut Vec<(usize, Note)>,
        optional: &mut Vec<(usize, Note)>,
    ) {
        let forwarded_by = envelope.sender().map(|s| self.index[&s.id()]);
        let Some(by) = forwarded_by else {
            // The collector's own monitor: a death notice.
            let down: Down = envelope.downcast().expect("the collector only monitors");
            let i = self.death_watch[&down.monitor];
            let reason = Reason::of(&down.reason);
            assert_eq!(
                deaths.remove(&i),
                Some(reason),
                "actor {i} died of {reason:?} unexpectedly (still expected deaths {deaths:?})\n{}",
                self.story()
            );
            return;
        };
        let note = match envelope.downcast::<Stopped>() {
            Ok(stopped) => Note::Stopped {
                from: if stopped.actor == ActorId::EXTERNAL {
                    From::External
                } else {
                    From::Actor(self.index[&stopped.actor])
                },
                reason: Reason::of(&stopped.reason),
            },
            Err(envelope) => {
                let down: Down = envelope
                    .downcast()
                    .expect("puppets forward Stopped and Down");
                Note::Down {
                    monitor: self.monitor_index[&down.monitor],
                    actor: self.index[&down.actor],
                    reason: Reason::of(&down.reason),
                }
            }
        };
        let arrival = (by, note);
        if let Some(at) = required.iter().position(|n| *n == arrival) {
            required.swap_remove(at);
        } else if let Some(at) = optional.iter().position(|n| *n == arrival) {
            optional.swap_remove(at);
        } else {
            panic!(
                "actor {by} got {note:?}, which was not predicted (still expected {required:?})\n{}",
                self.story()
            );
        }
    }

    /// `register(name, i)`'s answer in the model's terms; `None` if it
    /// names the wrong actor or name.
    fn verdict(&self, i: usize, name: &str, got: &Result<(), RegistryError>) -> Option<Verdict> {
        match got {
            Ok(()) => Some(Verdict::Ok),
            Err(RegistryError::NotAlive) => Some(Verdict::NotAlive),
            Err(RegistryError::AlreadyNamed {
                actor,
                name: current,
            }) => {
                if *actor != self.actors[i].id() {
                    return None;
                }
                let current = NAMES.iter().find(|n| **n == current.as_str())?;
                Some(Verdict::AlreadyNamed(current))
            }
            Err(RegistryError::NameTaken {
                name: taken,
                holder,
            }) => {
                if taken != name {
                    return None;
                }
                Some(Verdict::NameTaken(*self.index.get(holder)?))
            }
            Err(RegistryError::NotRegistered(_)) => None,
        }
    }

    /// Compares every actor, and the registry, with the model.
    fn check_state(&self) {
        for (i, (actor, expected)) in self.actors.iter().zip(&self.model.actors).enumerate() {
            if !expected.alive {
                assert!(
                    !actor.is_alive(),
                    "actor {i} should be dead\n{}",
                    self.story()
                );
                assert_eq!(actor.name(), None);
                continue;
            }
            // Every exit signal queued before the ping is handled first.
            let pong = self.bridge.call::<Pong, _>(actor, Ping, WAIT);
            assert!(
                pong.is_ok(),
                "actor {i} should be alive: {pong:?}\n{}",
                self.story()
            );
            let info = actor.info();
            assert!(info.alive);
            assert_eq!(info.trap_exit, expected.trapping, "actor {i}'s trap flag");
            let links: Vec<usize> = info.links.iter().map(|id| self.index[id]).collect();
            let expected_links: Vec<usize> = expected.links.iter().copied().collect();
            let mut links = links;
            links.sort();
            assert_eq!(links, expected_links, "actor {i}'s links\n{}", self.story());
            assert_eq!(info.name.as_deref(), expected.name, "actor {i}'s name");

            let mut monitoring: Vec<(usize, usize)> = info
                .monitoring
                .iter()
                .map(|(m, target)| (self.monitor_index[m], self.index[target]))
                .collect();
            monitoring.sort();
            let expected_monitoring: Vec<(usize, usize)> = self
                .model
                .monitors
                .iter()
                .enumerate()
                .filter(|(_, m)| m.active && m.watcher == i)
                .map(|(k, m)| (k, m.target))
                .collect();
            assert_eq!(
                monitoring,
                expected_monitoring,
                "actor {i}'s monitors\n{}",
                self.story()
            );

            let collector = self.collector.actor().id();
            let mut watchers: Vec<Option<usize>> = info
                .monitored_by
                .iter()
                .map(|id| (*id != collector).then(|| self.index[id]))
                .collect();
            watchers.sort();
            let mut expected_watchers: Vec<Option<usize>> = self
                .model
                .monitors
                .iter()
                .filter(|m| m.active && m.target == i)
                .map(|m| Some(m.watcher))
                .chain([None])
                .collect();
            expected_watchers.sort();
            assert_eq!(
                watchers,
                expected_watchers,
                "actor {i}'s watchers\n{}",
                self.story()
            );
        }
        for name in NAMES {
            let holder = self.system.whereis(name).map(|a| self.index[&a.id()]);
            assert_eq!(
                holder,
                self.model.names.get(name).copied(),
                "whereis({name})"
            );
        }
        let mut registered = self.system.registered();
        registered.sort();
        let expected: Vec<String> = self.model.names.keys().map(|n| n.to_string()).collect();
        assert_eq!(registered, expected);
    }
}

// ---- the property ----

fn actor() -> impl Strategy<Value = u8> {
    any::<u8>()
}

fn op() -> impl Strategy<Value = Op> {
    let reason = prop_oneof![
        Just(Reason::Normal),
        Just(Reason::Shutdown),
        Just(Reason::Error),
        Just(Reason::Killed),
    ];
    prop_oneof![
        3 => proptest::option::of(actor()).prop_map(|linked_to| Op::Spawn { linked_to }),
        5 => (actor(), actor()).prop_map(|(a, b)| Op::Link(a, b)),
        1 => (actor(), actor()).prop_map(|(a, b)| Op::Unlink(a, b)),
        3 => (actor(), actor()).prop_map(|(a, b)| Op::Monitor(a, b)),
        2 => (actor(), any::<u8>()).prop_map(|(a, k)| Op::Demonitor(a, k)),
        3 => (actor(), any::<bool>()).prop_map(|(a, on)| Op::Trap(a, on)),
        1 => actor().prop_map(Op::Panic),
        1 => actor().prop_map(Op::Stop),
        1 => actor().prop_map(Op::Kill),
        1 => (actor(), reason).prop_map(|(a, r)| Op::Exit(a, r)),
        1 => (actor(), 0..NAMES.len() as u8).prop_map(|(a, n)| Op::Register(a, n)),
        1 => (0..NAMES.len() as u8).prop_map(Op::Unregister),
    ]
}

ferrotp::on_each_executor! {
    proptest! {
        #![proptest_config(model_config::config(128))]

        #[test]
        fn links_monitors_trapping_kill_and_names_follow_the_model(
            ops in proptest::collection::vec(op(), 1..60)
        ) {
            ferrotp::silence_actor_panics();
            let mut harness = Harness::new(new_system());
            for op in &ops {
                harness.step(op);
            }
            // Every actor ends as predicted: dead ones with their reason.
            for (i, expected) in harness.model.actors.iter().enumerate() {
                prop_assert_eq!(harness.actors[i].is_alive(), expected.alive);
            }
        }
    }
}
