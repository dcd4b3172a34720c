//! [`TestWorker`]: the worker a [`Runner`](super::Runner) supervises unless
//! it is given a factory of its own.

use std::sync::mpsc::{Receiver, Sender};

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

/// Keeps a [`TestWorker`] busy in its handler until the sender of the
/// channel is dropped: a worker that cannot act on an exit signal, as one
/// stuck in a long computation ([`Step::KillWhileStopping`](super::Step::KillWhileStopping)).
/// The worker sends on `holding` once it is busy.
#[derive(Debug)]
pub struct Hold {
    /// Told when the worker is busy.
    pub holding: Sender<()>,
    /// Keeps it busy until its sender is dropped.
    pub release: Receiver<()>,
}

impl TestWorker {
    fn ping(&mut self, _: Ping, ctx: &mut Context<Self>) {
        ctx.reply(Pong);
    }

    fn hold(&mut self, Hold { holding, release }: Hold, _ctx: &mut Context<Self>) {
        let _ = holding.send(());
        // Returns when the sender is dropped (nothing is ever sent).
        let _ = release.recv();
    }
}

impl Actor for TestWorker {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::ping).on(Self::hold)
    }
}
