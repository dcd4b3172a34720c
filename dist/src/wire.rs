//! Frames on an established connection, and the check every received
//! frame passes before it is decoded.
//!
//! After the handshake a connection carries frames: a 4-byte big-endian
//! length, then that many bytes. Length 0 is a tick (keep-alive); otherwise
//! the first byte is 112 (pass-through, no distribution header since we
//! advertise no atom cache) followed by the control term and, for some
//! operations, the message term, each in the external term format.
//!
//! The term decoder we use (`eetf`) trusts lengths: a list header claiming
//! four billion elements makes it reserve memory for them, and a few tags
//! reach `unimplemented!()`. So [`check_terms`] walks the bytes first, with
//! every count checked against the bytes left and the nesting bounded; only
//! a frame that passes is handed to the decoder. That is what makes
//! "nothing a peer sends can panic or exhaust the node" hold.

#[cfg(any(test, not(target_os = "linux")))]
use std::io::Read;
use std::io::{self, Write};

use erl_dist::message::Message;
use thiserror::Error;

/// The pass-through tag before the control message of a frame.
const PASS_THROUGH: u8 = 112;
/// The version byte that starts each term in the external format.
const VERSION: u8 = 131;
/// A frame buffer larger than this is not kept for the next frame.
#[cfg(any(test, not(target_os = "linux")))]
const KEPT_BUFFER: usize = 64 << 10;
/// Deeper terms are refused (the decoder recurses once per level).
pub(crate) const MAX_DEPTH: usize = 512;

/// Why a received frame was refused; the connection that sent it is closed.
#[derive(Debug, Error)]
pub enum FrameError {
    /// The socket failed or was closed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The frame announced more bytes than the configured maximum.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The frame does not start with the pass-through tag 112.
    #[error("unexpected frame tag {0} (distribution headers are not negotiated)")]
    Tag(u8),
    /// The bytes are not well-formed terms.
    #[error("malformed term: {0}")]
    Malformed(&'static str),
    /// The terms are well-formed but are no control message we know.
    #[error("undecodable control message: {0}")]
    Control(String),
}

/// What one frame held.
pub(crate) enum Frame {
    Tick,
    Control(Box<Message>),
}

/// Reads one frame, refusing lengths above `max` before allocating.
#[cfg(test)]
pub(crate) fn read_frame(reader: &mut impl Read, max: usize) -> Result<Frame, FrameError> {
    read_frame_into(reader, max, &mut Vec::new())
}

/// Reads one frame into `body` (a buffer kept from frame to frame),
/// refusing lengths above `max` before allocating. (On Linux frames are
/// read without blocking: see `frames`.)
#[cfg(any(test, not(target_os = "linux")))]
pub(crate) fn read_frame_into(
    reader: &mut impl Read,
    max: usize,
    body: &mut Vec<u8>,
) -> Result<Frame, FrameError> {
    let mut len = [0u8; 4];
    reader.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 {
        return Ok(Frame::Tick);
    }
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    body.clear();
    body.resize(len, 0);
    // The end of the stream inside a frame is a truncated frame, not a
    // clean close.
    reader.read_exact(body).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => FrameError::Malformed("truncated frame"),
        _ => FrameError::Io(e),
    })?;
    let frame = decode_body(body).map(|m| Frame::Control(Box::new(m)));
    if body.capacity() > KEPT_BUFFER {
        // One large frame does not pin its memory for the connection's life.
        *body = Vec::new();
    }
    frame
}

/// Decodes a frame's body (after its length), checking it first.
pub(crate) fn decode_body(body: &[u8]) -> Result<Message, FrameError> {
    let (&tag, terms) = body.split_first().ok_or(FrameError::Malformed("empty"))?;
    if tag != PASS_THROUGH {
        return Err(FrameError::Tag(tag));
    }
    check_terms(terms)?;
    let mut reader = terms;
    // The check above rules out what makes the decoder panic; the guard is
    // defence in depth, so that a decoder bug costs one connection.
    let decoded = std::panic::catch_unwind(move || Message::read_from(&mut reader));
    match decoded {
        Ok(Ok(message)) => Ok(message),
        Ok(Err(error)) => Err(FrameError::Control(error.to_string())),
        Err(_) => Err(FrameError::Malformed("decoder panicked")),
    }
}

