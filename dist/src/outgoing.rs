//! What one connection writes, and which thread writes it.
//!
//! The thread that sends a control message writes it to the socket itself
//! (as a BEAM process encodes and queues its own dist messages): no hand-off
//! to another thread, no wake-up, for each message. While one thread
//! writes, others append their frames to the pending bytes, and the writing
//! thread takes all of them before it lets go: frames queued meanwhile go
//! out in one `send`, which is how BEAM batches a busy dist port.
//!
//! Those writes never block: they use `MSG_DONTWAIT`, so a pool worker or
//! the connection's reader never waits on a slow peer. When the socket is
//! full, or a thread has written its share, the connection's writer thread
//! takes over and writes with blocking calls until nothing is pending. That
//! thread also writes the ticks (keep-alives) when nothing else was sent
//! for a tick, and what was queued before the connection came up.
//!
//! A stream of plain messages is batched ([`Outgoing::send_message`]): a
//! message that follows the connection's previous one within
//! [`STREAM_GAP`] is left for the writer thread, which writes all that
//! came meanwhile in one `send`, instead of costing its sender a system
//! call (and the peer a wake-up) per message. The first message of a
//! burst, calls, replies and signals are written at once, as above: a
//! round trip never waits for the writer thread unless it is writing.

use std::io::{self, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use erl_dist::message::Message;
use parking_lot::{Condvar, Mutex};

use crate::wire;

/// A sending thread writes at most this much of others' frames before it
/// hands the rest to the writer thread.
const SHARE: usize = 256 << 10;

/// The longest a frame sent with [`Outgoing::send_later`] waits.
pub(crate) const LATER: Duration = Duration::from_millis(1);

/// A plain message this soon after the previous one is part of a stream
/// (see [`Outgoing::send_message`]). Far below a round trip over loopback,
/// so a request and its answer never look like a stream.
pub(crate) const STREAM_GAP: Duration = Duration::from_micros(20);

/// Where the connection's bytes stand.
#[derive(Default)]
struct Out {
    /// Frames encoded and not yet written, in order.
    pending: Vec<u8>,
    /// A thread is writing (and takes `pending` before it stops).
    writing: bool,
    /// The writer thread is asked to write `pending` (the socket was full,
    /// or the connection just came up).
    handed_off: bool,
    /// Set by any write; cleared by the writer at each tick.
    sent_since_tick: bool,
    /// `pending` holds frames that may wait (see [`Outgoing::send_later`]).
    later: bool,
    /// A `send_later` came since the writer last looked.
    later_seen: bool,
    /// The writer wakes every [`LATER`] (while `send_later` is in use)
    /// rather than every tick: `send_later` need not wake it.
    polling: bool,
    /// The socket, once the handshake is done (shared: written outside the lock).
    stream: Option<Arc<TcpStream>>,
    /// The connection is gone: frames are dropped.
    closed: bool,
    /// An emptied buffer kept for the next batch.
    spare: Vec<u8>,
    /// When the last plain message was sent ([`Outgoing::send_message`]).
    last_message: Option<Instant>,
}

/// A connection's outgoing frames.
#[derive(Default)]
pub(crate) struct Outgoing {
    out: Mutex<Out>,
    /// Wakes the writer thread (hand-off, close).
    writer: Condvar,
}

/// How a thread's write ended.
enum Written {
    All,
    /// The socket would block; these bytes are left.
    Blocked(usize),
}

/// Writes what it can of `bytes` without blocking.
fn write_now(stream: &TcpStream, bytes: &[u8]) -> io::Result<Written> {
    let mut done = 0;
    while done < bytes.len() {
        let rest = &bytes[done..];
        // SAFETY: the fd is a connected socket owned by `stream`, alive for
        // this call; the pointer and length describe `rest`, a live slice.
        let n = unsafe {
            libc::send(
                stream.as_raw_fd(),
                rest.as_ptr().cast(),
                rest.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n >= 0 {
            done += n as usize;
            continue;
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            io::ErrorKind::WouldBlock => return Ok(Written::Blocked(done)),
            io::ErrorKind::Interrupted => continue,
            _ => return Err(error),
        }
    }
    Ok(Written::All)
}

thread_local! {
    /// Where a sending thread encodes its frame before taking the lock.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Outgoing {
    /// Encodes `messages` and writes them now if no other thread writes
    /// (else they go with that thread's next batch). `Err` is the
    /// connection failing (the caller closes it).
    pub fn send(&self, messages: impl IntoIterator<Item = Message>) -> io::Result<()> {
        SCRATCH.with(|scratch| {
            let mut frame = scratch.borrow_mut();
            frame.clear();
            for message in messages {
                if let Err(e) = wire::write_frame(&mut *frame, message) {
                    tracing::warn!(error = %e, "cannot encode a control message: dropped");
                }
            }
            self.queue(&frame)
        })
    }

    /// Encodes `message` to go with the connection's next write, or
    /// within [`LATER`] if none comes: for what nobody waits for, such as
    /// the `DEMONITOR_P` after a call's reply, which would otherwise cost
    /// a `send` here and a wake-up of the peer's reader per call.
    pub fn send_later(&self, message: Message) {
        SCRATCH.with(|scratch| {
            let mut frame = scratch.borrow_mut();
            frame.clear();
            if let Err(e) = wire::write_frame(&mut *frame, message) {
                tracing::warn!(error = %e, "cannot encode a control message: dropped");
                return;
            }
            let mut out = self.out.lock();
            if out.closed {
                return;
            }
            out.pending.extend_from_slice(&frame);
            out.sent_since_tick = true;
            out.later = true;
            out.later_seen = true;
            if !out.polling {
                out.polling = true;
                drop(out);
                // The writer sleeps for a tick: it must wait for less now.
                self.writer.notify_one();
            }
        })
    }

    /// Encodes a plain message and writes it now, unless it follows the
    /// previous one within [`STREAM_GAP`]: then the writer thread writes
    /// it with whatever else comes meanwhile.
    pub fn send_message(&self, message: Message) -> io::Result<()> {
        SCRATCH.with(|scratch| {
            let mut frame = scratch.borrow_mut();
            frame.clear();
            if let Err(e) = wire::write_frame(&mut *frame, message) {
                tracing::warn!(error = %e, "cannot encode a message: dropped");
                return Ok(());
            }
            let mut out = self.out.lock();
            let now = Instant::now();
            let streaming = out
                .last_message
                .is_some_and(|last| now.saturating_duration_since(last) < STREAM_GAP);
            out.last_message = Some(now);
            if !streaming {
                return self.write_or_queue(out, &frame);
            }
            if out.closed {
                return Ok(());
            }
            out.pending.extend_from_slice(&frame);
            out.sent_since_tick = true;
            if !out.writing && out.stream.is_some() {
                out.writing = true;
                out.handed_off = true;
                drop(out);
                self.writer.notify_one();
            }
            Ok(())
        })
    }

    /// Appends encoded frames and writes them if this thread may.
    fn queue(&self, frames: &[u8]) -> io::Result<()> {
        self.write_or_queue(self.out.lock(), frames)
    }

    fn write_or_queue<'a>(
        &'a self,
        mut out: parking_lot::MutexGuard<'a, Out>,
        frames: &[u8],
    ) -> io::Result<()> {
        if out.closed {
            return Ok(());
        }
        out.pending.extend_from_slice(frames);
        out.sent_since_tick = true;
        if out.writing || out.stream.is_none() {
            return Ok(());
        }
        out.writing = true;
        let mut written = 0;
        loop {
            let Some(stream) = out.stream.clone() else {
                out.writing = false;
                return Ok(());
            };
            let spare = std::mem::take(&mut out.spare);
            let mut batch = std::mem::replace(&mut out.pending, spare);
            out.later = false;
            drop(out);
            let result = write_now(&stream, &batch);
            out = self.out.lock();
            match result {
                Ok(Written::All) => {
                    written += batch.len();
                    batch.clear();
                    if out.spare.capacity() < batch.capacity() {
                        out.spare = batch;
                    }
                    if out.pending.is_empty() || out.closed {
                        out.writing = false;
                        return Ok(());
                    }
                    if written >= SHARE {
                        return self.hand_off(out, Vec::new());
                    }
                }
                Ok(Written::Blocked(done)) => {
                    batch.drain(..done);
                    return self.hand_off(out, batch);
                }
                Err(e) => {
                    out.writing = false;
                    return Err(e);
                }
            }
        }
    }

    /// The writer thread takes over; `left` goes before what is pending.
    fn hand_off(
        &self,
        mut out: parking_lot::MutexGuard<'_, Out>,
        mut left: Vec<u8>,
    ) -> io::Result<()> {
        left.extend_from_slice(&out.pending);
        out.pending = left;
        out.handed_off = true;
        drop(out);
        self.writer.notify_one();
        Ok(())
    }

    /// The handshake is done: frames go to `stream` from now on (those
    /// queued before it go through the writer thread).
    pub fn up(&self, stream: TcpStream) {
        let mut out = self.out.lock();
        out.stream = Some(Arc::new(stream));
        if !out.pending.is_empty() && !out.writing {
            out.writing = true;
            out.handed_off = true;
            drop(out);
            self.writer.notify_one();
        }
    }

    /// The connection is gone: nothing more is written.
    pub fn close(&self) {
        let mut out = self.out.lock();
        out.closed = true;
        out.pending = Vec::new();
        drop(out);
        self.writer.notify_one();
    }

    /// The writer thread: writes what is handed to it, with blocking
    /// writes, and a tick when nothing was sent for `tick`. Returns when
    /// the connection closes, or with the error that failed a write.
    pub fn writer_loop(&self, tick: Duration) -> io::Result<()> {
        let mut out = self.out.lock();
        loop {
            if out.closed {
                return Ok(());
            }
            if out.handed_off {
                let Some(stream) = out.stream.clone() else {
                    return Ok(());
                };
                let batch = std::mem::take(&mut out.pending);
                out.later = false;
                if batch.is_empty() {
                    out.handed_off = false;
                    out.writing = false;
                    continue;
                }
                drop(out);
                let result = (&*stream).write_all(&batch);
                out = self.out.lock();
                result?;
                continue;
            }
            if out.polling {
                let waited = self.writer.wait_for(&mut out, LATER).timed_out();
                if waited && out.later && !out.writing && out.stream.is_some() {
                    // No write took them along: they go now.
                    out.writing = true;
                    out.handed_off = true;
                } else if waited && !std::mem::take(&mut out.later_seen) && !out.later {
                    // Quiet for a while: back to sleeping a tick.
                    out.polling = false;
                }
                continue;
            }
            let timed_out = self.writer.wait_for(&mut out, tick).timed_out();
            if timed_out && !out.handed_off && out.stream.is_some() {
                // Silence for a tick: tell the peer we are alive.
                if !std::mem::take(&mut out.sent_since_tick) && !out.writing {
                    out.pending.extend_from_slice(&[0, 0, 0, 0]);
                    out.writing = true;
                    out.handed_off = true;
                }
            }
        }
    }
}
