//! Every supervisor event goes through one function here, as a `tracing`
//! event with the supervisor's id and name, the child's id and actor ids;
//! restarts and escalations are also published on the system's lifecycle
//! event stream as [`SupervisorEvent`]s.

use ferrotp::{ActorId, ExitReason, System};

/// What supervisors publish on their system's lifecycle event stream
/// ([`System::subscribe`]; read it with `LifecycleEvent::custom::<SupervisorEvent>()`),
/// so that a test can wait for "the child was restarted" instead of sleeping.
///
/// ```
/// use ferrotp::{Actor, Context, Handlers, System};
/// use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorEvent, SupervisorSpec};
/// use std::time::Duration;
///
/// struct Fragile;
/// impl Fragile {
///     fn fail(&mut self, _: (), _: &mut Context<Self>) -> Result<(), String> { Err("oops".into()) }
/// }
/// impl Actor for Fragile {
///     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::fail) }
/// }
///
/// let system = System::new();
/// let events = system.subscribe();
/// let sup = Supervisor::start(
///     &system,
///     SupervisorSpec::one_for_one().child(ChildSpec::worker("fragile", || Fragile)),
/// )
/// .unwrap();
/// let old = sup.which_children().unwrap()[0].actor.clone().unwrap();
/// old.send(());
/// let restarted = events
///     .wait_for(Duration::from_secs(5), |e| e.custom::<SupervisorEvent>().is_some())
///     .unwrap();
/// match restarted.custom::<SupervisorEvent>().unwrap() {
///     SupervisorEvent::ChildRestarted { child_id, old: before, .. } => {
///         assert_eq!((child_id.as_str(), *before), ("fragile", Some(old.id())));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupervisorEvent {
    /// A child was restarted (also each child of a group restart).
    ChildRestarted {
        /// The supervisor.
        supervisor: ActorId,
        /// The child's id.
        child_id: String,
        /// Its previous incarnation.
        old: Option<ActorId>,
        /// The new one.
        new: ActorId,
    },
    /// Restarts exceeded the supervisor's intensity: it stops its children
    /// and terminates with `Shutdown`.
    SupervisorEscalated {
        /// The supervisor.
        supervisor: ActorId,
        /// The child whose restart was one too many.
        child_id: String,
        /// Restarts in the window, counting the refused one.
        restarts_in_window: usize,
    },
}

/// Who reports: a supervisor's id and name, and its system (to publish).
#[derive(Clone)]
pub(crate) struct Reporter {
    pub id: ActorId,
    pub name: Option<String>,
    /// Set once the supervisor runs (a handle that does not keep the system alive).
    pub system: Option<System>,
}

impl Reporter {
    fn publish(&self, make: impl FnOnce() -> SupervisorEvent) {
        if let Some(system) = &self.system {
            system.publish(make);
        }
    }

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub fn child_started(&self, child: &str, actor: ActorId) {
        tracing::debug!(
            supervisor = %self.id,
            supervisor_name = self.name(),
            child,
            actor = %actor,
            "child started"
        );
    }

    pub fn child_exited(&self, child: &str, actor: ActorId, reason: &ExitReason) {
        if reason.is_normal() {
            tracing::debug!(supervisor = %self.id, supervisor_name = self.name(), child, actor = %actor, %reason, "child terminated");
        } else {
            tracing::warn!(supervisor = %self.id, supervisor_name = self.name(), child, actor = %actor, %reason, "child terminated");
        }
    }

    pub fn child_restarted(
        &self,
        child: &str,
        old: Option<ActorId>,
        new: ActorId,
        restarts_in_window: usize,
    ) {
        tracing::info!(
            supervisor = %self.id,
            supervisor_name = self.name(),
            child,
            old_actor = old.map(|id| id.to_string()),
            new_actor = %new,
            restarts_in_window,
            "child restarted"
        );
        self.publish(|| SupervisorEvent::ChildRestarted {
            supervisor: self.id,
            child_id: child.to_string(),
            old,
            new,
        });
    }

    pub fn restart_failed(&self, child: &str, reason: &ExitReason, restarts_in_window: usize) {
        tracing::error!(
            supervisor = %self.id,
            supervisor_name = self.name(),
            child,
            %reason,
            restarts_in_window,
            "child failed to restart; will try again"
        );
    }

    pub fn escalated(
        &self,
        child: &str,
        actor: Option<ActorId>,
        restarts_in_window: usize,
        max_restarts: u32,
        period: std::time::Duration,
    ) {
        tracing::error!(
            supervisor = %self.id,
            supervisor_name = self.name(),
            child,
            actor = actor.map(|id| id.to_string()),
            restarts_in_window,
            max_restarts,
            period = ?period,
            "restart intensity exceeded; supervisor shuts down"
        );
        self.publish(|| SupervisorEvent::SupervisorEscalated {
            supervisor: self.id,
            child_id: child.to_string(),
            restarts_in_window,
        });
    }

    pub fn start_failed(&self, child: &str, reason: &ExitReason) {
        tracing::error!(
            supervisor = %self.id,
            supervisor_name = self.name(),
            child,
            %reason,
            "child failed to start"
        );
    }

    pub fn shutting_down(&self, reason: &ExitReason, children: usize) {
        tracing::info!(
            supervisor = %self.id,
            supervisor_name = self.name(),
            %reason,
            children,
            "supervisor shutting down"
        );
    }

    pub fn child_stopped(&self, child: &str, actor: ActorId, reason: &ExitReason, clean: bool) {
        if clean {
            tracing::debug!(supervisor = %self.id, supervisor_name = self.name(), child, actor = %actor, %reason, "child shut down");
        } else {
            tracing::warn!(supervisor = %self.id, supervisor_name = self.name(), child, actor = %actor, %reason, "child did not shut down cleanly");
        }
    }

    pub fn parent_exited(&self, parent: ActorId, reason: &ExitReason) {
        tracing::info!(
            supervisor = %self.id,
            supervisor_name = self.name(),
            parent = %parent,
            %reason,
            "parent exited; supervisor shuts down"
        );
    }

    pub fn ignored_exit(&self, from: ActorId, reason: &ExitReason) {
        tracing::debug!(
            supervisor = %self.id,
            supervisor_name = self.name(),
            from = %from,
            %reason,
            "exit signal from a non-child ignored"
        );
    }

    pub fn ignored_message(&self, type_name: &str) {
        tracing::warn!(
            supervisor = %self.id,
            supervisor_name = self.name(),
            message = type_name,
            "unexpected message ignored"
        );
    }
}
