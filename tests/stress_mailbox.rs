//! Stress version of the bounded-mailbox race in `tests/bounded_mailbox.rs`:
//! producers racing for the places of one small mailbox, looped for
//! `FERROTP_STRESS_SECS` seconds (default 3) on both executors. `#[ignore]`d;
//! CI runs it with `cargo test --release --workspace -- --ignored stress`.

mod mailbox_common;

use std::time::{Duration, Instant};

use mailbox_common::{race, WAIT};

/// How long the stress test loops: `FERROTP_STRESS_SECS` seconds (default 3).
fn stress_duration() -> Duration {
    let secs = std::env::var("FERROTP_STRESS_SECS")
        .ok()
        .and_then(|text| text.trim().parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs.max(0.0))
}

ferrotp::on_each_executor! {
    #[test]
    #[ignore]
    fn stress_racing_producers_never_overfill_a_mailbox_nor_lose_a_message() {
        let system = new_system();
        let until = Instant::now() + stress_duration();
        let mut rounds = 0u64;
        while rounds == 0 || Instant::now() < until {
            race(&system, 500);
            rounds += 1;
        }
        println!("{rounds} races");
        system.shutdown(WAIT).unwrap();
    }
}
