//! What a supervisor would leave behind if it died before its children: its
//! live children, published where whoever stops it can see them.
//!
//! A supervisor that is killed (at its own shutdown deadline, brutally, or
//! by anyone) never gets to stop its children. They got the exit signal
//! `Killed` along their links, but a worker busy in a long handler acts on
//! it only when the handler returns, and one that traps exits may ignore
//! it. So each supervisor keeps its live children (with their shutdown
//! policies and, for nested supervisors, their own [`Subtree`]) in a shared
//! table; whoever stops a supervisor — its parent's [`Stopper`], or a
//! handle's `stop` — reads the table once the supervisor is dead and
//! finishes the job ([`Reaper`]): every child still alive gets its own
//! shutdown (exit signal `Shutdown`, then a kill at its deadline owned by
//! the timer thread) and is waited for, subtree and all.
//!
//! A kill takes effect while the supervisor's handler may still run on its
//! thread, and that handler may be in the middle of spawning a child: the
//! child is linked (so a trapping one survives the `Killed` signal) but not
//! yet in the table. So a spawn is counted in the table from before it
//! begins until its child is listed ([`Subtree::spawning`]), and whoever
//! reads a dead supervisor's table ([`Subtree::alive`]) first waits for the
//! spawns in flight (a child's construction, or its start when the spawn
//! awaits it) and closes the table: a spawn that would begin afterwards
//! fails, so no child can appear where nobody looks any more.
//!
//! [`Stopper`]: crate::lifecycle::Stopper

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use ferrotp::{ActorId, ActorRef, Down, ExitReason, Inbox, MonitorRef, System};

use crate::spec::Shutdown;

/// One live child of a supervisor.
#[derive(Clone)]
pub(crate) struct Member {
    pub actor: ActorRef,
    pub shutdown: Shutdown,
    /// The child's own children, if it is a supervisor of this crate.
    pub subtree: Option<Arc<Subtree>>,
}

/// The live children of one supervisor.
#[derive(Default)]
pub(crate) struct Subtree {
    /// The supervisor's id, once it runs (0 before).
    owner: OnceLock<ActorId>,
    table: Mutex<Table>,
    /// Signalled when the last spawn in flight has ended.
    spawned: Condvar,
}

#[derive(Default)]
struct Table {
    members: HashMap<ActorId, Member>,
    /// Spawns begun and not yet listed (see [`Subtree::spawning`]).
    spawning: usize,
    /// Set by the first read of the dead supervisor's children: no spawn
    /// begins afterwards.
    closed: bool,
}

/// A spawn of a child of the supervisor, counted until it is listed or
/// failed (see [`Subtree::spawning`]).
pub(crate) struct Spawning<'a> {
    subtree: &'a Subtree,
}

thread_local! {
    /// The subtree of the supervisor actor built last on this thread, for
    /// `spawn_child` to pick up (the start function builds the actor).
    /// Weak: a supervisor started from plain code never has it taken, and
    /// must not be kept alive by it.
    static BUILT: RefCell<Option<Weak<Subtree>>> = const { RefCell::new(None) };
}

impl Subtree {
    /// A new, empty subtree for a supervisor actor being built now.
    pub fn for_new_supervisor() -> Arc<Subtree> {
        let subtree = Arc::new(Subtree::default());
        BUILT.with(|built| *built.borrow_mut() = Some(Arc::downgrade(&subtree)));
        subtree
    }

