//! One turn of a pooled actor: start it if needed, then handle up to a
//! quota of mail, timed for the watchdog.
//!
//! Apart from the workers because a turn is the actor's side of the pool:
//! it knows the cell and the mailbox, not the queues or the threads.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::actor::Actor;
use crate::address::Core;
use crate::cell::{ActorCell, Flow, LastHandler};
use crate::executor::long_handler::{self, STARTED};
use crate::executor::watchdog::Probe;
use crate::executor::Executor;
use crate::mailbox::{user_messages, Mail};

/// What a turn gets from the worker that runs it.
pub(crate) struct TurnEnv<'a> {
    /// The actor whose turn it is, held by the worker for the turn (its
    /// cell holds it too, but a count taken here would write the line of
    /// the `Arc`'s counts, which the thread that scheduled the actor has
    /// just written: a cache miss on the way to the handler).
    pub(super) core: &'a Core,
    /// The most pieces of mail to handle.
    pub(super) quota: usize,
    /// Where the turn tells the worker how many messages of its batch are
    /// still to be handled.
    pub(super) in_hand: &'a Cell<usize>,
    /// Where the turn marks the start of each handler, for the watchdog.
    pub(super) probe: &'a Probe,
    /// The pool's epoch, for the watchdog's times.
    pub(super) epoch: Instant,
    /// Asked when the quota runs out with mail left: whether nothing else
    /// waits for this worker (its own queue and the injector are empty),
    /// so the turn goes on for another quota. It then starts the worker's
    /// count of actors this turn queued afresh, as a new turn would.
    pub(super) alone: &'a dyn Fn() -> bool,
}

impl TurnEnv<'_> {
    /// Runs one handler (`what` names it) under the watchdog's clock.
    #[inline]
    fn time<T>(&self, core: &Core, what: fn() -> &'static str, handler: impl FnOnce() -> T) -> T {
        self.probe.handler_started();
        let out = handler();
        if let Some(elapsed) = self.probe.handler_ended(self.epoch) {
            long_handler::report(core, Executor::Pool, what(), elapsed);
        }
        out
    }
}

/// One turn of an actor: start it if needed, then handle up to `quota`
/// pieces of mail, and quota after quota while no other actor waits (see
/// [`TurnEnv::alone`]).
pub(crate) trait Turn: Send {
    /// `batch` is the worker's scratch space, empty before and after.
    fn run(&mut self, env: &TurnEnv<'_>, batch: &mut VecDeque<Mail>) -> TurnEnd;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TurnEnd {
    /// The mailbox is empty.
    Idle,
    /// The quota ran out with mail left.
    Busy,
    /// The actor terminated.
    Done,
}

/// A pooled actor's cell, and whether its `started` hook ran.
pub(super) struct PooledCell<A: Actor> {
    pub(super) cell: Option<ActorCell<A>>,
    pub(super) started: bool,
}

impl<A: Actor> Turn for PooledCell<A> {
    fn run(&mut self, env: &TurnEnv<'_>, batch: &mut VecDeque<Mail>) -> TurnEnd {
        let Some(cell) = self.cell.as_mut() else {
            return TurnEnd::Done;
        };
        let core = env.core;
        let (quota, in_hand) = (env.quota, env.in_hand);
        let mut end = TurnEnd::Busy;
        if !self.started {
            self.started = true;
            if env.time(core, || STARTED, || cell.start()) == Flow::Done {
                end = TurnEnd::Done;
            }
        }
        // Handled in this quota (a turn may run several, see `alone`).
        let mut handled = 0;
        let mut last = LastHandler::default();
        while end == TurnEnd::Busy {
            if handled == quota {
                // The quota is there for the actors queued behind this
                // one. With none, ending the turn would only give back the
                // batch's rest under the lock the senders need, queue the
                // actor here again and take the rest back: a fan-in's
                // consumer paid that every quota (a third of its time),
                // and its senders waited on the lock meanwhile.
                if !(env.alone)() {
                    break;
                }
                core.stats.handled(handled as u64);
                handled = 0;
            }
            // Messages are taken in batches under one lock; an exit signal
            // that may overtake messages and arrives meanwhile still goes
            // before the batch's rest. Read before each piece of mail: only
            // this actor's own handlers change it.
            let trapping = core.trapping.load(Ordering::Acquire);
            let signal = match core.mailbox.signal_overtakes(trapping) {
                true => core.mailbox.pop_signal(trapping),
                false => None,
            };
            let mail = match signal {
                Some(signal) => signal,
                None => {
                    // An empty mailbox is seen without its lock (the common
                    // end of a turn: one request handled); mail that comes
                    // meanwhile is found by the worker's look after the turn.
                    if batch.is_empty()
                        && (!core.mailbox.may_have_mail()
                            || core.mailbox.take_batch(batch, quota - handled, trapping) == 0)
                    {
                        end = TurnEnd::Idle;
                        break;
                    }
                    match batch.pop_front() {
                        Some(mail) => mail,
                        None => break,
                    }
                }
            };
            // Taken to be handled: its place in a bounded mailbox is free.
            core.mailbox.release(&mail);
            handled += 1;
            // Beyond the quota, a batch's rest is not in this turn's hands.
            in_hand.set(batch.len().min(quota - handled));
            let what = mail.type_namer();
            if env.time(core, what, || cell.handle(mail, &mut last)) == Flow::Done {
                end = TurnEnd::Done;
            }
        }
        in_hand.set(0);
        core.stats.handled(handled as u64);
        if end == TurnEnd::Busy {
            core.mailbox.put_back(batch);
        }
        if end == TurnEnd::Done {
            if let Some(cell) = self.cell.take() {
                cell.finish();
            }
            let left = user_messages(batch.drain(..), core.id);
            if left > 0 {
                core.system.dead_letters_dropped(core.id, left);
            }
        }
        end
    }
}
