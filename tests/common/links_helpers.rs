//! Helpers shared by `links.rs` and `linking.rs`: a scriptable probe,
//! dead actors, and reading `Down`s.

use ferrotp::{ActorId, ActorRef, Bridge, Down, ExitReason, Inbox, SpawnOptions, System};

use super::common::{ask, crash, next, puppet, spawn_puppet, WAIT};

// ---- a scriptable actor ----

/// Spawns a puppet reporting to `inbox`, trapping exits or not, monitored by `inbox`.
pub fn spawn_probe(system: &System, inbox: &Inbox, trap: bool) -> ActorRef {
    let actor = spawn_puppet(system, inbox, trap);
    inbox.monitor(&actor);
    actor
}

/// A stopped actor, whose address is that of a dead actor.
pub fn dead_actor(system: &System, bridge: &Bridge, inbox: &Inbox) -> ActorRef {
    let actor = system.spawn(puppet(inbox));
    let stopped = bridge.stop(std::slice::from_ref(&actor), WAIT);
    assert_eq!(
        stopped[0].as_ref().map(|s| &s.reason),
        Some(&ExitReason::Normal)
    );
    assert!(!actor.is_alive());
    actor
}

// ---- receiving ----

pub fn next_down(inbox: &Inbox) -> Down {
    next::<Down>(inbox).0
}

/// Links `a — b — c`, crashes `a`, and asserts that all three die with
/// the panic. `c` is not linked to `a`, so it can only die because `b`'s
/// own links fire when `b` dies. All three are monitored from `inbox`.
pub fn a_crash_kills_the_chain(bridge: &Bridge, inbox: &Inbox, [a, b, c]: [&ActorRef; 3]) {
    let (a2, b2) = (a.clone(), b.clone());
    ask(bridge, b, move |ctx| ctx.link(&a2));
    ask(bridge, c, move |ctx| ctx.link(&b2));
    crash(a);
    let mut reasons: Vec<(ActorId, ExitReason)> = (0..3)
        .map(|_| {
            let d = next_down(inbox);
            (d.actor, d.reason)
        })
        .collect();
    reasons.sort_by_key(|(id, _)| *id);
    assert_eq!(
        reasons,
        vec![
            (a.id(), panic_reason()),
            (b.id(), panic_reason()),
            (c.id(), panic_reason())
        ]
    );
}

/// Waits for the `Down` about `actor` and returns its reason.
pub fn reason_of(inbox: &Inbox, actor: &ActorRef) -> ExitReason {
    let down = next_down(inbox);
    assert_eq!(down.actor, actor.id(), "a Down about another actor");
    down.reason
}

/// Shuts the system down, which waits for every actor to end: whatever any
/// actor was going to send has been sent. Returns what `inbox` still holds.
pub fn settle(system: &System, inbox: &Inbox) -> Vec<ferrotp::Envelope> {
    system.shutdown(WAIT).expect("shutdown");
    std::iter::from_fn(|| inbox.try_recv()).collect()
}

/// A reason, and a way to make an actor terminate with it.
pub type Ending = (ExitReason, fn(&ActorRef));

pub fn panic_reason() -> ExitReason {
    ExitReason::Panic("crash".into())
}

/// Spawn options for an actor on a thread of its own, whatever the
/// system's default executor.
pub fn dedicated() -> SpawnOptions {
    SpawnOptions::new().dedicated()
}
