//! Semantics 9: a 3-level tree (root -> 3 supervisors -> 5 workers each)
//! restarts only what its strategies say, observed through `which_children`
//! before and after random crashes.

mod common;

use std::collections::BTreeSet;

use common::*;
use ferrotp::{ActorId, ExitReason};
use ferrotp_supervisors::{ChildSpec, Strategy, Supervisor, SupervisorSpec};

const WORKERS: usize = 5;
const CRASHES: usize = 30;

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

fn worker_tag(sup: usize, worker: usize) -> String {
    format!("s{sup}w{worker}")
}

/// Every sub-supervisor's workers' actor ids.
fn snapshot(root: &Supervisor) -> Vec<Vec<ActorId>> {
    (0..3)
        .map(|k| {
            let sub = root.child_supervisor(&format!("s{k}")).unwrap();
            sub.which_children()
                .unwrap()
                .iter()
                .map(|c| c.actor.as_ref().expect("running").id())
                .collect()
        })
        .collect()
}

ferrotp::on_each_executor! {
    #[test]
    fn a_three_level_tree_restarts_only_what_its_strategies_say() {
        let seed: u64 = std::env::var("FERROTP_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_f00d);
        println!("seed {seed} (set FERROTP_SEED to replay)");
        let mut rng = Rng(seed | 1);

        let system = new_system();
        let probe = Probe::new();
        let strategies = [
            Strategy::OneForOne,
            Strategy::OneForAll,
            Strategy::RestForOne,
        ];
        let mut spec = SupervisorSpec::one_for_one().intensity(100, HOUR);
        for (k, strategy) in strategies.iter().enumerate() {
            let mut sub = SupervisorSpec::new(*strategy).intensity(100, HOUR);
            for j in 0..WORKERS {
                sub = sub.child(worker(&worker_tag(k, j), &probe));
            }
            spec = spec.child(ChildSpec::supervisor(format!("s{k}"), sub));
        }
        let root = Supervisor::start(&system, spec).unwrap();
        for k in 0..3 {
            for j in 0..WORKERS {
                probe.started(&worker_tag(k, j));
            }
        }
        let root_children = root.which_children().unwrap();

        for step in 0..CRASHES {
            let (k, j) = (rng.below(3), rng.below(WORKERS));
            let before = snapshot(&root);
            let sub = root.child_supervisor(&format!("s{k}")).unwrap();
            let victim = actor_of(&sub.which_children().unwrap(), &worker_tag(k, j));
            end_with(&system, &victim, Crash);
            let after = snapshot(&root);

            let restarted: BTreeSet<usize> = match strategies[k] {
                Strategy::OneForOne => [j].into(),
                Strategy::OneForAll => (0..WORKERS).collect(),
                Strategy::RestForOne => (j..WORKERS).collect(),
            };
            let context = format!(
                "step {step}: crash {} ({:?})",
                worker_tag(k, j),
                strategies[k]
            );
            for (kk, (b, a)) in before.iter().zip(&after).enumerate() {
                for w in 0..WORKERS {
                    if kk == k && restarted.contains(&w) {
                        assert_ne!(b[w], a[w], "{context}: s{kk}w{w} kept its actor");
                    } else {
                        assert_eq!(b[w], a[w], "{context}: s{kk}w{w} was restarted");
                    }
                }
            }
            // The crash, the siblings stopped in reverse order, the restarts in order.
            let mut expected = vec![Ev::Stopped {
                tag: worker_tag(k, j),
                actor: before[k][j],
                reason: ExitReason::error("crash"),
            }];
            for &w in restarted.iter().rev().filter(|&&w| w != j) {
                expected.push(Ev::Stopped {
                    tag: worker_tag(k, w),
                    actor: before[k][w],
                    reason: ExitReason::Shutdown,
                });
            }
            for &w in &restarted {
                expected.push(Ev::Started {
                    tag: worker_tag(k, w),
                    actor: after[k][w],
                });
            }
            assert_eq!(probe.pending(), expected, "{context}");
            // The root saw nothing: its children are the same actors.
            assert_eq!(root.which_children().unwrap(), root_children, "{context}");
        }
    }
}
