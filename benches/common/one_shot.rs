//! The actor of the spawn workload: it answers one `Hello`, then idles.
//! Also read by `tests/memory_budget.rs`, which includes the file, so that
//! the actor whose memory is budgeted is the one the benches spawn.

use ferrotp::{Actor, Context, Handlers};

/// The one message a [`OneShot`] handles, and its answer.
pub struct Hello;

/// Answers one `Hello`, then idles until stopped.
pub struct OneShot;

impl OneShot {
    fn hello(&mut self, _: Hello, ctx: &mut Context<Self>) {
        ctx.reply(Hello);
    }
}

impl Actor for OneShot {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::hello)
    }
}
