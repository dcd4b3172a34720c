//! Timers (issue 3, semantics 10): `send_after` delivers once, after at
//! least its delay; a cancelled timer never delivers; the timers of a
//! terminated actor are dropped; a system has at most one timer thread.
//!
//! That something does *not* arrive is proved by a later timer that does:
//! the timer thread delivers in deadline order, so when the later one is
//! here, the earlier one would have been too.

#[path = "common/receive.rs"]
#[allow(dead_code)]
mod receive;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ferrotp::{Actor, ActorRef, Context, Down, ExitReason, Handlers, TimerRef};
use receive::next;

const WAIT: Duration = Duration::from_secs(10);

/// Every test here holds this lock for its whole run, so that the timer
/// thread count sees only the systems of the test that counts.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, PartialEq)]
struct Tick(u32);

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
            .on(Self::arm_counted)
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

    #[test]
    fn a_payload_that_panics_when_dropped_never_stops_the_timer_thread() {
        let _serial = serial();
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();

        // To a dead target: the message is a dead letter, dropped.
        let dead = system.spawn(Scheduler);
        bridge.stop(std::slice::from_ref(&dead), WAIT);
        system.send_after(Duration::from_millis(1), &dead, Bomb);
        system.send_after(Duration::from_millis(100), inbox.actor(), Tick(1));
        assert_eq!(next::<Tick>(&inbox), Tick(1));

        // For an owner that terminated: dropped unsent.
        let owner = system.spawn(BombThrower);
        let monitor = inbox.monitor(&owner);
        let _: TimerRef = bridge.call(&owner, ArmBombThenStop(inbox.actor().clone()), WAIT).unwrap();
        assert_eq!(next::<Down>(&inbox).monitor, monitor);
        system.send_after(Duration::from_millis(100), inbox.actor(), Tick(2));
        assert_eq!(next::<Tick>(&inbox), Tick(2));

        // Cancelled: the caller does not get the panic either.
        let cancelled = system.send_after(Duration::from_secs(3600), &dead, Bomb);
        assert!(system.cancel_timer(cancelled));
        system.send_after(Duration::from_millis(1), inbox.actor(), Tick(3));
        assert_eq!(next::<Tick>(&inbox), Tick(3));
        assert!(inbox.try_recv().is_none());
    }

    #[test]
    fn a_terminated_owners_timers_are_freed_at_once() {
        let _serial = serial();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let drops = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let owner = system.spawn(Scheduler);
        let monitor = inbox.monitor(&owner);
        let after = After {
            delay: Duration::from_secs(3600),
            to: inbox.actor().clone(),
            tick: Tick(0),
        };
        let _: TimerRef = bridge.call(&owner, after, WAIT).unwrap();
        let counted = ArmCounted {
            to: inbox.actor().clone(),
            counter: Counted(drops.clone()),
        };
        let _: TimerRef = bridge.call(&owner, counted, WAIT).unwrap();
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 0);
        bridge.stop(std::slice::from_ref(&owner), WAIT);
        // Dropped before the world hears of the end, not in an hour.
        assert_eq!(next::<Down>(&inbox).monitor, monitor);
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 1);

        // A cancelled timer's message is dropped by the cancel.
        let cancelled = system.send_after(
            Duration::from_secs(3600),
            inbox.actor(),
            Counted(drops.clone()),
        );
        assert!(system.cancel_timer(cancelled));
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn arming_and_cancelling_timers_runs_in_flat_memory() {
        let _serial = serial();
        let system = new_system();
        let bridge = system.bridge();
        let churner = system.spawn(Churner);
        // Warm up: the tables reach their working size.
        let _: u32 = bridge.call(&churner, Churn(50_000), WAIT).unwrap();
        let before = resident_bytes();
        const CYCLES: u32 = 500_000;
        let done: u32 = bridge
            .call(&churner, Churn(CYCLES), Duration::from_secs(120))
            .unwrap();
        assert_eq!(done, CYCLES);
        let grown = resident_bytes().saturating_sub(before);
        // Unbounded, 500k cycles kept 24 bytes each (12 MB); allow a third.
        assert!(
            grown < 4 << 20,
            "resident memory grew by {grown} bytes over {CYCLES} arm/cancel cycles"
        );
    }

    #[test]
    fn exit_or_kill_kills_a_busy_actor_at_its_deadline_though_the_asker_was_killed() {
        let _serial = serial();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let busy = system.spawn(Busy(Mutex::new(Some(held))));
        let (entered_tx, entered) = std::sync::mpsc::channel();
        busy.send(Hold(entered_tx));
        // Inside its handler before the exit signal comes: a signal that
        // came first would take effect before `Hold` (it is not trapped).
        entered.recv_timeout(WAIT).expect("busy takes Hold");
        let monitor = inbox.monitor(&busy);
        let asker = system.spawn(Asker);
        let start = Instant::now();
        let timeout = Duration::from_millis(300);
        let _: TimerRef = bridge.call(&asker, AskToExit(busy.clone(), timeout), WAIT).unwrap();
        asker.kill();
        let down = next::<Down>(&inbox);
        assert_eq!(down.monitor, monitor);
        assert_eq!(down.reason, ExitReason::Killed);
        assert!(start.elapsed() >= timeout, "killed after {:?}", start.elapsed());
        drop(release);
    }

    #[test]
    fn exit_or_kill_lets_an_actor_that_exits_in_time_end_with_the_reason() {
        let _serial = serial();
        let system = new_system();
        let inbox = system.inbox();
        let target = system.spawn(Scheduler);
        let monitor = inbox.monitor(&target);
        target.exit_or_kill(ExitReason::Shutdown, Duration::from_millis(200));
        let down = next::<Down>(&inbox);
        assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Shutdown));
        // The kill went with the actor: nothing is left to fire or cancel.
        system.send_after(Duration::from_millis(400), inbox.actor(), Tick(1));
        assert_eq!(next::<Tick>(&inbox), Tick(1));
        assert!(inbox.try_recv().is_none());
    }
}

