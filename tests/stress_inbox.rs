//! Stress of plain code talking to actors through an [`Inbox`], on both
//! executors: each scenario loops for `FERROTP_STRESS_SECS` seconds
//! (default 3) and fails on the first breach. Ignored by default:
//!
//! ```text
//! FERROTP_STRESS_SECS=10 cargo test --release --test stress_inbox -- --ignored stress
//! ```
//!
//! On the pool, `Inbox::send` to an idle actor while a worker searches
//! hands the actor and the message to that worker, which puts the message
//! in the mailbox itself; until it has, mail sent after it (by the same
//! thread, by another thread it told, a signal, a call) must wait for it.
//! These loops send that way among every other way in, with pauses that
//! find workers spinning, yielding or parked, and read one inbox from
//! several threads while actors answer, end and the inbox goes away.
//!
//! On threads, a request from plain code to an idle dedicated actor waits
//! in the lane in front of its mailbox, as an answer to an inbox does:
//! the same loops send that way. Requests racing an actor's end are in
//! `stress_inbox_ends.rs`.

#[path = "common/budget.rs"]
mod budget;
#[allow(dead_code)]
mod common;
#[path = "common/inbox_server.rs"]
mod inbox_server;

use std::collections::HashSet;
use std::sync::{mpsc, Arc};

use budget::{for_budget, pause};
use common::WAIT;
use ferrotp::{Actor, ActorRef, Context, Down, ExitReason, Handlers, Inbox, Stop, Stopped, System};
use inbox_server::{systems, AnswerThenEnd, Echo, Server, Tally};

/// The `n`-th step of a sequence the recorder checks.
struct Step(u64);

/// Send `count` numbered messages to `to`, tagged `from`, with an exit
/// signal in place of every `exit_every`-th (its reason carries the number).
struct Stream {
    to: ActorRef,
    from: u64,
    count: u64,
    exit_every: u64,
}

/// Streams numbered mail to an inbox.
struct Streamer;

impl Streamer {
    fn stream(&mut self, stream: Stream, ctx: &mut Context<Self>) {
        for n in 0..stream.count {
            if stream.exit_every > 0 && n % stream.exit_every == 0 {
                let text = format!("{} {n}", stream.from);
                ctx.exit(&stream.to, ExitReason::Error(text));
            } else {
                ctx.send(&stream.to, (stream.from, n));
            }
        }
    }
}

impl Actor for Streamer {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::stream)
    }
}

/// Checks that the steps it gets come one after the other, however they
/// were sent (a message, a call, a trapped exit signal).
#[derive(Default)]
struct Recorder {
    next: u64,
    breach: Option<String>,
}

impl Recorder {
    fn see(&mut self, n: u64) {
        if self.breach.is_none() && n != self.next {
            self.breach = Some(format!("step {n} came when {} was due", self.next));
        }
        self.next = n + 1;
    }

    fn step(&mut self, Step(n): Step, ctx: &mut Context<Self>) {
        self.see(n);
        // A call's request expects an answer; a plain message ignores it.
        if ctx.sender().is_some() {
            ctx.reply(n);
        }
    }

    fn stopped(&mut self, stopped: Stopped, _ctx: &mut Context<Self>) {
        // The steps' exit signals carry their number in the reason.
        match stopped.reason {
            ExitReason::Error(text) => match text.parse() {
                Ok(n) => self.see(n),
                Err(_) => self.breach = Some(format!("a stray exit: {text}")),
            },
            other => self.breach = Some(format!("a stray exit: {other:?}")),
        }
    }

    fn tally(&mut self, _: Tally, ctx: &mut Context<Self>) {
        let answer: Result<u64, String> = match self.breach.take() {
            Some(breach) => Err(breach),
            None => Ok(self.next),
        };
        ctx.reply(answer);
    }
}

impl Actor for Recorder {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::step)
            .on(Self::stopped)
            .on(Self::tally)
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.trap_exit(true);
        Ok(())
    }
}

/// The recorder's count, which must be `expected` with no breach.
fn tally(system: &System, recorder: &ActorRef, expected: u64) {
    let got: Result<u64, String> = system
        .bridge()
        .call(recorder, Tally, WAIT)
        .expect("a tally");
    assert_eq!(got, Ok(expected));
}

