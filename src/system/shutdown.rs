//! Shutdown: stopping every actor of a system, each tree in its own order,
//! then joining their threads.
//!
//! Apart from spawning because it runs the other way: it closes the
//! spawn gate (`SpawnGate`, in `spawn`), waits for spawns in flight, and
//! stops roots before what outlived them.

use std::cmp::Reverse;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{System, SystemInner};
use crate::address::{current_actor_in, ActorId, ActorRef};
use crate::error::ShutdownError;
use crate::exit::ExitReason;
use crate::mailbox::ExitSignal;

/// How long dropping the last owning [`System`] handle waits for actors.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

impl System {
    /// Whether [`shutdown`](Self::shutdown) has begun (spawns now fail).
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    /// Stops every actor and joins their threads.
    ///
    /// New spawns fail from the moment this is called; a spawn already
    /// under way when it is called is waited for, so no actor outlives the
    /// system. Each actor gets an untrappable exit signal `Shutdown` (its
    /// `stopped` hook runs) — or a trappable one if it asked with
    /// [`Context::trap_system_shutdown`](crate::Context::trap_system_shutdown),
    /// as supervisors do — in waves:
    ///
    /// 1. the *roots* — actors linked to no actor of this system spawned
    ///    before them — all at once, and shutdown waits for them all. A
    ///    child (from `spawn_link`, or a supervisor's) is linked to its older
    ///    parent, so it is left to that parent: a supervisor stops its
    ///    children in reverse start order before it ends, and a plain
    ///    parent's end takes its linked children with it;
    /// 2. then every actor still alive (say a child that traps exits),
    ///    all at once, and once more for what those leave.
    ///
    /// So each supervision tree stops in its own order, children before
    /// their parent; roots stop concurrently, and no order among them is
    /// promised (signals go out newest first, but a million actors are not
    /// stopped one at a time). If one service must outlive another, start
    /// both under one supervisor, or stop the dependent one yourself first.
    ///
    /// Actors still running at the deadline are killed (without `stopped`);
    /// their ids are in the error.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), ShutdownError> {
        shutdown(&self.inner, timeout)
    }
}

/// Waits until no spawn is in flight (see `SpawnGate` in `spawn`), or `deadline`.
fn wait_for_spawns(inner: &SystemInner, deadline: Instant) {
    let backoff = crossbeam_utils::Backoff::new();
    while inner.spawning.load(Ordering::SeqCst) > 0 {
        if Instant::now() >= deadline {
            tracing::error!("shutdown: spawns still in flight at the deadline");
            return;
        }
        if backoff.is_completed() {
            std::thread::sleep(Duration::from_micros(50));
        } else {
            backoff.snooze();
        }
    }
}

pub(super) fn shutdown(inner: &Arc<SystemInner>, timeout: Duration) -> Result<(), ShutdownError> {
    let deadline = Instant::now() + timeout;
    inner.shutting_down.store(true, Ordering::SeqCst);
    wait_for_spawns(inner, deadline);
    // An actor that shuts its own system down is signalled last, and its
    // own thread is not waited for.
    let me = current_actor_in(inner);
    let mut not_stopped = Vec::new();
    // First the roots, whose trees stop in their own order; then whatever
    // outlived its root (a trapping child of a plain actor, say); a third
    // look finds what those left.
    for pass in 0..3 {
        let mut actors: Vec<(ActorId, ActorRef)> = inner
            .actors
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .filter(|(id, _)| Some(*id) != me)
            .collect();
        if actors.is_empty() {
            break;
        }
        // Sorted first: ids grow with spawn order, and so, mostly, do the
        // addresses of the actors' memory, so what follows walks it in
        // order instead of in the table's hash order (a million actors do
        // not fit in the caches).
        actors.sort_unstable_by_key(|(id, _)| Reverse(*id));
        if pass == 0 {
            actors.retain(|(_, actor)| is_root(inner, actor));
        }
        stop_all(actors, deadline, &mut not_stopped);
    }
    if let Some(me) = me.and_then(|id| inner.actors.get(&id).map(|a| a.value().clone())) {
        me.core.deliver_exit(ExitSignal {
            from: ActorId::EXTERNAL,
            reason: ExitReason::Shutdown,
            link: None,
            force: true,
        });
    }
    inner.timers.stop();
    // Threads of actors that stopped report within moments; only killed,
    // stuck ones can use up the grace.
    let join_deadline = deadline.max(Instant::now() + Duration::from_millis(500));
    not_stopped.extend(inner.executor.join_all(join_deadline, me));
    if let Some(pool) = inner.pool() {
        pool.stop(join_deadline);
    }
    if not_stopped.is_empty() {
        Ok(())
    } else {
        not_stopped.sort_unstable();
        not_stopped.dedup();
        Err(ShutdownError {
            actors: not_stopped,
            timeout,
        })
    }
}

/// Whether `actor` is a root: linked to no actor of this system spawned
/// before it. A child (`spawn_link`, a supervisor's child) is linked to its
/// older parent, which stops it in its own order, so shutdown leaves it to
/// that parent rather than stop parent and children all at once.
fn is_root(inner: &Arc<SystemInner>, actor: &ActorRef) -> bool {
    let relations = actor.core.relations();
    let Some(ties) = relations.ties_ref() else {
        return true;
    };
    !ties
        .links
        .iter()
        .any(|(id, link)| *id < actor.id() && Arc::ptr_eq(&link.peer.core.system, inner))
}

/// Waits until `actor` has ended (its `close` ran) or `deadline`; `false`
/// if it is still alive then.
///
/// It looks, then sleeps a little longer each time (up to a millisecond):
/// shutdown waits for a million actors this way without a monitor, a
/// `Down` or a wake-up each, and a thousand looks a second cost nothing
/// beside the stops themselves.
fn wait_gone(actor: &ActorRef, deadline: Instant) -> bool {
    const MAX_NAP: Duration = Duration::from_millis(1);
    let mut nap = Duration::from_micros(20);
    let backoff = crossbeam_utils::Backoff::new();
    loop {
        if !actor.is_alive() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        if !backoff.is_completed() {
            backoff.snooze();
            continue;
        }
        std::thread::sleep(nap.min(deadline - now));
        nap = (nap * 2).min(MAX_NAP);
    }
}

/// Sends `Shutdown` to all `actors` at once (in the order given;
/// trappable to those that asked for it), then
/// waits until `deadline` for them all to end; kills those that did not
/// and adds them to `not_stopped`.
fn stop_all(actors: Vec<(ActorId, ActorRef)>, deadline: Instant, not_stopped: &mut Vec<ActorId>) {
    for (_, actor) in &actors {
        let asked = actor.core.graceful_shutdown.load(Ordering::Acquire);
        actor.core.deliver_exit(ExitSignal {
            from: ActorId::EXTERNAL,
            reason: ExitReason::Shutdown,
            link: None,
            force: !asked,
        });
    }
    for (id, actor) in actors {
        if !wait_gone(&actor, deadline) {
            actor.kill();
            not_stopped.push(id);
        }
    }
}
