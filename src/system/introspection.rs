//! Introspection: what a [`System`] tells about itself — its actors, its
//! counters, its threads — and its lifecycle events.
//!
//! Read-only views for tools and tests (an observer, a metrics exporter),
//! apart from the calls that change the system.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::System;
use crate::address::{ActorId, ActorInfo, ActorRef};
use crate::events::{Events, LifecycleEvent};
use crate::executor::Executor;

impl System {
    /// A snapshot of the live actor `id`.
    pub fn actor_info(&self, id: ActorId) -> Option<ActorInfo> {
        self.inner.actors.get(&id).map(|a| a.value().info())
    }

    /// How many actors are alive (not counting inboxes), without listing them.
    pub fn actor_count(&self) -> usize {
        self.inner.actors.len()
    }

    /// The live actors, in spawn order.
    pub fn actors(&self) -> Vec<ActorRef> {
        // Sorted by the ids beside the addresses: comparing through each
        // address's core would chase a pointer per comparison.
        let mut actors: Vec<(ActorId, ActorRef)> = self
            .inner
            .actors
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .collect();
        actors.sort_unstable_by_key(|(id, _)| *id);
        actors.into_iter().map(|(_, actor)| actor).collect()
    }

    /// How many messages were sent to dead actors, had no handler, or were
    /// left in a terminated actor's mailbox.
    pub fn dead_letters(&self) -> u64 {
        self.inner.dead_letters.load(Ordering::Relaxed)
    }

    /// The executor actors run on unless spawned with another.
    pub fn executor(&self) -> Executor {
        self.inner.default_executor
    }

    /// Dedicated actor threads started and not yet joined.
    pub fn threads(&self) -> usize {
        self.inner.executor.threads()
    }

    /// How many threads ferrotp runs at most in this process, dedicated
    /// actors and pool workers of every system together. Past it, spawning
    /// a dedicated actor fails with [`SpawnError::TooManyThreads`](crate::SpawnError::TooManyThreads): the
    /// limit keeps a margin below the kernel's `vm.max_map_count`, where a
    /// new thread would abort the whole process instead of failing.
    pub fn thread_limit() -> usize {
        crate::executor::thread::thread_limit()
    }

    /// The pool's worker threads (0 until the first pooled actor is
    /// spawned): one per core, more while some block, and those left
    /// behind in killed actors' handlers ([`stuck_workers`](Self::stuck_workers)).
    pub fn pool_workers(&self) -> usize {
        self.inner.pool().map_or(0, |pool| pool.workers())
    }

    /// Pool workers left running the handler of an actor that was killed
    /// mid-turn. Each was replaced at the kill, so the pool keeps its size;
    /// a stuck worker leaves if its handler ever returns.
    pub fn stuck_workers(&self) -> usize {
        self.inner.pool().map_or(0, |pool| pool.stuck_workers())
    }

    /// Subscribes to this system's [`LifecycleEvent`]s, from now on.
    ///
    /// ```
    /// # use ferrotp::{Actor, Handlers, LifecycleEvent, Stop, System};
    /// # use std::time::Duration;
    /// # struct Idle;
    /// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let events = system.subscribe();
    /// let idle = system.spawn(Idle);
    /// idle.send(Stop);
    /// let exited = events
    ///     .wait_for(Duration::from_secs(5), |e| matches!(e, LifecycleEvent::Exited { .. }))
    ///     .unwrap();
    /// assert_eq!(exited.actor(), Some(idle.id()));
    /// ```
    pub fn subscribe(&self) -> Events {
        self.inner.events.subscribe()
    }

    /// Publishes a custom event to this system's subscribers (as
    /// [`LifecycleEvent::Custom`]). Behaviours built on the kernel — the
    /// supervisors, or your own — report what they do this way. Nothing is
    /// built or sent when no one subscribed.
    pub fn publish<E: Send + Sync + 'static>(&self, make: impl FnOnce() -> E) {
        self.inner
            .events
            .emit(|| LifecycleEvent::Custom(Arc::new(make())));
    }
}
