//! The `Down`s a step waits for.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ferrotp::{ActorRef, Down, ExitReason, Inbox, MonitorRef, System};

use crate::testkit::trace::RunError;

/// The `Down`s of the monitors one step placed. They may arrive in any
/// order, so each is kept until it is asked for.
pub(super) struct Watch {
    inbox: Inbox,
    seen: HashMap<MonitorRef, ExitReason>,
    timeout: Duration,
}

impl Watch {
    pub(super) fn new(system: &System, timeout: Duration) -> Self {
        Watch {
            inbox: system.inbox(),
            seen: HashMap::new(),
            timeout,
        }
    }

    pub(super) fn monitor(&self, actor: &ActorRef) -> MonitorRef {
        self.inbox.monitor(actor)
    }

    pub(super) fn wait(
        &mut self,
        monitor: MonitorRef,
        what: impl FnOnce() -> String,
    ) -> Result<ExitReason, RunError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(reason) = self.seen.remove(&monitor) {
                return Ok(reason);
            }
            let Ok(envelope) = self.inbox.recv_deadline(deadline) else {
                return Err(RunError::Timeout(what()));
            };
            if let Ok(down) = envelope.downcast::<Down>() {
                self.seen.insert(down.monitor, down.reason);
            }
        }
    }
}
