//! Renders a live supervision tree as indented text, asking each supervisor
//! in turn (so the picture is a walk, not one atomic snapshot).
//!
//! ```text
//! app #1 one_for_one (1/3 restarts in 10s)
//! ├─ cache: worker #2 "cache", permanent, restarted 1x
//! └─ jobs: supervisor #3, permanent, restarted 0x — rest_for_one (0/1 restarts in 5s)
//!    ├─ fetch: worker #4, transient, restarted 0x
//!    └─ store: worker (not running), permanent, restarted 2x
//! ```

use std::fmt::Write;

use crate::error::SupervisorError;
use crate::protocol::{ChildInfo, Describe, Handle, Summary};
use crate::spec::{ChildKind, Restart};

/// The tree under the supervisor behind `handle`.
pub(crate) fn render(handle: &Handle) -> Result<String, SupervisorError> {
    let summary: Summary = handle.call(Describe)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}{} {}",
        summary
            .name
            .as_deref()
            .map_or(String::new(), |n| format!("{n} ")),
        summary.id,
        strategy_text(&summary)
    );
    children(handle, &summary.children, "", &mut out);
    Ok(out)
}

fn strategy_text(summary: &Summary) -> String {
    format!(
        "{} ({}/{} restarts in {:?})",
        summary.strategy, summary.restarts_in_window, summary.max_restarts, summary.period
    )
}

fn children(handle: &Handle, infos: &[ChildInfo], prefix: &str, out: &mut String) {
    for (i, child) in infos.iter().enumerate() {
        let last = i + 1 == infos.len();
        let (branch, under) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let kind = match child.kind {
            ChildKind::Worker => "worker",
            ChildKind::Supervisor => "supervisor",
        };
        let actor = child
            .actor
            .as_ref()
            .map_or("(not running)".to_string(), |a| a.id().to_string());
        let name = child
            .name
            .as_deref()
            .map_or(String::new(), |n| format!(" {n:?}"));
        let restart = match child.restart {
            Restart::Permanent => "permanent",
            Restart::Transient => "transient",
            Restart::Temporary => "temporary",
        };
        let _ = write!(
            out,
            "{prefix}{branch}{}: {kind} {actor}{name}, {restart}, restarted {}x",
            child.id, child.restarts
        );
        let nested = match (&child.kind, &child.actor) {
            (ChildKind::Supervisor, Some(actor)) => Some(handle.nested(actor)),
            _ => None,
        };
        match nested.map(|h| (h.call::<Summary, _>(Describe), h)) {
            Some((Ok(summary), nested)) => {
                let _ = writeln!(out, " — {}", strategy_text(&summary));
                children(&nested, &summary.children, &format!("{prefix}{under}"), out);
            }
            Some((Err(error), _)) => {
                let _ = writeln!(out, " — not answering: {error}");
            }
            None => out.push('\n'),
        }
    }
}
