//! `examples/kv_server` abused: malformed RESP on raw sockets harms only
//! its own connection, and shards crash again and again under
//! `redis-benchmark` load. Well-formed traffic is in `kv_server.rs`.
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

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

#[allow(dead_code)]
#[path = "common/kv_clients.rs"]
mod clients;

use clients::*;

/// Sends `bytes` on a fresh connection, optionally closes its write side,
/// and reads until the server closes: what it answered.
fn answer_to(addr: SocketAddr, bytes: &[u8], hang_up: bool) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    // Written from another thread, so that the server's answers never wait
    // for our writing to end. The server may close before it has read
    // everything: then writing fails, which is one of the outcomes allowed.
    let mut writer = stream.try_clone().expect("clone the socket");
    let bytes = bytes.to_vec();
    let writing = thread::spawn(move || {
        let _ = writer.write_all(&bytes);
        if hang_up {
            let _ = writer.shutdown(std::net::Shutdown::Write);
        }
    });
    let mut answer = Vec::new();
    let started = Instant::now();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            // A reset after the server closed with our bytes unread.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server neither answered nor closed: {e}"),
        }
        assert!(
            started.elapsed() < WAIT,
            "the server kept the connection open"
        );
    }
    writing.join().expect("the writer");
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn malformed_requests_get_an_error_or_a_close_and_harm_no_one_else() {
    require("redis-cli");
    let server = start(4);
    let addr = server.addr();
    let mut bystander = Raw::connect(addr);
    assert_eq!(bystander.call(&["SET", "safe", "sound"]), "+OK");

    // Pseudo-random bytes, with no line break, then with some.
    let mut seed: u32 = 0x2545_f491;
    let mut garbage: Vec<u8> = (0..200_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed >> 24) as u8
        })
        .collect();
    let no_newline: Vec<u8> = garbage
        .iter()
        .map(|&b| if b == b'\n' { b'x' } else { b })
        .collect();
    garbage[0] = b'\x01';

    let protocol_error = |answer: &str, what: &str| {
        assert!(
            answer.starts_with("-ERR Protocol error: ") && answer.ends_with("\r\n"),
            "{what}: {answer:?}"
        );
        assert_eq!(
            answer.matches("\r\n").count(),
            1,
            "{what}: one error line, then the close: {answer:?}"
        );
    };
    let cases: [(&str, &[u8], &str); 7] = [
        (
            "negative bulk length",
            b"*2\r\n$3\r\nGET\r\n$-5\r\nabc\r\n",
            "invalid bulk length",
        ),
        (
            "bulk length not a number",
            b"*2\r\n$3\r\nGET\r\n$x1\r\nabc\r\n",
            "invalid bulk length",
        ),
        (
            "array length not a number",
            b"*abc\r\n",
            "invalid multibulk length",
        ),
        (
            "array of 2^40 elements",
            b"*1099511627776\r\n",
            "invalid multibulk length",
        ),
        (
            "bulk string overruns its length",
            b"*1\r\n$4\r\nPINGxx\r\n",
            "bulk string not ended by CRLF",
        ),
        (
            "an integer where a bulk string goes",
            b"*1\r\n:5\r\n",
            "expected '$', got ':'",
        ),
        // Asked for before any of it is sent: refused at the header.
        (
            "a 512 MB bulk string",
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n",
            "invalid bulk length",
        ),
    ];
    for (what, bytes, error) in cases {
        let answer = answer_to(addr, bytes, false);
        protocol_error(&answer, what);
        assert!(answer.contains(error), "{what}: {answer:?}");
    }
    // No line break in 64 KiB: refused as Redis refuses it.
    let answer = answer_to(addr, &no_newline, false);
    protocol_error(&answer, "binary garbage");
    assert!(answer.contains("too big inline request"), "{answer:?}");
    // Garbage with line breaks reads as unknown inline commands (or a
    // protocol error if a line starts with '*'): errors only, then a close.
    let answer = answer_to(addr, &garbage, true);
    assert!(
        answer
            .split_terminator("\r\n")
            .all(|l| l.starts_with("-ERR ")),
        "binary garbage with line breaks: {answer:?}"
    );
    // Truncated frames, then the client hangs up: nothing to answer.
    for truncated in [
        &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc"[..],
        b"*3\r\n$3\r\nSET\r\n",
        b"*3\r",
        b"$5\r\nhello\r\n",
    ] {
        let answer = answer_to(addr, truncated, true);
        assert!(
            answer.is_empty() || answer.starts_with("-ERR "),
            "{:?}: {answer:?}",
            String::from_utf8_lossy(truncated)
        );
    }
    // A 512 MB bulk header in the middle of a pipeline: the requests before
    // it are answered, then the error, then the close.
    let answer = answer_to(
        addr,
        b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\nabc",
        false,
    );
    assert_eq!(
        answer,
        "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"
    );

    // Everyone else carries on: the old connection, and new clients.
    assert_eq!(bystander.call(&["GET", "safe"]), "sound");
    assert_eq!(cli(addr, &["GET", "safe"]), "\"sound\"");
    assert_eq!(cli(addr, &["DBSIZE"]), "(integer) 1");
    assert!(server.stats().protocol_errors.load(Ordering::SeqCst) >= 9);
    assert_eq!(IO_PANICS.load(Ordering::SeqCst), 0);
}

