//! The script language: operations over a handful of processes, generated
//! at random, printed as an Erlang term (what the BEAM interpreter reads)
//! and as text (what a failing test shows).

use std::fmt;

use proptest::prelude::*;

/// A process of a script, by its index: the initial processes first, then
/// one per `Spawn` or `SpawnMonitor` step in step order (a spawn whose spawner is dead still
/// takes its index, for a process that never ran).
pub type Proc = usize;

/// The most processes a script has; further spawns become `Nothing`.
pub const MAX_PROCS: usize = 8;

/// The names a script registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Name {
    A,
    B,
}

impl Name {
    pub fn as_str(self) -> &'static str {
        match self {
            Name::A => "a",
            Name::B => "b",
        }
    }
}

/// The reason of an `exit(Pid, Reason)` (Erlang's `exit/2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Normal,
    Shutdown,
    Kill,
    /// A reason of the script's own: `{custom, N}` / `ExitReason::Error("custom:N")`.
    Custom(u32),
}

/// What a process does the moment it hears of an end (an `'EXIT'`, a
/// `'DOWN'`, a `Stop`'s answer): it sees the world as the end left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reflex {
    /// Records `whereis(Name)`.
    Whereis(Name),
    /// Registers itself under `Name` and records the result.
    Register(Name),
}

/// What the acting process does in a step (after its `sends`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Spawn {
        link: bool,
    },
    /// Spawns a monitored process; its monitor is named by this step's index.
    SpawnMonitor,
    Link(Proc),
    Unlink(Proc),
    /// Its monitor is named by this step's index.
    Monitor(Proc),
    /// Removes the monitor made at that step (with `flush`; the result is recorded).
    Demonitor(usize),
    TrapExit(bool),
    Exit(Proc, Signal),
    /// Raises: `erlang:error({crash, N})` / `panic!("crash:N")`.
    Crash(u32),
    /// The process's function returns: it ends with `normal`.
    Return,
    Send(Proc, u32),
    /// ferrotp's `Stop` (the Erlang side implements it as a message).
    Stop(Proc),
    Register(Name, Proc),
    Unregister(Name),
    Whereis(Name),
    SendNamed(Name, u32),
    /// From now on, does this on hearing of an end (`None`: nothing).
    Reflex(Option<Reflex>),
    Nothing,
}

/// One step: `actor` sends the numbered messages `sends` (in order), then
/// does `action`; then the system is left to settle (see the README of the
/// interpreters in `main.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub actor: Proc,
    pub sends: Vec<(Proc, u32)>,
    pub action: Action,
}

/// A script: `initial` processes, spawned unlinked by the coordinator, and steps.
/// Its `Debug` (what proptest shows for a failing case) is the text form
/// and the Erlang term.
#[derive(Clone, PartialEq, Eq)]
pub struct Script {
    pub initial: usize,
    pub steps: Vec<Step>,
}

impl Script {
    /// The script as the Erlang term the BEAM interpreter reads (one line, with the final dot).
    pub fn to_erlang(&self, id: u64) -> String {
        let steps: Vec<String> = self.steps.iter().map(step_term).collect();
        format!("{{script,{id},{},[{}]}}.", self.initial, steps.join(","))
    }
}

