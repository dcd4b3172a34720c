//! One actor's state machine: start, handle one piece of mail, terminate.
//!
//! Nothing here knows which thread drives it: an executor calls
//! [`ActorCell::start`] once, then [`ActorCell::handle`] for each piece of
//! mail until it returns [`Flow::Done`], then [`ActorCell::finish`].

use std::any::TypeId;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::actor::Actor;
use crate::address::{ActorRef, Core, EXITING, RUNNING};
use crate::context::Context;
use crate::exit::{ExitReason, Stop, Stopped};
use crate::groups;
use crate::handlers::Handlers;
use crate::links;
use crate::mailbox::{Envelope, ExitSignal, Mail, Notice};
use crate::panic::guard;
use crate::payload::{Payload, TypeKey};

/// Whether the actor goes on after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Done,
}

/// Where the last plain message went: its payload's type and its
/// handler. The next message of that type goes straight to that handler,
/// without the type checks and the lookup (a one-entry cache: a stream of
/// one type is the common case). A driver keeps one while it handles a
/// run of mail (a turn), so it costs an idle actor nothing.
#[derive(Default)]
pub(crate) struct LastHandler(Option<(TypeKey, usize)>);

pub(crate) struct ActorCell<A: Actor> {
    state: Option<A>,
    ctx: Context<A>,
    handlers: Arc<Handlers<A>>,
}

impl<A: Actor> ActorCell<A> {
    pub fn new(state: A, ctx: Context<A>, handlers: Arc<Handlers<A>>) -> Self {
        ActorCell {
            state: Some(state),
            ctx,
            handlers,
        }
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.ctx.myself().core
    }

    fn myself(&self) -> &ActorRef {
        self.ctx.myself()
    }

    /// Runs `started`, unless the actor was killed before it ran a line.
    pub fn start(&mut self) -> Flow {
        if self.core().is_dead() {
            return self.abandon();
        }
        let outcome = match self.state.as_mut() {
            Some(state) => {
                let ctx = &mut self.ctx;
                guard(|| state.started(ctx)).unwrap_or_else(|text| Err(ExitReason::Panic(text)))
            }
            None => Err(ExitReason::Killed),
        };
        let outcome = outcome.and_then(|()| match self.ctx.stop_request.take() {
            Some(reason) => Err(*reason),
            None => Ok(()),
        });
        match outcome {
            Ok(()) if self.core().is_dead() => self.abandon(),
            Ok(()) => {
                // A failure is answered by `Core::close`, with the reason;
                // a deferred acknowledgement by `Context::ack_started`.
                let waiter = {
                    let mut rel = self.core().relations();
                    match rel.start_waiter() {
                        Some(waiter) if !waiter.deferred => rel.take_start_waiter(),
                        _ => None,
                    }
                };
                if let Some(waiter) = waiter {
                    waiter.answer(self.core().id, Ok(()));
                }
                Flow::Continue
            }
            Err(reason) => self.terminate(reason),
        }
    }

    /// Handles one piece of mail; `last` remembers the handler of the
    /// previous message (the driver keeps it from one piece to the next).
    #[inline]
    pub fn handle(&mut self, mail: Mail, last: &mut LastHandler) -> Flow {
        if self.core().is_dead() {
            // Killed: a message taken now is left unhandled, a dead letter
            // as it would be had it waited in the mailbox.
            let core = self.core();
            let left = crate::mailbox::user_messages([mail], core.id);
            if left > 0 {
                core.system.dead_letters_dropped(core.id, left);
            }
            return self.abandon();
        }
        match mail {
            Mail::Message(envelope) => match last.0 {
                Some((key, at)) if envelope.payload.type_key() == key => {
                    self.on_known(envelope, at)
                }
                _ => self.on_new(envelope, last),
            },
            other => self.on_other(other),
        }
    }

    /// A message of another type than the last one.
    fn on_new(&mut self, envelope: Envelope, last: &mut LastHandler) -> Flow {
        // A group notice is screened first, every time: it is never
        // remembered in `last`.
        if !groups::is_group_notice(&envelope) {
            return self.on_message(envelope, Some(last));
        }
        match groups::screen(self.core(), envelope) {
            Some(envelope) => self.on_message(envelope, None),
            None => Flow::Continue,
        }
    }

