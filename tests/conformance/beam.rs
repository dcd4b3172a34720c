//! The BEAM side: `conform_interp.erl`, compiled with `erlc` into a fresh
//! temporary directory and run by one `erl -noshell` for the whole test
//! run. Scripts go to its stdin one per line; traces come back one per line.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::script::Script;
use crate::term;
use crate::trace::Trace;

const SOURCE: &str = include_str!("conform_interp.erl");

/// How long one script may take on the BEAM (its own bound on settling is 10 s).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

pub const INSTALL_HINT: &str = "the conformance tests run scripts on Erlang/OTP itself: \
     install it with `apt-get install erlang-base` (Debian/Ubuntu; it provides `erl` and `erlc`)";

pub struct Beam {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    next_id: u64,
}

impl Beam {
    /// The one BEAM of this test run, started on first use.
    pub fn shared() -> &'static Mutex<Beam> {
        static BEAM: OnceLock<Mutex<Beam>> = OnceLock::new();
        BEAM.get_or_init(|| Mutex::new(Beam::start().unwrap_or_else(|e| panic!("{e}"))))
    }

    fn start() -> Result<Beam, String> {
        for tool in ["erl", "erlc"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !found {
                return Err(format!("`{tool}` not found: {INSTALL_HINT}"));
            }
        }
        let dir = temp_dir()?;
        let source = dir.join("conform_interp.erl");
        std::fs::write(&source, SOURCE).map_err(|e| format!("writing {source:?}: {e}"))?;
        let compiled = Command::new("erlc")
            .arg("-o")
            .arg(&dir)
            .arg(&source)
            .output()
            .map_err(|e| format!("running erlc: {e}"))?;
        if !compiled.status.success() {
            return Err(format!(
                "erlc failed: {}{}",
                String::from_utf8_lossy(&compiled.stdout),
                String::from_utf8_lossy(&compiled.stderr)
            ));
        }
        // Schedulers that do not spin while idle: the machine is shared.
        let mut child = Command::new("erl")
            .args(["+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none"])
            .args(["-noshell", "-pa"])
            .arg(&dir)
            .args(["-s", "conform_interp", "main"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting erl: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut beam = Beam {
            child,
            stdin,
            lines,
            next_id: 1,
        };
        let ready = beam.line();
        // The module is loaded: its files are no longer needed.
        let _ = std::fs::remove_dir_all(&dir);
        match ready {
            Ok(line) if line == "ready" => Ok(beam),
            Ok(line) => Err(format!("erl said {line:?} instead of ready")),
            Err(e) => Err(e),
        }
    }

    fn line(&mut self) -> Result<String, String> {
        self.lines
            .recv_timeout(SCRIPT_TIMEOUT)
            .map_err(|e| format!("no answer from erl within {SCRIPT_TIMEOUT:?}: {e}"))
    }

    /// Runs `script` on the BEAM and returns its trace.
    pub fn run(&mut self, script: &Script) -> Result<Trace, String> {
        let id = self.next_id;
        self.next_id += 1;
        writeln!(self.stdin, "{}", script.to_erlang(id))
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("writing to erl: {e}"))?;
        let line = self.line()?;
        let (got, trace) = Trace::from_term(&term::parse(&line)?)?;
        if got != id {
            return Err(format!("erl answered script {got}, expected {id}"));
        }
        Ok(trace)
    }
}

impl Drop for Beam {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new private directory under the system's temporary directory.
fn temp_dir() -> Result<PathBuf, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("ferrotp-conform-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {dir:?}: {e}"))?;
    Ok(dir)
}
