//! # ferrotp-supervisors
//!
//! OTP supervisors for [`ferrotp`], built only on the kernel's public API: a
//! supervisor is an ordinary actor that traps exits, starts its children in
//! order (each fully started before the next), restarts them when they
//! terminate, and stops them in reverse order.
//!
//! - Strategies ([`Strategy`]): one-for-one, one-for-all, rest-for-one; and a
//!   [`DynamicSupervisor`] for many children of one template.
//! - Restart policies ([`Restart`]): `Permanent` (always), `Transient`
//!   (after an abnormal reason only), `Temporary` (never; removed).
//! - Intensity: more than `max_restarts` restarts within `period` (a sliding
//!   window, counted on a [`Clock`]) and the supervisor stops its children
//!   and terminates with `Shutdown`: its own supervisor then decides.
//! - Shutdown ([`Shutdown`]): the exit signal `Shutdown`, then `kill` after a
//!   timeout; or `Brutal` (kill at once); or `Infinity` (for subtrees).
//! - Every start, restart, escalation and shutdown is a `tracing` event
//!   carrying the supervisor's id and name, the child id and the actor ids;
//!   restarts and escalations are also [`SupervisorEvent`]s on the system's
//!   lifecycle event stream (`System::subscribe`).
//!
//! ```
//! use ferrotp::{Actor, Context, Handlers, System};
//! use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorSpec};
//! use std::time::Duration;
//!
//! struct Counter { hits: u64 }
//! struct Hit;
//! impl Counter {
//!     fn hit(&mut self, _: Hit, ctx: &mut Context<Self>) -> Result<(), String> {
//!         self.hits += 1;
//!         ctx.reply(self.hits);
//!         if self.hits == 2 { Err("two is too many".into()) } else { Ok(()) }
//!     }
//! }
//! impl Actor for Counter {
//!     fn handlers() -> Handlers<Self> { Handlers::new().on(Self::hit) }
//! }
//!
//! let system = System::new();
//! let spec = SupervisorSpec::one_for_one()
//!     .intensity(3, Duration::from_secs(5))
//!     .child(ChildSpec::worker("counter", || Counter { hits: 0 }).name("counter"));
//! let sup = Supervisor::start(&system, spec).unwrap();
//!
//! let (bridge, t) = (system.bridge(), Duration::from_secs(5));
//! let first = system.whereis("counter").unwrap();
//! bridge.monitor(&first);
//! let _: u64 = bridge.call(&first, Hit, t).unwrap();
//! let _: u64 = bridge.call(&first, Hit, t).unwrap(); // it fails after answering
//! bridge.recv(t).unwrap(); // its `Down`: the supervisor was told first
//!
//! // Restarted under the same name, with a fresh state.
//! let children = sup.which_children().unwrap();
//! assert_eq!(children[0].restarts, 1);
//! let again = system.whereis("counter").unwrap();
//! assert_ne!(again, first);
//! assert_eq!(bridge.call::<u64, _>(&again, Hit, t).unwrap(), 1);
//! sup.stop(t).unwrap();
//! ```
//!
//! A whole service under supervision: `cargo run --example
//! supervised_service` (in the workspace root); restart latency: `cargo bench -p
//! ferrotp-supervisors --bench restart`.
//!
//! Semantics are OTP's `supervisor`; where this crate decides something OTP
//! leaves to its environment, the item's docs say so.

#![warn(missing_docs)]

mod children;
mod dynamic;
mod error;
mod inspect;
mod intensity;
mod lifecycle;
mod protocol;
mod report;
mod spec;
mod stopping;
mod subtree;
mod supervisor;
mod tree;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use dynamic::{DynamicSupervisor, DynamicSupervisorSpec};
pub use error::SupervisorError;
pub use inspect::{
    inspect, is_supervisor, supervisor_of, SupervisorSnapshot, CHILD_ID_LABEL, KIND_LABEL,
    SUPERVISORS_GROUP,
};
pub use intensity::{Clock, ManualClock, SystemClock};
pub use protocol::{ChildCount, ChildInfo, DEFAULT_CALL_TIMEOUT};
pub use report::SupervisorEvent;
pub use spec::{
    ChildKind, ChildSpec, Restart, Shutdown, Strategy, SupervisorSpec, DEFAULT_MAX_RESTARTS,
    DEFAULT_PERIOD, DEFAULT_WORKER_SHUTDOWN,
};
pub use supervisor::Supervisor;
