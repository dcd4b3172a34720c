//! Rust values to Erlang terms and back: [`IntoTerm`], [`FromTerm`], and
//! the impls for the usual Rust types.
//!
//! | Rust | Erlang |
//! |---|---|
//! | `i8`..`i64`, `u8`..`u64`, `isize`, `usize` | integer |
//! | `f64`, `f32` | float |
//! | `bool` | `true` / `false` |
//! | `String`, `&'static str` | binary (UTF-8); a charlist also decodes |
//! | [`Atom`] | atom |
//! | `()` | `ok` |
//! | tuples up to 6 | tuple |
//! | `Vec<T>` | list |
//! | `HashMap<K, V>` | map |
//! | `Option<T>` | `undefined` or the value |
//! | [`ActorRef`] | pid (a local actor's own pid, or the remote pid a proxy stands for) |
//! | [`ExitReason`] | the reason term (see [`crate::reason`]) |
//! | [`Term`] | itself |
//!
//! Unit structs and enums are atoms or tagged tuples by convention; write
//! their impls with [`atom`] and [`tagged`], as the example
//! `examples/erlang_node.rs` does.

use std::collections::HashMap;
use std::hash::Hash;

use erl_dist::term::{Atom, BigInteger, Binary, FixInteger, Float, List, Map, Pid, Term, Tuple};
use ferrotp::{ActorRef, ExitReason};
use thiserror::Error;

use crate::node::NodeInner;

/// A term did not have the shape a [`FromTerm`] impl expects.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("expected {expected}, got {got}")]
pub struct DecodeError {
    /// What the impl wanted.
    pub expected: &'static str,
    /// The term it got, printed (cut to 200 characters).
    pub got: String,
}

impl DecodeError {
    /// `term` is not the `expected` shape.
    pub fn new(expected: &'static str, term: &Term) -> Self {
        let mut got = term.to_string();
        if got.len() > 200 {
            let mut cut = 200;
            while !got.is_char_boundary(cut) {
                cut -= 1;
            }
            got.truncate(cut);
            got.push('…');
        }
        DecodeError { expected, got }
    }
}

/// What a codec may need from the node: turning an [`ActorRef`] into a pid
/// and a pid into an `ActorRef` (a local actor, or a proxy for a remote one).
pub struct Codec<'a> {
    pub(crate) node: &'a NodeInner,
}

impl Codec<'_> {
    /// The pid that stands for `actor` on the wire.
    pub fn pid_of(&self, actor: &ActorRef) -> Pid {
        self.node.pid_of(actor)
    }

    /// The address for `pid`: the local actor it names, or a proxy for a
    /// remote process. `None` for a local pid whose actor is gone.
    pub fn actor_of(&self, pid: &Pid) -> Option<ActorRef> {
        self.node.actor_of(pid)
    }
}

/// A Rust value that can travel as an Erlang term.
pub trait IntoTerm: Send + 'static {
    /// The term for `self`.
    fn into_term(self, codec: &Codec<'_>) -> Term;
}

/// A Rust value that can be read from an Erlang term.
pub trait FromTerm: Sized + Send + 'static {
    /// `Self` from `term`, or why not.
    fn from_term(term: &Term, codec: &Codec<'_>) -> Result<Self, DecodeError>;
}

/// The atom `name` as a term.
pub fn atom(name: &str) -> Term {
    Term::from(Atom::from(name))
}

/// Whether `term` is the atom `name`.
pub fn is_atom(term: &Term, name: &str) -> bool {
    matches!(term, Term::Atom(a) if a.name == name)
}

/// The tuple `{tag, elements...}`.
pub fn tagged(tag: &str, elements: impl IntoIterator<Item = Term>) -> Term {
    let mut all = vec![atom(tag)];
    all.extend(elements);
    Term::from(Tuple::from(all))
}

/// The elements after the tag when `term` is `{tag, ...}` with `arity`
/// elements after it.
pub fn untag<'t>(term: &'t Term, tag: &str, arity: usize) -> Option<&'t [Term]> {
    match term {
        Term::Tuple(t) if t.elements.len() == arity + 1 && is_atom(&t.elements[0], tag) => {
            Some(&t.elements[1..])
        }
        _ => None,
    }
}

/// A plain tuple of terms.
pub fn tuple(elements: impl IntoIterator<Item = Term>) -> Term {
    Term::from(Tuple::from(elements.into_iter().collect::<Vec<_>>()))
}

impl IntoTerm for Term {
    fn into_term(self, _: &Codec<'_>) -> Term {
        self
    }
}