    /// A message the turn's last handler does not take, or a notice.
    fn on_other(&mut self, mail: Mail) -> Flow {
        match mail {
            Mail::Message(envelope) => self.on_new(envelope, &mut LastHandler::default()),
            Mail::Notice(notice) => self.on_notice(*notice),
        }
    }

    /// Exit signals, `Down` and wake-ups.
    fn on_notice(&mut self, notice: Notice) -> Flow {
        match notice {
            Notice::Wake => Flow::Continue,
            Notice::Exit(signal) => self.on_exit_signal(signal),
            Notice::Down(down) => {
                if !links::accept_down(self.myself(), down.monitor) {
                    return Flow::Continue;
                }
                let envelope = Envelope::new(down, None);
                self.on_message(envelope, None)
            }
        }
    }

    /// A message of the type `last` remembers, handled by the handler at
    /// `at`: what [`on_message`](Self::on_message) does for it, without
    /// looking at its type again.
    #[inline]
    fn on_known(&mut self, envelope: Envelope, at: usize) -> Flow {
        #[cfg(feature = "testkit")]
        if self.core().fault_due() {
            return self.inject_fault(envelope);
        }
        let Envelope { payload, sender } = envelope;
        self.ctx.sender = sender;
        // SAFETY: the payload has the table of the payload `last` was
        // remembered for (`handle`), whose TypeId keyed the handler at
        // `at` (`on_message`); one table is one type's.
        let outcome = unsafe { self.run_at(at, payload) };
        self.ctx.sender = None;
        self.after_handler(outcome)
    }

    /// A message, its type looked at: `Stop` (unless handled), a handler
    /// (remembered in `last`, if given), or the fallback.
    fn on_message(&mut self, envelope: Envelope, last: Option<&mut LastHandler>) -> Flow {
        #[cfg(feature = "testkit")]
        if self.core().fault_due() {
            return self.inject_fault(envelope);
        }
        let Envelope { payload, sender } = envelope;
        // Looked up once: through the payload's table, it is a call.
        let type_id = payload.type_id();
        if type_id == TypeId::of::<Stop>() && !self.handlers.handles_type(TypeId::of::<Stop>()) {
            self.ctx.stop_reply_to = sender;
            return self.terminate(ExitReason::Normal);
        }
        self.ctx.sender = sender;
        let outcome = match self.handlers.position(type_id) {
            Some(at) => {
                if let Some(last) = last {
                    last.0 = Some((payload.type_key(), at));
                }
                // SAFETY: the handler at `at` is keyed by the payload's
                // own TypeId.
                unsafe { self.run_at(at, payload) }
            }
            None => self.run_handler(payload),
        };
        self.ctx.sender = None;
        self.after_handler(outcome)
    }

    /// An injected fault is due: it comes first, whatever the message
    /// (`Stop` too).
    #[cfg(feature = "testkit")]
    #[cold]
    fn inject_fault(&mut self, envelope: Envelope) -> Flow {
        crate::panic::discard(envelope, self.core().id);
        self.terminate(ExitReason::Panic(
            crate::testkit::INJECTED_PANIC.to_string(),
        ))
    }

    /// After a handler: the actor goes on, unless it was killed meanwhile,
    /// the handler failed, or it asked to stop.
    #[inline]
    fn after_handler(&mut self, outcome: Result<(), ExitReason>) -> Flow {
        if self.core().is_dead() {
            return self.abandon();
        }
        match outcome.and_then(|()| {
            self.ctx
                .stop_request
                .take()
                .map_or(Ok(()), |reason| Err(*reason))
        }) {
            Ok(()) => Flow::Continue,
            Err(reason) => self.terminate(reason),
        }
    }

