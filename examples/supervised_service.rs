//! A small fault-tolerant key-value service: a flaky "database" worker that
//! panics every few requests, a cache in front of it, and a registered
//! front actor that clients call by name. A rest_for_one supervisor keeps
//! them running: when the database crashes, the cache (whose contents may
//! now be stale) and the front restart after it. Clients retry a request
//! that hit a restart, and never lose the service.
//!
//! `cargo run --example supervised_service`

#[path = "common/kv_service.rs"]
mod kv_service;

use std::time::Duration;

use ferrotp::{CallError, System};
use ferrotp_supervisors::Supervisor;
use kv_service::{Disk, Get, Put, CALL};

const REQUESTS: u64 = 300;

/// A client retries a request that hit a restart (the front, or the
/// database behind it, was gone for a moment); returns the answer and how
/// many retries it took.
fn retry<R>(mut attempt: impl FnMut() -> Result<R, CallError>) -> (R, u32) {
    let mut retries = 0;
    loop {
        match attempt() {
            Ok(answer) => return (answer, retries),
            Err(_) => {
                retries += 1;
                assert!(retries < 1000, "the service is gone");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// Calls the front by name.
fn call_front<R: Send + 'static, M: Send + 'static>(
    system: &System,
    msg: M,
) -> Result<R, CallError> {
    let front = system.whereis("front").ok_or(CallError::Timeout)?;
    system.bridge().call(&front, msg, CALL)
}

fn main() {
    ferrotp::silence_actor_panics();
    let system = System::new();
    let disk = Disk::default();
    let spec = kv_service::spec(disk, 30);
    let sup = Supervisor::start(&system, spec).expect("the service starts");
    println!("started:\n{}", sup.tree().unwrap());

    let mut retries = 0;
    for i in 0..REQUESTS {
        let key = format!("k{}", i % 10);
        let value = format!("v{i}");
        let ((), r) = retry(|| call_front(&system, Put(key.clone(), value.clone())));
        retries += r;
        let (found, r) = retry(|| call_front::<Option<String>, _>(&system, Get(key.clone())));
        retries += r;
        assert_eq!(found, Some(value), "a write was lost");
        if i % 100 == 99 {
            // A little chaos of our own: crash the cache from outside.
            if let Some(cache) = system.whereis("cache") {
                cache.kill();
            }
        }
    }

    println!(
        "{REQUESTS} writes and reads served, {retries} retries across restarts; now:\n{}",
        sup.tree().unwrap()
    );
    sup.stop(CALL).expect("the service stops");
}
