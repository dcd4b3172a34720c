//! Semantics 7: a supervisor traps exits; exit signals from non-children and
//! unknown messages are ignored; if its parent dies, it shuts its tree down.

mod common;

use common::*;
use ferrotp::{Actor, ActorRef, Context, ExitReason, Handlers, Stopped, System};
use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorError, SupervisorSpec};

/// An actor unrelated to the supervisor.
struct Stranger;
/// Sends an exit signal to the actor, then answers `()`.
struct ExitTo(ActorRef, ExitReason);
/// Links to the actor, then fails.
struct LinkAndCrash(ActorRef);

impl Stranger {
    fn exit_to(&mut self, ExitTo(to, reason): ExitTo, ctx: &mut Context<Self>) {
        ctx.exit(&to, reason);
        ctx.reply(());
    }

    fn link_and_crash(
        &mut self,
        LinkAndCrash(to): LinkAndCrash,
        ctx: &mut Context<Self>,
    ) -> Result<(), String> {
        ctx.link(&to);
        Err("stranger crash".into())
    }
}

impl Actor for Stranger {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::exit_to).on(Self::link_and_crash)
    }
}

/// Starts a supervision tree linked to itself.
struct Parent;
struct StartTree(SupervisorSpec);

impl Parent {
    fn start_tree(&mut self, StartTree(spec): StartTree, ctx: &mut Context<Self>) {
        ctx.reply(Supervisor::start_link(ctx, spec));
    }

    fn crash(&mut self, _: Crash, _ctx: &mut Context<Self>) -> Result<(), String> {
        Err("crash".into())
    }

    fn get(&mut self, _: Get, ctx: &mut Context<Self>) {
        ctx.reply(0u64);
    }
}

impl Actor for Parent {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::start_tree)
            .on(Self::crash)
            .on(Self::get)
    }
}

fn tree_under_parent(system: &System, probe: &Probe) -> (ActorRef, Supervisor) {
    let parent = system.spawn(Parent);
    let spec = SupervisorSpec::one_for_one()
        .child(worker("a", probe))
        .child(worker("b", probe));
    let sup: Result<Supervisor, SupervisorError> = system
        .bridge()
        .call(&parent, StartTree(spec), WAIT)
        .unwrap();
    probe.started("a");
    probe.started("b");
    (parent, sup.unwrap())
}

ferrotp::on_each_executor! {
    #[test]
    fn exit_signals_from_non_children_and_unknown_messages_are_ignored() {
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .intensity(0, HOUR)
            .child(worker("a", &probe))
            .child(worker("b", &probe));
        let sup = Supervisor::start(&system, spec).unwrap();
        probe.started("a");
        probe.started("b");
        let before = sup.which_children().unwrap();

        // A direct exit signal from another actor.
        let stranger = system.spawn(Stranger);
        let bridge = system.bridge();
        let () = bridge
            .call(
                &stranger,
                ExitTo(sup.actor().clone(), ExitReason::error("go away")),
                WAIT,
            )
            .unwrap();
        // A linked actor that dies.
        end_with(&system, &stranger, LinkAndCrash(sup.actor().clone()));
        // Messages it does not know, and a forged `Stopped` for a live child.
        sup.actor().send(42u32);
        sup.actor().send(Stopped {
            actor: actor_of(&before, "a").id(),
            reason: ExitReason::error("forged"),
        });

        // All of that was handled before this answer: nothing changed.
        assert_eq!(sup.which_children().unwrap(), before);
        assert!(sup.actor().is_alive());
        probe.assert_quiet();
    }

    #[test]
    fn when_the_parent_dies_the_supervisor_shuts_its_tree_down() {
        let system = new_system();
        let probe = Probe::new();
        let (parent, sup) = tree_under_parent(&system, &probe);
        let watcher = system.inbox();
        let sup_down = watcher.monitor(sup.actor());

        parent.send(Crash);
        // It terminates with its parent's reason, children first.
        assert_eq!(wait_down(&watcher, sup_down), ExitReason::error("crash"));
        probe.stopped("b", ExitReason::Shutdown);
        probe.stopped("a", ExitReason::Shutdown);
        probe.assert_quiet();
    }

    #[test]
    fn when_the_parent_stops_normally_the_supervisor_shuts_its_tree_down() {
        let system = new_system();
        let probe = Probe::new();
        let (parent, sup) = tree_under_parent(&system, &probe);
        let watcher = system.inbox();
        let sup_down = watcher.monitor(sup.actor());

        parent.send(ferrotp::Stop);
        assert_eq!(wait_down(&watcher, sup_down), ExitReason::Normal);
        probe.stopped("b", ExitReason::Shutdown);
        probe.stopped("a", ExitReason::Shutdown);
        probe.assert_quiet();
    }

    #[test]
    fn an_exit_signal_from_plain_code_counts_as_the_parents() {
        // `Supervisor::start` from plain code: plain code is the parent.
        let system = new_system();
        let probe = Probe::new();
        let spec = SupervisorSpec::one_for_one()
            .child(worker("a", &probe))
            .child(worker("b", &probe));
        let sup = Supervisor::start(&system, spec).unwrap();
        probe.started("a");
        probe.started("b");
        let watcher = system.inbox();
        let sup_down = watcher.monitor(sup.actor());

        sup.actor().exit(ExitReason::Shutdown);
        assert_eq!(wait_down(&watcher, sup_down), ExitReason::Shutdown);
        probe.stopped("b", ExitReason::Shutdown);
        probe.stopped("a", ExitReason::Shutdown);
        probe.assert_quiet();
    }

    #[test]
    fn a_linked_supervisor_that_fails_to_start_returns_the_error_without_an_exit_signal() {
        let system = new_system();
        let parent = system.spawn(Parent);
        let spec = SupervisorSpec::one_for_one().child(ChildSpec::worker("bad", || {
            FailsToStart(ExitReason::error("nope"))
        }));
        let bridge = system.bridge();
        let started: Result<Supervisor, SupervisorError> =
            bridge.call(&parent, StartTree(spec), WAIT).unwrap();
        assert!(matches!(
            started,
            Err(SupervisorError::StartFailed { ref id, .. }) if id == "bad"
        ));
        // Wait until the failed supervisor is gone: an exit signal to the
        // parent would have been delivered by then.
        let watcher = system.inbox();
        for actor in system.actors().into_iter().filter(|a| a != &parent) {
            wait_down(&watcher, watcher.monitor(&actor));
        }
        let alive: u64 = bridge.call(&parent, Get, WAIT).unwrap();
        assert_eq!(alive, 0);
    }
}
