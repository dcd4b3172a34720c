//! The ferrotp side: the same scripts run by actors, with an `Inbox` as
//! the coordinator, producing the trace terms the BEAM interpreter prints.
//!
//! It mirrors `conform_interp.erl` step for step: the acting actor gets the
//! step as a message and acks; then the coordinator waits until no live
//! actor still holds a link or a monitor to a dead one (`ActorRef::info`)
//! and every live actor answered a `Sync` sent after that.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use ferrotp::{
    Actor, ActorId, ActorRef, Context, Down, ExitReason, Handlers, Inbox, MonitorRef, Stop,
    Stopped, System,
};

use crate::script::{Action, Name, Reflex, Script, Signal};
use crate::term::Term;
use crate::trace::{atom, int, tuple, ProcTrace, Trace};

/// How long a step may take to settle before the script is declared stuck.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

// ---- a script process ----

struct Player {
    coordinator: ActorRef,
    reflex: Option<Reflex>,
}

/// A step, with processes and monitors resolved to addresses.
struct Op {
    token: u64,
    sends: Vec<(ActorRef, u32)>,
    act: Act,
}

enum Act {
    Spawn { link: bool },
    SpawnMonitor,
    Link(ActorRef),
    Unlink(ActorRef),
    Monitor(ActorRef),
    Demonitor(MonitorRef),
    TrapExit(bool),
    Exit(ActorRef, ExitReason),
    Crash(u32),
    Return,
    Send(ActorRef, u32),
    Stop(ActorRef),
    Register(Name, ActorRef),
    Unregister(Name),
    Whereis(Name),
    SendNamed(Name, u32),
    Reflex(Option<Reflex>),
    Nothing,
}

/// A numbered script message.
struct Msg(u32);

struct Sync(u64);

/// To the coordinator: what an actor observed.
struct Rec {
    from: ActorId,
    what: Observed,
}

enum Observed {
    Msg(Option<ActorId>, u32),
    Exit(ActorId, ExitReason),
    Down(MonitorRef, ActorId, ExitReason),
    Demonitor(MonitorRef, bool),
    Register(Name, bool),
    Unregister(Name, bool),
    Whereis(Name, Option<ActorId>),
    SendNamed(Name, bool),
    /// What a reflex saw, on hearing of the end of the first process.
    Reflex(ActorId, Box<Observed>),
}

enum Acked {
    Done,
    Spawned(ActorRef),
    SpawnedMonitored(ActorRef, MonitorRef),
    Monitor(MonitorRef),
}

struct Ack {
    token: u64,
    what: Acked,
}

struct Synced {
    token: u64,
    from: ActorId,
}

impl Player {
    fn record(&self, ctx: &Context<Self>, what: Observed) {
        let from = ctx.myself().id();
        ctx.send(&self.coordinator, Rec { from, what });
    }

    fn ack(&self, ctx: &Context<Self>, token: u64, what: Acked) {
        ctx.send(&self.coordinator, Ack { token, what });
    }

