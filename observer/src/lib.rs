//! # ferrotp-observer
//!
//! A live web page of a [`ferrotp`] system, like Erlang's `observer`: every
//! supervision tree (supervisors, children, restart counts), each actor's
//! mailbox length and message rate, refreshed every second, and a table of
//! the actors with the longest mailboxes (Erlang's `etop`). The page is one
//! self-contained HTML file (inline CSS and JavaScript, nothing fetched from
//! anywhere else, no build step); the same data is JSON under `/api/`.
//!
//! ```no_run
//! use ferrotp::System;
//!
//! let system = System::new();
//! // ... start your supervision trees ...
//! let observer = ferrotp_observer::serve(&system, "127.0.0.1:0").unwrap();
//! println!("observer at {}", observer.url());
//! // The page is served until `observer` is dropped.
//! ```
//!
//! ## The API
//!
//! | path | what |
//! |---|---|
//! | `/` | the page |
//! | `/api/trees?per=50&pages=ID:P,…` | every supervision tree; each supervisor with one page of its children (page `P` for supervisor `ID`, else the first), its child count, restart totals and its children's mailbox and message-rate totals |
//! | `/api/top?by=mailbox\|handled&n=20` | the `n` actors with the longest mailboxes (or the most messages handled) |
//! | `/api/actors?page=0&per=100` | one page of all live actors, in spawn order |
//! | `/api/system` | actor count, supervisors, dead letters, threads, uptime |
//!
//! Rates are messages per second between two looks at least half a second
//! apart (the page looks every second).
//!
//! ## A million actors
//!
//! Nothing is listed in full: each supervisor shows one page of children
//! (a supervisor with a million children shows its counts and totals, and
//! pages through them), the tables are paged, and the totals come from one
//! pass over the kernel's counters ([`ferrotp::System::actor_stats`]). The
//! README gives the cost of each endpoint at a million actors.
//!
//! ## Security
//!
//! The observer is read-only (it answers `GET` and `HEAD`, and nothing it
//! serves changes the system), but it shows **actor names, child ids and
//! labels** to whoever can reach it. [`serve`] binds the address you give
//! it; bind loopback (`127.0.0.1:PORT`) unless the network is yours, and
//! put it behind an authenticating proxy if it must be reachable.
//!
//! Supervision trees are found through the kernel's public API: every
//! supervisor of `ferrotp-supervisors` is in the process group
//! [`SUPERVISORS_GROUP`](ferrotp_supervisors::SUPERVISORS_GROUP) and
//! answers [`inspect`](ferrotp_supervisors::inspect).

#![warn(missing_docs)]

mod http;
mod json;
mod model;

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Instant;

use ferrotp::{System, TopBy};

use crate::http::{Request, Response, Server};
use crate::model::{Model, Rates, DEFAULT_PER_PAGE, MAX_PER_PAGE};

/// The page, with its style and script inline.
const PAGE: &str = include_str!("page.html");

/// A running observer: serves its page and API until dropped (or
/// [`stop`](Self::stop)ped). It does not keep the system alive.
pub struct Observer {
    server: Server,
}

impl Observer {
    /// The address it listens on (with the port the OS chose for `:0`).
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The page's URL, `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr())
    }

    /// Stops serving and waits for the server thread (same as dropping it).
    pub fn stop(self) {
        drop(self);
    }
}

/// Serves the observer page for `system` on `addr` (for instance
/// `"127.0.0.1:0"`: loopback, a free port; see [`Observer::url`]).
///
/// One thread accepts connections and each request gets a short-lived
/// thread; each answer is built from a fresh look at the system. Fails if
/// the address cannot be bound.
///
/// ```
/// use ferrotp::System;
/// use std::io::{Read, Write};
///
/// let system = System::new();
/// let observer = ferrotp_observer::serve(&system, "127.0.0.1:0").unwrap();
/// let mut conn = std::net::TcpStream::connect(observer.addr()).unwrap();
/// conn.write_all(b"GET /api/system HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
/// let mut answer = String::new();
/// conn.read_to_string(&mut answer).unwrap();
/// assert!(answer.starts_with("HTTP/1.1 200"));
/// assert!(answer.contains("\"actors\":0"));
/// ```
pub fn serve(system: &System, addr: impl ToSocketAddrs) -> io::Result<Observer> {
    let listener = TcpListener::bind(addr)?;
    let model = Arc::new(Model {
        system: system.non_owning_clone(),
        rates: Rates::default(),
        started: Instant::now(),
    });
    let server = Server::start(listener, move |request| route(&model, request))?;
    tracing::info!(addr = %server.addr(), "observer serving");
    Ok(Observer { server })
}

fn route(model: &Model, request: &Request) -> Response {
    let json = |value: json::Json| Response::ok("application/json", value.render());
    let number = |key: &str, default: usize| {
        request
            .param(key)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let per = |default: usize| number("per", default).clamp(1, MAX_PER_PAGE);
    match request.path.as_str() {
        "/" | "/index.html" => Response::ok("text/html; charset=utf-8", PAGE),
        "/api/trees" => json(model.trees(&pages(request.param("pages")), per(DEFAULT_PER_PAGE))),
        "/api/top" => {
            let by = match request.param("by") {
                Some("handled") => TopBy::MessagesHandled,
                _ => TopBy::MailboxLen,
            };
            json(model.top(number("n", 20).min(MAX_PER_PAGE), by))
        }
        "/api/actors" => json(model.actors(number("page", 0), per(100))),
        "/api/system" => json(model.summary()),
        _ => Response::error(404, "not found"),
    }
}

/// `ID:P,ID:P` → which page of children to show for each supervisor.
fn pages(param: Option<&str>) -> HashMap<u64, usize> {
    param
        .unwrap_or("")
        .split(',')
        .filter_map(|pair| {
            let (id, page) = pair.split_once(':')?;
            Some((id.trim().parse().ok()?, page.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_parse_leniently() {
        let parsed = pages(Some("3:2, 7:0,bad,9:x"));
        assert_eq!(parsed, HashMap::from([(3, 2), (7, 0)]));
        assert!(pages(None).is_empty());
    }
}
