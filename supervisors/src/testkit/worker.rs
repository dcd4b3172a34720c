//! [`TestWorker`]: the worker a [`Runner`](super::Runner) supervises unless
//! it is given a factory of its own.

use ferrotp::{Actor, Context, Handlers};

/// The runner's default worker: it answers [`Ping`] with [`Pong`] and does
/// nothing else. How it ends is the schedule's business (see
/// [`CrashReason`](super::CrashReason)), so it needs no behaviour of its own.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestWorker;

/// Asks a [`TestWorker`] whether it is responsive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ping;

/// A [`TestWorker`]'s answer to [`Ping`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pong;

impl TestWorker {
    fn ping(&mut self, _: Ping, ctx: &mut Context<Self>) {
        ctx.reply(Pong);
    }
}

impl Actor for TestWorker {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::ping)
    }
}
