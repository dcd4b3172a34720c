//! Process groups, like Erlang's `pg`: named sets of actors that code can
//! join, leave, list, broadcast to, and watch.
//!
//! Groups belong to a [`System`]. An actor may join a group several times,
//! as in `pg`: the joins are counted, [`System::members`] lists the actor
//! once per join, and each [`System::leave`] takes one join back. An actor
//! leaves every group when it terminates, before anyone is told of its end
//! (its name is freed at the same point), so whoever handles its `Down` or
//! `Stopped` no longer finds it among the members.
//!
//! A group monitor ([`Context::monitor_group`], [`Inbox::monitor_group`],
//! [`Bridge::monitor_group`]) returns the members at that instant and then
//! delivers a [`GroupChanged`] for every join and leave, in the order the
//! table changed. As with `demonitor`, none arrives after
//! `demonitor_group` returns: a notice already queued is checked against
//! the table when it is received (`screen`), and dropped if its monitor is
//! gone.
//!
//! All of a system's groups sit behind one lock; an actor pays for groups
//! only if it joins or watches one: a table keyed by actor id says which
//! actors do, so the end of any other actor takes no lock here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use parking_lot::Mutex;

use crate::actor::Actor;
use crate::address::{ActorId, ActorRef, Core, IdHasher};
use crate::bridge::Bridge;
use crate::context::Context;
use crate::inbox::Inbox;
use crate::mailbox::Envelope;
use crate::system::System;

/// Identifies one group monitor; every [`GroupChanged`] it delivers names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupMonitorRef(u64);

impl GroupMonitorRef {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        GroupMonitorRef(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for GroupMonitorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "group-monitor#{}", self.0)
    }
}

/// A watched group changed: actors joined it or left it (Erlang's
/// `{Ref, join | leave, Group, Pids}`).
///
/// One notice tells one change: `joined` holds the actor of one join, or
/// `left` the actor of one leave, or — when an actor terminates — that
/// actor once per join it still held. Sent with no sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupChanged {
    /// The monitor that delivers it.
    pub monitor: GroupMonitorRef,
    /// The group.
    pub group: String,
    /// Actors that joined (one entry per join).
    pub joined: Vec<ActorRef>,
    /// Actors that left (one entry per join taken back).
    pub left: Vec<ActorRef>,
}

/// A group operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// The actor has terminated, so it cannot join a group.
    #[error("actor {0} is not alive, so it cannot join a group")]
    NotAlive(ActorId),
}

/// A system's groups.
#[derive(Default)]
pub(crate) struct Groups {
    table: Mutex<Table>,
    /// The actors that are in `table.by_actor` (members or watchers). Read
    /// without the table's lock when any actor ends; written under the
    /// actor's relations lock after it was found open, so an actor's end
    /// (which closes the relations first) always sees its entry.
    involved: DashMap<ActorId, (), BuildHasherDefault<IdHasher>>,
}

#[derive(Default)]
struct Table {
    groups: HashMap<String, Group>,
    /// Every live group monitor: its group and its watcher.
    watches: HashMap<GroupMonitorRef, (String, ActorId)>,
    /// What each involved actor has: its joins and its monitors.
    by_actor: HashMap<ActorId, Involvement>,
}

#[derive(Default)]
struct Group {
    /// Members by id, each with the number of its joins.
    members: BTreeMap<ActorId, (ActorRef, usize)>,
    watchers: BTreeMap<GroupMonitorRef, ActorRef>,
}

impl Group {
    fn is_unused(&self) -> bool {
        self.members.is_empty() && self.watchers.is_empty()
    }

    /// The members, ordered by id, each once per join.
    fn listed(&self) -> Vec<ActorRef> {
        self.members
            .values()
            .flat_map(|(actor, joins)| std::iter::repeat(actor).take(*joins).cloned())
            .collect()
    }

    /// Tells every watcher of one change. Under the table's lock, so every
    /// watcher sees the changes in the table's order. Queued even from a
    /// killed actor's thread: the change itself happened.
    fn notify(&self, group: &str, joined: &[ActorRef], left: &[ActorRef]) {
        for (monitor, watcher) in &self.watchers {
            let changed = GroupChanged {
                monitor: *monitor,
                group: group.to_string(),
                joined: joined.to_vec(),
                left: left.to_vec(),
            };
            watcher.core.enqueue(Envelope::new(changed, None));
        }
    }
}