    fn op(&mut self, op: Op, ctx: &mut Context<Self>) {
        for (to, n) in &op.sends {
            ctx.send(to, Msg(*n));
        }
        let mut acked = Acked::Done;
        match op.act {
            Act::Spawn { link } => {
                let child = Player {
                    coordinator: self.coordinator.clone(),
                    reflex: None,
                };
                let child = if link {
                    ctx.spawn_link(child)
                } else {
                    ctx.spawn(child)
                };
                acked = Acked::Spawned(child);
            }
            Act::SpawnMonitor => {
                let (child, monitor) = ctx.spawn_monitor(Player {
                    coordinator: self.coordinator.clone(),
                    reflex: None,
                });
                acked = Acked::SpawnedMonitored(child, monitor);
            }
            Act::Link(to) => ctx.link(&to),
            Act::Unlink(to) => ctx.unlink(&to),
            Act::Monitor(to) => acked = Acked::Monitor(ctx.monitor(&to)),
            Act::Demonitor(monitor) => {
                let active = ctx.demonitor(monitor);
                self.record(ctx, Observed::Demonitor(monitor, active));
            }
            Act::TrapExit(on) => ctx.trap_exit(on),
            Act::Exit(to, reason) => ctx.exit(&to, reason),
            Act::Crash(n) => panic!("crash:{n}"),
            Act::Return => {
                ctx.stop(ExitReason::Normal);
                return;
            }
            Act::Send(to, n) => ctx.send(&to, Msg(n)),
            Act::Stop(to) => ctx.send(&to, Stop),
            Act::Register(name, to) => {
                let ok = ctx.register(name.as_str(), &to).is_ok();
                self.record(ctx, Observed::Register(name, ok));
            }
            Act::Unregister(name) => {
                let ok = ctx.unregister(name.as_str()).is_some();
                self.record(ctx, Observed::Unregister(name, ok));
            }
            Act::Whereis(name) => {
                let at = ctx.whereis(name.as_str()).map(|a| a.id());
                self.record(ctx, Observed::Whereis(name, at));
            }
            Act::SendNamed(name, n) => {
                let ok = ctx.send_named(name.as_str(), Msg(n)).is_ok();
                self.record(ctx, Observed::SendNamed(name, ok));
            }
            Act::Reflex(reflex) => self.reflex = reflex,
            Act::Nothing => {}
        }
        self.ack(ctx, op.token, acked);
    }

    /// Runs the reflex on hearing that `ended` ended.
    fn react(&self, ctx: &Context<Self>, ended: ActorId) {
        let seen = match self.reflex {
            None => return,
            Some(Reflex::Whereis(name)) => {
                Observed::Whereis(name, ctx.whereis(name.as_str()).map(|a| a.id()))
            }
            Some(Reflex::Register(name)) => {
                Observed::Register(name, ctx.register_self(name.as_str()).is_ok())
            }
        };
        self.record(ctx, Observed::Reflex(ended, Box::new(seen)));
    }

    fn msg(&mut self, Msg(n): Msg, ctx: &mut Context<Self>) {
        let from = ctx.sender().map(ActorRef::id);
        self.record(ctx, Observed::Msg(from, n));
    }

    fn stopped(&mut self, stopped: Stopped, ctx: &mut Context<Self>) {
        self.record(ctx, Observed::Exit(stopped.actor, stopped.reason));
        self.react(ctx, stopped.actor);
    }

    fn down(&mut self, down: Down, ctx: &mut Context<Self>) {
        self.record(ctx, Observed::Down(down.monitor, down.actor, down.reason));
        self.react(ctx, down.actor);
    }

    fn sync(&mut self, Sync(token): Sync, ctx: &mut Context<Self>) {
        let from = ctx.myself().id();
        ctx.send(&self.coordinator, Synced { token, from });
    }
}

impl Actor for Player {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::op)
            .on(Self::msg)
            .on(Self::stopped)
            .on(Self::down)
            .on(Self::sync)
    }
}

// ---- the coordinator ----

#[derive(Clone, Debug, PartialEq)]
enum Fate {
    Alive,
    Never,
    Died(usize, ExitReason),
}

struct Run {
    system: System,
    inbox: Inbox,
    actors: Vec<ActorRef>,
    index: HashMap<ActorId, usize>,
    /// The coordinator's own monitors, one per actor: how it learns an end.
    watching: HashMap<MonitorRef, usize>,
    fates: Vec<Fate>,
    /// The script's monitors and the step that made each.
    monitors: HashMap<MonitorRef, usize>,
    monitor_of_step: HashMap<usize, MonitorRef>,
    records: Vec<Rec>,
    events: Vec<(usize, usize, Term)>,
    acks: HashMap<u64, Acked>,
    synced: HashSet<(u64, ActorId)>,
    step: usize,
    next_token: u64,
}

