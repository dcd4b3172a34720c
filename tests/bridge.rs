//! The Bridge: calls with their errors, multi_call and stop, results in
//! target order, and calls that never mix up their replies.

#[path = "common/bridge_service.rs"]
#[allow(dead_code)]
mod service;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ferrotp::{
    silence_actor_panics, Actor, ActorRef, CallError, Context, ExitReason, Handlers, SpawnOptions,
    Stop, Stopped, System,
};

use service::{assert_prompt, gatekeeper, Gated, Open, Req, Service, Unstoppable, LONG, WAIT};

/// A service that is already dead.
fn dead_service(system: &System) -> ActorRef {
    let actor = system.spawn(Service);
    let stopped = system.bridge().stop(std::slice::from_ref(&actor), WAIT);
    assert_eq!(
        stopped[0].as_ref().map(|s| &s.reason),
        Some(&ExitReason::Normal)
    );
    actor
}

/// Blocks in its handler until released, telling the test when it is in.
struct Stuck {
    entered: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
}
struct Hang;

impl Stuck {
    fn hang(&mut self, _: Hang, ctx: &mut Context<Self>) {
        let _ = self.entered.send(());
        let _ = self.release.recv_timeout(LONG);
        ctx.reply(0u64);
    }
}

impl Actor for Stuck {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::hang)
    }
}

/// Takes a while to stop, so that the others stop first.
struct SlowToStop;

impl Actor for SlowToStop {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
    }
    fn stopped(&mut self, _: &ExitReason, _: &mut Context<Self>) {
        thread::sleep(Duration::from_millis(200));
    }
}

/// `Some(Stopped { actor, reason })`, as `Bridge::stop` gives it.
fn stopped(actor: &ActorRef, reason: ExitReason) -> Option<Stopped> {
    Some(Stopped {
        actor: actor.id(),
        reason,
    })
}

/// Fails when told to stop.
struct RefusesStop;

impl Actor for RefusesStop {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(|_: &mut Self, _: Stop, _: &mut Context<Self>| Err("refused to stop"))
    }
}

/// Answers in ways that leave a call's reply address in use after the
/// call: it keeps the address, or answers twice.
#[derive(Default)]
struct Lingerer {
    kept: Option<ActorRef>,
}
/// Answer `n`, and keep the reply address.
struct Keep(u64);
/// Send `n` to the kept address.
struct Poke(u64);
/// Answer `n`, then `n + 100`.
struct Twice(u64);
/// Answer with the id of the reply address.
struct WhoAsks;
/// Keep the reply address, and answer with its id.
struct KeepAndSay;
/// Answer `()`: once it comes, every earlier handler has returned.
struct Settle;

impl Lingerer {
    fn keep(&mut self, Keep(n): Keep, ctx: &mut Context<Self>) {
        self.kept = ctx.sender().cloned();
        ctx.reply(n);
    }
    fn poke(&mut self, Poke(n): Poke, ctx: &mut Context<Self>) {
        if let Some(kept) = &self.kept {
            ctx.send(kept, n);
        }
    }
    fn twice(&mut self, Twice(n): Twice, ctx: &mut Context<Self>) {
        ctx.reply(n);
        ctx.reply(n + 100);
    }
    fn keep_and_say(&mut self, _: KeepAndSay, ctx: &mut Context<Self>) {
        self.kept = ctx.sender().cloned();
        ctx.reply(self.kept.as_ref().map(|s| s.id()));
    }
    fn who_asks(&mut self, _: WhoAsks, ctx: &mut Context<Self>) {
        let id = ctx.sender().map(|s| s.id());
        ctx.reply(id);
    }
    fn settle(&mut self, _: Settle, ctx: &mut Context<Self>) {
        ctx.reply(());
    }
}

impl Actor for Lingerer {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::keep)
            .on(Self::poke)
            .on(Self::twice)
            .on(Self::who_asks)
            .on(Self::keep_and_say)
            .on(Self::settle)
    }
}

