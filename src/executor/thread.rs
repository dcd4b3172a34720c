//! One thread per actor.

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use crate::actor::Actor;
use crate::address::{ActorId, CurrentGuard};
use crate::cell::{ActorCell, Flow};

/// Drives `cell` until the actor terminates.
fn drive<A: Actor>(mut cell: ActorCell<A>) {
    let core = cell.core().clone();
    let _current = CurrentGuard::enter(&core);
    if cell.start() == Flow::Continue {
        while let Some(mail) = cell.mailbox.recv() {
            if cell.handle(mail) == Flow::Done {
                break;
            }
        }
    }
    cell.finish();
}

/// The threads of one system's actors, so that shutdown can join them.
pub(crate) struct ThreadExecutor {
    stack_size: Option<usize>,
    handles: Mutex<HashMap<ActorId, JoinHandle<()>>>,
    /// Each thread sends its actor's id here just before it ends.
    exited_tx: Sender<ActorId>,
    exited_rx: Receiver<ActorId>,
}

impl ThreadExecutor {
    pub fn new(stack_size: Option<usize>) -> Self {
        let (exited_tx, exited_rx) = crossbeam_channel::unbounded();
        ThreadExecutor {
            stack_size,
            handles: Mutex::new(HashMap::new()),
            exited_tx,
            exited_rx,
        }
    }

    fn handles(&self) -> std::sync::MutexGuard<'_, HashMap<ActorId, JoinHandle<()>>> {
        self.handles.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a thread that drives `cell`.
    pub fn launch<A: Actor>(&self, id: ActorId, cell: ActorCell<A>) -> io::Result<()> {
        let mut builder = std::thread::Builder::new().name(format!("ferrotp-{}", id.as_u64()));
        if let Some(size) = self.stack_size {
            builder = builder.stack_size(size);
        }
        let exited = self.exited_tx.clone();
        // The lock is held across the spawn so that a thread that ends at
        // once cannot report before its handle is stored.
        let mut handles = self.handles();
        Self::reap(&mut handles, &self.exited_rx);
        let handle = builder.spawn(move || {
            drive(cell);
            let _ = exited.send(id);
        })?;
        handles.insert(id, handle);
        Ok(())
    }

    /// Joins the threads that have reported their end.
    fn reap(handles: &mut HashMap<ActorId, JoinHandle<()>>, exited: &Receiver<ActorId>) {
        while let Ok(id) = exited.try_recv() {
            if let Some(handle) = handles.remove(&id) {
                let _ = handle.join();
            }
        }
    }

    /// Joins every thread that ends before `deadline`, except the calling
    /// thread's own; returns the actors whose threads are still running.
    pub fn join_all(&self, deadline: Instant, except: Option<ActorId>) -> Vec<ActorId> {
        let mut handles = self.handles();
        Self::reap(&mut handles, &self.exited_rx);
        if let Some(me) = except {
            handles.remove(&me);
        }
        while !handles.is_empty() {
            match self.exited_rx.recv_deadline(deadline) {
                Ok(id) => {
                    if let Some(handle) = handles.remove(&id) {
                        let _ = handle.join();
                    }
                }
                Err(_) => break,
            }
        }
        let mut stuck: Vec<ActorId> = handles.drain().map(|(id, _detached)| id).collect();
        stuck.sort();
        stuck
    }

    /// Threads started and not yet joined.
    pub fn threads(&self) -> usize {
        self.handles().len()
    }
}
