//! `SpawnOptions::tie_notices`: an actor is told, in order with its other
//! mail, when others link to, unlink, monitor or demonitor it, and only
//! when it asked to be; on both executors.

#[allow(dead_code)]
mod common;

use common::WAIT;
use ferrotp::{Actor, ActorRef, Context, Handlers, Inbox, SpawnOptions, TieNotice};

/// Reports everything it is sent to `report`, in order.
struct Gate {
    report: ActorRef,
}

#[derive(Debug)]
enum Seen {
    Tie(TieNotice),
    Text(&'static str),
    Link(ActorRef),
}

impl Gate {
    fn tie(&mut self, notice: TieNotice, _ctx: &mut Context<Self>) {
        self.report.send(Seen::Tie(notice));
    }
    fn text(&mut self, text: &'static str, _ctx: &mut Context<Self>) {
        self.report.send(Seen::Text(text));
    }
    /// Links to `other` itself: no notice for a tie of its own.
    fn link(&mut self, other: ActorRef, ctx: &mut Context<Self>) {
        ctx.link(&other);
        ctx.monitor(&other);
        self.report.send(Seen::Link(other));
    }
}

impl Actor for Gate {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::tie).on(Self::text).on(Self::link)
    }
}

fn seen(report: &Inbox) -> Seen {
    report
        .recv(WAIT)
        .expect("the gate reports")
        .downcast::<Seen>()
        .expect("a Seen")
}

ferrotp::on_each_executor! {
    #[test]
    fn links_and_monitors_from_others_are_announced_in_order() {
        let system = new_system();
        let report = system.inbox();
        let gate = system
            .spawn_with(Gate { report: report.actor().clone() }, SpawnOptions::new().tie_notices())
            .unwrap();
        let other = system.inbox();
        other.send(&gate, "before");
        other.link(&gate);
        let monitor = other.monitor(&gate);
        other.send(&gate, "between");
        other.demonitor(monitor);
        other.unlink(&gate);
        // Linking twice changes nothing, and announces nothing.
        other.link(&gate);
        other.link(&gate);
        other.send(&gate, "after");

        assert!(matches!(seen(&report), Seen::Text("before")));
        match seen(&report) {
            Seen::Tie(TieNotice::Linked(by)) => assert_eq!(by.id(), other.actor().id()),
            s => panic!("expected Linked, got {s:?}"),
        }
        match seen(&report) {
            Seen::Tie(TieNotice::Monitored { by, monitor: m }) => {
                assert_eq!((by.id(), m), (other.actor().id(), monitor))
            }
            s => panic!("expected Monitored, got {s:?}"),
        }
        assert!(matches!(seen(&report), Seen::Text("between")));
        match seen(&report) {
            Seen::Tie(TieNotice::Demonitored { by, monitor: m }) => {
                assert_eq!((by, m), (other.actor().id(), monitor))
            }
            s => panic!("expected Demonitored, got {s:?}"),
        }
        match seen(&report) {
            Seen::Tie(TieNotice::Unlinked(by)) => assert_eq!(by.id(), other.actor().id()),
            s => panic!("expected Unlinked, got {s:?}"),
        }
        assert!(matches!(seen(&report), Seen::Tie(TieNotice::Linked(_))));
        assert!(matches!(seen(&report), Seen::Text("after")));
    }

    #[test]
    fn own_ties_and_actors_that_did_not_ask_get_no_notice() {
        let system = new_system();
        let report = system.inbox();
        let gate = system
            .spawn_with(Gate { report: report.actor().clone() }, SpawnOptions::new().tie_notices())
            .unwrap();
        let plain_report = system.inbox();
        let plain = system.spawn(Gate { report: plain_report.actor().clone() });
        // The gate ties itself to `plain`: neither is told.
        gate.send(plain.clone());
        match seen(&report) {
            Seen::Link(to) => assert_eq!(to.id(), plain.id()),
            s => panic!("expected the gate's own link, got {s:?}"),
        }
        // Others tie themselves to `plain`, which did not ask.
        let other = system.inbox();
        other.link(&plain);
        other.monitor(&plain);
        plain.send("done");
        gate.send("done");
        assert!(matches!(seen(&plain_report), Seen::Text("done")));
        assert!(matches!(seen(&report), Seen::Text("done")));
    }

    #[test]
    fn a_full_bounded_mailbox_still_gets_its_tie_notices() {
        let system = new_system();
        let report = system.inbox();
        let (entered_tx, entered) = crossbeam_channel::bounded(1);
        let (release_tx, release) = crossbeam_channel::bounded(1);
        let held = Held { entered: entered_tx, release, report: report.actor().clone() };
        let held = system
            .spawn_with(held, SpawnOptions::new().mailbox(1).tie_notices())
            .unwrap();
        let other = system.inbox();
        other.send(&held, "hold");
        entered.recv_timeout(WAIT).expect("the first message is being handled");
        other.send(&held, "fill");
        assert!(held.try_send("refused").is_err(), "the mailbox of one is full");

        other.link(&held);
        release_tx.send(()).unwrap();

        assert!(matches!(seen(&report), Seen::Text("hold")));
        assert!(matches!(seen(&report), Seen::Text("fill")));
        match seen(&report) {
            Seen::Tie(TieNotice::Linked(by)) => assert_eq!(by.id(), other.actor().id()),
            s => panic!("expected Linked past the capacity, got {s:?}"),
        }
    }
}

/// Holds its first message until released, then reports everything.
struct Held {
    entered: crossbeam_channel::Sender<()>,
    release: crossbeam_channel::Receiver<()>,
    report: ActorRef,
}

impl Held {
    fn text(&mut self, text: &'static str, _ctx: &mut Context<Self>) {
        if text == "hold" {
            let _ = self.entered.send(());
            let _ = self.release.recv_timeout(WAIT);
        }
        self.report.send(Seen::Text(text));
    }
    fn tie(&mut self, notice: TieNotice, _ctx: &mut Context<Self>) {
        self.report.send(Seen::Tie(notice));
    }
}

impl Actor for Held {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::text).on(Self::tie)
    }
}
