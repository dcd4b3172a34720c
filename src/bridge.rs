//! [`Bridge`]: plain code calls and stops actors.

use std::collections::hash_map::{Entry, HashMap};
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_utils::atomic::AtomicCell;

use crate::address::{ActorId, ActorRef, IdHasher};
use crate::error::{CallError, RecvError};
use crate::exit::{Down, ExitReason, Stop, Stopped};
use crate::inbox::Inbox;
use crate::links::MonitorRef;
use crate::mailbox::Envelope;
use crate::system::{System, SystemInner};

mod reply;
use reply::ReplyAddress;

/// Lets plain code talk to actors: request/reply with a timeout, stopping,
/// and watching.
///
/// Every call gets a reply address of its own (reused only once nothing
/// can reach it any more) and watches its target while it waits: a reply
/// that arrives after its call timed out never answers a later call, and
/// a call to an actor that dies fails at once with [`CallError::Stopped`].
///
/// ```
/// use ferrotp::{Actor, Context, Handlers, System};
/// use std::time::Duration;
///
/// struct Doubler;
/// impl Doubler {
///     fn double(&mut self, n: i64, ctx: &mut Context<Self>) {
///         ctx.reply(n * 2);
///     }
/// }
/// impl Actor for Doubler {
///     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::double) }
/// }
///
/// let system = System::new();
/// let bridge = system.bridge();
/// let doubler = system.spawn(Doubler);
/// let four: i64 = bridge.call(&doubler, 2i64, Duration::from_secs(5)).unwrap();
/// assert_eq!(four, 4);
/// let stopped = bridge.stop(&[doubler], Duration::from_secs(5));
/// assert!(stopped[0].is_some());
/// ```
pub struct Bridge {
    system: System,
    inbox: Inbox,
    /// The reply address of the last call, which the next call takes if
    /// no one else can reach it any more (see [`ReplyAddress::lend`]).
    /// Taken and put back with one atomic swap each, where a lock costs
    /// two atomics each way on the call's path.
    spare: AtomicCell<Option<Box<ReplyAddress>>>,
}

/// How long [`Bridge::stop`] waits for answers before it first looks for
/// actors that ended without one; the wait doubles up to [`LAST_LOOK`].
const FIRST_LOOK: Duration = Duration::from_millis(1);
const LAST_LOOK: Duration = Duration::from_millis(100);

/// Whether the actor at `index` has ended (its name freed and the system
/// told), answering it with its reason if so.
fn ended_silently(
    system: &Arc<SystemInner>,
    actors: &[ActorRef],
    index: usize,
    answers: &mut [Option<Stopped>],
) -> bool {
    let actor = &actors[index];
    // Forgotten by its system comes after its name is freed and it left its
    // groups, as for the `Stopped` it would have answered.
    let own = Arc::ptr_eq(&actor.core.system, system);
    if actor.is_alive() || (own && system.knows(actor.id())) {
        return false;
    }
    let reason = actor.exit_reason().unwrap_or(ExitReason::NoProc);
    answers[index] = Some(Stopped {
        actor: actor.id(),
        reason,
    });
    true
}

/// One request of a [`Bridge::multi_call`]: its own reply address,
/// watching its target.
struct Pending {
    inbox: Inbox,
    monitor: MonitorRef,
    /// The target's bounded mailbox refused the request.
    full: bool,
}

impl Pending {
    fn send<M: Send + 'static>(system: &System, target: &ActorRef, msg: M) -> Self {
        let inbox = system.inbox();
        let monitor = inbox.monitor(target);
        let full = target.try_send_from(msg, inbox.actor()).is_err();
        Pending {
            inbox,
            monitor,
            full,
        }
    }

    fn reply<R: Send + 'static>(&self, deadline: Instant) -> Result<R, CallError> {
        if self.full {
            return Err(CallError::Full);
        }
        // Placed before the request went: its `Down` says what it found.
        let got = self.inbox.recv_deadline(deadline).ok();
        let envelope = watched(got, self.monitor, |said| said)?;
        typed_reply(envelope, self.inbox.actor().id())
    }
}

