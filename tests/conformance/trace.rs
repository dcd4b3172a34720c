//! What each process of a script saw, and the canonical form two traces
//! are compared in.
//!
//! Events are Erlang terms on both sides (the ferrotp interpreter builds
//! the terms the BEAM interpreter prints), with processes as indices and
//! monitors as the step that made them:
//!
//! - `{msg, From, N}`: message number `N`, sent by `From`
//! - `{exit, From, Reason}`: `{'EXIT', From, Reason}` / `Stopped { actor: From, reason }`
//!   (also the answer to a `Stop`, which is a `Stopped` in ferrotp)
//! - `{down, Monitor, Target, Reason}`: `{'DOWN', ..}` / `Down`
//! - `{reflex, Ended, Result}`: what a reflex (`whereis` or `register`)
//!   returned on hearing that `Ended` ended
//! - `{demonitor, Monitor, WasActive}`, `{register, Name, ok | badarg}`,
//!   `{unregister, Name, ok | badarg}`, `{whereis, Name, Proc | undefined}`,
//!   `{send_named, Name, ok | badarg}`: results of the process's own operations
//!
//! Reasons: `normal`, `shutdown`, `killed`, `noproc`, `{custom, N}`,
//! `{crash, N}`, or `{other, Text}` for anything else.

use std::fmt;

use crate::term::Term;

/// What one process saw, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcTrace {
    /// `alive`, `never` (its spawner was dead), or `{died, Step, Reason}`.
    pub fate: Term,
    /// Each event with the step during which it was observed.
    pub events: Vec<(usize, Term)>,
}

/// A script's trace: each step's outcome (`done`, `skipped` when its actor
/// was dead, `stuck` when the system did not settle), and each process's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub outcomes: Vec<String>,
    pub procs: Vec<ProcTrace>,
}

impl Trace {
    /// Reads `{trace, Id, {Outcomes, Procs}}` as the BEAM interpreter prints it.
    pub fn from_term(term: &Term) -> Result<(u64, Trace), String> {
        let bad = || format!("not a trace: {term}");
        let top = term.tuple().ok_or_else(bad)?;
        if top.len() != 3 || top[0].atom() != Some("trace") {
            return Err(bad());
        }
        let id = top[1].int().ok_or_else(bad)? as u64;
        let body = top[2].tuple().ok_or_else(bad)?;
        if body.len() != 2 {
            return Err(format!("the BEAM interpreter failed: {term}"));
        }
        let outcomes = body[0]
            .list()
            .ok_or_else(bad)?
            .iter()
            .map(|o| o.atom().map(str::to_string).ok_or_else(bad))
            .collect::<Result<_, _>>()?;
        let mut procs = Vec::new();
        for p in body[1].list().ok_or_else(bad)? {
            let p = p.tuple().ok_or_else(bad)?;
            let mut events = Vec::new();
            for e in p[1].list().ok_or_else(bad)? {
                let e = e.tuple().ok_or_else(bad)?;
                events.push((e[0].int().ok_or_else(bad)? as usize, e[1].clone()));
            }
            procs.push(ProcTrace {
                fate: p[0].clone(),
                events,
            });
        }
        Ok((id, Trace { outcomes, procs }))
    }

    /// The trace with only what Erlang's semantics make deterministic, as
    /// lines of text:
    ///
    /// - within a step, events are grouped by the process they came from
    ///   (order is promised per sender, not across senders), groups in
    ///   process order, the process's own results first;
    /// - in the step where a process dies, what it saw from others is
    ///   dropped: whether a notice reached it before the signal that killed
    ///   it depends on timing (a non-trapping process dies at the first
    ///   abnormal signal).
    /// - what a reflex saw is compared only in steps where one process
    ///   ended and one process ran reflexes: with several ends, or several
    ///   reflexes (one registering a name the other looks up), what the
    ///   others had done by then depends on timing.
    pub fn canonical(&self) -> Vec<String> {
        let mut lines = vec![format!("steps: {}", self.outcomes.join(" "))];
        let deaths_in = |step: usize| {
            self.procs
                .iter()
                .filter(|p| died_at(&p.fate) == Some(step))
                .count()
        };
        let reflexes_in = |step: usize| {
            self.procs
                .iter()
                .filter(|p| p.events.iter().any(|(s, e)| *s == step && is_reflex(e)))
                .count()
        };
        for (p, proc) in self.procs.iter().enumerate() {
            lines.push(format!("p{p}: {}", proc.fate));
            let death = died_at(&proc.fate);
            let mut steps: Vec<usize> = proc.events.iter().map(|(s, _)| *s).collect();
            steps.dedup();
            for step in steps {
                let mut groups: Vec<(Option<i64>, Vec<String>)> = Vec::new();
                for (_, event) in proc.events.iter().filter(|(s, _)| *s == step) {
                    let from = source(event);
                    if death == Some(step) && from.is_some() {
                        continue;
                    }
                    if is_reflex(event) && (deaths_in(step) > 1 || reflexes_in(step) > 1) {
                        continue;
                    }
                    match groups.iter_mut().find(|(f, _)| *f == from) {
                        Some((_, events)) => events.push(event.to_string()),
                        None => groups.push((from, vec![event.to_string()])),
                    }
                }
                groups.sort_by_key(|(from, _)| *from);
                for (from, events) in groups {
                    let from = from.map_or("own".to_string(), |f| format!("from p{f}"));
                    lines.push(format!("  step {step} {from}: {}", events.join(" ")));
                }
            }
        }
        lines
    }
}

/// The step a `{died, Step, Reason}` fate names.
fn died_at(fate: &Term) -> Option<usize> {
    let t = fate.tuple()?;
    (t.first()?.atom()? == "died").then(|| t[1].int().map(|s| s as usize))?
}

fn is_reflex(event: &Term) -> bool {
    event
        .tuple()
        .and_then(|t| t.first()?.atom())
        .is_some_and(|a| a == "reflex")
}

/// The process an event came from; `None` for the process's own results.
fn source(event: &Term) -> Option<i64> {
    let t = event.tuple()?;
    let from = match t.first()?.atom()? {
        "msg" | "exit" | "reflex" => &t[1],
        "down" => &t[2],
        _ => return None,
    };
    // An unknown sender sorts first, but still apart from own results.
    Some(from.int().unwrap_or(-1))
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in self.canonical() {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// Shortcuts for building event terms.
pub fn atom(a: &str) -> Term {
    Term::Atom(a.to_string())
}

pub fn int(n: impl TryInto<i64>) -> Term {
    Term::Int(n.try_into().ok().expect("small number"))
}

pub fn tuple<const N: usize>(items: [Term; N]) -> Term {
    Term::Tuple(items.into())
}
