//! Tools for testing actor systems without sleeps (cargo feature `testkit`).
//!
//! - [`Probe`]: a test's own mailbox with an address: be the sender, link,
//!   monitor, and assert on what arrives, with clear failure messages.
//! - [`inject_panic`] / [`inject_panic_after`]: make a chosen actor panic at
//!   a coming message without changing its code.
//! - Waiting for lifecycle events ([`System::subscribe`]) is in the kernel.
//!
//! Enable it for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! ferrotp = { version = "0.1", features = ["testkit"] }
//! ```
//!
//! ```
//! use ferrotp::testkit::{inject_panic, Probe};
//! use ferrotp::{Actor, Context, ExitReason, Handlers, System};
//! use std::time::Duration;
//!
//! struct Echo;
//! impl Echo {
//!     fn echo(&mut self, n: u32, ctx: &mut Context<Self>) { ctx.reply(n); }
//! }
//! impl Actor for Echo {
//!     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::echo) }
//! }
//!
//! ferrotp::silence_actor_panics();
//! let system = System::new();
//! let probe = Probe::new(&system);
//! let echo = system.spawn(Echo);
//! probe.send(&echo, 7u32);
//! assert_eq!(probe.expect::<u32>(Duration::from_secs(5)), 7);
//!
//! probe.link(&echo);
//! inject_panic(&echo);
//! probe.send(&echo, 8u32);
//! let reason = probe.expect_stopped(&echo, Duration::from_secs(5));
//! assert!(matches!(reason, ExitReason::Panic(_)));
//! probe.expect_no_message(Duration::from_millis(20));
//! ```

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::address::ActorRef;
use crate::error::RecvError;
use crate::exit::{Down, ExitReason, Stopped};
use crate::inbox::{Inbox, Origin};
use crate::links::MonitorRef;
use crate::mailbox::Envelope;
use crate::system::System;

/// The panic text an injected fault terminates an actor with.
pub const INJECTED_PANIC: &str = "panic injected by ferrotp::testkit";

/// Makes `actor` panic at its next message, whatever it is (the message is
/// not handled).
///
/// "Message" counts what reaches the actor's handlers: a `Stop` (which then
/// neither stops the actor with `Normal` nor gets its sender a `Stopped`:
/// link or monitor to see the end), a `Down`, and for an actor that traps
/// exits the `Stopped` of an exit signal. Exit signals that terminate a
/// non-trapping actor are not messages: they act as usual.
pub fn inject_panic(actor: &ActorRef) {
    inject_panic_after(actor, 0);
}

/// Makes `actor` handle `n` more messages normally and panic at the one
/// after (which is not handled). The actor terminates with
/// `ExitReason::Panic(INJECTED_PANIC)`, its `stopped` hook runs, and its
/// links and monitors fire, as for a real panic.
pub fn inject_panic_after(actor: &ActorRef, n: u64) {
    actor.core.fault_countdown.store(n + 1, Ordering::Release);
}

/// [`inject_panic`] on the actor registered under `name`; `false` if there is none.
pub fn inject_panic_named(system: &System, name: &str) -> bool {
    match system.whereis(name) {
        Some(actor) => {
            inject_panic(&actor);
            true
        }
        None => false,
    }
}

/// A test's mailbox, with assertions. Its methods panic with a message that
/// says what arrived instead (the messages they skipped, for those that skip)
/// — they are meant to fail tests.
///
/// A probe is an [`Inbox`]: it is no actor and makes no lifecycle events.
pub struct Probe {
    inbox: Inbox,
}

impl Probe {
    /// A new probe in `system`.
    pub fn new(system: &System) -> Self {
        Probe {
            inbox: system.inbox(),
        }
    }

    /// The probe's address.
    pub fn actor(&self) -> &ActorRef {
        self.inbox.actor()
    }

