//! [`Inbox`]: a mailbox that plain code reads, with an address of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::address::{ActorRef, Core, Driver};
use crate::error::RecvError;
use crate::exit::{ExitReason, Stopped};
use crate::links::{self, MonitorRef};
use crate::mailbox::{Envelope, Mail};
use crate::system::{System, SystemInner};

/// A mailbox for code that is not an actor: tests, `main`, services.
///
/// It has an [`ActorRef`], so actors can reply to it, and it can link to and
/// monitor actors. It always traps exits: an exit signal arrives as a
/// [`Stopped`] message, and a monitor's end as a [`Down`](crate::Down).
/// Dropping the inbox terminates its address with `Normal`.
///
/// ```
/// use ferrotp::{Actor, Down, ExitReason, Handlers, Stop, System};
/// use std::time::Duration;
///
/// struct Idle;
/// impl Actor for Idle {
///     fn handlers() -> Handlers<Self> { Handlers::new() }
/// }
///
/// let system = System::new();
/// let inbox = system.inbox();
/// let idle = system.spawn(Idle);
/// let monitor = inbox.monitor(&idle);
/// idle.send(Stop);
/// let down: Down = inbox.recv(Duration::from_secs(5)).unwrap().downcast().unwrap();
/// assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Normal));
/// ```
pub struct Inbox {
    actor: ActorRef,
}

impl Inbox {
    /// A new inbox in `system`.
    pub fn new(system: &System) -> Self {
        Self::in_system(system.inner())
    }

    pub(crate) fn in_system(system: &Arc<SystemInner>) -> Self {
        let core = Core::new(system.next_id(), system.clone(), Driver::Thread, true);
        Inbox {
            actor: ActorRef::from_core(Arc::new(core)),
        }
    }

    /// The inbox's address: give it as a sender, link to it, monitor from it.
    pub fn actor(&self) -> &ActorRef {
        &self.actor
    }

    /// Sends `msg` to `to` with this inbox as the sender.
    pub fn send<M: Send + 'static>(&self, to: &ActorRef, msg: M) {
        to.send_from(msg, &self.actor);
    }

    /// Waits up to `timeout` for the next message.
    pub fn recv(&self, timeout: Duration) -> Result<Envelope, RecvError> {
        self.recv_deadline(Instant::now() + timeout)
    }

    /// Waits until `deadline` for the next message.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<Envelope, RecvError> {
        loop {
            let mail = self
                .actor
                .core
                .mailbox
                .recv(Some(deadline))
                .ok_or(RecvError::Timeout)?;
            if let Some(envelope) = self.open(mail) {
                return Ok(envelope);
            }
        }
    }

    /// The next message if one is waiting.
    pub fn try_recv(&self) -> Option<Envelope> {
        loop {
            let mail = self.actor.core.mailbox.pop()?;
            if let Some(envelope) = self.open(mail) {
                return Some(envelope);
            }
        }
    }

    /// Turns mail into the message plain code sees, dropping what is void.
    fn open(&self, mail: Mail) -> Option<Envelope> {
        match mail {
            Mail::Message(envelope) => Some(envelope),
            Mail::Exit(signal) => {
                if signal.via_link && !links::accept_link_exit(&self.actor, signal.from) {
                    return None;
                }
                let stopped = Stopped {
                    actor: signal.from,
                    reason: signal.reason,
                };
                Some(Envelope::new(stopped, None))
            }
            Mail::Down(down) => {
                links::accept_down(&self.actor, down.monitor).then(|| Envelope::new(down, None))
            }
            Mail::Wake => None,
        }
    }

    /// Monitors `target`: its end arrives here as a `Down`.
    pub fn monitor(&self, target: &ActorRef) -> MonitorRef {
        links::monitor(&self.actor, target)
    }

    /// Removes a monitor; no `Down` for it arrives after this returns.
    pub fn demonitor(&self, monitor: MonitorRef) -> bool {
        links::demonitor(&self.actor, monitor)
    }

    /// Links this inbox with `actor`. The inbox traps exits: the actor's end
    /// arrives as `Stopped`. Dropping the inbox ends it with `Normal`, which
    /// linked actors that do not trap exits ignore.
    pub fn link(&self, actor: &ActorRef) {
        links::link(&self.actor, actor);
    }

    /// Removes a link both ways.
    pub fn unlink(&self, actor: &ActorRef) {
        links::unlink(&self.actor, actor);
    }

    /// Messages waiting (including internal wake-ups).
    pub fn len(&self) -> usize {
        self.actor.core.mailbox.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.actor.core.close(&ExitReason::Normal, None);
        let dropped = self.actor.core.mailbox.close();
        if dropped > 0 {
            let core = &self.actor.core;
            core.system.dead_letters_dropped(core.id, dropped);
        }
    }
}
