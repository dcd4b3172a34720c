//! Stress of `System::shutdown` with actors that trap it
//! (`SpawnOptions::trap_system_shutdown`), on both executors: each scenario
//! loops for `FERROTP_STRESS_SECS` seconds (default 3) and fails on the
//! first breach. Ignored by default:
//!
//! ```text
//! FERROTP_STRESS_SECS=10 cargo test --release --test stress_system_shutdown -- --ignored stress
//! ```
//!
//! Random trees of actors (asked, trapping or plain; some with children of
//! their own, some flipping their opt-in as the shutdown begins, some
//! still spawning children when it does) meet a shutdown with a generous
//! deadline, which must stop them all, children before a parent that
//! asked to stop them; and drains that race a short deadline, which must
//! leave nothing alive and name every actor it had to kill.

#[path = "common/budget.rs"]
mod budget;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use budget::for_budget;
use ferrotp::{
    Actor, ActorId, ActorRef, Context, ExitReason, Handlers, ShutdownError, SpawnError,
    SpawnOptions, Stopped, System,
};

const WAIT: Duration = Duration::from_secs(20);

/// How a member takes the system's shutdown.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Traps exits and asked for a trappable shutdown: it stops its
    /// children, then drains, then ends.
    Asked,
    /// Traps exits only: shutdown stops it at once; its parent's exit
    /// signal is trapped, and it stops its children and drains.
    Trapping,
    /// Neither: any `Shutdown` stops it at once.
    Plain,
}

/// What happened, in the order it happened (one log per round).
#[derive(Clone, Debug, PartialEq)]
enum Ev {
    /// A member was told to stop (`from` its parent, or the system);
    /// `opted_in` if it had asked for a trappable shutdown then (it stays
    /// so: a stopping member flips no more), so that no later pass of the
    /// shutdown forces it before its children end.
    Asked {
        who: ActorId,
        from: ActorId,
        opted_in: bool,
    },
    /// A member's `stopped` hook ran.
    End { who: ActorId, reason: ExitReason },
    /// A spawn failed because the system was shutting down.
    Refused,
}

type Log = Arc<Mutex<Vec<Ev>>>;

/// A small deterministic generator, one per round.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// A member's plan: what it is, its children's plans, how long it drains.
#[derive(Clone, Debug)]
struct Plan {
    kind: Kind,
    children: Vec<Plan>,
    /// Self-messages between being asked and ending.
    drain: u32,
    /// Flips its opt-in on each of its first few self-messages, so that
    /// the shutdown may find it either way (`Asked` members only).
    flips: u32,
}

impl Plan {
    fn random(dice: &mut Dice, depth: u32) -> Plan {
        let kind = match dice.roll(3) {
            0 => Kind::Asked,
            1 => Kind::Trapping,
            _ => Kind::Plain,
        };
        let children = if depth < 2 && kind != Kind::Plain {
            (0..dice.roll(4))
                .map(|_| Plan::random(dice, depth + 1))
                .collect()
        } else {
            Vec::new()
        };
        Plan {
            kind,
            children,
            drain: dice.roll(20) as u32,
            flips: if kind == Kind::Asked && dice.roll(3) == 0 {
                dice.roll(50) as u32
            } else {
                0
            },
        }
    }

    fn options(&self) -> SpawnOptions {
        let options = SpawnOptions::new().trap_exit(self.kind != Kind::Plain);
        match self.kind {
            Kind::Asked => options.trap_system_shutdown(),
            _ => options,
        }
    }
}

/// An actor of a random tree.
struct Member {
    plan: Plan,
    log: Log,
    /// Every member spawned, with its parent (none for a root).
    spawned: Arc<Mutex<HashMap<ActorId, Option<ActorId>>>>,
    children: Vec<ActorRef>,
    /// Its opt-in to a trappable shutdown, as last set.
    opted_in: bool,
    /// Asked to stop: ends once its children have and it has drained.
    stopping: bool,
}

/// A member's own steps: a drain step, or a flip of its opt-in.
struct Step;

