//! Names: the system's face of the [`Registry`](crate::registry::Registry).
//!
//! The registry itself lives in `registry`; these are the calls users make
//! on a [`System`], kept apart so the handle's module stays about the
//! handle.

use super::System;
use crate::address::ActorRef;
use crate::error::RegistryError;

impl System {
    /// Registers `actor` under `name`.
    ///
    /// Fails if another live actor holds the name ([`RegistryError::NameTaken`]),
    /// if `actor` already has a name ([`RegistryError::AlreadyNamed`]) or if it
    /// is dead ([`RegistryError::NotAlive`]). The name is freed when the actor
    /// terminates, before anyone is told of its end.
    ///
    /// ```
    /// # use ferrotp::{Actor, Handlers, System, RegistryError};
    /// # struct Idle;
    /// # impl Actor for Idle { fn handlers() -> Handlers<Self> { Handlers::new() } }
    /// let system = System::new();
    /// let a = system.spawn(Idle);
    /// let b = system.spawn(Idle);
    /// system.register("db", &a).unwrap();
    /// assert!(matches!(system.register("db", &b), Err(RegistryError::NameTaken { .. })));
    /// assert_eq!(system.whereis("db"), Some(a));
    /// ```
    pub fn register(&self, name: &str, actor: &ActorRef) -> Result<(), RegistryError> {
        self.inner
            .registry
            .register(name, actor, &self.inner.events)
    }

    /// Frees `name`; returns the actor that held it, or `None` if no one did.
    pub fn unregister(&self, name: &str) -> Option<ActorRef> {
        self.inner.registry.unregister(name, &self.inner.events)
    }

    /// The live actor registered under `name`.
    pub fn whereis(&self, name: &str) -> Option<ActorRef> {
        self.inner.registry.whereis(name)
    }

    /// Every registered name, sorted.
    pub fn registered(&self) -> Vec<String> {
        self.inner.registry.registered()
    }

    /// Sends `msg` (no sender) to the actor registered under `name`.
    pub fn send_named<M: Send + 'static>(&self, name: &str, msg: M) -> Result<(), RegistryError> {
        let to = self
            .whereis(name)
            .ok_or_else(|| RegistryError::NotRegistered(name.to_string()))?;
        to.send(msg);
        Ok(())
    }
}
