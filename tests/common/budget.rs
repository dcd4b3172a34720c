//! How long a stress scenario loops (`FERROTP_STRESS_SECS`) and the
//! pauses that vary its timing, shared by the `stress_*` suites.

use std::time::{Duration, Instant};

/// How long each scenario loops: `FERROTP_STRESS_SECS` (fractions allowed,
/// default 3).
pub fn budget() -> Duration {
    let secs = std::env::var("FERROTP_STRESS_SECS")
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

/// Runs `iteration` (given its number) until the budget is spent, at least
/// once; returns how many times it ran.
pub fn for_budget(what: &str, mut iteration: impl FnMut(u64)) -> u64 {
    let end = Instant::now() + budget();
    let mut done = 0;
    loop {
        iteration(done);
        done += 1;
        if Instant::now() >= end {
            break;
        }
    }
    eprintln!("{what}: {done} iterations");
    done
}

/// A pause between two rounds or calls, by `round`: none (four times in
/// seven), a yield, or a sleep long enough for the pool's workers to
/// spin, then park: varied timing for the loops that use it.
#[allow(dead_code)]
pub fn pause(round: u64) {
    match round % 7 {
        0..=3 => {}
        4 => std::thread::yield_now(),
        5 => std::thread::sleep(Duration::from_micros(50)),
        _ => std::thread::sleep(Duration::from_millis(1)),
    }
}

/// Waits, with the generous bound `bound`, for `done`: for a count or a
/// state that changes with no message to wait on.
#[allow(dead_code)]
pub fn wait_until(what: &str, bound: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + bound;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}