/// An inbox's message to an idle actor, then at once one more step by
/// another way in: from the same inbox, a plain send, a send on the
/// inbox's behalf, a call, an exit signal, or a send by another thread
/// this one told. The second never overtakes the first.
fn inbox_send_then_another_way_in(system: &System) {
    let recorder = system.spawn(Recorder::default());
    let inbox = Inbox::new(system);
    let bridge = system.bridge();
    let (to_helper, helper_gets) = mpsc::channel::<u64>();
    let (helper_done, done) = mpsc::channel::<()>();
    let helper_target = recorder.clone();
    let helper = std::thread::spawn(move || {
        for n in helper_gets {
            helper_target.send(Step(n));
            if helper_done.send(()).is_err() {
                break;
            }
        }
    });
    let mut n = 0;
    let rounds = for_budget("inbox send then another way in", |round| {
        inbox.send(&recorder, Step(n));
        n += 1;
        match round % 6 {
            0 => inbox.send(&recorder, Step(n)),
            1 => recorder.send(Step(n)),
            2 => recorder.send_from(Step(n), inbox.actor()),
            3 => {
                let got: u64 = bridge.call(&recorder, Step(n), WAIT).expect("an answer");
                assert_eq!(got, n);
            }
            4 => recorder.exit(ExitReason::Error(n.to_string())),
            _ => {
                to_helper.send(n).expect("the helper runs");
                done.recv_timeout(WAIT).expect("the helper sent");
            }
        }
        n += 1;
        pause(round);
    });
    drop(to_helper);
    helper.join().expect("the helper ends");
    assert!(rounds > 0);
    tally(system, &recorder, n);
    recorder.send(Stop);
}

#[test]
#[ignore = "stress: run with --ignored"]
fn stress_inbox_send_then_another_way_in() {
    for system in systems() {
        inbox_send_then_another_way_in(&system);
        system.shutdown(WAIT).expect("the system shuts down");
    }
}

/// Round trips from an inbox, each request handed to an idle actor, with
/// the answer read at once: each answer is the request's.
fn round_trips(system: &System) {
    let server = system.spawn(Server);
    let inbox = Inbox::new(system);
    for_budget("inbox round trips", |round| {
        for i in 0..50 {
            let n = round * 100 + i;
            inbox.send(&server, Echo(n));
            let got = inbox.recv(WAIT).expect("an answer");
            assert_eq!(got.downcast::<u64>().ok(), Some(n));
        }
        pause(round);
    });
    assert!(inbox.try_recv().is_none(), "nothing more came");
    server.send(Stop);
}

#[test]
#[ignore = "stress: run with --ignored"]
fn stress_inbox_round_trips() {
    for system in systems() {
        round_trips(&system);
        system.shutdown(WAIT).expect("the system shuts down");
    }
}

/// An actor answers and ends in one handler: the inbox that asked, and
/// watches it by a monitor or a link, gets the answer before the end.
fn answer_before_the_end(system: &System) {
    for_budget("answer before the end", |round| {
        let inbox = Inbox::new(system);
        let server = system.spawn(Server);
        let linked = round % 2 == 0;
        let monitor = (!linked).then(|| inbox.monitor(&server));
        if linked {
            inbox.link(&server);
        }
        let reason = match round % 3 {
            0 => ExitReason::Normal,
            _ => ExitReason::Error("ends".into()),
        };
        inbox.send(
            &server,
            AnswerThenEnd {
                n: round,
                reason: reason.clone(),
            },
        );
        let first = inbox.recv(WAIT).expect("the answer");
        assert_eq!(
            first.downcast::<u64>().ok(),
            Some(round),
            "the end overtook the answer"
        );
        let end = inbox.recv(WAIT).expect("the end");
        match monitor {
            Some(monitor) => {
                let down: Down = end.downcast().expect("a Down");
                assert_eq!((down.monitor, down.reason), (monitor, reason));
            }
            None => {
                let stopped: Stopped = end.downcast().expect("a Stopped");
                assert_eq!(stopped.reason, reason);
            }
        }
        pause(round);
    });
}

#[test]
#[ignore = "stress: run with --ignored"]
fn stress_inbox_answer_before_the_end() {
    for system in systems() {
        answer_before_the_end(&system);
        system.shutdown(WAIT).expect("the system shuts down");
    }
}

