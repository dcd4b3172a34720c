//! The monitors remote processes hold on local actors (`MONITOR_P`).
//!
//! The connection's reader places and removes them itself, so a monitor is
//! in place before the next message of the same connection is delivered
//! (Erlang's signal order) without waiting on another thread: a
//! `gen_server:call` from another node costs a monitor and a demonitor.
//! They are held by one function address ([`FnAddress`]): a watched
//! actor's end runs it on the thread that ends the actor, which writes the
//! `MONITOR_P_EXIT` at once — no thread of its own, no hand-off.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use erl_dist::message::Message;
use erl_dist::term::{Pid, PidOrAtom, Reference};
use ferrotp::{ActorRef, Down, ExitReason, FnAddress, MonitorRef, System};
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
    /// `Down`s that ran before their watch was listed (the target was
    /// already dead, or died at once): [`Watches::add`] finds them.
    early: HashMap<MonitorRef, ExitReason>,
}

/// The remote monitors on local actors, and the address that holds them.
pub(crate) struct Watches {
    address: FnAddress,
    table: Mutex<Table>,
}

impl Watches {
    pub fn new(system: &System, node: Weak<NodeInner>) -> Arc<Self> {
        Arc::new_cyclic(|me: &Weak<Watches>| {
            let me = me.clone();
            let address = FnAddress::new(system, move |envelope| {
                let (Some(watches), Some(node)) = (me.upgrade(), node.upgrade()) else {
                    return;
                };
                if let Ok(down) = envelope.downcast::<Down>() {
                    watches.fired(&node, down.monitor, down.reason);
                }
            });
            Watches {
                address,
                table: Mutex::default(),
            }
        })
    }

    /// `watcher` (remote) monitors the local `target` under `reference`.
    pub fn add(
        &self,
        node: &NodeInner,
        watcher: Pid,
        target: &ActorRef,
        named: PidOrAtom,
        reference: Reference,
    ) {
        // Not under the table's lock: a dead target's `Down` runs at once,
        // on this thread, and takes that lock.
        let monitor = self.address.monitor(target);
        let mut table = self.table.lock();
        let watch = Watch {
            watcher,
            reference,
            named,
        };
        if let Some(reason) = table.early.remove(&monitor) {
            drop(table);
            return exit(node, watch, &reason);
        }
        table.by_reference.insert(watch.reference.clone(), monitor);
        table.by_monitor.insert(monitor, watch);
    }

    /// `DEMONITOR_P`: no `MONITOR_P_EXIT` for `reference` goes out after this.
    pub fn remove(&self, reference: &Reference) {
        let monitor = {
            let mut table = self.table.lock();
            let Some(monitor) = table.by_reference.remove(reference) else {
                return;
            };
            table.by_monitor.remove(&monitor);
            monitor
        };
        self.forget(monitor);
    }

    /// The connection to `node` is gone, and with it its monitors.
    pub fn node_down(&self, node: &str) {
        let gone: Vec<MonitorRef> = {
            let mut table = self.table.lock();
            let gone: Vec<MonitorRef> = table
                .by_monitor
                .iter()
                .filter(|(_, w)| w.watcher.node.name == node)
                .map(|(m, _)| *m)
                .collect();
            for monitor in &gone {
                if let Some(watch) = table.by_monitor.remove(monitor) {
                    table.by_reference.remove(&watch.reference);
                }
            }
            gone
        };
        for monitor in gone {
            self.forget(monitor);
        }
    }

    /// Removes `monitor`; a `Down` of it that ran meanwhile is dropped.
    fn forget(&self, monitor: MonitorRef) {
        self.address.demonitor(monitor);
        // None runs after `demonitor`: one it left in `early` is the last.
        self.table.lock().early.remove(&monitor);
    }

    /// A watched actor ended: its watcher hears of it.
    fn fired(&self, node: &NodeInner, monitor: MonitorRef, reason: ExitReason) {
        let mut table = self.table.lock();
        let Some(watch) = table.by_monitor.remove(&monitor) else {
            // Its watch is not listed yet (see `add`), or was removed.
            table.early.insert(monitor, reason);
            return;
        };
        table.by_reference.remove(&watch.reference);
        drop(table);
        exit(node, watch, &reason);
    }
}

/// Sends `MONITOR_P_EXIT` for `watch`.
fn exit(node: &NodeInner, watch: Watch, reason: &ExitReason) {
    let to = watch.watcher.node.name.clone();
    node.send_ctl(
        &to,
        Message::monitor_p_exit(
            watch.named,
            watch.watcher,
            watch.reference,
            reason::to_term(reason),
        ),
    );
}
