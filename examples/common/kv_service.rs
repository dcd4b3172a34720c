//! The key-value service two examples run: a flaky "database" worker that
//! panics every few requests, a cache in front of it, and a registered
//! front actor that clients call by name, under a rest_for_one supervisor
//! (`kv`): when the database crashes, the cache (whose contents may now be
//! stale) and the front restart after it.
//!
//! Shared by `supervised_service` (the service alone, with retrying
//! clients) and `observer` (the service as one subtree of a larger one,
//! watched live), so the two show the same tree.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotp::{Actor, Context, Handlers};
use ferrotp_supervisors::{ChildSpec, SupervisorSpec};

pub const CALL: Duration = Duration::from_secs(5);
/// The database panics on every `FLAKY`-th request.
const FLAKY: u64 = 25;

/// What the database stores survives its crashes (think: a file on disk).
pub type Disk = Arc<Mutex<HashMap<String, String>>>;

/// Stores a value under a key; answered with `()`.
pub struct Put(pub String, pub String);
/// Reads a key; answered with `Option<String>`.
pub struct Get(pub String);

/// The `kv` subtree: `db`, `cache` and `front`, each registered under its
/// id, restarted rest_for_one; more than `max_restarts` in a second and
/// the subtree gives up.
pub fn spec(disk: Disk, max_restarts: u32) -> SupervisorSpec {
    SupervisorSpec::rest_for_one()
        .name("kv")
        .intensity(max_restarts, Duration::from_secs(1))
        .child(
            ChildSpec::worker("db", move || Db {
                disk: disk.clone(),
                served: 0,
            })
            .name("db"),
        )
        .child(ChildSpec::worker("cache", Cache::default).name("cache"))
        .child(ChildSpec::worker("front", || Front).name("front"))
}

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
