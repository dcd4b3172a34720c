//! [`Supervisor`]: the handle through which code outside a static
//! supervisor starts, asks and stops it.

use std::any::TypeId;
use std::sync::mpsc;
use std::time::Duration;

use ferrotp::{Actor, ActorRef, Context, System};

use super::SupervisorActor;
use crate::error::SupervisorError;
use crate::lifecycle::Parent;
use crate::protocol::{
    name_option, ChildCount, ChildInfo, CountChildren, DeleteChild, Handle, RestartChild,
    StartChild, TerminateChild, WhichChildren,
};
use crate::spec::{ChildSpec, SupervisorSpec};

/// A running supervisor (a cheap, clonable handle to its actor).
///
/// The supervisor is an ordinary actor that traps exits. It starts its
/// children in order, each fully started before the next, restarts them per
/// its strategy and their restart policies, and terminates itself (children
/// first, in reverse start order) with `Shutdown` when restarts exceed its
/// intensity, so that its own supervisor can act.
///
/// The handle does not keep the system alive. Its calls wait for the
/// supervisor to answer ([`DEFAULT_CALL_TIMEOUT`](crate::DEFAULT_CALL_TIMEOUT)); a supervisor that is not
/// running fails them at once with [`SupervisorError::SupervisorDown`]. Do not
/// call a supervisor from its own child's `started` hook: during a restart
/// it answers only once that hook has returned, and during its own start
/// it serves changes (`start_child`, ...) only once every child has started
/// (it answers reads, such as `which_children`, at once).
///
/// ```
/// use ferrotp::{Actor, Context, Handlers, System};
/// use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorSpec};
/// use std::time::Duration;
///
/// struct Pinger;
/// impl Pinger {
///     fn ping(&mut self, _: &'static str, ctx: &mut Context<Self>) { ctx.reply("pong"); }
/// }
/// impl Actor for Pinger {
///     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::ping) }
/// }
///
/// let system = System::new();
/// let sup = Supervisor::start(
///     &system,
///     SupervisorSpec::one_for_one().child(ChildSpec::worker("pinger", || Pinger).name("pinger")),
/// )
/// .unwrap();
/// let children = sup.which_children().unwrap();
/// assert_eq!(children[0].id, "pinger");
/// let pinger = system.whereis("pinger").unwrap();
/// let pong: &str = system.bridge().call(&pinger, "ping", Duration::from_secs(5)).unwrap();
/// assert_eq!(pong, "pong");
/// sup.stop(Duration::from_secs(5)).unwrap();
/// assert!(system.whereis("pinger").is_none());
/// ```
#[derive(Clone)]
pub struct Supervisor {
    pub(crate) handle: Handle,
}

impl Supervisor {
    /// Starts a supervisor and its children, in order; returns once all
    /// have started (the whole tree, nested supervisors' children too). If
    /// a child fails to start, the ones already started are stopped in
    /// reverse order and the error is [`SupervisorError::StartFailed`] with
    /// that child's id and reason. The supervisor starts them from its own
    /// mailbox, one on each child's [`StartAck`](ferrotp::StartAck): the
    /// caller waits once for the whole tree.
    ///
    /// The supervisor is not linked to the caller; an exit signal sent from
    /// plain code ([`ActorRef::exit`]) counts as its parent's and makes it
    /// shut its tree down.
    pub fn start(system: &System, spec: SupervisorSpec) -> Result<Supervisor, SupervisorError> {
        spec.validate()?;
        let (reply, report) = mpsc::channel();
        let options = name_option(spec.name.as_deref());
        let actor = SupervisorActor::new(spec, Parent::External, Some(reply));
        let subtree = actor.subtree.clone();
        Handle::spawn(system, actor, options, report, subtree).map(|handle| Supervisor { handle })
    }