/// One call from `reply_to`, a reply address that holds no monitor and no
/// mail, and whose only other holder is `sender` (see
/// [`ReplyAddress::lend`]).
///
/// Most answers come within microseconds: the caller first waits by
/// spinning, watching its target by looking at its status between spins,
/// which costs nothing where a monitor costs two locks and two map entries
/// on the way in and again on the way out. Only a caller about to sleep
/// places a monitor; an end it missed fires that monitor at once. Either
/// way a call to an actor that dies fails at once.
///
/// The `timeout` counts from the moment the request is sent: the clock is
/// read then, while the answer is on its way, rather than on the request's
/// way to the target.
fn call_from<R, M>(
    reply_to: &ReplyAddress,
    sender: ActorRef,
    target: &ActorRef,
    request: M,
    timeout: Duration,
) -> Result<R, CallError>
where
    R: Send + 'static,
    M: Send + 'static,
{
    let was_alive = target.is_alive();
    // The sender is this call's own address, which sends nothing else.
    if let Err(request) = target
        .core
        .offer_request(Envelope::new(request, Some(sender)))
    {
        crate::panic::discard(request, target.id());
        return Err(CallError::Full);
    }
    if !was_alive {
        return Err(CallError::Stopped(ExitReason::NoProc));
    }
    let deadline = Instant::now() + timeout;
    let envelope = match reply_to.recv_spinning(|| target.is_alive()) {
        Some(envelope) => envelope,
        None => {
            let monitor = reply_to.monitor(target);
            let got = reply_to.recv_deadline(deadline);
            reply_to.demonitor(monitor);
            watched(got, monitor, |said| end_reason(target, said))?
        }
    };
    typed_reply(envelope, reply_to.actor().id())
}

/// What came while `monitor` watched the target: the answer, unless the
/// monitor's `Down` came first (the call fails, with the reason `reason`
/// makes of what it says) or nothing came in time.
fn watched(
    got: Option<Envelope>,
    monitor: MonitorRef,
    reason: impl FnOnce(ExitReason) -> ExitReason,
) -> Result<Envelope, CallError> {
    let envelope = got.ok_or(CallError::Timeout)?;
    match envelope.downcast::<Down>() {
        Ok(down) if down.monitor == monitor => Err(CallError::Stopped(reason(down.reason))),
        Ok(other) => Ok(Envelope::new(other, None)),
        Err(envelope) => Ok(envelope),
    }
}

/// Why `target` ended, given what the `Down` of a monitor placed after the
/// request went said: `NoProc` from one placed as it ended (a call that
/// spun saw the end first) is replaced by the reason it ended with. Returns once its name is free
/// and its system has forgotten it, as a `Down` would come: the thread
/// that closes it does that next, without waiting on anyone.
fn end_reason(target: &ActorRef, said: ExitReason) -> ExitReason {
    if said != ExitReason::NoProc {
        return said;
    }
    let backoff = crossbeam_utils::Backoff::new();
    while target.core.system.knows(target.id()) {
        backoff.snooze();
    }
    target.exit_reason().unwrap_or(said)
}

/// The reply as an `R`, or the error that names what came instead. The
/// common answer is told by its type's table, without a call (see
/// `Payload::downcast_sent`), and no type's name is looked up for it.
fn typed_reply<R: Send + 'static>(envelope: Envelope, to: ActorId) -> Result<R, CallError> {
    let Envelope { payload, sender } = envelope;
    payload.downcast_sent::<R>().map_err(|payload| {
        let got = payload.type_name();
        crate::panic::discard(Envelope { payload, sender }, to);
        CallError::WrongReplyType {
            expected: std::any::type_name::<R>(),
            got,
        }
    })
}

impl Bridge {
    pub(crate) fn new(system: &System) -> Self {
        Bridge {
            // A bridge does not keep its system alive.
            system: System::non_owning(system.inner().clone()),
            inbox: system.inbox(),
            spare: AtomicCell::new(None),
        }
    }

