//! What the handles ask supervisors, and how: the private request types,
//! the answers ([`ChildInfo`], [`ChildCount`]), and [`Handle`], the part
//! both supervisor handles share.

use std::any::TypeId;
use std::ops::Range;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use ferrotp::{
    Actor, ActorId, ActorRef, CallError, Context, ExitReason, SpawnError, SpawnOptions, Stopped,
    System,
};

use crate::error::SupervisorError;
use crate::spec::{ChildKind, ChildSpec, Restart};
use crate::subtree::{Reaper, Subtree, Wait};

/// How long a [`Supervisor`](crate::Supervisor) handle waits for an answer
/// unless told otherwise (`with_call_timeout`). Long, because a supervisor
/// answers only between restarts and shutdowns, which can take a child's
/// whole shutdown timeout.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

// What the handles send. Private types: only this crate can make them.

pub(crate) struct WhichChildren;
pub(crate) struct CountChildren;
pub(crate) struct Describe;
pub(crate) struct StartChild(pub ChildSpec);
pub(crate) struct TerminateChild(pub String);
pub(crate) struct RestartChild(pub String);
pub(crate) struct DeleteChild(pub String);

/// What [`Describe`] answers: enough to render a tree and to check what
/// kind of supervisor an actor is.
pub(crate) struct Summary {
    pub id: ActorId,
    pub name: Option<String>,
    /// `one_for_one`, `one_for_all`, `rest_for_one` or `dynamic`.
    pub strategy: String,
    pub restarts_in_window: usize,
    pub max_restarts: u32,
    pub period: Duration,
    pub children: Vec<ChildInfo>,
    /// For a dynamic supervisor, the type of its children's arguments.
    pub dynamic_args: Option<TypeId>,
    /// Its live children, for a handle's `stop`.
    pub subtree: Arc<Subtree>,
    /// Children whose failed restart is to be retried (by a message the
    /// supervisor sent itself). Read by the testkit's runner.
    #[cfg_attr(not(feature = "testkit"), allow(dead_code))]
    pub restarting: usize,
}

/// One child as [`Supervisor::which_children`](crate::Supervisor::which_children) reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildInfo {
    /// The child's id (for a dynamic supervisor, its template's id).
    pub id: String,
    /// The running actor, or `None` if the child is not running (stopped,
    /// or about to be restarted).
    pub actor: Option<ActorRef>,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Its restart policy.
    pub restart: Restart,
    /// The name it is registered under at every (re)start.
    pub name: Option<String>,
    /// How many times this supervisor has restarted it.
    pub restarts: u32,
}

/// Counts of a supervisor's children, as OTP's `count_children`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildCount {
    /// Child specs (a dynamic supervisor has one: its template).
    pub specs: usize,
    /// Children with a live actor.
    pub active: usize,
    /// Children that are supervisors, running or not.
    pub supervisors: usize,
    /// Children that are workers, running or not.
    pub workers: usize,
}

/// What a starting supervisor tells the code that spawned it: a handle to
/// its system that does not keep the system alive, or why it failed.
pub(crate) type StartReply = mpsc::Sender<Result<System, SupervisorError>>;

/// What both handles hold: the supervisor's address, a system handle that
/// does not keep the system alive, and the call timeout.
#[derive(Clone)]
pub(crate) struct Handle {
    pub actor: ActorRef,
    pub system: System,
    pub call_timeout: Duration,
    /// The supervisor's live children, which `stop` waits for (`None`:
    /// only the supervisor is waited for).
    pub subtree: Option<Arc<Subtree>>,
}

impl Handle {
    /// Spawns a supervisor actor, waits for its start acknowledgement (a
    /// static supervisor defers it until its children have started), then
    /// reads what it reported on `reply`.
    pub fn spawn<S: Actor>(
        spawner: &System,
        actor: S,
        options: SpawnOptions,
        reply: mpsc::Receiver<Result<System, SupervisorError>>,
        subtree: Arc<Subtree>,
    ) -> Result<Handle, SupervisorError> {
        let spawned = spawner.spawn_with(actor, options.trap_exit(true).await_started());
        match spawned {
            Ok(actor) => match reply.try_recv() {
                Ok(Ok(system)) => Ok(Handle {
                    actor,
                    system,
                    call_timeout: DEFAULT_CALL_TIMEOUT,
                    subtree: Some(subtree),
                }),
                // `started` returned Ok, so it sent its report; only a kill
                // racing with it could get here.
                _ => Err(SupervisorError::SupervisorDown(
                    actor.exit_reason().unwrap_or(ExitReason::NoProc),
                )),
            },
            Err(SpawnError::StartFailed(reason)) => match reply.try_recv() {
                Ok(Err(error)) => Err(error),
                _ => Err(SupervisorError::SupervisorDown(reason)),
            },
            Err(error) => Err(SupervisorError::Spawn(error)),
        }
    }

