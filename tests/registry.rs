//! The registry (issue 3, semantics 9): one live actor per name, one name
//! per actor, typed errors, lookups, and the name freed before anyone is
//! told of its holder's end, so that a watcher can re-register it at once.

#[path = "common/receive.rs"]
#[allow(dead_code)]
mod receive;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use ferrotp::{
    Actor, ActorRef, Context, Down, ExitReason, Handlers, Inbox, RegistryError, SpawnError,
    SpawnOptions, Stop, System,
};
use receive::next;

const WAIT: Duration = Duration::from_secs(10);

/// Forwards every `Note` it gets to `report`; stops on `Stop`, fails on `Die`.
struct Named {
    report: ActorRef,
}

#[derive(Debug, PartialEq)]
struct Note(&'static str);
struct Die;
struct RegisterAs(&'static str);

impl Named {
    fn note(&mut self, note: Note, ctx: &mut Context<Self>) {
        ctx.send(&self.report, note);
    }
    fn die(&mut self, _: Die, ctx: &mut Context<Self>) {
        ctx.stop(ExitReason::error("told to die"));
    }
    fn register_as(&mut self, RegisterAs(name): RegisterAs, ctx: &mut Context<Self>) {
        let result = ctx.register_self(name);
        ctx.reply(result);
    }
}

impl Actor for Named {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::note)
            .on(Self::die)
            .on(Self::register_as)
    }
}

fn spawn_named(system: &System, report: &Inbox) -> ActorRef {
    system.spawn(Named {
        report: report.actor().clone(),
    })
}

/// Re-spawns its child under the same name every time the child dies,
/// `left` times, then reports `Done`. Any registry error ends it with that
/// error.
struct Restarter {
    left: u32,
    report: ActorRef,
}

#[derive(Debug, PartialEq)]
struct Done;

impl Restarter {
    /// Spawns the next child, registers its name, and has it die.
    fn start_child(&mut self, ctx: &mut Context<Self>) -> Result<(), RegistryError> {
        let child = ctx.spawn(Named {
            report: self.report.clone(),
        });
        ctx.monitor(&child);
        ctx.register("restarted", &child)?;
        // Through the registry, so the name must lead to the new child.
        ctx.send_named("restarted", Die)
    }

    fn on_down(&mut self, down: Down, ctx: &mut Context<Self>) -> Result<(), RegistryError> {
        if down.reason != ExitReason::error("told to die") {
            panic!("the child died of {}", down.reason);
        }
        if self.left == 0 {
            ctx.send(&self.report, Done);
            return Ok(());
        }
        self.left -= 1;
        self.start_child(ctx)
    }
}

