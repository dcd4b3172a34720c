//! Starting and stopping the whole service: the actor system with the
//! supervised keyspace, and the tokio runtime that accepts and serves
//! connections.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferrotp::{ExitReason, System};
use ferrotp_supervisors::Supervisor;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

use crate::conn::{self, Shared, Stats};
use crate::resp::Limits;
use crate::shard::{self, KeyspaceConfig};

/// Everything the server can be told.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; port 0 picks a free one (see [`Server::addr`]).
    pub addr: SocketAddr,
    pub shards: usize,
    /// tokio worker threads (accepting, reading, writing).
    pub io_threads: usize,
    /// ferrotp pool workers (running the shards).
    pub workers: usize,
    pub limits: Limits,
    /// More shard restarts than this within `restart_period` and the
    /// keyspace supervisor gives up (then the server stops).
    pub max_restarts: u32,
    pub restart_period: Duration,
    /// How long a command waits for its shard's restart.
    pub restart_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 6380)),
            shards: 8,
            io_threads: 1,
            workers: cores,
            limits: Limits::default(),
            max_restarts: 1000,
            restart_period: Duration::from_secs(10),
            restart_wait: Duration::from_secs(5),
        }
    }
}

/// A running server. Dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    system: System,
    keyspace: Supervisor,
    shared: Arc<Shared>,
    runtime: Option<Runtime>,
    stop_accepting: Option<oneshot::Sender<()>>,
}

impl Server {
    /// Starts the keyspace, binds `config.addr` and serves it.
    pub fn start(config: Config) -> io::Result<Server> {
        if config.shards == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "--shards must be at least 1",
            ));
        }
        let system = System::builder().workers(config.workers.max(1)).build();
        let keyspace = KeyspaceConfig {
            shards: config.shards,
            max_restarts: config.max_restarts,
            period: config.restart_period,
        };
        let (keyspace, table) = shard::start(&system, keyspace).map_err(io::Error::other)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.io_threads.max(1))
            .thread_name("kv-io")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind(config.addr))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            stats: Stats::new(config.shards),
            table,
            limits: config.limits,
            restart_wait: config.restart_wait,
        });
        let (stop_accepting, stopped) = oneshot::channel();
        runtime.spawn(accept(listener, shared.clone(), stopped));
        Ok(Server {
            addr,
            system,
            keyspace,
            shared,
            runtime: Some(runtime),
            stop_accepting: Some(stop_accepting),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's counters (also served by `INFO`).
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// How many times shard `i` has started (1 + its restarts).
    pub fn shard_starts(&self, i: usize) -> u64 {
        self.shared.table.starts(i)
    }

    /// Blocks until the keyspace supervisor terminates (it gave up after
    /// too many restarts), and returns why.
    pub fn wait(&self) -> ExitReason {
        let inbox = self.system.inbox();
        inbox.monitor(self.keyspace.actor());
        loop {
            if let Ok(envelope) = inbox.recv(Duration::from_secs(3600)) {
                if let Ok(down) = envelope.downcast::<ferrotp::Down>() {
                    return down.reason;
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stop_accepting.take());
        if let Some(runtime) = self.runtime.take() {
            // Ends every connection task (their sockets close).
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
        let _ = self.keyspace.stop(Duration::from_secs(5));
        let _ = self.system.shutdown(Duration::from_secs(5));
    }
}

/// Accepts connections until told to stop, a task per connection.
async fn accept(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(conn::serve(stream, shared.clone()));
                }
                Err(error) => {
                    // Out of file descriptors, most likely: the connections
                    // already open keep being served while we wait.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}
