//! The observer page in a real browser (issue 13): headless Chromium loads
//! the page of the example's system, runs its script, and the DOM it dumps
//! must show the supervision tree, a restart count after a crash, and a
//! mailbox that grows while its actor is stalled.
//!
//! Needs `chromium` (Debian: `apt-get install chromium`); without it the
//! test fails and says so. Every browser it starts runs in a process group
//! of its own, killed when the dump is done or the test fails.

#[path = "../../examples/observer.rs"]
#[allow(dead_code)]
mod demo;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferrotp::{Activity, ExitReason, System};
use ferrotp_supervisors::inspect;

const WAIT: Duration = Duration::from_secs(10);
/// How long one browser run may take on a loaded machine.
const BROWSER_LIMIT: Duration = Duration::from_secs(90);

/// Where Chromium is, or a failure that says how to install it.
fn chromium() -> PathBuf {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!("chromium not found: install it with `apt-get install chromium` (Debian) to run the browser test");
}

/// A browser process group, killed when dropped (also when a test panics).
struct Browser {
    child: Child,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: the browser and the renderers it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Loads `url`, lets its script run for `budget` of virtual time, and
/// returns the DOM as HTML.
fn dump_dom(url: &str, budget: Duration) -> String {
    use std::os::unix::process::CommandExt;
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let profile = std::env::temp_dir().join(format!(
        "ferrotp-observer-test-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--virtual-time-budget={}", budget.as_millis()),
            "--dump-dom",
            url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromium starts");
    let mut browser = Browser { child, profile };
    let mut stdout = browser.child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        let _ = tx.send(dom);
    });
    let dom = rx
        .recv_timeout(BROWSER_LIMIT)
        .expect("chromium did not finish its dump in time");
    drop(browser);
    dom
}

/// The value of attribute `attr` on the first element whose opening tag
/// contains `marker`.
fn attribute(dom: &str, marker: &str, attr: &str) -> Option<String> {
    let at = dom.find(marker)?;
    let tag_start = dom[..at].rfind('<')?;
    let tag_end = at + dom[at..].find('>')?;
    let tag = &dom[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let from = tag.find(&key)? + key.len();
    let len = tag[from..].find('"')?;
    Some(tag[from..from + len].to_string())
}

/// The number of page refreshes the dump saw (the script ran and answered).
fn refreshes(dom: &str) -> u32 {
    attribute(dom, "<body", "data-refreshes")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_page_shows_the_tree_a_restart_and_a_growing_mailbox() {
    ferrotp::silence_actor_panics();
    let system = System::new();
    let demo = demo::start(&system, 20);
    let observer = ferrotp_observer::serve(&system, "127.0.0.1:0").unwrap();
    let url = observer.url();

    // The tree, as the script rendered it.
    let dom = dump_dom(&url, Duration::from_secs(3));
    assert!(refreshes(&dom) >= 1, "the page never refreshed:\n{dom}");
    for marker in [
        r#"data-name="service""#,
        r#"data-name="kv""#,
        r#"data-name="sessions""#,
        r#"data-child="db""#,
        r#"data-child="cache""#,
        r#"data-child="front""#,
        r#"data-child="jobs""#,
        r#"data-child="session""#,
    ] {
        assert!(dom.contains(marker), "{marker} not on the page:\n{dom}");
    }
    assert_eq!(
        attribute(&dom, r#"data-child="db""#, "data-restarts").as_deref(),
        Some("0")
    );

    // A crash: the database's restart count shows 1.
    let kv = system.whereis("kv").unwrap();
    let db = system.whereis("db").unwrap();
    db.exit(ExitReason::error("crashed by the browser test"));
    eventually("the database restarted", || {
        inspect(&system, &kv, 0..3, WAIT).is_ok_and(|s| s.children[0].restarts == 1)
    });
    let dom = dump_dom(&url, Duration::from_secs(3));
    assert_eq!(
        attribute(&dom, r#"data-child="db""#, "data-restarts").as_deref(),
        Some("1"),
        "no restart count on the page:\n{dom}"
    );

    // A stalled worker: its mailbox grows on the page, and it tops the table.
    let jobs = system.whereis("jobs").unwrap();
    let (release, stalled) = mpsc::channel::<()>();
    jobs.send(demo::Stall(stalled));
    eventually("jobs stalled", || {
        jobs.stats().activity == Activity::Running
    });
    for _ in 0..30 {
        jobs.send(demo::Job);
    }
    let dom = dump_dom(&url, Duration::from_secs(3));
    assert_eq!(
        attribute(&dom, r#"data-child="jobs""#, "data-mailbox").as_deref(),
        Some("30"),
        "{dom}"
    );
    for _ in 0..50 {
        jobs.send(demo::Job);
    }
    let dom = dump_dom(&url, Duration::from_secs(3));
    assert_eq!(
        attribute(&dom, r#"data-child="jobs""#, "data-mailbox").as_deref(),
        Some("80"),
        "the mailbox did not grow on the page:\n{dom}"
    );
    let top = &dom[dom.find(r#"id="top""#).expect("the top table")..];
    let first = format!(r#"data-actor="{}""#, jobs.id().as_u64());
    assert_eq!(
        attribute(top, "<tr data-actor", "data-actor"),
        Some(jobs.id().as_u64().to_string()),
        "jobs should top the mailbox table ({first}):\n{top}"
    );
    drop(release);

    observer.stop();
    demo.sessions.stop(WAIT).unwrap();
    demo.service.stop(WAIT).unwrap();
    system.shutdown(WAIT).unwrap();
}
