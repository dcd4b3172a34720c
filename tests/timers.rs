//! Timers (issue 3, semantics 10): `send_after` delivers once, after at
//! least its delay; a cancelled timer never delivers; the timers of a
//! terminated actor are dropped; a system has at most one timer thread.
//!
//! That something does *not* arrive is proved by a later timer that does:
//! the timer thread delivers in deadline order, so when the later one is
//! here, the earlier one would have been too.

use std::any::type_name;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ferrotp::{Actor, ActorRef, Context, Down, ExitReason, Handlers, Inbox, TimerRef};

const WAIT: Duration = Duration::from_secs(10);

/// Every test here holds this lock for its whole run, so that the timer
/// thread count sees only the systems of the test that counts.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, PartialEq)]
struct Tick(u32);

fn next<T: 'static>(inbox: &Inbox) -> T {
    let envelope = inbox
        .recv(WAIT)
        .unwrap_or_else(|_| panic!("no {} within {WAIT:?}", type_name::<T>()));
    let got = envelope.type_name();
    envelope
        .downcast::<T>()
        .unwrap_or_else(|_| panic!("expected a {}, got a {got}", type_name::<T>()))
}

/// Schedules timers from inside an actor, on request.
struct Scheduler;

struct After {
    delay: Duration,
    to: ActorRef,
    tick: Tick,
}
struct Cancel(TimerRef);
struct AfterThenStop(After);

impl Scheduler {
    fn after(&mut self, After { delay, to, tick }: After, ctx: &mut Context<Self>) {
        let timer = ctx.send_after(delay, &to, tick);
        ctx.reply(timer);
    }
    fn after_then_stop(&mut self, AfterThenStop(after): AfterThenStop, ctx: &mut Context<Self>) {
        self.after(after, ctx);
        ctx.stop(ExitReason::Normal);
    }
    fn cancel(&mut self, Cancel(timer): Cancel, ctx: &mut Context<Self>) {
        let cancelled = ctx.cancel_timer(timer);
        ctx.reply(cancelled);
    }
}

impl Actor for Scheduler {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::after)
            .on(Self::after_then_stop)
            .on(Self::cancel)
    }
}

/// The threads of this process whose name is `name` (as Linux stores it:
/// at most 15 bytes).
fn threads_named(name: &str) -> usize {
    let stored = &name[..name.len().min(15)];
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == stored)
        .count()
}

/// Waits until `condition` holds, checking it again and again for up to
/// `WAIT`; says whether it did.
fn eventually(condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::yield_now();
    }
    condition()
}