impl Table {
    /// Ends group monitor `monitor`: forgets its watch and takes its
    /// watcher off its group (dropping the group if nothing is left in it).
    /// `false` if there was no such monitor.
    fn end_watch(&mut self, monitor: GroupMonitorRef) -> bool {
        let Some((group, _)) = self.watches.remove(&monitor) else {
            return false;
        };
        if let Some(entry) = self.groups.get_mut(&group) {
            entry.watchers.remove(&monitor);
            if entry.is_unused() {
                self.groups.remove(&group);
            }
        }
        true
    }
}

#[derive(Default)]
struct Involvement {
    joined: BTreeSet<String>,
    watching: BTreeSet<GroupMonitorRef>,
}

impl Involvement {
    fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.watching.is_empty()
    }
}

impl Groups {
    /// Marks `actor` involved if it is still alive (see `involved`).
    fn involve(&self, actor: &ActorRef) -> bool {
        let rel = actor.core.relations();
        if rel.closed {
            return false;
        }
        self.involved.insert(actor.id(), ());
        true
    }

    /// Drops `id`'s entry once it has nothing left. Under the table's lock.
    fn settle(&self, by_actor: &mut HashMap<ActorId, Involvement>, id: ActorId) {
        if by_actor.get(&id).is_some_and(Involvement::is_empty) {
            by_actor.remove(&id);
            self.involved.remove(&id);
        }
    }

    fn join(&self, group: &str, actor: &ActorRef) -> Result<(), GroupError> {
        let mut table = self.table.lock();
        if !self.involve(actor) {
            return Err(GroupError::NotAlive(actor.id()));
        }
        let Table {
            groups, by_actor, ..
        } = &mut *table;
        by_actor
            .entry(actor.id())
            .or_default()
            .joined
            .insert(group.to_string());
        let entry = groups.entry(group.to_string()).or_default();
        entry
            .members
            .entry(actor.id())
            .or_insert_with(|| (actor.clone(), 0))
            .1 += 1;
        entry.notify(group, std::slice::from_ref(actor), &[]);
        Ok(())
    }

    fn leave(&self, group: &str, actor: &ActorRef) -> bool {
        let mut table = self.table.lock();
        let Table {
            groups, by_actor, ..
        } = &mut *table;
        let Some(entry) = groups.get_mut(group) else {
            return false;
        };
        let Some((_, joins)) = entry.members.get_mut(&actor.id()) else {
            return false;
        };
        *joins -= 1;
        if *joins == 0 {
            entry.members.remove(&actor.id());
            if let Some(involvement) = by_actor.get_mut(&actor.id()) {
                involvement.joined.remove(group);
            }
            self.settle(by_actor, actor.id());
        }
        entry.notify(group, &[], std::slice::from_ref(actor));
        if entry.is_unused() {
            groups.remove(group);
        }
        true
    }

    fn members(&self, group: &str) -> Vec<ActorRef> {
        let table = self.table.lock();
        table
            .groups
            .get(group)
            .map(Group::listed)
            .unwrap_or_default()
    }

    /// The members, each once (for a broadcast).
    fn distinct_members(&self, group: &str) -> Vec<ActorRef> {
        let table = self.table.lock();
        table.groups.get(group).map_or_else(Vec::new, |entry| {
            entry.members.values().map(|(a, _)| a.clone()).collect()
        })
    }

    fn which_groups(&self) -> Vec<String> {
        let table = self.table.lock();
        let mut names: Vec<String> = table
            .groups
            .iter()
            .filter(|(_, g)| !g.members.is_empty())
            .map(|(name, _)| name.clone())
            .collect();
        names.sort_unstable();
        names
    }

    fn monitor(&self, group: &str, watcher: &ActorRef) -> (GroupMonitorRef, Vec<ActorRef>) {
        let monitor = GroupMonitorRef::next();
        let mut table = self.table.lock();
        let Table {
            groups,
            watches,
            by_actor,
        } = &mut *table;
        let members = groups.get(group).map(Group::listed).unwrap_or_default();
        // A dead watcher could never read a notice: the monitor never fires.
        if !self.involve(watcher) {
            return (monitor, members);
        }
        by_actor
            .entry(watcher.id())
            .or_default()
            .watching
            .insert(monitor);
        watches.insert(monitor, (group.to_string(), watcher.id()));
        groups
            .entry(group.to_string())
            .or_default()
            .watchers
            .insert(monitor, watcher.clone());
        (monitor, members)
    }

