//! Executors: what drives actor cells. Today every actor runs on a thread
//! of its own ([`thread`]); the cell's step function does not depend on it.

pub(crate) mod thread;
