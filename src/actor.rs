//! The [`Actor`] trait: an actor's handlers and lifecycle hooks.

use crate::context::Context;
use crate::exit::ExitReason;
use crate::handlers::Handlers;

/// An actor: state owned by one mailbox, changed by one message at a time.
///
/// ```
/// use ferrotp::{Actor, Context, ExitReason, Handlers};
///
/// struct Greeter { greeted: u32 }
/// struct Greet(String);
///
/// impl Greeter {
///     fn greet(&mut self, Greet(who): Greet, ctx: &mut Context<Self>) {
///         self.greeted += 1;
///         ctx.reply(format!("hello, {who}"));
///     }
/// }
///
/// impl Actor for Greeter {
///     fn handlers() -> Handlers<Self> {
///         Handlers::new().on(Self::greet)
///     }
///     fn stopped(&mut self, reason: &ExitReason, _ctx: &mut Context<Self>) {
///         println!("greeted {} times, then {reason}", self.greeted);
///     }
/// }
/// ```
pub trait Actor: Send + Sized + 'static {
    /// The message handlers. Called once per actor type, not per spawn.
    fn handlers() -> Handlers<Self>;

    /// Runs before the first message. `Err(reason)` (or a panic) terminates
    /// the actor with that reason before it handles any message.
    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        let _ = ctx;
        Ok(())
    }

    /// Runs once when the actor terminates, for every reason but `Killed`
    /// (a killed actor's thread may be stuck, so nothing waits for it).
    fn stopped(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        let _ = (reason, ctx);
    }
}
