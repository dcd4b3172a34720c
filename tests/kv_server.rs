//! `examples/kv_server` under real Redis clients: every command through
//! `redis-cli`, pipelined commands, a shard crash survived, and 200
//! connections at once. Malformed requests and crashes under load are in
//! `kv_server_abuse.rs`.
//!
//! The server runs in this process on 127.0.0.1:0; the clients are the
//! Debian `redis-tools` binaries (`apt-get install redis-tools`; `.ci/run`
//! installs them). Without them these tests fail and say so.

// The example's modules, compiled into this test (its `main.rs` is what
// uses the few items the tests do not).
#[allow(dead_code)]
#[path = "../examples/kv_server/command.rs"]
mod command;
#[allow(dead_code)]
#[path = "../examples/kv_server/conn.rs"]
mod conn;
#[allow(dead_code)]
#[path = "../examples/kv_server/resp.rs"]
mod resp;
#[allow(dead_code)]
#[path = "../examples/kv_server/server.rs"]
mod server;
#[allow(dead_code)]
#[path = "../examples/kv_server/shard.rs"]
mod shard;

use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

#[allow(dead_code)]
#[path = "common/kv_clients.rs"]
mod clients;

use clients::*;

#[test]
fn every_command_round_trips_through_redis_cli() {
    require("redis-cli");
    let server = start(4);
    let addr = server.addr();
    let [a, b, c] = [0, 1, 2].map(|s| keys_on(s, 4, 1).remove(0));

    assert_eq!(cli(addr, &["PING"]), "PONG");
    assert_eq!(cli(addr, &["PING", "hello there"]), "\"hello there\"");
    assert_eq!(cli(addr, &["ECHO", "echo"]), "\"echo\"");
    assert_eq!(cli(addr, &["SET", &a, "value with spaces"]), "OK");
    assert_eq!(cli(addr, &["GET", &a]), "\"value with spaces\"");
    assert_eq!(cli(addr, &["GET", "missing"]), "(nil)");
    // Binary-safe values: redis-cli -x takes the value from stdin.
    assert_eq!(cli_with(addr, &["-x", "SET", &b], b"\x00\xff\r\n"), "OK");
    assert_eq!(cli(addr, &["GET", &b]), "\"\\x00\\xff\\r\\n\"");
    assert_eq!(
        cli(addr, &["STRLEN", &b]),
        format!("(error) ERR unknown command 'STRLEN', with args beginning with: '{b}'")
    );

    assert_eq!(cli(addr, &["INCR", &c]), "(integer) 1");
    assert_eq!(cli(addr, &["INCR", &c]), "(integer) 2");
    assert_eq!(cli(addr, &["INCRBY", &c, "40"]), "(integer) 42");
    assert_eq!(cli(addr, &["DECR", &c]), "(integer) 41");
    assert_eq!(cli(addr, &["GET", &c]), "\"41\"");
    assert_eq!(
        cli(addr, &["INCR", &a]),
        "(error) ERR value is not an integer or out of range"
    );
    assert_eq!(cli(addr, &["SET", "max", &i64::MAX.to_string()]), "OK");
    assert_eq!(
        cli(addr, &["INCR", "max"]),
        "(error) ERR increment or decrement would overflow"
    );

    // Commands over several shards answer in key order.
    assert_eq!(
        cli_lines(addr, &[&format!("MGET {a} missing {c} {b}")]),
        [
            "1) \"value with spaces\"",
            "2) (nil)",
            "3) \"41\"",
            "4) \"\\x00\\xff\\r\\n\""
        ]
    );
    assert_eq!(cli(addr, &["EXISTS", &a, &b, "missing", &a]), "(integer) 3");
    assert_eq!(cli(addr, &["DBSIZE"]), "(integer) 4");
    assert_eq!(cli(addr, &["DEL", &a, "missing", &b]), "(integer) 2");
    assert_eq!(cli(addr, &["EXISTS", &a, &b]), "(integer) 0");
    assert_eq!(cli(addr, &["DBSIZE"]), "(integer) 2");
    assert_eq!(cli(addr, &["FLUSHALL"]), "OK");
    assert_eq!(cli(addr, &["DBSIZE"]), "(integer) 0");
    assert_eq!(cli(addr, &["GET", &c]), "(nil)");

    // What clients ask of a server before they start.
    assert_eq!(cli(addr, &["SELECT", "0"]), "OK");
    assert_eq!(
        cli(addr, &["CONFIG", "GET", "save"]),
        "1) \"save\"\n2) \"\""
    );
    assert_eq!(
        cli(addr, &["CONFIG", "GET", "appendonly"]),
        "1) \"appendonly\"\n2) \"no\""
    );
    assert_eq!(cli(addr, &["COMMAND", "COUNT"]), "(integer) 0");
    assert!(cli(addr, &["INFO"]).contains("shards:4"));

    // Errors are replies; the connection goes on.
    assert_eq!(
        cli_lines(addr, &["GET", "SET k", "nosuch a", "PING"]),
        [
            "(error) ERR wrong number of arguments for 'get' command",
            "(error) ERR wrong number of arguments for 'set' command",
            "(error) ERR unknown command 'nosuch', with args beginning with: 'a' ",
            "PONG"
        ]
    );

    // QUIT answers OK and closes: the raw socket sees the end.
    let mut raw = Raw::connect(addr);
    assert_eq!(raw.call(&["QUIT"]), "+OK");
    let mut rest = Vec::new();
    assert_eq!(
        raw.stream
            .read_to_end(&mut rest)
            .expect("the server closes"),
        0
    );
    assert_eq!(cli(addr, &["QUIT"]), "OK");
}

