//! Spawning dedicated actors past what the operating system can hold
//! returns an error and never aborts the process. (A plain program that
//! starts 20,000 threads on our machines dies with "failed to set up
//! alternative stack guard page".) This file is its own test binary, so
//! its threads crowd no other test.

use std::time::Duration;

use ferrotp::{Actor, Handlers, SpawnError, SpawnOptions, System};

struct Idle;

impl Actor for Idle {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
}

#[test]
fn dedicated_spawns_past_the_thread_limit_fail_cleanly() {
    const TRIES: usize = 20_000;
    let limit = System::thread_limit();
    let system = System::builder().stack_size(64 * 1024).build();
    // The pool's workers are threads too; they start with the first
    // pooled actor and count against the same limit.
    let pooled = system.try_spawn(Idle).expect("a pooled spawn");
    let mut spawned = 0;
    let mut refused = None;
    for _ in 0..TRIES {
        match system.spawn_with(Idle, SpawnOptions::new().dedicated()) {
            Ok(_) => spawned += 1,
            Err(error) => {
                refused = Some(error);
                break;
            }
        }
    }
    if limit < TRIES {
        let error = refused.expect("a spawn past the limit fails");
        assert!(
            matches!(error, SpawnError::TooManyThreads { limit: l } if l == limit),
            "{error}"
        );
        assert!(spawned <= limit, "{spawned} threads spawned, limit {limit}");
    }
    // The pool needs no new thread, and the system still works.
    let more = system.try_spawn(Idle).expect("a pooled spawn");
    assert!(pooled.is_alive() && more.is_alive());
    system.shutdown(Duration::from_secs(60)).unwrap();
    assert_eq!(system.threads(), 0);

    // The threads are given back: dedicated spawns work again.
    let again = System::new();
    assert!(again
        .spawn_with(Idle, SpawnOptions::new().dedicated())
        .is_ok());
}