    /// Starts a supervisor linked to the calling actor (as OTP's
    /// `start_link`): if the caller terminates, the supervisor shuts its
    /// tree down; if the supervisor terminates, the caller gets the exit
    /// signal. If it fails to start, the caller gets the error only (no
    /// exit signal).
    pub fn start_link<A: Actor>(
        ctx: &Context<A>,
        spec: SupervisorSpec,
    ) -> Result<Supervisor, SupervisorError> {
        spec.validate()?;
        let (reply, report) = mpsc::channel();
        let options = name_option(spec.name.as_deref()).link(ctx.myself());
        let actor = SupervisorActor::new(spec, Parent::Actor(ctx.myself().clone()), Some(reply));
        let subtree = actor.subtree.clone();
        Handle::spawn(ctx.system(), actor, options, report, subtree)
            .map(|handle| Supervisor { handle })
    }

    /// The supervisor's address.
    pub fn actor(&self) -> &ActorRef {
        &self.handle.actor
    }

    /// The same handle with another call timeout.
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.handle.call_timeout = timeout;
        self
    }

    /// The children, in start order.
    pub fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.handle.call(WhichChildren)
    }

    /// How many children there are, and of what kind.
    pub fn count_children(&self) -> Result<ChildCount, SupervisorError> {
        self.handle.call(CountChildren)
    }

    /// Adds a child at the end of the start order and starts it. Fails with
    /// [`DuplicateChildId`](SupervisorError::DuplicateChildId) if the id is
    /// taken (even by a child that is not running), and with
    /// [`StartFailed`](SupervisorError::StartFailed) (the child is then not
    /// added) if it does not start.
    pub fn start_child(&self, spec: ChildSpec) -> Result<ActorRef, SupervisorError> {
        self.handle.try_call(StartChild(spec))
    }

    /// Stops the child per its `Shutdown` and keeps its spec, so that it can
    /// be restarted with [`restart_child`](Self::restart_child) (a temporary
    /// child's spec is removed). Succeeds if the child was not running.
    pub fn terminate_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.handle.try_call(TerminateChild(id.to_string()))
    }

    /// Starts a child that is not running (terminated, or transient and
    /// ended normally). Does not count towards the restart intensity.
    pub fn restart_child(&self, id: &str) -> Result<ActorRef, SupervisorError> {
        self.handle.try_call(RestartChild(id.to_string()))
    }

    /// Removes the spec of a child that is not running.
    pub fn delete_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.handle.try_call(DeleteChild(id.to_string()))
    }

    /// A handle to the nested (static) supervisor `id`, while it runs.
    pub fn child_supervisor(&self, id: &str) -> Result<Supervisor, SupervisorError> {
        self.handle
            .child(id, None)
            .map(|handle| Supervisor { handle })
    }

    /// A handle to the nested dynamic supervisor `id`, while it runs; its
    /// children must take arguments of type `Args`.
    pub fn child_dynamic_supervisor<Args: Clone + Send + 'static>(
        &self,
        id: &str,
    ) -> Result<crate::DynamicSupervisor<Args>, SupervisorError> {
        self.handle
            .child(id, Some(TypeId::of::<Args>()))
            .map(crate::DynamicSupervisor::from_handle)
    }

    /// Stops the supervisor and waits up to `timeout` until the whole subtree
    /// is gone: children stop in reverse start order (a nested supervisor's
    /// subtree before it; each waited for by a message, not by blocking the
    /// supervisor's thread), then the supervisor terminates with `Normal` (a
    /// permanent parent restarts it, as in OTP). Fails with
    /// [`Timeout`](SupervisorError::Timeout) if it is still running then (it
    /// stops anyway, later), and with
    /// [`SupervisorDown`](SupervisorError::SupervisorDown) if it was not running.
    pub fn stop(&self, timeout: Duration) -> Result<(), SupervisorError> {
        self.handle.stop(timeout)
    }

    /// The live tree under this supervisor as indented text: ids, names,
    /// actor ids, restart counts.
    pub fn tree(&self) -> Result<String, SupervisorError> {
        crate::tree::render(&self.handle)
    }
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Supervisor({})", self.handle.actor.id())
    }
}
