use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::*;
use crate::{Actor, Context, Executor, Handlers, System};

const WAIT: Duration = Duration::from_secs(10);

/// Waits (bounded) until `done` holds.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A watch of the test's own, apart from the process's: only the test's
/// registrations are in it.
fn private_watch() -> Arc<Watch> {
    Watch::new()
}

fn has_thread(watch: &Watch) -> bool {
    watch.state().unparker.is_some()
}

#[test]
fn the_watch_parks_unless_a_handler_is_to_be_timed() {
    let watch = private_watch();
    // No thread until there is one to watch.
    assert!(!has_thread(&watch));
    let threshold = Duration::from_millis(20);
    let registration = watch.register(threshold);
    let watched = registration.watched();
    watched.handler_started();
    // It ticks while the handler runs, flags it once it has run the
    // threshold, and parks again: the flagged handler's end is the thread's
    // to tell. So seeing it parked means the handler was flagged.
    wait_until("the watch flags the handler and parks", || {
        watch.asleep.load(Ordering::SeqCst)
    });
    let elapsed = watched
        .handler_ended()
        .expect("the handler was flagged long");
    assert!(elapsed >= threshold, "{elapsed:?}");
    // The thread is between handlers: the watch, woken by the flagged
    // handler's end, times it again. In a wait the runtime knows of, it
    // has nothing to time and parks, and the wait does not count.
    watched.handler_started();
    waiting(|| {
        wait_until("the watch parks while its only thread waits", || {
            watch.asleep.load(Ordering::SeqCst)
        })
    });
    assert_eq!(watched.handler_ended(), None, "the wait counted");
    drop(registration);
    assert!(watch.state().threads.is_empty());
    // With no thread to watch, the watch thread leaves.
    wait_until("the watch thread leaves", || !has_thread(&watch));
    // With its registration gone, this thread's waits touch no watch.
    assert!(!with_current(|_| ()));
}

#[test]
fn a_wait_on_an_unwatched_thread_is_just_the_wait() {
    assert_eq!(waiting(|| 7), 7);
}

#[test]
fn a_wait_in_a_thread_locals_destructor_is_just_the_wait() {
    /// Waits when its thread's locals are destroyed, possibly after
    /// `CURRENT` (their order is not specified).
    struct WaitsWhenDropped(Option<std::sync::mpsc::Sender<u32>>);
    impl Drop for WaitsWhenDropped {
        fn drop(&mut self) {
            let answer = waiting(|| 7);
            if let Some(tell) = self.0.take() {
                let _ = tell.send(answer);
            }
        }
    }
    thread_local! {
        static LAST: RefCell<Option<WaitsWhenDropped>> = const { RefCell::new(None) };
    }
    let (tell, told) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Set first, so destroyed last (thread-locals go in the reverse of
        // their first use on Linux): after `CURRENT`, which a registration
        // uses.
        LAST.with(|last| *last.borrow_mut() = Some(WaitsWhenDropped(Some(tell))));
        drop(private_watch().register(Duration::from_secs(60)));
    })
    .join()
    .expect("the thread ends without a panic");
    assert_eq!(told.recv_timeout(WAIT), Ok(7));
}

struct Echo;

impl Echo {
    fn echo(&mut self, n: u32, ctx: &mut Context<Self>) {
        ctx.reply(n);
    }
}

impl Actor for Echo {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::echo)
    }
}

/// The process's watch holds the registrations of every test's dedicated
/// threads; this test's are told by their system's threshold, which no
/// other system in the tests uses.
const TAG: Duration = Duration::from_millis(7_321);

fn registered_with_tag() -> usize {
    watch()
        .state()
        .threads
        .values()
        .filter(|entry| entry.watched.threshold == TAG)
        .count()
}

#[test]
fn dedicated_threads_leave_the_watch_when_they_end() {
    for round in 0..5 {
        let system = System::builder()
            .executor(Executor::Threads)
            .long_handler(TAG)
            .build();
        let bridge = system.bridge();
        let actors: Vec<_> = (0..100).map(|_| system.spawn(Echo)).collect();
        for (n, actor) in actors.iter().enumerate() {
            let n = n as u32;
            assert_eq!(bridge.call::<u32, _>(actor, n, WAIT), Ok(n));
        }
        // Each answered, so each registered (before its `started` hook).
        assert_eq!(registered_with_tag(), 100, "round {round}");
        let stopped = bridge.stop(&actors, WAIT);
        assert!(stopped.iter().all(Option::is_some), "round {round}");
        // Shutdown joins the threads, and each leaves the watch before it
        // ends.
        system.shutdown(WAIT).unwrap();
        assert_eq!(registered_with_tag(), 0, "round {round}");
    }
}
