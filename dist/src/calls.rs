//! The node's reply endpoint for the `gen_server` calls it makes
//! ([`Node::call`](crate::Node::call)).
//!
//! Every call uses one pid, the endpoint's, as its `From`, with a fresh
//! reference as the tag, and that same reference names the monitor the
//! call places on its target. The connection's reader hands a reply
//! (`{Tag, Reply}` to the endpoint) or the monitor's end straight to the
//! waiting thread through this table: no inbox, no actor and no local
//! monitor per call, as Erlang's `gen:call` reuses the calling process.

use std::collections::HashMap;

use crossbeam_channel::Sender;
use erl_dist::term::{Reference, Term};
use ferrotp::ExitReason;
use parking_lot::Mutex;

/// How a call ended, as the reader saw it.
pub(crate) enum Outcome {
    Reply(Term),
    Down(ExitReason),
}

struct Waiting {
    node: String,
    tx: Sender<Outcome>,
}

/// The calls waiting for their reply, by tag.
#[derive(Default)]
pub(crate) struct Calls {
    waiting: Mutex<HashMap<Reference, Waiting>>,
}

impl Calls {
    /// Registers a call to a process on `node`; its outcome goes to `tx`.
    pub fn insert(&self, tag: Reference, node: &str, tx: Sender<Outcome>) {
        self.waiting.lock().insert(
            tag,
            Waiting {
                node: node.to_string(),
                tx,
            },
        );
    }

    /// Forgets a call; `true` if it was still waiting (no outcome came).
    pub fn remove(&self, tag: &Reference) -> bool {
        self.waiting.lock().remove(tag).is_some()
    }

    /// Ends the call tagged `tag` with `outcome`; `false` if no call has
    /// that tag (a late reply, or someone else's reference).
    pub fn complete(&self, tag: &Reference, outcome: Outcome) -> bool {
        match self.waiting.lock().remove(tag) {
            Some(waiting) => {
                // The caller may have given up meanwhile: nothing to do.
                let _ = waiting.tx.send(outcome);
                true
            }
            None => false,
        }
    }

    /// A reply term `{Tag, Reply}` sent to the endpoint: completes its call.
    pub fn reply(&self, message: Term) -> bool {
        let Term::Tuple(tuple) = message else {
            return false;
        };
        let Ok([Term::Reference(tag), reply]) = <[Term; 2]>::try_from(tuple.elements) else {
            return false;
        };
        self.complete(&tag, Outcome::Reply(reply))
    }

    /// The connection to `node` is lost: every call to it ends with `reason`.
    pub fn node_down(&self, node: &str, reason: &ExitReason) {
        let gone: Vec<Waiting> = {
            let mut waiting = self.waiting.lock();
            let tags: Vec<Reference> = waiting
                .iter()
                .filter(|(_, w)| w.node == node)
                .map(|(tag, _)| tag.clone())
                .collect();
            tags.iter().filter_map(|t| waiting.remove(t)).collect()
        };
        for waiting in gone {
            let _ = waiting.tx.send(Outcome::Down(reason.clone()));
        }
    }
}
