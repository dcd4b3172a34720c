//! A key-value server speaking the Redis protocol (RESP2), built the OTP
//! way: tokio accepts and reads connections; the keyspace is sharded over
//! N shard actors under a one_for_one supervisor; a shard that panics is
//! restarted (empty: its keys are lost) while every other shard and
//! connection carries on.
//!
//! ```sh
//! cargo run --release --example kv_server -- --port 6380 --shards 8
//! redis-cli -p 6380 set greeting hello
//! redis-cli -p 6380 debug panic-shard greeting   # its shard crashes and restarts
//! ```
//!
//! Commands: PING, ECHO, GET, SET, DEL, INCR/DECR/INCRBY/DECRBY, MGET,
//! EXISTS, DBSIZE, FLUSHALL, SELECT 0, QUIT, CONFIG GET, COMMAND, and
//! DEBUG PANIC-SHARD key. See the README's "A Redis-protocol service".

mod command;
mod conn;
mod resp;
mod server;
mod shard;

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use server::{Config, Server};

const USAGE: &str = "usage: kv_server [--host 127.0.0.1] [--port 6380] [--shards 8] \
[--io-threads 1] [--workers CORES] [--max-bulk BYTES]";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut config = Config::default();
    let mut host: IpAddr = config.addr.ip();
    let mut port = config.addr.port();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let bad = |e: &dyn std::fmt::Display| format!("{flag}: {e}");
        match flag.as_str() {
            "--host" => host = value()?.parse().map_err(|e| bad(&e))?,
            "--port" => port = value()?.parse().map_err(|e| bad(&e))?,
            "--shards" => config.shards = value()?.parse().map_err(|e| bad(&e))?,
            "--io-threads" => config.io_threads = value()?.parse().map_err(|e| bad(&e))?,
            "--workers" => config.workers = value()?.parse().map_err(|e| bad(&e))?,
            "--max-bulk" => config.limits.max_bulk = value()?.parse().map_err(|e| bad(&e))?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    config.addr = SocketAddr::new(host, port);
    Ok(config)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt().with_target(false).init();
    ferrotp::silence_actor_panics();
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let (shards, io_threads, workers) = (config.shards, config.io_threads, config.workers);
    let server = match Server::start(config) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("kv_server: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "kv_server listening on {} ({shards} shards, {io_threads} io threads, {workers} pool workers)",
        server.addr()
    );
    let reason = server.wait();
    let connections = server
        .stats()
        .connections
        .load(std::sync::atomic::Ordering::Relaxed);
    let starts: Vec<u64> = (0..shards).map(|i| server.shard_starts(i)).collect();
    eprintln!(
        "kv_server: the keyspace supervisor terminated ({reason}) after {connections} \
         connections (shard starts: {starts:?}); stopping"
    );
    ExitCode::FAILURE
}
