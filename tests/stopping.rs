//! Ending an actor from its handler and by `Stop`: a handler returning
//! `Err`, `ctx.stop`, `Stop`/`Stopped` in mailbox order, custom `Stop`
//! handlers, and dead letters to a dead actor.

#[allow(dead_code)]
#[path = "common/messaging_actors.rs"]
mod actors;
#[path = "common/receive.rs"]
#[allow(dead_code)]
mod receive;

use actors::*;

use ferrotp::{Down, ExitReason, Stop, Stopped};
use receive::{assert_empty, next};

ferrotp::on_each_executor! {
    // ---------------------------------------------------------------------------
    // Handler errors, ctx.stop, and the `stopped` hook's reason

    #[test]
    fn a_handler_returning_err_terminates_the_actor_with_its_text() {
        let system = new_system();
        let probe = system.inbox();
        let actor = fallible(&system, &probe);
        actor.send(Try(Ok(())));
        actor.send(Try(Err("no space".to_string())));
        actor.send(Note("never handled"));
        assert_eq!(next::<Note>(&probe), Note("attempted"));
        assert_eq!(next::<Note>(&probe), Note("attempted"));
        expect_end(&probe, &actor, ExitReason::Error("no space".to_string()));

        let custom = fallible(&system, &probe);
        custom.send(TryCustom);
        expect_end(
            &probe,
            &custom,
            ExitReason::Error("disk full (3 bytes free)".to_string()),
        );
    }

    #[test]
    fn ctx_stop_terminates_after_the_handler_returns_with_that_reason() {
        let system = new_system();
        let probe = system.inbox();
        for reason in [
            ExitReason::Normal,
            ExitReason::Shutdown,
            ExitReason::Error("enough".to_string()),
        ] {
            let actor = fallible(&system, &probe);
            actor.send(StopWith(reason.clone()));
            actor.send(Note("never handled"));
            assert_eq!(next::<Note>(&probe), Note("after ctx.stop"));
            expect_end(&probe, &actor, reason);
        }
    }

    // ---------------------------------------------------------------------------
    // Stop and Stopped

    #[test]
    fn stop_is_handled_in_mailbox_order_and_answers_stopped_normal() {
        let system = new_system();
        let probe = system.inbox();
        let actor = fallible(&system, &probe);
        actor.send(Note("one"));
        actor.send(Note("two"));
        // The probe sends `Stop`, so the `Stopped` answer comes back to it.
        probe.send(&actor, Stop);
        actor.send(Note("after stop"));

        assert_eq!(next::<Note>(&probe), Note("one"));
        assert_eq!(next::<Note>(&probe), Note("two"));
        assert_eq!(next::<HookRan>(&probe), HookRan(ExitReason::Normal));
        let stopped: Stopped = next(&probe);
        assert_eq!(
            stopped,
            Stopped {
                actor: actor.id(),
                reason: ExitReason::Normal
            }
        );
        let down: Down = next(&probe);
        assert_eq!(down.reason, ExitReason::Normal);
        assert_empty(&probe);
    }

    #[test]
    fn stop_stops_an_actor_that_has_a_fallback() {
        // The fallback takes every other type, but not `Stop`.
        let system = new_system();
        let probe = system.inbox();
        let actor = system.spawn(Fallback {
            probe: probe.actor().clone(),
        });
        probe.send(&actor, Stop);
        let stopped: Stopped = next(&probe);
        assert_eq!(
            stopped,
            Stopped {
                actor: actor.id(),
                reason: ExitReason::Normal
            }
        );
        assert!(!actor.is_alive());
    }

    #[test]
    fn a_custom_stop_handler_overrides_the_default() {
        let system = new_system();
        let probe = system.inbox();
        let actor = system.spawn(Stubborn { stops: 0 });
        probe.send(&actor, Stop);
        probe.send(&actor, Stop);
        probe.send(&actor, Ping(1));
        assert_eq!(next::<String>(&probe), "ignored stop #1");
        assert_eq!(next::<String>(&probe), "ignored stop #2");
        assert_eq!(next::<Pong>(&probe), Pong(2));
        assert_empty(&probe);
        assert!(actor.is_alive());
    }

    #[test]
    fn sending_to_a_dead_actor_is_a_counted_dead_letter() {
        let system = new_system();
        let probe = system.inbox();
        let actor = system.spawn(Ponger);
        probe.send(&actor, Stop);
        let _: Stopped = next(&probe);
        let before = system.dead_letters();
        actor.send(Ping(1));
        probe.send(&actor, Ping(2));
        assert_eq!(system.dead_letters(), before + 2);
    }
}