fn step_term(step: &Step) -> String {
    let sends: Vec<String> = step
        .sends
        .iter()
        .map(|(q, n)| format!("{{{q},{n}}}"))
        .collect();
    let action = match &step.action {
        Action::Spawn { link } => format!("{{spawn,{link}}}"),
        Action::SpawnMonitor => "{spawn,monitor}".to_string(),
        Action::Link(q) => format!("{{link,{q}}}"),
        Action::Unlink(q) => format!("{{unlink,{q}}}"),
        Action::Monitor(q) => format!("{{monitor,{q}}}"),
        Action::Demonitor(m) => format!("{{demonitor,{m}}}"),
        Action::TrapExit(on) => format!("{{trap_exit,{on}}}"),
        Action::Exit(q, signal) => {
            let reason = match signal {
                Signal::Normal => "normal".to_string(),
                Signal::Shutdown => "shutdown".to_string(),
                Signal::Kill => "kill".to_string(),
                Signal::Custom(n) => format!("{{custom,{n}}}"),
            };
            format!("{{exit,{q},{reason}}}")
        }
        Action::Crash(n) => format!("{{crash,{n}}}"),
        Action::Return => "return".to_string(),
        Action::Send(q, n) => format!("{{send,{q},{n}}}"),
        Action::Stop(q) => format!("{{stop,{q}}}"),
        Action::Register(name, q) => format!("{{register,{},{q}}}", name.as_str()),
        Action::Unregister(name) => format!("{{unregister,{}}}", name.as_str()),
        Action::Whereis(name) => format!("{{whereis,{}}}", name.as_str()),
        Action::SendNamed(name, n) => format!("{{send_named,{},{n}}}", name.as_str()),
        Action::Reflex(None) => "{reflex,none}".to_string(),
        Action::Reflex(Some(Reflex::Whereis(name))) => {
            format!("{{reflex,{{whereis,{}}}}}", name.as_str())
        }
        Action::Reflex(Some(Reflex::Register(name))) => {
            format!("{{reflex,{{register,{}}}}}", name.as_str())
        }
        Action::Nothing => "none".to_string(),
    };
    format!("{{{},[{}],{action}}}", step.actor, sends.join(","))
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n{self}as an Erlang term: {}", self.to_erlang(0))
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "processes p0..p{} at the start", self.initial - 1)?;
        let mut next = self.initial;
        for (i, step) in self.steps.iter().enumerate() {
            write!(f, "  step {i}: p{}", step.actor)?;
            for (q, n) in &step.sends {
                write!(f, " sends #{n} to p{q},")?;
            }
            let action = match &step.action {
                Action::Spawn { link } => {
                    next += 1;
                    let how = if *link { "spawn_link" } else { "spawn" };
                    format!("{how} p{}", next - 1)
                }
                Action::SpawnMonitor => {
                    next += 1;
                    format!("spawn_monitor p{} (monitor m{i})", next - 1)
                }
                Action::Link(q) => format!("link p{q}"),
                Action::Unlink(q) => format!("unlink p{q}"),
                Action::Monitor(q) => format!("monitor p{q} (monitor m{i})"),
                Action::Demonitor(m) => format!("demonitor m{m} [flush, info]"),
                Action::TrapExit(on) => format!("trap_exit {on}"),
                Action::Exit(q, signal) => format!("exit(p{q}, {signal:?})"),
                Action::Crash(n) => format!("crash {{crash,{n}}}"),
                Action::Return => "return (normal)".to_string(),
                Action::Send(q, n) => format!("send #{n} to p{q}"),
                Action::Stop(q) => format!("Stop p{q}"),
                Action::Register(name, q) => format!("register({}, p{q})", name.as_str()),
                Action::Unregister(name) => format!("unregister({})", name.as_str()),
                Action::Whereis(name) => format!("whereis({})", name.as_str()),
                Action::SendNamed(name, n) => format!("send #{n} to name {}", name.as_str()),
                Action::Reflex(None) => "no reflex".to_string(),
                Action::Reflex(Some(Reflex::Whereis(name))) => {
                    format!("reflex: whereis({}) on hearing of an end", name.as_str())
                }
                Action::Reflex(Some(Reflex::Register(name))) => {
                    format!(
                        "reflex: register({}, self) on hearing of an end",
                        name.as_str()
                    )
                }
                Action::Nothing => "nothing".to_string(),
            };
            writeln!(f, " {action}")?;
        }
        Ok(())
    }
}

// ---- known disagreements, waiting on their issue ----