ferrotp::on_each_executor! {
    /// A call watches its target without a monitor while it spins for the
    /// answer: looped, an answer given just before the end always wins,
    /// an end without an answer fails the call at once with the reason
    /// (not `NoProc`, not a timeout), and by then the target's name is free
    /// (as it is for a `Down`). A kill racing the call gives the answer,
    /// `Killed`, or `NoProc` if it came first; never a timeout.
    #[test]
    fn calls_racing_their_targets_end_fail_at_once_with_the_reason() {
        let system = new_system();
        let bridge = system.bridge();
        let named = || {
            system
                .spawn_with(Service, SpawnOptions::new().name("racing-service"))
                .expect("the name is free once the last call returned")
        };
        let gone = || CallError::Stopped(ExitReason::Error("gone".to_string()));
        for round in 0..2_000u64 {
            let started = Instant::now();
            let service = named();
            let answer: Result<u64, CallError> =
                bridge.call(&service, Req::DoubleThenDie(round), LONG);
            assert_eq!(answer, Ok(round * 2), "round {round}");
            // Its end may still be under way: the next spawn waits for it
            // through a call that fails on that end.
            let after: Result<u64, CallError> = bridge.call(&service, Req::Double(1), LONG);
            assert!(
                matches!(&after, Err(CallError::Stopped(r)) if *r == ExitReason::NoProc || *r == ExitReason::Error("gone".to_string())),
                "round {round}: {after:?}"
            );
            let service = named();
            let died: Result<u64, CallError> = bridge.call(&service, Req::Die, LONG);
            assert_eq!(died, Err(gone()), "round {round}");
            let service = named();
            let killer = {
                let service = service.clone();
                thread::spawn(move || service.kill())
            };
            let raced: Result<u64, CallError> = bridge.call(&service, Req::Double(round), LONG);
            // `NoProc`: the kill came before the call.
            let ended = |reason| raced == Err(CallError::Stopped(reason));
            assert!(
                raced == Ok(round * 2) || ended(ExitReason::Killed) || ended(ExitReason::NoProc),
                "round {round}: {raced:?}"
            );
            killer.join().unwrap();
            // Free the name for the next round (the kill may have come first).
            let _ = bridge.call::<u64, _>(&service, Req::Die, LONG);
            assert_prompt(started);
        }
    }

    #[test]
    fn an_actor_that_keeps_a_reply_address_never_answers_a_later_call() {
        let system = new_system();
        let bridge = system.bridge();
        let lingerer = system.spawn(Lingerer::default());
        for round in 0..200u64 {
            let first: u64 = bridge.call(&lingerer, Keep(round), WAIT).unwrap();
            assert_eq!(first, round);
            // Sent to the first call's address, racing with the next call.
            lingerer.send(Poke(999));
            let asked: Option<ferrotp::ActorId> = bridge.call(&lingerer, WhoAsks, WAIT).unwrap();
            let second: u64 = bridge.call(&lingerer, Twice(round), WAIT).unwrap();
            assert_eq!(second, round, "a stray message answered a call");
            let third: u64 = bridge.call(&lingerer, Keep(round + 1), WAIT).unwrap();
            assert_eq!(third, round + 1, "a stray message answered a call");
            assert!(asked.is_some());
        }
    }

    #[test]
    fn calls_in_a_row_share_a_reply_address_that_no_one_else_holds() {
        let system = new_system();
        let bridge = system.bridge();
        let lingerer = system.spawn(Lingerer::default());
        let inbox = system.inbox();
        let ask = || -> ferrotp::ActorId {
            let asked = bridge
                .call::<Option<ferrotp::ActorId>, _>(&lingerer, WhoAsks, WAIT)
                .unwrap()
                .expect("a call has a reply address");
            // The target's driver drops the request's sender as its handler
            // returns, which may be after the reply is read; once `Settle`
            // is answered it has, and nothing holds the address any more.
            inbox.send(&lingerer, Settle);
            inbox.recv(WAIT).expect("settled").downcast::<()>().expect("()");
            asked
        };
        // So calls in a row share one address.
        let mut asked: Vec<ferrotp::ActorId> = (0..20).map(|_| ask()).collect();
        asked.sort();
        asked.dedup();
        assert_eq!(asked.len(), 1, "a free address was not reused: {asked:?}");
        // Kept by the actor: no later call may ever have that address.
        let kept = bridge
            .call::<Option<ferrotp::ActorId>, _>(&lingerer, KeepAndSay, WAIT)
            .unwrap()
            .expect("a call has a reply address");
        for _ in 0..20 {
            assert_ne!(ask(), kept, "an address another holds was reused");
        }
    }

    #[test]
    fn call_returns_the_reply() {
        let system = new_system();
        let bridge = system.bridge();
        let service = system.spawn(Service);
        for n in 0..20u64 {
            let doubled: u64 = bridge.call(&service, Req::Double(n), WAIT).unwrap();
            assert_eq!(doubled, n * 2);
        }
    }

    #[test]
    fn call_reports_a_reply_of_the_wrong_type() {
        let system = new_system();
        let service = system.spawn(Service);
        let result: Result<u64, CallError> = system.bridge().call(&service, Req::WrongType, WAIT);
        assert_eq!(
            result,
            Err(CallError::WrongReplyType {
                expected: std::any::type_name::<u64>(),
                got: std::any::type_name::<&str>(),
            })
        );
        // The service is fine.
        let doubled: u64 = system
            .bridge()
            .call(&service, Req::Double(4), WAIT)
            .unwrap();
        assert_eq!(doubled, 8);
    }

    #[test]
    fn call_times_out_when_no_reply_comes() {
        let system = new_system();
        let service = system.spawn(Service);
        let timeout = Duration::from_millis(300);
        let started = Instant::now();
        let result: Result<u64, CallError> = system.bridge().call(&service, Req::Ignore, timeout);
        assert_eq!(result, Err(CallError::Timeout));
        assert!(started.elapsed() >= timeout, "gave up before the timeout");
        assert!(service.is_alive());
    }

    #[test]
    fn a_late_reply_never_answers_a_later_call() {
        let system = new_system();
        let bridge = system.bridge();
        let (keeper, open_gate, _entries) = gatekeeper(&system);

        let first: Result<u64, CallError> =
            bridge.call(&keeper, Gated(1), Duration::from_millis(100));
        assert_eq!(first, Err(CallError::Timeout));
        open_gate.send(()).unwrap();
        // The keeper answers the first request (late) before it even sees the
        // second one: a shared reply address would hand `1` to this call.
        let second: u64 = bridge.call(&keeper, Open(2), WAIT).unwrap();
        assert_eq!(second, 2);
        let third: u64 = bridge.call(&keeper, Open(3), WAIT).unwrap();
        assert_eq!(third, 3);
    }

    /// An answer no call takes (a second answer, one that came after its
    /// call timed out) is a dead letter, counted, not a message lost
    /// silently; the next call's answer is its own.
    #[test]
    fn answers_no_call_takes_are_counted_as_dead_letters() {
        let system = new_system();
        let bridge = system.bridge();
        let lingerer = system.spawn(Lingerer::default());
        for round in 0..200u64 {
            let before = system.dead_letters();
            let first: u64 = bridge.call(&lingerer, Twice(round), WAIT).unwrap();
            assert_eq!(first, round);
            // `round + 100` waits at the first call's address until the
            // next call finds it there, or drops it with the address.
            let next: u64 = bridge.call(&lingerer, Keep(round), WAIT).unwrap();
            assert_eq!(next, round, "round {round}: the second answer answered a call");
            assert_eq!(system.dead_letters(), before + 1, "round {round}");
        }

        let (keeper, open_gate, entries) = gatekeeper(&system);
        let late: Result<u64, CallError> =
            bridge.call(&keeper, Gated(1), Duration::from_millis(100));
        assert_eq!(late, Err(CallError::Timeout));
        entries.recv_timeout(WAIT).expect("the keeper took the request");
        let before = system.dead_letters();
        open_gate.send(()).unwrap();
        let answered: u64 = bridge.call(&keeper, Open(2), WAIT).unwrap();
        assert_eq!(answered, 2);
        // The keeper answered `1` before it took `Open(2)`: to the first
        // call's address, which the second call could not take (the keeper
        // held it) and so ended.
        assert_eq!(system.dead_letters(), before + 1);
    }

    #[test]
    fn a_call_to_an_actor_that_stops_without_replying_fails_at_once() {
        silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();

        let service = system.spawn(Service);
        let started = Instant::now();
        let result: Result<u64, CallError> = bridge.call(&service, Req::Die, LONG);
        assert_eq!(
            result,
            Err(CallError::Stopped(ExitReason::Error("gone".to_string())))
        );
        assert_prompt(started);

        let service = system.spawn(Service);
        let started = Instant::now();
        let result: Result<u64, CallError> = bridge.call(&service, Req::Panic, LONG);
        assert_eq!(
            result,
            Err(CallError::Stopped(ExitReason::Panic(
                "service panicked".to_string()
            )))
        );
        assert_prompt(started);
    }

    #[test]
    fn a_call_to_an_actor_killed_mid_call_fails_at_once() {
        let system = new_system();
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let stuck = system.spawn(Stuck {
            entered: entered_tx,
            release: release_rx,
        });
        // Once the call's request is being handled, kill the actor from
        // another thread.
        let killer = {
            let stuck = stuck.clone();
            thread::spawn(move || {
                entered
                    .recv_timeout(WAIT)
                    .expect("the call reached the actor");
                stuck.kill();
            })
        };
        let started = Instant::now();
        let result: Result<u64, CallError> = system.bridge().call(&stuck, Hang, LONG);
        assert_eq!(result, Err(CallError::Stopped(ExitReason::Killed)));
        assert_prompt(started);
        killer.join().unwrap();
        // Let the stuck thread end; its reply is discarded.
        let _ = release.send(());
        system.shutdown(WAIT).unwrap();
    }

    #[test]
    fn a_call_to_a_dead_actor_fails_with_noproc() {
        let system = new_system();
        let dead = dead_service(&system);
        let started = Instant::now();
        let result: Result<u64, CallError> = system.bridge().call(&dead, Req::Double(1), LONG);
        assert_eq!(result, Err(CallError::Stopped(ExitReason::NoProc)));
        assert_prompt(started);
    }

    #[test]
    fn multi_call_returns_results_in_target_order_with_mixed_outcomes() {
        silence_actor_panics();
        let system = new_system();
        let spawn = || system.spawn(Service);
        let fast = spawn();
        let requests = vec![
            // Answers last, but comes first.
            (spawn(), Req::SlowDouble(1, Duration::from_millis(200))),
            (fast.clone(), Req::Double(2)),
            (spawn(), Req::WrongType),
            (dead_service(&system), Req::Double(4)),
            (spawn(), Req::Die),
            (spawn(), Req::Panic),
            (spawn(), Req::Ignore),
            // The same target twice: each request has its own reply.
            (fast, Req::Double(8)),
        ];
        let timeout = Duration::from_secs(5);
        let started = Instant::now();
        let results: Vec<Result<u64, CallError>> = system.bridge().multi_call(requests, timeout);
        assert_eq!(
            results,
            vec![
                Ok(2),
                Ok(4),
                Err(CallError::WrongReplyType {
                    expected: std::any::type_name::<u64>(),
                    got: std::any::type_name::<&str>(),
                }),
                Err(CallError::Stopped(ExitReason::NoProc)),
                Err(CallError::Stopped(ExitReason::Error("gone".to_string()))),
                Err(CallError::Stopped(ExitReason::Panic(
                    "service panicked".to_string()
                ))),
                Err(CallError::Timeout),
                Ok(16),
            ]
        );
        // One timeout for all, not one per target.
        assert!(started.elapsed() >= timeout);
        assert!(
            started.elapsed() < timeout * 2,
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn stop_returns_stopped_in_target_order() {
        let system = new_system();
        let actors = [
            system.spawn(SlowToStop),
            system.spawn(Service),
            system.spawn(Service),
        ];
        let result = system.bridge().stop(&actors, WAIT);
        assert_eq!(
            result,
            vec![
                stopped(&actors[0], ExitReason::Normal),
                stopped(&actors[1], ExitReason::Normal),
                stopped(&actors[2], ExitReason::Normal),
            ]
        );
        assert!(actors.iter().all(|a| !a.is_alive()));
    }

    #[test]
    fn stop_reports_dead_and_failing_actors_in_target_order() {
        let system = new_system();
        let alive = system.spawn(Service);
        let dead = dead_service(&system);
        let failing = system.spawn(RefusesStop);
        let actors = [alive.clone(), dead.clone(), failing.clone()];
        let result = system.bridge().stop(&actors, WAIT);
        assert_eq!(
            result,
            vec![
                stopped(&alive, ExitReason::Normal),
                stopped(&dead, ExitReason::NoProc),
                stopped(&failing, ExitReason::Error("refused to stop".to_string())),
            ]
        );
    }

    #[test]
    fn stop_answers_actors_listed_twice_killed_first_or_of_another_system() {
        let system = new_system();
        let other = new_system();
        let twice = system.spawn(Service);
        let foreign = other.spawn(Service);
        // Busy when its `Stop` arrives, and killed before it takes it: it
        // never answers; its end is found all the same.
        let (entered, in_handler) = mpsc::channel();
        let (release, released) = mpsc::channel();
        let busy = system.spawn(Stuck {
            entered,
            release: released,
        });
        busy.send(Hang);
        in_handler.recv_timeout(WAIT).unwrap();
        // Named, and ends without answering: its name is free on return.
        let refuses = system
            .spawn_with(RefusesStop, SpawnOptions::new().name("refuses"))
            .unwrap();
        let bridge = system.bridge();
        let actors = [
            twice.clone(),
            busy.clone(),
            foreign.clone(),
            refuses.clone(),
            twice.clone(),
        ];
        let killer = {
            let busy = busy.clone();
            thread::spawn(move || {
                // Its `Stop` waits behind the stuck handler; kill it there.
                while busy.info().mailbox_len == 0 {
                    thread::yield_now();
                }
                busy.kill();
                let _ = release.send(());
            })
        };
        let started = Instant::now();
        let result = bridge.stop(&actors, WAIT);
        assert_prompt(started);
        killer.join().unwrap();
        assert_eq!(
            result,
            vec![
                stopped(&twice, ExitReason::Normal),
                stopped(&busy, ExitReason::Killed),
                stopped(&foreign, ExitReason::Normal),
                stopped(&refuses, ExitReason::Error("refused to stop".to_string())),
                stopped(&twice, ExitReason::Normal),
            ]
        );
        assert_eq!(system.whereis("refuses"), None);
        assert!(actors.iter().all(|a| !a.is_alive()));
    }

    #[test]
    fn stop_gives_none_for_an_actor_that_ignores_stop() {
        let system = new_system();
        let unstoppable = system.spawn(Unstoppable);
        let normal = system.spawn(Service);
        let timeout = Duration::from_secs(2);
        let started = Instant::now();
        let result = system
            .bridge()
            .stop(&[unstoppable.clone(), normal.clone()], timeout);
        assert_eq!(result, vec![None, stopped(&normal, ExitReason::Normal)]);
        assert!(started.elapsed() >= timeout, "gave up before the timeout");
        assert!(unstoppable.is_alive());
        system.shutdown(WAIT).unwrap();
        assert!(!unstoppable.is_alive());
    }
}