impl FromTerm for Term {
    fn from_term(term: &Term, _: &Codec<'_>) -> Result<Self, DecodeError> {
        Ok(term.clone())
    }
}

impl IntoTerm for Atom {
    fn into_term(self, _: &Codec<'_>) -> Term {
        Term::from(self)
    }
}

impl FromTerm for Atom {
    fn from_term(term: &Term, _: &Codec<'_>) -> Result<Self, DecodeError> {
        match term {
            Term::Atom(a) => Ok(a.clone()),
            other => Err(DecodeError::new("an atom", other)),
        }
    }
}

impl IntoTerm for Pid {
    fn into_term(self, _: &Codec<'_>) -> Term {
        Term::from(self)
    }
}

impl FromTerm for Pid {
    fn from_term(term: &Term, _: &Codec<'_>) -> Result<Self, DecodeError> {
        match term {
            Term::Pid(p) => Ok(p.clone()),
            other => Err(DecodeError::new("a pid", other)),
        }
    }
}

fn integer_term(value: i128) -> Term {
    match i32::try_from(value) {
        Ok(small) => Term::from(FixInteger::from(small)),
        Err(_) => match i64::try_from(value) {
            Ok(v) => Term::from(BigInteger::from(v)),
            Err(_) => Term::from(BigInteger::from(value as u64)),
        },
    }
}

fn integer_of(term: &Term) -> Option<i128> {
    match term {
        Term::FixInteger(i) => Some(i128::from(i.value)),
        Term::BigInteger(b) => i128::try_from(&b.value).ok(),
        _ => None,
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl IntoTerm for $t {
            fn into_term(self, _: &Codec<'_>) -> Term {
                integer_term(self as i128)
            }
        }
        impl FromTerm for $t {
            fn from_term(term: &Term, _: &Codec<'_>) -> Result<Self, DecodeError> {
                integer_of(term)
                    .and_then(|v| <$t>::try_from(v).ok())
                    .ok_or_else(|| DecodeError::new(concat!("an integer that fits ", stringify!($t)), term))
            }
        }
    )*};
}
integers!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl IntoTerm for f64 {
    fn into_term(self, _: &Codec<'_>) -> Term {
        // NaN and infinities do not exist in Erlang: they travel as atoms.
        match Float::try_from(self) {
            Ok(f) => Term::from(f),
            Err(_) if self.is_nan() => atom("nan"),
            Err(_) if self > 0.0 => atom("infinity"),
            Err(_) => atom("neg_infinity"),
        }
    }
}

impl FromTerm for f64 {
    fn from_term(term: &Term, _: &Codec<'_>) -> Result<Self, DecodeError> {
        match term {
            Term::Float(f) => Ok(f.value),
            Term::FixInteger(i) => Ok(f64::from(i.value)),
            other => Err(DecodeError::new("a float", other)),
        }
    }
}

impl IntoTerm for f32 {
    fn into_term(self, codec: &Codec<'_>) -> Term {
        f64::from(self).into_term(codec)
    }
}

impl FromTerm for f32 {
    fn from_term(term: &Term, codec: &Codec<'_>) -> Result<Self, DecodeError> {
        f64::from_term(term, codec).map(|f| f as f32)
    }
}

impl IntoTerm for bool {
    fn into_term(self, _: &Codec<'_>) -> Term {
        atom(if self { "true" } else { "false" })
    }
}

impl FromTerm for bool {
    fn from_term(term: &Term, _: &Codec<'_>) -> Result<Self, DecodeError> {
        if is_atom(term, "true") {
            Ok(true)
        } else if is_atom(term, "false") {
            Ok(false)
        } else {
            Err(DecodeError::new("true or false", term))
        }
    }
}

impl IntoTerm for String {
    fn into_term(self, _: &Codec<'_>) -> Term {
        Term::from(Binary::from(self.into_bytes()))
    }
}

impl IntoTerm for &'static str {
    fn into_term(self, _: &Codec<'_>) -> Term {
        Term::from(Binary::from(self.as_bytes().to_vec()))
    }
}

impl FromTerm for String {
    fn from_term(term: &Term, _: &Codec<'_>) -> Result<Self, DecodeError> {
        let bytes = match term {
            Term::Binary(b) => b.bytes.clone(),
            Term::ByteList(l) => l.bytes.clone(),
            Term::List(l) if l.elements.is_empty() => Vec::new(),
            other => return Err(DecodeError::new("a UTF-8 binary", other)),
        };
        String::from_utf8(bytes).map_err(|_| DecodeError::new("a UTF-8 binary", term))
    }
}

impl IntoTerm for () {
    fn into_term(self, _: &Codec<'_>) -> Term {
        atom("ok")
    }
}

