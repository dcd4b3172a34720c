//! Every message reaches the handler of its own type: a handler takes its
//! message without looking at its type again (`Handlers::call`'s contract),
//! trusting the table that found it, whether looked up by `TypeId` or
//! remembered from the message before (same payload table). Types of one
//! layout, a boxed type, a type no handler takes, in runs and alternating.

use std::time::Duration;

use ferrotp::{Actor, Context, Handlers};

const WAIT: Duration = Duration::from_secs(10);

/// Two types of one layout: a mix-up would go unnoticed by the layout.
struct First(u64);
struct Second(u64);
/// Too large to be kept inline: boxed in its payload.
struct Large([u64; 8]);
/// No handler takes it: the fallback does.
struct Unknown(u64);
/// Asks for what was seen.
struct Report;

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    First(u64),
    Second(u64),
    Large(u64),
    Other(String),
}

#[derive(Default)]
struct Recorder(Vec<Seen>);

impl Recorder {
    fn first(&mut self, First(n): First, _: &mut Context<Self>) {
        self.0.push(Seen::First(n));
    }
    fn second(&mut self, Second(n): Second, _: &mut Context<Self>) {
        self.0.push(Seen::Second(n));
    }
    fn large(&mut self, Large(words): Large, _: &mut Context<Self>) {
        assert!(words.iter().all(|w| *w == words[0]), "{words:?}");
        self.0.push(Seen::Large(words[0]));
    }
    fn report(&mut self, _: Report, ctx: &mut Context<Self>) {
        ctx.reply(std::mem::take(&mut self.0));
    }
}

impl Actor for Recorder {
    fn handlers() -> Handlers<Self> {
        Handlers::new()
            .on(Self::first)
            .on(Self::second)
            .on(Self::large)
            .on(Self::report)
            .other(|actor: &mut Self, payload, type_name, _ctx| {
                let n = payload.downcast::<Unknown>().map_or(u64::MAX, |u| u.0);
                actor.0.push(Seen::Other(format!("{type_name} {n}")));
            })
    }
}

ferrotp::on_each_executor! {
    #[test]
    fn each_message_reaches_the_handler_of_its_type() {
        let system = new_system();
        let recorder = system.spawn(Recorder::default());
        let mut expected = Vec::new();
        // Runs of one type (the remembered handler), then every type in
        // turn (a lookup each time), then pairs.
        let pattern: Vec<u64> = (0..40)
            .map(|i| i / 10 % 4)
            .chain((0..40).map(|i| i % 4))
            .chain((0..40).map(|i| i / 2 % 4))
            .collect();
        for (n, kind) in pattern.into_iter().enumerate() {
            let n = n as u64;
            match kind {
                0 => {
                    recorder.send(First(n));
                    expected.push(Seen::First(n));
                }
                1 => {
                    recorder.send(Second(n));
                    expected.push(Seen::Second(n));
                }
                2 => {
                    recorder.send(Large([n; 8]));
                    expected.push(Seen::Large(n));
                }
                _ => {
                    recorder.send(Unknown(n));
                    expected.push(Seen::Other(format!("{} {n}", std::any::type_name::<Unknown>())));
                }
            }
        }
        let seen: Vec<Seen> = system
            .bridge()
            .call(&recorder, Report, WAIT)
            .expect("the recorder answers");
        assert_eq!(seen, expected);
        system.shutdown(WAIT).unwrap();
    }
}
