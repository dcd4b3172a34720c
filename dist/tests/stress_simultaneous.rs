//! Stress of simultaneous connects: two fresh ferrotp nodes reach each
//! other (monitor, messages, a call) at the same moment, released by a
//! barrier, on both executors; every round ends with one connection per
//! side, every message delivered, no `noconnection` and no `NodeDown`,
//! and calls working both ways. Each scenario loops for
//! `FERROTP_STRESS_SECS` seconds (default 3); ignored by default:
//!
//! ```text
//! FERROTP_STRESS_SECS=10 cargo test --release -p ferrotp-dist --test stress_simultaneous -- --ignored stress
//! ```

#[path = "../../tests/common/budget.rs"]
mod budget;
mod common;

use budget::for_budget;
use ferrotp::Executor;

#[test]
#[ignore]
fn stress_simultaneous_connects_on_the_pool() {
    for_budget("simultaneous connects (pool)", |round| {
        common::simultaneous::round(Executor::Pool, round)
    });
}

#[test]
#[ignore]
fn stress_simultaneous_connects_on_threads() {
    for_budget("simultaneous connects (threads)", |round| {
        common::simultaneous::round(Executor::Threads, round)
    });
}
