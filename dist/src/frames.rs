//! A connection's received bytes cut into frames, read from the socket
//! without ever waiting (Linux).
//!
//! Whoever reads the connection (its reader thread, or a caller reading
//! its own reply: see `reader`) holds the one [`Frames`] of the connection
//! under a lock, so frames are taken whole and handled in order whoever
//! reads. A read never blocks: a thread that finds nothing to read lets go
//! of the lock and waits for the socket elsewhere (`conn`), so the other
//! side can take over. A frame that arrived in part stays buffered until
//! the rest comes.

use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

use crate::wire::{decode_body, Frame, FrameError};

/// What the buffer holds between frames, and at least what one `recv`
/// may fill; a larger frame grows it for its time only.
const KEPT: usize = 64 << 10;

/// The bytes received and not yet taken as frames.
pub(crate) struct Frames {
    buf: Vec<u8>,
    /// Where the first byte not yet taken is.
    start: usize,
    /// Where the received bytes end.
    end: usize,
    /// A read failed or a frame was bad: nothing more is taken.
    closed: bool,
    /// When bytes last came (a silent connection is lost).
    last_read: Instant,
    /// The last `recv` filled less than it could: the socket had no more
    /// then, and the next look for more is left to a wait on its
    /// readiness (which ends at once if more came), not another `recv`
    /// that would find nothing.
    drained: bool,
}

impl Frames {
    pub fn new() -> Self {
        Frames {
            buf: vec![0; KEPT],
            start: 0,
            end: 0,
            closed: false,
            last_read: Instant::now(),
            drained: false,
        }
    }

    /// Whether received bytes wait here (part of a frame, or whole ones):
    /// the socket's readiness says nothing of them.
    pub fn buffered(&self) -> bool {
        self.start < self.end
    }

    /// The next look for bytes reads the socket, whatever the last read
    /// found (a new reader, after a wait on the socket's readiness).
    pub fn look_again(&mut self) {
        self.drained = false;
    }

    /// When bytes last came.
    pub fn last_read(&self) -> Instant {
        self.last_read
    }

    /// The next whole frame, reading `fd` without waiting when the buffer
    /// holds none; `Ok(None)` when the socket has nothing more for now
    /// (which may also mean that the last read emptied it: the caller
    /// waits for the socket's readiness before it asks again).
    /// Refuses a length above `max` before making room for it. After an
    /// error every call fails with `NotConnected` (an error is reported,
    /// and counted, once).
    pub fn next(&mut self, fd: RawFd, max: usize) -> Result<Option<Frame>, FrameError> {
        if self.closed {
            return Err(FrameError::Io(io::ErrorKind::NotConnected.into()));
        }
        let next = self.take(fd, max);
        if next.is_err() {
            self.closed = true;
        }
        next
    }

    fn take(&mut self, fd: RawFd, max: usize) -> Result<Option<Frame>, FrameError> {
        loop {
            let held = self.end - self.start;
            let need = if held >= 4 {
                let head = &self.buf[self.start..self.start + 4];
                let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
                if len == 0 {
                    self.consume(4);
                    return Ok(Some(Frame::Tick));
                }
                if len > max {
                    return Err(FrameError::TooLarge { len, max });
                }
                if held >= 4 + len {
                    let body = &self.buf[self.start + 4..self.start + 4 + len];
                    let frame = decode_body(body).map(|m| Frame::Control(Box::new(m)));
                    self.consume(4 + len);
                    return frame.map(Some);
                }
                4 + len
            } else {
                4
            };
            if std::mem::take(&mut self.drained) {
                return Ok(None);
            }
            self.make_room(need);
            let room = self.buf.len() - self.end;
            match recv(fd, &mut self.buf[self.end..]) {
                Ok(0) if held == 0 => {
                    return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into()))
                }
                // The end of the stream inside a frame is a truncated
                // frame, not a clean close.
                Ok(0) => return Err(FrameError::Malformed("truncated frame")),
                Ok(n) => {
                    self.end += n;
                    self.last_read = Instant::now();
                    self.drained = n < room;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FrameError::Io(e)),
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > KEPT {
                // One large frame does not pin its memory for the
                // connection's life.
                self.buf = vec![0; KEPT];
            }
        }
    }

    /// Room after `end` for the rest of a frame of `need` bytes (and for
    /// a useful `recv` in any case).
    fn make_room(&mut self, need: usize) {
        if self.start > 0 && self.buf.len() - self.start < need.max(KEPT) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < self.start + need {
            self.buf.resize(self.start + need, 0);
        }
    }
}