    /// A request/reply round trip; a supervisor that dies meanwhile fails the
    /// call at once.
    pub fn call<R: Send + 'static, M: Send + 'static>(
        &self,
        request: M,
    ) -> Result<R, SupervisorError> {
        let bridge = self.system.bridge();
        bridge
            .call::<R, M>(&self.actor, request, self.call_timeout)
            .map_err(|error| match error {
                // A supervisor's mailbox is unbounded; a full one would be
                // a busy supervisor, as a timeout is.
                CallError::Timeout | CallError::Full => SupervisorError::Timeout,
                CallError::Stopped(reason) => self.down(reason),
                // Handles are only made for supervisor actors, which answer
                // every request with the type asked for.
                CallError::WrongReplyType { got, .. } => SupervisorError::SupervisorDown(
                    ExitReason::Error(format!("not a supervisor (it answered with a `{got}`)")),
                ),
            })
    }

    /// A round trip whose answer is itself a `Result`.
    pub fn try_call<R: Send + 'static, M: Send + 'static>(
        &self,
        request: M,
    ) -> Result<R, SupervisorError> {
        self.call::<Result<R, SupervisorError>, M>(request)?
    }

    /// Stops the supervisor: it stops its children in reverse start order
    /// (each subtree first), then terminates with `Normal`. Returns once
    /// every actor of the subtree is dead: if the supervisor was killed
    /// meanwhile, the children it left are shut down per their specs and
    /// waited for (within the same timeout).
    pub fn stop(&self, timeout: Duration) -> Result<(), SupervisorError> {
        let deadline = Instant::now() + timeout;
        let bridge = self.system.bridge();
        let stopped = bridge.stop(std::slice::from_ref(&self.actor), timeout);
        match stopped.into_iter().next().flatten() {
            None => Err(SupervisorError::Timeout),
            Some(Stopped {
                reason: ExitReason::NoProc,
                ..
            }) => Err(self.down(ExitReason::NoProc)),
            Some(_) => {
                let Some(subtree) = &self.subtree else {
                    return Ok(());
                };
                let mut reaper = Reaper::new(&self.system);
                reaper.adopt(subtree, None);
                if reaper.wait(Some(deadline), Wait::All, None, &mut Vec::new()) {
                    Ok(())
                } else {
                    Err(SupervisorError::Timeout)
                }
            }
        }
    }

    /// A handle to another supervisor actor of the same system, with the
    /// same call timeout (its subtree unknown: `stop` waits for it alone).
    pub fn nested(&self, actor: &ActorRef) -> Handle {
        Handle {
            actor: actor.clone(),
            system: self.system.clone(),
            call_timeout: self.call_timeout,
            subtree: None,
        }
    }

    /// `SupervisorDown` with the reason the supervisor terminated with: a
    /// call or stop that began after the end only hears `NoProc`, but the
    /// user needs to know whether it escalated (`Shutdown`), was stopped
    /// (`Normal`) or was killed.
    fn down(&self, heard: ExitReason) -> SupervisorError {
        SupervisorError::SupervisorDown(self.actor.exit_reason().unwrap_or(heard))
    }

    /// A handle to the running nested supervisor `id`, if its dynamic-ness
    /// (`None` for a static one, else the type of its arguments) matches.
    pub fn child(&self, id: &str, dynamic_args: Option<TypeId>) -> Result<Handle, SupervisorError> {
        let children: Vec<ChildInfo> = self.call(WhichChildren)?;
        let actor = children
            .into_iter()
            .find(|c| c.id == id && c.kind == ChildKind::Supervisor)
            .and_then(|c| c.actor)
            .ok_or_else(|| SupervisorError::NoSuchChild(id.to_string()))?;
        let mut nested = self.nested(&actor);
        let summary: Summary = nested.call(Describe)?;
        if summary.dynamic_args == dynamic_args {
            nested.subtree = Some(summary.subtree);
            Ok(nested)
        } else {
            Err(SupervisorError::NoSuchChild(id.to_string()))
        }
    }
}

pub(crate) fn name_option(name: Option<&str>) -> SpawnOptions {
    match name {
        Some(name) => SpawnOptions::new().name(name),
        None => SpawnOptions::new(),
    }
}

/// Answers the sender of a request a supervisor serves now or later, from
/// its mailbox (a request sent without a sender cannot be answered: its
/// answer is dropped).
pub(crate) fn answer<A: Actor, M: Send + 'static>(ctx: &Context<A>, to: Option<&ActorRef>, msg: M) {
    match to {
        Some(to) => ctx.send(to, msg),
        None => tracing::debug!(
            supervisor = %ctx.myself().id(),
            answer = std::any::type_name::<M>(),
            "request without a sender: answer dropped"
        ),
    }
}

/// A request that reads a supervisor's children, answered at once unless
/// the supervisor is busy changing them (a static one's restart, a
/// dynamic one's `terminate_child`): then once it is done.
pub(crate) enum Read {
    WhichChildren,
    CountChildren,
    Describe,
    Inspect(Range<usize>),
}

impl Read {
    /// Its name, for the debug log of a request left unanswered.
    pub fn name(&self) -> &'static str {
        match self {
            Read::WhichChildren => "WhichChildren",
            Read::CountChildren => "CountChildren",
            Read::Describe => "Describe",
            Read::Inspect(_) => "Inspect",
        }
    }
}