impl FromTerm for () {
    fn from_term(term: &Term, _: &Codec<'_>) -> Result<Self, DecodeError> {
        if is_atom(term, "ok") {
            Ok(())
        } else {
            Err(DecodeError::new("ok", term))
        }
    }
}

impl<T: IntoTerm> IntoTerm for Vec<T> {
    fn into_term(self, codec: &Codec<'_>) -> Term {
        let elements: Vec<Term> = self.into_iter().map(|e| e.into_term(codec)).collect();
        Term::from(List::from(elements))
    }
}

impl<T: FromTerm> FromTerm for Vec<T> {
    fn from_term(term: &Term, codec: &Codec<'_>) -> Result<Self, DecodeError> {
        match term {
            Term::List(l) => l.elements.iter().map(|e| T::from_term(e, codec)).collect(),
            // A list of small integers may arrive as a byte string.
            Term::ByteList(l) => l
                .bytes
                .iter()
                .map(|b| T::from_term(&Term::from(FixInteger::from(*b)), codec))
                .collect(),
            other => Err(DecodeError::new("a list", other)),
        }
    }
}

impl<T: IntoTerm> IntoTerm for Option<T> {
    fn into_term(self, codec: &Codec<'_>) -> Term {
        match self {
            Some(v) => v.into_term(codec),
            None => atom("undefined"),
        }
    }
}

impl<T: FromTerm> FromTerm for Option<T> {
    fn from_term(term: &Term, codec: &Codec<'_>) -> Result<Self, DecodeError> {
        if is_atom(term, "undefined") {
            Ok(None)
        } else {
            T::from_term(term, codec).map(Some)
        }
    }
}

impl<K, V> IntoTerm for HashMap<K, V>
where
    K: IntoTerm,
    V: IntoTerm,
{
    fn into_term(self, codec: &Codec<'_>) -> Term {
        let map: HashMap<Term, Term> = self
            .into_iter()
            .map(|(k, v)| (k.into_term(codec), v.into_term(codec)))
            .collect();
        Term::from(Map::from(map))
    }
}

impl<K, V> FromTerm for HashMap<K, V>
where
    K: FromTerm + Eq + Hash,
    V: FromTerm,
{
    fn from_term(term: &Term, codec: &Codec<'_>) -> Result<Self, DecodeError> {
        match term {
            Term::Map(m) => m
                .map
                .iter()
                .map(|(k, v)| Ok((K::from_term(k, codec)?, V::from_term(v, codec)?)))
                .collect(),
            other => Err(DecodeError::new("a map", other)),
        }
    }
}

impl IntoTerm for ActorRef {
    fn into_term(self, codec: &Codec<'_>) -> Term {
        Term::from(codec.pid_of(&self))
    }
}

impl FromTerm for ActorRef {
    fn from_term(term: &Term, codec: &Codec<'_>) -> Result<Self, DecodeError> {
        match term {
            Term::Pid(pid) => codec
                .actor_of(pid)
                .ok_or_else(|| DecodeError::new("the pid of a live process", term)),
            other => Err(DecodeError::new("a pid", other)),
        }
    }
}

impl IntoTerm for ExitReason {
    fn into_term(self, _: &Codec<'_>) -> Term {
        crate::reason::to_term(&self)
    }
}

impl FromTerm for ExitReason {
    fn from_term(term: &Term, _: &Codec<'_>) -> Result<Self, DecodeError> {
        Ok(crate::reason::from_term(term))
    }
}

macro_rules! tuples {
    ($(($($name:ident . $idx:tt),+) = $n:expr;)*) => {$(
        impl<$($name: IntoTerm),+> IntoTerm for ($($name,)+) {
            fn into_term(self, codec: &Codec<'_>) -> Term {
                tuple([$(self.$idx.into_term(codec)),+])
            }
        }
        impl<$($name: FromTerm),+> FromTerm for ($($name,)+) {
            fn from_term(term: &Term, codec: &Codec<'_>) -> Result<Self, DecodeError> {
                match term {
                    Term::Tuple(t) if t.elements.len() == $n => {
                        Ok(($($name::from_term(&t.elements[$idx], codec)?,)+))
                    }
                    other => Err(DecodeError::new(concat!("a tuple of ", stringify!($n)), other)),
                }
            }
        }
    )*};
}
tuples! {
    (A.0) = 1;
    (A.0, B.1) = 2;
    (A.0, B.1, C.2) = 3;
    (A.0, B.1, C.2, D.3) = 4;
    (A.0, B.1, C.2, D.3, E.4) = 5;
    (A.0, B.1, C.2, D.3, E.4, F.5) = 6;
}