#[test]
fn shards_crash_again_and_again_under_redis_benchmark() {
    require("redis-cli");
    require("redis-benchmark");
    const SHARDS: usize = 8;
    const CRASHES: usize = 20;
    let server = start(SHARDS);
    let addr = server.addr();
    let victims = [1, 5];
    let port = addr.port().to_string();
    // Random keys over all shards, and enough requests that the benchmark
    // is still running after the crashes (checked below, not assumed).
    let args = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-c",
        "20",
        "-n",
        "100000",
        "-r",
        "10000",
    ];
    let args: Vec<&str> = args.into_iter().chain(["-t", "set,get", "-q"]).collect();
    let (proc, output) = spawn("redis-benchmark", &args, Vec::new());

    // Crash only once the load is on: wait for requests to come in.
    let deadline = Instant::now() + WAIT;
    while server.stats().commands.load(Ordering::SeqCst) < 10_000 {
        assert!(Instant::now() < deadline, "redis-benchmark sent nothing");
        thread::sleep(Duration::from_millis(5)); // polls a condition, bounded
    }
    let mut chaos = Raw::connect(addr);
    for crash in 0..CRASHES {
        let victim = victims[crash % victims.len()];
        let key = keys_on(victim, SHARDS, 1).remove(0);
        let before = server.shard_starts(victim);
        assert_eq!(chaos.call(&["DEBUG", "PANIC-SHARD", &key]), "+OK");
        // The next command to that shard waits for its restart.
        assert_eq!(chaos.call(&["EXISTS", &key]), ":0");
        assert_eq!(server.shard_starts(victim), before + 1);
    }
    let served_at_last_crash = server.stats().commands.load(Ordering::SeqCst);
    let out = finish(proc, output, Duration::from_secs(300));
    assert!(
        out.ok,
        "redis-benchmark failed: {}{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stdout.contains("SET: ") && out.stdout.contains("GET: "),
        "redis-benchmark did not finish: {}",
        out.stdout
    );
    let served = server.stats().commands.load(Ordering::SeqCst);
    assert!(
        served > served_at_last_crash + 1000,
        "the crashes did not happen under load ({served_at_last_crash} of {served} requests served by the last one)"
    );
    // redis-benchmark stops at the first error reply, so it saw none. The
    // server counts: errors only for keys of the shards that crashed (a
    // request lost with a crash), and the batches that found their shard
    // dead and went to the next incarnation.
    let count = |counters: &[std::sync::atomic::AtomicU64]| -> Vec<u64> {
        counters.iter().map(|e| e.load(Ordering::SeqCst)).collect()
    };
    let errors = count(&server.stats().shard_errors);
    let resends = count(&server.stats().shard_resends);
    for (shard, &count) in errors.iter().enumerate() {
        if !victims.contains(&shard) {
            assert_eq!(
                count, 0,
                "shard {shard} never crashed, yet answered errors: {errors:?}"
            );
        }
    }
    for (shard, &count) in resends.iter().enumerate() {
        if !victims.contains(&shard) {
            assert_eq!(count, 0, "shard {shard} never crashed: {resends:?}");
        }
    }
    println!(
        "{CRASHES} crashes of shards {victims:?} under load, {served} requests served: \
         errors per shard {errors:?}, batches resent to a restarted shard {resends:?}; \
         redis-benchmark: {}",
        out.stdout
            .split(['\r', '\n'])
            .filter(|l| l.contains("requests per second"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    assert_eq!(IO_PANICS.load(Ordering::SeqCst), 0);
}
