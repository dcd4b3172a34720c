//! The monitors remote processes hold on local actors (`MONITOR_P`).
//!
//! The connection's reader places and removes them itself, on the node's
//! watch inbox, so a monitor is in place before the next message of the
//! same connection is delivered (Erlang's signal order) without waiting on
//! another thread: a `gen_server:call` from another node costs a monitor
//! and a demonitor, and these were two round trips to an actor. A thread
//! per node reads the inbox and sends each `Down` back as
//! `MONITOR_P_EXIT`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use erl_dist::message::Message;
use erl_dist::term::{Pid, PidOrAtom, Reference};
use ferrotp::{ActorRef, Down, Inbox, MonitorRef};
use parking_lot::Mutex;

use crate::node::NodeInner;
use crate::reason;

/// One remote monitor: who watches, under which reference, and how it
/// named the target (by pid or by registered name).
struct Watch {
    watcher: Pid,
    reference: Reference,
    named: PidOrAtom,
}

#[derive(Default)]
struct Table {
    by_monitor: HashMap<MonitorRef, Watch>,
    by_reference: HashMap<Reference, MonitorRef>,
}

/// The remote monitors on local actors, and the inbox that holds them.
pub(crate) struct Watches {
    inbox: Inbox,
    table: Mutex<Table>,
}

/// Wakes the watch thread to look at whether the node stopped.
struct Wake;

impl Watches {
    pub fn new(inbox: Inbox) -> Self {
        Watches {
            inbox,
            table: Mutex::default(),
        }
    }

    /// `watcher` (remote) monitors the local `target` under `reference`.
    pub fn add(&self, watcher: Pid, target: &ActorRef, named: PidOrAtom, reference: Reference) {
        // Under the table's lock: a `Down` for this monitor (the target
        // may be dead already) waits for the entry before it is looked up.
        let mut table = self.table.lock();
        let monitor = self.inbox.monitor(target);
        table.by_reference.insert(reference.clone(), monitor);
        table.by_monitor.insert(
            monitor,
            Watch {
                watcher,
                reference,
                named,
            },
        );
    }

    /// `DEMONITOR_P`: no `MONITOR_P_EXIT` for `reference` goes out after this.
    pub fn remove(&self, reference: &Reference) {
        let mut table = self.table.lock();
        if let Some(monitor) = table.by_reference.remove(reference) {
            table.by_monitor.remove(&monitor);
            self.inbox.demonitor(monitor);
        }
    }

    /// The connection to `node` is gone, and with it its monitors.
    pub fn node_down(&self, node: &str) {
        let mut table = self.table.lock();
        let gone: Vec<MonitorRef> = table
            .by_monitor
            .iter()
            .filter(|(_, w)| w.watcher.node.name == node)
            .map(|(m, _)| *m)
            .collect();
        for monitor in gone {
            if let Some(watch) = table.by_monitor.remove(&monitor) {
                table.by_reference.remove(&watch.reference);
            }
            self.inbox.demonitor(monitor);
        }
    }

    /// Ends the watch thread.
    pub fn stop(&self) {
        self.inbox.actor().send(Wake);
    }

    fn fired(&self, down: Down) -> Option<Watch> {
        let mut table = self.table.lock();
        let watch = table.by_monitor.remove(&down.monitor)?;
        table.by_reference.remove(&watch.reference);
        Some(watch)
    }
}

/// Starts the thread that turns the watch inbox's `Down`s into
/// `MONITOR_P_EXIT`s, until the node stops.
pub(crate) fn start(node: Weak<NodeInner>, watches: Arc<Watches>) {
    let spawned = std::thread::Builder::new()
        .name("ferrotp-dist-watches".into())
        .spawn(move || loop {
            let envelope = watches.inbox.recv(Duration::from_secs(1));
            let Some(node) = node.upgrade() else { return };
            if node.stopped.load(Ordering::Acquire) {
                return;
            }
            let Ok(envelope) = envelope else { continue };
            let Ok(down) = envelope.downcast::<Down>() else {
                continue;
            };
            let reason = reason::to_term(&down.reason);
            if let Some(watch) = watches.fired(down) {
                let to = watch.watcher.node.name.clone();
                node.send_ctl(
                    &to,
                    Message::monitor_p_exit(watch.named, watch.watcher, watch.reference, reason),
                );
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the remote monitors' thread");
    }
}