/// A shape of step on which ferrotp and Erlang disagree today, because of
/// a kernel bug or an open question that another issue owns. While its
/// example still disagrees, generated scripts leave such steps out (they
/// become `Nothing`), so the suite stays green while the issue is open;
/// once the example agrees (the issue was fixed), the shape is generated
/// again and the run says the exclusion can go. The comparison itself is
/// never loosened.
pub struct Exclusion {
    pub name: &'static str,
    pub waits_on: &'static str,
    pub matches: fn(&Step) -> bool,
    /// A smallest script showing the disagreement.
    pub example: fn() -> Script,
}

pub const EXCLUSIONS: &[Exclusion] = &[];

/// Whether `step` falls under one of `exclusions`.
pub fn excluded(step: &Step, exclusions: &[&Exclusion]) -> bool {
    exclusions.iter().any(|e| (e.matches)(step))
}

// ---- generation ----

/// A step as drawn, with raw numbers that `normalize` maps to processes,
/// monitors and message numbers. Shrinking works on these.
#[derive(Clone, Debug)]
pub struct RawStep {
    actor: u8,
    sends: Vec<u8>,
    action: RawAction,
}

#[derive(Clone, Debug)]
enum RawAction {
    Spawn(bool),
    SpawnMonitor,
    Link(u8),
    Unlink(u8),
    Monitor(u8),
    Demonitor(u8),
    TrapExit(bool),
    Exit(u8, RawSignal),
    Crash,
    Return,
    Send(u8),
    Stop(u8),
    Register(Name, u8),
    Unregister(Name),
    Whereis(Name),
    SendNamed(Name),
    Reflex(Option<Reflex>),
}

#[derive(Clone, Copy, Debug)]
enum RawSignal {
    Normal,
    Shutdown,
    Kill,
    Custom,
}

fn raw_action() -> impl Strategy<Value = RawAction> {
    let p = any::<u8>;
    let name = || prop_oneof![Just(Name::A), Just(Name::B)];
    let signal = prop_oneof![
        Just(RawSignal::Normal),
        Just(RawSignal::Shutdown),
        Just(RawSignal::Kill),
        Just(RawSignal::Custom),
    ];
    prop_oneof![
        3 => any::<bool>().prop_map(RawAction::Spawn),
        1 => Just(RawAction::SpawnMonitor),
        4 => p().prop_map(RawAction::Link),
        1 => p().prop_map(RawAction::Unlink),
        3 => p().prop_map(RawAction::Monitor),
        1 => p().prop_map(RawAction::Demonitor),
        4 => any::<bool>().prop_map(RawAction::TrapExit),
        3 => (p(), signal).prop_map(|(q, s)| RawAction::Exit(q, s)),
        2 => Just(RawAction::Crash),
        1 => Just(RawAction::Return),
        3 => p().prop_map(RawAction::Send),
        1 => p().prop_map(RawAction::Stop),
        2 => (name(), p()).prop_map(|(n, q)| RawAction::Register(n, q)),
        1 => name().prop_map(RawAction::Unregister),
        1 => name().prop_map(RawAction::Whereis),
        1 => name().prop_map(RawAction::SendNamed),
        2 => prop_oneof![
            Just(None),
            name().prop_map(|n| Some(Reflex::Whereis(n))),
            name().prop_map(|n| Some(Reflex::Register(n))),
        ]
        .prop_map(RawAction::Reflex),
    ]
}

fn raw_step() -> impl Strategy<Value = RawStep> {
    let sends = prop_oneof![
        4 => Just(Vec::new()),
        1 => proptest::collection::vec(any::<u8>(), 1..=2),
    ];
    (any::<u8>(), sends, raw_action()).prop_map(|(actor, sends, action)| RawStep {
        actor,
        sends,
        action,
    })
}

/// Random scripts: 2 to 5 initial processes, up to `max_steps` steps,
/// none of the shapes of `exclusions`.
pub fn scripts(
    max_steps: usize,
    exclusions: Vec<&'static Exclusion>,
) -> impl Strategy<Value = Script> {
    (
        2usize..=5,
        proptest::collection::vec(raw_step(), 1..=max_steps),
    )
        .prop_map(move |(initial, raw)| normalize(initial, &raw, &exclusions))
}

