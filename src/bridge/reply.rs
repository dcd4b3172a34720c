//! [`ReplyAddress`]: where the answer to a [`Bridge::call`](super::Bridge::call)
//! waits for its caller.
//!
//! A call's answer is one message that one thread waits for. An
//! [`Inbox`](crate::Inbox) is made for more (batches, several readers, the
//! runtime's notices in order), and its reader and its writers share the
//! mailbox's lock and queue. A reply address is an
//! [`FnAddress`]: the thread that answers puts the message in a slot here,
//! on its own thread, and the caller spins on a flag beside it; only a
//! caller that has waited long sleeps (on a condition variable).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::address::{ActorId, ActorRef};
use crate::exit::{Down, Stopped};
use crate::fn_address::FnAddress;
use crate::links::MonitorRef;
use crate::mailbox::Envelope;
use crate::spin::SpinWait;
use crate::system::{System, SystemInner};

/// Looks a caller takes at its reply before it sleeps: some 13 µs at 25 ns
/// a `PAUSE`. A sleep costs a monitor of the target and a wake-up; on a
/// busy machine a reply takes several microseconds (3 µs, `Backoff`'s
/// spin, slept through most answers there; 13 µs caught them).
const CALLER_POLLS: u32 = 512;

/// A reply address: what is sent to it waits in its slot.
pub(super) struct ReplyAddress {
    address: FnAddress,
    slot: Arc<Slot>,
}

/// Where the messages sent to a reply address wait.
///
/// What a call's answer touches (the flag, the lock, the first message)
/// fills one cache line of its own, away from the `Arc`'s counts: the
/// answering thread writes it and the caller reads it, one line moved
/// each way, where the fields in their natural order spread over three.
#[derive(Default)]
#[repr(C, align(64))]
struct Slot {
    /// Mail waits in `held`: read without the lock by a spinning caller.
    ready: AtomicBool,
    held: Mutex<Held>,
    /// Where a caller that waited long sleeps.
    arrived: Condvar,
    /// The address's id (for the dead letters it counts).
    id: OnceLock<ActorId>,
}

#[derive(Default)]
#[repr(C)]
struct Held {
    /// The first message waiting: kept beside the lock, so that the common
    /// answer touches no other memory.
    first: Option<Envelope>,
    /// What came after it (a `Down`, a second answer): rare, so boxed, to
    /// keep the line small (a `VecDeque` inline is 32 bytes, a box 8).
    #[allow(clippy::box_collection)]
    more: Option<Box<VecDeque<Envelope>>>,
    /// Callers asleep on `arrived`.
    sleepers: u32,
    /// The address has ended: what comes now is a dead letter.
    closed: bool,
}

impl Held {
    fn take(&mut self) -> Option<Envelope> {
        let first = self.first.take();
        self.first = self.more.as_mut().and_then(|more| more.pop_front());
        first
    }

    fn put(&mut self, envelope: Envelope) {
        match self.first {
            None => self.first = Some(envelope),
            Some(_) => self
                .more
                .get_or_insert_with(Box::default)
                .push_back(envelope),
        }
    }
}

impl Slot {
    /// Puts `envelope` in the slot; gives it back if the address ended.
    fn put(&self, envelope: Envelope) -> Result<(), Envelope> {
        let mut held = self.held.lock();
        if held.closed {
            return Err(envelope);
        }
        held.put(envelope);
        let sleeping = held.sleepers > 0;
        drop(held);
        // Set once the lock is free: a caller spinning on the flag then
        // takes the lock at its first try, and the line moves to it once
        // (set under the lock, a caller that saw it took the line, then
        // the unlock took it back, then the caller's lock again). The
        // flag stays true while mail waits: a reader that clears it holds
        // the lock, so it either comes after this unlock and sees the
        // message, or cleared it before this `put` took the lock. At
        // worst it is true with nothing left, and a look finds nothing.
        self.ready.store(true, Ordering::Release);
        if sleeping {
            self.arrived.notify_one();
        }
        Ok(())
    }

    /// Everything waiting (taken out under the lock, dropped by the
    /// caller outside it); `close` refuses what comes from now on.
    fn drain(&self, close: bool) -> Vec<Envelope> {
        let mut held = self.held.lock();
        held.closed |= close;
        let first = held.first.take();
        let more = held.more.take().map(|more| *more).unwrap_or_default();
        self.ready.store(false, Ordering::Relaxed);
        first.into_iter().chain(more).collect()
    }

    /// The first message waiting, if any.
    fn take(&self) -> Option<Envelope> {
        let mut held = self.held.lock();
        let envelope = held.take();
        if held.first.is_none() {
            self.ready.store(false, Ordering::Relaxed);
        }
        envelope
    }
}

impl ReplyAddress {
    pub(super) fn new(system: &Arc<SystemInner>) -> Self {
        let slot = Arc::new(Slot::default());
        let into = slot.clone();
        let dead_letters = system.clone();
        let system = System::non_owning(system.clone());
        // A call reads the answer, never who sent it: senders attach no
        // address (see `FnAddress::ignoring_senders`).
        let address = FnAddress::ignoring_senders(&system, move |envelope| {
            if let Err(late) = into.put(envelope) {
                let id = into.id.get().copied().unwrap_or(ActorId::EXTERNAL);
                dead_letters.dead_letter(id, late.type_name(), "actor is dead");
                crate::panic::discard(late, id);
            }
        });
        let _ = slot.id.set(address.actor().id());
        ReplyAddress { address, slot }
    }

