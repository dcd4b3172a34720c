//! What the bounded-mailbox tests (`tests/bounded_mailbox.rs`) and their
//! stress version (`tests/stress_mailbox.rs`) share: producers racing to fill
//! one bounded mailbox while its actor checks what it is given.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use ferrotp::{Actor, ActorRef, Context, Handlers, SendError, SpawnOptions, System};

pub const WAIT: Duration = Duration::from_secs(10);

/// The capacity the producers race for.
pub const CAPACITY: usize = 4;
const PRODUCERS: usize = 3;

/// One numbered item of one producer.
pub struct Item {
    producer: usize,
    seq: u64,
}

/// Asks the checker for its verdict once every item before it is handled.
pub struct Verdict(Sender<Result<u64, String>>);

/// Checks, for every item it is given, that the producers never had more
/// than `CAPACITY` items admitted beyond the ones it has taken, and that
/// each producer's items come in order (some may be missing: `send`
/// drops an item that finds the mailbox full).
pub struct Checker {
    /// Items the producers were told were admitted (raised after each
    /// admission, so never ahead of the true count).
    admitted: Arc<AtomicU64>,
    taken: u64,
    next: [u64; PRODUCERS],
    fault: Option<String>,
}

impl Checker {
    fn item(&mut self, Item { producer, seq }: Item, _ctx: &mut Context<Self>) {
        self.taken += 1;
        // This item's place was freed when it was taken; every other
        // admitted item still holds one.
        let admitted = self.admitted.load(Ordering::SeqCst);
        if admitted > self.taken + CAPACITY as u64 && self.fault.is_none() {
            self.fault = Some(format!(
                "{admitted} items admitted when only {} were taken: more than {CAPACITY} waited",
                self.taken
            ));
        }
        if seq < self.next[producer] && self.fault.is_none() {
            self.fault = Some(format!(
                "producer {producer}: item {seq} came after a later one"
            ));
        }
        self.next[producer] = seq + 1;
    }

    fn verdict(&mut self, Verdict(answer): Verdict, _ctx: &mut Context<Self>) {
        let _ = answer.send(match self.fault.take() {
            Some(fault) => Err(fault),
            None => Ok(self.taken),
        });
    }
}

impl Actor for Checker {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::item).on(Self::verdict)
    }
}

/// One race: `PRODUCERS` threads send `per_producer` items each to a fresh
/// checker with a mailbox of `CAPACITY`, by `try_send` (retried until
/// admitted), `send_timeout` and `send` in turn. Then checks that no more
/// than `CAPACITY` ever waited and that every item is accounted for: taken
/// by the checker, or refused by `send` and counted as a dead letter.
pub fn race(system: &System, per_producer: u64) {
    let admitted = Arc::new(AtomicU64::new(0));
    let checker = Checker {
        admitted: admitted.clone(),
        taken: 0,
        next: [0; PRODUCERS],
        fault: None,
    };
    let checker = system
        .spawn_with(checker, SpawnOptions::new().mailbox(CAPACITY))
        .expect("a checker");
    let dead_before = system.dead_letters();
    let sent_blind = AtomicU64::new(0);
    std::thread::scope(|s| {
        for producer in 0..PRODUCERS {
            let (checker, admitted, sent_blind) = (&checker, &admitted, &sent_blind);
            s.spawn(move || produce(checker, producer, per_producer, admitted, sent_blind));
        }
    });
    let (answer, verdict) = crossbeam_channel::bounded(1);
    checker
        .send_timeout(Verdict(answer), WAIT)
        .unwrap_or_else(|_| panic!("no room for the verdict request within {WAIT:?}"));
    let taken = verdict
        .recv_timeout(WAIT)
        .expect("a verdict")
        .unwrap_or_else(|fault| panic!("{fault}"));
    let refused = system.dead_letters() - dead_before;
    let admitted = admitted.load(Ordering::SeqCst);
    let sent_blind = sent_blind.load(Ordering::SeqCst);
    assert_eq!(
        taken + refused,
        admitted + sent_blind,
        "items lost: {taken} taken + {refused} refused, of {admitted} admitted + {sent_blind} sent by `send`"
    );
    let info = checker.info();
    assert!(
        info.mailbox_high_water <= CAPACITY,
        "{} messages waited in a mailbox of {CAPACITY}",
        info.mailbox_high_water
    );
    checker.kill();
}

fn produce(
    checker: &ActorRef,
    producer: usize,
    per_producer: u64,
    admitted: &AtomicU64,
    sent_blind: &AtomicU64,
) {
    for seq in 0..per_producer {
        let item = Item { producer, seq };
        match seq % 3 {
            0 => {
                let mut item = item;
                loop {
                    match checker.try_send(item) {
                        Ok(()) => break,
                        Err(SendError::Full(back)) => {
                            item = back;
                            std::thread::yield_now();
                        }
                    }
                }
                admitted.fetch_add(1, Ordering::SeqCst);
            }
            1 => {
                if checker.send_timeout(item, WAIT).is_err() {
                    panic!("no room within {WAIT:?}: the checker stopped taking items");
                }
                admitted.fetch_add(1, Ordering::SeqCst);
            }
            _ => {
                // Admitted or a dead letter: the final count tells.
                checker.send(item);
                sent_blind.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}