    /// Runs the handler at `at` in the table, for `payload`.
    ///
    /// # Safety
    /// As for [`Handlers::call`]: the handler at `at` takes the payload's
    /// type.
    #[inline]
    unsafe fn run_at(&mut self, at: usize, payload: Payload) -> Result<(), ExitReason> {
        let Some(state) = self.state.as_mut() else {
            return Ok(());
        };
        let handlers = &self.handlers;
        let ctx = &mut self.ctx;
        // SAFETY: this function's own contract.
        guard(|| unsafe { handlers.call(at, state, payload, ctx) })
            .unwrap_or_else(|text| Err(ExitReason::Panic(text)))
    }

    /// Runs the fallback for a payload no handler takes, or drops it as a
    /// dead letter.
    fn run_handler(&mut self, payload: Payload) -> Result<(), ExitReason> {
        let Some(state) = self.state.as_mut() else {
            return Ok(());
        };
        let type_name = payload.type_name();
        let handlers = &self.handlers;
        let ctx = &mut self.ctx;
        // A message no handler takes is dropped here, inside the guard: it
        // was delivered to this actor, so a panic in its `Drop` is this
        // actor's own panic, like one in a handler that takes it.
        let dispatched = guard(|| match handlers.dispatch(state, payload, type_name, ctx) {
            Ok(outcome) => outcome,
            Err(unhandled) => {
                let core = &ctx.myself().core;
                core.system
                    .dead_letter(core.id, type_name, "no handler for this type");
                drop(unhandled);
                Ok(())
            }
        });
        dispatched.unwrap_or_else(|text| Err(ExitReason::Panic(text)))
    }

    fn on_exit_signal(&mut self, signal: ExitSignal) -> Flow {
        if !links::accept_exit(self.myself(), &signal) {
            return Flow::Continue;
        }
        if signal.force {
            return self.terminate(signal.reason);
        }
        if self.core().trapping.load(Ordering::Acquire) {
            let stopped = Stopped {
                actor: signal.from,
                reason: signal.reason,
            };
            return self.on_message(Envelope::new(stopped, None), None);
        }
        // `Normal` is ignored, unless the actor sent it to itself: Erlang's
        // `exit(self(), normal)` ends the caller.
        if signal.reason == ExitReason::Normal && signal.from != self.core().id {
            return Flow::Continue;
        }
        self.terminate(signal.reason)
    }

    /// Runs `stopped`, drops the state, then closes the actor (name freed,
    /// then links and monitors notified) — in that order.
    fn terminate(&mut self, reason: ExitReason) -> Flow {
        let core = self.core().clone();
        if let Some(stopper) = self.ctx.stop_reply_to.take() {
            // From here on, whoever closes the actor answers the `Stop`'s
            // sender. A kill that closed it first answers no one: the `Stop`
            // was not handled, like mail still queued at a kill.
            let mut rel = core.relations();
            if !rel.closed {
                rel.ties().stopper = Some(stopper);
            }
        }
        if core
            .status
            .compare_exchange(RUNNING, EXITING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return self.abandon();
        }
        if let Some(mut state) = self.state.take() {
            let ctx = &mut self.ctx;
            ctx.sender = None;
            if let Err(text) = guard(|| state.stopped(&reason, ctx)) {
                tracing::error!(actor = %core.id, panic = %text, "the stopped hook panicked");
            }
            if let Err(text) = guard(move || drop(state)) {
                tracing::error!(actor = %core.id, panic = %text, "dropping the actor panicked");
            }
        }
        core.close(&reason);
        Flow::Done
    }

    /// The actor was killed: drop its state without running hooks.
    fn abandon(&mut self) -> Flow {
        if let Some(state) = self.state.take() {
            let id = self.core().id;
            if let Err(text) = guard(move || drop(state)) {
                tracing::error!(actor = %id, panic = %text, "dropping the actor panicked");
            }
        }
        Flow::Done
    }

    /// After `Done`: closes the mailbox (and its lane) and counts what is
    /// still queued as dead letters.
    pub fn finish(self) {
        let core = self.core().clone();
        let dropped = core.close_mailbox();
        if dropped > 0 {
            core.system.dead_letters_dropped(core.id, dropped);
        }
    }
}