    /// The address to send the request from.
    pub(super) fn actor(&self) -> &ActorRef {
        self.address.actor()
    }

    /// The first message, waited for without sleeping: spins briefly (see
    /// [`SpinWait`]), and gives up (`None`) once the spin is over or as
    /// soon as `go_on` says so.
    pub(super) fn recv_spinning(&self, go_on: impl Fn() -> bool) -> Option<Envelope> {
        let wait = SpinWait::new(CALLER_POLLS);
        loop {
            if self.slot.ready.load(Ordering::Acquire) {
                if let Some(envelope) = self.slot.take() {
                    return Some(envelope);
                }
            }
            if !go_on() || !wait.pause() {
                return None;
            }
        }
    }

    /// The first message, waited for until `deadline` (on a pool worker,
    /// as a blocking section the pool makes up for).
    pub(super) fn recv_deadline(&self, deadline: Instant) -> Option<Envelope> {
        crate::executor::pool::blocking(|| {
            let mut held = self.slot.held.lock();
            loop {
                if let Some(envelope) = held.take() {
                    if held.first.is_none() {
                        self.slot.ready.store(false, Ordering::Relaxed);
                    }
                    return Some(envelope);
                }
                if Instant::now() >= deadline {
                    return None;
                }
                held.sleepers += 1;
                self.slot.arrived.wait_until(&mut held, deadline);
                held.sleepers -= 1;
            }
        })
    }

    /// Monitors `target`: its end arrives here as a `Down`.
    pub(super) fn monitor(&self, target: &ActorRef) -> MonitorRef {
        self.address.monitor(target)
    }

    /// Removes a monitor: no `Down` of it arrives after this returns.
    pub(super) fn demonitor(&self, monitor: MonitorRef) {
        self.address.demonitor(monitor);
    }

    /// The address to send a request from, unless someone else can
    /// still send here: every way to send goes through an
    /// [`ActorRef`](crate::ActorRef), a strong reference to the core (no
    /// `Weak` to a core exists), so the address is ours alone while only
    /// this handle and the returned one hold it. An actor that kept an
    /// earlier request's sender, a timer, a message still on its way, a
    /// monitor not yet removed: each holds one, and a new call from here
    /// could take their message for its answer. What waits in the slot
    /// when the address is ours alone (an answer that came after its call
    /// timed out, a second answer) can no longer reach a call: it is
    /// dropped, counted as dead letters.
    ///
    /// Waited for a moment: the answering actor drops the request's sender
    /// only as its handler returns, often after the answer was read. The
    /// address is cloned before its count is read, so that the count's
    /// cache line, which the answering thread wrote last, moves here once.
    pub(super) fn lend(&self) -> Option<ActorRef> {
        let lent = self.actor().clone();
        let wait = SpinWait::new(CALLER_POLLS);
        while Arc::strong_count(&lent.core) > 2 {
            if !wait.pause() {
                return None;
            }
        }
        if self.slot.ready.load(Ordering::Acquire) {
            let left = self.slot.drain(false);
            self.drop_letters(left);
        }
        Some(lent)
    }

    /// Counts what the caller will never read as dead letters (the
    /// runtime's own notices, `Down` and `Stopped`, are not letters), and
    /// drops it.
    fn drop_letters(&self, envelopes: impl IntoIterator<Item = Envelope>) {
        let id = self.actor().id();
        let mut letters = 0;
        for envelope in envelopes {
            if !envelope.is::<Down>() && !envelope.is::<Stopped>() {
                letters += 1;
            }
            crate::panic::discard(envelope, id);
        }
        if letters > 0 {
            self.actor().core.system.dead_letters_dropped(id, letters);
        }
    }
}

impl Drop for ReplyAddress {
    fn drop(&mut self) {
        // Ends the address first (`FnAddress`'s drop comes after this, too
        // late): what is sent from now on is refused, and what a sender
        // was putting in meanwhile finds the slot closed.
        self.actor().core.close(&crate::ExitReason::Normal);
        let left = self.slot.drain(true);
        self.drop_letters(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_answer_touches_fits_one_cache_line() {
        assert_eq!(std::mem::align_of::<Slot>(), 64);
        assert!(
            std::mem::offset_of!(Slot, arrived) <= 64,
            "the flag, the lock and the first message spill past one line"
        );
    }

    #[test]
    fn messages_wait_in_the_order_they_came() {
        let system = crate::System::new();
        let slot = Slot::default();
        for n in 0..3u32 {
            slot.put(Envelope::new(n, None)).expect("an open slot");
        }
        for n in 0..3u32 {
            let got = slot.take().expect("a message").downcast::<u32>();
            assert_eq!(got.ok(), Some(n));
        }
        assert!(slot.take().is_none());
        assert!(!slot.ready.load(Ordering::SeqCst));
        slot.put(Envelope::new(7u32, None)).expect("an open slot");
        slot.put(Envelope::new(8u32, None)).expect("an open slot");
        assert_eq!(slot.drain(true).len(), 2);
        assert!(slot.put(Envelope::new(9u32, None)).is_err(), "closed");
        drop(system);
    }
}
