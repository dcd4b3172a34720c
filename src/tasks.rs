//! Tokio tasks of actors (feature `tokio`): [`Context::spawn_task`] runs a
//! future on a tokio runtime and delivers its outcome to the actor as a
//! message; the actor's end aborts every task it still runs.
//!
//! The runtime is the one given with
//! [`SystemBuilder::tokio`](crate::SystemBuilder::tokio), or one the system
//! starts on first use and shuts down when it is dropped.
//!
//! Which tasks each actor runs is a table of the system, not a field of
//! every actor (a pooled system holds millions that never spawn a task).
//! An entry is added under the actor's relations lock, where its end is
//! decided: either the end sees the entry and aborts the task, or the spawn
//! sees the end and runs nothing.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;

use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::runtime::{Handle, Runtime};
use tokio::task::AbortHandle;

use crate::actor::Actor;
use crate::address::{ActorId, ActorRef, Core, IdHasher};
use crate::context::Context;

/// Identifies one task of an actor ([`Context::spawn_task`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskRef(u64);

impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task#{}", self.0)
    }
}

/// What an actor receives, instead of its task's mapped output, when the
/// task could not complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskFailed {
    /// The task, as [`Context::spawn_task`] returned it.
    pub task: TaskRef,
    /// Why it failed.
    pub error: TaskError,
}

/// Why a task of an actor failed ([`TaskFailed`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The future (or the function mapping its output) panicked.
    #[error("the task panicked: {0}")]
    Panicked(String),
    /// The system has no runtime and could not start one.
    #[error("no tokio runtime for the task: {0}")]
    NoRuntime(String),
}

/// The running tasks of each actor, by task number.
type Running = HashMap<u64, Option<AbortHandle>>;

/// A system's tokio runtime and its actors' tasks.
#[derive(Default)]
pub(crate) struct Tasks {
    /// The runtime tasks run on, once known.
    handle: OnceLock<Handle>,
    /// The runtime the system started itself, if it did (shut down with
    /// the system).
    owned: Mutex<Option<Runtime>>,
    running: DashMap<ActorId, Running, BuildHasherDefault<IdHasher>>,
    next: AtomicU64,
}

impl Tasks {
    /// Tasks on the runtime of `handle`, or (`None`) on one the system
    /// starts when the first task is spawned.
    pub fn new(handle: Option<Handle>) -> Self {
        let tasks = Tasks::default();
        if let Some(handle) = handle {
            let _ = tasks.handle.set(handle);
        }
        tasks
    }

