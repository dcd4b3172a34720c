//! [`DynamicSupervisor`]: the handle through which code outside a dynamic
//! supervisor starts, asks and stops it.

use std::fmt;
use std::marker::PhantomData;
use std::sync::mpsc;
use std::time::Duration;

use ferrotp::{Actor, ActorRef, Context, System};

use super::spec::DynamicSupervisorSpec;
use super::{DynamicSupervisorActor, StartDynamic, StartDynamicMany, TerminateDynamic};
use crate::error::SupervisorError;
use crate::lifecycle::Parent;
use crate::protocol::{name_option, ChildCount, ChildInfo, CountChildren, Handle, WhichChildren};

/// A running dynamic supervisor (a cheap, clonable handle).
///
/// Its children all come from one template and are started on demand with
/// [`start_child`](Self::start_child); each is restarted per the template's
/// restart policy (one-for-one), with the arguments it was started with.
/// When it stops, all its children get the exit signal at once.
///
/// ```
/// use ferrotp::{Actor, Context, Handlers, System};
/// use ferrotp_supervisors::{DynamicSupervisor, DynamicSupervisorSpec};
/// use std::time::Duration;
///
/// struct Adder { n: i64 }
/// impl Adder {
///     fn add(&mut self, x: i64, ctx: &mut Context<Self>) { ctx.reply(self.n + x); }
/// }
/// impl Actor for Adder {
///     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::add) }
/// }
///
/// let system = System::new();
/// let adders = DynamicSupervisor::start(
///     &system,
///     DynamicSupervisorSpec::worker("adder", |n: i64| Adder { n }),
/// )
/// .unwrap();
/// let plus_two = adders.start_child(2).unwrap();
/// let five: i64 = system.bridge().call(&plus_two, 3i64, Duration::from_secs(5)).unwrap();
/// assert_eq!(five, 5);
/// assert_eq!(adders.count_children().unwrap().active, 1);
/// ```
pub struct DynamicSupervisor<Args> {
    handle: Handle,
    _args: PhantomData<fn(Args)>,
}

impl<Args> Clone for DynamicSupervisor<Args> {
    fn clone(&self) -> Self {
        DynamicSupervisor {
            handle: self.handle.clone(),
            _args: PhantomData,
        }
    }
}

impl<Args> fmt::Debug for DynamicSupervisor<Args> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DynamicSupervisor({})", self.handle.actor.id())
    }
}

impl<Args: Clone + Send + 'static> DynamicSupervisor<Args> {
    pub(crate) fn from_handle(handle: Handle) -> Self {
        DynamicSupervisor {
            handle,
            _args: PhantomData,
        }
    }

    /// Starts a dynamic supervisor (with no children), not linked to the
    /// caller; an exit signal from plain code counts as its parent's.
    pub fn start(
        system: &System,
        spec: DynamicSupervisorSpec<Args>,
    ) -> Result<Self, SupervisorError> {
        spec.validate()?;
        let (reply, report) = mpsc::channel();
        let options = name_option(spec.name.as_deref());
        let actor = DynamicSupervisorActor::new(spec, Parent::External, Some(reply));
        let subtree = actor.subtree.clone();
        Handle::spawn(system, actor, options, report, subtree).map(Self::from_handle)
    }

    /// Starts a dynamic supervisor linked to the calling actor (see
    /// [`Supervisor::start_link`](crate::Supervisor::start_link)).
    pub fn start_link<A: Actor>(
        ctx: &Context<A>,
        spec: DynamicSupervisorSpec<Args>,
    ) -> Result<Self, SupervisorError> {
        spec.validate()?;
        let (reply, report) = mpsc::channel();
        let options = name_option(spec.name.as_deref()).link(ctx.myself());
        let actor =
            DynamicSupervisorActor::new(spec, Parent::Actor(ctx.myself().clone()), Some(reply));
        let subtree = actor.subtree.clone();
        Handle::spawn(ctx.system(), actor, options, report, subtree).map(Self::from_handle)
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

    /// Starts a child built from `args` and returns it once its `started`
    /// hook has returned; [`StartFailed`](SupervisorError::StartFailed) if it
    /// failed.
    pub fn start_child(&self, args: Args) -> Result<ActorRef, SupervisorError> {
        self.handle.try_call(StartDynamic(args))
    }

    /// Starts one child per element of `args`, in order, in one round trip
    /// to the supervisor: much faster than a `start_child` call each when
    /// starting thousands. The answer has one result per element, in
    /// order; a child that fails to start (`StartFailed`) does not stop
    /// the others. The outer error is the call's (`Timeout`,
    /// `SupervisorDown`): a large batch may need
    /// [`with_call_timeout`](Self::with_call_timeout).
    ///
    /// ```
    /// # use ferrotp::{Actor, Handlers, System};
    /// # use ferrotp_supervisors::{DynamicSupervisor, DynamicSupervisorSpec};
    /// # struct Session(u32);
    /// # impl Actor for Session { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let sessions = DynamicSupervisor::start(
    ///     &system,
    ///     DynamicSupervisorSpec::worker("session", Session),
    /// )
    /// .unwrap();
    /// let started = sessions.start_children(0..1000).unwrap();
    /// assert!(started.iter().all(|child| child.is_ok()));
    /// assert_eq!(sessions.count_children().unwrap().active, 1000);
    /// ```
    pub fn start_children(
        &self,
        args: impl IntoIterator<Item = Args>,
    ) -> Result<Vec<Result<ActorRef, SupervisorError>>, SupervisorError> {
        self.handle
            .call(StartDynamicMany(args.into_iter().collect::<Vec<_>>()))
    }

    /// Stops `child` per the template's `Shutdown` and forgets it; returns
    /// once it is gone (its subtree too, if it is a supervisor).
    /// [`NoSuchChild`](SupervisorError::NoSuchChild) if it is not a running
    /// child of this supervisor.
    ///
    /// The supervisor does not block while the child stops: it answers on
    /// the child's `Down`. What other callers ask meanwhile (start a child,
    /// read the children, stop the supervisor) is served after it, in
    /// arrival order.
    pub fn terminate_child(&self, child: &ActorRef) -> Result<(), SupervisorError> {
        self.handle.try_call(TerminateDynamic(child.id()))
    }

    /// The running children, oldest (re)start first — a restarted child
    /// moves after those started before its restart —, then those waiting
    /// for a restart retry, without an actor. Each has the template's id.
    pub fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.handle.call(WhichChildren)
    }

    /// One spec (the template), the live children, and how many children
    /// there are of the template's kind.
    pub fn count_children(&self) -> Result<ChildCount, SupervisorError> {
        self.handle.call(CountChildren)
    }

    /// Stops all children, then the supervisor (with `Normal`); waits up to
    /// `timeout` for all of it.
    pub fn stop(&self, timeout: Duration) -> Result<(), SupervisorError> {
        self.handle.stop(timeout)
    }

    /// The live tree under this supervisor as indented text.
    pub fn tree(&self) -> Result<String, SupervisorError> {
        crate::tree::render(&self.handle)
    }
}
