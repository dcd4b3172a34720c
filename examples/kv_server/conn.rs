//! One client connection: a tokio task that reads requests, sends each
//! shard one `Batch` per read, and writes the replies in request order.
//!
//! Per read, every complete request in the buffer is parsed; their shard
//! operations are grouped by shard (in request order within each shard),
//! the batches go out together, and the replies are written with one
//! `write_all` once every batch has answered. A pipelining client thus
//! costs one message per shard per read, not one per command. Each key
//! lives on one shard and a shard handles a connection's batches in the
//! order they were sent, so the connection observes its commands in order.
//! Across shards, the pipelined commands of one read may take effect in
//! either order for *other* clients (as with Redis Cluster).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotp::ActorRef;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};

use crate::command::{self, Command};
use crate::resp::{self, Limits, Parsed, Reply};
use crate::shard::{shard_of, Batch, Op, Outcome, ShardTable};

/// What every connection shares.
pub struct Shared {
    pub table: Arc<ShardTable>,
    pub limits: Limits,
    /// How long a command waits for its shard to come back from a restart
    /// before it is answered `-ERR shard N is down`.
    pub restart_wait: Duration,
    pub stats: Stats,
}

/// Counters a test or an operator reads.
pub struct Stats {
    /// Per shard: commands answered with an error because the shard
    /// crashed while handling them, or was not back within `restart_wait`.
    pub shard_errors: Vec<AtomicU64>,
    /// Per shard: batches sent again to a new incarnation because the
    /// shard had died before beginning them.
    pub shard_resends: Vec<AtomicU64>,
    /// Connections closed for a protocol error.
    pub protocol_errors: AtomicU64,
    pub connections: AtomicU64,
    /// Requests answered (errors included).
    pub commands: AtomicU64,
}

impl Stats {
    pub fn new(shards: usize) -> Self {
        Stats {
            shard_errors: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            shard_resends: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            protocol_errors: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            commands: AtomicU64::new(0),
        }
    }
}