#[test]
fn redis_cli_pipe_mode_pipelines_ten_thousand_commands_in_order() {
    require("redis-cli");
    let server = start(8);
    let addr = server.addr();
    // `redis-cli --pipe` writes the protocol as fast as it can and counts
    // the replies: batches of many commands per read, across all shards.
    let mut protocol = Vec::new();
    let command = |protocol: &mut Vec<u8>, args: &[&str]| {
        protocol.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            protocol.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
    };
    for i in 0..5_000 {
        command(
            &mut protocol,
            &["SET", &format!("k{}", i % 500), &i.to_string()],
        );
        command(&mut protocol, &["INCR", &format!("n{}", i % 7)]);
    }
    let out = cli_with(addr, &["--pipe"], &protocol);
    assert!(
        out.contains("errors: 0, replies: 10000"),
        "redis-cli --pipe: {out}"
    );
    // The last write of each key won, and every increment counted.
    assert_eq!(cli(addr, &["GET", "k499"]), "\"4999\"");
    assert_eq!(cli(addr, &["GET", "k0"]), "\"4500\"");
    let total: i64 = (0..7)
        .map(|i| {
            let n = cli(addr, &["GET", &format!("n{i}")]);
            n.trim_matches('"').parse::<i64>().unwrap()
        })
        .sum();
    assert_eq!(total, 5_000);
    assert_eq!(cli(addr, &["DBSIZE"]), "(integer) 507");
}