    fn handle(&self) -> Result<&Handle, String> {
        if let Some(handle) = self.handle.get() {
            return Ok(handle);
        }
        let mut owned = self.owned.lock();
        if let Some(handle) = self.handle.get() {
            return Ok(handle);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("ferrotp-tokio")
            .enable_all()
            .build()
            .map_err(|error| format!("could not start one: {error}"))?;
        let handle = self.handle.get_or_init(|| runtime.handle().clone());
        *owned = Some(runtime);
        Ok(handle)
    }

    /// How many tasks `actor` runs now.
    pub fn count(&self, actor: ActorId) -> usize {
        self.running.get(&actor).map_or(0, |running| running.len())
    }

    /// Forgets a task that has ended; says whether it was still registered
    /// (`false`: it was aborted, or its actor ended, and nobody may hear of
    /// it any more).
    fn finished(&self, actor: ActorId, task: TaskRef) -> bool {
        let mut found = false;
        self.running.remove_if_mut(&actor, |_, running| {
            found = running.remove(&task.0).is_some();
            running.is_empty()
        });
        found
    }

    /// Aborts one task; `false` if it was not running.
    pub fn abort(&self, actor: ActorId, task: TaskRef) -> bool {
        let mut aborted = None;
        self.running.remove_if_mut(&actor, |_, running| {
            aborted = running.remove(&task.0);
            running.is_empty()
        });
        match aborted {
            Some(handle) => {
                if let Some(handle) = handle {
                    handle.abort();
                }
                true
            }
            None => false,
        }
    }

    /// Aborts every task of an actor that has ended (its relations are
    /// closed: it spawns no more).
    pub fn actor_ended(&self, actor: ActorId) {
        if let Some((_, running)) = self.running.remove(&actor) {
            for handle in running.into_values().flatten() {
                handle.abort();
            }
        }
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        // A runtime dropped inside async code panics; this drop may run
        // anywhere (the last `System` handle may go in a task).
        if let Some(runtime) = self.owned.get_mut().take() {
            runtime.shutdown_background();
        }
    }
}

impl<A: Actor> Context<A> {
    /// Runs `future` on the system's tokio runtime and sends `map(output)`
    /// to this actor as an ordinary message when it completes.
    ///
    /// If the future (or `map`) panics, the actor receives [`TaskFailed`]
    /// with [`TaskError::Panicked`] instead: a failed task is never silent.
    /// When the actor terminates, for whatever reason, every task it still
    /// runs is aborted (its future is dropped on the runtime), and the
    /// count of its running tasks is in [`ActorInfo::tasks`](crate::ActorInfo::tasks).
    /// A task can be called off with [`abort_task`](Self::abort_task).
    ///
    /// The runtime is the one given with
    /// [`SystemBuilder::tokio`](crate::SystemBuilder::tokio), or one the
    /// system starts on first use (if that fails, the actor receives
    /// `TaskFailed` with [`TaskError::NoRuntime`]).
    ///
    /// A pooled actor can serve many slow requests this way without
    /// holding a worker: it starts the I/O as a task, handles other
    /// messages meanwhile, and answers when the outcome arrives.
    ///
    /// ```
    /// use ferrotp::{Actor, ActorRef, Context, Handlers, System};
    /// use std::time::Duration;
    ///
    /// struct Fetcher { asker: Option<ActorRef> }
    /// struct Fetch;
    /// struct Fetched(u64);
    ///
    /// impl Fetcher {
    ///     fn fetch(&mut self, _: Fetch, ctx: &mut Context<Self>) {
    ///         self.asker = ctx.sender().cloned();
    ///         ctx.spawn_task(
    ///             async {
    ///                 tokio::time::sleep(Duration::from_millis(1)).await;
    ///                 42
    ///             },
    ///             Fetched,
    ///         );
    ///     }
    ///     fn fetched(&mut self, Fetched(n): Fetched, ctx: &mut Context<Self>) {
    ///         if let Some(asker) = self.asker.take() {
    ///             ctx.send(&asker, n);
    ///         }
    ///     }
    /// }
    /// impl Actor for Fetcher {
    ///     fn handlers() -> Handlers<Self> {
    ///         Handlers::new().on(Self::fetch).on(Self::fetched)
    ///     }
    /// }
    ///
    /// let system = System::new();
    /// let fetcher = system.spawn(Fetcher { asker: None });
    /// let n: u64 = system.bridge().call(&fetcher, Fetch, Duration::from_secs(5)).unwrap();
    /// assert_eq!(n, 42);
    /// ```
    pub fn spawn_task<F, M>(
        &self,
        future: F,
        map: impl FnOnce(F::Output) -> M + Send + 'static,
    ) -> TaskRef
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        M: Send + 'static,
    {
        let actor = self.myself();
        let core: &Arc<Core> = &actor.core;
        let tasks = &core.system.tasks;
        let task = TaskRef(tasks.next.fetch_add(1, Ordering::Relaxed));
        // Like its sends, a killed actor's stuck handler starts nothing.
        if crate::address::sender_was_killed() {
            return task;
        }
        let handle = match tasks.handle() {
            Ok(handle) => handle,
            Err(error) => {
                tracing::error!(actor = %core.id, %error, "no tokio runtime for a task");
                let error = TaskError::NoRuntime(error);
                deliver_outcome(actor, TaskFailed { task, error });
                return task;
            }
        };
        let relations = core.relations();
        if relations.closed {
            // The actor has ended: its task would be aborted at once.
            return task;
        }
        // Registered before it runs, so that a task that ends at once finds
        // its entry (the abort handle is filled in just after).
        tasks
            .running
            .entry(core.id)
            .or_default()
            .insert(task.0, None);
        core.tasks_bound.store(true, Ordering::Release);
        let join = handle.spawn(run(actor.clone(), task, future, map));
        if let Some(mut running) = tasks.running.get_mut(&core.id) {
            if let Some(slot) = running.get_mut(&task.0) {
                *slot = Some(join.abort_handle());
            }
        }
        drop(relations);
        task
    }

    /// Aborts a task this actor spawned: its future is dropped on the
    /// runtime, and its outcome never arrives. Returns `false` if the task
    /// was no longer running (its outcome has been sent, or it was aborted).
    pub fn abort_task(&self, task: TaskRef) -> bool {
        let core = &self.myself().core;
        core.system.tasks.abort(core.id, task)
    }
}

/// A task's body: the future, caught if it panics, then its outcome sent
/// to the actor unless the task was aborted meanwhile.
async fn run<F, M>(
    actor: ActorRef,
    task: TaskRef,
    future: F,
    map: impl FnOnce(F::Output) -> M + Send + 'static,
) where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    M: Send + 'static,
{
    let mut future = std::pin::pin!(future);
    let outcome =
        std::future::poll_fn(
            |cx| match crate::panic::guard(|| future.as_mut().poll(cx)) {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
                Err(panic) => Poll::Ready(Err(panic)),
            },
        )
        .await;
    let message = outcome.and_then(|output| crate::panic::guard(|| map(output)));
    // Out of the count before the actor hears of it; and not heard of at
    // all if it was aborted (or its actor ended) in the meantime.
    if !actor.core.system.tasks.finished(actor.id(), task) {
        return;
    }
    match message {
        Ok(message) => deliver_outcome(&actor, message),
        Err(panic) => {
            tracing::warn!(actor = %actor.id(), %task, %panic, "task panicked");
            let error = TaskError::Panicked(panic);
            deliver_outcome(&actor, TaskFailed { task, error });
        }
    }
}

/// Sends a task's outcome to its actor. A bounded mailbox never refuses it
/// (like a `Down`): the actor asked for it, and may wait for nothing else.
fn deliver_outcome<M: Send + 'static>(actor: &ActorRef, outcome: M) {
    actor
        .core
        .enqueue(crate::mailbox::Envelope::new(outcome, None));
}
