//! The keyspace: N shard actors under a one_for_one supervisor, each the
//! only owner of the keys that hash to it.
//!
//! A connection sends a shard a `Batch` of operations (all the commands of
//! one read that touch that shard, in order) with a oneshot channel for the
//! answers: one message and one wake-up per shard per read, however many
//! commands were pipelined.
//!
//! A shard that crashes drops the batches still in its mailbox (and any
//! sent to it after its end). Such a batch was never begun, and says so as
//! it is dropped: it sends its operations back (`Outcome::NotRun`), and the
//! connection sends them to the next incarnation. Only the batch being
//! handled when the shard panicked is lost: its oneshot closes without an
//! answer, and the connection answers its commands with an error (they may
//! have run in part).
//!
//! Where a shard lives: each incarnation publishes its address in its
//! `started` hook on a `watch` channel of the `ShardTable`, so connections
//! find the restarted shard without asking anyone, and wait on the channel
//! (an event, not a poll) while a restart is under way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotp::{Actor, ActorRef, Context, ExitReason, Handlers, System};
use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorError, SupervisorSpec};
use tokio::sync::{oneshot, watch};

use crate::command::Key;
use crate::resp::Reply;

/// One operation on one shard's keys.
#[derive(Debug)]
pub enum Op {
    Get(Key),
    Set(Key, Vec<u8>),
    IncrBy(Key, i64),
    /// Answers 1 if the key was there.
    Del(Key),
    /// Answers 1 if the key is there.
    Exists(Key),
    /// The number of keys in this shard.
    Len,
    Flush,
    /// `DEBUG PANIC-SHARD`: the shard panics here.
    Panic,
}

/// The operations of one read of one connection for one shard, and where
/// their answers go.
pub struct Batch {
    ops: Vec<Op>,
    reply: Option<oneshot::Sender<Outcome>>,
    begun: bool,
}

/// What a batch's sender hears back.
pub enum Outcome {
    /// One `Reply` per `Op`, in order.
    Done(Vec<Reply>),
    /// The shard ended before it began the batch: nothing ran.
    NotRun(Vec<Op>),
}

impl Batch {
    pub fn new(ops: Vec<Op>, reply: oneshot::Sender<Outcome>) -> Self {
        Batch {
            ops,
            reply: Some(reply),
            begun: false,
        }
    }
}

impl Drop for Batch {
    /// A batch dropped unbegun (left in a dead shard's mailbox, or sent to
    /// a dead shard) gives its operations back.
    fn drop(&mut self) {
        if !self.begun {
            if let Some(reply) = self.reply.take() {
                let _ = reply.send(Outcome::NotRun(std::mem::take(&mut self.ops)));
            }
        }
    }
}

/// Which shard owns `key`: FNV-1a, so it is the same in every process (the
/// tests compute it too).
pub fn shard_of(key: &[u8], shards: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % shards as u64) as usize
}

/// Where every shard's current incarnation is, and how often each started.
pub struct ShardTable {
    slots: Vec<watch::Sender<Option<ActorRef>>>,
    starts: Vec<AtomicU64>,
}

impl ShardTable {
    fn new(shards: usize) -> Self {
        ShardTable {
            slots: (0..shards).map(|_| watch::channel(None).0).collect(),
            starts: (0..shards).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// A receiver that sees every incarnation of shard `i`.
    pub fn watch(&self, i: usize) -> watch::Receiver<Option<ActorRef>> {
        self.slots[i].subscribe()
    }

    /// How many times shard `i` has started (1 + its restarts).
    pub fn starts(&self, i: usize) -> u64 {
        self.starts[i].load(Ordering::Acquire)
    }
}

/// One shard: a plain map, owned by one actor.
struct Shard {
    index: usize,
    table: Arc<ShardTable>,
    map: HashMap<Key, Vec<u8>>,
}

impl Shard {
    fn batch(&mut self, mut batch: Batch, _ctx: &mut Context<Self>) {
        // From here a panic loses the batch: its oneshot closes unanswered.
        batch.begun = true;
        let ops = std::mem::take(&mut batch.ops);
        let mut replies = Vec::with_capacity(ops.len());
        for op in ops {
            replies.push(self.apply(op));
        }
        if let Some(reply) = batch.reply.take() {
            // The connection may have gone: then nobody wants the answers.
            let _ = reply.send(Outcome::Done(replies));
        }
    }

    fn apply(&mut self, op: Op) -> Reply {
        match op {
            Op::Get(key) => Reply::Bulk(self.map.get(&key).cloned()),
            Op::Set(key, value) => {
                self.map.insert(key, value);
                Reply::OK
            }
            Op::IncrBy(key, step) => self.incr_by(key, step),
            Op::Del(key) => Reply::Int(i64::from(self.map.remove(&key).is_some())),
            Op::Exists(key) => Reply::Int(i64::from(self.map.contains_key(&key))),
            Op::Len => Reply::Int(self.map.len() as i64),
            Op::Flush => {
                self.map = HashMap::new();
                Reply::OK
            }
            Op::Panic => panic!("DEBUG PANIC-SHARD: shard {} panics on request", self.index),
        }
    }

    fn incr_by(&mut self, key: Key, step: i64) -> Reply {
        let old = match self.map.get(&key) {
            None => 0,
            Some(text) => match crate::command::integer(text) {
                Ok(n) => n,
                Err(reply) => return reply,
            },
        };
        match old.checked_add(step) {
            Some(new) => {
                self.map.insert(key, new.to_string().into_bytes());
                Reply::Int(new)
            }
            None => Reply::err("increment or decrement would overflow"),
        }
    }
}

impl Actor for Shard {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::batch)
    }

    fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.table.starts[self.index].fetch_add(1, Ordering::AcqRel);
        self.table.slots[self.index].send_replace(Some(ctx.myself().clone()));
        Ok(())
    }
}

/// How the keyspace is supervised.
#[derive(Clone, Copy, Debug)]
pub struct KeyspaceConfig {
    pub shards: usize,
    /// The supervisor gives up (and the server stops) after more than this
    /// many shard restarts within `period`.
    pub max_restarts: u32,
    pub period: Duration,
}

/// Starts `config.shards` shards under a one_for_one supervisor named
/// `kv-keyspace`; returns the supervisor and where the shards are.
pub fn start(
    system: &System,
    config: KeyspaceConfig,
) -> Result<(Supervisor, Arc<ShardTable>), SupervisorError> {
    let table = Arc::new(ShardTable::new(config.shards));
    let mut spec = SupervisorSpec::one_for_one()
        .name("kv-keyspace")
        .intensity(config.max_restarts, config.period);
    for index in 0..config.shards {
        let table = table.clone();
        spec = spec.child(ChildSpec::worker(format!("shard-{index}"), move || Shard {
            index,
            table: table.clone(),
            map: HashMap::new(),
        }));
    }
    let supervisor = Supervisor::start(system, spec)?;
    Ok((supervisor, table))
}