impl Actor for Restarter {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::on_down)
    }
    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.start_child(ctx).map_err(ExitReason::error)
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn registering_a_taken_name_or_a_named_or_dead_actor_is_an_error() {
        let system = new_system();
        let inbox = system.inbox();
        let a = spawn_named(&system, &inbox);
        let b = spawn_named(&system, &inbox);

        assert_eq!(system.register("db", &a), Ok(()));
        assert_eq!(
            system.register("db", &b),
            Err(RegistryError::NameTaken {
                name: "db".into(),
                holder: a.id()
            })
        );
        assert_eq!(
            system.register("cache", &a),
            Err(RegistryError::AlreadyNamed {
                actor: a.id(),
                name: "db".into()
            })
        );
        // Registering the same pair again is no exception.
        assert_eq!(
            system.register("db", &a),
            Err(RegistryError::AlreadyNamed {
                actor: a.id(),
                name: "db".into()
            })
        );
        assert_eq!(system.whereis("db"), Some(a.clone()));
        assert_eq!(system.whereis("cache"), None);
        assert_eq!(a.name().as_deref(), Some("db"));
        assert_eq!(b.name(), None);
        assert_eq!(a.info().name.as_deref(), Some("db"));

        let monitor = inbox.monitor(&b);
        b.send(Stop);
        assert_eq!(next::<Down>(&inbox).monitor, monitor);
        assert_eq!(system.register("cache", &b), Err(RegistryError::NotAlive));
        assert_eq!(system.whereis("cache"), None);

        // The errors are `std::error::Error`s with a readable message.
        let error: Box<dyn std::error::Error> = Box::new(RegistryError::NotRegistered("x".into()));
        assert!(error.to_string().contains('x'));
    }

    #[test]
    fn spawning_with_a_taken_name_fails_without_starting_the_actor() {
        let system = new_system();
        let inbox = system.inbox();
        let holder = system
            .spawn_with(
                Named {
                    report: inbox.actor().clone(),
                },
                SpawnOptions::new().name("svc"),
            )
            .expect("the name is free");
        let error = system
            .spawn_with(
                Named {
                    report: inbox.actor().clone(),
                },
                SpawnOptions::new().name("svc"),
            )
            .expect_err("the name is taken");
        assert!(matches!(
            error,
            SpawnError::Name(RegistryError::NameTaken { ref name, holder: h }) if name == "svc" && h == holder.id()
        ));
        assert_eq!(system.whereis("svc"), Some(holder));
    }

    #[test]
    fn register_self_from_inside_an_actor() {
        let system = new_system();
        let bridge = system.bridge();
        let inbox = system.inbox();
        let a = spawn_named(&system, &inbox);
        let b = spawn_named(&system, &inbox);
        let result: Result<(), RegistryError> = bridge.call(&a, RegisterAs("me"), WAIT).unwrap();
        assert_eq!(result, Ok(()));
        assert_eq!(system.whereis("me"), Some(a.clone()));
        let result: Result<(), RegistryError> = bridge.call(&b, RegisterAs("me"), WAIT).unwrap();
        assert_eq!(
            result,
            Err(RegistryError::NameTaken {
                name: "me".into(),
                holder: a.id()
            })
        );
    }

    #[test]
    fn whereis_registered_unregister_and_send_named() {
        let system = new_system();
        let inbox = system.inbox();
        let a = spawn_named(&system, &inbox);
        let b = spawn_named(&system, &inbox);
        assert!(system.registered().is_empty());
        system.register("zeta", &a).unwrap();
        system.register("alpha", &b).unwrap();
        assert_eq!(
            system.registered(),
            vec!["alpha".to_string(), "zeta".to_string()]
        );

        assert_eq!(system.send_named("zeta", Note("to zeta")), Ok(()));
        assert_eq!(next::<Note>(&inbox), Note("to zeta"));
        assert_eq!(
            system.send_named("nobody", Note("lost")),
            Err(RegistryError::NotRegistered("nobody".into()))
        );

        assert_eq!(system.unregister("zeta"), Some(a.clone()));
        assert_eq!(system.unregister("zeta"), None);
        assert_eq!(a.name(), None);
        assert_eq!(system.whereis("zeta"), None);
        assert_eq!(system.registered(), vec!["alpha".to_string()]);
        assert_eq!(
            system.send_named("zeta", Note("lost")),
            Err(RegistryError::NotRegistered("zeta".into()))
        );
        // Unnamed, `a` can take another name, and `zeta` can name another actor.
        system.register("zeta", &b).unwrap_err();
        system.register("other", &a).unwrap();
        let c = spawn_named(&system, &inbox);
        system.register("zeta", &c).unwrap();
        assert_eq!(system.whereis("zeta"), Some(c));
        assert_eq!(system.whereis("other"), Some(a));
    }

    #[test]
    fn an_unregistered_actor_dying_does_not_free_its_old_name_for_the_new_holder() {
        let system = new_system();
        let inbox = system.inbox();
        let old = spawn_named(&system, &inbox);
        let new = spawn_named(&system, &inbox);
        system.register("svc", &old).unwrap();
        system.unregister("svc").unwrap();
        system.register("svc", &new).unwrap();
        let monitor = inbox.monitor(&old);
        old.send(Die);
        assert_eq!(next::<Down>(&inbox).monitor, monitor);
        assert_eq!(system.whereis("svc"), Some(new));
    }

    #[test]
    fn the_name_of_a_dead_actor_is_free_before_its_down_arrives() {
        let system = new_system();
        let inbox = system.inbox();
        for end in [
            |a: &ActorRef| a.send(Stop),
            |a: &ActorRef| a.send(Die),
            |a: &ActorRef| a.kill(),
        ] {
            let a = spawn_named(&system, &inbox);
            system.register("svc", &a).unwrap();
            let monitor = inbox.monitor(&a);
            end(&a);
            assert_eq!(next::<Down>(&inbox).monitor, monitor);
            assert_eq!(system.whereis("svc"), None);
            assert!(system.registered().is_empty());
            assert_eq!(
                system.send_named("svc", Note("lost")),
                Err(RegistryError::NotRegistered("svc".into()))
            );
        }
    }

    #[test]
    fn a_watcher_re_registers_the_name_on_every_down_1000_times() {
        let system = new_system();
        let inbox = system.inbox();
        let restarter = system.spawn(Restarter {
            left: 1_000,
            report: inbox.actor().clone(),
        });
        let monitor = inbox.monitor(&restarter);
        let envelope = inbox
            .recv(Duration::from_secs(120))
            .expect("the restarter finishes");
        match envelope.downcast::<Done>() {
            Ok(done) => assert_eq!(done, Done),
            Err(envelope) => {
                let down: Down = envelope.downcast().expect("Done or the restarter's Down");
                assert_eq!(down.monitor, monitor);
                panic!("the restarter failed: {}", down.reason);
            }
        }
        assert!(restarter.is_alive());
        // The last child is dead and its name free.
        assert_eq!(system.whereis("restarted"), None);
    }

    #[test]
    fn a_name_names_one_actor_even_when_registered_concurrently() {
        const CONTENDERS: usize = 8;
        let system = new_system();
        let inbox = system.inbox();
        for round in 0..50 {
            let name = format!("contended-{round}");
            let actors: Vec<ActorRef> = (0..CONTENDERS)
                .map(|_| spawn_named(&system, &inbox))
                .collect();
            let start = Arc::new(Barrier::new(CONTENDERS));
            let results: Vec<Result<(), RegistryError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = actors
                    .iter()
                    .map(|actor| {
                        let (start, system, name) = (start.clone(), &system, &name);
                        scope.spawn(move || {
                            start.wait();
                            system.register(name, actor)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let winners: Vec<&ActorRef> = actors
                .iter()
                .zip(&results)
                .filter(|(_, r)| r.is_ok())
                .map(|(a, _)| a)
                .collect();
            assert_eq!(winners.len(), 1, "round {round}: {results:?}");
            let winner = winners[0];
            for result in results.iter().filter(|r| r.is_err()) {
                assert_eq!(
                    result,
                    &Err(RegistryError::NameTaken {
                        name: name.clone(),
                        holder: winner.id()
                    })
                );
            }
            assert_eq!(system.whereis(&name).as_ref(), Some(winner));
            for actor in &actors {
                actor.kill();
            }
        }
    }

    #[test]
    fn an_actor_has_one_name_even_when_named_concurrently() {
        const NAMES: usize = 8;
        let system = new_system();
        let inbox = system.inbox();
        for round in 0..50 {
            let actor = spawn_named(&system, &inbox);
            let start = Arc::new(Barrier::new(NAMES));
            let results: Vec<Result<(), RegistryError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..NAMES)
                    .map(|i| {
                        let (start, system, actor) = (start.clone(), &system, &actor);
                        scope.spawn(move || {
                            start.wait();
                            system.register(&format!("name-{round}-{i}"), actor)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert_eq!(
                results.iter().filter(|r| r.is_ok()).count(),
                1,
                "{results:?}"
            );
            let name = actor.name().expect("one name");
            assert_eq!(system.whereis(&name), Some(actor.clone()));
            let registered: Vec<String> = system
                .registered()
                .into_iter()
                .filter(|n| n.starts_with(&format!("name-{round}-")))
                .collect();
            assert_eq!(registered, vec![name]);
            actor.kill();
        }
    }

    #[test]
    fn two_systems_have_separate_registries() {
        let one = new_system();
        let two = new_system();
        let inbox_one = one.inbox();
        let inbox_two = two.inbox();
        let a = spawn_named(&one, &inbox_one);
        let b = spawn_named(&two, &inbox_two);
        one.register("shared", &a).unwrap();
        two.register("shared", &b)
            .expect("the other system's name is not taken");
        assert_eq!(one.whereis("shared"), Some(a));
        assert_eq!(two.whereis("shared"), Some(b));
        one.send_named("shared", Note("one")).unwrap();
        two.send_named("shared", Note("two")).unwrap();
        assert_eq!(next::<Note>(&inbox_one), Note("one"));
        assert_eq!(next::<Note>(&inbox_two), Note("two"));
        one.unregister("shared").unwrap();
        assert_eq!(one.whereis("shared"), None);
        assert!(two.whereis("shared").is_some());
        assert_eq!(two.registered(), vec!["shared".to_string()]);
    }
}
