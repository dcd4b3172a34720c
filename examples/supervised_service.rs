//! A small fault-tolerant key-value service: a flaky "database" worker that
//! panics every few requests, a cache in front of it, and a registered
//! front actor that clients call by name. A rest_for_one supervisor keeps
//! them running: when the database crashes, the cache (whose contents may
//! now be stale) and the front restart after it. Clients retry a request
//! that hit a restart, and never lose the service.
//!
//! `cargo run --example supervised_service`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotp::{Actor, CallError, Context, Handlers, System};
use ferrotp_supervisors::{ChildSpec, Supervisor, SupervisorSpec};

const CALL: Duration = Duration::from_secs(5);
/// The database panics on every `FLAKY`-th request.
const FLAKY: u64 = 25;
const REQUESTS: u64 = 300;

/// What the database stores survives its crashes (think: a file on disk).
type Disk = Arc<Mutex<HashMap<String, String>>>;

struct Put(String, String);
struct Get(String);

/// The flaky database.
struct Db {
    disk: Disk,
    served: u64,
}

impl Db {
    fn serve(&mut self) {
        self.served += 1;
        if self.served % FLAKY == 0 {
            panic!("the database tripped over request {}", self.served);
        }
    }

    fn put(&mut self, Put(key, value): Put, ctx: &mut Context<Self>) {
        self.serve();
        self.disk.lock().unwrap().insert(key, value);
        ctx.reply(());
    }

    fn get(&mut self, Get(key): Get, ctx: &mut Context<Self>) {
        self.serve();
        ctx.reply(self.disk.lock().unwrap().get(&key).cloned());
    }
}

impl Actor for Db {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::put).on(Self::get)
    }
}

/// An in-memory cache; it starts empty at every restart.
#[derive(Default)]
struct Cache {
    entries: HashMap<String, String>,
}

struct Remember(String, String);
struct Lookup(String);

impl Cache {
    fn remember(&mut self, Remember(key, value): Remember, _ctx: &mut Context<Self>) {
        self.entries.insert(key, value);
    }

    fn lookup(&mut self, Lookup(key): Lookup, ctx: &mut Context<Self>) {
        ctx.reply(self.entries.get(&key).cloned());
    }
}

impl Actor for Cache {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::remember).on(Self::lookup)
    }
}

/// The front door: reads through the cache, writes through to the
/// database. If the database is not there, it lets it crash: its supervisor
/// restarts it, and the client retries.
struct Front;

impl Front {
    fn put(&mut self, Put(key, value): Put, ctx: &mut Context<Self>) -> Result<(), String> {
        let system = ctx.system();
        let db = system.whereis("db").ok_or("no database")?;
        let () = system
            .bridge()
            .call(&db, Put(key.clone(), value.clone()), CALL)
            .map_err(|e| e.to_string())?;
        if let Some(cache) = system.whereis("cache") {
            cache.send(Remember(key, value));
        }
        ctx.reply(());
        Ok(())
    }

    fn get(&mut self, Get(key): Get, ctx: &mut Context<Self>) -> Result<(), String> {
        let system = ctx.system();
        let bridge = system.bridge();
        if let Some(cache) = system.whereis("cache") {
            if let Ok(Some(hit)) =
                bridge.call::<Option<String>, _>(&cache, Lookup(key.clone()), CALL)
            {
                ctx.reply(Some(hit));
                return Ok(());
            }
        }
        let db = system.whereis("db").ok_or("no database")?;
        let found: Option<String> = bridge
            .call(&db, Get(key), CALL)
            .map_err(|e| e.to_string())?;
        ctx.reply(found);
        Ok(())
    }
}

impl Actor for Front {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::put).on(Self::get)
    }
}

/// A client retries a request that hit a restart (the front, or the
/// database behind it, was gone for a moment); returns the answer and how
/// many retries it took.
fn retry<R>(mut attempt: impl FnMut() -> Result<R, CallError>) -> (R, u32) {
    let mut retries = 0;
    loop {
        match attempt() {
            Ok(answer) => return (answer, retries),
            Err(_) => {
                retries += 1;
                assert!(retries < 1000, "the service is gone");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// Calls the front by name.
fn call_front<R: Send + 'static, M: Send + 'static>(
    system: &System,
    msg: M,
) -> Result<R, CallError> {
    let front = system.whereis("front").ok_or(CallError::Timeout)?;
    system.bridge().call(&front, msg, CALL)
}

fn main() {
    ferrotp::silence_actor_panics();
    let system = System::new();
    let disk = Disk::default();
    let spec = SupervisorSpec::rest_for_one()
        .name("kv")
        .intensity(30, Duration::from_secs(1))
        .child(
            ChildSpec::worker("db", move || Db {
                disk: disk.clone(),
                served: 0,
            })
            .name("db"),
        )
        .child(ChildSpec::worker("cache", Cache::default).name("cache"))
        .child(ChildSpec::worker("front", || Front).name("front"));
    let sup = Supervisor::start(&system, spec).expect("the service starts");
    println!("started:\n{}", sup.tree().unwrap());

    let mut retries = 0;
    for i in 0..REQUESTS {
        let key = format!("k{}", i % 10);
        let value = format!("v{i}");
        let ((), r) = retry(|| call_front(&system, Put(key.clone(), value.clone())));
        retries += r;
        let (found, r) = retry(|| call_front::<Option<String>, _>(&system, Get(key.clone())));
        retries += r;
        assert_eq!(found, Some(value), "a write was lost");
        if i % 100 == 99 {
            // A little chaos of our own: crash the cache from outside.
            if let Some(cache) = system.whereis("cache") {
                cache.kill();
            }
        }
    }

    println!(
        "{REQUESTS} writes and reads served, {retries} retries across restarts; now:\n{}",
        sup.tree().unwrap()
    );
    sup.stop(CALL).expect("the service stops");
}
