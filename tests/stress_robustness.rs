//! Stress versions of `tests/robustness.rs` (issue 17): each scenario
//! looped for `FERROTP_STRESS_SECS` seconds (default 3) on both executors.
//! They are `#[ignore]`d; CI runs them with
//! `cargo test --release --workspace -- --ignored stress`.
//! (The spawn that gets no thread has its stress test in
//! `tests/thread_limit_signals.rs`: it fills the process's thread limit.)

mod robust_common;

use std::time::Instant;

use ferrotp::{ExitReason, Stop};
use robust_common::*;

/// Runs `round` until the stress time is up; returns how many rounds ran.
fn repeat(mut round: impl FnMut(u64)) -> u64 {
    let until = Instant::now() + stress_duration();
    let mut rounds = 0;
    while rounds == 0 || Instant::now() < until {
        round(rounds);
        rounds += 1;
    }
    rounds
}

ferrotp::on_each_executor! {
    #[test]
    #[ignore]
    fn stress_unhandled_bombs_end_their_receiver_only() {
        let system = system_on(EXECUTOR);
        let inbox = system.inbox();
        let rounds = repeat(|_| {
            let holders: Vec<_> = (0..8).map(|_| system.spawn(Holder)).collect();
            for holder in &holders {
                inbox.monitor(holder);
                holder.send(Bomb);
            }
            for _ in &holders {
                assert_eq!(next_down(&inbox).reason, ExitReason::Panic(BOMB.to_string()));
            }
            executor_intact(&system, EXECUTOR);
        });
        println!("{rounds} rounds");
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    #[ignore]
    fn stress_unread_bombs_never_cost_a_thread() {
        let system = system_on(EXECUTOR);
        let inbox = system.inbox();
        let rounds = repeat(|round| {
            let mut releases = Vec::new();
            for _ in 0..4 {
                let (release, hold) = crossbeam_channel::bounded(1);
                let holder = system.spawn(Holder);
                inbox.monitor(&holder);
                holder.send(Hold(hold));
                for _ in 0..(round % 5) {
                    holder.send(Bomb);
                }
                releases.push((release, holder));
            }
            for (release, holder) in releases {
                release.send(()).unwrap();
                holder.send(Bomb);
            }
            for _ in 0..4 {
                assert_eq!(next_down(&inbox).reason, ExitReason::Normal);
            }
            executor_intact(&system, EXECUTOR);
        });
        println!("{rounds} rounds");
        system.shutdown(WAIT).unwrap();
        assert_eq!(system.threads(), 0);
    }

    #[test]
    #[ignore]
    fn stress_dead_letter_bombs_spare_their_senders() {
        let system = system_on(EXECUTOR);
        let inbox = system.inbox();
        let rounds = repeat(|_| {
            let target = system.spawn(Holder);
            inbox.monitor(&target);
            // Bombs race the target's end: some are handled as unhandled
            // mail (the target panics), some left unread, some refused.
            std::thread::scope(|scope| {
                for _ in 0..2 {
                    scope.spawn(|| {
                        for _ in 0..50 {
                            target.send(Bomb);
                        }
                    });
                }
                target.send(Stop);
            });
            let reason = next_down(&inbox).reason;
            assert!(
                reason == ExitReason::Normal || reason == ExitReason::Panic(BOMB.to_string()),
                "{reason:?}"
            );
            target.send(Bomb);
            executor_intact(&system, EXECUTOR);
        });
        println!("{rounds} rounds");
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    #[ignore]
    fn stress_threads_sharing_an_inbox_never_sleep_while_mail_waits() {
        let system = system_on(EXECUTOR);
        let rounds = repeat(|round| {
            inbox_readers_round(&system, [1, 4, 65, 300][round as usize % 4]);
        });
        println!("{rounds} rounds");
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    #[ignore]
    fn stress_threads_sharing_a_bridge_get_every_reply() {
        let system = system_on(EXECUTOR);
        let forward = system.spawn(Forward);
        let rounds = repeat(|round| {
            bridge_readers_round(&system, &forward, [1, 4, 65, 300][round as usize % 4]);
        });
        println!("{rounds} rounds");
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    #[ignore]
    fn stress_spawns_racing_shutdown_never_outlive_it() {
        let mut spawned = 0;
        let rounds = repeat(|round| {
            spawned += spawn_racing_shutdown(EXECUTOR, (round % 50) as usize);
        });
        println!("{rounds} rounds, {spawned} spawns");
    }

    #[test]
    #[ignore]
    fn stress_shutdown_from_another_system_spares_no_one() {
        let rounds = repeat(|_| shutdown_from_another_system(EXECUTOR));
        println!("{rounds} rounds");
    }
}
