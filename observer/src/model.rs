//! What the API answers: supervision trees with their children's numbers,
//! the top actors, a page of all actors, and system totals — each built
//! from one look at the system when asked.
//!
//! A million actors stay cheap: every supervisor is asked for one page of
//! its children ([`ferrotp_supervisors::inspect`]), and the totals of all
//! its children (mailboxes, messages handled) come from one pass over the
//! kernel's counters ([`System::actor_stats`]) grouped by parent. Only the
//! actors on screen are looked at one by one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrotp::{ActorId, ActorInfo, ActorRef, ActorStats, System, TopBy};
use ferrotp_supervisors::{
    inspect, supervisor_of, ChildInfo, ChildKind, Restart, CHILD_ID_LABEL, SUPERVISORS_GROUP,
};

use crate::json::Json;

/// Children listed per supervisor page, unless asked otherwise.
pub(crate) const DEFAULT_PER_PAGE: usize = 50;
/// The most rows any page lists.
pub(crate) const MAX_PER_PAGE: usize = 500;
/// How long a supervisor has to answer before the tree shows it as busy.
const INSPECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Samples older than this are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(30);
/// A new sample replaces the old one once this much time has passed, so
/// that several pages polling at once do not shrink the window to nothing.
const MIN_WINDOW: Duration = Duration::from_millis(500);

/// Message rates: the last sample of each counter the page showed.
#[derive(Default)]
pub(crate) struct Rates {
    samples: Mutex<HashMap<Key, Sample>>,
}

/// What a rate is of: one actor, or all the children of one supervisor.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Actor(ActorId),
    Children(ActorId),
}

struct Sample {
    handled: u64,
    at: Instant,
    /// The rate computed when this sample was taken.
    rate: f64,
    seen: Instant,
}

impl Rates {
    /// Messages per second of `key` whose counter reads `handled` now.
    fn rate(&self, key: Key, handled: u64, now: Instant) -> f64 {
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        match samples.get_mut(&key) {
            Some(sample) => {
                sample.seen = now;
                let window = now.duration_since(sample.at);
                if window >= MIN_WINDOW {
                    let delta = handled.saturating_sub(sample.handled);
                    sample.rate = delta as f64 / window.as_secs_f64();
                    sample.handled = handled;
                    sample.at = now;
                }
                sample.rate
            }
            None => {
                samples.insert(
                    key,
                    Sample {
                        handled,
                        at: now,
                        rate: 0.0,
                        seen: now,
                    },
                );
                0.0
            }
        }
    }

    /// Forgets what was not shown for a while.
    fn prune(&self, now: Instant) {
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples.retain(|_, s| now.duration_since(s.seen) < FORGET_AFTER);
    }
}

/// The totals of one supervisor's children, from the pass over all actors.
#[derive(Clone, Copy, Default)]
struct Totals {
    actors: u64,
    mailbox: u64,
    handled: u64,
}

/// Everything the API reads.
pub(crate) struct Model {
    pub system: System,
    pub rates: Rates,
    pub started: Instant,
}

impl Model {
    /// `/api/trees`: every supervision tree, each supervisor with the page
    /// of children `pages` asks for (`supervisor id → page`, else 0).
    pub fn trees(&self, pages: &HashMap<u64, usize>, per: usize) -> Json {
        let now = Instant::now();
        let supervisors = self.system.members(SUPERVISORS_GROUP);
        let supervisor_ids: HashMap<ActorId, ActorRef> =
            supervisors.iter().map(|s| (s.id(), s.clone())).collect();
        let totals = self.totals_by_parent(&supervisor_ids);
        // A root is no child of another supervisor. (Not through `info`,
        // which would list a big supervisor's million links.)
        let roots: Vec<&ActorRef> = supervisors
            .iter()
            .filter(|s| {
                let child = s.label(CHILD_ID_LABEL).is_some();
                !(child
                    && s.stats()
                        .parent
                        .is_some_and(|p| supervisor_ids.contains_key(&p)))
            })
            .collect();
        let view = TreeView {
            model: self,
            pages,
            per,
            totals: &totals,
            now,
        };
        let trees = roots
            .into_iter()
            .map(|root| view.supervisor(root, 0))
            .collect();
        self.rates.prune(now);
        Json::Obj(vec![
            ("supervisors", Json::Int(supervisors.len() as u64)),
            ("per", Json::Int(per as u64)),
            ("trees", Json::Arr(trees)),
        ])
    }

