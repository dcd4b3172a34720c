//! No thread is leaked by a normal shutdown.
//!
//! This binary holds a single test on purpose: it counts the threads of the
//! whole process, which other tests running in parallel would disturb. It
//! runs on `Executor::Threads`, where each actor has a thread of its own.

use std::time::{Duration, Instant};

use ferrotp::{Actor, ActorRef, Context, Executor, Handlers, System};

const WAIT: Duration = Duration::from_secs(10);
const ACTORS: usize = 200;

/// The threads of this process, as the kernel lists them.
fn process_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task is readable (Linux)")
        .count()
}

/// Polls until the process is back to `baseline` threads or `WAIT` passes;
/// returns the last count. (A joined thread can linger in /proc for a
/// moment after `join` returns, so one look right away could be wrong.)
fn settle_to(baseline: usize) -> usize {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = process_threads();
        if now <= baseline || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Forwards a number along a ring of actors, adding one per hop; the last
/// one replies to whoever asked first.
struct Hop {
    next: Option<ActorRef>,
}
struct Pass {
    value: u64,
    reply_to: ActorRef,
}

impl Hop {
    fn pass(&mut self, Pass { value, reply_to }: Pass, ctx: &mut Context<Self>) {
        let value = value + 1;
        match &self.next {
            Some(next) => ctx.send(next, Pass { value, reply_to }),
            None => ctx.send(&reply_to, value),
        }
    }
    fn echo(&mut self, n: u64, ctx: &mut Context<Self>) {
        ctx.reply(n);
    }
}

impl Actor for Hop {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::pass).on(Self::echo)
    }
}

#[test]
fn a_normal_shutdown_leaks_no_thread() {
    let baseline = process_threads();

    let system = System::builder().executor(Executor::Threads).build();
    // A chain: each actor knows the next, so messages cross every thread.
    let mut next: Option<ActorRef> = None;
    let mut actors = Vec::with_capacity(ACTORS);
    for _ in 0..ACTORS {
        let actor = system.spawn(Hop { next: next.take() });
        next = Some(actor.clone());
        actors.push(actor);
    }
    assert_eq!(system.threads(), ACTORS);
    assert!(process_threads() >= baseline + ACTORS);

    let bridge = system.bridge();
    let head = actors.last().unwrap();
    let inbox = system.inbox();
    head.send(Pass {
        value: 0,
        reply_to: inbox.actor().clone(),
    });
    let hops: u64 = inbox
        .recv(WAIT)
        .expect("the message went round")
        .downcast()
        .unwrap();
    assert_eq!(hops, ACTORS as u64);
    for (n, actor) in actors.iter().enumerate() {
        let echoed: u64 = bridge.call(actor, n as u64, WAIT).unwrap();
        assert_eq!(echoed, n as u64);
    }

    system.shutdown(WAIT).unwrap();
    assert_eq!(system.threads(), 0);
    assert!(actors.iter().all(|a| !a.is_alive()));
    assert_eq!(settle_to(baseline), baseline, "threads leaked");

    // Dropping the last handles changes nothing.
    drop((bridge, inbox, actors, system));
    assert_eq!(settle_to(baseline), baseline, "threads leaked");
}