ferrotp::on_each_executor! {
    #[test]
    fn send_after_delivers_once_after_at_least_the_delay() {
        let _serial = serial();
        let system = new_system();
        let inbox = system.inbox();
        let delay = Duration::from_millis(150);
        let start = Instant::now();
        system.send_after(delay, inbox.actor(), Tick(1));
        // The sentinel proves that nothing else came, in particular not a
        // second copy of the first tick.
        system.send_after(delay * 2, inbox.actor(), Tick(2));
        assert_eq!(next::<Tick>(&inbox), Tick(1));
        assert!(
            start.elapsed() >= delay,
            "delivered after {:?}",
            start.elapsed()
        );
        assert_eq!(next::<Tick>(&inbox), Tick(2));
        assert!(start.elapsed() >= delay * 2);
        assert!(inbox.try_recv().is_none());
    }

    #[test]
    fn send_after_from_an_actor_names_it_as_the_sender() {
        let _serial = serial();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let scheduler = system.spawn(Scheduler);
        let delay = Duration::from_millis(100);
        let start = Instant::now();
        let _: TimerRef = bridge
            .call(
                &scheduler,
                After {
                    delay,
                    to: inbox.actor().clone(),
                    tick: Tick(7),
                },
                WAIT,
            )
            .unwrap();
        let envelope = inbox.recv(WAIT).expect("the tick");
        assert!(start.elapsed() >= delay);
        assert_eq!(envelope.sender(), Some(&scheduler));
        assert_eq!(envelope.downcast::<Tick>().unwrap(), Tick(7));
    }

    #[test]
    fn timers_fire_in_deadline_order_not_scheduling_order() {
        let _serial = serial();
        let system = new_system();
        let inbox = system.inbox();
        // Far apart, so that no stall of this thread between two calls can
        // reorder the deadlines.
        for (i, ms) in [(3, 450), (1, 150), (2, 300)] {
            system.send_after(Duration::from_millis(ms), inbox.actor(), Tick(i));
        }
        let got: Vec<Tick> = (0..3).map(|_| next::<Tick>(&inbox)).collect();
        assert_eq!(got, vec![Tick(1), Tick(2), Tick(3)]);
    }

    #[test]
    fn a_cancelled_timer_never_delivers() {
        let _serial = serial();
        let system = new_system();
        let inbox = system.inbox();
        // Long enough that it cannot fire before the cancel on a loaded machine.
        let cancelled = system.send_after(Duration::from_millis(400), inbox.actor(), Tick(1));
        system.send_after(Duration::from_millis(600), inbox.actor(), Tick(2));
        assert!(system.cancel_timer(cancelled), "cancelled before it fired");
        assert!(!system.cancel_timer(cancelled), "a timer is cancelled once");
        // Tick(1) was due 200 ms before Tick(2).
        assert_eq!(next::<Tick>(&inbox), Tick(2));
        assert!(inbox.try_recv().is_none());

        // Cancelling a timer that fired says so.
        let fired = system.send_after(Duration::from_millis(10), inbox.actor(), Tick(3));
        assert_eq!(next::<Tick>(&inbox), Tick(3));
        assert!(!system.cancel_timer(fired));
    }

    #[test]
    fn an_actor_cancels_its_own_timer() {
        let _serial = serial();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let scheduler = system.spawn(Scheduler);
        let schedule = |ms: u64, tick: u32| -> TimerRef {
            let after = After {
                delay: Duration::from_millis(ms),
                to: inbox.actor().clone(),
                tick: Tick(tick),
            };
            bridge.call(&scheduler, after, WAIT).unwrap()
        };
        let doomed = schedule(400, 1);
        schedule(600, 2);
        let cancelled: bool = bridge.call(&scheduler, Cancel(doomed), WAIT).unwrap();
        assert!(cancelled);
        assert_eq!(next::<Tick>(&inbox), Tick(2));
        assert!(inbox.try_recv().is_none());
    }

    #[test]
    fn the_timers_of_a_terminated_actor_are_dropped() {
        let _serial = serial();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let scheduler = system.spawn(Scheduler);
        let monitor = inbox.monitor(&scheduler);
        // The actor schedules its timer and terminates in the same handler,
        // long before the timer is due.
        let after = After {
            delay: Duration::from_millis(300),
            to: inbox.actor().clone(),
            tick: Tick(1),
        };
        let _: TimerRef = bridge.call(&scheduler, AfterThenStop(after), WAIT).unwrap();
        // The sentinel is due after the actor's timer.
        system.send_after(Duration::from_millis(600), inbox.actor(), Tick(2));
        assert_eq!(next::<Down>(&inbox).monitor, monitor);
        assert_eq!(
            next::<Tick>(&inbox),
            Tick(2),
            "the dead actor's timer fired"
        );
        assert!(inbox.try_recv().is_none());
    }

    #[test]
    fn a_timer_to_a_dead_actor_is_a_dead_letter_not_a_crash() {
        let _serial = serial();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let target = system.spawn(Scheduler);
        bridge.stop(std::slice::from_ref(&target), WAIT);
        let before = system.dead_letters();
        system.send_after(Duration::from_millis(20), &target, Tick(1));
        system.send_after(Duration::from_millis(300), inbox.actor(), Tick(2));
        assert_eq!(next::<Tick>(&inbox), Tick(2));
        assert_eq!(system.dead_letters(), before + 1);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_system_has_at_most_one_timer_thread() {
        let _serial = serial();
        // Every other test in this binary has dropped its systems, which joins
        // their timer threads, before releasing the lock; a joined thread can
        // stay listed in /proc for a moment while it exits.
        assert!(eventually(|| threads_named("ferrotp-timers") == 0));
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        // Started on first use, not before.
        assert_eq!(threads_named("ferrotp-timers"), 0);

        const TIMERS: u32 = 1_000;
        let schedulers: Vec<ActorRef> = (0..10).map(|_| system.spawn(Scheduler)).collect();
        for i in 0..TIMERS {
            let delay = Duration::from_millis(u64::from(i % 50));
            if i % 2 == 0 {
                system.send_after(delay, inbox.actor(), Tick(i));
            } else {
                let after = After {
                    delay,
                    to: inbox.actor().clone(),
                    tick: Tick(i),
                };
                let _: TimerRef = bridge
                    .call(&schedulers[i as usize % schedulers.len()], after, WAIT)
                    .unwrap();
            }
        }
        let mut seen = vec![false; TIMERS as usize];
        for _ in 0..TIMERS {
            let Tick(i) = next::<Tick>(&inbox);
            assert!(!seen[i as usize], "tick {i} twice");
            seen[i as usize] = true;
        }
        // Counted once timers were delivered: a new thread bears its creator's
        // name until it has run far enough to set its own.
        assert_eq!(threads_named("ferrotp-timers"), 1);

        // A second system has its own, one.
        let other = new_system();
        let other_inbox = other.inbox();
        for i in 0..100 {
            other.send_after(Duration::from_millis(1), other_inbox.actor(), Tick(i));
        }
        for _ in 0..100 {
            next::<Tick>(&other_inbox);
        }
        assert_eq!(threads_named("ferrotp-timers"), 2);
    }
}
