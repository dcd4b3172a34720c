//! The node's table of proxies: one per remote pid (or remote name) in
//! use, and the bound on how many it keeps for pids.
//!
//! A proxy for a pid lives while its remote process does, so pids that
//! keep arriving from long-lived processes would grow the table without
//! end. It is bounded ([`NodeConfig::max_proxies`](crate::NodeConfig::max_proxies)):
//! past the bound, making a proxy retires the least recently used one
//! (made, or looked up for a pid arriving in a message) that no local
//! actor links to or monitors. A retired proxy ends with `Normal`, as a
//! dropped address would; the pid gets a fresh proxy when it arrives
//! again. Proxies tied to local actors are never retired, so they alone
//! can take the table past its bound.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use erl_dist::term::{Atom, Pid, PidOrAtom};
use ferrotp::{ActorId, ActorRef};

use crate::node::NodeInner;
use crate::remote::Remote;

/// What a proxy stands for: a remote process, or a name on a remote node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Pid(Pid),
    Name { name: String, node: String },
}

impl Target {
    pub fn node(&self) -> &str {
        match self {
            Target::Pid(pid) => &pid.node.name,
            Target::Name { node, .. } => node,
        }
    }

    pub fn pid_or_atom(&self) -> PidOrAtom {
        match self {
            Target::Pid(pid) => PidOrAtom::Pid(pid.clone()),
            Target::Name { name, .. } => PidOrAtom::Atom(Atom::from(name.as_str())),
        }
    }
}

/// How many of the least recently used proxies one new proxy looks at
/// for one to retire: bounded, so a table full of tied proxies costs each
/// new one a little, not a scan of the whole table.
const RETIRE_SCAN: usize = 64;

#[derive(Default)]
pub(crate) struct Proxies {
    /// The current proxy for each target.
    by_target: HashMap<Target, Arc<Remote>>,
    /// Every proxy alive, listed or not (a bound name proxy, one being
    /// retired). It owns the proxy's address.
    by_actor: HashMap<ActorId, Arc<Remote>>,
    /// Pid targets in `by_target` by last use, oldest first.
    recency: BTreeMap<u64, Target>,
    used: HashMap<Target, u64>,
    clock: u64,
}

impl Proxies {
    fn touch(&mut self, target: &Target) {
        if !matches!(target, Target::Pid(_)) {
            return;
        }
        self.clock += 1;
        if let Some(old) = self.used.insert(target.clone(), self.clock) {
            self.recency.remove(&old);
        }
        self.recency.insert(self.clock, target.clone());
    }

    fn unlist(&mut self, target: &Target) {
        self.by_target.remove(target);
        if let Some(old) = self.used.remove(target) {
            self.recency.remove(&old);
        }
    }

    /// Proxies for pids listed now.
    pub fn pid_proxies(&self) -> usize {
        self.used.len()
    }

    /// Every proxy alive (to stop them with the node).
    pub fn all(&self) -> Vec<Arc<Remote>> {
        self.by_actor.values().cloned().collect()
    }

    /// Unlists the least recently used untied pid proxies until the bound
    /// holds (or the scan gives up); returns them, to be retired.
    fn over_bound(
        &mut self,
        max: usize,
        kernel: Option<ActorId>,
        keep: &Target,
    ) -> Vec<Arc<Remote>> {
        let excess = self.used.len().saturating_sub(max);
        if excess == 0 {
            return Vec::new();
        }
        let tied = |proxy: &ActorRef| {
            let info = proxy.info();
            !info.links.is_empty() || info.monitored_by.iter().any(|id| Some(*id) != kernel)
        };
        let chosen: Vec<Target> = self
            .recency
            .values()
            .take(RETIRE_SCAN)
            .filter(|t| *t != keep)
            .filter(|t| self.by_target.get(*t).is_some_and(|p| !tied(p.actor())))
            .take(excess)
            .cloned()
            .collect();
        chosen
            .into_iter()
            .filter_map(|target| {
                let proxy = self.by_target.get(&target).cloned();
                self.unlist(&target);
                proxy
            })
            .collect()
    }
}

impl NodeInner {
    pub fn target_of(&self, actor: &ActorRef) -> Option<Target> {
        let proxies = self.proxies.lock();
        proxies.by_actor.get(&actor.id()).map(|r| r.target.clone())
    }

    pub fn existing_proxy(&self, pid: &Pid) -> Option<Arc<Remote>> {
        self.proxies
            .lock()
            .by_target
            .get(&Target::Pid(pid.clone()))
            .cloned()
    }

    /// The address for `target`, made on first use.
    pub fn proxy(&self, target: Target) -> ActorRef {
        match self.remote(target) {
            Some(remote) => remote.actor().clone(),
            // A stopped node: the address of an actor that is already dead.
            None => self.system.spawn(crate::actors::Dead),
        }
    }

    /// The proxy for `target`, made on first use (`None`: the node stopped).
    pub fn remote(&self, target: Target) -> Option<Arc<Remote>> {
        let mut proxies = self.proxies.lock();
        if let Some(remote) = proxies.by_target.get(&target) {
            if remote.actor().is_alive() {
                let remote = remote.clone();
                proxies.touch(&target);
                return Some(remote);
            }
        }
        if self.stopped.load(Ordering::Acquire) {
            return None;
        }
        let remote = Remote::new(self, target.clone())?;
        let id = remote.actor().id();
        proxies.by_target.insert(target.clone(), remote.clone());
        proxies.by_actor.insert(id, remote.clone());
        proxies.touch(&target);
        let kernel = self.kernel_ref();
        let retired = proxies.over_bound(
            self.config.max_proxies,
            kernel.as_ref().map(ActorRef::id),
            &target,
        );
        drop(proxies);
        if let Some(kernel) = kernel {
            kernel.send(crate::actors::KernelMsg::WatchProxy(remote.actor().clone()));
        }
        remote.start();
        for old in retired {
            self.counters
                .retired_proxies
                .fetch_add(1, Ordering::Relaxed);
            old.end(ferrotp::ExitReason::Normal);
        }
        Some(remote)
    }

    /// A name proxy bound to the process holding the name is no longer
    /// the name's address: the next `remote(name, node)` makes a new one.
    pub fn detach_proxy(&self, id: ActorId, target: &Target) {
        let mut proxies = self.proxies.lock();
        if proxies
            .by_target
            .get(target)
            .is_some_and(|p| p.actor().id() == id)
        {
            proxies.unlist(target);
        }
    }

    /// Forgets a proxy that ends; its target if it was still known.
    pub fn forget_proxy(&self, id: ActorId) -> Option<Target> {
        let mut proxies = self.proxies.lock();
        let remote = proxies.by_actor.remove(&id)?;
        if proxies
            .by_target
            .get(&remote.target)
            .is_some_and(|p| p.actor().id() == id)
        {
            proxies.unlist(&remote.target);
        }
        drop(proxies);
        Some(remote.target.clone())
    }
}
