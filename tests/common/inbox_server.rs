//! The actors the `stress_inbox*` suites ask from plain code: a `Server`
//! that echoes, answers and ends, or answers a request whose drop is
//! counted, and the systems (one per executor) each scenario runs on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ferrotp::{Actor, Context, Executor, ExitReason, Handlers, System};

/// Asks a checking actor for the count it reached, or its first breach.
pub struct Tally;

/// Echo `n` back to the sender.
pub struct Echo(pub u64);

/// Answer `n`, then stop with `reason` in the same handler.
pub struct AnswerThenEnd {
    pub n: u64,
    pub reason: ExitReason,
}

/// Counts its drop: a message that is never handled must still be
/// dropped, once.
pub struct Token(pub Arc<AtomicU64>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Echo `n` back; the token counts the request's drop.
pub struct Counted {
    pub n: u64,
    pub _token: Token,
}

/// Echoes, or answers and ends.
pub struct Server;

impl Server {
    fn echo(&mut self, Echo(n): Echo, ctx: &mut Context<Self>) {
        ctx.reply(n);
    }

    fn counted(&mut self, Counted { n, .. }: Counted, ctx: &mut Context<Self>) {
        ctx.reply(n);
    }

    fn answer_then_end(
        &mut self,
        AnswerThenEnd { n, reason }: AnswerThenEnd,
        ctx: &mut Context<Self>,
    ) {
        ctx.reply(n);
        ctx.stop(reason);
    }
}

impl Actor for Server {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::echo)
            .on(Self::counted)
            .on(Self::answer_then_end)
    }
}

pub fn systems() -> [System; 2] {
    [Executor::Pool, Executor::Threads].map(|executor| System::builder().executor(executor).build())
}
