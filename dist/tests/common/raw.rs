//! A raw peer: erl_dist's client handshake on a plain socket, under a
//! name and creation the test picks, after which the test writes and
//! reads what it likes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use erl_dist::handshake::{ClientSideHandshake, HandshakeStatus};
use erl_dist::node::{Creation, LocalNode};
use ferrotp_dist::Node;

/// A blocking socket seen through the async traits erl_dist wants.
struct Blocking(TcpStream);

impl futures::io::AsyncRead for Blocking {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.get_mut().0.read(buf))
    }
}

impl futures::io::AsyncWrite for Blocking {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.get_mut().0.write(buf))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.get_mut().0.flush())
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Connects to `node` as `name` (of `creation`) with `cookie`: the
/// status `node` answered, and the socket once the handshake completed
/// (`None` when the status ended it: `nok`). Asked `alive`, it wants the
/// connection.
pub fn handshake(
    node: &Node,
    cookie: &str,
    name: &str,
    creation: u32,
) -> Result<(HandshakeStatus, Option<TcpStream>), String> {
    handshake_answering(node, cookie, name, creation, true)
}

/// [`handshake`], answering `alive` with `wants` (`false` ends it there:
/// the peer gave this connect up).
pub fn handshake_answering(
    node: &Node,
    cookie: &str,
    name: &str,
    creation: u32,
    wants: bool,
) -> Result<(HandshakeStatus, Option<TcpStream>), String> {
    let stream = TcpStream::connect(("127.0.0.1", node.port())).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answers = stream.try_clone().map_err(|e| e.to_string())?;
    let local = LocalNode::new(name.parse().unwrap(), Creation::new(creation));
    let mut handshake = ClientSideHandshake::new(Blocking(stream), local, cookie);
    let status =
        futures::executor::block_on(handshake.execute_send_name(6)).map_err(|e| e.to_string())?;
    match status {
        HandshakeStatus::Nok => return Ok((status, None)),
        // erl_dist's client never writes its answer to `alive`.
        HandshakeStatus::Alive => {
            let answer: &[u8] = if wants {
                b"\0\x05strue"
            } else {
                b"\0\x06sfalse"
            };
            answers.write_all(answer).map_err(|e| e.to_string())?;
            if !wants {
                return Ok((status, None));
            }
        }
        _ => {}
    }
    let (Blocking(stream), _) =
        futures::executor::block_on(handshake.execute_rest(true)).map_err(|e| e.to_string())?;
    Ok((status, Some(stream)))
}

/// Begins a handshake with `node` as `name` and stops after its status:
/// the status, and the socket (dropping it abandons the handshake).
pub fn name_only(
    node: &Node,
    cookie: &str,
    name: &str,
    creation: u32,
) -> Result<(HandshakeStatus, TcpStream), String> {
    let stream = TcpStream::connect(("127.0.0.1", node.port())).map_err(|e| e.to_string())?;
    let kept = stream.try_clone().map_err(|e| e.to_string())?;
    let local = LocalNode::new(name.parse().unwrap(), Creation::new(creation));
    let mut handshake = ClientSideHandshake::new(Blocking(stream), local, cookie);
    let status =
        futures::executor::block_on(handshake.execute_send_name(6)).map_err(|e| e.to_string())?;
    Ok((status, kept))
}
