//! Panics inside actors: turning a payload into text, and keeping the
//! default panic hook quiet for panics the runtime already reports.

use std::any::Any;
use std::cell::Cell;
use std::sync::Once;

thread_local! {
    /// Set while the runtime runs actor code that it guards with `catch_unwind`.
    static IN_ACTOR_CODE: Cell<bool> = const { Cell::new(false) };
}

/// The text of a panic payload (`&str` and `String` payloads; anything else
/// gets a placeholder).
pub(crate) fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<non-text panic payload>".to_string()
    }
}

/// Runs `f`, catching a panic and returning its text.
#[inline]
pub(crate) fn guard<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let was = IN_ACTOR_CODE.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_ACTOR_CODE.with(|c| c.set(was));
    result.map_err(|payload| payload_text(payload.as_ref()))
}

/// Drops mail the runtime discards (a dead letter, mail left in a
/// terminated actor's mailbox), catching a panic in its `Drop`.
///
/// Such mail belongs to no running code: a panic while dropping it is
/// logged and goes no further, so it never takes down the thread that
/// happens to drop it (a pool worker, the sender, a shutdown).
pub(crate) fn discard<T>(value: T, to: crate::ActorId) {
    if let Err(text) = guard(move || drop(value)) {
        tracing::error!(actor = %to, panic = %text, "dropping a dead letter panicked");
    }
}

/// Silences the default panic hook's message for panics inside actor code.
///
/// A panic in a handler, `started`, `stopped` or an actor's `Drop` never
/// crashes the program: the runtime catches it, turns it into
/// [`ExitReason::Panic`](crate::ExitReason::Panic) and reports it as a
/// `tracing` event. Rust's default panic hook still prints the panic to
/// stderr first. Call this once (it is idempotent) to skip that print for
/// panics the runtime catches; panics elsewhere are printed as before.
///
/// ```
/// ferrotp::silence_actor_panics();
/// ```
pub fn silence_actor_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_ACTOR_CODE.with(|c| c.get()) {
                previous(info);
            }
        }));
    });
}