#[test]
fn a_crashed_shard_restarts_empty_and_the_others_keep_their_keys() {
    require("redis-cli");
    const SHARDS: usize = 4;
    let server = start(SHARDS);
    let addr = server.addr();
    let keys: Vec<Vec<String>> = (0..SHARDS).map(|s| keys_on(s, SHARDS, 5)).collect();
    let mut script = Vec::new();
    for (s, shard_keys) in keys.iter().enumerate() {
        for key in shard_keys {
            script.push(format!("SET {key} v{s}"));
        }
    }
    let script: Vec<&str> = script.iter().map(String::as_str).collect();
    assert!(cli_lines(addr, &script).iter().all(|l| l == "OK"));

    // A connection that lives through the crash.
    let mut survivor = Raw::connect(addr);
    assert_eq!(survivor.call(&["GET", &keys[1][0]]), "v1");

    let victim = 2;
    assert_eq!(cli(addr, &["DEBUG", "PANIC-SHARD", &keys[victim][0]]), "OK");

    // The crashed shard answers again (a command waits for its restart,
    // bounded by `restart_wait`), empty: its keys are lost.
    let crashed_at = Instant::now();
    assert_eq!(cli(addr, &["GET", &keys[victim][1]]), "(nil)");
    assert!(crashed_at.elapsed() < WAIT);
    assert_eq!(server.shard_starts(victim), 2);
    // Every other shard kept its keys, and the old connection goes on.
    for (s, shard_keys) in keys.iter().enumerate().filter(|(s, _)| *s != victim) {
        for key in shard_keys {
            assert_eq!(survivor.call(&["GET", key]), format!("v{s}"), "{key}");
        }
        assert_eq!(server.shard_starts(s), 1);
    }
    assert_eq!(survivor.call(&["DBSIZE"]), format!(":{}", 5 * (SHARDS - 1)));
    assert_eq!(survivor.call(&["SET", &keys[victim][1], "again"]), "+OK");
    assert_eq!(cli(addr, &["GET", &keys[victim][1]]), "\"again\"");

    // A crash in the middle of one pipelined read: what came before it is
    // answered by the old incarnation, what comes after by the new one.
    let k = &keys[victim][3];
    survivor.send(&[
        &["SET", k, "before"],
        &["GET", k],
        &["DEBUG", "PANIC-SHARD", k],
        &["GET", k],
        &["SET", k, "after"],
        &["GET", k],
        &["GET", &keys[0][0]],
    ]);
    let replies: Vec<String> = (0..7).map(|_| survivor.reply()).collect();
    assert_eq!(
        replies,
        ["+OK", "before", "+OK", "nil", "+OK", "after", "v0"]
    );
    assert_eq!(server.shard_starts(victim), 3);
    // No command was lost in the crashes: none was in flight.
    assert_eq!(
        server.stats().shard_errors[victim].load(Ordering::SeqCst),
        0
    );
    assert!(cli(addr, &["INFO", "kv"]).contains(&format!("shard_{victim}:starts=3,errors=0")));
}

#[test]
fn two_hundred_connections_at_once() {
    require("redis-cli");
    require("redis-benchmark");
    const CLIENTS: usize = 200;
    let server = start(8);
    let addr = server.addr();
    // 200 raw connections, all open before any sends: each increments a
    // shared counter and writes and reads its own key, pipelined.
    let all_open = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let all_open = all_open.clone();
            thread::spawn(move || {
                let mut raw = Raw::connect(addr);
                all_open.wait();
                let key = format!("client:{i}");
                raw.send(&[
                    &["INCR", "counter"],
                    &["SET", &key, &i.to_string()],
                    &["GET", &key],
                ]);
                let count = raw.reply();
                assert_eq!(raw.reply(), "+OK");
                assert_eq!(raw.reply(), i.to_string());
                count
            })
        })
        .collect();
    let mut counts: Vec<i64> = clients
        .into_iter()
        .map(|c| c.join().expect("a client failed")[1..].parse().unwrap())
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=CLIENTS as i64).collect::<Vec<_>>());
    assert_eq!(cli(addr, &["GET", "counter"]), format!("\"{CLIENTS}\""));
    assert_eq!(cli(addr, &["DBSIZE"]), format!("(integer) {}", CLIENTS + 1));

    // And a real client's 200 connections: redis-benchmark counts every
    // reply it expects before it ends.
    let port = addr.port().to_string();
    let args = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-c",
        "200",
        "-n",
        "20000",
        "-r",
        "1000",
    ];
    let args: Vec<&str> = args
        .into_iter()
        .chain(["-t", "set,get,incr", "-q"])
        .collect();
    let (proc, output) = spawn("redis-benchmark", &args, Vec::new());
    let out = finish(proc, output, Duration::from_secs(120));
    assert!(
        out.ok,
        "redis-benchmark failed: {}{}",
        out.stdout, out.stderr
    );
    for test in ["SET", "GET", "INCR"] {
        assert!(
            out.stdout.contains(&format!("{test}: ")) && out.stdout.contains("requests per second"),
            "redis-benchmark did not finish {test}: {}",
            out.stdout
        );
    }
    assert!(server.stats().connections.load(Ordering::SeqCst) >= 2 * CLIENTS as u64);
    assert_eq!(IO_PANICS.load(Ordering::SeqCst), 0);
}
