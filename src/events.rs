//! Lifecycle events: a stream a test or a tool can subscribe to, so that
//! it waits for "the actor exited" or "the child was restarted" instead of
//! sleeping. Costs one atomic load per event when no one subscribed.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::address::ActorId;
use crate::error::RecvError;
use crate::executor::Executor;
use crate::exit::ExitReason;

/// Something that happened to an actor of a system ([`System::subscribe`](crate::System::subscribe)).
///
/// Each actor has one `Spawned` and, once it has ended, one `Exited`, with
/// the `Registered`/`Unregistered` of its names between them (a name given
/// at spawn is in the `Spawned` and `Registered` right after it). Only actors appear: an [`Inbox`](crate::Inbox) (so a `Bridge::call`, a
/// `Probe`) is none, and a spawn refused because its name was taken made
/// none either.
#[derive(Clone)]
pub enum LifecycleEvent {
    /// An actor was spawned (before it runs any code).
    Spawned {
        /// The new actor.
        actor: ActorId,
        /// The name it was spawned with, if any.
        name: Option<String>,
    },
    /// An actor that was `Spawned` terminated. Sent after its name was freed
    /// and before any exit signal or `Down` about it.
    Exited {
        /// The actor.
        actor: ActorId,
        /// The name it had.
        name: Option<String>,
        /// Why it terminated.
        reason: ExitReason,
    },
    /// A name was registered.
    Registered {
        /// The actor.
        actor: ActorId,
        /// The name.
        name: String,
    },
    /// A name was freed (by `unregister` or because its holder terminated).
    ///
    /// Once a holder is dead, its name may be registered again before this
    /// event about the old holder is sent: follow a name by the `actor` of
    /// each event, not by the order of `Registered` and `Unregistered`.
    Unregistered {
        /// The actor that held it.
        actor: ActorId,
        /// The name.
        name: String,
    },
    /// A handler ran past the system's threshold
    /// ([`SystemBuilder::long_handler`](crate::SystemBuilder::long_handler)).
    /// On the pool, such a handler holds a worker: the actor is a candidate
    /// for [`SpawnOptions::dedicated`](crate::SpawnOptions::dedicated).
    /// Sent when the handler returns.
    LongHandler {
        /// The actor.
        actor: ActorId,
        /// Its name, if it has one.
        name: Option<String>,
        /// The type of the message it handled (`std::any::type_name`), or
        /// `"started"` for its `started` hook.
        message_type: &'static str,
        /// How long it ran (waits in `Bridge::call`, `Inbox::recv` and the
        /// like not counted), from the watcher's first look that saw it
        /// running: short by up to one look's interval (on the pool a
        /// millisecond; on a dedicated thread an eighth of the threshold,
        /// at most 20 ms), and never below the threshold.
        elapsed: Duration,
        /// Where it ran.
        executor: Executor,
    },
    /// An event published by a behaviour built on the kernel (a supervisor's
    /// restart, say) with [`System::publish`](crate::System::publish); read
    /// it with [`custom`](Self::custom).
    Custom(Arc<dyn Any + Send + Sync>),
}

impl LifecycleEvent {
    /// The payload of a `Custom` event, if it is a `T`.
    pub fn custom<T: 'static>(&self) -> Option<&T> {
        match self {
            LifecycleEvent::Custom(payload) => payload.downcast_ref::<T>(),
            _ => None,
        }
    }

    /// The actor the event is about (`None` for `Custom`).
    pub fn actor(&self) -> Option<ActorId> {
        match self {
            LifecycleEvent::Spawned { actor, .. }
            | LifecycleEvent::Exited { actor, .. }
            | LifecycleEvent::Registered { actor, .. }
            | LifecycleEvent::Unregistered { actor, .. }
            | LifecycleEvent::LongHandler { actor, .. } => Some(*actor),
            LifecycleEvent::Custom(_) => None,
        }
    }
}

impl fmt::Debug for LifecycleEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LifecycleEvent::Spawned { actor, name } => f
                .debug_struct("Spawned")
                .field("actor", actor)
                .field("name", name)
                .finish(),
            LifecycleEvent::Exited {
                actor,
                name,
                reason,
            } => f
                .debug_struct("Exited")
                .field("actor", actor)
                .field("name", name)
                .field("reason", reason)
                .finish(),
            LifecycleEvent::Registered { actor, name } => f
                .debug_struct("Registered")
                .field("actor", actor)
                .field("name", name)
                .finish(),
            LifecycleEvent::Unregistered { actor, name } => f
                .debug_struct("Unregistered")
                .field("actor", actor)
                .field("name", name)
                .finish(),
            LifecycleEvent::LongHandler {
                actor,
                name,
                message_type,
                elapsed,
                executor,
            } => f
                .debug_struct("LongHandler")
                .field("actor", actor)
                .field("name", name)
                .field("message_type", message_type)
                .field("elapsed", elapsed)
                .field("executor", executor)
                .finish(),
            LifecycleEvent::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// A subscription to a system's lifecycle events. Dropping it unsubscribes.
pub struct Events {
    rx: Receiver<LifecycleEvent>,
}

impl Events {
    /// Waits up to `timeout` for the next event.
    pub fn recv(&self, timeout: Duration) -> Result<LifecycleEvent, RecvError> {
        self.rx
            .recv_timeout(timeout)
            .map_err(|_| RecvError::Timeout)
    }

    /// Waits until `deadline` for the next event.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<LifecycleEvent, RecvError> {
        self.rx
            .recv_deadline(deadline)
            .map_err(|_| RecvError::Timeout)
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<LifecycleEvent> {
        self.rx.try_recv().ok()
    }

    /// Skips events until one satisfies `wanted`, waiting up to `timeout` in all.
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut wanted: impl FnMut(&LifecycleEvent) -> bool,
    ) -> Result<LifecycleEvent, RecvError> {
        let deadline = Instant::now() + timeout;
        loop {
            let event = self.recv_deadline(deadline)?;
            if wanted(&event) {
                return Ok(event);
            }
        }
    }
}

/// The subscribers of one system.
#[derive(Default)]
pub(crate) struct EventBus {
    count: AtomicUsize,
    subscribers: Mutex<Vec<Sender<LifecycleEvent>>>,
}

impl EventBus {
    pub fn subscribe(&self) -> Events {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subscribers.push(tx);
        self.count.store(subscribers.len(), Ordering::Release);
        Events { rx }
    }

    /// Sends the event `make` builds to every subscriber; builds nothing
    /// when there is none.
    pub fn emit(&self, make: impl FnOnce() -> LifecycleEvent) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let event = make();
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subscribers.retain(|s| s.send(event.clone()).is_ok());
        self.count.store(subscribers.len(), Ordering::Release);
    }
}