    fn demonitor(&self, monitor: GroupMonitorRef, watcher: ActorId) -> bool {
        let mut table = self.table.lock();
        match table.watches.get(&monitor) {
            Some((_, holder)) if *holder == watcher => {}
            _ => return false,
        }
        if !table.end_watch(monitor) {
            return false;
        }
        if let Some(involvement) = table.by_actor.get_mut(&watcher) {
            involvement.watching.remove(&monitor);
        }
        self.settle(&mut table.by_actor, watcher);
        true
    }

    /// Whether `monitor` still delivers to `receiver`.
    fn accepts(&self, monitor: GroupMonitorRef, receiver: ActorId) -> bool {
        let table = self.table.lock();
        table
            .watches
            .get(&monitor)
            .is_some_and(|(_, holder)| *holder == receiver)
    }

    /// `id` terminated: its group monitors end, and it leaves every group
    /// (watchers told). Called by `Core::close` once the actor is closed,
    /// before anyone is told of its end.
    pub fn actor_ended(&self, id: ActorId) {
        if !self.involved.contains_key(&id) {
            return;
        }
        let mut table = self.table.lock();
        self.involved.remove(&id);
        let Some(involvement) = table.by_actor.remove(&id) else {
            return;
        };
        for monitor in involvement.watching {
            table.end_watch(monitor);
        }
        let groups = &mut table.groups;
        for group in involvement.joined {
            let Some(entry) = groups.get_mut(&group) else {
                continue;
            };
            if let Some((actor, joins)) = entry.members.remove(&id) {
                let left = vec![actor; joins];
                entry.notify(&group, &[], &left);
            }
            if entry.is_unused() {
                groups.remove(&group);
            }
        }
    }
}

/// Whether `envelope` is a group notice, which [`screen`] looks at.
#[inline]
pub(crate) fn is_group_notice(envelope: &Envelope) -> bool {
    envelope.is::<GroupChanged>()
}

/// Lets `envelope` through unless it is a [`GroupChanged`] whose monitor
/// `receiver` no longer holds (demonitored after it was sent): the check
/// that makes `demonitor_group` final.
pub(crate) fn screen(receiver: &Core, envelope: Envelope) -> Option<Envelope> {
    if !envelope.is::<GroupChanged>() {
        return Some(envelope);
    }
    let sender = envelope.sender.clone();
    match envelope.downcast::<GroupChanged>() {
        Ok(changed) => receiver
            .system
            .groups
            .accepts(changed.monitor, receiver.id)
            .then(|| Envelope::new(changed, sender)),
        Err(envelope) => Some(envelope),
    }
}

impl System {
    /// Adds one join of `actor` to `group` (Erlang's `pg:join/2`); watchers
    /// of the group get a [`GroupChanged`]. An actor may join a group
    /// several times: [`members`](Self::members) then lists it once per
    /// join, and each [`leave`](Self::leave) takes one join back.
    ///
    /// Fails with [`GroupError::NotAlive`] if `actor` has terminated (a
    /// dead actor would have left at once).
    ///
    /// ```
    /// use ferrotp::{Actor, Handlers, System};
    /// # struct Worker;
    /// # impl Actor for Worker { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let (a, b) = (system.spawn(Worker), system.spawn(Worker));
    /// system.join("workers", &b).unwrap();
    /// system.join("workers", &a).unwrap();
    /// assert_eq!(system.members("workers"), vec![a.clone(), b.clone()]);
    /// assert!(system.leave("workers", &a));
    /// assert_eq!(system.members("workers"), vec![b]);
    /// ```
    pub fn join(&self, group: &str, actor: &ActorRef) -> Result<(), GroupError> {
        self.inner().groups.join(group, actor)
    }

    /// Takes back one join of `actor` to `group` (Erlang's `pg:leave/2`);
    /// returns `false` if it had none. Watchers get a [`GroupChanged`].
    pub fn leave(&self, group: &str, actor: &ActorRef) -> bool {
        self.inner().groups.leave(group, actor)
    }

    /// The members of `group` (Erlang's `pg:get_members/1`), ordered by
    /// [`ActorId`] (so in spawn order), each listed once per join. Empty
    /// for a group nobody joined.
    pub fn members(&self, group: &str) -> Vec<ActorRef> {
        self.inner().groups.members(group)
    }

    /// The groups that have members, sorted (Erlang's `pg:which_groups/0`).
    pub fn groups(&self) -> Vec<String> {
        self.inner().groups.which_groups()
    }

