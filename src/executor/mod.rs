//! Executors: what drives actor cells.
//!
//! The cell's step function (`cell.rs`) does not know which thread runs it.
//! [`thread`] gives an actor a thread of its own; [`pool`] runs many actors
//! on a few worker threads. A system picks a default ([`Executor`]) and any
//! spawn can ask for a dedicated thread instead.

pub(crate) mod long_handler;
pub(crate) mod pool;
pub(crate) mod thread;
pub(crate) mod thread_watch;
pub(crate) mod watchdog;

/// Which executor runs an actor.
///
/// ```
/// use ferrotp::{Executor, System};
/// let system = System::builder().executor(Executor::Threads).build();
/// assert_eq!(system.executor(), Executor::Threads);
/// assert_eq!(System::new().executor(), Executor::Pool);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Executor {
    /// Many actors share a fixed pool of worker threads (one per core by
    /// default). Cheap actors, fast messaging; a handler that blocks holds
    /// a worker while it blocks. The default.
    #[default]
    Pool,
    /// Every actor runs on a thread of its own: for actors that block on
    /// I/O or run long computations. A process holds at most some
    /// thousands of threads.
    Threads,
}
