//! Making and undoing links, and exit signals sent by hand (issue 3,
//! semantic 7 and `exit`): links to dead actors (`noproc`), idempotent
//! links, unlink, `ActorRef::exit` and `Context::exit`, and links and
//! monitors between a dedicated actor and one on the system's default
//! executor. Propagation, trapping and ordering are in `links.rs`.
//!
//! Every wait is on an event (a reply, a `Down`, a `Stopped`, a channel)
//! with a generous bound; no test sleeps to guess timing.

use std::sync::mpsc;

#[allow(dead_code)]
mod common;
#[allow(dead_code)]
#[path = "common/links_helpers.rs"]
mod helpers;

use helpers::*;

use common::{answers_ping, ask, crash, next, puppet, tell, WAIT};
use ferrotp::{ActorId, Down, ExitReason, SpawnOptions, Stop, Stopped};

/// Tells the test an actor is inside its handler.
struct Entered;

ferrotp::on_each_executor! {
    // ---- 7. links to dead actors, idempotence, unlink ----

    #[test]
    fn linking_plain_code_to_a_dead_actor_delivers_noproc_at_once() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let dead = dead_actor(&system, &bridge, &inbox);
        let watcher = system.inbox();
        watcher.link(&dead);
        // "At once": already there when `link` returns, no waiting.
        let envelope = watcher
            .try_recv()
            .expect("a Stopped as soon as link returns");
        let stopped: Stopped = envelope.downcast().expect("a Stopped");
        assert_eq!(
            stopped,
            Stopped {
                actor: dead.id(),
                reason: ExitReason::NoProc
            }
        );
        assert!(watcher.actor().info().links.is_empty());
    }

    #[test]
    fn linking_an_actor_to_a_dead_actor_delivers_noproc() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let dead = dead_actor(&system, &bridge, &inbox);

        let trapping = spawn_probe(&system, &inbox, true);
        let d = dead.clone();
        ask(&bridge, &trapping, move |ctx| ctx.link(&d));
        let (stopped, from) = next::<Stopped>(&inbox);
        assert_eq!(
            stopped,
            Stopped {
                actor: dead.id(),
                reason: ExitReason::NoProc
            }
        );
        assert_eq!(from, Some(trapping.id()));
        assert!(answers_ping(&bridge, &trapping));

        let plain = spawn_probe(&system, &inbox, false);
        let d = dead.clone();
        ask(&bridge, &plain, move |ctx| ctx.link(&d));
        assert_eq!(reason_of(&inbox, &plain), ExitReason::NoProc);
    }

    #[test]
    fn link_is_idempotent() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let a = spawn_probe(&system, &inbox, false);
        let watcher = system.inbox();
        let monitor = watcher.monitor(&a);
        for _ in 0..3 {
            watcher.link(&a);
        }
        for _ in 0..3 {
            let w = watcher.actor().clone();
            ask(&bridge, &a, move |ctx| ctx.link(&w));
        }
        assert_eq!(a.info().links, vec![watcher.actor().id()]);
        assert_eq!(watcher.actor().info().links, vec![a.id()]);

        crash(&a);
        let mut stopped = 0;
        let mut downs = 0;
        let envelopes: Vec<ferrotp::Envelope> = {
            // The Stopped and the Down, then everything else once all threads
            // have ended.
            let mut got = vec![watcher.recv(WAIT).unwrap(), watcher.recv(WAIT).unwrap()];
            got.extend(settle(&system, &watcher));
            got
        };
        for envelope in envelopes {
            match envelope.downcast::<Stopped>() {
                Ok(s) => {
                    assert_eq!(
                        s,
                        Stopped {
                            actor: a.id(),
                            reason: panic_reason()
                        }
                    );
                    stopped += 1;
                }
                Err(envelope) => {
                    let down: Down = envelope.downcast().expect("a Down");
                    assert_eq!(down.monitor, monitor);
                    downs += 1;
                }
            }
        }
        assert_eq!((stopped, downs), (1, 1), "one link, one exit signal");
    }

    #[test]
    fn one_unlink_undoes_several_links() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let inbox = system.inbox();
        let a = spawn_probe(&system, &inbox, false);
        let watcher = system.inbox();
        let monitor = watcher.monitor(&a);
        watcher.link(&a);
        watcher.link(&a);
        watcher.unlink(&a);
        assert!(a.info().links.is_empty());
        assert!(watcher.actor().info().links.is_empty());
        crash(&a);
        let down: Down = watcher
            .recv(WAIT)
            .unwrap()
            .downcast()
            .expect("only the Down");
        assert_eq!(down.monitor, monitor);
        let late = settle(&system, &watcher);
        assert!(
            late.is_empty(),
            "an exit signal came through a removed link"
        );
    }

    #[test]
    fn unlink_removes_both_directions() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        // Both directions, each way round: the side that unlinks survives the
        // other's death, and so does the other side.
        for unlinker_dies in [false, true] {
            let plain = spawn_probe(&system, &inbox, false);
            let trapping = spawn_probe(&system, &inbox, true);
            let t = trapping.clone();
            ask(&bridge, &plain, move |ctx| ctx.link(&t));
            assert_eq!(trapping.info().links, vec![plain.id()]);
            // The one that did not make the link removes it.
            let p = plain.clone();
            ask(&bridge, &trapping, move |ctx| ctx.unlink(&p));
            assert!(plain.info().links.is_empty());
            assert!(trapping.info().links.is_empty());
            if unlinker_dies {
                crash(&trapping);
                assert_eq!(reason_of(&inbox, &trapping), panic_reason());
                assert!(
                    answers_ping(&bridge, &plain),
                    "the exit signal crossed a removed link"
                );
                plain.kill();
                assert_eq!(reason_of(&inbox, &plain), ExitReason::Killed);
            } else {
                crash(&plain);
                assert_eq!(reason_of(&inbox, &plain), panic_reason());
                // A Stopped would be forwarded before the pong.
                assert!(answers_ping(&bridge, &trapping));
                assert!(
                    inbox.try_recv().is_none(),
                    "a Stopped through a removed link"
                );
                trapping.kill();
                assert_eq!(reason_of(&inbox, &trapping), ExitReason::Killed);
            }
        }
    }

    #[test]
    fn no_exit_signal_is_delivered_after_unlink_returns_even_if_already_queued() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        for trap in [true, false] {
            let dying = spawn_probe(&system, &inbox, false);
            let survivor = spawn_probe(&system, &inbox, trap);
            let d = dying.clone();
            ask(&bridge, &survivor, move |ctx| ctx.link(&d));
            // Hold the survivor; when released it first unlinks, while the
            // exit signal of `dying` already waits in its mailbox.
            let (release, gate) = mpsc::channel::<()>();
            let d = dying.clone();
            let report = inbox.actor().clone();
            tell(&survivor, move |ctx| {
                ctx.send(&report, Entered);
                let _ = gate.recv();
                ctx.unlink(&d);
            });
            // Only once the survivor is inside that handler: a signal that came
            // earlier would rightly be acted on before the unlink.
            next::<Entered>(&inbox);
            crash(&dying);
            assert_eq!(reason_of(&inbox, &dying), panic_reason());
            release.send(()).unwrap();
            // A delivered signal would kill the non-trapping survivor, or be
            // forwarded as a Stopped by the trapping one, before the pong.
            assert!(
                answers_ping(&bridge, &survivor),
                "trap={trap}: killed by a removed link"
            );
            assert!(
                inbox.try_recv().is_none(),
                "trap={trap}: a Stopped after unlink"
            );
            survivor.kill();
            assert_eq!(reason_of(&inbox, &survivor), ExitReason::Killed);
        }

        // The same for plain code.
        let dying = spawn_probe(&system, &inbox, false);
        let watcher = system.inbox();
        watcher.link(&dying);
        crash(&dying);
        assert_eq!(reason_of(&inbox, &dying), panic_reason());
        // The Stopped is queued in `watcher` by now (exit signals are sent
        // before Downs are, and the Down is here).
        watcher.unlink(&dying);
        assert!(
            watcher.try_recv().is_none(),
            "a Stopped after unlink returned"
        );
    }

    // ---- exit signals from outside and from actors ----

    #[test]
    fn actor_ref_exit_normal_is_ignored_by_a_non_trapping_actor() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let plain = spawn_probe(&system, &inbox, false);
        plain.exit(ExitReason::Normal);
        assert!(
            answers_ping(&bridge, &plain),
            "exit(Normal) terminated a non-trapping actor"
        );
        assert!(plain.is_alive());
    }

    #[test]
    fn actor_ref_exit_abnormal_terminates_a_non_trapping_actor_with_that_reason() {
        let system = new_system();
        let inbox = system.inbox();
        for reason in [
            ExitReason::Shutdown,
            ExitReason::error("go"),
            ExitReason::Killed,
        ] {
            let plain = spawn_probe(&system, &inbox, false);
            plain.exit(reason.clone());
            assert_eq!(reason_of(&inbox, &plain), reason);
        }
    }

    #[test]
    fn actor_ref_exit_reaches_a_trapping_actor_as_stopped_from_external() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let trapping = spawn_probe(&system, &inbox, true);
        for reason in [
            ExitReason::Normal,
            ExitReason::Shutdown,
            ExitReason::error("go"),
        ] {
            trapping.exit(reason.clone());
            let (stopped, from) = next::<Stopped>(&inbox);
            assert_eq!(
                stopped,
                Stopped {
                    actor: ActorId::EXTERNAL,
                    reason
                }
            );
            assert_eq!(from, Some(trapping.id()));
        }
        assert!(answers_ping(&bridge, &trapping));
        // Killed cannot be trapped.
        trapping.exit(ExitReason::Killed);
        assert_eq!(reason_of(&inbox, &trapping), ExitReason::Killed);
    }

    #[test]
    fn context_exit_names_the_sender() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let sender = spawn_probe(&system, &inbox, false);
        let trapping = spawn_probe(&system, &inbox, true);
        let plain = spawn_probe(&system, &inbox, false);

        let t = trapping.clone();
        ask(&bridge, &sender, move |ctx| {
            ctx.exit(&t, ExitReason::error("from an actor"))
        });
        let (stopped, _) = next::<Stopped>(&inbox);
        assert_eq!(
            stopped,
            Stopped {
                actor: sender.id(),
                reason: ExitReason::error("from an actor")
            }
        );

        let p = plain.clone();
        ask(&bridge, &sender, move |ctx| {
            ctx.exit(&p, ExitReason::error("from an actor"))
        });
        assert_eq!(
            reason_of(&inbox, &plain),
            ExitReason::error("from an actor")
        );
        // An exit signal is not a link: the sender lives on.
        assert!(answers_ping(&bridge, &sender));
        assert!(answers_ping(&bridge, &trapping));
    }

    // ---- across executors: a dedicated actor and one on the system default ----
    // (On `Executor::Threads` the default is a thread per actor too: there,
    // these show that asking for a dedicated thread changes nothing.)

    #[test]
    fn a_link_across_executors_tells_a_trapping_actor_each_reason_both_ways() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let endings: [Ending; 3] = [
            (panic_reason(), crash),
            (ExitReason::error("bad"), |a| {
                tell(a, |ctx| ctx.stop(ExitReason::error("bad")))
            }),
            (ExitReason::Killed, |a| a.kill()),
        ];
        for (trapping_on, linked_on) in [
            (SpawnOptions::new(), dedicated()),
            (dedicated(), SpawnOptions::new()),
        ] {
            let trapping = system
                .spawn_with(puppet(&inbox), trapping_on.trap_exit(true))
                .expect("spawn");
            for (reason, end) in endings.clone() {
                let linked = system
                    .spawn_with(puppet(&inbox), linked_on.clone())
                    .expect("spawn");
                let other = linked.clone();
                ask(&bridge, &trapping, move |ctx| ctx.link(&other));
                assert_eq!(linked.info().links, vec![trapping.id()]);
                end(&linked);
                let (stopped, from) = next::<Stopped>(&inbox);
                assert_eq!(
                    stopped,
                    Stopped {
                        actor: linked.id(),
                        reason
                    }
                );
                assert_eq!(from, Some(trapping.id()));
            }
            assert!(answers_ping(&bridge, &trapping));
        }
    }

    #[test]
    fn an_abnormal_exit_propagates_along_links_that_alternate_executors() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        for (ends, middle) in [
            (SpawnOptions::new(), dedicated()),
            (dedicated(), SpawnOptions::new()),
        ] {
            let spawn = |options: &SpawnOptions| {
                let actor = system
                    .spawn_with(puppet(&inbox), options.clone())
                    .expect("spawn");
                inbox.monitor(&actor);
                actor
            };
            let (a, b, c) = (spawn(&ends), spawn(&middle), spawn(&ends));
            // Whichever executor b is on, its own links fire when it dies.
            a_crash_kills_the_chain(&bridge, &inbox, [&a, &b, &c]);
        }
    }

    #[test]
    fn a_monitor_across_executors_gets_each_down_both_ways() {
        ferrotp::silence_actor_panics();
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let endings: [Ending; 4] = [
            (panic_reason(), crash),
            (ExitReason::Normal, |a| a.send(Stop)),
            (ExitReason::Shutdown, |a| {
                tell(a, |ctx| ctx.stop(ExitReason::Shutdown))
            }),
            (ExitReason::Killed, |a| a.kill()),
        ];
        for (watcher_on, target_on) in [
            (SpawnOptions::new(), dedicated()),
            (dedicated(), SpawnOptions::new()),
        ] {
            let watcher = system
                .spawn_with(puppet(&inbox), watcher_on)
                .expect("spawn");
            for (reason, end) in endings.clone() {
                let target = system
                    .spawn_with(puppet(&inbox), target_on.clone())
                    .expect("spawn");
                let t = target.clone();
                let monitor = ask(&bridge, &watcher, move |ctx| ctx.monitor(&t));
                assert_eq!(target.info().monitored_by, vec![watcher.id()]);
                end(&target);
                let (down, from) = next::<Down>(&inbox);
                assert_eq!(
                    down,
                    Down {
                        monitor,
                        actor: target.id(),
                        reason
                    }
                );
                assert_eq!(from, Some(watcher.id()), "forwarded by the watcher");
            }
            // A monitor is not a link: the watcher lives on, its monitors
            // gone with their targets.
            assert!(answers_ping(&bridge, &watcher));
            assert!(watcher.info().monitoring.is_empty());
        }
    }
}
