//! A guided run through ferrotp: spawn, messages, a call through the
//! Bridge, a panic turned into `Stopped`, a link firing, a monitor's
//! `Down`, a name, and a supervisor restarting what crashed.
//!
//! `cargo run --release --example tour`

use std::time::Duration;

use ferrotp::{Actor, Context, Down, ExitReason, Handlers, SpawnOptions, Stopped, System};
use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorEvent, SupervisorSpec};

const WAIT: Duration = Duration::from_secs(5);

/// A counter that can be told to crash.
struct Counter {
    total: i64,
}

struct Add(i64);
struct Total;
struct Crash;

impl Counter {
    fn add(&mut self, Add(n): Add, _ctx: &mut Context<Self>) {
        self.total += n;
    }

    fn total(&mut self, _: Total, ctx: &mut Context<Self>) {
        ctx.reply(self.total);
    }

    fn crash(&mut self, _: Crash, _ctx: &mut Context<Self>) {
        panic!("asked to crash with total {}", self.total);
    }
}

impl Actor for Counter {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::add)
            .on(Self::total)
            .on(Self::crash)
    }
}

/// Links itself to a counter and does not trap exits: it dies with it.
struct Sidekick {
    partner: ferrotp::ActorRef,
}

impl Actor for Sidekick {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.link(&self.partner);
        Ok(())
    }

    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        println!(
            "   sidekick {} stops too, reason: {reason}",
            ctx.myself().id()
        );
    }
}

fn step(title: &str) {
    println!();
    println!("== {title}");
}

fn main() {
    // Panics in actors are caught and reported as exit reasons; keep the
    // default hook from also printing them.
    ferrotp::silence_actor_panics();
    let system = System::new();
    let bridge = system.bridge();

    step("spawn an actor and send it messages");
    let counter = system.spawn(Counter { total: 0 });
    for n in 1..=4 {
        counter.send(Add(n));
    }
    println!("   spawned counter {}, sent Add(1..=4)", counter.id());

    step("call it through the Bridge");
    let total: i64 = bridge
        .call(&counter, Total, WAIT)
        .expect("the counter answers");
    println!("   Total -> {total}");

    step("give it a name");
    system
        .register("counter", &counter)
        .expect("the name is free");
    system
        .send_named("counter", Add(10))
        .expect("it is registered");
    let total: i64 = bridge
        .call(&counter, Total, WAIT)
        .expect("the counter answers");
    println!(
        "   whereis(\"counter\") = {:?}, Total -> {total}",
        system.whereis("counter").map(|a| a.id())
    );

    step("a panic becomes an exit reason; a link carries it, a monitor reports it");
    // `await_started`: the sidekick has linked itself when spawn returns.
    let sidekick = system
        .spawn_with(
            Sidekick {
                partner: counter.clone(),
            },
            SpawnOptions::new().await_started(),
        )
        .expect("the sidekick starts");
    let watcher = system.inbox();
    watcher.link(&counter); // the inbox traps exits: it gets `Stopped`
    let monitor = bridge.monitor(&sidekick);
    counter.send(Crash);
    let stopped: Stopped = watcher
        .recv(WAIT)
        .expect("linked")
        .downcast()
        .expect("a Stopped");
    println!(
        "   linked inbox received Stopped {{ actor: {}, reason: {} }}",
        stopped.actor, stopped.reason
    );
    let down: Down = bridge
        .recv(WAIT)
        .expect("monitored")
        .downcast()
        .expect("a Down");
    println!(
        "   monitor on the sidekick fired: Down {{ actor: {}, reason: {} }}",
        down.actor, down.reason
    );
    assert_eq!(down.monitor, monitor);
    println!(
        "   the name was freed: whereis(\"counter\") = {:?}",
        system.whereis("counter")
    );

    step("a supervisor restarts what crashed");
    let events = system.subscribe();
    let spec = SupervisorSpec::one_for_one()
        .intensity(3, Duration::from_secs(5))
        .child(ChildSpec::worker("counter", || Counter { total: 0 }).name("counter"))
        .child(ChildSpec::worker("spare", || Counter { total: 0 }));
    let supervisor = Supervisor::start(&system, spec).expect("the tree starts");
    let first = system
        .whereis("counter")
        .expect("registered by its supervisor");
    first.send(Add(7));
    first.send(Crash);
    let restarted = events
        .wait_for(WAIT, |e| e.custom::<SupervisorEvent>().is_some())
        .expect("the supervisor reports the restart");
    println!(
        "   {:?}",
        restarted
            .custom::<SupervisorEvent>()
            .expect("a supervisor event")
    );
    let again = system.whereis("counter").expect("registered again");
    let total: i64 = bridge
        .call(&again, Total, WAIT)
        .expect("the new counter answers");
    println!(
        "   counter {} crashed; {} took its name with a fresh state: Total -> {total}",
        first.id(),
        again.id()
    );
    for line in supervisor.tree().expect("the supervisor answers").lines() {
        println!("   {line}");
    }
    supervisor.stop(WAIT).expect("the tree stops");

    step("stop actors through the Bridge");
    let a = system.spawn(Counter { total: 0 });
    let b = system.spawn(Counter { total: 0 });
    println!("   {:?}", bridge.stop(&[a, b], WAIT));

    step("shut the system down");
    match system.shutdown(WAIT) {
        Ok(()) => println!(
            "   every actor stopped, every thread joined; dead letters: {}",
            system.dead_letters()
        ),
        Err(error) => println!("   {error}"),
    }
}