/// Panics when dropped.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("Bomb dropped");
    }
}

/// Arms a `Bomb` for an hour from now, then stops.
struct BombThrower;
struct ArmBombThenStop(ActorRef);

impl Actor for BombThrower {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(
            |_: &mut Self, ArmBombThenStop(to), ctx: &mut Context<Self>| {
                let timer = ctx.send_after(Duration::from_secs(3600), &to, Bomb);
                ctx.reply(timer);
                ctx.stop(ExitReason::Normal);
            },
        )
    }
}

/// Counts its drops.
struct Counted(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

struct ArmCounted {
    to: ActorRef,
    counter: Counted,
}

impl Scheduler {
    fn arm_counted(&mut self, ArmCounted { to, counter }: ArmCounted, ctx: &mut Context<Self>) {
        let timer = ctx.send_after(Duration::from_secs(3600), &to, counter);
        ctx.reply(timer);
    }
}

/// Arms and cancels n one-hour timers to itself, one at a time.
struct Churner;
struct Churn(u32);

impl Actor for Churner {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|_: &mut Self, Churn(n), ctx: &mut Context<Self>| {
            let me = ctx.myself().clone();
            for i in 0..n {
                let timer = ctx.send_after(Duration::from_secs(3600), &me, Tick(i));
                assert!(ctx.cancel_timer(timer));
            }
            ctx.reply(n);
        })
    }
}

/// This process's resident set in bytes.
#[cfg(target_os = "linux")]
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("statm's resident field");
    pages * 4096
}

/// Blocks in its handler until the test lets go (or drops the sender).
struct Busy(Mutex<Option<std::sync::mpsc::Receiver<()>>>);
/// Holds the actor in its handler; says when it is in.
struct Hold(std::sync::mpsc::Sender<()>);

impl Actor for Busy {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|busy: &mut Self, Hold(entered), _ctx: &mut Context<Self>| {
            let _ = entered.send(());
            let held = busy.0.lock().unwrap().take();
            if let Some(held) = held {
                let _ = held.recv_timeout(WAIT);
            }
        })
    }
}

/// Asks another actor to exit, with a deadline.
struct Asker;
struct AskToExit(ActorRef, Duration);

impl Actor for Asker {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(
            |_: &mut Self, AskToExit(to, timeout), ctx: &mut Context<Self>| {
                let kill = ctx.exit_or_kill(&to, ExitReason::Shutdown, timeout);
                ctx.reply(kill);
            },
        )
    }
}
