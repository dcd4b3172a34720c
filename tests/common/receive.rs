//! Receiving in a test: the next message of an [`Inbox`], of the type the
//! test expects, within a generous bound; or proof that nothing is left.
//! Shared by the kernel's test files that read an inbox one message at a
//! time.

use std::any::type_name;
use std::time::Duration;

use ferrotp::Inbox;

/// How long a test waits for a message that must come.
const WAIT: Duration = Duration::from_secs(10);

/// The next message in `inbox`, which must be a `T` and arrive within 10 s.
pub fn next<T: 'static>(inbox: &Inbox) -> T {
    let envelope = inbox
        .recv(WAIT)
        .unwrap_or_else(|_| panic!("no {} within {WAIT:?}", type_name::<T>()));
    let got = envelope.type_name();
    envelope
        .downcast::<T>()
        .unwrap_or_else(|_| panic!("expected a {}, got a {got}", type_name::<T>()))
}

/// Asserts that nothing is left in `inbox` (used after a synchronising
/// message that every earlier message must have preceded).
pub fn assert_empty(inbox: &Inbox) {
    if let Some(envelope) = inbox.try_recv() {
        panic!("unexpected message: {envelope:?}");
    }
}
