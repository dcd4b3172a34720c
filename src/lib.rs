//! # ferrotp
//!
//! Erlang/OTP-style actors for Rust. An actor owns its state and a mailbox;
//! it handles one message at a time with the handler registered for the
//! message's type, and always knows who sent it. Actors link to each other
//! and monitor each other; a panic in a handler never takes the program
//! down, it becomes an [`ExitReason`] that travels along links and monitors
//! to whoever must react. Supervisors (the `ferrotp-supervisors` crate) are
//! ordinary actors built on this public API.
//!
//! ```
//! use ferrotp::{Actor, Context, Handlers, System};
//! use std::time::Duration;
//!
//! struct Counter { total: i64 }
//! struct Add(i64);
//! struct Total;
//!
//! impl Counter {
//!     fn add(&mut self, Add(n): Add, _ctx: &mut Context<Self>) { self.total += n; }
//!     fn total(&mut self, _: Total, ctx: &mut Context<Self>) { ctx.reply(self.total); }
//! }
//!
//! impl Actor for Counter {
//!     fn handlers() -> Handlers<Self> {
//!         Handlers::new().on(Self::add).on(Self::total)
//!     }
//! }
//!
//! let system = System::new();
//! let counter = system.spawn(Counter { total: 0 });
//! counter.send(Add(2));
//! counter.send(Add(3));
//! let total: i64 = system.bridge().call(&counter, Total, Duration::from_secs(5)).unwrap();
//! assert_eq!(total, 5);
//! ```
//!
//! The semantics (links, monitors, exit trapping, the registry, the order
//! of a termination) are those of `DESIGN.md` and the README.
//!
//! With the cargo feature `tokio`, async code calls actors without blocking
//! a thread (`Bridge::call_async`, `monitor_async`, `stop_async`) and an
//! actor runs futures on a tokio runtime (`Context::spawn_task`, whose
//! outcome arrives as a message).

#![warn(missing_docs)]

mod actor;
mod address;
#[cfg(feature = "tokio")]
mod async_bridge;
mod bridge;
mod cell;
mod context;
mod error;
mod events;
mod executor;
mod exit;
mod fn_address;
mod groups;
mod handlers;
mod inbox;
mod introspect;
mod labels;
mod links;
mod mailbox;
mod panic;
mod payload;
mod registry;
mod spin;
mod start_ack;
mod system;
#[cfg(feature = "tokio")]
mod tasks;
mod timer;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use actor::Actor;
pub use address::{ActorId, ActorInfo, ActorRef};
pub use bridge::Bridge;
pub use context::Context;
pub use error::{CallError, RecvError, RegistryError, SendError, ShutdownError, SpawnError};
pub use events::{Events, LifecycleEvent};
pub use executor::Executor;
pub use exit::{Down, ExitReason, Stop, Stopped};
pub use fn_address::FnAddress;
pub use groups::{GroupChanged, GroupError, GroupMonitorRef};
pub use handlers::{HandlerResult, Handlers};
pub use inbox::Inbox;
pub use introspect::{Activity, ActorStats, TopBy};
pub use links::{MonitorRef, TieNotice};
pub use mailbox::Envelope;
pub use panic::silence_actor_panics;
pub use start_ack::StartAck;
pub use system::{
    SpawnOptions, System, SystemBuilder, DEFAULT_LONG_HANDLER, DEFAULT_SHUTDOWN_TIMEOUT,
};
#[cfg(feature = "tokio")]
pub use tasks::{TaskError, TaskFailed, TaskRef};
pub use timer::TimerRef;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
