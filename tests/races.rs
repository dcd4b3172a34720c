//! Regression tests for the kernel races of issue 14, on both executors:
//! a late `kill` that voided a `Stopped` answer, a stale link signal after
//! unlink and link, `kill` of a child stuck in `started` on the pool, and
//! `trap_exit` toggled while an exit signal waits. The same scenarios run
//! for longer in `tests/stress_races.rs` (`--ignored stress`).

#[allow(dead_code)]
mod common;
#[allow(dead_code)]
#[path = "common/races.rs"]
mod scenarios;

use ferrotp::ExitReason;
use scenarios::*;

/// The racy scenario loops this often here; the stress suite loops it for
/// as long as it is given.
const LOOPS: usize = 300;

ferrotp::on_each_executor! {
    #[test]
    fn a_late_kill_never_voids_the_stopped_answer_to_a_stop() {
        let system = new_system();
        for _ in 0..LOOPS {
            late_kill_keeps_the_stopped_answer(&system);
        }
        system.shutdown(common::WAIT).unwrap();
    }

    #[test]
    fn a_kill_while_the_stopped_hook_runs_answers_the_stop_with_killed() {
        let system = new_system();
        kill_in_the_stopped_hook_answers_the_stopper(&system);
        system.shutdown(common::WAIT).unwrap();
    }

    #[test]
    fn unlink_then_link_to_an_actor_that_died_meanwhile_yields_noproc() {
        let system = new_system();
        relink_after_unlink_yields_noproc(&system);
        an_actor_relinking_gets_noproc(&system);
        system.shutdown(common::WAIT).unwrap();
    }

    #[test]
    fn kill_of_a_child_stuck_in_started_frees_a_plain_spawner_at_once() {
        let system = ferrotp::System::builder().executor(EXECUTOR).workers(1).build();
        kill_in_started_frees_a_plain_spawner(&system);
        system.shutdown(common::WAIT).unwrap();
    }

    #[test]
    fn kill_of_a_child_stuck_in_started_frees_an_actor_spawner_at_once() {
        let system = ferrotp::System::builder().executor(EXECUTOR).workers(1).build();
        kill_in_started_frees_an_actor_spawner(&system);
        system.shutdown(common::WAIT).unwrap();
    }

    #[test]
    fn trapping_turned_on_while_a_signal_waits_gives_earlier_messages_first() {
        let system = new_system();
        let boom = ExitReason::error("boom");
        let (seen, end) = toggle_trap_while_a_signal_waits(&system, true, boom.clone());
        assert_eq!((seen, end), (vec![Seen::M1, Seen::Stopped(boom)], None));
        let (seen, end) = toggle_trap_while_a_signal_waits(&system, true, ExitReason::Normal);
        assert_eq!((seen, end), (vec![Seen::M1, Seen::Stopped(ExitReason::Normal)], None));
        system.shutdown(common::WAIT).unwrap();
    }

    #[test]
    fn trapping_turned_off_while_a_signal_waits_lets_it_take_effect_first() {
        let system = new_system();
        let boom = ExitReason::error("boom");
        let (seen, end) = toggle_trap_while_a_signal_waits(&system, false, boom.clone());
        assert_eq!((seen, end), (vec![], Some(boom)));
        let (seen, end) = toggle_trap_while_a_signal_waits(&system, false, ExitReason::Normal);
        assert_eq!((seen, end), (vec![Seen::M1], None));
        system.shutdown(common::WAIT).unwrap();
    }
}
