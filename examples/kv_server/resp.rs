//! RESP2, the Redis protocol: requests in (arrays of bulk strings, or inline
//! lines as typed into telnet) and replies out.
//!
//! The parser works on whatever bytes a connection has buffered: it returns
//! a whole request, `Incomplete` (wait for more), or a `ProtocolError` the
//! connection answers and then closes on (as Redis does). Lengths a client
//! announces are checked against [`Limits`] before anything is buffered for
//! them, and nothing is allocated from a client's claim: a `$536870912`
//! header is refused, not honoured with a 512 MB buffer.

use std::fmt;

/// What a client may send, at most.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest bulk string (a key or a value), in bytes.
    pub max_bulk: usize,
    /// Most elements in one request array (Redis: 1,048,576).
    pub max_args: usize,
    /// Longest inline request (or header line), in bytes (Redis: 64 KiB).
    pub max_inline: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk: 16 << 20,
            max_args: 1 << 20,
            max_inline: 64 << 10,
        }
    }
}

/// A request the client got wrong: answered with `-ERR Protocol error: ..`
/// and the connection is closed, as Redis does, because the stream can no
/// longer be split into requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

/// One parsed request: its arguments (the command name first) and how many
/// bytes of the buffer it used.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Request {
        args: Vec<Vec<u8>>,
        used: usize,
    },
    /// An empty inline line or an empty array: nothing to answer.
    Nothing {
        used: usize,
    },
    Incomplete,
}

/// Parses the first request in `buf`.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
    match buf.first() {
        None => Ok(Parsed::Incomplete),
        Some(b'*') => parse_array(buf, limits),
        Some(_) => parse_inline(buf, limits),
    }
}

/// The line that starts at `from` (without its `\r\n`) and where the next
/// one starts, or `None` if it has not all arrived.
fn line(
    buf: &[u8],
    from: usize,
    max: usize,
    what: &str,
) -> Result<Option<(usize, usize)>, ProtocolError> {
    let rest = &buf[from..];
    match rest.iter().position(|&b| b == b'\n') {
        Some(nl) if nl > 0 && rest[nl - 1] == b'\r' => Ok(Some((from + nl - 1, from + nl + 1))),
        Some(_) => Err(ProtocolError(format!("{what} line not ended by CRLF"))),
        None if rest.len() > max => Err(ProtocolError(format!("too big {what}"))),
        None => Ok(None),
    }
}

/// A decimal length in a header, `-1` and up.
fn number(digits: &[u8]) -> Option<i64> {
    let (negative, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    Some(if negative { -n } else { n })
}

fn parse_array(buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
    let Some((end, mut at)) = line(buf, 1, 32, "multibulk count")? else {
        return Ok(Parsed::Incomplete);
    };
    let count = match number(&buf[1..end]) {
        Some(n) if n <= limits.max_args as i64 => n,
        _ => return Err(ProtocolError("invalid multibulk length".into())),
    };
    if count <= 0 {
        return Ok(Parsed::Nothing { used: at });
    }
    // Only the headers seen so far are trusted with memory: the vector
    // grows as arguments actually arrive.
    let mut args = Vec::with_capacity((count as usize).min(16));
    for _ in 0..count {
        let Some(&kind) = buf.get(at) else {
            return Ok(Parsed::Incomplete);
        };
        if kind != b'$' {
            return Err(ProtocolError(format!(
                "expected '$', got '{}'",
                (kind as char).escape_default()
            )));
        }
        let Some((end, data)) = line(buf, at + 1, 32, "bulk length")? else {
            return Ok(Parsed::Incomplete);
        };
        let len = match number(&buf[at + 1..end]) {
            Some(n) if n >= 0 && n as u64 <= limits.max_bulk as u64 => n as usize,
            _ => return Err(ProtocolError("invalid bulk length".into())),
        };
        if buf.len() < data + len + 2 {
            return Ok(Parsed::Incomplete);
        }
        if &buf[data + len..data + len + 2] != b"\r\n" {
            return Err(ProtocolError("bulk string not ended by CRLF".into()));
        }
        args.push(buf[data..data + len].to_vec());
        at = data + len + 2;
    }
    Ok(Parsed::Request { args, used: at })
}

/// An inline request: words separated by spaces, up to `\n`.
fn parse_inline(buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
    let Some(nl) = buf
        .iter()
        .take(limits.max_inline + 1)
        .position(|&b| b == b'\n')
    else {
        return if buf.len() > limits.max_inline {
            Err(ProtocolError("too big inline request".into()))
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let text = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
    let args: Vec<Vec<u8>> = text
        .split(|b| b.is_ascii_whitespace())
        .filter(|word| !word.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let used = nl + 1;
    Ok(if args.is_empty() {
        Parsed::Nothing { used }
    } else {
        Parsed::Request { args, used }
    })
}

/// A reply, as RESP2 encodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`, `+PONG`, ...
    Status(&'static str),
    /// `-ERR ...`: the text after the `-`, prefix included.
    Error(String),
    Int(i64),
    /// `$n` and the bytes, or `$-1` for none.
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    pub const OK: Reply = Reply::Status("OK");

    /// `-ERR text`.
    pub fn err(text: impl fmt::Display) -> Reply {
        Reply::Error(format!("ERR {text}"))
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Status(text) => line_out(out, b'+', text.as_bytes()),
            Reply::Error(text) => {
                // A reply line cannot hold a line break: a client's bytes
                // quoted in an error could otherwise forge a reply.
                let clean: Vec<u8> = text
                    .bytes()
                    .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                    .collect();
                line_out(out, b'-', &clean);
            }
            Reply::Int(n) => line_out(out, b':', n.to_string().as_bytes()),
            Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(Some(bytes)) => {
                line_out(out, b'$', bytes.len().to_string().as_bytes());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(items) => {
                line_out(out, b'*', items.len().to_string().as_bytes());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }
}

fn line_out(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.push(kind);
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}