    /// The totals of each supervisor's children: one pass over every actor.
    fn totals_by_parent(
        &self,
        supervisors: &HashMap<ActorId, ActorRef>,
    ) -> HashMap<ActorId, Totals> {
        let mut totals: HashMap<ActorId, Totals> = HashMap::new();
        for stats in self.system.actor_stats() {
            let Some(parent) = stats.parent.filter(|p| supervisors.contains_key(p)) else {
                continue;
            };
            let entry = totals.entry(parent).or_default();
            entry.actors += 1;
            entry.mailbox += stats.mailbox_len as u64;
            entry.handled += stats.messages_handled;
        }
        totals
    }

    /// `/api/top`: the `n` actors with the longest mailboxes (or the most
    /// messages handled).
    pub fn top(&self, n: usize, by: TopBy) -> Json {
        let now = Instant::now();
        let rows = self
            .system
            .top(n, by)
            .iter()
            .map(|info| self.actor_row(info, now))
            .collect();
        Json::Obj(vec![
            (
                "by",
                Json::Str(
                    match by {
                        TopBy::MailboxLen => "mailbox",
                        TopBy::MessagesHandled => "handled",
                    }
                    .into(),
                ),
            ),
            ("actors", Json::Arr(rows)),
        ])
    }

    /// `/api/actors`: page `page` of every live actor, in spawn order.
    pub fn actors(&self, page: usize, per: usize) -> Json {
        let now = Instant::now();
        let mut ids: Vec<ActorId> = self.system.actor_stats().iter().map(|s| s.id).collect();
        let total = ids.len();
        ids.sort_unstable();
        let rows = ids
            .iter()
            .skip(page.saturating_mul(per))
            .take(per)
            .filter_map(|id| self.system.actor_info(*id))
            .map(|info| self.actor_row(&info, now))
            .collect();
        Json::Obj(vec![
            ("total", Json::Int(total as u64)),
            ("page", Json::Int(page as u64)),
            ("per", Json::Int(per as u64)),
            ("pages", Json::Int(total.div_ceil(per.max(1)) as u64)),
            ("actors", Json::Arr(rows)),
        ])
    }

    /// `/api/system`: totals.
    pub fn summary(&self) -> Json {
        let system = &self.system;
        Json::Obj(vec![
            ("actors", Json::Int(system.actor_count() as u64)),
            (
                "supervisors",
                Json::Int(system.members(SUPERVISORS_GROUP).len() as u64),
            ),
            ("dead_letters", Json::Int(system.dead_letters())),
            ("pool_workers", Json::Int(system.pool_workers() as u64)),
            ("dedicated_threads", Json::Int(system.threads() as u64)),
            (
                "uptime_ms",
                Json::Int(self.started.elapsed().as_millis() as u64),
            ),
        ])
    }

    /// One actor as the tables show it.
    fn actor_row(&self, info: &ActorInfo, now: Instant) -> Json {
        let (supervisor, child_id) = match supervisor_of(info) {
            Some((sup, id)) => (Json::Int(sup.as_u64()), Json::Str(id.to_string())),
            None => (Json::Null, Json::Null),
        };
        Json::Obj(vec![
            ("id", Json::Int(info.id.as_u64())),
            ("name", Json::opt_str(info.name.as_deref())),
            ("supervisor", supervisor),
            ("child_id", child_id),
            (
                "executor",
                Json::Str(format!("{:?}", info.executor).to_lowercase()),
            ),
            ("mailbox_len", Json::Int(info.mailbox_len as u64)),
            ("messages_handled", Json::Int(info.messages_handled)),
            (
                "rate",
                Json::Num(
                    self.rates
                        .rate(Key::Actor(info.id), info.messages_handled, now),
                ),
            ),
            ("activity", Json::Str(info.activity.as_str().into())),
            (
                "activity_ms",
                Json::Int(info.activity_for.as_millis() as u64),
            ),
            ("links", Json::Int(info.links.len() as u64)),
            ("monitored_by", Json::Int(info.monitored_by.len() as u64)),
        ])
    }
}

/// One `/api/trees` answer in the making.
struct TreeView<'a> {
    model: &'a Model,
    pages: &'a HashMap<u64, usize>,
    per: usize,
    totals: &'a HashMap<ActorId, Totals>,
    now: Instant,
}

