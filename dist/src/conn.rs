//! Who is woken when a connection's bytes come (Linux): its reader
//! thread, or a thread waiting in [`Node::call`](crate::Node::call) for
//! its reply, which then reads the connection itself.
//!
//! A caller that waits on a condition variable while the reader thread
//! waits on the socket costs two wake-ups per round trip: the reply wakes
//! the reader, which wakes the caller. Here a waiting caller waits on the
//! socket itself, and for that time the reader thread is not woken by it:
//! the socket sits in the reader's own epoll set, and the caller that
//! *leads* (one at a time per connection) turns its interest off there
//! (`EPOLL_CTL_MOD` with no events: the kernel's wake-up callback then
//! skips that set) and polls the socket. When it leaves, the interest is
//! turned back on, and the kernel checks readiness as it does so (a
//! socket that became readable meanwhile wakes the reader at once), so
//! nothing waits for a caller that has gone. Bytes the caller received
//! but left in the buffer (it stops at its own reply) are not socket
//! readiness: it wakes the reader for them through an eventfd.
//!
//! The reader's set has one waiter and the caller polls alone, so both
//! are level-triggered: readiness is always the socket's current state,
//! and a thread that stops reading strands nothing.
//!
//! A caller's reply may still be read by another thread (the reader, if it
//! was reading when the caller began to lead). The caller's poll also
//! watches an eventfd of its own thread, which the thread that completes
//! the call signals (see `calls::Slot`).

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::frames::Frames;

/// The socket's event data in the reader's set.
const SOCKET: u64 = 0;
/// The reader's eventfd's event data.
const WAKE: u64 = 1;
/// What makes the socket worth reading: bytes, or its end.
const READABLE: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;

/// One connection's reading side.
pub(crate) struct Conn {
    stream: TcpStream,
    /// The reader thread's epoll set: the socket (its interest off while
    /// a caller leads) and `wake`.
    epoll: OwnedFd,
    /// Wakes the reader thread: bytes left in `frames` by a caller, or
    /// the connection lost.
    wake: OwnedFd,
    /// A caller reads for itself now (see [`Conn::lead`]).
    leading: AtomicBool,
    /// The received bytes; whoever holds them reads the connection (see
    /// [`Conn::read`]).
    frames: Mutex<Frames>,
}

thread_local! {
    /// This thread holds some connection's received bytes (it reads, and
    /// handles what it read).
    static READING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread holds a connection's received bytes: code that
/// the handling of a message runs (a function address's function) must
/// not wait to read a connection, its own included, which it would never
/// get.
pub(crate) fn reading() -> bool {
    READING.with(|r| r.get())
}

/// A connection's received bytes, held by this thread.
pub(crate) struct Reading<'a> {
    frames: parking_lot::MutexGuard<'a, Frames>,
    was: bool,
}

impl std::ops::Deref for Reading<'_> {
    type Target = Frames;
    fn deref(&self) -> &Frames {
        &self.frames
    }
}

impl std::ops::DerefMut for Reading<'_> {
    fn deref_mut(&mut self) -> &mut Frames {
        &mut self.frames
    }
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        READING.with(|r| r.set(self.was));
    }
}

/// `Err` with the OS error when a system call returned -1.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A new eventfd that never blocks.
fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes no pointers; the flags are valid.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    // SAFETY: `fd` was just returned by eventfd, is open, and is owned by
    // nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Signals the eventfd `fd` (the counter only grows: never blocks for
