//! [`ActorId`]: an actor's identity, and the hasher of the tables keyed by it.
//!
//! Apart from [`ActorRef`](crate::ActorRef) because an id is plain data:
//! events, errors and tables hold ids without holding an actor alive.

use std::fmt;
use std::hash::Hasher;

/// An actor's identity: unique within its [`System`](crate::System), never reused.
///
/// ```
/// use ferrotp::ActorId;
/// assert_eq!(ActorId::EXTERNAL.to_string(), "#0");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorId(pub(crate) u64);

impl ActorId {
    /// The sender of an exit signal that came from plain code
    /// ([`ActorRef::exit`](crate::ActorRef::exit)) or from the system itself.
    pub const EXTERNAL: ActorId = ActorId(0);

    /// The number behind the id.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Hashes an [`ActorId`] for the system's tables: one multiplication
/// (Fibonacci hashing) instead of SipHash, which showed in profiles of a
/// million spawns. Ids are not chosen by an adversary.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `ActorId`, which writes one `u64`; kept correct anyway.
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
