//! Exit signals sent from outside an actor: [`ActorRef::kill`] and
//! [`ActorRef::exit`], like Erlang's `exit/2`.
//!
//! Apart from sending because a signal is not mail: it can overtake a
//! backlog, and a kill takes effect even while a handler never returns.

use super::current::as_sender;
use super::{ActorId, ActorRef, Driver};
use crate::exit::ExitReason;
use crate::mailbox::ExitSignal;

impl ActorRef {
    /// Terminates the actor with [`ExitReason::Killed`], untrappably.
    ///
    /// Takes effect at once, even if the actor's current handler never
    /// returns: the actor is marked dead, its name freed, its links and
    /// monitors fire with `Killed`, and whatever its thread sends afterwards
    /// is discarded (its messages, exit signals and kills); a message or an
    /// exit signal it is sending at that moment arrives before the kill's
    /// notices (the kill waits for that send, one waiting for room in a
    /// full bounded mailbox up to its deadline); a kill it is making at
    /// that moment marks its target dead before them.
    /// Its `stopped` hook
    /// does not run. A kill of an actor that has already terminated (or is
    /// sending the notices of its end) changes nothing; a kill while the
    /// `stopped` hook of a [`Stop`](crate::Stop) runs answers the `Stop`'s
    /// sender with `Stopped { reason: Killed }` at once.
    pub fn kill(&self) {
        // A killed actor's stuck thread can no longer act on the world; a
        // kill made by an actor is decided inside a send of its own (the
        // look at `killed` and the target's marking, `as_sender`), so a
        // kill of the killer either voids it or waits for it. Only the
        // marking is inside: the wait for the target's own sends comes
        // after, so two actors killing each other never wait for each other.
        let closing = as_sender(|killed| {
            if killed {
                tracing::debug!(actor = %self.id(), "kill from a killed actor discarded");
                return None;
            }
            // Only a kill that terminates the actor marks it killed: one
            // that comes too late must not void what the dying actor still
            // sends.
            self.core.begin_kill()
        });
        if let Some(closing) = closing {
            self.core.finish_kill(closing);
            tracing::warn!(actor = %self.id(), "killed");
            self.core.wake();
            if let (Driver::Pool(_), Some(pool)) = (&self.core.driver, self.core.system.pool()) {
                pool.actor_killed(self.id());
            }
        }
    }

    /// Sends an exit signal from outside, like Erlang's `exit/2`.
    ///
    /// A target that does not trap exits terminates with `reason`, unless it
    /// is `Normal` (then nothing happens: only an actor's own
    /// [`Context::exit`](crate::Context::exit) to itself with `Normal` ends
    /// it, as Erlang's `exit(self(), normal)`); a trapping target receives
    /// `Stopped { actor: ActorId::EXTERNAL, reason }`. `Killed` is the same
    /// as [`kill`](Self::kill). Inside an actor, prefer
    /// [`Context::exit`](crate::Context::exit), which names the sender.
    pub fn exit(&self, reason: ExitReason) {
        self.exit_from(ActorId::EXTERNAL, reason);
    }

    pub(crate) fn exit_from(&self, from: ActorId, reason: ExitReason) {
        if reason == ExitReason::Killed {
            self.kill();
            return;
        }
        // Like its messages, the exit signals that a killed actor's stuck
        // thread sends afterwards are discarded; and like a message, a
        // signal is counted as a send (`as_sender`), so a kill of the
        // sender either voids it or waits for it: it never reaches someone
        // after the sender's own `Down` (the look at `killed` and the
        // delivery were two steps, and a kill between them came first).
        as_sender(|killed| {
            if killed {
                tracing::debug!(actor = %self.id(), %reason, "exit signal from a killed actor discarded");
                return;
            }
            self.core.deliver_exit(ExitSignal {
                from,
                reason,
                link: None,
                force: false,
            });
        })
    }
}
