//! Names: a name names at most one live actor, an actor has at most one name.
//!
//! A terminating actor's name is released before any exit signal or `Down`
//! about it is sent (see `Core::close`), so whoever restarts it can register
//! the same name at once.

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use crate::address::{ActorId, ActorRef};
use crate::error::RegistryError;
use crate::events::{EventBus, LifecycleEvent};
use crate::links::Relations;

#[derive(Default)]
pub(crate) struct Registry {
    names: DashMap<String, ActorRef>,
}

impl Registry {
    pub fn register(
        &self,
        name: &str,
        actor: &ActorRef,
        events: &EventBus,
    ) -> Result<(), RegistryError> {
        self.register_then(name, actor, events, |_| {})
    }

    /// `register`, running `then` once the name is the actor's and before
    /// anyone who finds the actor by it can act on it (under its relations
    /// lock, which `close` takes): a spawn announces the actor there, so a
    /// kill through the name cannot end it before its `Spawned`.
    pub fn register_then(
        &self,
        name: &str,
        actor: &ActorRef,
        events: &EventBus,
        then: impl FnOnce(&mut Relations),
    ) -> Result<(), RegistryError> {
        // Lock order: the actor's relations, then the map's shard.
        let mut rel = actor.core.relations();
        if rel.closed {
            return Err(RegistryError::NotAlive);
        }
        if let Some(current) = rel.name() {
            return Err(RegistryError::AlreadyNamed {
                actor: actor.id(),
                name: current.to_string(),
            });
        }
        match self.names.entry(name.to_string()) {
            Entry::Occupied(mut held) => {
                // A holder that is already dead is about to release the name.
                if held.get().is_alive() {
                    return Err(RegistryError::NameTaken {
                        name: name.to_string(),
                        holder: held.get().id(),
                    });
                }
                held.insert(actor.clone());
            }
            Entry::Vacant(free) => {
                free.insert(actor.clone());
            }
        }
        rel.rare().name = Some(name.to_string());
        then(&mut rel);
        // Still under the lock: the `Unregistered` of its end comes after.
        tracing::debug!(actor = %actor.id(), name, "registered");
        events.emit(|| LifecycleEvent::Registered {
            actor: actor.id(),
            name: name.to_string(),
        });
        Ok(())
    }

    pub fn unregister(&self, name: &str, events: &EventBus) -> Option<ActorRef> {
        let holder = self.names.get(name)?.value().clone();
        let mut rel = holder.core.relations();
        if rel.name() != Some(name) {
            return None;
        }
        rel.clear_name();
        self.names.remove_if(name, |_, r| r.id() == holder.id());
        // Still under the lock: the holder's `Exited` comes after.
        tracing::debug!(actor = %holder.id(), name, "unregistered");
        events.emit(|| LifecycleEvent::Unregistered {
            actor: holder.id(),
            name: name.to_string(),
        });
        drop(rel);
        Some(holder)
    }

    pub fn whereis(&self, name: &str) -> Option<ActorRef> {
        let found = self.names.get(name)?.value().clone();
        found.is_alive().then_some(found)
    }

    pub fn registered(&self) -> Vec<String> {
        // Sorted by each name's first eight bytes, kept beside it, and by
        // the whole name only where those tie: most comparisons then read
        // no string.
        let mut names: Vec<(u64, String)> = self
            .names
            .iter()
            .filter(|e| e.value().is_alive())
            .map(|e| (prefix(e.key()), e.key().clone()))
            .collect();
        names.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        names.into_iter().map(|(_, name)| name).collect()
    }

    /// Frees `name` if `id` still holds it (called when `id` terminates).
    pub fn release(&self, name: &str, id: ActorId, events: &EventBus) {
        self.names.remove_if(name, |_, r| r.id() == id);
        // Told even when a new holder already took the name over (allowed
        // once this actor was dead): the name was this actor's until now,
        // and its `Exited` must follow its `Unregistered`.
        tracing::debug!(actor = %id, name, "unregistered");
        events.emit(|| LifecycleEvent::Unregistered {
            actor: id,
            name: name.to_string(),
        });
    }
}

/// A name's first eight bytes as a number that orders like the bytes
/// (shorter names padded with zeros, which sort first, as in `str`'s order).
fn prefix(name: &str) -> u64 {
    let mut bytes = [0u8; 8];
    let len = name.len().min(8);
    bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
    u64::from_be_bytes(bytes)
}