    /// Sends `msg` to `to` with the probe as the sender.
    pub fn send<M: Send + 'static>(&self, to: &ActorRef, msg: M) {
        self.inbox.send(to, msg);
    }

    /// Links the probe with `actor` (the probe traps exits: `Stopped` arrives).
    pub fn link(&self, actor: &ActorRef) {
        self.inbox.link(actor);
    }

    /// Monitors `actor` (a `Down` arrives).
    pub fn monitor(&self, actor: &ActorRef) -> MonitorRef {
        self.inbox.monitor(actor)
    }

    /// The next message, which must be a `T` and arrive within `timeout`.
    pub fn expect<T: Send + 'static>(&self, timeout: Duration) -> T {
        match self.inbox.recv(timeout) {
            Ok(envelope) => envelope.downcast::<T>().unwrap_or_else(|other| {
                panic!(
                    "probe {}: expected a `{}`, got a `{}`",
                    self.actor().id(),
                    std::any::type_name::<T>(),
                    other.type_name()
                )
            }),
            Err(RecvError::Timeout) => panic!(
                "probe {}: expected a `{}` within {timeout:?}, nothing arrived",
                self.actor().id(),
                std::any::type_name::<T>()
            ),
        }
    }

    /// Skips messages until a `T` satisfying `wanted` arrives, within `timeout`.
    pub fn expect_where<T: Send + 'static>(
        &self,
        timeout: Duration,
        mut wanted: impl FnMut(&T) -> bool,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let mut skipped = Vec::new();
        loop {
            match self.inbox.recv_deadline(deadline) {
                Ok(envelope) => match envelope.downcast::<T>() {
                    Ok(value) if wanted(&value) => return value,
                    Ok(_) => skipped.push(std::any::type_name::<T>()),
                    Err(other) => skipped.push(other.type_name()),
                },
                Err(RecvError::Timeout) => panic!(
                    "probe {}: no matching `{}` within {timeout:?}; skipped {skipped:?}",
                    self.actor().id(),
                    std::any::type_name::<T>()
                ),
            }
        }
    }

    /// Asserts that nothing arrives within `within`.
    pub fn expect_no_message(&self, within: Duration) {
        if let Ok(envelope) = self.inbox.recv(within) {
            panic!(
                "probe {}: expected no message within {within:?}, got a `{}`",
                self.actor().id(),
                envelope.type_name()
            );
        }
    }

    /// Waits for `actor`'s end as a `Stopped` (from a link, or answering a
    /// `Stop` the probe sent) or a `Down` (from a monitor the probe holds);
    /// skips other messages; returns the reason.
    ///
    /// Only an end counts: a `Stopped` that a live `actor` sent as an exit
    /// signal (`ctx.exit(probe, reason)`), or a `Stopped` or `Down` it sent
    /// as a message, is skipped. On timeout, the panic names what was skipped.
    pub fn expect_stopped(&self, actor: &ActorRef, timeout: Duration) -> ExitReason {
        let id = actor.id();
        let deadline = Instant::now() + timeout;
        let mut skipped = Vec::new();
        loop {
            match self.inbox.recv_with_origin(deadline) {
                Ok((envelope, origin)) => match end_of(envelope, origin, actor) {
                    Ok(reason) => return reason,
                    Err(what) => skipped.push(what),
                },
                Err(RecvError::Timeout) => panic!(
                    "probe {}: actor {id} did not stop within {timeout:?}; skipped {skipped:?}",
                    self.actor().id()
                ),
            }
        }
    }

    /// Waits for the `Down` of `monitor`, skipping other messages.
    pub fn expect_down(&self, monitor: MonitorRef, timeout: Duration) -> Down {
        self.expect_where::<Down>(timeout, |down| down.monitor == monitor)
    }

    /// Everything waiting now.
    pub fn drain(&self) -> Vec<Envelope> {
        std::iter::from_fn(|| self.inbox.try_recv()).collect()
    }

    /// The inbox under the probe, for anything the assertions do not cover.
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }
}

/// The reason `actor` ended with, if the envelope tells its end; else a
/// description of what it is, for a failure message.
///
/// A link's `Stopped` and a monitor's `Down` come only from an end; a
/// `Stopped` from an exit signal never does. The runtime's answer to a
/// `Stop` is a message with no sender, sent after the end: a `Stopped`
/// message counts if it has no sender and says the reason `actor` really
/// ended with — a live actor may send anything, but not a true end.
fn end_of(envelope: Envelope, origin: Origin, actor: &ActorRef) -> Result<ExitReason, String> {
    let anonymous = envelope.sender().is_none();
    let how = match origin {
        Origin::Sent => "sent",
        Origin::Link => "link",
        Origin::ExitSignal => "exit signal",
        Origin::Monitor => "monitor",
    };
    let (about, reason, what, is_end) = match envelope.downcast::<Stopped>() {
        Ok(stopped) => {
            let is_end = match origin {
                Origin::Link => true,
                Origin::Sent => anonymous && actor.exit_reason().as_ref() == Some(&stopped.reason),
                Origin::ExitSignal | Origin::Monitor => false,
            };
            let what = format!("{stopped:?} ({how})");
            (stopped.actor, stopped.reason, what, is_end)
        }
        Err(envelope) => match envelope.downcast::<Down>() {
            Ok(down) => {
                let what = format!("{down:?} ({how})");
                (down.actor, down.reason, what, origin == Origin::Monitor)
            }
            Err(other) => return Err(format!("a `{}` ({how})", other.type_name())),
        },
    };
    if is_end && about == actor.id() {
        Ok(reason)
    } else {
        Err(what)
    }
}

/// Runs the enclosed tests once on each [`Executor`](crate::Executor).
///
/// The items are compiled twice, into a module `pool` and a module
/// `threads`; in each, `new_system()` makes a system whose default is that
/// executor and `EXECUTOR` names it. Write the tests once with
/// `new_system()` and both executors are held to them.
///
/// ```
/// use ferrotp::{Actor, Handlers, Stop};
///
/// struct Idle;
/// impl Actor for Idle {
///     fn handlers() -> Handlers<Self> { Handlers::new() }
/// }
///
/// ferrotp::on_each_executor! {
///     #[test]
///     fn stops_on_request() {
///         let system = new_system();
///         assert_eq!(system.executor(), EXECUTOR);
///         let idle = system.spawn(Idle);
///         idle.send(Stop);
///         system.shutdown(std::time::Duration::from_secs(5)).unwrap();
///     }
/// }
/// # fn main() {}
/// ```
#[macro_export]
#[allow(clippy::test_attr_in_doctest)]
macro_rules! on_each_executor {
    ($($item:item)*) => {
        /// The tests on the pooled executor.
        mod pool {
            #[allow(unused_imports)]
            use super::*;
            /// The executor these tests run on.
            #[allow(dead_code)]
            const EXECUTOR: $crate::Executor = $crate::Executor::Pool;
            /// A new system on this module's executor.
            #[allow(dead_code)]
            fn new_system() -> $crate::System {
                $crate::System::builder().executor(EXECUTOR).build()
            }
            $($item)*
        }
        /// The tests on the thread-per-actor executor.
        mod threads {
            #[allow(unused_imports)]
            use super::*;
            /// The executor these tests run on.
            #[allow(dead_code)]
            const EXECUTOR: $crate::Executor = $crate::Executor::Threads;
            /// A new system on this module's executor.
            #[allow(dead_code)]
            fn new_system() -> $crate::System {
                $crate::System::builder().executor(EXECUTOR).build()
            }
            $($item)*
        }
    };
}