/// One `recv` that does not wait (`MSG_DONTWAIT`: the socket itself stays
/// blocking for the connection's writer thread, which shares its flags).
fn recv(fd: RawFd, into: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `fd` is a socket the caller keeps open for this call (the
    // connection's `Conn` owns it); the pointer and length describe
    // `into`, a live, writable slice.
    let n = unsafe { libc::recv(fd, into.as_mut_ptr().cast(), into.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    use erl_dist::message::Message;
    use erl_dist::term::{Pid, Term};

    use super::*;
    use crate::wire::write_frame;

    fn frame(n: i32) -> Vec<u8> {
        let pid = Pid::new("a@localhost", 1, 0, 0);
        let mut bytes = Vec::new();
        let n = erl_dist::term::FixInteger::from(n);
        write_frame(&mut bytes, Message::send(pid, Term::from(n))).unwrap();
        bytes
    }

    fn sent(frame: Frame) -> i32 {
        match frame {
            Frame::Control(m) => match *m {
                Message::Send(s) => match s.message {
                    Term::FixInteger(i) => i.value,
                    other => panic!("not an integer: {other:?}"),
                },
                other => panic!("not a send: {other:?}"),
            },
            Frame::Tick => panic!("a tick"),
        }
    }

    #[test]
    fn frames_in_pieces_come_whole_and_in_order() {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let mut frames = Frames::new();
        let fd = rx.as_raw_fd();
        assert!(matches!(frames.next(fd, 1 << 20), Ok(None)));
        let mut bytes = Vec::new();
        for i in 0..50 {
            bytes.extend(frame(i));
            bytes.extend([0, 0, 0, 0]);
        }
        let mut got = Vec::new();
        // Every split, byte by byte at first, then in larger pieces.
        for chunk in bytes.chunks(7) {
            tx.write_all(chunk).unwrap();
            loop {
                match frames.next(fd, 1 << 20) {
                    Ok(Some(Frame::Tick)) => {}
                    Ok(Some(f)) => got.push(sent(f)),
                    Ok(None) => break,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        assert_eq!(got, (0..50).collect::<Vec<_>>());
        assert!(!frames.buffered());
        drop(tx);
        assert!(matches!(frames.next(fd, 1 << 20), Err(FrameError::Io(_))));
        // Once failed, it stays failed.
        assert!(matches!(frames.next(fd, 1 << 20), Err(FrameError::Io(_))));
    }

    #[test]
    fn a_large_frame_grows_the_buffer_for_its_time_only() {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let fd = rx.as_raw_fd();
        let mut frames = Frames::new();
        let pid = Pid::new("a@localhost", 1, 0, 0);
        let big = Term::from(erl_dist::term::Binary::from(vec![7u8; 200_000]));
        let mut bytes = Vec::new();
        write_frame(&mut bytes, Message::send(pid, big)).unwrap();
        bytes.extend(frame(1));
        let writer = std::thread::spawn(move || tx.write_all(&bytes).unwrap());
        let mut got = Vec::new();
        while got.len() < 2 {
            match frames.next(fd, 1 << 20) {
                Ok(Some(Frame::Control(m))) => got.push(m),
                Ok(Some(Frame::Tick)) => {}
                Ok(None) => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        writer.join().unwrap();
        assert!(
            matches!(&*got[0], Message::Send(s) if matches!(&s.message, Term::Binary(b) if b.bytes.len() == 200_000))
        );
        assert!(frames.buf.len() <= KEPT, "the buffer shrank back");
    }

    #[test]
    fn oversized_and_truncated_frames_are_refused() {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let mut frames = Frames::new();
        tx.write_all(&[0x7f, 0xff, 0xff, 0xff]).unwrap();
        assert!(matches!(
            frames.next(rx.as_raw_fd(), 1 << 20),
            Err(FrameError::TooLarge { .. })
        ));
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let mut frames = Frames::new();
        tx.write_all(&frame(3)[..9]).unwrap();
        assert!(matches!(frames.next(rx.as_raw_fd(), 1 << 20), Ok(None)));
        drop(tx);
        assert!(matches!(
            frames.next(rx.as_raw_fd(), 1 << 20),
            Err(FrameError::Malformed(_))
        ));
    }
}