/// any number of signals a connection's life can make).
pub(crate) fn signal(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: the caller keeps `fd` open for this call (see `calls::Slot`
    // for callers' eventfds; `Conn` owns its own); the pointer and length
    // describe `one`, a live u64, as eventfd requires.
    let _ = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// Resets the eventfd `fd` to unsignalled.
fn drain(fd: RawFd) {
    let mut count: u64 = 0;
    // SAFETY: as in `signal`; eventfd reads exactly 8 bytes into `count`,
    // and fails (EAGAIN) without blocking when it is not signalled.
    let _ = unsafe { libc::read(fd, (&mut count as *mut u64).cast(), 8) };
}

/// Milliseconds for poll and epoll_wait, rounded up (a wait shorter
/// than asked would spin at the end).
fn millis(timeout: Duration) -> libc::c_int {
    let ms = timeout.as_nanos().div_ceil(1_000_000);
    ms.min(libc::c_int::MAX as u128) as libc::c_int
}

impl Conn {
    /// Sets up reading `stream` (the connection's own handle on the socket).
    pub fn new(stream: TcpStream) -> io::Result<Conn> {
        // SAFETY: epoll_create1 takes no pointers; the flag is valid.
        let epoll = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `epoll` was just returned open and owned by nothing else.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        let wake = eventfd()?;
        let conn = Conn {
            stream,
            epoll,
            wake,
            leading: AtomicBool::new(false),
            frames: Mutex::new(Frames::new()),
        };
        conn.ctl(libc::EPOLL_CTL_ADD, conn.fd(), READABLE, SOCKET)?;
        conn.ctl(
            libc::EPOLL_CTL_ADD,
            conn.wake.as_raw_fd(),
            libc::EPOLLIN as u32,
            WAKE,
        )?;
        Ok(conn)
    }

    /// Takes the received bytes, to read the connection (waits while
    /// another thread reads).
    pub fn read(&self) -> Reading<'_> {
        let mut frames = self.frames.lock();
        // Whoever takes them comes from a wait on the socket (or begins):
        // what an earlier reader found drained says nothing now.
        frames.look_again();
        let was = READING.with(|r| r.replace(true));
        Reading { frames, was }
    }

    /// The socket.
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, data: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: data };
        // SAFETY: `self.epoll` and `fd` are open descriptors owned by
        // `self` for its whole life; `event` is a valid epoll_event the
        // kernel only reads during the call.
        cvt(unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event) }).map(|_| ())
    }

    /// The reader thread waits until the socket is readable (and no
    /// caller leads), it is woken ([`Conn::wake_reader`]), or `timeout`.
    pub fn wait(&self, timeout: Duration) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
        // SAFETY: `events` is a live, writable array of 2 epoll_events
        // and 2 is its length; `self.epoll` is open.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                2,
                millis(timeout),
            )
        };
        // An error (EINTR) is a spurious wake: the reader looks and waits again.
        for event in events.iter().take(n.max(0) as usize) {
            let data = event.u64;
            if data == WAKE {
                drain(self.wake.as_raw_fd());
            }
        }
    }

    /// Wakes the reader thread.
    pub fn wake_reader(&self) {
        signal(self.wake.as_raw_fd());
    }

    /// Makes this thread the caller that reads the connection for itself,
    /// unless another one does: the reader thread is no longer woken by
    /// the socket until the returned [`Lead`] is dropped.
    pub fn lead(&self) -> Option<Lead<'_>> {
        if self.leading.swap(true, Ordering::AcqRel) {
            return None;
        }
        // No events: the reader's set stops waking for the socket (its
        // wake-up callback skips an item with an empty event mask).
        if self.ctl(libc::EPOLL_CTL_MOD, self.fd(), 0, SOCKET).is_err() {
            self.leading.store(false, Ordering::Release);
            return None;
        }
        Some(Lead {
            conn: self,
            left: false,
        })
    }

    /// A leading caller waits until the socket is readable, its thread's
    /// eventfd `waker` is signalled (and then resets it), or `timeout`.
    pub fn wait_as_caller(&self, waker: RawFd, timeout: Duration) {
        let mut fds = [
            libc::pollfd {
                fd: self.fd(),
                events: libc::POLLIN | libc::POLLRDHUP,
                revents: 0,
            },
            libc::pollfd {
                fd: waker,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a live, writable array of 2 pollfds and 2 is
        // its length; the socket is open while `self` lives and `waker`
        // while this thread does.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, millis(timeout)) };
        if n > 0 && fds[1].revents != 0 {
            drain(waker);
        }
    }
}

/// A caller leads the reading of a connection (see [`Conn::lead`]).
pub(crate) struct Lead<'a> {
    conn: &'a Conn,
    /// The caller left received bytes in the buffer: the reader takes them.
    pub left: bool,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        // Turned back on before another caller may lead (and turn it off);
        // if the socket is readable now, the kernel wakes the reader.
        let back = self
            .conn
            .ctl(libc::EPOLL_CTL_MOD, self.conn.fd(), READABLE, SOCKET);
        self.conn.leading.store(false, Ordering::Release);
        if self.left || back.is_err() {
            self.conn.wake_reader();
        }
    }
}

