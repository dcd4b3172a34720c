//! Exit reasons across the wire, both ways.
//!
//! | ferrotp [`ExitReason`] | Erlang term |
//! |---|---|
//! | `Normal` | `normal` |
//! | `Shutdown` | `shutdown` (and `{shutdown, _}` arriving) |
//! | `Killed` | `killed` (`kill` arriving as an exit signal kills) |
//! | `NoProc` | `noproc` |
//! | `Panic(text)` | `{panic, <<"text">>}` |
//! | `Error(text)` | `{error, <<"text">>}` |
//! | [`noconnection()`] (`Error("noconnection")`) | `noconnection` |
//! | anything else arriving | `Error(printed term)`, e.g. `Error("{badarith,[...]}")` |
//!
//! So a panic's text survives the round trip, and an Erlang crash reason
//! reaches Rust as readable text.

use erl_dist::term::{Binary, Term};
use ferrotp::ExitReason;

use crate::codec::{atom, is_atom, tagged};

/// The reason links and monitors fire with when the connection to the
/// other node is lost (Erlang's `noconnection`).
pub fn noconnection() -> ExitReason {
    ExitReason::Error(NOCONNECTION.to_string())
}

/// Whether `reason` is [`noconnection()`].
pub fn is_noconnection(reason: &ExitReason) -> bool {
    matches!(reason, ExitReason::Error(text) if text == NOCONNECTION)
}

const NOCONNECTION: &str = "noconnection";

fn binary(text: &str) -> Term {
    Term::from(Binary::from(text.as_bytes().to_vec()))
}

/// The Erlang term for `reason`.
pub fn to_term(reason: &ExitReason) -> Term {
    match reason {
        ExitReason::Normal => atom("normal"),
        ExitReason::Shutdown => atom("shutdown"),
        ExitReason::Killed => atom("killed"),
        ExitReason::NoProc => atom("noproc"),
        ExitReason::Error(text) if text == NOCONNECTION => atom(NOCONNECTION),
        ExitReason::Panic(text) => tagged("panic", [binary(text)]),
        ExitReason::Error(text) => tagged("error", [binary(text)]),
    }
}

/// The ferrotp reason for an Erlang exit reason term.
pub fn from_term(term: &Term) -> ExitReason {
    let text_of = |t: &Term| match t {
        Term::Binary(b) => Some(String::from_utf8_lossy(&b.bytes).into_owned()),
        _ => None,
    };
    if let Term::Atom(a) = term {
        match a.name.as_str() {
            "normal" => return ExitReason::Normal,
            "shutdown" => return ExitReason::Shutdown,
            "killed" | "kill" => return ExitReason::Killed,
            "noproc" => return ExitReason::NoProc,
            NOCONNECTION => return noconnection(),
            _ => {}
        }
    }
    if let Term::Tuple(t) = term {
        if t.elements.len() == 2 {
            if is_atom(&t.elements[0], "shutdown") {
                return ExitReason::Shutdown;
            }
            if let Some(text) = text_of(&t.elements[1]) {
                if is_atom(&t.elements[0], "panic") {
                    return ExitReason::Panic(text);
                }
                if is_atom(&t.elements[0], "error") {
                    return ExitReason::Error(text);
                }
            }
        }
    }
    ExitReason::Error(term.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ferrotp_reason_survives_the_round_trip() {
        for reason in [
            ExitReason::Normal,
            ExitReason::Shutdown,
            ExitReason::Killed,
            ExitReason::NoProc,
            ExitReason::Panic("boom".into()),
            ExitReason::Error("disk full".into()),
            noconnection(),
        ] {
            assert_eq!(from_term(&to_term(&reason)), reason);
        }
    }

    #[test]
    fn erlang_reasons_become_readable_errors() {
        let badarith = tagged("badarith", [atom("x")]);
        assert_eq!(
            from_term(&badarith),
            ExitReason::Error("{'badarith','x'}".into())
        );
        assert!(is_noconnection(&from_term(&atom("noconnection"))));
        assert_eq!(from_term(&atom("kill")), ExitReason::Killed);
    }
}
