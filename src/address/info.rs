//! [`ActorInfo`]: a read-only snapshot of one actor (name, ties, mailbox,
//! counters, labels), for tools and tests.
//!
//! Apart from the address because only observers read it; nothing in the
//! runtime decides on it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{ActorId, ActorRef};
use crate::executor::Executor;
use crate::introspect::Activity;
use crate::links::MonitorRef;

impl ActorRef {
    /// The name the actor is registered under, if any.
    pub fn name(&self) -> Option<String> {
        self.core.relations().name().map(str::to_string)
    }

    /// A snapshot of the actor: its name, links, monitors, mailbox,
    /// counters, what it does, its parent and labels.
    ///
    /// ```
    /// # use ferrotp::{Activity, Actor, Executor, Handlers, SpawnOptions, System};
    /// # struct Idle;
    /// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let cache = system
    ///     .spawn_with(Idle, SpawnOptions::new().name("cache").label("tier", "hot"))
    ///     .unwrap();
    /// let info = cache.info();
    /// assert_eq!(info.name.as_deref(), Some("cache"));
    /// assert_eq!(info.executor, Executor::Pool);
    /// assert_eq!(info.label("tier"), Some("hot"));
    /// assert_eq!(info.parent, None); // spawned by plain code, not an actor
    /// ```
    pub fn info(&self) -> ActorInfo {
        let stats = self.stats();
        let rel = self.core.relations();
        let (mut links, mut monitored_by, mut monitoring) = (Vec::new(), Vec::new(), Vec::new());
        if let Some(ties) = rel.ties_ref() {
            links = ties.links.keys().copied().collect();
            monitored_by = ties.watchers.values().map(|w| w.id()).collect();
            monitoring = ties.watching.iter().map(|(m, t)| (*m, t.id())).collect();
        }
        links.sort();
        monitored_by.sort();
        monitoring.sort();
        let (_, mailbox_high_water) = self.core.mailbox.len_and_high_water();
        ActorInfo {
            id: self.id(),
            name: rel.name().map(str::to_string),
            alive: !rel.closed,
            trap_exit: self.core.trapping.load(Ordering::Acquire),
            links,
            monitored_by,
            monitoring,
            #[cfg(feature = "tokio")]
            tasks: self.core.system.tasks.count(self.id()),
            #[cfg(not(feature = "tokio"))]
            tasks: 0,
            mailbox_len: stats.mailbox_len,
            executor: stats.executor,
            messages_handled: stats.messages_handled,
            activity: stats.activity,
            activity_for: stats.activity_for,
            parent: stats.parent,
            labels: rel.labels().to_vec(),
            mailbox_high_water,
            mailbox_capacity: self.core.mailbox.capacity(),
        }
    }

    /// The value of this actor's label `key`, if it has one (see
    /// [`SpawnOptions::label`](crate::SpawnOptions::label)).
    pub fn label(&self, key: &str) -> Option<String> {
        let rel = self.core.relations();
        rel.labels().get(key).map(str::to_string)
    }
}

/// A read-only snapshot of one actor, for tools and tests ([`ActorRef::info`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorInfo {
    /// The actor.
    pub id: ActorId,
    /// Its registered name.
    pub name: Option<String>,
    /// Whether it was alive when the snapshot was taken.
    pub alive: bool,
    /// Whether it traps exits.
    pub trap_exit: bool,
    /// The actors it is linked to, sorted.
    pub links: Vec<ActorId>,
    /// The actors that monitor it (one entry per monitor), sorted.
    pub monitored_by: Vec<ActorId>,
    /// The monitors it holds, and their targets.
    pub monitoring: Vec<(MonitorRef, ActorId)>,
    /// Messages waiting in its mailbox (including internal wake-ups).
    pub mailbox_len: usize,
    /// Tokio tasks it runs now ([`Context::spawn_task`](crate::Context::spawn_task),
    /// feature `tokio`; always 0 without it).
    pub tasks: usize,
    /// The executor that runs it.
    pub executor: Executor,
    /// Pieces of mail it has handled: messages, `Down`s and exit signals.
    pub messages_handled: u64,
    /// What it was doing when the snapshot was taken.
    pub activity: Activity,
    /// For how long it had been doing it (millisecond precision).
    pub activity_for: Duration,
    /// The actor whose code spawned it (OTP's `$parent`, the head of
    /// `$ancestors`): set when an actor of the same system spawns it
    /// (`Context::spawn*`, or `System::spawn*` called from a handler);
    /// `None` when plain code did.
    pub parent: Option<ActorId>,
    /// Its labels, sorted by key: what it or its spawner recorded about it
    /// ([`SpawnOptions::label`](crate::SpawnOptions::label),
    /// [`Context::set_label`](crate::Context::set_label)), like the data
    /// OTP's `proc_lib` keeps in the process dictionary. A supervisor
    /// records a child's id here.
    pub labels: Vec<(String, String)>,
    /// The most messages that ever waited in its mailbox at once (counted
    /// like `mailbox_len`): how close a bounded mailbox came to its
    /// capacity, how deep an unbounded one's backlog grew.
    pub mailbox_high_water: usize,
    /// The capacity of its mailbox, `None` if unbounded (the default; see
    /// [`SpawnOptions::mailbox`](crate::SpawnOptions::mailbox)).
    pub mailbox_capacity: Option<usize>,
}

impl ActorInfo {
    /// The value of label `key`, if the actor has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        crate::labels::get(&self.labels, key)
    }
}
