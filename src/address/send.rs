//! Sending through an [`ActorRef`]: fire and forget, and the variants that
//! meet a full bounded mailbox by giving the message back or waiting.

use std::time::{Duration, Instant};

use super::ActorRef;
use crate::error::SendError;
use crate::mailbox::Envelope;

impl ActorRef {
    /// Sends `msg` with no sender.
    pub fn send<M: Send + 'static>(&self, msg: M) {
        self.core.deliver(Envelope::new(msg, None));
    }

    /// Sends `msg` on behalf of `sender` (whom a `reply` will reach).
    pub fn send_from<M: Send + 'static>(&self, msg: M, sender: &ActorRef) {
        self.core
            .deliver(Envelope::new(msg, self.core.sender_for(sender)));
    }

    /// Sends `msg` with no sender if the actor's mailbox has room, else
    /// gives it back as [`SendError::Full`]. Never blocks: this is how an
    /// actor's handler meets a full mailbox (see
    /// [`SpawnOptions::mailbox`](crate::SpawnOptions::mailbox)). An
    /// unbounded mailbox always has room. As with [`send`](Self::send), a
    /// message to a dead actor is a dead letter, not an error.
    ///
    /// ```
    /// use ferrotp::{Actor, Context, ExitReason, Handlers, SendError, SpawnOptions, System};
    /// use std::sync::mpsc;
    ///
    /// /// Takes no message until its gate opens.
    /// struct Slow(mpsc::Receiver<()>);
    /// impl Actor for Slow {
    ///     fn handlers() -> Handlers<Self> { Handlers::new() }
    ///     fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         let _ = self.0.recv();
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let system = System::new();
    /// let (open, gate) = mpsc::channel();
    /// let slow = system.spawn_with(Slow(gate), SpawnOptions::new().mailbox(1)).unwrap();
    /// assert!(slow.try_send(1u32).is_ok());
    /// assert_eq!(slow.try_send(2u32), Err(SendError::Full(2)));
    /// open.send(()).unwrap();
    /// ```
    pub fn try_send<M: Send + 'static>(&self, msg: M) -> Result<(), SendError<M>> {
        give_back(self.core.offer(Envelope::new(msg, None), None))
    }

    /// [`try_send`](Self::try_send) on behalf of `sender`.
    pub fn try_send_from<M: Send + 'static>(
        &self,
        msg: M,
        sender: &ActorRef,
    ) -> Result<(), SendError<M>> {
        give_back(
            self.core
                .offer(Envelope::new(msg, self.core.sender_for(sender)), None),
        )
    }

    /// Sends `msg` with no sender, waiting up to `timeout` for room in a
    /// full mailbox; gives it back as [`SendError::Full`] if none came.
    ///
    /// For plain code that should slow down to its consumer's pace. It
    /// blocks the calling thread; in an actor's handler prefer
    /// [`try_send`](Self::try_send) (on a pool worker the wait is a
    /// blocking section like a `Bridge::call`: the pool adds a worker
    /// meanwhile, but the actor handles nothing else until it returns).
    pub fn send_timeout<M: Send + 'static>(
        &self,
        msg: M,
        timeout: Duration,
    ) -> Result<(), SendError<M>> {
        let deadline = Instant::now() + timeout;
        give_back(self.core.offer(Envelope::new(msg, None), Some(deadline)))
    }
}

/// The message of a refused send, back as the type it was sent as.
fn give_back<M: 'static>(offered: Result<(), Envelope>) -> Result<(), SendError<M>> {
    offered.map_err(|envelope| match envelope.downcast::<M>() {
        Ok(msg) => SendError::Full(msg),
        // An envelope made of an `M` downcasts to an `M`.
        Err(_) => unreachable!("a refused message changed its type"),
    })
}