/// How deep trees are followed: a cycle cannot happen, but a bug must not
/// hang the page.
const MAX_DEPTH: usize = 64;

impl TreeView<'_> {
    fn supervisor(&self, actor: &ActorRef, depth: usize) -> Json {
        let system = &self.model.system;
        let page = self.pages.get(&actor.id().as_u64()).copied().unwrap_or(0);
        let from = page.saturating_mul(self.per);
        let stats = actor.stats();
        let mut fields = vec![
            ("id", Json::Int(actor.id().as_u64())),
            (
                "kind",
                Json::opt_str(actor.label(ferrotp_supervisors::KIND_LABEL).as_deref()),
            ),
            ("mailbox_len", Json::Int(stats.mailbox_len as u64)),
            ("messages_handled", Json::Int(stats.messages_handled)),
            ("activity", Json::Str(stats.activity.as_str().into())),
        ];
        let totals = self.totals.get(&actor.id()).copied().unwrap_or_default();
        fields.push(("children_mailbox_total", Json::Int(totals.mailbox)));
        fields.push(("children_handled_total", Json::Int(totals.handled)));
        fields.push((
            "children_rate_total",
            Json::Num(
                self.model
                    .rates
                    .rate(Key::Children(actor.id()), totals.handled, self.now),
            ),
        ));
        match inspect(system, actor, from..from + self.per, INSPECT_TIMEOUT) {
            Ok(snapshot) => {
                fields.push(("name", Json::opt_str(snapshot.name.as_deref())));
                fields.push(("strategy", Json::Str(snapshot.strategy)));
                fields.push((
                    "restarts_in_window",
                    Json::Int(snapshot.restarts_in_window as u64),
                ));
                fields.push(("max_restarts", Json::Int(u64::from(snapshot.max_restarts))));
                fields.push(("period_ms", Json::Int(snapshot.period.as_millis() as u64)));
                fields.push(("child_count", Json::Int(snapshot.child_count as u64)));
                fields.push(("total_restarts", Json::Int(snapshot.total_restarts)));
                fields.push(("page", Json::Int(page as u64)));
                let children = snapshot
                    .children
                    .iter()
                    .map(|child| self.child(child, depth))
                    .collect();
                fields.push(("children", Json::Arr(children)));
            }
            Err(error) => {
                fields.push(("name", Json::opt_str(actor.name().as_deref())));
                fields.push(("error", Json::Str(error.to_string())));
                fields.push(("children", Json::Arr(Vec::new())));
            }
        }
        Json::Obj(fields)
    }

    fn child(&self, child: &ChildInfo, depth: usize) -> Json {
        let mut fields = vec![
            ("id", Json::Str(child.id.clone())),
            ("name", Json::opt_str(child.name.as_deref())),
            (
                "kind",
                Json::Str(
                    match child.kind {
                        ChildKind::Worker => "worker",
                        ChildKind::Supervisor => "supervisor",
                    }
                    .into(),
                ),
            ),
            (
                "restart",
                Json::Str(
                    match child.restart {
                        Restart::Permanent => "permanent",
                        Restart::Transient => "transient",
                        Restart::Temporary => "temporary",
                    }
                    .into(),
                ),
            ),
            ("restarts", Json::Int(u64::from(child.restarts))),
        ];
        match &child.actor {
            Some(actor) => {
                let stats: ActorStats = actor.stats();
                fields.push(("actor", Json::Int(actor.id().as_u64())));
                fields.push(("mailbox_len", Json::Int(stats.mailbox_len as u64)));
                fields.push(("messages_handled", Json::Int(stats.messages_handled)));
                fields.push((
                    "rate",
                    Json::Num(self.model.rates.rate(
                        Key::Actor(actor.id()),
                        stats.messages_handled,
                        self.now,
                    )),
                ));
                fields.push(("activity", Json::Str(stats.activity.as_str().into())));
                fields.push((
                    "activity_ms",
                    Json::Int(stats.activity_for.as_millis() as u64),
                ));
                if child.kind == ChildKind::Supervisor && depth < MAX_DEPTH {
                    fields.push(("supervisor", self.supervisor(actor, depth + 1)));
                }
            }
            None => fields.push(("actor", Json::Null)),
        }
        Json::Obj(fields)
    }
}
