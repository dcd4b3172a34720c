//! What the `kv_server` tests share: the server started in the test's
//! process, the Redis tools run as child processes (killed on drop), and
//! a raw RESP client for what `redis-cli` will not send.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Once};
use std::thread;
use std::time::Duration;

use super::server::{Config, Server};
use super::shard::shard_of;

/// The bound on every wait.
pub const WAIT: Duration = Duration::from_secs(10);

/// Panics on the server's I/O threads (a connection task that panicked
/// would otherwise look like a closed connection).
pub static IO_PANICS: AtomicUsize = AtomicUsize::new(0);

pub fn start(shards: usize) -> Server {
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
pub fn require(tool: &str) {
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
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished process printed.
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Starts `tool args`, with `input` on its stdin.
pub fn spawn(
    tool: &str,
    args: &[&str],
    input: Vec<u8>,
) -> (Proc, mpsc::Receiver<(String, String)>) {
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
pub fn finish(mut proc: Proc, output: mpsc::Receiver<(String, String)>, bound: Duration) -> Output {
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
pub fn cli_with(addr: SocketAddr, args: &[&str], input: &[u8]) -> String {
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

pub fn cli(addr: SocketAddr, args: &[&str]) -> String {
    cli_with(addr, args, b"")
}

/// Several commands, one per line, through one `redis-cli` (it reads them
/// from stdin): one output line per reply line.
pub fn cli_lines(addr: SocketAddr, commands: &[&str]) -> Vec<String> {
    let script = commands.join("\n") + "\n";
    cli_with(addr, &[], script.as_bytes())
        .lines()
        .map(str::to_string)
        .collect()
}

/// `count` distinct keys that `shards` shards place on shard `on`.
pub fn keys_on(on: usize, shards: usize, count: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("key-{on}-{i}"))
        .filter(|k| shard_of(k.as_bytes(), shards) == on)
        .take(count)
        .collect()
}

/// A raw RESP connection.
pub struct Raw {
    pub stream: TcpStream,
    pub buffer: Vec<u8>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Raw {
            stream,
            buffer: Vec::new(),
        }
    }

    pub fn send(&mut self, commands: &[&[&str]]) {
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
    pub fn line(&mut self) -> String {
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
    pub fn reply(&mut self) -> String {
        let line = self.line();
        match line.strip_prefix('$') {
            Some("-1") => "nil".into(),
            Some(_) => self.line(),
            None => line,
        }
    }

    pub fn call(&mut self, args: &[&str]) -> String {
        self.send(&[args]);
        self.reply()
    }
}
