//! The observer's JSON API (issue 13): trees with paged children and
//! totals, the top table, the paged list of all actors, system totals,
//! rates, and what a read-only server refuses.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ferrotp::{Actor, Context, Handlers, System};
use ferrotp_supervisors::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, Supervisor, SupervisorSpec,
};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

struct Worker;
struct Note;
/// Blocks until the sender is dropped.
struct Block(std::sync::mpsc::Receiver<()>, std::sync::mpsc::Sender<()>);

impl Worker {
    fn note(&mut self, _: Note, _ctx: &mut Context<Self>) {}
    fn block(&mut self, Block(until, entered): Block, _ctx: &mut Context<Self>) {
        let _ = entered.send(());
        let _ = until.recv_timeout(WAIT);
    }
}

impl Actor for Worker {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::note).on(Self::block)
    }
}

/// One request; returns the status code and the body.
fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    write!(conn, "{method} {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = request(addr, "GET", path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn tree_named<'a>(trees: &'a Value, name: &str) -> &'a Value {
    trees["trees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no tree {name}: {trees}"))
}

#[test]
fn trees_list_every_supervisor_with_a_page_of_children_and_totals() {
    let system = System::new();
    let spec = SupervisorSpec::one_for_one()
        .name("app")
        .child(ChildSpec::worker("a", || Worker).name("a"))
        .child(ChildSpec::worker("b", || Worker));
    let app = Supervisor::start(&system, spec).unwrap();
    let pool = DynamicSupervisor::start(
        &system,
        DynamicSupervisorSpec::worker("conn", |_: u32| Worker).name("pool"),
    )
    .unwrap();
    let conns: Vec<_> = pool
        .start_children(0..120)
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for conn in &conns[..7] {
        conn.send(Note);
    }
    let observer = ferrotp_observer::serve(&system, "127.0.0.1:0").unwrap();
    assert!(observer.addr().ip().is_loopback());
    let addr = observer.addr();

    let trees = get(addr, "/api/trees");
    assert_eq!(trees["supervisors"], 2);
    assert_eq!(trees["trees"].as_array().unwrap().len(), 2);
    let app_tree = tree_named(&trees, "app");
    assert_eq!(app_tree["id"], app.actor().id().as_u64());
    assert_eq!(app_tree["strategy"], "one_for_one");
    assert_eq!(app_tree["child_count"], 2);
    let ids: Vec<&str> = app_tree["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(app_tree["children"][0]["name"], "a");
    assert_eq!(app_tree["children"][0]["restarts"], 0);

    let pool_tree = tree_named(&trees, "pool");
    assert_eq!(pool_tree["strategy"], "dynamic");
    assert_eq!(pool_tree["child_count"], 120);
    assert_eq!(pool_tree["children"].as_array().unwrap().len(), 50);
    // Totals over all 120 children, not just the page.
    let deadline = Instant::now() + WAIT;
    loop {
        let trees = get(addr, "/api/trees");
        if tree_named(&trees, "pool")["children_handled_total"] == 7 {
            break;
        }
        assert!(Instant::now() < deadline, "the 7 notes never counted");
        std::thread::sleep(Duration::from_millis(5));
    }

    // Page 2 of the pool's children, 50 a page: the last 20.
    let paged = get(
        addr,
        &format!("/api/trees?pages={}:2", pool.actor().id().as_u64()),
    );
    let pool_tree = tree_named(&paged, "pool");
    assert_eq!(pool_tree["page"], 2);
    let actors: Vec<u64> = pool_tree["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["actor"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = conns[100..].iter().map(|c| c.id().as_u64()).collect();
    assert_eq!(actors, expected);
    let small = get(addr, "/api/trees?per=7");
    assert_eq!(small["per"], 7);
    assert_eq!(
        tree_named(&small, "pool")["children"]
            .as_array()
            .unwrap()
            .len(),
        7
    );

    drop(observer);
    pool.stop(WAIT).unwrap();
    app.stop(WAIT).unwrap();
}

#[test]
fn top_actors_and_system_answer_with_live_numbers() {
    let system = System::new();
    let workers: Vec<_> = (0..30).map(|_| system.spawn(Worker)).collect();
    let observer = ferrotp_observer::serve(&system, "127.0.0.1:0").unwrap();
    let addr = observer.addr();

    // A stalled actor with a backlog tops the mailbox table.
    let (release, until) = std::sync::mpsc::channel();
    let (entered_tx, entered) = std::sync::mpsc::channel();
    workers[4].send(Block(until, entered_tx));
    entered.recv_timeout(WAIT).unwrap();
    for _ in 0..12 {
        workers[4].send(Note);
    }
    let top = get(addr, "/api/top?n=3&by=mailbox");
    assert_eq!(top["by"], "mailbox");
    assert_eq!(top["actors"].as_array().unwrap().len(), 3);
    assert_eq!(top["actors"][0]["id"], workers[4].id().as_u64());
    assert_eq!(top["actors"][0]["mailbox_len"], 12);
    assert_eq!(top["actors"][0]["activity"], "running");
    drop(release);

    let page = get(addr, "/api/actors?page=1&per=10");
    assert_eq!(
        (page["total"].as_u64(), page["pages"].as_u64()),
        (Some(30), Some(3))
    );
    let ids: Vec<u64> = page["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = workers[10..20].iter().map(|w| w.id().as_u64()).collect();
    assert_eq!(ids, expected);

    let summary = get(addr, "/api/system");
    assert_eq!(summary["actors"], 30);
    assert_eq!(summary["supervisors"], 0);

    // A rate: messages handled between two looks half a second apart.
    let busy = &workers[0];
    get(addr, "/api/top?n=1&by=handled");
    let first_look = Instant::now();
    for _ in 0..500 {
        busy.send(Note);
    }
    let deadline = Instant::now() + WAIT;
    while busy.stats().messages_handled < 500 {
        assert!(Instant::now() < deadline, "the notes were never handled");
        std::thread::sleep(Duration::from_millis(1));
    }
    // The rate's window is at least half a second by definition.
    std::thread::sleep(Duration::from_millis(600).saturating_sub(first_look.elapsed()));
    let top = get(addr, "/api/top?n=1&by=handled");
    assert_eq!(top["actors"][0]["id"], busy.id().as_u64());
    let rate = top["actors"][0]["rate"].as_f64().unwrap();
    assert!(rate > 0.0, "{top}");

    // The observer does not keep the system alive, and answers after it ended.
    drop(workers);
    drop(system);
    assert_eq!(get(addr, "/api/system")["actors"], 0);
}

#[test]
fn the_server_is_read_only_and_serves_one_self_contained_page() {
    let system = System::new();
    let observer = ferrotp_observer::serve(&system, "127.0.0.1:0").unwrap();
    let addr = observer.addr();
    let (status, page) = request(addr, "GET", "/");
    assert_eq!(status, 200);
    assert!(page.contains("<script>") && page.contains("<style>"));
    // Nothing fetched from elsewhere: no external script, style or URL.
    for external in ["src=\"http", "href=\"http", "//cdn", "@import", "<link"] {
        assert!(!page.contains(external), "the page loads {external}");
    }
    assert_eq!(request(addr, "GET", "/nope").0, 404);
    assert_eq!(request(addr, "POST", "/api/system").0, 405);
    assert_eq!(request(addr, "DELETE", "/").0, 405);
    let (status, body) = request(addr, "HEAD", "/api/system");
    assert_eq!((status, body.as_str()), (200, ""));
    observer.stop();
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
        "still listening after stop"
    );
}