impl Member {
    fn new(plan: Plan, log: &Log, spawned: &Arc<Mutex<HashMap<ActorId, Option<ActorId>>>>) -> Self {
        Member {
            opted_in: plan.kind == Kind::Asked,
            plan,
            log: log.clone(),
            spawned: spawned.clone(),
            children: Vec::new(),
            stopping: false,
        }
    }

    fn log(&self, ev: Ev) {
        self.log.lock().unwrap().push(ev);
    }

    fn on_stopped(&mut self, Stopped { actor, reason }: Stopped, ctx: &mut Context<Self>) {
        if let Some(at) = self.children.iter().position(|c| c.id() == actor) {
            self.children.remove(at);
            self.go_on(ctx);
            return;
        }
        assert_eq!(reason, ExitReason::Shutdown, "only shutdowns come");
        self.log(Ev::Asked {
            who: ctx.myself().id(),
            from: actor,
            opted_in: self.opted_in,
        });
        if self.stopping {
            return;
        }
        self.stopping = true;
        // Newest first, as a supervisor stops its children.
        for child in self.children.iter().rev() {
            child.exit(ExitReason::Shutdown);
        }
        self.go_on(ctx);
    }

    /// Ends once no child is left and the drain is done.
    fn go_on(&mut self, ctx: &mut Context<Self>) {
        if self.stopping && self.children.is_empty() {
            ctx.myself().send(Step);
        }
    }

    fn step(&mut self, _: Step, ctx: &mut Context<Self>) {
        if !self.stopping {
            self.plan.flips -= 1;
            self.opted_in = self.plan.flips % 2 == 0;
            ctx.trap_system_shutdown(self.opted_in);
            if self.plan.flips > 0 {
                ctx.myself().send(Step);
            }
            return;
        }
        if !self.children.is_empty() {
            // A flip's step still in flight: the drain waits for the
            // children (`go_on` starts it).
            return;
        }
        if self.plan.drain == 0 {
            ctx.stop(ExitReason::Shutdown);
        } else {
            self.plan.drain -= 1;
            ctx.myself().send(Step);
        }
    }
}

impl Actor for Member {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::on_stopped).on(Self::step)
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let me = ctx.myself().id();
        for plan in self.plan.children.clone() {
            let options = plan.options().link(ctx.myself());
            let child = Member::new(plan, &self.log, &self.spawned);
            match ctx.spawn_with(child, options) {
                Ok(child) => {
                    self.spawned.lock().unwrap().insert(child.id(), Some(me));
                    self.children.push(child);
                }
                Err(SpawnError::ShuttingDown) => self.log(Ev::Refused),
                Err(other) => panic!("spawn failed: {other}"),
            }
        }
        if self.plan.flips > 0 {
            ctx.myself().send(Step);
        }
        Ok(())
    }

    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        self.log(Ev::End {
            who: ctx.myself().id(),
            reason: reason.clone(),
        });
    }
}

/// One round's world: the system, its members and what they logged.
struct World {
    system: System,
    log: Log,
    spawned: Arc<Mutex<HashMap<ActorId, Option<ActorId>>>>,
}

impl World {
    fn new(executor: ferrotp::Executor, round: u64) -> (World, Dice) {
        let world = World {
            system: System::builder().executor(executor).build(),
            log: Log::default(),
            spawned: Arc::default(),
        };
        (world, Dice(round.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1))
    }

    fn spawn_root(&self, plan: Plan) {
        let options = plan.options();
        let member = Member::new(plan, &self.log, &self.spawned);
        let root = self.system.spawn_with(member, options).expect("a root");
        self.spawned.lock().unwrap().insert(root.id(), None);
    }

    /// The `End`s logged, by actor; each actor ends at most once.
    fn ends(&self) -> HashMap<ActorId, (usize, ExitReason)> {
        let mut ends = HashMap::new();
        for (at, ev) in self.log.lock().unwrap().iter().enumerate() {
            if let Ev::End { who, reason } = ev {
                let before = ends.insert(*who, (at, reason.clone()));
                assert!(before.is_none(), "{who:?} ended twice");
            }
        }
        ends
    }
}

