//! The node's reply endpoint for the `gen_server` calls it makes
//! ([`Node::call`](crate::Node::call)).
//!
//! Every call uses one pid, the endpoint's, as its `From`, with a fresh
//! reference as the tag, and that same reference names the monitor the
//! call places on its target. The connection's reader hands a reply
//! (`{Tag, Reply}` to the endpoint) or the monitor's end straight to the
//! waiting thread through this table: no inbox, no actor and no local
//! monitor per call, as Erlang's `gen:call` reuses the calling process.
//!
//! The monitor and the request go out in one write, by the calling
//! thread: after whatever it sent to the same address before the call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use erl_dist::message::Message;
use erl_dist::term::{Reference, Term};
use ferrotp::{ActorRef, ExitReason};
use parking_lot::{Condvar, Mutex};

use crate::codec::{atom, tuple, FromTerm, IntoTerm};
use crate::error::RemoteCallError;
use crate::node::Node;

/// How a call ended, as the reader saw it.
pub(crate) enum Outcome {
    Reply(Term),
    Down(ExitReason),
}

/// Where a call's outcome is left for its thread, which sleeps on it
/// (no spinning: on a busy machine a spinning caller takes the core the
/// reply needs), or, on Linux, polls the connection for it (see `reader`).
#[derive(Default)]
pub(crate) struct Slot {
    state: Mutex<SlotState>,
    ready: Condvar,
}

#[derive(Default)]
struct SlotState {
    outcome: Option<Outcome>,
    /// The eventfd of the call's thread while it polls the connection
    /// for its reply (see `conn`): whoever ends the call signals it,
    /// under this lock, so the thread (which unsets it under this lock
    /// before it returns) still has it open.
    #[cfg(target_os = "linux")]
    waker: Option<std::os::fd::RawFd>,
}

impl Slot {
    fn put(&self, outcome: Outcome) {
        let mut state = self.state.lock();
        state.outcome = Some(outcome);
        #[cfg(target_os = "linux")]
        if let Some(waker) = state.waker.take() {
            crate::conn::signal(waker);
        }
        drop(state);
        self.ready.notify_one();
    }

    /// The outcome, waiting for it until `deadline`.
    fn wait(&self, deadline: Instant) -> Option<Outcome> {
        let mut state = self.state.lock();
        while state.outcome.is_none() {
            if self.ready.wait_until(&mut state, deadline).timed_out() {
                break;
            }
        }
        state.outcome.take()
    }

    /// Whether the outcome is in.
    #[cfg(target_os = "linux")]
    pub fn is_done(&self) -> bool {
        self.state.lock().outcome.is_some()
    }

    /// Before the call's thread polls for its reply: `waker` is to be
    /// signalled when the outcome comes; `false` if it is in already.
    #[cfg(target_os = "linux")]
    pub fn arm(&self, waker: std::os::fd::RawFd) -> bool {
        let mut state = self.state.lock();
        if state.outcome.is_some() {
            return false;
        }
        state.waker = Some(waker);
        true
    }

    /// The call's thread no longer polls.
    #[cfg(target_os = "linux")]
    pub fn disarm(&self) {
        self.state.lock().waker = None;
    }
}

struct Waiting {
    node: String,
    slot: Arc<Slot>,
}

/// The calls waiting for their reply, by tag.
#[derive(Default)]
pub(crate) struct Calls {
    waiting: Mutex<HashMap<Reference, Waiting>>,
}

impl Calls {
    /// Registers a call to a process on `node`; its outcome goes to `slot`.
    pub fn insert(&self, tag: Reference, node: &str, slot: Arc<Slot>) {
        self.waiting.lock().insert(
            tag,
            Waiting {
                node: node.to_string(),
                slot,
            },
        );
    }

    /// Forgets a call; `true` if it was still waiting (no outcome came).
    pub fn remove(&self, tag: &Reference) -> bool {
        self.waiting.lock().remove(tag).is_some()
    }

    /// Ends the call tagged `tag` with `outcome`; `false` if no call has
    /// that tag (a late reply, or someone else's reference).
    pub fn complete(&self, tag: &Reference, outcome: Outcome) -> bool {
        // Put under the table's lock: a caller that gives up and finds
        // its call gone from the table finds its outcome in the slot.
        let mut waiting = self.waiting.lock();
        match waiting.remove(tag) {
            Some(call) => {
                call.slot.put(outcome);
                true
            }
            None => false,
        }
    }

    /// A reply term `{Tag, Reply}` sent to the endpoint: completes its call.
    pub fn reply(&self, message: Term) -> bool {
        let Term::Tuple(tuple) = message else {
            return false;
        };
        let Ok([Term::Reference(tag), reply]) = <[Term; 2]>::try_from(tuple.elements) else {
            return false;
        };
        self.complete(&tag, Outcome::Reply(reply))
    }

