//! What the bench files share: the executors they compare, sizes read from
//! the environment, the spawn workload, strict receiving, and resident
//! memory. (A folder, not `benches/common.rs`, so that Cargo does not take
//! it for a bench target of its own.)

// Each bench file uses a part of this module.
#![allow(dead_code)]

use std::time::Duration;

use ferrotp::{ActorRef, Down, Executor, ExitReason, Inbox, Stop, Stopped, System};

/// How long a bench waits for an answer before it declares it lost.
pub const WAIT: Duration = Duration::from_secs(60);

/// The executors every workload runs on, with the label of its bench id.
pub const EXECUTORS: [(&str, Executor); 2] =
    [("pool", Executor::Pool), ("threads", Executor::Threads)];

/// A system whose actors run on `executor` unless a spawn asks otherwise.
pub fn system_on(executor: Executor) -> System {
    System::builder().executor(executor).build()
}

/// The count in the environment variable `var` (`_` separators allowed),
/// or `default` when it is not set.
pub fn env_size(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(text) => match text.replace('_', "").parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("{var}={text}: expected a positive count"),
        },
        Err(_) => default,
    }
}

/// The next message in `inbox`, which must be a `T`. Panics (failing the
/// bench) on a timeout, on a `Down` (an actor the bench watches died), and
/// on any other message, naming `what` was awaited.
pub fn expect<T: Send + 'static>(inbox: &Inbox, what: &str) -> T {
    expect_within(inbox, WAIT, what)
}

/// [`expect`] with its own timeout.
pub fn expect_within<T: Send + 'static>(inbox: &Inbox, wait: Duration, what: &str) -> T {
    let envelope = inbox
        .recv(wait)
        .unwrap_or_else(|_| panic!("lost: no {what} within {wait:?}"));
    match envelope.downcast::<T>() {
        Ok(msg) => msg,
        Err(other) => match other.downcast::<Down>() {
            Ok(down) => panic!(
                "actor {} died ({}) while the bench waited for {what}",
                down.actor, down.reason
            ),
            Err(other) => panic!(
                "expected {what} ({}), got a `{}`",
                std::any::type_name::<T>(),
                other.type_name()
            ),
        },
    }
}

// ---- spawn: actors spawned, each handles one message, all stopped ----

pub mod one_shot;
pub use one_shot::{Hello, OneShot};

/// Spawns `n` actors on the system's default executor, sends each one
/// `Hello` from `inbox` and waits for all `n` answers. The actors are left
/// idle; [`stop_all`] ends them.
pub fn spawn_and_greet(system: &System, inbox: &Inbox, n: usize) -> Vec<ActorRef> {
    let actors: Vec<ActorRef> = (0..n)
        .map(|i| {
            system
                .try_spawn(OneShot)
                .unwrap_or_else(|e| panic!("spawn {i} of {n} failed: {e}"))
        })
        .collect();
    for actor in &actors {
        inbox.send(actor, Hello);
    }
    for _ in 0..n {
        let Hello = expect(inbox, "a spawned actor's answer");
    }
    actors
}

/// Sends every actor `Stop` from `inbox` and waits until each has answered
/// `Stopped` with `Normal` (it has terminated).
pub fn stop_all(inbox: &Inbox, actors: Vec<ActorRef>) {
    for actor in &actors {
        inbox.send(actor, Stop);
    }
    for _ in 0..actors.len() {
        let stopped: Stopped = expect(inbox, "an actor's Stopped");
        assert_eq!(stopped.reason, ExitReason::Normal, "{}", stopped.actor);
    }
}

/// The spawn workload: `n` actors spawned, each handles one message, all
/// stopped.
pub fn spawn_greet_stop(system: &System, inbox: &Inbox, n: usize) {
    let actors = spawn_and_greet(system, inbox, n);
    stop_all(inbox, actors);
}

// ---- interleaved runs ----

/// Prints the median of each target's samples (one per round of an
/// interleaved run, where the targets take turns so that each sees the
/// same load) and its ratio to the first target's, the raw anchor:
/// `{group} {label} {median} {ratio}x`, a line per target.
pub fn print_medians(group: &str, labels: &[&str], samples: &mut [Vec<Duration>]) {
    let medians: Vec<Duration> = samples
        .iter_mut()
        .map(|samples| {
            samples.sort();
            samples[samples.len() / 2]
        })
        .collect();
    for (label, median) in labels.iter().zip(&medians) {
        let ratio = median.as_secs_f64() / medians[0].as_secs_f64();
        println!("{group:<12} {label:<28} {median:>10.2?} {ratio:>7.2}x");
    }
    if std::env::var_os("FERROTP_SPREAD").is_some() {
        print_spread(group, labels, samples);
    }
}

/// With `FERROTP_SPREAD` set, the spread of each target's (sorted) samples
/// beside the median: the quartiles, the slowest and the mean, which
/// criterion's estimate follows and a few slow rounds pull up where the
/// median does not move. The mean's ratio is to the first target's mean.
/// `FERROTP_SPREAD=all` also prints every sample, sorted, in nanoseconds.
fn print_spread(group: &str, labels: &[&str], samples: &[Vec<Duration>]) {
    let mean = |samples: &[Duration]| samples.iter().sum::<Duration>() / samples.len() as u32;
    let anchor = mean(&samples[0]).as_secs_f64();
    for (label, samples) in labels.iter().zip(samples) {
        let at = |q: usize| samples[(samples.len() - 1) * q / 4];
        let mean = mean(samples);
        let ratio = mean.as_secs_f64() / anchor;
        if std::env::var("FERROTP_SPREAD").as_deref() == Ok("all") {
            let ns: Vec<u128> = samples.iter().map(|d| d.as_nanos()).collect();
            println!("{label} {ns:?}");
        }
        println!(
            "{group:<12} {label:<28} min {:.2?} q1 {:.2?} q3 {:.2?} max {:.2?} mean {mean:.2?} {ratio:.2}x",
            at(0),
            at(1),
            at(3),
            at(4)
        );
    }
}

// ---- resident memory ----

/// Also read by `tests/bounded_mailbox.rs`, which includes the file.
pub mod rss;