/// Writes one control message as a frame (into a buffer; flushing is the caller's).
pub(crate) fn write_frame(out: &mut impl Write, message: Message) -> io::Result<()> {
    if matches!(message, Message::Tick) {
        return out.write_all(&[0, 0, 0, 0]);
    }
    let mut body = Vec::with_capacity(64);
    body.push(PASS_THROUGH);
    message
        .write_into(&mut body)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let len = u32::try_from(body.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "frame over 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(&body)
}

/// Checks that `bytes` is one or two complete terms (control, then
/// message), each `131`-prefixed, with nothing left over.
pub(crate) fn check_terms(bytes: &[u8]) -> Result<(), FrameError> {
    let mut cursor = Cursor { bytes, pos: 0 };
    for index in 0..2 {
        if cursor.pos == bytes.len() {
            return if index == 0 {
                Err(FrameError::Malformed("no control term"))
            } else {
                Ok(())
            };
        }
        if cursor.u8()? != VERSION {
            return Err(FrameError::Malformed("term without version byte 131"));
        }
        cursor.term(0)?;
    }
    if cursor.pos == bytes.len() {
        Ok(())
    } else {
        Err(FrameError::Malformed("bytes after the message term"))
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn skip(&mut self, n: usize) -> Result<(), FrameError> {
        if n > self.left() {
            return Err(FrameError::Malformed("truncated term"));
        }
        self.pos += n;
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, FrameError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or(FrameError::Malformed("truncated term"))?;
        self.pos += 1;
        Ok(b)
    }

    fn u16(&mut self) -> Result<usize, FrameError> {
        Ok(usize::from(self.u8()?) << 8 | usize::from(self.u8()?))
    }

    fn u32(&mut self) -> Result<usize, FrameError> {
        Ok(self.u16()? << 16 | self.u16()?)
    }

    /// `n` elements follow, each at least one byte: refuse counts larger
    /// than what is left before anyone reserves memory for them.
    fn count(&self, n: usize) -> Result<usize, FrameError> {
        if n > self.left() {
            Err(FrameError::Malformed("element count exceeds the frame"))
        } else {
            Ok(n)
        }
    }

    fn terms(&mut self, n: usize, depth: usize) -> Result<(), FrameError> {
        for _ in 0..self.count(n)? {
            self.term(depth)?;
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<(), FrameError> {
        match self.u8()? {
            100 | 118 => {
                let n = self.u16()?;
                self.skip(n)
            }
            115 | 119 => {
                let n = usize::from(self.u8()?);
                self.skip(n)
            }
            _ => Err(FrameError::Malformed("expected an atom")),
        }
    }

    fn term(&mut self, depth: usize) -> Result<(), FrameError> {
        if depth > MAX_DEPTH {
            return Err(FrameError::Malformed("term nested too deeply"));
        }
        let next = depth + 1;
        match self.u8()? {
            97 => self.skip(1),  // SMALL_INTEGER
            98 => self.skip(4),  // INTEGER
            70 => self.skip(8),  // NEW_FLOAT
            99 => self.skip(31), // FLOAT (old, text)
            106 => Ok(()),       // NIL
            100 | 115 | 118 | 119 => {
                self.pos -= 1;
                self.atom()
            }
            104 => {
                let n = usize::from(self.u8()?);
                self.terms(n, next)
            }
            105 => {
                let n = self.u32()?;
                self.terms(n, next)
            }
            116 => {
                let n = self.u32()?;
                let n = self.count(n)?;
                self.terms(n.saturating_mul(2), next)
            }
            107 => {
                let n = self.u16()?;
                self.skip(n)
            }
            108 => {
                let n = self.u32()?;
                self.terms(n, next)?;
                self.term(next) // tail
            }
            109 => {
                let n = self.u32()?;
                self.skip(n)
            }
            77 => {
                let n = self.u32()?;
                self.skip(1)?;
                self.skip(n)
            }
            110 => {
                let n = usize::from(self.u8()?);
                self.skip(1 + n)
            }
            111 => {
                let n = self.u32()?;
                self.skip(1)?;
                self.skip(n)
            }
            103 => {
                self.atom()?;
                self.skip(9)
            }
            88 => {
                self.atom()?;
                self.skip(12)
            }
            102 => {
                self.atom()?;
                self.skip(5)
            }
            89 => {
                self.atom()?;
                self.skip(8)
            }
            120 => {
                self.atom()?;
                self.skip(12)
            }
            101 => {
                self.atom()?;
                self.skip(5)
            }
            114 => {
                let n = self.u16()?;
                self.atom()?;
                self.skip(1)?;
                self.skip(n.saturating_mul(4))
            }
            90 => {
                let n = self.u16()?;
                self.atom()?;
                self.skip(4)?;
                self.skip(n.saturating_mul(4))
            }
            113 => {
                // EXPORT: module, function, arity
                self.atom()?;
                self.atom()?;
                self.term(next)
            }
            117 => {
                // FUN: NumFree, Pid, Module, Index, Uniq, Free vars
                let free = self.u32()?;
                self.terms(4, next)?;
                self.terms(free, next)
            }
            112 => {
                // NEW_FUN: Size, Arity, Uniq, Index, NumFree, Module, OldIndex, OldUniq, Pid, Free vars
                self.skip(4 + 1 + 16 + 4)?;
                let free = self.u32()?;
                self.terms(4, next)?;
                self.terms(free, next)
            }
            // Atom cache references, compressed terms, distribution headers
            // and local terms are never negotiated with us.
            _ => Err(FrameError::Malformed("unknown or unsupported term tag")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use erl_dist::term::{Atom, Pid, Term};

    fn frame_of(message: Message) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame(&mut out, message).unwrap();
        out
    }

    #[test]
    fn a_written_frame_reads_back() {
        let pid = Pid::new("a@b", 1, 2, 3);
        let message = Message::reg_send(pid, Atom::from("x"), Term::from(Atom::from("hi")));
        let bytes = frame_of(message.clone());
        match read_frame(&mut bytes.as_slice(), 1 << 20).unwrap() {
            Frame::Control(got) => assert_eq!(format!("{:?}", *got), format!("{message:?}")),
            Frame::Tick => panic!("not a tick"),
        }
    }

    #[test]
    fn every_truncation_is_refused_without_panic() {
        let pid = Pid::new("a@b", 1, 2, 3);
        let list = erl_dist::term::List::from(vec![Term::from(Atom::from("x")); 5]);
        let bytes = frame_of(Message::send(pid, Term::from(list)));
        for cut in 5..bytes.len() {
            assert!(decode_body(&bytes[4..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn huge_counts_are_refused_before_allocation() {
        // A LIST_EXT claiming u32::MAX elements in a 10-byte frame.
        let body = [112, 131, 108, 0xff, 0xff, 0xff, 0xff, 106];
        assert!(matches!(decode_body(&body), Err(FrameError::Malformed(_))));
        // An oversized announced length is refused before reading the body.
        let mut reader: &[u8] = &[0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame(&mut reader, 1 << 20),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn tags_the_decoder_cannot_handle_are_refused() {
        for tag in [82u8, 68, 80, 121] {
            let body = [112, 131, tag, 0, 0, 0, 0];
            assert!(decode_body(&body).is_err(), "tag {tag}");
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut body = vec![112, 131];
        for _ in 0..10_000 {
            body.extend([104, 1]); // a 1-tuple holding the next level
        }
        body.push(106);
        assert!(matches!(decode_body(&body), Err(FrameError::Malformed(_))));
    }

    #[test]
    fn random_bytes_never_panic() {
        // A small deterministic generator: no extra dependency for fuzzing.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let len = (state % 64) as usize;
            let mut body = vec![112, 131];
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                body.push(state as u8);
            }
            let _ = decode_body(&body);
        }
    }
}
