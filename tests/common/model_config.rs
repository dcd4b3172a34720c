//! How the kernel's model-based tests (`tests/lifecycle_model.rs`,
//! `tests/groups_model.rs`) run proptest, so that both read
//! `PROPTEST_CASES` and report a failure alike.

use proptest::test_runner::Config;

/// `default_cases` random sequences unless `PROPTEST_CASES` says how many.
pub fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        // Failures are reported with their shrunk sequence; no file is
        // written into the source tree.
        failure_persistence: None,
        // A broken runtime makes steps wait out their timeout; bound the
        // shrinking so that a failure is still reported in minutes.
        max_shrink_time: 120_000,
        ..Config::default()
    }
}