/// Runs `script` on `system` (a new one: the run shuts it down).
pub fn run(script: &Script, system: System) -> Trace {
    let inbox = system.inbox();
    let mut run = Run {
        system,
        inbox,
        actors: Vec::new(),
        index: HashMap::new(),
        watching: HashMap::new(),
        fates: Vec::new(),
        monitors: HashMap::new(),
        monitor_of_step: HashMap::new(),
        records: Vec::new(),
        events: Vec::new(),
        acks: HashMap::new(),
        synced: HashSet::new(),
        step: 0,
        next_token: 0,
    };
    for _ in 0..script.initial {
        let actor = run.system.spawn(run.player());
        run.add(actor);
    }
    let mut outcomes = Vec::new();
    for (i, step) in script.steps.iter().enumerate() {
        run.step = i;
        let outcome = run.run_step(step);
        outcomes.push(outcome.to_string());
        if outcome == "stuck" {
            break;
        }
    }
    for (actor, fate) in run.actors.iter().zip(&run.fates) {
        if *fate == Fate::Alive {
            actor.kill();
        }
    }
    let procs = (0..run.actors.len())
        .map(|p| ProcTrace {
            fate: match &run.fates[p] {
                Fate::Alive => atom("alive"),
                Fate::Never => atom("never"),
                Fate::Died(step, reason) => tuple([atom("died"), int(*step), reason_term(reason)]),
            },
            events: run
                .events
                .iter()
                .filter(|(q, _, _)| *q == p)
                .map(|(_, step, e)| (*step, e.clone()))
                .collect(),
        })
        .collect();
    let _ = run.system.shutdown(Duration::from_secs(10));
    Trace { outcomes, procs }
}

impl Run {
    fn player(&self) -> Player {
        Player {
            coordinator: self.inbox.actor().clone(),
            reflex: None,
        }
    }

    fn add(&mut self, actor: ActorRef) {
        let p = self.actors.len();
        let monitor = self.inbox.monitor(&actor);
        self.watching.insert(monitor, p);
        self.index.insert(actor.id(), p);
        self.actors.push(actor);
        self.fates.push(Fate::Alive);
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    fn run_step(&mut self, step: &crate::script::Step) -> &'static str {
        if self.fates[step.actor] != Fate::Alive {
            if matches!(step.action, Action::Spawn { .. } | Action::SpawnMonitor) {
                // A process that never ran keeps the script's numbering:
                // an actor stopped at once (not killed: see
                // `kernel_bug_kill_of_a_starting_actor_can_empty_a_one_worker_pool`).
                let never = self.system.spawn(self.player());
                let stopped = self
                    .system
                    .bridge()
                    .stop(std::slice::from_ref(&never), SETTLE_LIMIT);
                assert!(stopped[0].is_some(), "a fresh actor did not stop");
                self.index.insert(never.id(), self.actors.len());
                self.actors.push(never);
                self.fates.push(Fate::Never);
            }
            return "skipped";
        }
        let token = self.token();
        let actor = self.actors[step.actor].clone();
        let op = Op {
            token,
            sends: step
                .sends
                .iter()
                .map(|(q, n)| (self.actors[*q].clone(), *n))
                .collect(),
            act: self.resolve(&step.action),
        };
        self.inbox.send(&actor, op);
        let deadline = Instant::now() + SETTLE_LIMIT;
        // The actor acks, or ends (a crash, a return, an exit to itself).
        while !self.acks.contains_key(&token) && self.fates[step.actor] == Fate::Alive {
            if !self.pump(deadline) {
                self.report_stuck("no ack");
                return "stuck";
            }
        }
        match self.acks.remove(&token) {
            Some(Acked::Spawned(child)) => self.add(child),
            Some(Acked::SpawnedMonitored(child, monitor)) => {
                self.add(child);
                self.monitor_made(monitor);
            }
            Some(Acked::Monitor(monitor)) => self.monitor_made(monitor),
            Some(Acked::Done) | None => {}
        }
        let settled = self.settle(deadline);
        while let Some(envelope) = self.inbox.try_recv() {
            self.file(envelope);
        }
        for rec in std::mem::take(&mut self.records) {
            let p = self.index[&rec.from];
            let event = self.event(rec.what);
            self.events.push((p, self.step, event));
        }
        if settled {
            "done"
        } else {
            self.report_stuck("not settled");
            "stuck"
        }
    }

