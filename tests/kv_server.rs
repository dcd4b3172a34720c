//! `examples/kv_server` under real Redis clients: every command through
//! `redis-cli`, a shard crash survived, 200 connections at once, malformed
//! RESP on raw sockets, and shard crashes under `redis-benchmark` load.
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
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Once};
use std::thread;
use std::time::{Duration, Instant};

use server::{Config, Server};
use shard::shard_of;

/// The bound on every wait.
const WAIT: Duration = Duration::from_secs(10);

/// Panics on the server's I/O threads (a connection task that panicked
/// would otherwise look like a closed connection).
static IO_PANICS: AtomicUsize = AtomicUsize::new(0);

fn start(shards: usize) -> Server {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if thread::current()
                .name()
                .is_some_and(|n| n.starts_with("kv-io"))
            {
                IO_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
        ferrotp::silence_actor_panics();
    });
    let config = Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        shards,
        ..Config::default()
    };
    Server::start(config).expect("the server starts")
}

/// Fails (never skips) when a Redis tool is missing, saying how to get it.
fn require(tool: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{tool}` is not installed: these tests drive the server with the real Redis \
         clients. Install them with `apt-get install redis-tools` (.ci/run does)."
    );
}

/// A child process that is killed and reaped however the test ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished process printed.
struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Starts `tool args`, with `input` on its stdin.
fn spawn(tool: &str, args: &[&str], input: Vec<u8>) -> (Proc, mpsc::Receiver<(String, String)>) {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {tool}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (done, output) = mpsc::channel();
    thread::spawn(move || {
        let _ = stdin.write_all(&input);
        drop(stdin);
        let errors = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = done.send((text, errors.join().unwrap_or_default()));
    });
    (Proc(child), output)
}

/// Waits (up to `bound`) for a process started by `spawn` to finish.
fn finish(mut proc: Proc, output: mpsc::Receiver<(String, String)>, bound: Duration) -> Output {
    let (stdout, stderr) = output
        .recv_timeout(bound)
        .unwrap_or_else(|_| panic!("no answer within {bound:?}"));
    let status = proc.0.wait().expect("wait for the child");
    Output {
        ok: status.success(),
        stdout,
        stderr,
    }
}

/// `redis-cli` with `args`, `input` on stdin; its output as `--no-raw`
/// prints it (`(integer) 1`, `"text"`, `(nil)`, `(error) ERR ...`).
fn cli_with(addr: SocketAddr, args: &[&str], input: &[u8]) -> String {
    let port = addr.port().to_string();
    let mut all = vec!["-h", "127.0.0.1", "-p", &port, "--no-raw"];
    all.extend_from_slice(args);
    let (proc, output) = spawn("redis-cli", &all, input.to_vec());
    let out = finish(proc, output, WAIT);
    assert!(
        out.ok,
        "redis-cli {args:?} failed: {}{}",
        out.stdout, out.stderr
    );
    out.stdout.trim_end().to_string()
}

fn cli(addr: SocketAddr, args: &[&str]) -> String {
    cli_with(addr, args, b"")
}

/// Several commands, one per line, through one `redis-cli` (it reads them
/// from stdin): one output line per reply line.
fn cli_lines(addr: SocketAddr, commands: &[&str]) -> Vec<String> {
    let script = commands.join("\n") + "\n";
    cli_with(addr, &[], script.as_bytes())
        .lines()
        .map(str::to_string)
        .collect()
}

/// `count` distinct keys that `shards` shards place on shard `on`.
fn keys_on(on: usize, shards: usize, count: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("key-{on}-{i}"))
        .filter(|k| shard_of(k.as_bytes(), shards) == on)
        .take(count)
        .collect()
}

/// A raw RESP connection.
struct Raw {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Raw {
            stream,
            buffer: Vec::new(),
        }
    }

    fn send(&mut self, commands: &[&[&str]]) {
        let mut bytes = Vec::new();
        for args in commands {
            bytes.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
            for arg in *args {
                bytes.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
            }
        }
        self.stream.write_all(&bytes).expect("send");
    }

    /// Reads one reply line (a bulk string's data comes as its own line).
    fn line(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
                self.buffer.drain(..end + 2);
                return line;
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .stream
                .read(&mut chunk)
                .expect("a reply within the bound");
            assert!(n > 0, "the server closed the connection");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// One simple reply (`+OK`, `:3`, `-ERR ..`), or a bulk string's data
    /// (`$-1` as `nil`).
    fn reply(&mut self) -> String {
        let line = self.line();
        match line.strip_prefix('$') {
            Some("-1") => "nil".into(),
            Some(_) => self.line(),
            None => line,
        }
    }

    fn call(&mut self, args: &[&str]) -> String {
        self.send(&[args]);
        self.reply()
    }
}

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