    /// Sends `request` to `target` and waits up to `timeout` for a reply of
    /// type `R`, counted from the moment the request is sent.
    ///
    /// If `target`'s bounded mailbox is full, the request is not sent and
    /// the call fails at once with [`CallError::Full`]: the caller decides
    /// whether to retry, wait or shed the load.
    pub fn call<R, M>(
        &self,
        target: &ActorRef,
        request: M,
        timeout: Duration,
    ) -> Result<R, CallError>
    where
        R: Send + 'static,
        M: Send + 'static,
    {
        let spare = self.spare.take();
        let (reply_to, sender) = match spare.and_then(|spare| {
            let sender = spare.lend()?;
            Some((spare, sender))
        }) {
            Some(lent) => lent,
            None => {
                let reply_to = Box::new(ReplyAddress::new(self.system.inner()));
                let sender = reply_to.actor().clone();
                (reply_to, sender)
            }
        };
        let reply = call_from(&reply_to, sender, target, request, timeout);
        // The address a concurrent call left here, if any, is closed.
        let replaced = self.spare.swap(Some(reply_to));
        drop(replaced);
        reply
    }

    /// Sends every request at once, then collects the replies, in the order
    /// of the requests, all within one `timeout`. A target whose bounded
    /// mailbox is full answers [`CallError::Full`] at once.
    pub fn multi_call<R, M>(
        &self,
        requests: impl IntoIterator<Item = (ActorRef, M)>,
        timeout: Duration,
    ) -> Vec<Result<R, CallError>>
    where
        R: Send + 'static,
        M: Send + 'static,
    {
        let deadline = Instant::now() + timeout;
        let pending: Vec<Pending> = requests
            .into_iter()
            .map(|(target, request)| Pending::send(&self.system, &target, request))
            .collect();
        pending.iter().map(|p| p.reply(deadline)).collect()
    }

