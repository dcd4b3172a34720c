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

use erl_dist::term::{Atom, Pid, PidOrAtom};
use ferrotp::{ActorId, ActorRef, SpawnOptions};

use crate::actors::{Proxy, ProxyCtl};
use crate::node::NodeInner;

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
    by_target: HashMap<Target, ActorRef>,
    /// Every proxy alive, listed or not (a bound name proxy, a retired one
    /// still finishing its mail).
    by_actor: HashMap<ActorId, (Target, ActorRef)>,
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
    pub fn all(&self) -> Vec<ActorRef> {
        self.by_actor.values().map(|(_, p)| p.clone()).collect()
    }

    /// Unlists the least recently used untied pid proxies until the bound
    /// holds (or the scan gives up); returns them, to be retired.
    fn over_bound(&mut self, max: usize, kernel: Option<ActorId>, keep: &Target) -> Vec<ActorRef> {
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
            .filter(|t| self.by_target.get(*t).is_some_and(|p| !tied(p)))
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
        proxies.by_actor.get(&actor.id()).map(|(t, _)| t.clone())
    }

    pub fn existing_proxy(&self, pid: &Pid) -> Option<ActorRef> {
        self.proxies
            .lock()
            .by_target
            .get(&Target::Pid(pid.clone()))
            .cloned()
    }

    /// The proxy for `target`, spawned on first use.
    pub fn proxy(&self, target: Target) -> ActorRef {
        let mut proxies = self.proxies.lock();
        if let Some(proxy) = proxies.by_target.get(&target) {
            if proxy.is_alive() {
                let proxy = proxy.clone();
                proxies.touch(&target);
                return proxy;
            }
        }
        let Some(me) = self.arc().filter(|_| !self.stopped.load(Ordering::Acquire)) else {
            // A stopped node: the address of an actor that is already dead.
            return self.system.spawn(crate::actors::Dead);
        };
        let proxy = self.system.spawn_with(
            Proxy::new(me, target.clone()),
            SpawnOptions::new().trap_exit(true).tie_notices(),
        );
        let proxy = match proxy {
            Ok(proxy) => proxy,
            Err(_) => return self.system.spawn(crate::actors::Dead),
        };
        proxies.by_target.insert(target.clone(), proxy.clone());
        proxies
            .by_actor
            .insert(proxy.id(), (target.clone(), proxy.clone()));
        proxies.touch(&target);
        let kernel = self.kernel_ref();
        let retired = proxies.over_bound(
            self.config.max_proxies,
            kernel.as_ref().map(ActorRef::id),
            &target,
        );
        drop(proxies);
        if let Some(kernel) = kernel {
            kernel.send(crate::actors::KernelMsg::WatchProxy(proxy.clone()));
        }
        for old in retired {
            self.counters
                .retired_proxies
                .fetch_add(1, Ordering::Relaxed);
            // After the mail it has: what was sent to it before still goes.
            old.send(ProxyCtl::Retire);
        }
        proxy
    }

    /// A name proxy bound to the process holding the name is no longer
    /// the name's address: the next `remote(name, node)` makes a new one.
    pub fn detach_proxy(&self, id: ActorId, target: &Target) {
        let mut proxies = self.proxies.lock();
        if proxies.by_target.get(target).is_some_and(|p| p.id() == id) {
            proxies.unlist(target);
        }
    }

    /// Forgets a proxy that ended; its target if it was still known.
    pub fn forget_proxy(&self, id: ActorId) -> Option<Target> {
        let mut proxies = self.proxies.lock();
        let (target, _) = proxies.by_actor.remove(&id)?;
        if proxies.by_target.get(&target).is_some_and(|p| p.id() == id) {
            proxies.unlist(&target);
        }
        Some(target)
    }
}
