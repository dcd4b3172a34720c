//! Runs erl_dist's async handshake and EPMD client on a plain blocking
//! socket: the futures never wait on a reactor, each poll performs the
//! blocking read or write (bounded by the socket's timeouts), so
//! `futures::executor::block_on` drives them without any runtime.

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::{AsyncRead, AsyncWrite};

/// A `TcpStream` seen through the async I/O traits; every call blocks.
#[derive(Debug)]
pub(crate) struct Blocking(pub TcpStream);

impl AsyncRead for Blocking {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.get_mut().0.read(buf))
    }
}

impl AsyncWrite for Blocking {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.get_mut().0.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.get_mut().0.flush())
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.get_mut().0.shutdown(std::net::Shutdown::Write))
    }
}

/// Drives a future made of blocking I/O to its end on this thread.
pub(crate) fn run<F: Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}