    /// Sends [`Stop`] to every actor at once and waits, within one
    /// `timeout`, for each to terminate (a `Stop` to a full bounded
    /// mailbox waits for room within the timeout). The answer is in the order of
    /// `actors`: `Some(Stopped)` with the reason it terminated with (an
    /// actor that was already dead gives `NoProc`), or `None` if it was
    /// still alive at the deadline. An actor listed twice is stopped once
    /// and answered at both places.
    ///
    /// It returns once each actor's `stopped` hook has run and its name is
    /// free. Each actor's end is known from the `Stopped` it answers the
    /// `Stop` with, so a stop of 100,000 actors costs no monitor and no
    /// `Down` per actor; an actor that ends without answering (killed
    /// before it took its `Stop`, or it handles `Stop` itself) is found by
    /// looking at it once no answer has come for a millisecond or more.
    pub fn stop(&self, actors: &[ActorRef], timeout: Duration) -> Vec<Option<Stopped>> {
        let deadline = Instant::now() + timeout;
        let system = self.system.inner();
        // One reply address for the whole stop. Ids are unique within a
        // system: an answer names its actor. An actor of another system is
        // sent its `Stop` without a reply address (its answer could carry
        // an id of ours) and found by looking.
        let inbox = self.system.inbox();
        let mut answers: Vec<Option<Stopped>> = actors.iter().map(|_| None).collect();
        // Each actor asked, by id, at its first place in `actors`: one word
        // per actor and no allocation of its own (this runs for 100,000
        // actors at a time). A second place of an actor is rare: it is
        // answered from the first once all is done.
        let mut asked: HashMap<ActorId, usize, BuildHasherDefault<IdHasher>> =
            HashMap::with_capacity_and_hasher(actors.len(), BuildHasherDefault::default());
        let mut again: Vec<(usize, usize)> = Vec::new();
        let mut silent: Vec<usize> = Vec::new();
        for (index, actor) in actors.iter().enumerate() {
            if !Arc::ptr_eq(&actor.core.system, system) {
                match silent.iter().find(|&&i| actors[i] == *actor) {
                    Some(&first) => again.push((first, index)),
                    None => {
                        actor.send(Stop);
                        silent.push(index);
                    }
                }
                continue;
            }
            match asked.entry(actor.id()) {
                Entry::Occupied(first) => again.push((*first.get(), index)),
                Entry::Vacant(_) if !actor.is_alive() => {
                    answers[index] = Some(Stopped {
                        actor: actor.id(),
                        reason: ExitReason::NoProc,
                    });
                }
                Entry::Vacant(slot) => {
                    slot.insert(index);
                    // A full bounded mailbox takes the `Stop` once it has
                    // room, if it does before the deadline; else the `Stop`
                    // is a dead letter and the answer `None`.
                    let stop = Envelope::new(Stop, Some(inbox.actor().clone()));
                    if let Err(stop) = actor.core.offer(stop, Some(deadline)) {
                        actor.core.refuse(stop, "mailbox full");
                    }
                }
            }
        }
        let mut look_after = FIRST_LOOK;
        while !(asked.is_empty() && silent.is_empty()) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match inbox.recv_deadline((now + look_after).min(deadline)) {
                Ok(envelope) => match envelope.downcast::<Stopped>() {
                    Ok(stopped) => {
                        if let Some(index) = asked.remove(&stopped.actor) {
                            answers[index] = Some(stopped);
                        }
                    }
                    // Whatever else a target sent.
                    Err(other) => crate::panic::discard(other, inbox.actor().id()),
                },
                Err(_) => {
                    // Nothing came for a while: look for actors that ended
                    // without answering, less often the longer it lasts.
                    asked.retain(|_, &mut index| {
                        !ended_silently(system, actors, index, &mut answers)
                    });
                    silent.retain(|&index| !ended_silently(system, actors, index, &mut answers));
                    look_after = (look_after * 2).min(LAST_LOOK);
                }
            }
        }
        for (first, index) in again {
            answers[index] = answers[first].clone();
        }
        answers
    }

    /// This bridge's own address (the sender of [`send`](Self::send)).
    pub fn actor(&self) -> &ActorRef {
        self.inbox.actor()
    }

    /// Sends `msg` to `to` with this bridge as the sender; replies arrive
    /// through [`recv`](Self::recv).
    pub fn send<M: Send + 'static>(&self, to: &ActorRef, msg: M) {
        self.inbox.send(to, msg);
    }

    /// Monitors `target`; its end arrives through [`recv`](Self::recv) as a [`Down`].
    pub fn monitor(&self, target: &ActorRef) -> MonitorRef {
        self.inbox.monitor(target)
    }

    /// Removes a monitor; no `Down` for it arrives after this returns.
    pub fn demonitor(&self, monitor: MonitorRef) -> bool {
        self.inbox.demonitor(monitor)
    }

    /// Links the bridge with `actor`; the actor's end arrives through
    /// [`recv`](Self::recv) as [`Stopped`].
    pub fn link(&self, actor: &ActorRef) {
        self.inbox.link(actor);
    }

    /// Removes a link both ways.
    pub fn unlink(&self, actor: &ActorRef) {
        self.inbox.unlink(actor);
    }

    /// The next message sent to this bridge (replies to `send`, `Down`, `Stopped`).
    ///
    /// A bridge may be shared by several threads (`Bridge` is `Sync`):
    /// each message reaches one of the threads waiting here, and none of
    /// them sleeps while a message waits.
    pub fn recv(&self, timeout: Duration) -> Result<Envelope, RecvError> {
        self.inbox.recv(timeout)
    }

    /// The system this bridge talks to.
    pub fn system(&self) -> &System {
        &self.system
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spare reply address moves between calls with one atomic swap
    /// each way, not under the lock `AtomicCell` falls back to for types
    /// no atomic holds.
    #[test]
    fn the_spare_moves_without_a_lock() {
        assert!(AtomicCell::<Option<Box<ReplyAddress>>>::is_lock_free());
    }
}