thread_local! {
    /// This thread's eventfd, which wakes it while it leads a
    /// connection's reading (`None` if none could be made: then the
    /// thread waits for its replies as a follower).
    static WAKER: Option<OwnedFd> = eventfd().ok();
}

/// Runs `f` with this thread's eventfd; `None` if it has none.
pub(crate) fn with_waker<R>(f: impl FnOnce(RawFd) -> R) -> Option<R> {
    WAKER
        .try_with(|waker| waker.as_ref().map(|w| w.as_raw_fd()))
        .ok()
        .flatten()
        .map(f)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (b, _) = listener.accept().unwrap();
        (a, b)
    }

    /// While a caller leads, bytes wake the caller and not the reader's
    /// wait; once it leaves, what is readable wakes the reader at once.
    #[test]
    fn a_leading_caller_keeps_the_socket_from_the_reader_and_gives_it_back() {
        let (mut tx, rx) = pair();
        let conn = Arc::new(Conn::new(rx).unwrap());
        let lead = conn.lead().expect("no one leads yet");
        assert!(conn.lead().is_none(), "one caller leads at a time");
        tx.write_all(b"x").unwrap();
        // The caller's poll sees the byte...
        let waker = eventfd().unwrap();
        let t = Instant::now();
        conn.wait_as_caller(waker.as_raw_fd(), Duration::from_secs(60));
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the caller was not woken"
        );
        // ...and the reader's set holds nothing for it (the byte is in:
        // with the interest on, its arrival would have queued the socket).
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
        // SAFETY: as in `Conn::wait`.
        let n = unsafe { libc::epoll_wait(conn.epoll.as_raw_fd(), events.as_mut_ptr(), 2, 0) };
        assert_eq!(
            n, 0,
            "the reader's set reported the socket while a caller led"
        );
        drop(lead);
        // SAFETY: as in `Conn::wait`.
        let n = unsafe { libc::epoll_wait(conn.epoll.as_raw_fd(), events.as_mut_ptr(), 2, 60_000) };
        assert_eq!(n, 1);
        let data = events[0].u64;
        assert_eq!(data, SOCKET);
        assert!(conn.lead().is_some(), "leading is free again");
    }

    /// Another thread's signal ends a caller's wait.
    #[test]
    fn a_callers_waker_ends_its_wait() {
        let (_tx, rx) = pair();
        let conn = Arc::new(Conn::new(rx).unwrap());
        let waker = with_waker(|fd| fd).expect("an eventfd");
        let signaller = std::thread::spawn(move || signal(waker));
        let t = Instant::now();
        conn.wait_as_caller(waker, Duration::from_secs(60));
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the signal did not wake it"
        );
        signaller.join().unwrap();
        // Reset: the next wait ends by its timeout.
        let mut fds = [libc::pollfd {
            fd: waker,
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: a live array of 1 pollfd; `waker` is this thread's.
        assert_eq!(unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) }, 0);
    }

    /// The reader's own eventfd wakes it, and is reset by the wait.
    #[test]
    fn the_reader_is_woken_by_its_eventfd() {
        let (_tx, rx) = pair();
        let conn = Conn::new(rx).unwrap();
        conn.wake_reader();
        let t = Instant::now();
        conn.wait(Duration::from_secs(60));
        assert!(t.elapsed() < Duration::from_secs(30));
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
        // SAFETY: as in `Conn::wait`.
        let n = unsafe { libc::epoll_wait(conn.epoll.as_raw_fd(), events.as_mut_ptr(), 2, 0) };
        assert_eq!(n, 0, "the eventfd was reset");
    }
}
