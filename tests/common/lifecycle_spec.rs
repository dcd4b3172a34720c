//! The model `lifecycle_model.rs` checks the live system against: the
//! vocabulary both sides speak (reasons, notices, steps) and a small pure
//! model of actors, links, monitors, trapping and names that predicts what
//! each step causes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ferrotp::ExitReason;

/// At most this many actors are alive at once...
pub const MAX_ALIVE: usize = 6;
/// ...and at most this many are spawned in one run (dead ones included).
pub const MAX_SPAWNED: usize = 12;
pub const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];
pub const PANIC_TEXT: &str = "model panic";
pub const ERROR_TEXT: &str = "model error";

// ---- the vocabulary shared by the model and the live system ----

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    Normal,
    Shutdown,
    Killed,
    NoProc,
    Panic,
    Error,
}

impl Reason {
    pub fn exit_reason(self) -> ExitReason {
        match self {
            Reason::Normal => ExitReason::Normal,
            Reason::Shutdown => ExitReason::Shutdown,
            Reason::Killed => ExitReason::Killed,
            Reason::NoProc => ExitReason::NoProc,
            Reason::Panic => ExitReason::Panic(PANIC_TEXT.into()),
            Reason::Error => ExitReason::error(ERROR_TEXT),
        }
    }

    pub fn of(reason: &ExitReason) -> Reason {
        let known = [
            Reason::Normal,
            Reason::Shutdown,
            Reason::Killed,
            Reason::NoProc,
            Reason::Panic,
            Reason::Error,
        ];
        known
            .into_iter()
            .find(|r| &r.exit_reason() == reason)
            .unwrap_or_else(|| panic!("an exit reason no step causes: {reason}"))
    }
}

/// Who an exit signal is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum From {
    Actor(usize),
    External,
}

/// A notice an actor handles, with actors and monitors as model indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Note {
    Stopped {
        from: From,
        reason: Reason,
    },
    Down {
        monitor: usize,
        actor: usize,
        reason: Reason,
    },
}

/// One step. The actor that acts (links, monitors, traps, panics, spawns a
/// linked child) is chosen among the live ones; the other actor of a
/// link or monitor, and the target of stop, kill, exit and register, among
/// all actors spawned so far, dead ones included. Names and monitors are
/// taken modulo their number.
#[derive(Clone, Debug)]
pub enum Op {
    Spawn { linked_to: Option<u8> },
    Link(u8, u8),
    Unlink(u8, u8),
    Monitor(u8, u8),
    Demonitor(u8, u8),
    Trap(u8, bool),
    Panic(u8),
    Stop(u8),
    Kill(u8),
    Exit(u8, Reason),
    Register(u8, u8),
    Unregister(u8),
}

// ---- the model ----

/// A predicted answer of `register`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    NotAlive,
    /// The actor already has this name.
    AlreadyNamed(&'static str),
    /// This actor holds the name.
    NameTaken(usize),
}

#[derive(Clone, Debug)]
pub struct ModelActor {
    pub alive: bool,
    pub reason: Option<Reason>,
    pub trapping: bool,
    pub links: BTreeSet<usize>,
    pub name: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub struct ModelMonitor {
    pub watcher: usize,
    pub target: usize,
    pub active: bool,
}

/// What one step is predicted to cause.
#[derive(Debug, Default)]
pub struct Effects {
    /// Actors that die, and why.
    pub deaths: BTreeMap<usize, Reason>,
    /// Notices to actors alive at the end of the step: each must arrive.
    pub required: Vec<(usize, Note)>,
    /// Notices to actors that die in this step: each may arrive.
    pub optional: Vec<(usize, Note)>,
}

#[derive(Debug, Default)]
pub struct Model {
    pub actors: Vec<ModelActor>,
    pub monitors: Vec<ModelMonitor>,
    pub names: BTreeMap<&'static str, usize>,
    /// Notices of the current step, sorted into `Effects` by `finish`.
    pub notes: Vec<(usize, Note)>,
    pub deaths: BTreeMap<usize, Reason>,
}

impl Model {
    pub fn alive(&self, i: usize) -> bool {
        self.actors[i].alive
    }

    pub fn spawn(&mut self, linked_to: Option<usize>) -> usize {
        let i = self.actors.len();
        self.actors.push(ModelActor {
            alive: true,
            reason: None,
            trapping: false,
            links: BTreeSet::new(),
            name: None,
        });
        if let Some(parent) = linked_to {
            self.actors[i].links.insert(parent);
            self.actors[parent].links.insert(i);
        }
        i
    }

    /// `i` (alive) links to `j`.
    pub fn link(&mut self, i: usize, j: usize) {
        if self.alive(j) {
            self.actors[i].links.insert(j);
            self.actors[j].links.insert(i);
        } else {
            self.signal(i, From::Actor(j), Reason::NoProc);
        }
    }

