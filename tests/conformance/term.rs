//! Just enough of Erlang's term syntax to read what the interpreter prints
//! with `~w`: atoms, integers, tuples, lists.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    Atom(String),
    Int(i64),
    Tuple(Vec<Term>),
    List(Vec<Term>),
}

impl Term {
    pub fn atom(&self) -> Option<&str> {
        match self {
            Term::Atom(a) => Some(a),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Term::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn tuple(&self) -> Option<&[Term]> {
        match self {
            Term::Tuple(items) => Some(items),
            _ => None,
        }
    }

    pub fn list(&self) -> Option<&[Term]> {
        match self {
            Term::List(items) => Some(items),
            _ => None,
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items = |f: &mut fmt::Formatter<'_>, items: &[Term]| {
            for (i, t) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{t}")?;
            }
            Ok(())
        };
        match self {
            Term::Atom(a) => f.write_str(a),
            Term::Int(n) => write!(f, "{n}"),
            Term::Tuple(ts) => {
                f.write_str("{")?;
                items(f, ts)?;
                f.write_str("}")
            }
            Term::List(ts) => {
                f.write_str("[")?;
                items(f, ts)?;
                f.write_str("]")
            }
        }
    }
}

/// Parses one term, ignoring a final `.` and whitespace.
pub fn parse(text: &str) -> Result<Term, String> {
    let mut p = Parser {
        s: text.trim().trim_end_matches('.').as_bytes(),
        at: 0,
    };
    let term = p.term()?;
    p.space();
    if p.at != p.s.len() {
        return Err(format!("trailing text at {} in {text}", p.at));
    }
    Ok(term)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.at < self.s.len() && self.s[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.space();
        self.s.get(self.at).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at {}", c as char, self.at))
        }
    }

    fn term(&mut self) -> Result<Term, String> {
        match self.peek() {
            Some(b'{') => self.seq(b'{', b'}').map(Term::Tuple),
            Some(b'[') => self.seq(b'[', b']').map(Term::List),
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.at;
                self.at += 1;
                while self.at < self.s.len() && self.s[self.at].is_ascii_digit() {
                    self.at += 1;
                }
                let text =
                    std::str::from_utf8(&self.s[start..self.at]).map_err(|e| e.to_string())?;
                text.parse()
                    .map(Term::Int)
                    .map_err(|e| format!("{e}: {text}"))
            }
            Some(b'\'') => {
                self.at += 1;
                let start = self.at;
                while self.at < self.s.len() && self.s[self.at] != b'\'' {
                    self.at += 1;
                }
                let atom = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
                self.expect(b'\'')?;
                Ok(Term::Atom(atom))
            }
            Some(c) if c.is_ascii_lowercase() => {
                let start = self.at;
                while self.at < self.s.len()
                    && (self.s[self.at].is_ascii_alphanumeric() || self.s[self.at] == b'_')
                {
                    self.at += 1;
                }
                Ok(Term::Atom(
                    String::from_utf8_lossy(&self.s[start..self.at]).into_owned(),
                ))
            }
            other => Err(format!(
                "unexpected {:?} at {}",
                other.map(char::from),
                self.at
            )),
        }
    }

    fn seq(&mut self, open: u8, close: u8) -> Result<Vec<Term>, String> {
        self.expect(open)?;
        let mut items = Vec::new();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(items);
        }
        loop {
            items.push(self.term()?);
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(c) if c == close => {
                    self.at += 1;
                    return Ok(items);
                }
                _ => {
                    return Err(format!(
                        "expected ',' or '{}' at {}",
                        close as char, self.at
                    ))
                }
            }
        }
    }
}
