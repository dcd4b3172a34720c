//! Async calls (feature `tokio`): [`Bridge::call_async`], awaiting an
//! actor's end ([`Bridge::monitor_async`], [`Bridge::stop_async`]).
//!
//! A future waits on a reply address of its own, like a blocking
//! [`Bridge::call`]: an [`Inbox`] whose core wakes a [`Waker`] instead of a
//! thread when mail arrives. No thread blocks; the guarantees are those of
//! `Bridge::call`, because the mechanism is the same (one address per call,
//! a monitor on the target while it waits).

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use parking_lot::Mutex;

use crate::address::{ActorRef, Driver};
use crate::bridge::Bridge;
use crate::error::CallError;
use crate::exit::{Down, Stop, Stopped};
use crate::inbox::Inbox;
use crate::links::MonitorRef;
use crate::mailbox::Envelope;
use crate::system::SystemInner;

/// Where the task waiting on an async reply address sleeps: the core's
/// driver wakes it when mail arrives (see `Core::schedule`).
#[derive(Default)]
pub(crate) struct WakeSlot(Mutex<Option<Waker>>);

impl WakeSlot {
    fn register(&self, waker: &Waker) {
        let mut slot = self.0.lock();
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Wakes the waiting task, if one waits (outside the lock: waking may
    /// run the task's executor code).
    pub(crate) fn wake(&self) {
        let waker = self.0.lock().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A reply address read by a future.
struct AsyncInbox(Inbox);

impl AsyncInbox {
    fn new(system: &Arc<SystemInner>) -> Self {
        AsyncInbox(Inbox::with_driver(
            system,
            Driver::Waker(WakeSlot::default()),
        ))
    }

    /// The next message, or `Pending` with the task's waker registered.
    fn poll_recv(&self, cx: &mut TaskContext<'_>) -> Poll<Envelope> {
        if let Some(envelope) = self.0.try_recv() {
            return Poll::Ready(envelope);
        }
        if let Driver::Waker(slot) = &self.0.actor().core.driver {
            slot.register(cx.waker());
        }
        // Mail that arrived before the waker was in place woke no one.
        match self.0.try_recv() {
            Some(envelope) => Poll::Ready(envelope),
            None => Poll::Pending,
        }
    }
}

/// One async request: its reply address, watching the target.
struct AsyncPending {
    inbox: AsyncInbox,
    monitor: MonitorRef,
    /// The target's bounded mailbox refused the request.
    full: bool,
}

impl AsyncPending {
    fn send<M: Send + 'static>(system: &Arc<SystemInner>, target: &ActorRef, msg: M) -> Self {
        let inbox = AsyncInbox::new(system);
        let monitor = inbox.0.monitor(target);
        let full = target.try_send_from(msg, inbox.0.actor()).is_err();
        AsyncPending {
            inbox,
            monitor,
            full,
        }
    }
}

impl Drop for AsyncPending {
    /// A call that ends (answered, timed out, dropped) removes its monitor;
    /// the address closes with it, so a late reply is a dead letter.
    fn drop(&mut self) {
        self.inbox.0.demonitor(self.monitor);
    }
}

/// The reply of one [`AsyncPending`], as a future.
struct Reply<R> {
    pending: AsyncPending,
    _reply: PhantomData<fn() -> R>,
}

impl<R: Send + 'static> Future for Reply<R> {
    type Output = Result<R, CallError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let pending = &self.pending;
        if pending.full {
            return Poll::Ready(Err(CallError::Full));
        }
        let envelope = match pending.inbox.poll_recv(cx) {
            Poll::Ready(envelope) => envelope,
            Poll::Pending => return Poll::Pending,
        };
        // The address is this call's alone: the first message is the
        // reply, unless it is the monitor's `Down`.
        let envelope = match envelope.downcast::<Down>() {
            Ok(down) if down.monitor == pending.monitor => {
                return Poll::Ready(Err(CallError::Stopped(down.reason)))
            }
            Ok(other) => Envelope::new(other, None),
            Err(envelope) => envelope,
        };
        let got = envelope.type_name();
        Poll::Ready(envelope.downcast::<R>().map_err(|wrong| {
            crate::panic::discard(wrong, pending.inbox.0.actor().id());
            CallError::WrongReplyType {
                expected: std::any::type_name::<R>(),
                got,
            }
        }))
    }
}

/// The end of a monitored actor, as a future ([`Bridge::monitor_async`]).
struct DownFuture {
    pending: AsyncPending,
}

impl Future for DownFuture {
    type Output = Down;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Down> {
        let pending = &self.pending;
        loop {
            let envelope = match pending.inbox.poll_recv(cx) {
                Poll::Ready(envelope) => envelope,
                Poll::Pending => return Poll::Pending,
            };
            match envelope.downcast::<Down>() {
                Ok(down) if down.monitor == pending.monitor => return Poll::Ready(down),
                Ok(other) => crate::panic::discard(other, pending.inbox.0.actor().id()),
                // Nothing else is sent to this address: a stray message
                // (the address leaked through a sender) is dropped.
                Err(other) => crate::panic::discard(other, pending.inbox.0.actor().id()),
            }
        }
    }
}

impl Bridge {
    /// Sends `request` to `target` now and returns a future of its reply,
    /// of type `R`, within `timeout`: [`call`](Self::call) for async code.
    ///
    /// No thread blocks while it waits, and the guarantees are those of
    /// `call`: the call has a reply address of its own, so a reply that
    /// comes after the future timed out or was dropped never answers a
    /// later call (it becomes a dead letter); a target that terminates
    /// before it replies, or was not alive, fails the call at once with
    /// [`CallError::Stopped`]; a full bounded mailbox fails it at once with
    /// [`CallError::Full`]. The request is sent when `call_async`
    /// returns, not when the future is first polled: calls made one after
    /// the other reach an actor in that order, whatever order they are
    /// awaited in (pipelining).
    ///
    /// The future is `Send + 'static` (spawn it, or await it from many
    /// tasks at once) and must be polled inside a tokio runtime with time
    /// enabled (`#[tokio::main]` has it): the timeout is a tokio timer.
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
    /// let runtime = tokio::runtime::Builder::new_multi_thread().enable_time().build().unwrap();
    /// let four: i64 = runtime.block_on(async {
    ///     bridge.call_async(&doubler, 2i64, Duration::from_secs(5)).await
    /// }).unwrap();
    /// assert_eq!(four, 4);
    /// ```
    pub fn call_async<R, M>(
        &self,
        target: &ActorRef,
        request: M,
        timeout: Duration,
    ) -> impl Future<Output = Result<R, CallError>> + Send + 'static
    where
        R: Send + 'static,
        M: Send + 'static,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        let reply = Reply::<R> {
            pending: AsyncPending::send(self.system().inner(), target, request),
            _reply: PhantomData,
        };
        async move {
            tokio::time::timeout_at(deadline, reply)
                .await
                .unwrap_or(Err(CallError::Timeout))
        }
    }

    /// Monitors `target` now and returns a future of its [`Down`]: the end
    /// of an actor, awaited without blocking a thread.
    ///
    /// An actor that is not alive gives `Down` with
    /// [`ExitReason::NoProc`](crate::ExitReason::NoProc) at once (its
    /// [`exit_reason`](ActorRef::exit_reason) says why it ended). Dropping
    /// the future removes the monitor. It needs no runtime: any executor
    /// may poll it.
    ///
    /// ```
    /// use ferrotp::{Actor, ExitReason, Handlers, Stop, System};
    ///
    /// struct Idle;
    /// impl Actor for Idle {
    ///     fn handlers() -> Handlers<Self> { Handlers::new() }
    /// }
    ///
    /// let system = System::new();
    /// let idle = system.spawn(Idle);
    /// let down = system.bridge().monitor_async(&idle);
    /// idle.send(Stop);
    /// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// assert_eq!(runtime.block_on(down).reason, ExitReason::Normal);
    /// ```
    pub fn monitor_async(&self, target: &ActorRef) -> impl Future<Output = Down> + Send + 'static {
        let inbox = AsyncInbox::new(self.system().inner());
        let monitor = inbox.0.monitor(target);
        DownFuture {
            pending: AsyncPending {
                inbox,
                monitor,
                full: false,
            },
        }
    }

    /// Sends [`Stop`] to every actor now and returns a future of their
    /// ends, within one `timeout`: [`stop`](Self::stop) for async code.
    ///
    /// The answer is in the order of `actors`: `Some(Stopped)` with the
    /// reason each terminated with (`NoProc` if it was already dead), or
    /// `None` if it was still alive at the deadline. Needs a tokio runtime
    /// with time enabled, like [`call_async`](Self::call_async). Unlike
    /// `stop`, it waits for no room: a `Stop` that finds a bounded mailbox
    /// full is a dead letter, and that answer `None` (an exit signal stops
    /// an actor whatever its backlog).
    ///
    /// ```
    /// use ferrotp::{Actor, ExitReason, Handlers, System};
    /// use std::time::Duration;
    ///
    /// struct Idle;
    /// impl Actor for Idle {
    ///     fn handlers() -> Handlers<Self> { Handlers::new() }
    /// }
    ///
    /// let system = System::new();
    /// let idle = system.spawn(Idle);
    /// let stopping = system.bridge().stop_async(&[idle], Duration::from_secs(5));
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    /// let stopped = runtime.block_on(stopping);
    /// assert_eq!(stopped[0].as_ref().unwrap().reason, ExitReason::Normal);
    /// ```
    pub fn stop_async(
        &self,
        actors: &[ActorRef],
        timeout: Duration,
    ) -> impl Future<Output = Vec<Option<Stopped>>> + Send + 'static {
        let deadline = tokio::time::Instant::now() + timeout;
        // One address watching every target, as `stop` does.
        let inbox = AsyncInbox::new(self.system().inner());
        let mut pending = HashMap::with_capacity(actors.len());
        for (index, actor) in actors.iter().enumerate() {
            pending.insert(inbox.0.monitor(actor), index);
            inbox.0.send(actor, Stop);
        }
        let mut stop = StopAll {
            inbox,
            pending,
            ids: actors.iter().map(ActorRef::id).collect(),
            answers: actors.iter().map(|_| None).collect(),
        };
        async move {
            let collect = std::future::poll_fn(|cx| stop.poll_collect(cx));
            // At the deadline, those that ended are known; the rest are `None`.
            let _ = tokio::time::timeout_at(deadline, collect).await;
            stop.answers
        }
    }
}

/// The state of one [`Bridge::stop_async`].
struct StopAll {
    inbox: AsyncInbox,
    /// The monitor of each target not yet ended, and the target's index.
    pending: HashMap<MonitorRef, usize>,
    ids: Vec<crate::address::ActorId>,
    answers: Vec<Option<Stopped>>,
}

impl StopAll {
    /// Ready once every target has ended.
    fn poll_collect(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        while !self.pending.is_empty() {
            let envelope = match self.inbox.poll_recv(cx) {
                Poll::Ready(envelope) => envelope,
                Poll::Pending => return Poll::Pending,
            };
            match envelope.downcast::<Down>() {
                Ok(down) => {
                    if let Some(index) = self.pending.remove(&down.monitor) {
                        self.answers[index] = Some(Stopped {
                            actor: self.ids[index],
                            reason: down.reason,
                        });
                    }
                }
                // The `Stopped` answers, and whatever else a target sent.
                Err(other) => crate::panic::discard(other, self.inbox.0.actor().id()),
            }
        }
        Poll::Ready(())
    }
}