/// Random trees, some roots still spawning children as the shutdown
/// begins, and a generous deadline: the shutdown stops every member
/// (each `stopped` hook runs once, with `Shutdown`), and a member that
/// was asked to stop ends after every child it had.
/// Returns how many asked parents waited for children.
fn trees_stop_children_first(executor: ferrotp::Executor, round: u64) -> usize {
    let (world, mut dice) = World::new(executor, round);
    let roots = 1 + dice.roll(4);
    for _ in 0..roots {
        world.spawn_root(Plan::random(&mut dice, 0));
    }
    if dice.roll(2) == 0 {
        std::thread::yield_now();
    }
    world
        .system
        .shutdown(WAIT)
        .expect("every member stops in time");
    assert!(world.system.actors().is_empty());

    let ends = world.ends();
    let spawned = world.spawned.lock().unwrap().clone();
    for id in spawned.keys() {
        let (_, reason) = ends
            .get(id)
            .unwrap_or_else(|| panic!("{id:?}'s stopped hook never ran"));
        assert_eq!(*reason, ExitReason::Shutdown, "{id:?}");
    }
    // A parent that was asked while opted in ended after its children
    // (without the opt-in, a later pass may force it as it waits).
    let log = world.log.lock().unwrap().clone();
    let mut waited = 0;
    for ev in &log {
        let Ev::Asked {
            who,
            opted_in: true,
            ..
        } = ev
        else {
            continue;
        };
        let parent_end = ends[who].0;
        for (child, parent) in &spawned {
            if *parent == Some(*who) {
                waited += 1;
                assert!(
                    ends[child].0 < parent_end,
                    "{who:?} ended before its child {child:?}: {log:?}"
                );
            }
        }
    }
    waited
}

/// Asked members drain for a random while against a short deadline: the
/// shutdown leaves none alive, names every one it had to kill, and every
/// one it does not name ended through its `stopped` hook. Returns how
/// many it killed.
fn drains_race_the_deadline(executor: ferrotp::Executor, round: u64) -> usize {
    let (world, mut dice) = World::new(executor, round);
    for _ in 0..1 + dice.roll(8) {
        let plan = Plan {
            kind: Kind::Asked,
            children: Vec::new(),
            drain: 50 * dice.roll(40) as u32,
            flips: 0,
        };
        world.spawn_root(plan);
    }
    let timeout = Duration::from_micros(200 + 100 * dice.roll(30));
    let began = Instant::now();
    let killed = match world.system.shutdown(timeout) {
        Ok(()) => Vec::new(),
        Err(ShutdownError { actors, .. }) => actors,
    };
    assert!(began.elapsed() < WAIT, "the shutdown overran its deadline");
    assert!(world.system.actors().is_empty());
    let ends = world.ends();
    for id in world.spawned.lock().unwrap().keys() {
        if !killed.contains(id) {
            assert!(ends.contains_key(id), "{id:?} neither ended nor was named");
        }
    }
    killed.len()
}

ferrotp::on_each_executor! {
    #[test]
    #[ignore = "stress: run with --ignored"]
    fn stress_trees_stop_children_first() {
        let mut waited = 0;
        for_budget("trees_stop_children_first", |round| {
            waited += trees_stop_children_first(EXECUTOR, round);
        });
        assert!(waited > 0, "no asked parent ever had a child to wait for");
    }

    #[test]
    #[ignore = "stress: run with --ignored"]
    fn stress_drains_race_the_deadline() {
        let (mut killed, mut rounds) = (0, 0);
        for_budget("drains_race_the_deadline", |round| {
            killed += drains_race_the_deadline(EXECUTOR, round);
            rounds += 1;
        });
        eprintln!("drains_race_the_deadline: {killed} killed in {rounds} rounds");
        // Drains of up to 2,000 steps against deadlines under 3.2 ms: some
        // finish, some do not, on any machine.
        assert!(killed > 0, "the deadline never struck");
    }
}
