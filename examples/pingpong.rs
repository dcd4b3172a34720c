//! The seed's second demo: two actors bounce a ball, printing `+` and `-`,
//! until they are stopped.
//!
//! `cargo run --example pingpong` prints `+-+-+-...` and then the two
//! `Stopped` answers.

use std::io::Write;
use std::time::Duration;

use ferrotp::{Actor, ActorRef, Context, Handlers, System};

/// The ball, and how many more hits it can take.
struct Ball(u32);

/// Hits the ball back, printing its mark.
struct Player {
    mark: char,
    /// Told when the ball is dead, so `main` knows when to stop the players.
    referee: ActorRef,
}

/// The rally is over.
struct RallyOver;

impl Player {
    fn hit(&mut self, Ball(left): Ball, ctx: &mut Context<Self>) {
        print!("{}", self.mark);
        let _ = std::io::stdout().flush();
        if left == 0 {
            ctx.send(&self.referee, RallyOver);
        } else {
            ctx.reply(Ball(left - 1));
        }
    }
}

impl Actor for Player {
    fn handlers() -> Handlers<Self> {
        Handlers::new().on(Self::hit)
    }
}

fn main() {
    let system = System::new();
    let referee = system.inbox();
    let ping = system.spawn(Player {
        mark: '+',
        referee: referee.actor().clone(),
    });
    let pong = system.spawn(Player {
        mark: '-',
        referee: referee.actor().clone(),
    });

    // `ping` serves to `pong`; each reply goes back to whoever hit last.
    ping.send_from(Ball(19), &pong);
    referee
        .recv(Duration::from_secs(5))
        .expect("the rally ends")
        .downcast::<RallyOver>()
        .expect("only RallyOver reaches the referee");
    println!();
    println!(
        "{:?}",
        system.bridge().stop(&[ping, pong], Duration::from_secs(5))
    );
}
