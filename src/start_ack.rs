//! Start acknowledgements: how a spawner learns that a new actor has
//! started, or why it did not, without blocking (OTP's `proc_lib:start`
//! and `init_ack`).
//!
//! A spawn with [`SpawnOptions::notify_started`](crate::SpawnOptions::notify_started)
//! returns the new actor's address at once; the spawner later receives one
//! [`StartAck`] as a message. By default the acknowledgement goes out when
//! the actor's `started` hook returns `Ok`. An actor whose start takes more
//! than its `started` hook (one that must hear from others first, as a
//! supervisor waits for its children) calls
//! [`Context::defer_start_ack`](crate::Context::defer_start_ack) in
//! `started` and [`Context::ack_started`](crate::Context::ack_started) once
//! it is ready. An actor that terminates before it acknowledged failed to
//! start: the acknowledgement carries the reason it terminated with.
//!
//! The same acknowledgement ends the wait of a blocking spawn
//! ([`SpawnOptions::await_started`](crate::SpawnOptions::await_started)),
//! so a deferring actor is "started" the same way for both kinds of
//! spawner.

use crossbeam_channel::Sender;

use crate::address::{ActorId, ActorRef};
use crate::exit::ExitReason;
use crate::mailbox::Envelope;

/// What a spawner that asked for it
/// ([`SpawnOptions::notify_started`](crate::SpawnOptions::notify_started))
/// receives, exactly once per spawn that returned `Ok`: whether the actor
/// started.
///
/// It is queued like a message (never refused by a full bounded mailbox).
/// If the actor failed to start, the acknowledgement is sent once the actor
/// is gone (its name free, as for any end) and before its exit signals: a
/// spawner linked to it that traps exits receives the `StartAck` before the
/// actor's `Stopped`.
///
/// ```
/// use ferrotp::{Actor, Context, ExitReason, Handlers, SpawnOptions, StartAck, System};
/// use std::time::Duration;
///
/// struct Picky(bool);
/// impl Actor for Picky {
///     fn handlers() -> Handlers<Self> { Handlers::new() }
///     fn started(&mut self, _ctx: &mut Context<Self>) -> Result<(), ExitReason> {
///         if self.0 { Ok(()) } else { Err(ExitReason::Error("not today".into())) }
///     }
/// }
///
/// let system = System::new();
/// let inbox = system.inbox();
/// let good = system.spawn_with(Picky(true), SpawnOptions::new().notify_started(inbox.actor())).unwrap();
/// let ack = inbox.recv(Duration::from_secs(5)).unwrap().downcast::<StartAck>().unwrap();
/// assert_eq!(ack, StartAck { actor: good.id(), outcome: Ok(()) });
///
/// let bad = system.spawn_with(Picky(false), SpawnOptions::new().notify_started(inbox.actor())).unwrap();
/// let ack = inbox.recv(Duration::from_secs(5)).unwrap().downcast::<StartAck>().unwrap();
/// assert_eq!(ack.actor, bad.id());
/// assert_eq!(ack.outcome, Err(ExitReason::Error("not today".into())));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartAck {
    /// The actor spawned.
    pub actor: ActorId,
    /// `Ok` once it acknowledged its start; else the reason it terminated
    /// with before it did.
    pub outcome: Result<(), ExitReason>,
}

/// Whom a starting actor answers.
pub(crate) enum Spawner {
    /// A spawner blocked in the spawn (`await_started`).
    Blocked(Sender<Result<(), ExitReason>>),
    /// A spawner told by a [`StartAck`] message (`notify_started`).
    Notified(ActorRef),
}

/// A spawner waiting to hear that its actor started. It is answered when
/// the actor acknowledges (its `started` returned, or it called
/// `ack_started` after deferring), or by whatever terminates the actor
/// first — a `kill` included — so it never waits on a stuck actor.
pub(crate) struct StartWaiter {
    spawner: Spawner,
    /// The actor acknowledges itself (`Context::ack_started`), not the
    /// return of its `started` hook.
    pub deferred: bool,
}

impl StartWaiter {
    pub fn new(spawner: Spawner) -> Self {
        StartWaiter {
            spawner,
            deferred: false,
        }
    }

    /// Tells the spawner how the start of `actor` went.
    pub fn answer(self, actor: ActorId, outcome: Result<(), ExitReason>) {
        match self.spawner {
            Spawner::Blocked(waiter) => {
                // A blocking spawner that gave up (a spawn that failed
                // before it waited) dropped its end: nothing to tell.
                let _ = waiter.send(outcome);
            }
            // Queued whichever thread answers (the actor's own, or one that
            // kills it), and never refused: the spawner must hear.
            Spawner::Notified(to) => to
                .core
                .enqueue(Envelope::new(StartAck { actor, outcome }, None)),
        }
    }
}