    /// Runs `start` (which may build a supervisor actor and spawn it) and
    /// returns what it spawned with that supervisor's subtree, if it is one.
    pub fn capture<T>(
        start: impl FnOnce() -> T,
        spawned: impl FnOnce(&T) -> Option<ActorId>,
    ) -> (T, Option<Arc<Subtree>>) {
        // Saved and restored: a start that runs inline may capture too.
        let outer = BUILT.with(|built| built.borrow_mut().take());
        let result = start();
        let built = BUILT.with(|built| std::mem::replace(&mut *built.borrow_mut(), outer));
        let subtree = match (built.and_then(|weak| weak.upgrade()), spawned(&result)) {
            // Its owner is the child, or not set yet (a child spawned
            // without waiting for its `started`): it is the child's, not
            // some other supervisor's its start function built and started
            // along the way (that one's `started` set its owner).
            (Some(subtree), Some(id)) if subtree.owner().map_or(true, |o| o == id) => Some(subtree),
            _ => None,
        };
        (result, subtree)
    }

    /// Called by the supervisor when it starts running.
    pub fn set_owner(&self, id: ActorId) {
        let _ = self.owner.set(id);
    }

    fn owner(&self) -> Option<ActorId> {
        self.owner.get().copied()
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // Only short, non-panicking sections hold the lock.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, member: Member) {
        self.table().members.insert(member.actor.id(), member);
    }

    pub fn remove(&self, id: ActorId) -> Option<Member> {
        self.table().members.remove(&id)
    }

    /// Counts a spawn of a child that begins now, until
    /// [`Spawning::listed`] (or its drop, if the spawn failed); `None` if
    /// the supervisor is dead and its children were taken over already: it
    /// must spawn nothing more (its thread runs on only because a kill does
    /// not wait for a handler to return).
    pub fn spawning(&self) -> Option<Spawning<'_>> {
        let mut table = self.table();
        if table.closed {
            return None;
        }
        table.spawning += 1;
        Some(Spawning { subtree: self })
    }

    /// A child has ended: it leaves the table, and if it was a supervisor
    /// that left children alive (it was killed), their shutdown begins.
    pub fn child_ended(&self, id: ActorId) {
        if let Some(Member {
            subtree: Some(subtree),
            ..
        }) = self.remove(id)
        {
            subtree.shut_down_orphans();
        }
    }

    pub fn get(&self, id: ActorId) -> Option<Member> {
        self.table().members.get(&id).cloned()
    }

    /// The members still alive, for whoever takes over from the dead
    /// supervisor the children it did not get to stop: once the spawns its
    /// thread had in flight have ended (so that a child it was spawning
    /// when it was killed is among them), and with the table closed to
    /// further spawns.
    pub fn alive(&self) -> Vec<Member> {
        let mut table = self.table();
        while table.spawning > 0 {
            table = self.spawned.wait(table).unwrap_or_else(|e| e.into_inner());
        }
        table.closed = true;
        table
            .members
            .values()
            .filter(|m| m.actor.is_alive())
            .cloned()
            .collect()
    }
}

impl Spawning<'_> {
    /// The spawn succeeded: the child is listed, and the spawn ends.
    pub fn listed(self, member: Member) {
        let mut table = self.subtree.table();
        table.members.insert(member.actor.id(), member);
        self.end(&mut table);
        // Ended under the lock taken once: nothing left for `drop`.
        std::mem::forget(self);
    }

    fn end(&self, table: &mut Table) {
        table.spawning -= 1;
        if table.spawning == 0 {
            self.subtree.spawned.notify_all();
        }
    }
}

impl Drop for Spawning<'_> {
    /// The spawn failed (or panicked): it ends with no child listed.
    fn drop(&mut self) {
        let mut table = self.subtree.table();
        self.end(&mut table);
    }
}

impl Member {
    /// Begins this child's shutdown on behalf of its dead supervisor, per
    /// its spec: kill at once, or the exit signal `Shutdown` with a kill at
    /// its deadline (owned by the timer thread), or the signal alone.
    pub fn shut_down_orphan(&self) {
        match self.shutdown {
            Shutdown::Brutal => self.actor.kill(),
            Shutdown::Timeout(d) => {
                self.actor.exit_or_kill(ExitReason::Shutdown, d);
            }
            Shutdown::Infinity => self.actor.exit(ExitReason::Shutdown),
        }
    }
}

