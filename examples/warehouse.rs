//! The seed's first demo: a worker doubles values and files each result in
//! the positive or the negative warehouse; then the inventories are read
//! through the Bridge and all three actors are stopped.
//!
//! `cargo run --example warehouse` prints:
//! ```text
//! positive inventory: [2, 4, 6]
//! negative inventory: [-4, -8, -12]
//! [Some(Stopped { .. }), Some(Stopped { .. }), Some(Stopped { .. })]
//! ```

use std::time::Duration;

use ferrotp::{Actor, ActorRef, Context, Handlers, System};

/// Keeps what it is given.
struct Warehouse {
    items: Vec<i64>,
}

/// Asks a warehouse for its inventory.
struct Inventory;

impl Warehouse {
    fn store(&mut self, item: i64, _ctx: &mut Context<Self>) {
        self.items.push(item);
    }

    fn inventory(&mut self, _: Inventory, ctx: &mut Context<Self>) {
        ctx.reply(self.items.clone());
    }
}

impl Actor for Warehouse {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::store).on(Self::inventory)
    }
}

/// Doubles values and sends each to the warehouse for its sign.
struct Worker {
    positive: ActorRef,
    negative: ActorRef,
}

/// A value for the worker.
struct Work(i64);

impl Worker {
    fn work(&mut self, Work(value): Work, ctx: &mut Context<Self>) {
        let doubled = value * 2;
        let warehouse = if doubled >= 0 {
            &self.positive
        } else {
            &self.negative
        };
        ctx.send(warehouse, doubled);
        // Tell the sender the work is filed, so it knows when to ask.
        ctx.reply(doubled);
    }
}

impl Actor for Worker {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::work)
    }
}

fn main() {
    let system = System::new();
    let bridge = system.bridge();
    let timeout = Duration::from_secs(5);

    let positive = system.spawn(Warehouse { items: Vec::new() });
    let negative = system.spawn(Warehouse { items: Vec::new() });
    let worker = system.spawn(Worker {
        positive: positive.clone(),
        negative: negative.clone(),
    });

    for value in [1, 2, 3, -2, -4, -6] {
        let _: i64 = bridge
            .call(&worker, Work(value), timeout)
            .expect("the worker answers");
    }
    // The worker sent to each warehouse before replying, and one sender's
    // messages arrive in order, so the inventories are complete now.
    let pos: Vec<i64> = bridge
        .call(&positive, Inventory, timeout)
        .expect("inventory");
    let neg: Vec<i64> = bridge
        .call(&negative, Inventory, timeout)
        .expect("inventory");
    println!("positive inventory: {pos:?}");
    println!("negative inventory: {neg:?}");

    println!("{:?}", bridge.stop(&[worker, positive, negative], timeout));
}
