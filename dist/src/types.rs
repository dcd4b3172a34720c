//! Which Rust types cross the wire: the encoders (by type, for what local
//! actors send to remote ones) and the decoders (per actor or per
//! registered name, for what remote processes send to local actors).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use erl_dist::term::{Atom, Pid, Term};
use ferrotp::{ActorId, ActorRef, ExitReason};
use parking_lot::RwLock;

use crate::codec::{Codec, FromTerm, IntoTerm};

type Encoder = Box<dyn Fn(Box<dyn Any + Send>, &Codec<'_>) -> Option<Term> + Send + Sync>;
/// Decodes a term as one type and delivers it; `false` if it did not decode.
type Decoder = Arc<dyn Fn(&Term, &Codec<'_>, &ActorRef, Option<&ActorRef>) -> bool + Send + Sync>;

/// Who a decoder list is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Actor(ActorId),
    Name(String),
}

#[derive(Default)]
pub(crate) struct Types {
    encoders: RwLock<HashMap<TypeId, Encoder>>,
    decoders: RwLock<Decoders>,
}

/// The decoder lists, per actor and per name (looked up by `&str`).
#[derive(Default)]
struct Decoders {
    by_actor: HashMap<ActorId, Vec<Decoder>>,
    by_name: HashMap<String, Vec<Decoder>>,
}

impl Types {
    pub fn with_builtins() -> Self {
        let types = Types::default();
        types.encoder::<Term>();
        types.encoder::<Atom>();
        types.encoder::<Pid>();
        types.encoder::<i8>();
        types.encoder::<i16>();
        types.encoder::<i32>();
        types.encoder::<i64>();
        types.encoder::<isize>();
        types.encoder::<u8>();
        types.encoder::<u16>();
        types.encoder::<u32>();
        types.encoder::<u64>();
        types.encoder::<usize>();
        types.encoder::<f32>();
        types.encoder::<f64>();
        types.encoder::<bool>();
        types.encoder::<String>();
        types.encoder::<&'static str>();
        types.encoder::<()>();
        types.encoder::<ActorRef>();
        types.encoder::<ExitReason>();
        types
    }

    pub fn encoder<T: IntoTerm>(&self) {
        let encode: Encoder = Box::new(|any, codec| {
            let value = any.downcast::<T>().ok()?;
            Some(value.into_term(codec))
        });
        self.encoders.write().insert(TypeId::of::<T>(), encode);
    }

    /// The term for a message of a registered type (`None`: no encoder, or
    /// the user's `into_term` panicked).
    pub fn encode(&self, message: Box<dyn Any + Send>, codec: &Codec<'_>) -> Option<Term> {
        let type_id = (*message).type_id();
        let encoders = self.encoders.read();
        let encode = encoders.get(&type_id)?;
        // A user's `into_term` that panics costs that message only.
        catch_unwind(AssertUnwindSafe(|| encode(message, codec)))
            .ok()
            .flatten()
    }

    pub fn decoder<T: FromTerm>(&self, key: Key) {
        let decode: Decoder = Arc::new(|term, codec, to, sender| {
            match catch_unwind(AssertUnwindSafe(|| T::from_term(term, codec))) {
                Ok(Ok(value)) => {
                    match sender {
                        Some(sender) => to.send_from(value, sender),
                        None => to.send(value),
                    }
                    true
                }
                _ => false,
            }
        });
        let mut decoders = self.decoders.write();
        let list = match key {
            Key::Actor(id) => decoders.by_actor.entry(id).or_default(),
            Key::Name(name) => decoders.by_name.entry(name).or_default(),
        };
        list.push(decode);
    }

    pub fn forget(&self, key: &Key) {
        let mut decoders = self.decoders.write();
        match key {
            Key::Actor(id) => decoders.by_actor.remove(id),
            Key::Name(name) => decoders.by_name.remove(name),
        };
    }

    /// Delivers `term` to `to` as the first registered type it decodes to
    /// (the actor's own list, then its name's: `name` when it was reached
    /// by name), else as the raw [`Term`].
    pub fn deliver(
        &self,
        term: Term,
        codec: &Codec<'_>,
        to: &ActorRef,
        name: Option<&str>,
        sender: Option<&ActorRef>,
    ) {
        let mut lists: Vec<Decoder> = Vec::new();
        {
            let decoders = self.decoders.read();
            if let Some(list) = decoders.by_actor.get(&to.id()) {
                lists.extend(list.iter().cloned());
            }
            if !decoders.by_name.is_empty() {
                let looked_up;
                let name = match name {
                    Some(name) => Some(name),
                    None => {
                        looked_up = to.name();
                        looked_up.as_deref()
                    }
                };
                if let Some(list) = name.and_then(|name| decoders.by_name.get(name)) {
                    lists.extend(list.iter().cloned());
                }
            }
        }
        if lists.iter().any(|decode| decode(&term, codec, to, sender)) {
            return;
        }
        match sender {
            Some(sender) => to.send_from(term, sender),
            None => to.send(term),
        }
    }
}