impl Subtree {
    /// Begins the shutdown of every child that the (dead) supervisor left
    /// alive, without waiting for them: a parent that restarts a dead
    /// supervisor child calls this, so that no orphan outlives its deadline.
    pub fn shut_down_orphans(&self) {
        for member in self.alive() {
            member.shut_down_orphan();
        }
    }
}

/// Which watched actors [`Reaper::wait`] waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// The children its caller stops itself.
    Direct,
    /// Those and the orphans it took over.
    All,
}

/// Waits for the ends of the actors it watches; when one that is a
/// supervisor ends with children still alive, it shuts them down per their
/// specs and waits for them (and theirs) as well.
pub(crate) struct Reaper {
    inbox: Inbox,
    /// Each watched actor, and whether its caller stops it itself.
    pending: HashMap<MonitorRef, (Member, bool)>,
    watching: HashSet<ActorId>,
    direct: usize,
}

impl Reaper {
    pub fn new(system: &System) -> Self {
        Reaper {
            inbox: system.inbox(),
            pending: HashMap::new(),
            watching: HashSet::new(),
            direct: 0,
        }
    }

    /// Watches a child that the caller is about to stop (call before the
    /// signal, so that the `Down` cannot be missed).
    pub fn watch(&mut self, member: Member) {
        if self.watching.insert(member.actor.id()) {
            let monitor = self.inbox.monitor(&member.actor);
            self.pending.insert(monitor, (member, true));
            self.direct += 1;
        }
    }

    /// Shuts down and watches the children a dead supervisor left alive. An
    /// actor that takes them over (`own`) lists them as its own, so that if
    /// it dies in turn, whoever stops it finds them.
    pub fn adopt(&mut self, dead: &Subtree, own: Option<&Subtree>) {
        for member in dead.alive() {
            if !self.watching.insert(member.actor.id()) {
                continue;
            }
            let monitor = self.inbox.monitor(&member.actor);
            member.shut_down_orphan();
            if let Some(own) = own {
                own.add(member.clone());
            }
            self.pending.insert(monitor, (member, false));
        }
    }

    /// The children the caller stops that are still alive.
    pub fn direct_pending(&self) -> Vec<ActorRef> {
        self.pending
            .values()
            .filter(|(_, direct)| *direct)
            .map(|(member, _)| member.actor.clone())
            .collect()
    }

    /// Receives `Down`s until what `wait` names has ended or `deadline`
    /// passes (`None`: as long as it takes); says whether it all ended.
    /// The ends of the caller's own children are pushed on `ended`.
    pub fn wait(
        &mut self,
        deadline: Option<Instant>,
        wait: Wait,
        own: Option<&Subtree>,
        ended: &mut Vec<(ActorId, ExitReason)>,
    ) -> bool {
        loop {
            let done = match wait {
                Wait::Direct => self.direct == 0,
                Wait::All => self.pending.is_empty(),
            };
            if done {
                if self.pending.is_empty() {
                    // Ready for the next stop: monitors are never reused.
                    self.watching.clear();
                }
                return true;
            }
            let until = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            match self.inbox.recv_deadline(until) {
                Ok(envelope) => {
                    if let Ok(down) = envelope.downcast::<Down>() {
                        self.ended(down, own, ended);
                    }
                }
                Err(_) if deadline.is_some_and(|d| Instant::now() >= d) => return false,
                Err(_) => {}
            }
        }
    }

    fn ended(&mut self, down: Down, own: Option<&Subtree>, ended: &mut Vec<(ActorId, ExitReason)>) {
        let Some((member, direct)) = self.pending.remove(&down.monitor) else {
            return;
        };
        if direct {
            self.direct -= 1;
            ended.push((down.actor, down.reason));
        }
        if let Some(own) = own {
            own.remove(down.actor);
        }
        if let Some(subtree) = &member.subtree {
            self.adopt(subtree, own);
        }
    }
}
