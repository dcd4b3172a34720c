//! `Context::trap_system_shutdown`: `System::shutdown` asks an actor that
//! opted in (a trappable `Shutdown` from outside) instead of stopping it,
//! waits for it to end in its own time, and still kills it at the deadline.

use std::sync::mpsc;
use std::time::Duration;

use ferrotp::{
    Actor, ActorId, ActorRef, Context, ExitReason, Handlers, ShutdownError, SpawnOptions, Stopped,
    System,
};

const WAIT: Duration = Duration::from_secs(10);

/// What a [`Service`] reports on the test's channel (not an inbox: that is
/// an actor, and the shutdown under test stops it too).
#[derive(Debug, PartialEq)]
enum Ev {
    Asked(ActorId, ExitReason),
    Drained,
    Stopped(ExitReason),
}

/// Traps exits if `trap`, asks for a trappable shutdown if `graceful` (both
/// set at spawn: a shutdown may come before `started`); told to stop, it
/// ends one message later, unless `stubborn`.
struct Service {
    trap: bool,
    graceful: bool,
    stubborn: bool,
    events: mpsc::Sender<Ev>,
}

/// The message a stopping service sends itself before it ends.
struct Drain;

impl Service {
    fn new(events: &mpsc::Sender<Ev>) -> Self {
        Service {
            trap: true,
            graceful: true,
            stubborn: false,
            events: events.clone(),
        }
    }
    fn on_stopped(&mut self, Stopped { actor, reason }: Stopped, ctx: &mut Context<Self>) {
        let _ = self.events.send(Ev::Asked(actor, reason));
        if !self.stubborn {
            ctx.myself().send(Drain);
        }
    }
    fn drain(&mut self, _: Drain, ctx: &mut Context<Self>) {
        let _ = self.events.send(Ev::Drained);
        ctx.stop(ExitReason::Shutdown);
    }
}

impl Actor for Service {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::on_stopped).on(Self::drain)
    }
    fn stopped(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        let _ = self.events.send(Ev::Stopped(reason.clone()));
    }
}

/// Spawns `service` with its options.
fn spawn(system: &System, service: Service) -> ActorRef {
    let mut options = SpawnOptions::new().trap_exit(service.trap);
    if service.graceful {
        options = options.trap_system_shutdown();
    }
    system.spawn_with(service, options).unwrap()
}

/// Every event reported so far, once the shutdown returned.
fn reported(events: &mpsc::Receiver<Ev>) -> Vec<Ev> {
    events.try_iter().collect()
}

ferrotp::on_each_executor! {
    #[test]
    fn shutdown_asks_an_actor_that_traps_it_and_waits_for_it_to_end() {
        let system = new_system();
        let (tx, rx) = mpsc::channel();
        spawn(&system, Service::new(&tx));
        system.shutdown(WAIT).unwrap();
        assert_eq!(
            reported(&rx),
            vec![
                Ev::Asked(ActorId::EXTERNAL, ExitReason::Shutdown),
                Ev::Drained,
                Ev::Stopped(ExitReason::Shutdown),
            ]
        );
        assert!(system.actors().is_empty());
    }

    #[test]
    fn an_actor_that_ignores_the_request_is_killed_at_the_deadline() {
        let system = new_system();
        let (tx, rx) = mpsc::channel();
        let stubborn = Service {
            stubborn: true,
            ..Service::new(&tx)
        };
        let actor = spawn(&system, stubborn);
        let timeout = Duration::from_millis(300);
        match system.shutdown(timeout) {
            Err(ShutdownError { actors, .. }) => assert_eq!(actors, vec![actor.id()]),
            Ok(()) => panic!("a stubborn actor must outlive the deadline"),
        }
        // Killed: asked once, and its `stopped` hook did not run.
        assert_eq!(
            reported(&rx),
            vec![Ev::Asked(ActorId::EXTERNAL, ExitReason::Shutdown)]
        );
        assert!(!actor.is_alive());
    }

    #[test]
    fn without_it_shutdown_stops_a_trapping_actor_at_once() {
        let system = new_system();
        let (tx, rx) = mpsc::channel();
        let forced = Service {
            graceful: false,
            stubborn: true,
            ..Service::new(&tx)
        };
        spawn(&system, forced);
        system.shutdown(WAIT).unwrap();
        assert_eq!(reported(&rx), vec![Ev::Stopped(ExitReason::Shutdown)]);
    }

    #[test]
    fn an_actor_that_does_not_trap_exits_ends_with_shutdown_either_way() {
        let system = new_system();
        let (tx, rx) = mpsc::channel();
        let plain = Service {
            trap: false,
            ..Service::new(&tx)
        };
        spawn(&system, plain);
        system.shutdown(WAIT).unwrap();
        assert_eq!(reported(&rx), vec![Ev::Stopped(ExitReason::Shutdown)]);
    }
}