    /// The connection to `node` is lost: every call to it ends with `reason`.
    pub fn node_down(&self, node: &str, reason: &ExitReason) {
        self.down_where(|n| n == node, reason);
    }

    /// The node stopped: every call ends with `reason`.
    pub fn all_down(&self, reason: &ExitReason) {
        self.down_where(|_| true, reason);
    }

    fn down_where(&self, to: impl Fn(&str) -> bool, reason: &ExitReason) {
        // Put under the lock, as in `complete`.
        self.waiting.lock().retain(|_, call| {
            if !to(&call.node) {
                return true;
            }
            call.slot.put(Outcome::Down(reason.clone()));
            false
        });
    }
}

impl Node {
    /// Calls a remote `gen_server` (Erlang's `gen_server:call(Target,
    /// Request, Timeout)`): sends `{'$gen_call', {From, Ref}, Request}`
    /// and waits for its reply, decoded as `R`. Fails at once when the
    /// target does not exist or dies, or the connection is lost. Blocks the
    /// calling thread: from inside a handler, prefer a dedicated actor.
    ///
    /// `From` is the node's one reply pid and `Ref` a fresh reference that
    /// also names the call's monitor on the target, as in Erlang; many
    /// threads may call at once. The request keeps its place after what
    /// was sent to `target` before. A reply that comes after the timeout
    /// is dropped.
    pub fn call<R: FromTerm>(
        &self,
        target: &ActorRef,
        request: impl IntoTerm,
        timeout: Duration,
    ) -> Result<R, RemoteCallError> {
        let inner = &self.inner;
        let proxy = target;
        let target = match inner.target_of(target) {
            Some(target) => target,
            // A proxy that ended (its process, or the name's holder, did).
            None if !proxy.is_alive() => {
                return Err(RemoteCallError::Down(
                    proxy.exit_reason().unwrap_or(ExitReason::NoProc),
                ))
            }
            None => return Err(RemoteCallError::NotRemote),
        };
        let node = target.node().to_string();
        let tag = inner.make_ref();
        let endpoint = inner.endpoint_pid();
        let slot = Arc::new(Slot::default());
        // Listed before anything is sent: a connection lost from now on
        // fails the call with `noconnection`.
        inner.calls.insert(tag.clone(), &node, slot.clone());
        // A stopped node sends nothing: the call would only time out.
        // (Listed first: a stop from now on ends it; see `NodeInner::stop`.)
        if inner.stopped.load(std::sync::atomic::Ordering::Acquire) {
            inner.calls.remove(&tag);
            return Err(RemoteCallError::Down(crate::reason::noconnection()));
        }
        let request = request.into_term(&inner.codec());
        let from = tuple([Term::from(endpoint.clone()), Term::from(tag.clone())]);
        let message = tuple([atom("$gen_call"), from, request]);
        // The monitor goes first: a target that does not exist, or ends
        // before it answers, fails the call at once (`noproc`, its reason).
        let monitor = Message::monitor_p(endpoint.clone(), target.pid_or_atom(), tag.clone());
        // Written by this thread, as its sends to the same address are:
        // the call keeps its place after them; both in one write.
        inner.send_ctls(&node, [monitor, inner.send_message(&target, None, message)]);
        // A reader thread lent to a local actor's turn must not wait for
        // a reply it would read itself: reading goes on elsewhere.
        crate::reader::before_wait(&node);
        let deadline = Instant::now() + timeout;
        // This thread reads its reply itself if no other caller reads the
        // connection: one wake-up per round trip instead of two.
        #[cfg(target_os = "linux")]
        crate::reader::read_for_call(inner, &node, &slot, deadline);
        let outcome = match slot.wait(deadline) {
            Some(outcome) => Some(outcome),
            // An outcome may have come in just now: it is this call's.
            None if !inner.calls.remove(&tag) => slot.state.lock().outcome.take(),
            None => None,
        };
        // Nobody waits for it: it goes with the connection's next write
        // (the next call's, often), or within a millisecond.
        let demonitor = || {
            let demonitor =
                Message::demonitor_p(endpoint.clone(), target.pid_or_atom(), tag.clone());
            inner.send_ctl_later(&node, demonitor);
        };
        match outcome {
            Some(Outcome::Reply(reply)) => {
                demonitor();
                R::from_term(&reply, &inner.codec()).map_err(RemoteCallError::from)
            }
            Some(Outcome::Down(reason)) => Err(RemoteCallError::Down(reason)),
            None => {
                demonitor();
                Err(RemoteCallError::Timeout)
            }
        }
    }
}
