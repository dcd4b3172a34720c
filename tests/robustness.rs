//! The runtime keeps its threads and its promises when user code misbehaves
//! in odd places: a message whose `Drop` panics, an inbox read by several
//! threads, a spawn racing shutdown, a spawn that gets no thread, and two
//! systems in one process.

mod robust_common;

use ferrotp::{ExitReason, Stop};
use robust_common::*;

ferrotp::on_each_executor! {
    /// A message no handler takes is dropped by the actor it was delivered
    /// to: a panic in its `Drop` is that actor's panic. It terminates with
    /// `Panic`, its watchers learn it, and its thread goes on serving others.
    #[test]
    fn an_unhandled_message_whose_drop_panics_is_the_receivers_panic() {
        let system = system_on(EXECUTOR);
        let inbox = system.inbox();
        let mut holders = Vec::new();
        // More than the pool's workers: each would have taken one down.
        for _ in 0..4 {
            let holder = system.spawn(Holder);
            let monitor = inbox.monitor(&holder);
            holder.send(Bomb);
            let down = next_down(&inbox);
            assert_eq!(down.monitor, monitor);
            assert_eq!(down.reason, ExitReason::Panic(BOMB.to_string()));
            assert!(!holder.is_alive());
            holders.push(holder);
        }
        assert!(system.dead_letters() >= 4, "the unhandled bombs are dead letters");
        executor_intact(&system, EXECUTOR);
        system.shutdown(WAIT).unwrap();
    }

    /// Mail left unread when an actor ends is dropped by the runtime: the
    /// actor has already ended, so a panic there is logged and goes no
    /// further. The thread that drops it (a pool worker, the actor's own)
    /// survives, and the actor's end is reported with its own reason.
    #[test]
    fn unread_mail_whose_drop_panics_does_not_kill_the_driving_thread() {
        let system = system_on(EXECUTOR);
        let inbox = system.inbox();
        // More than the pool's workers, each with bombs in its batch and
        // in its mailbox.
        for _ in 0..4 {
            let (release, hold) = crossbeam_channel::bounded(0);
            let holder = system.spawn(Holder);
            let monitor = inbox.monitor(&holder);
            holder.send(Hold(hold));
            for _ in 0..3 {
                holder.send(Bomb);
            }
            release.send(()).unwrap();
            for _ in 0..3 {
                holder.send(Bomb);
            }
            let down = next_down(&inbox);
            assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Normal));
        }
        executor_intact(&system, EXECUTOR);
        // The threads ended: shutdown has nothing to wait for or name.
        system.shutdown(WAIT).unwrap();
        assert_eq!(system.threads(), 0);
    }

    /// A dead letter's `Drop` panicking never reaches its sender: an actor
    /// that sends to a dead actor goes on, and so does plain code.
    #[test]
    fn a_dead_letter_whose_drop_panics_spares_the_sender() {
        let system = system_on(EXECUTOR);
        let inbox = system.inbox();
        let dead = system.spawn(Holder);
        inbox.monitor(&dead);
        dead.send(Stop);
        next_down(&inbox);
        let before = system.dead_letters();
        dead.send(Bomb);
        assert_eq!(system.dead_letters(), before + 1);

        let (sent_tx, sent) = crossbeam_channel::bounded(1);
        let sender = system.spawn(Sender { sent: sent_tx });
        let monitor = inbox.monitor(&sender);
        sender.send(SendBomb(dead.clone()));
        sent.recv_timeout(WAIT).expect("the sender's handler returned");
        let echo = system.bridge().call::<u64, _>(&sender, Echo(3), WAIT);
        assert_eq!(echo, Ok(3), "the sender still runs");
        sender.send(Stop);
        let down = next_down(&inbox);
        assert_eq!((down.monitor, down.reason), (monitor, ExitReason::Normal));
        system.shutdown(WAIT).unwrap();
    }

    /// Dropping an inbox drops what it holds unread without panicking,
    /// both mail still in its mailbox and mail already taken in a batch.
    #[test]
    fn dropping_an_inbox_with_unread_bombs_does_not_panic() {
        let system = system_on(EXECUTOR);
        let inbox = system.inbox();
        for _ in 0..3 {
            inbox.send(inbox.actor(), Bomb);
        }
        inbox.send(inbox.actor(), Echo(1));
        // Takes a batch: the rest waits in the inbox, not in its mailbox.
        let first = inbox.recv(WAIT).unwrap();
        std::mem::forget(first.downcast::<Bomb>().ok());
        inbox.send(inbox.actor(), Bomb);
        let before = system.dead_letters();
        drop(inbox);
        assert_eq!(system.dead_letters(), before + 4);
        system.shutdown(WAIT).unwrap();
    }

    /// A system shut down from an actor of another system stops all its
    /// actors, including the one whose id number equals the caller's (ids
    /// are per system), and joins all its threads.
    #[test]
    fn a_shutdown_from_another_systems_actor_spares_no_one() {
        for _ in 0..5 {
            shutdown_from_another_system(EXECUTOR);
        }
    }

    /// A spawn racing `shutdown` either fails with `ShuttingDown` or its
    /// actor is stopped by that shutdown: none outlives it, no thread is
    /// left running and no pool is started after it (the first rounds race
    /// the pool's start).
    #[test]
    fn a_spawn_racing_shutdown_never_outlives_it() {
        for round in 0..100 {
            spawn_racing_shutdown(EXECUTOR, round % 20);
        }
    }

    /// Several threads reading one inbox: every message reaches one of
    /// them, none sleeps while mail waits, whether the mail arrives while
    /// they sleep or sits in a batch another reader took.
    #[test]
    fn threads_sharing_an_inbox_never_sleep_while_mail_waits() {
        let system = system_on(EXECUTOR);
        for round in 0..20 {
            inbox_readers_round(&system, if round % 2 == 0 { 4 } else { 300 });
        }
        system.shutdown(WAIT).unwrap();
    }

    /// A `Bridge` shared by several threads (a pool of request handlers)
    /// reading replies with `recv`: each reply reaches one of them.
    #[test]
    fn threads_sharing_a_bridge_get_every_reply() {
        let system = system_on(EXECUTOR);
        let forward = system.spawn(Forward);
        for round in 0..20 {
            bridge_readers_round(&system, &forward, if round % 2 == 0 { 4 } else { 300 });
        }
        system.shutdown(WAIT).unwrap();
    }
}

/// Sends a `Bomb` to the actor it is given, then reports.
struct Sender {
    sent: crossbeam_channel::Sender<()>,
}
struct SendBomb(ferrotp::ActorRef);

impl Sender {
    fn send_bomb(&mut self, SendBomb(to): SendBomb, ctx: &mut ferrotp::Context<Self>) {
        ctx.send(&to, Bomb);
        let _ = self.sent.send(());
    }
    fn echo(&mut self, Echo(n): Echo, ctx: &mut ferrotp::Context<Self>) {
        ctx.reply(n);
    }
}

impl ferrotp::Actor for Sender {
    fn handlers() -> ferrotp::Handlers<Self> {
        ferrotp::Handlers::new().on(Self::send_bomb).on(Self::echo)
    }
}
