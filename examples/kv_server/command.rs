//! The commands the server knows, checked for arity and syntax before any
//! shard sees them.

use crate::resp::Reply;

pub type Key = Vec<u8>;

/// A request the server understood.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Ping(Option<Vec<u8>>),
    Echo(Vec<u8>),
    Quit,
    Get(Key),
    Set(Key, Vec<u8>),
    /// `INCR`, `DECR`, `INCRBY`, `DECRBY`: the key and the step.
    IncrBy(Key, i64),
    Del(Vec<Key>),
    Exists(Vec<Key>),
    Mget(Vec<Key>),
    DbSize,
    FlushAll,
    /// `SELECT 0` is the one database there is.
    Select,
    /// `CONFIG GET pattern`: what redis-benchmark asks before it starts.
    ConfigGet(Vec<u8>),
    /// `COMMAND`, `COMMAND DOCS`, `COMMAND COUNT`...: redis-cli asks for the
    /// command table to offer hints; an empty table is a valid answer.
    Table(Option<Vec<u8>>),
    /// `DEBUG PANIC-SHARD key`: the shard owning `key` panics.
    PanicShard(Key),
    /// `INFO [section]`: the server's counters (section `kv`).
    Info,
}

/// Turns a request's arguments into a `Command`, or the error reply Redis
/// would give.
pub fn parse(args: Vec<Vec<u8>>) -> Result<Command, Reply> {
    let mut args = args.into_iter();
    let raw_name = args.next().unwrap_or_default();
    let name = raw_name.to_ascii_lowercase();
    let mut rest: Vec<Vec<u8>> = args.collect();
    let argc = rest.len() + 1;
    let arity = |ok: bool| -> Result<(), Reply> {
        if ok {
            Ok(())
        } else {
            Err(Reply::err(format_args!(
                "wrong number of arguments for '{}' command",
                String::from_utf8_lossy(&name)
            )))
        }
    };
    let mut arg = |i: usize| std::mem::take(&mut rest[i]);
    let command = match name.as_slice() {
        b"ping" => {
            arity(argc <= 2)?;
            Command::Ping((argc == 2).then(|| arg(0)))
        }
        b"echo" => {
            arity(argc == 2)?;
            Command::Echo(arg(0))
        }
        b"quit" => Command::Quit,
        b"get" => {
            arity(argc == 2)?;
            Command::Get(arg(0))
        }
        b"set" => {
            arity(argc >= 3)?;
            if argc > 3 {
                return Err(Reply::err(
                    "syntax error (options of SET are not supported)",
                ));
            }
            Command::Set(arg(0), arg(1))
        }
        b"incr" | b"decr" => {
            arity(argc == 2)?;
            let step = if name == b"incr" { 1 } else { -1 };
            Command::IncrBy(arg(0), step)
        }
        b"incrby" | b"decrby" => {
            arity(argc == 3)?;
            let step = integer(&arg(1))?;
            let step = if name == b"incrby" {
                step
            } else {
                step.checked_neg()
                    .ok_or_else(|| Reply::err("decrement would overflow"))?
            };
            Command::IncrBy(arg(0), step)
        }
        b"del" | b"unlink" => {
            arity(argc >= 2)?;
            Command::Del(rest)
        }
        b"exists" => {
            arity(argc >= 2)?;
            Command::Exists(rest)
        }
        b"mget" => {
            arity(argc >= 2)?;
            Command::Mget(rest)
        }
        b"dbsize" => {
            arity(argc == 1)?;
            Command::DbSize
        }
        b"flushall" | b"flushdb" => {
            // `FLUSHALL [ASYNC|SYNC]`: both mean the same here.
            arity(argc <= 2)?;
            Command::FlushAll
        }
        b"select" => {
            arity(argc == 2)?;
            if integer(&arg(0))? != 0 {
                return Err(Reply::err("DB index is out of range"));
            }
            Command::Select
        }
        b"config" => {
            arity(argc >= 2)?;
            if !arg(0).eq_ignore_ascii_case(b"get") || argc != 3 {
                return Err(Reply::err("only CONFIG GET parameter is supported"));
            }
            Command::ConfigGet(arg(1))
        }
        b"info" => {
            arity(argc <= 2)?;
            Command::Info
        }
        b"command" => Command::Table((argc >= 2).then(|| arg(0).to_ascii_lowercase())),
        b"debug" => {
            arity(argc >= 2)?;
            if !arg(0).eq_ignore_ascii_case(b"panic-shard") {
                return Err(Reply::err("only DEBUG PANIC-SHARD key is supported"));
            }
            arity(argc == 3)?;
            Command::PanicShard(arg(1))
        }
        _ => {
            return Err(Reply::err(format_args!(
                "unknown command '{}', with args beginning with: {}",
                String::from_utf8_lossy(&raw_name),
                rest.iter()
                    .take(3)
                    .map(|a| format!("'{}' ", String::from_utf8_lossy(a)))
                    .collect::<String>()
            )))
        }
    };
    Ok(command)
}

/// A decimal `i64`, as Redis reads one (no spaces, no `+`).
pub fn integer(text: &[u8]) -> Result<i64, Reply> {
    std::str::from_utf8(text)
        .ok()
        .filter(|t| !t.starts_with('+'))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| Reply::err("value is not an integer or out of range"))
}

/// The answer to `CONFIG GET pattern`: the few settings clients ask about
/// (redis-benchmark: `save`, `appendonly`), as name/value pairs; a pattern
/// that matches none of them gets an empty list.
pub fn config_get(pattern: &[u8]) -> Reply {
    const SETTINGS: [(&str, &str); 3] = [("save", ""), ("appendonly", "no"), ("databases", "1")];
    let pattern = pattern.to_ascii_lowercase();
    let mut pairs = Vec::new();
    for (name, value) in SETTINGS {
        if pattern == b"*" || pattern == name.as_bytes() {
            pairs.push(Reply::Bulk(Some(name.as_bytes().to_vec())));
            pairs.push(Reply::Bulk(Some(value.as_bytes().to_vec())));
        }
    }
    Reply::Array(pairs)
}
