//! How long a stress scenario loops (`FERROTP_STRESS_SECS`), shared by the
//! `stress_*` suites.

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
