//! The table from a message's type to the actor's handler for it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Display;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;

use crate::actor::Actor;
use crate::context::Context;
use crate::exit::ExitReason;
use crate::payload::Payload;

type Handler<A> =
    Box<dyn Fn(&mut A, Payload, &mut Context<A>) -> Result<(), ExitReason> + Send + Sync>;
type Fallback<A> = Box<
    dyn Fn(&mut A, Payload, &'static str, &mut Context<A>) -> Result<(), ExitReason> + Send + Sync,
>;

/// A `TypeId` is already a hash: looking a handler up (once per message)
/// need not hash it again with SipHash.
#[derive(Default)]
struct TypeIdHasher(u64);

impl Hasher for TypeIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `TypeId`, which writes integers; kept correct anyway.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }

    fn write_u128(&mut self, n: u128) {
        self.0 ^= (n as u64) ^ ((n >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// What a handler may return: `()`, or `Result<(), E>` with a printable
/// error. `Err(e)` terminates the actor with `ExitReason::Error(e.to_string())`.
pub trait HandlerResult {
    /// `Ok` to go on, or the reason to terminate with.
    fn into_exit(self) -> Result<(), ExitReason>;
}

impl HandlerResult for () {
    fn into_exit(self) -> Result<(), ExitReason> {
        Ok(())
    }
}

impl<E: Display> HandlerResult for Result<(), E> {
    fn into_exit(self) -> Result<(), ExitReason> {
        self.map_err(ExitReason::error)
    }
}

/// An actor's handlers, chosen by message type, with an optional fallback.
///
/// ```
/// use ferrotp::{Actor, Context, Handlers};
///
/// struct Counter(u64);
/// struct Add(u64);
/// struct Get;
///
/// impl Counter {
///     fn add(&mut self, Add(n): Add, _: &mut Context<Self>) {
///         self.0 += n;
///     }
///     fn get(&mut self, _: Get, ctx: &mut Context<Self>) {
///         ctx.reply(self.0);
///     }
/// }
///
/// impl Actor for Counter {
///     fn handlers() -> Handlers<Self> {
///         Handlers::new().on(Self::add).on(Self::get)
///     }
/// }
/// ```
pub struct Handlers<A> {
    /// The handlers in the order they were added. Most actors handle a
    /// few types: a scan of a few `TypeId`s finds one faster than a hash
    /// lookup, and every message looks one up.
    table: Vec<(TypeId, Handler<A>)>,
    /// Where each type's handler is in `table`, for larger tables.
    index: HashMap<TypeId, usize, BuildHasherDefault<TypeIdHasher>>,
    fallback: Option<Fallback<A>>,
}

/// Up to this many handlers, a lookup scans the table.
const SCANNED: usize = 8;

impl<A: Actor> Default for Handlers<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Actor> Handlers<A> {
    /// No handlers: every message is a dead letter (but `Stop` still stops).
    pub fn new() -> Self {
        Handlers {
            table: Vec::new(),
            index: HashMap::default(),
            fallback: None,
        }
    }

    /// Adds `handler` for `type_id`, replacing an earlier one for it.
    fn insert(&mut self, type_id: TypeId, handler: Handler<A>) {
        match self.index.get(&type_id) {
            Some(&at) => self.table[at].1 = handler,
            None => {
                self.index.insert(type_id, self.table.len());
                self.table.push((type_id, handler));
            }
        }
    }

    /// The handler for `type_id`, if there is one.
    #[inline]
    fn find(&self, type_id: TypeId) -> Option<&Handler<A>> {
        self.position(type_id).map(|at| &self.table[at].1)
    }

    /// Handles messages of type `M` with `f` (replacing an earlier handler
    /// for `M`). `f` returns `()` or `Result<(), E: Display>`.
    pub fn on<M, R>(
        mut self,
        f: impl Fn(&mut A, M, &mut Context<A>) -> R + Send + Sync + 'static,
    ) -> Self
    where
        M: Send + 'static,
        R: HandlerResult,
    {
        let handler: Handler<A> = Box::new(move |actor, payload, ctx| {
            debug_assert!(payload.is::<M>(), "a handler called for another type");
            // SAFETY: a handler in the table is called only for a payload
            // of the type it is keyed by (see `call` and `dispatch`), and
            // this one is keyed by `M`'s TypeId (`insert` below).
            let msg = unsafe { payload.take::<M>() };
            f(actor, msg, ctx).into_exit()
        });
        self.insert(TypeId::of::<M>(), handler);
        self
    }

    /// Handles every message no `on` handler takes; `f` gets the boxed
    /// payload and its type name. Without it, such messages are dead
    /// letters, dropped by the actor they were delivered to: a panic in
    /// their `Drop` terminates that actor with `ExitReason::Panic`.
    pub fn other<R>(
        mut self,
        f: impl Fn(&mut A, Box<dyn Any + Send>, &'static str, &mut Context<A>) -> R
            + Send
            + Sync
            + 'static,
    ) -> Self
    where
        R: HandlerResult,
    {
        self.fallback = Some(Box::new(move |actor, payload, type_name, ctx| {
            f(actor, payload.into_box(), type_name, ctx).into_exit()
        }));
        self
    }

    /// Adds `other`'s handlers; where both handle a type, `other`'s wins
    /// (and its fallback, if it has one).
    pub fn merge(mut self, other: Handlers<A>) -> Self {
        for (type_id, handler) in other.table {
            self.insert(type_id, handler);
        }
        if other.fallback.is_some() {
            self.fallback = other.fallback;
        }
        self
    }

    /// Whether a handler for `M` is registered.
    pub fn handles<M: 'static>(&self) -> bool {
        self.find(TypeId::of::<M>()).is_some()
    }

    pub(crate) fn handles_type(&self, type_id: TypeId) -> bool {
        self.find(type_id).is_some()
    }

    /// Where the handler for `type_id` sits, if there is one: a driver
    /// may remember it and [`call`](Self::call) it for the next message of
    /// that type.
    #[inline]
    pub(crate) fn position(&self, type_id: TypeId) -> Option<usize> {
        if self.table.len() <= SCANNED {
            self.table.iter().position(|(id, _)| *id == type_id)
        } else {
            self.index.get(&type_id).copied()
        }
    }

    /// Runs the handler at `at`. The handler does not look at the
    /// payload's type again: telling it by its `TypeId` is a call through
    /// the payload's table (its address, which would tell it without one,
    /// differs between codegen units), and it was a twentieth of a
    /// fan-in consumer's instructions per message.
    ///
    /// # Safety
    /// The payload holds a value of the type the handler at `at` is keyed
    /// by: `at` came from [`position`](Self::position) for the payload's
    /// `TypeId`, or for a payload with the same table (`Payload::type_key`).
    #[inline]
    pub(crate) unsafe fn call(
        &self,
        at: usize,
        actor: &mut A,
        payload: Payload,
        ctx: &mut Context<A>,
    ) -> Result<(), ExitReason> {
        match self.table.get(at) {
            Some((_, handler)) => handler(actor, payload, ctx),
            None => Ok(()),
        }
    }

    /// Runs the handler for the payload's type; gives the payload back if
    /// there is none and no fallback.
    pub(crate) fn dispatch(
        &self,
        actor: &mut A,
        payload: Payload,
        type_name: &'static str,
        ctx: &mut Context<A>,
    ) -> Result<Result<(), ExitReason>, Payload> {
        // The handler found is keyed by the payload's own TypeId, as it
        // assumes (see `on`).
        if let Some(handler) = self.find(payload.type_id()) {
            Ok(handler(actor, payload, ctx))
        } else if let Some(fallback) = &self.fallback {
            Ok(fallback(actor, payload, type_name, ctx))
        } else {
            Err(payload)
        }
    }
}

/// `A::handlers()`, built once per actor type and shared by every spawn.
///
/// Each type gets a `OnceLock` cell: concurrent first spawns of one type
/// wait for a single build instead of each calling `A::handlers()`, and the
/// build runs outside the map's lock, so it may itself spawn other types.
pub(crate) fn handlers_for<A: Actor>() -> Arc<Handlers<A>> {
    type Table = Arc<dyn Any + Send + Sync>;
    type Tables = DashMap<TypeId, Arc<OnceLock<Table>>, BuildHasherDefault<TypeIdHasher>>;
    static TABLES: OnceLock<Tables> = OnceLock::new();
    let tables = TABLES.get_or_init(Tables::default);
    let key = TypeId::of::<A>();
    // Every spawn comes here: a shared read first, the entry (a write
    // lock) only for a type's first spawn.
    let cell = match tables.get(&key) {
        Some(cell) => cell.value().clone(),
        None => tables.entry(key).or_default().value().clone(),
    };
    let table = cell
        .get_or_init(|| Arc::new(A::handlers()) as Table)
        .clone();
    table
        .downcast::<Handlers<A>>()
        // Unreachable: the cell is keyed by `A`'s TypeId.
        .unwrap_or_else(|_| Arc::new(A::handlers()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records which handler took a message.
    struct Log(Vec<String>);

    impl Actor for Log {
        fn handlers() -> Handlers<Self> {
            Handlers::new()
        }
    }

    /// A handler table with `N` message types, `Tag<0>` .. `Tag<N-1>`.
    struct Tag<const N: usize>;

    fn on_tag<const N: usize>(handlers: Handlers<Log>, label: &'static str) -> Handlers<Log> {
        handlers.on(move |log: &mut Log, _: Tag<N>, _ctx: &mut Context<Log>| {
            log.0.push(format!("{label}{N}"));
        })
    }

    fn dispatch_to<M: Send + 'static>(handlers: &Handlers<Log>, log: &mut Log, msg: M) -> bool {
        let system = crate::System::new();
        let inbox = system.inbox();
        let mut ctx = Context::new(inbox.actor().clone(), system.clone());
        let type_name = std::any::type_name::<M>();
        handlers
            .dispatch(log, Payload::new(msg), type_name, &mut ctx)
            .is_ok()
    }

    /// Small tables are scanned, large ones indexed: both find every type,
    /// and a later handler for a type replaces the earlier one, also
    /// through `merge`.
    #[test]
    fn scanned_and_indexed_tables_find_and_replace_handlers() {
        let small = on_tag::<1>(on_tag::<0>(Handlers::new(), "a"), "a");
        let small = on_tag::<1>(small, "b");
        assert_eq!(small.table.len(), 2);
        let mut log = Log(Vec::new());
        assert!(dispatch_to(&small, &mut log, Tag::<0>));
        assert!(dispatch_to(&small, &mut log, Tag::<1>));
        assert!(!dispatch_to(&small, &mut log, Tag::<2>));
        assert_eq!(log.0, ["a0", "b1"]);

        let mut large = Handlers::new();
        large = on_tag::<0>(large, "a");
        large = on_tag::<1>(large, "a");
        large = on_tag::<2>(large, "a");
        large = on_tag::<3>(large, "a");
        large = on_tag::<4>(large, "a");
        large = on_tag::<5>(large, "a");
        large = on_tag::<6>(large, "a");
        large = on_tag::<7>(large, "a");
        large = on_tag::<8>(large, "a");
        large = on_tag::<9>(large, "a");
        assert!(large.table.len() > SCANNED);
        let large = large.merge(on_tag::<9>(on_tag::<4>(Handlers::new(), "m"), "m"));
        assert_eq!(large.table.len(), 10);
        let mut log = Log(Vec::new());
        for handled in [
            dispatch_to(&large, &mut log, Tag::<0>),
            dispatch_to(&large, &mut log, Tag::<4>),
            dispatch_to(&large, &mut log, Tag::<8>),
            dispatch_to(&large, &mut log, Tag::<9>),
        ] {
            assert!(handled);
        }
        assert!(!dispatch_to(&large, &mut log, Tag::<10>));
        assert_eq!(log.0, ["a0", "m4", "a8", "m9"]);
        assert!(large.handles::<Tag<7>>() && !large.handles::<Tag<11>>());
    }
}