    pub fn unlink(&mut self, i: usize, j: usize) {
        self.actors[i].links.remove(&j);
        self.actors[j].links.remove(&i);
    }

    /// `i` (alive) monitors `j`; returns the monitor's index.
    pub fn monitor(&mut self, i: usize, j: usize) -> usize {
        let k = self.monitors.len();
        let active = self.alive(j);
        self.monitors.push(ModelMonitor {
            watcher: i,
            target: j,
            active,
        });
        if !active {
            self.note(
                i,
                Note::Down {
                    monitor: k,
                    actor: j,
                    reason: Reason::NoProc,
                },
            );
        }
        k
    }

    pub fn demonitor(&mut self, k: usize) -> bool {
        std::mem::replace(&mut self.monitors[k].active, false)
    }

    /// An exit signal that is not `Killed` reaches `to`.
    pub fn signal(&mut self, to: usize, from: From, reason: Reason) {
        if !self.alive(to) {
            return;
        }
        if self.actors[to].trapping {
            self.note(to, Note::Stopped { from, reason });
        } else if reason != Reason::Normal {
            self.die(to, reason);
        }
    }

    /// `ActorRef::exit` from plain code.
    pub fn exit(&mut self, to: usize, reason: Reason) {
        if reason == Reason::Killed {
            self.die(to, reason);
        } else {
            self.signal(to, From::External, reason);
        }
    }

    pub fn note(&mut self, to: usize, note: Note) {
        self.notes.push((to, note));
    }

    /// `x` terminates with `reason`; the failure travels along links, one
    /// actor at a time (as it does in the runtime).
    pub fn die(&mut self, x: usize, reason: Reason) {
        let mut dying = VecDeque::from([(x, reason)]);
        while let Some((x, reason)) = dying.pop_front() {
            if !self.alive(x) {
                continue;
            }
            self.deaths.insert(x, reason);
            let actor = &mut self.actors[x];
            actor.alive = false;
            actor.reason = Some(reason);
            if let Some(name) = actor.name.take() {
                self.names.remove(name);
            }
            let links = std::mem::take(&mut actor.links);
            // The monitors `x` holds stay active until the step ends: a
            // target dying in the same step may reach `x` first (its `Down`
            // is then an optional notice), whatever order this loop takes.
            for linked in links {
                self.actors[linked].links.remove(&x);
                if !self.alive(linked) {
                    continue;
                }
                if self.actors[linked].trapping {
                    self.note(
                        linked,
                        Note::Stopped {
                            from: From::Actor(x),
                            reason,
                        },
                    );
                } else if reason != Reason::Normal {
                    dying.push_back((linked, reason));
                }
            }
            let fired: Vec<(usize, usize)> = self
                .monitors
                .iter_mut()
                .enumerate()
                .filter(|(_, m)| m.target == x && m.active)
                .map(|(k, m)| {
                    m.active = false;
                    (k, m.watcher)
                })
                .collect();
            for (k, watcher) in fired {
                self.note(
                    watcher,
                    Note::Down {
                        monitor: k,
                        actor: x,
                        reason,
                    },
                );
            }
        }
    }

    /// What `register(name, i)` may answer: `Ok` alone, or every rule it
    /// breaks (the runtime may report any one of them).
    pub fn register(&mut self, i: usize, name: &'static str) -> Vec<Verdict> {
        if !self.alive(i) {
            return vec![Verdict::NotAlive];
        }
        let mut broken = Vec::new();
        if let Some(current) = self.actors[i].name {
            broken.push(Verdict::AlreadyNamed(current));
        }
        if let Some(&holder) = self.names.get(name) {
            broken.push(Verdict::NameTaken(holder));
        }
        if broken.is_empty() {
            self.names.insert(name, i);
            self.actors[i].name = Some(name);
            broken.push(Verdict::Ok);
        }
        broken
    }

    pub fn unregister(&mut self, name: &'static str) -> Option<usize> {
        let holder = self.names.remove(name)?;
        self.actors[holder].name = None;
        Some(holder)
    }

    /// Ends a step: sorts its notices by whether their addressee survived.
    pub fn finish(&mut self) -> Effects {
        for monitor in &mut self.monitors {
            if !self.actors[monitor.watcher].alive {
                monitor.active = false;
            }
        }
        let mut effects = Effects {
            deaths: std::mem::take(&mut self.deaths),
            ..Effects::default()
        };
        for (to, note) in std::mem::take(&mut self.notes) {
            if self.alive(to) {
                effects.required.push((to, note));
            } else {
                effects.optional.push((to, note));
            }
        }
        effects
    }
}