    /// Sends a clone of `msg` to each member of `group` once (however many
    /// times it joined), with no sender; returns how many were sent to. A
    /// member that terminates meanwhile counts its copy as a dead letter.
    pub fn broadcast<M: Clone + Send + 'static>(&self, group: &str, msg: M) -> usize {
        broadcast(self, group, msg, None)
    }
}

fn broadcast<M: Clone + Send + 'static>(
    system: &System,
    group: &str,
    msg: M,
    sender: Option<&ActorRef>,
) -> usize {
    let members = system.inner().groups.distinct_members(group);
    let count = members.len();
    let Some((last, others)) = members.split_last() else {
        return 0;
    };
    for member in others {
        member
            .core
            .deliver(Envelope::new(msg.clone(), sender.cloned()));
    }
    last.core.deliver(Envelope::new(msg, sender.cloned()));
    count
}

impl<A: Actor> Context<A> {
    /// This actor joins `group` once more (see [`System::join`]).
    pub fn join(&self, group: &str) {
        // Only fails if this actor was killed meanwhile: then nothing it
        // does has effect any more.
        let _ = self.system().join(group, self.myself());
    }

    /// This actor takes back one join of `group`; `false` if it had none.
    pub fn leave(&self, group: &str) -> bool {
        self.system().leave(group, self.myself())
    }

    /// Sends a clone of `msg` to each member of `group` once, with this
    /// actor as the sender (itself included if it is a member); returns
    /// how many were sent to.
    pub fn broadcast<M: Clone + Send + 'static>(&self, group: &str, msg: M) -> usize {
        broadcast(self.system(), group, msg, Some(self.myself()))
    }

    /// Watches `group` (Erlang's `pg:monitor/1`): returns the monitor and
    /// the members at this instant; from then on each join and leave
    /// arrives as a [`GroupChanged`], in order, none lost.
    pub fn monitor_group(&self, group: &str) -> (GroupMonitorRef, Vec<ActorRef>) {
        self.system().inner().groups.monitor(group, self.myself())
    }

    /// Stops watching; no [`GroupChanged`] of `monitor` is handled after
    /// this returns. Returns whether the monitor was still active.
    pub fn demonitor_group(&self, monitor: GroupMonitorRef) -> bool {
        let groups = &self.system().inner().groups;
        groups.demonitor(monitor, self.myself().id())
    }
}

impl Inbox {
    /// Watches `group`: returns the monitor and the members at this
    /// instant; each later join and leave arrives as a [`GroupChanged`].
    ///
    /// ```
    /// use ferrotp::{Actor, GroupChanged, Handlers, System};
    /// use std::time::Duration;
    /// # struct Worker;
    /// # impl Actor for Worker { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let inbox = system.inbox();
    /// let (monitor, members) = inbox.monitor_group("workers");
    /// assert!(members.is_empty());
    /// let worker = system.spawn(Worker);
    /// system.join("workers", &worker).unwrap();
    /// let changed: GroupChanged = inbox.recv(Duration::from_secs(5)).unwrap().downcast().unwrap();
    /// assert_eq!((changed.monitor, changed.joined), (monitor, vec![worker]));
    /// assert!(inbox.demonitor_group(monitor));
    /// ```
    pub fn monitor_group(&self, group: &str) -> (GroupMonitorRef, Vec<ActorRef>) {
        self.actor().core.system.groups.monitor(group, self.actor())
    }

    /// Stops watching; no [`GroupChanged`] of `monitor` is received after
    /// this returns. Returns whether the monitor was still active.
    pub fn demonitor_group(&self, monitor: GroupMonitorRef) -> bool {
        let core = &self.actor().core;
        core.system.groups.demonitor(monitor, core.id)
    }
}

impl Bridge {
    /// Watches `group` (see [`Inbox::monitor_group`]); notices arrive
    /// through [`recv`](Self::recv).
    pub fn monitor_group(&self, group: &str) -> (GroupMonitorRef, Vec<ActorRef>) {
        let actor = self.actor();
        actor.core.system.groups.monitor(group, actor)
    }

    /// Stops watching; no [`GroupChanged`] of `monitor` is received after
    /// this returns.
    pub fn demonitor_group(&self, monitor: GroupMonitorRef) -> bool {
        let core = &self.actor().core;
        core.system.groups.demonitor(monitor, core.id)
    }
}