/// Two actors and a plain thread stream numbered mail into one inbox (the
/// actors with exit signals among their messages) while one thread reads
/// it, sometimes at once, sometimes after a pause that lets mail pile up:
/// each sender's mail comes in the order sent, exit signals in their
/// place, whether it waited in the inbox's lane, its mailbox or a batch.
fn one_reader_sees_each_senders_order(system: &System) {
    let streamers: Vec<ActorRef> = (0..2).map(|_| system.spawn(Streamer)).collect();
    for_budget("one reader sees each sender's order", |round| {
        let inbox = Inbox::new(system);
        let count = 60;
        for (from, streamer) in streamers.iter().enumerate() {
            streamer.send(Stream {
                to: inbox.actor().clone(),
                from: from as u64,
                count,
                exit_every: 7 + round % 5,
            });
        }
        let mut next = [0u64; 3];
        std::thread::scope(|scope| {
            let plain = inbox.actor().clone();
            scope.spawn(move || {
                for n in 0..count {
                    plain.send((2u64, n));
                    if n % 20 == 0 {
                        std::thread::yield_now();
                    }
                }
            });
            for i in 0..3 * count {
                if i % 25 == round % 25 {
                    pause(round + i);
                }
                let got = inbox.recv(WAIT).expect("mail due");
                let (from, n) = match got.downcast::<(u64, u64)>() {
                    Ok(pair) => pair,
                    Err(other) => {
                        let stopped: Stopped = other.downcast().expect("a number or an exit");
                        let ExitReason::Error(text) = stopped.reason else {
                            panic!("a stray exit: {:?}", stopped.reason)
                        };
                        let (from, n) = text.split_once(' ').expect("'from n'");
                        (from.parse().expect("from"), n.parse().expect("n"))
                    }
                };
                let due = &mut next[from as usize];
                assert_eq!(n, *due, "sender {from}: {n} came when {due} was due");
                *due += 1;
            }
        });
        assert_eq!(next, [count; 3]);
        assert!(inbox.try_recv().is_none(), "nothing more came");
    });
    for streamer in streamers {
        streamer.send(Stop);
    }
}

#[test]
#[ignore = "stress: run with --ignored"]
fn stress_inbox_one_reader_sees_each_senders_order() {
    for system in systems() {
        one_reader_sees_each_senders_order(&system);
        system.shutdown(WAIT).expect("the system shuts down");
    }
}

/// Several threads read one inbox while it asks several actors at once:
/// each answer reaches exactly one reader, none is lost, and no reader
/// sleeps while an answer waits (each reader waits with the generous
/// bound only for answers still due).
fn many_readers(system: &System) {
    let servers: Vec<ActorRef> = (0..3).map(|_| system.spawn(Server)).collect();
    for_budget("one inbox, many readers", |round| {
        let inbox = Arc::new(Inbox::new(system));
        let per_server = 40u64;
        let total = per_server * servers.len() as u64;
        let readers = 3;
        let (got_tx, got_rx) = mpsc::channel::<u64>();
        std::thread::scope(|scope| {
            for reader in 0..readers {
                let (inbox, got_tx) = (inbox.clone(), got_tx.clone());
                // Reader `r` takes its share; the shares add up to `total`.
                let share = total / readers + u64::from(reader < total % readers);
                scope.spawn(move || {
                    for _ in 0..share {
                        let answer = inbox.recv(WAIT).expect("an answer due");
                        let n = answer.downcast::<u64>().expect("a number");
                        got_tx.send(n).expect("the collector waits");
                    }
                });
            }
            for (s, server) in servers.iter().enumerate() {
                for i in 0..per_server {
                    inbox.send(server, Echo(s as u64 * 1_000 + i));
                    if i % 16 == 0 {
                        pause(round + i);
                    }
                }
            }
        });
        drop(got_tx);
        let got: Vec<u64> = got_rx.iter().collect();
        let distinct: HashSet<u64> = got.iter().copied().collect();
        assert_eq!(got.len() as u64, total, "an answer was lost or doubled");
        assert_eq!(distinct.len() as u64, total, "an answer came twice");
        assert!(inbox.try_recv().is_none(), "nothing more came");
    });
    for server in servers {
        server.send(Stop);
    }
}

#[test]
#[ignore = "stress: run with --ignored"]
fn stress_inbox_many_readers() {
    for system in systems() {
        many_readers(&system);
        system.shutdown(WAIT).expect("the system shuts down");
    }
}

/// An inbox asks and goes away while the answers race in: no answer
/// reaches anyone, nothing panics or hangs, and the actors serve on.
fn dropped_while_answers_race_in(system: &System) {
    let servers: Vec<ActorRef> = (0..2).map(|_| system.spawn(Server)).collect();
    let probe = Inbox::new(system);
    for_budget("inbox dropped while answers race in", |round| {
        let inbox = Inbox::new(system);
        for (s, server) in servers.iter().enumerate() {
            for i in 0..(round % 5) {
                inbox.send(server, Echo(s as u64 + i));
            }
        }
        if round % 3 == 0 {
            let _ = inbox.try_recv();
        }
        drop(inbox);
        pause(round);
    });
    for server in &servers {
        probe.send(server, Echo(7));
        let got = probe.recv(WAIT).expect("a server still answers");
        assert_eq!(got.downcast::<u64>().ok(), Some(7));
        server.send(Stop);
    }
}

#[test]
#[ignore = "stress: run with --ignored"]
fn stress_inbox_dropped_while_answers_race_in() {
    for system in systems() {
        dropped_while_answers_race_in(&system);
        system.shutdown(WAIT).expect("the system shuts down");
    }
}