    /// What kept the step from ending, for whoever reads the failure.
    fn report_stuck(&self, what: &str) {
        for p in self.alive() {
            let info = self.actors[p].info();
            eprintln!("stuck ({what}) at step {}: p{p} {info:?}", self.step);
        }
    }

    fn monitor_made(&mut self, monitor: MonitorRef) {
        self.monitors.insert(monitor, self.step);
        self.monitor_of_step.insert(self.step, monitor);
    }

    fn resolve(&self, action: &Action) -> Act {
        let to = |q: &usize| self.actors[*q].clone();
        match action {
            Action::Spawn { link } => Act::Spawn { link: *link },
            Action::SpawnMonitor => Act::SpawnMonitor,
            Action::Link(q) => Act::Link(to(q)),
            Action::Unlink(q) => Act::Unlink(to(q)),
            Action::Monitor(q) => Act::Monitor(to(q)),
            Action::Demonitor(step) => Act::Demonitor(self.monitor_of_step[step]),
            Action::TrapExit(on) => Act::TrapExit(*on),
            Action::Exit(q, signal) => Act::Exit(
                to(q),
                match signal {
                    Signal::Normal => ExitReason::Normal,
                    Signal::Shutdown => ExitReason::Shutdown,
                    Signal::Kill => ExitReason::Killed,
                    Signal::Custom(n) => ExitReason::Error(format!("custom:{n}")),
                },
            ),
            Action::Crash(n) => Act::Crash(*n),
            Action::Return => Act::Return,
            Action::Send(q, n) => Act::Send(to(q), *n),
            Action::Stop(q) => Act::Stop(to(q)),
            Action::Register(name, q) => Act::Register(*name, to(q)),
            Action::Unregister(name) => Act::Unregister(*name),
            Action::Whereis(name) => Act::Whereis(*name),
            Action::SendNamed(name, n) => Act::SendNamed(*name, *n),
            Action::Reflex(reflex) => Act::Reflex(*reflex),
            Action::Nothing => Act::Nothing,
        }
    }

    /// Takes one piece of mail (waiting until `deadline`); `false` on timeout.
    fn pump(&mut self, deadline: Instant) -> bool {
        match self.inbox.recv_deadline(deadline) {
            Ok(envelope) => {
                self.file(envelope);
                true
            }
            Err(_) => false,
        }
    }

    fn file(&mut self, envelope: ferrotp::Envelope) {
        let envelope = match envelope.downcast::<Rec>() {
            Ok(rec) => return self.records.push(rec),
            Err(e) => e,
        };
        let envelope = match envelope.downcast::<Ack>() {
            Ok(ack) => {
                self.acks.insert(ack.token, ack.what);
                return;
            }
            Err(e) => e,
        };
        let envelope = match envelope.downcast::<Synced>() {
            Ok(synced) => {
                self.synced.insert((synced.token, synced.from));
                return;
            }
            Err(e) => e,
        };
        match envelope.downcast::<Down>() {
            Ok(down) => {
                let p = self.watching[&down.monitor];
                self.fates[p] = Fate::Died(self.step, down.reason);
            }
            Err(e) => panic!("the coordinator got an unexpected {}", e.type_name()),
        }
    }

    fn alive(&self) -> Vec<usize> {
        (0..self.actors.len())
            .filter(|p| self.fates[*p] == Fate::Alive)
            .collect()
    }