/// Serves one client until it quits, hangs up, or breaks the protocol.
pub async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
    let _ = stream.set_nodelay(true);
    let mut links: Vec<ShardLink> = (0..shared.table.len())
        .map(|i| ShardLink::new(shared.table.watch(i)))
        .collect();
    let mut input: Vec<u8> = Vec::with_capacity(16 << 10);
    let mut output: Vec<u8> = Vec::with_capacity(16 << 10);
    loop {
        let mut plan = Plan::new(links.len());
        let mut close = false;
        let mut used = 0;
        loop {
            match resp::parse(&input[used..], &shared.limits) {
                Ok(Parsed::Request { args, used: n }) => {
                    used += n;
                    match command::parse(args) {
                        Ok(Command::Quit) => {
                            plan.ready(Reply::OK);
                            close = true;
                            break;
                        }
                        Ok(command) => plan.add(command, &shared),
                        Err(reply) => plan.ready(reply),
                    }
                }
                Ok(Parsed::Nothing { used: n }) => used += n,
                Ok(Parsed::Incomplete) => break,
                Err(error) => {
                    shared.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                    plan.ready(Reply::err(error));
                    close = true;
                    break;
                }
            }
        }
        input.drain(..used);
        if !plan.answers.is_empty() {
            let answers = plan.answers.len() as u64;
            shared.stats.commands.fetch_add(answers, Ordering::Relaxed);
            plan.run(&mut links, &shared, &mut output).await;
            if stream.write_all(&output).await.is_err() {
                return;
            }
            output.clear();
        }
        if close {
            linger(&mut stream).await;
            return;
        }
        if input.capacity() - input.len() < 4096 {
            input.reserve(16 << 10);
        }
        match stream.read_buf(&mut input).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Closes after a last reply so that the client reads it: the write side
/// first (the reply, then the end of the stream), then whatever the client
/// still sends is read and dropped, for a bounded time and amount. Closing
/// with unread input would make the kernel reset the connection, and a
/// reset can destroy the reply before the client reads it.
async fn linger(stream: &mut TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let mut budget: usize = 1 << 20;
    let drain = async {
        while let Ok(n @ 1..) = stream.read(&mut sink).await {
            budget = budget.saturating_sub(n);
            if budget == 0 {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// `INFO`: Redis's `name:value` lines; section `kv` has the shards.
fn info(shared: &Shared) -> Reply {
    let stats = &shared.stats;
    let mut text = String::from("# Server\r\nredis_version:7.0.0\r\nferrotp_kv:1\r\n# kv\r\n");
    text += &format!("shards:{}\r\n", shared.table.len());
    text += &format!(
        "connections_received:{}\r\ncommands_processed:{}\r\nprotocol_errors:{}\r\n",
        stats.connections.load(Ordering::Relaxed),
        stats.commands.load(Ordering::Relaxed),
        stats.protocol_errors.load(Ordering::Relaxed)
    );
    for (i, errors) in stats.shard_errors.iter().enumerate() {
        text += &format!(
            "shard_{i}:starts={},errors={},resends={}\r\n",
            shared.table.starts(i),
            errors.load(Ordering::Relaxed),
            stats.shard_resends[i].load(Ordering::Relaxed)
        );
    }
    Reply::Bulk(Some(text.into_bytes()))
}

/// A connection's view of one shard: the incarnation it last used.
struct ShardLink {
    incarnations: watch::Receiver<Option<ActorRef>>,
    current: Option<ActorRef>,
    /// The current incarnation lost a batch: it crashed, even if it does
    /// not look dead yet (the batch is dropped while the panic unwinds).
    crashed: bool,
}

impl ShardLink {
    fn new(incarnations: watch::Receiver<Option<ActorRef>>) -> Self {
        ShardLink {
            incarnations,
            current: None,
            crashed: false,
        }
    }

    /// The live incarnation, waiting (on the table's channel, up to
    /// `wait`) for the restart of one that crashed.
    async fn live(&mut self, wait: Duration) -> Option<ActorRef> {
        if let Some(actor) = &self.current {
            if !self.crashed && actor.is_alive() {
                return Some(actor.clone());
            }
        }
        let gone = self.current.take();
        let fresh = |slot: &Option<ActorRef>| {
            slot.as_ref()
                .is_some_and(|a| a.is_alive() && Some(a) != gone.as_ref())
        };
        let found = tokio::time::timeout(wait, self.incarnations.wait_for(fresh)).await;
        let actor = found.ok()?.ok()?.clone()?;
        self.crashed = false;
        self.current = Some(actor.clone());
        Some(actor)
    }
}

/// Where one operation's answer will be: batch `batch`, position `op`.
#[derive(Clone, Copy)]
struct Slot {
    batch: usize,
    op: usize,
}

/// How a command's reply is made from its operations' answers.
enum Answer {
    Ready(Reply),
    One(Slot),
    /// `MGET`: the values, in key order.
    Array(Vec<Slot>),
    /// `DEL`, `EXISTS`, `DBSIZE`: the sum.
    Sum(Vec<Slot>),
    /// `FLUSHALL`: `OK` once every shard did it.
    AllOk(Vec<Slot>),
    /// `DEBUG PANIC-SHARD`: `OK` once the shard has crashed.
    Crash(Slot),
}

struct PlannedBatch {
    shard: usize,
    ops: Vec<Op>,
}

/// The commands of one read, turned into per-shard batches.
struct Plan {
    batches: Vec<PlannedBatch>,
    /// Per shard, the batch still taking operations.
    open: Vec<Option<usize>>,
    answers: Vec<Answer>,
}

impl Plan {
    fn new(shards: usize) -> Self {
        Plan {
            batches: Vec::new(),
            open: vec![None; shards],
            answers: Vec::new(),
        }
    }

    fn shards(&self) -> usize {
        self.open.len()
    }

    fn ready(&mut self, reply: Reply) {
        self.answers.push(Answer::Ready(reply));
    }

    fn op(&mut self, shard: usize, op: Op) -> Slot {
        let batch = match self.open[shard] {
            Some(batch) => batch,
            None => {
                self.batches.push(PlannedBatch {
                    shard,
                    ops: Vec::new(),
                });
                self.open[shard] = Some(self.batches.len() - 1);
                self.batches.len() - 1
            }
        };
        let ops = &mut self.batches[batch].ops;
        ops.push(op);
        Slot {
            batch,
            op: ops.len() - 1,
        }
    }

    fn keyed(&mut self, key: &[u8], op: Op) -> Slot {
        self.op(shard_of(key, self.shards()), op)
    }

    fn every_shard(&mut self, op: impl Fn() -> Op) -> Vec<Slot> {
        (0..self.shards()).map(|s| self.op(s, op())).collect()
    }

    fn add(&mut self, command: Command, shared: &Shared) {
        let answer = match command {
            Command::Ping(None) => Answer::Ready(Reply::Status("PONG")),
            Command::Ping(Some(text)) | Command::Echo(text) => {
                Answer::Ready(Reply::Bulk(Some(text)))
            }
            Command::Select => Answer::Ready(Reply::OK),
            Command::ConfigGet(pattern) => Answer::Ready(command::config_get(&pattern)),
            Command::Table(Some(sub)) if sub == b"count" => Answer::Ready(Reply::Int(0)),
            Command::Table(_) => Answer::Ready(Reply::Array(Vec::new())),
            Command::Quit => Answer::Ready(Reply::OK),
            Command::Info => Answer::Ready(info(shared)),
            Command::Get(key) => Answer::One(self.keyed(&key.clone(), Op::Get(key))),
            Command::Set(key, value) => Answer::One(self.keyed(&key.clone(), Op::Set(key, value))),
            Command::IncrBy(key, step) => {
                Answer::One(self.keyed(&key.clone(), Op::IncrBy(key, step)))
            }
            Command::Del(keys) => Answer::Sum(
                keys.into_iter()
                    .map(|k| self.keyed(&k.clone(), Op::Del(k)))
                    .collect(),
            ),
            Command::Exists(keys) => Answer::Sum(
                keys.into_iter()
                    .map(|k| self.keyed(&k.clone(), Op::Exists(k)))
                    .collect(),
            ),
            Command::Mget(keys) => Answer::Array(
                keys.into_iter()
                    .map(|k| self.keyed(&k.clone(), Op::Get(k)))
                    .collect(),
            ),
            Command::DbSize => Answer::Sum(self.every_shard(|| Op::Len)),
            Command::FlushAll => Answer::AllOk(self.every_shard(|| Op::Flush)),
            Command::PanicShard(key) => {
                // The panic travels alone: what was asked of the shard
                // before it is answered, what comes after goes to the next
                // incarnation.
                let shard = shard_of(&key, self.shards());
                self.open[shard] = None;
                let slot = self.op(shard, Op::Panic);
                self.open[shard] = None;
                Answer::Crash(slot)
            }
        };
        self.answers.push(answer);
    }

    /// Sends the batches, waits for every answer, and encodes the replies
    /// in request order into `out`.
    async fn run(self, links: &mut [ShardLink], shared: &Shared, out: &mut Vec<u8>) {
        let mut pending = Vec::with_capacity(self.batches.len());
        for PlannedBatch { shard, ops } in self.batches {
            let crash = matches!(ops.as_slice(), [Op::Panic]);
            let sent = send(&mut links[shard], shard, ops, shared).await;
            if crash {
                // Later batches for this shard go to its next incarnation.
                let outcome = settle(links, shard, sent, shared).await;
                pending.push(Err(outcome));
            } else {
                pending.push(Ok((shard, sent)));
            }
        }
        let mut results: Results = Vec::with_capacity(pending.len());
        for waiting in pending {
            let result = match waiting {
                Ok((shard, sent)) => settle(links, shard, sent, shared).await,
                Err(outcome) => outcome,
            };
            results.push(result.map(|replies| replies.into_iter().map(Some).collect()));
        }
        for answer in self.answers {
            answer.reply(&mut results, &shared.stats).encode(out);
        }
    }
}

/// Sends `ops` to the live incarnation of `shard`: where its answer will
/// come, or why it will not.
async fn send(
    link: &mut ShardLink,
    shard: usize,
    ops: Vec<Op>,
    shared: &Shared,
) -> Result<oneshot::Receiver<Outcome>, Lost> {
    let actor = link
        .live(shared.restart_wait)
        .await
        .ok_or(Lost::Down(shard))?;
    let (reply, answer) = oneshot::channel();
    actor.send(Batch::new(ops, reply));
    Ok(answer)
}

/// How many times a batch is sent again after finding its shard dead
/// (each time to a newer incarnation) before its commands fail.
const MAX_RESENDS: u32 = 8;

/// Waits for a sent batch's answers; a batch the shard never began (it
/// died first) goes again to the next incarnation.
async fn settle(
    links: &mut [ShardLink],
    shard: usize,
    mut sent: Result<oneshot::Receiver<Outcome>, Lost>,
    shared: &Shared,
) -> Result<Vec<Reply>, Lost> {
    for _ in 0..=MAX_RESENDS {
        match sent?.await {
            Ok(Outcome::Done(replies)) => return Ok(replies),
            Ok(Outcome::NotRun(ops)) => {
                links[shard].crashed = true;
                shared.stats.shard_resends[shard].fetch_add(1, Ordering::Relaxed);
                sent = send(&mut links[shard], shard, ops, shared).await;
            }
            Err(_) => {
                links[shard].crashed = true;
                return Err(Lost::Crashed(shard));
            }
        }
    }
    Err(Lost::Down(shard))
}

/// Why a batch has no answers.
#[derive(Clone, Copy)]
enum Lost {
    /// The shard crashed while handling the batch.
    Crashed(usize),
    /// The shard was not back from a restart in time.
    Down(usize),
}

impl Lost {
    /// The error a command of a lost batch is answered with (counted).
    fn reply(self, stats: &Stats) -> Reply {
        let (shard, text) = match self {
            Lost::Crashed(shard) => (
                shard,
                format!("shard {shard} crashed while handling this; it may have run in part"),
            ),
            Lost::Down(shard) => (shard, format!("shard {shard} is down")),
        };
        stats.shard_errors[shard].fetch_add(1, Ordering::Relaxed);
        Reply::err(text)
    }
}

/// Per batch: the answers not yet taken, or why there are none.
type Results = Vec<Result<Vec<Option<Reply>>, Lost>>;

impl Answer {
    fn reply(self, results: &mut Results, stats: &Stats) -> Reply {
        let mut take = |slot: Slot| -> Result<Reply, Lost> {
            match &mut results[slot.batch] {
                Ok(replies) => Ok(replies[slot.op].take().expect("each answer is taken once")),
                Err(lost) => Err(*lost),
            }
        };
        let outcome = match self {
            Answer::Ready(reply) => Ok(reply),
            Answer::One(slot) => take(slot),
            Answer::Array(slots) => slots
                .into_iter()
                .map(take)
                .collect::<Result<_, _>>()
                .map(Reply::Array),
            Answer::Sum(slots) => {
                let mut sum = 0;
                let mut outcome = Ok(());
                for slot in slots {
                    match take(slot) {
                        Ok(Reply::Int(n)) => sum += n,
                        Ok(_) => {}
                        Err(lost) => outcome = Err(lost),
                    }
                }
                outcome.map(|()| Reply::Int(sum))
            }
            Answer::AllOk(slots) => slots
                .into_iter()
                .try_for_each(|slot| take(slot).map(drop))
                .map(|()| Reply::OK),
            Answer::Crash(slot) => {
                return match take(slot) {
                    Err(Lost::Crashed(_)) => Reply::OK,
                    Err(lost) => lost.reply(stats),
                    Ok(_) => Reply::err("the shard did not crash"),
                }
            }
        };
        outcome.unwrap_or_else(|lost| lost.reply(stats))
    }
}
