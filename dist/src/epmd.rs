//! EPMD, the name service on port 4369 that maps node names to ports.
//!
//! A node registers itself there (and stays registered while it keeps the
//! registration connection open), and looks up the port of a node it
//! connects to. When no EPMD runs, we start Erlang's own (`epmd -daemon`)
//! if it is on `PATH` — like `erl`, we leave it running for later nodes —
//! else we serve the protocol ourselves from this process, so clusters of
//! ferrotp nodes need no Erlang install.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use erl_dist::epmd::{EpmdClient, NodeEntry};
use erl_dist::node::Creation;

use crate::blocking::{run, Blocking};
use crate::error::NodeError;

const TIMEOUT: Duration = Duration::from_secs(10);

fn connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::other("no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(stream) => {
                stream.set_read_timeout(Some(TIMEOUT))?;
                stream.set_write_timeout(Some(TIMEOUT))?;
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Registers `name` (the part before `@`) with the local EPMD, starting one
/// if none runs. The returned stream must stay open while the node lives.
pub(crate) fn register(
    epmd_port: u16,
    spawn_epmd: bool,
    loopback: bool,
    name: &str,
    port: u16,
    hidden: bool,
) -> Result<(TcpStream, Creation), NodeError> {
    let mut attempt = 1;
    loop {
        let stream = match connect("127.0.0.1", epmd_port) {
            Ok(stream) => stream,
            Err(_) => {
                ensure_running(epmd_port, spawn_epmd, loopback)?;
                connect("127.0.0.1", epmd_port).map_err(|e| NodeError::Epmd(e.to_string()))?
            }
        };
        let entry = if hidden {
            NodeEntry::new_hidden(name, port)
        } else {
            NodeEntry::new(name, port)
        };
        match run(EpmdClient::new(Blocking(stream)).register(entry)) {
            Ok((Blocking(stream), creation)) => {
                // The registration lives as long as this connection: no
                // timeout on it.
                let _ = stream.set_read_timeout(None);
                return Ok((stream, creation));
            }
            // An EPMD that did not answer in time (a starved `epmd` on a
            // loaded machine was seen to): ask again on a new connection.
            Err(erl_dist::epmd::EpmdError::Io(e))
                if attempt < REGISTER_ATTEMPTS
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
            {
                tracing::warn!(name, attempt, "epmd did not answer the registration: again");
                attempt += 1;
            }
            Err(e) => return Err(NodeError::Epmd(format!("registering {name}: {e}"))),
        }
    }
}

/// How many times a registration EPMD leaves unanswered is tried.
const REGISTER_ATTEMPTS: u32 = 3;

/// The distribution port of `name` on `host`, from that host's EPMD.
pub(crate) fn lookup(host: &str, epmd_port: u16, name: &str) -> Result<u16, String> {
    let stream = connect(host, epmd_port).map_err(|e| format!("epmd on {host}: {e}"))?;
    match run(EpmdClient::new(Blocking(stream)).get_node(name)) {
        Ok(Some(entry)) => Ok(entry.port),
        Ok(None) => Err(format!("no node {name} registered on {host}")),
        Err(e) => Err(format!("epmd on {host}: {e}")),
    }
}

/// Starts an EPMD on `port`: Erlang's, or our own. A node that listens on
/// loopback only gets an EPMD that does too.
fn ensure_running(port: u16, spawn_epmd: bool, loopback: bool) -> Result<(), NodeError> {
    if spawn_epmd {
        let mut command = std::process::Command::new("epmd");
        command.args(["-port", &port.to_string(), "-daemon"]);
        if loopback {
            command.args(["-address", "127.0.0.1"]);
        }
        let started = command.stdin(std::process::Stdio::null()).status();
        if let Ok(status) = started {
            if status.success() && wait_for(port) {
                tracing::info!(port, "started epmd -daemon");
                return Ok(());
            }
        }
    }
    let ip: [u8; 4] = if loopback {
        [127, 0, 0, 1]
    } else {
        [0, 0, 0, 0]
    };
    match TcpListener::bind(std::net::SocketAddr::from((ip, port))) {
        Ok(listener) => {
            serve(listener);
            tracing::info!(port, "serving EPMD from this process");
            Ok(())
        }
        // Someone else started one meanwhile.
        Err(_) if wait_for(port) => Ok(()),
        Err(e) => Err(NodeError::Epmd(format!(
            "none runs on port {port} and none could be started: {e}"
        ))),
    }
}

fn wait_for(port: u16) -> bool {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// One registered node, as the EPMD protocol describes it.
#[derive(Clone)]
struct Entry {
    port: u16,
    node_type: u8,
    protocol: u8,
    high: u16,
    low: u16,
    extra: Vec<u8>,
}

type Names = Arc<Mutex<HashMap<String, Entry>>>;

/// Serves EPMD's ALIVE2, PORT_PLEASE2 and NAMES requests on `listener`,
/// from a thread that lives as long as the process.
pub(crate) fn serve(listener: TcpListener) {
    let names: Names = Arc::default();
    let spawned = std::thread::Builder::new()
        .name("ferrotp-epmd".into())
        .spawn(move || {
            let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
            for stream in listener.incoming().flatten() {
                let names = names.clone();
                let _ = std::thread::Builder::new()
                    .name("ferrotp-epmd-conn".into())
                    .spawn(move || {
                        if let Err(e) = serve_one(stream, &names, port) {
                            tracing::debug!(error = %e, "epmd request refused");
                        }
                    });
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the EPMD thread");
    }
}

fn read_u16(stream: &mut TcpStream) -> std::io::Result<u16> {
    let mut b = [0u8; 2];
    stream.read_exact(&mut b)?;
    Ok(u16::from_be_bytes(b))
}

fn take<'a>(body: &mut &'a [u8], n: usize) -> std::io::Result<&'a [u8]> {
    if body.len() < n {
        return Err(std::io::Error::other("truncated epmd request"));
    }
    let (head, rest) = body.split_at(n);
    *body = rest;
    Ok(head)
}

fn take_u16(body: &mut &[u8]) -> std::io::Result<u16> {
    let b = take(body, 2)?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

fn serve_one(mut stream: TcpStream, names: &Names, port: u16) -> std::io::Result<()> {
    stream.set_read_timeout(Some(TIMEOUT))?;
    let len = usize::from(read_u16(&mut stream)?);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    let mut body = body.as_slice();
    let tag = take(&mut body, 1)?[0];
    match tag {
        120 => {
            // ALIVE2_REQ: registered while this connection stays open.
            let entry = Entry {
                port: take_u16(&mut body)?,
                node_type: take(&mut body, 1)?[0],
                protocol: take(&mut body, 1)?[0],
                high: take_u16(&mut body)?,
                low: take_u16(&mut body)?,
                extra: Vec::new(),
            };
            let n = usize::from(take_u16(&mut body)?);
            let name = String::from_utf8_lossy(take(&mut body, n)?).into_owned();
            let n = usize::from(take_u16(&mut body)?);
            let entry = Entry {
                extra: take(&mut body, n)?.to_vec(),
                ..entry
            };
            let fresh = {
                let mut names = names.lock().unwrap_or_else(|e| e.into_inner());
                if names.contains_key(&name) {
                    false
                } else {
                    names.insert(name.clone(), entry);
                    true
                }
            };
            let creation: u32 = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos() | 1)
                .unwrap_or(1);
            let mut reply = vec![118, u8::from(!fresh)];
            reply.extend(creation.to_be_bytes());
            stream.write_all(&reply)?;
            if !fresh {
                return Ok(());
            }
            stream.set_read_timeout(None)?;
            let mut sink = [0u8; 64];
            while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            names
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&name);
            Ok(())
        }
        122 => {
            // PORT_PLEASE2_REQ
            let name = String::from_utf8_lossy(body).into_owned();
            let entry = names
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&name)
                .cloned();
            let reply = match entry {
                None => vec![119, 1],
                Some(e) => {
                    let mut r = vec![119, 0];
                    r.extend(e.port.to_be_bytes());
                    r.extend([e.node_type, e.protocol]);
                    r.extend(e.high.to_be_bytes());
                    r.extend(e.low.to_be_bytes());
                    r.extend((name.len() as u16).to_be_bytes());
                    r.extend(name.as_bytes());
                    r.extend((e.extra.len() as u16).to_be_bytes());
                    r.extend(&e.extra);
                    r
                }
            };
            stream.write_all(&reply)
        }
        110 => {
            // NAMES_REQ
            let mut reply = u32::from(port).to_be_bytes().to_vec();
            for (name, e) in names.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                reply.extend(format!("name {name} at port {}\n", e.port).as_bytes());
            }
            stream.write_all(&reply)
        }
        other => Err(std::io::Error::other(format!(
            "unknown epmd request {other}"
        ))),
    }
}
