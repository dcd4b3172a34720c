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
    by_type: HashMap<TypeId, Handler<A>, BuildHasherDefault<TypeIdHasher>>,
    fallback: Option<Fallback<A>>,
}

impl<A: Actor> Default for Handlers<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Actor> Handlers<A> {
    /// No handlers: every message is a dead letter (but `Stop` still stops).
    pub fn new() -> Self {
        Handlers {
            by_type: HashMap::default(),
            fallback: None,
        }
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
        let handler: Handler<A> =
            Box::new(move |actor, payload, ctx| match payload.downcast::<M>() {
                Ok(msg) => f(actor, msg, ctx).into_exit(),
                // Unreachable: the table is keyed by the payload's TypeId.
                Err(_) => Ok(()),
            });
        self.by_type.insert(TypeId::of::<M>(), handler);
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
        self.by_type.extend(other.by_type);
        if other.fallback.is_some() {
            self.fallback = other.fallback;
        }
        self
    }

    /// Whether a handler for `M` is registered.
    pub fn handles<M: 'static>(&self) -> bool {
        self.by_type.contains_key(&TypeId::of::<M>())
    }

    pub(crate) fn handles_type(&self, type_id: TypeId) -> bool {
        self.by_type.contains_key(&type_id)
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
        let type_id = payload.type_id();
        if let Some(handler) = self.by_type.get(&type_id) {
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