/// Maps raw numbers onto the processes that exist at each step, numbers
/// every message (`10 * step + k`), names crash and custom reasons by their
/// step, gives a demonitor to the monitor's owner, and turns a step of an
/// excluded shape into `Nothing`.
pub fn normalize(initial: usize, raw: &[RawStep], exclusions: &[&Exclusion]) -> Script {
    let mut procs = initial;
    let mut monitors: Vec<(usize, Proc)> = Vec::new();
    // Which name each process registers on hearing of an end: two that
    // race for one name when they hear of the same end have no agreed
    // winner (on the BEAM either may win), and every later use of the
    // name would depend on it, so a second such reflex is left out.
    let mut registers_on_end: Vec<Option<Name>> = vec![None; initial];
    let mut steps = Vec::new();
    for r in raw {
        let i = steps.len();
        let n = u32::try_from(i).expect("few steps");
        let pick = |x: u8| usize::from(x) % procs;
        let mut actor = pick(r.actor);
        let sends = r
            .sends
            .iter()
            .enumerate()
            .map(|(k, q)| (pick(*q), 10 * n + 1 + k as u32))
            .collect();
        let action = match r.action {
            RawAction::Spawn(_) | RawAction::SpawnMonitor if procs >= MAX_PROCS => Action::Nothing,
            RawAction::Spawn(link) => {
                procs += 1;
                Action::Spawn { link }
            }
            RawAction::SpawnMonitor => {
                procs += 1;
                monitors.push((i, actor));
                Action::SpawnMonitor
            }
            RawAction::Link(q) => Action::Link(pick(q)),
            RawAction::Unlink(q) => Action::Unlink(pick(q)),
            RawAction::Monitor(q) => {
                monitors.push((i, actor));
                Action::Monitor(pick(q))
            }
            RawAction::Demonitor(_) if monitors.is_empty() => Action::Nothing,
            RawAction::Demonitor(m) => {
                let (step, owner) = monitors[usize::from(m) % monitors.len()];
                actor = owner;
                Action::Demonitor(step)
            }
            RawAction::TrapExit(on) => Action::TrapExit(on),
            RawAction::Exit(q, s) => Action::Exit(
                pick(q),
                match s {
                    RawSignal::Normal => Signal::Normal,
                    RawSignal::Shutdown => Signal::Shutdown,
                    RawSignal::Kill => Signal::Kill,
                    RawSignal::Custom => Signal::Custom(n),
                },
            ),
            RawAction::Crash => Action::Crash(n),
            RawAction::Return => Action::Return,
            RawAction::Send(q) => Action::Send(pick(q), 10 * n),
            RawAction::Stop(q) => Action::Stop(pick(q)),
            RawAction::Register(name, q) => Action::Register(name, pick(q)),
            RawAction::Unregister(name) => Action::Unregister(name),
            RawAction::Whereis(name) => Action::Whereis(name),
            RawAction::SendNamed(name) => Action::SendNamed(name, 10 * n),
            RawAction::Reflex(Some(Reflex::Register(name)))
                if registers_on_end
                    .iter()
                    .enumerate()
                    .any(|(p, reflex)| p != actor && *reflex == Some(name)) =>
            {
                Action::Nothing
            }
            RawAction::Reflex(reflex) => Action::Reflex(reflex),
        };
        let mut step = Step {
            actor,
            sends,
            action,
        };
        if excluded(&step, exclusions) {
            step.action = Action::Nothing;
        }
        registers_on_end.resize(procs, None);
        if let Action::Reflex(reflex) = &step.action {
            registers_on_end[step.actor] = match reflex {
                Some(Reflex::Register(name)) => Some(*name),
                _ => None,
            };
        }
        steps.push(step);
    }
    Script { initial, steps }
}