    /// Waits until the step's effects are over; `false` if that takes too long.
    fn settle(&mut self, deadline: Instant) -> bool {
        loop {
            while let Some(envelope) = self.inbox.try_recv() {
                self.file(envelope);
            }
            if !self.settled() {
                if Instant::now() > deadline {
                    return false;
                }
                std::thread::yield_now();
                continue;
            }
            let token = self.token();
            let alive = self.alive();
            for p in &alive {
                self.inbox.send(&self.actors[*p], Sync(token));
            }
            let mut changed = false;
            for p in alive {
                let id = self.actors[p].id();
                while !self.synced.contains(&(token, id)) {
                    if self.fates[p] != Fate::Alive {
                        changed = true;
                        break;
                    }
                    if !self.pump(deadline) {
                        return false;
                    }
                }
            }
            self.synced.clear();
            if !changed {
                return true;
            }
        }
    }

    /// No live actor still holds a link or a monitor to a dead one: every
    /// exit signal and `Down` from the dead has been handled.
    fn settled(&self) -> bool {
        let dead: HashSet<ActorId> = (0..self.actors.len())
            .filter(|p| self.fates[*p] != Fate::Alive)
            .map(|p| self.actors[p].id())
            .collect();
        self.alive().into_iter().all(|p| {
            let info = self.actors[p].info();
            info.alive
                && !info.links.iter().any(|l| dead.contains(l))
                && !info.monitoring.iter().any(|(_, t)| dead.contains(t))
        })
    }

    fn proc_term(&self, id: ActorId) -> Term {
        self.index.get(&id).map_or(atom("unknown"), |p| int(*p))
    }

    fn monitor_term(&self, monitor: MonitorRef) -> Term {
        self.monitors
            .get(&monitor)
            .map_or(atom("unknown"), |s| int(*s))
    }

    fn event(&self, what: Observed) -> Term {
        let ok = |ok: bool| atom(if ok { "ok" } else { "badarg" });
        let name = |n: Name| atom(n.as_str());
        match what {
            Observed::Msg(from, n) => tuple([
                atom("msg"),
                from.map_or(atom("unknown"), |f| self.proc_term(f)),
                int(n),
            ]),
            Observed::Exit(from, reason) => {
                tuple([atom("exit"), self.proc_term(from), reason_term(&reason)])
            }
            Observed::Down(monitor, target, reason) => tuple([
                atom("down"),
                self.monitor_term(monitor),
                self.proc_term(target),
                reason_term(&reason),
            ]),
            Observed::Demonitor(monitor, active) => tuple([
                atom("demonitor"),
                self.monitor_term(monitor),
                atom(if active { "true" } else { "false" }),
            ]),
            Observed::Register(n, ok_) => tuple([atom("register"), name(n), ok(ok_)]),
            Observed::Unregister(n, ok_) => tuple([atom("unregister"), name(n), ok(ok_)]),
            Observed::Whereis(n, at) => tuple([
                atom("whereis"),
                name(n),
                at.map_or(atom("undefined"), |a| self.proc_term(a)),
            ]),
            Observed::SendNamed(n, ok_) => tuple([atom("send_named"), name(n), ok(ok_)]),
            Observed::Reflex(ended, seen) => {
                tuple([atom("reflex"), self.proc_term(ended), self.event(*seen)])
            }
        }
    }
}

/// An exit reason as the BEAM interpreter names it.
fn reason_term(reason: &ExitReason) -> Term {
    let tagged = |text: &str, tag: &str| {
        text.strip_prefix(tag)
            .and_then(|n| n.parse::<u32>().ok())
            .map(|n| tuple([atom(&tag[..tag.len() - 1]), int(n)]))
    };
    let other = |text: String| {
        tuple([
            atom("other"),
            Term::List(text.chars().map(|c| int(c as u32)).collect()),
        ])
    };
    match reason {
        ExitReason::Normal => atom("normal"),
        ExitReason::Shutdown => atom("shutdown"),
        ExitReason::Killed => atom("killed"),
        ExitReason::NoProc => atom("noproc"),
        ExitReason::Error(text) => {
            tagged(text, "custom:").unwrap_or_else(|| other(format!("error: {text}")))
        }
        ExitReason::Panic(text) => {
            tagged(text, "crash:").unwrap_or_else(|| other(format!("panic: {text}")))
        }
    }
}
