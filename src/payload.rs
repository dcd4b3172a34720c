//! A message's payload: any `Send + 'static` value, type-erased, stored in
//! place when it is small.
//!
//! Most messages are a few words (`Ping`, `Token(u64)`, `(u64, u64)`). In a
//! `Box<dyn Any>` each one costs an allocation by its sender and a free by
//! its receiver, on different threads, which the allocator handles poorly:
//! it was a third of the time of a 2→1 fan-in. A [`Payload`] keeps values
//! of up to two words inline and boxes larger ones, behind one small table
//! of functions per type.

use std::any::{Any, TypeId};
use std::marker::PhantomData;
use std::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};

/// Room for a value kept inline: two words, word-aligned.
type Slot = MaybeUninit<[usize; 2]>;

/// Whether an `M` is kept inline (else it is boxed, and the box is inline).
const fn fits<M>() -> bool {
    size_of::<M>() <= size_of::<Slot>() && align_of::<M>() <= align_of::<Slot>()
}

/// What a payload knows about the type it holds.
struct VTable {
    type_id: fn() -> TypeId,
    /// The type's name, asked for only to name a message (in a dead letter,
    /// a report): here rather than in every envelope, which it would make
    /// two words longer to move at every step.
    type_name: fn() -> &'static str,
    /// Drops the value in the slot.
    drop: unsafe fn(*mut Slot),
    /// Moves the value out of the slot into a `Box<dyn Any>`.
    into_box: unsafe fn(*mut Slot) -> Box<dyn Any + Send>,
}

/// The table of an `M`.
struct Table<M>(PhantomData<M>);

impl<M: Send + 'static> Table<M> {
    const VTABLE: VTable = VTable {
        type_id: TypeId::of::<M>,
        type_name: std::any::type_name::<M>,
        drop: drop_value::<M>,
        into_box: into_box::<M>,
    };
}

/// # Safety
/// The slot holds an `M` written by `Payload::new::<M>`, not yet moved out.
unsafe fn drop_value<M>(slot: *mut Slot) {
    if fits::<M>() {
        slot.cast::<M>().drop_in_place();
    } else {
        slot.cast::<Box<M>>().drop_in_place();
    }
}

/// # Safety
/// As for [`drop_value`]; afterwards the slot must be treated as empty.
unsafe fn into_box<M: Send + 'static>(slot: *mut Slot) -> Box<dyn Any + Send> {
    if fits::<M>() {
        Box::new(slot.cast::<M>().read())
    } else {
        slot.cast::<Box<M>>().read()
    }
}

/// Tells quickly that two payloads hold the same type: the address of
/// the type's table. Equal keys mean one table, so one type; a type's table
/// may exist more than once (each crate may keep its own copy), so
/// different keys prove nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TypeKey(usize);

/// A type-erased message value (see the module docs).
///
/// The value's slot comes first (`repr(C)`): see [`Envelope`](crate::Envelope)'s
/// layout.
#[repr(C)]
pub(crate) struct Payload {
    slot: Slot,
    vtable: &'static VTable,
}

// SAFETY: a `Payload` is only made from an `M: Send` (`Payload::new`), which
// it owns, inline or in a box; it exposes the value only by moving it out.
unsafe impl Send for Payload {}

impl Payload {
    pub fn new<M: Send + 'static>(value: M) -> Self {
        let mut slot = Slot::uninit();
        if fits::<M>() {
            // SAFETY: the slot is large and aligned enough for an `M`
            // (`fits`), and uninitialised, so nothing is overwritten.
            unsafe { slot.as_mut_ptr().cast::<M>().write(value) };
        } else {
            // SAFETY: a `Box<M>` of a sized `M` is one pointer, which fits
            // the slot; the slot is uninitialised.
            unsafe { slot.as_mut_ptr().cast::<Box<M>>().write(Box::new(value)) };
        }
        Payload {
            slot,
            vtable: &Table::<M>::VTABLE,
        }
    }

    /// The `TypeId` of the value held.
    #[inline]
    pub fn type_id(&self) -> TypeId {
        (self.vtable.type_id)()
    }

    /// Whether the value held is an `M`.
    #[inline]
    pub fn is<M: 'static>(&self) -> bool {
        self.type_id() == TypeId::of::<M>()
    }

    /// The name of the value's type, as `std::any::type_name` gives it.
    pub fn type_name(&self) -> &'static str {
        (self.vtable.type_name)()
    }

    /// What gives the name of the value's type, to call only if needed.
    #[inline]
    pub fn type_namer(&self) -> fn() -> &'static str {
        self.vtable.type_name
    }

    /// The key of the value's type (see [`TypeKey`]).
    #[inline]
    pub fn type_key(&self) -> TypeKey {
        TypeKey(self.vtable as *const VTable as usize)
    }

    /// The value, if it is an `M`; else the payload back.
    pub fn downcast<M: 'static>(self) -> Result<M, Self> {
        if !self.is::<M>() {
            return Err(self);
        }
        // SAFETY: the value is an `M`: it has `M`'s `TypeId`.
        Ok(unsafe { self.take::<M>() })
    }

    /// [`downcast`](Self::downcast) for a handler: the table's address
    /// answers without a call when the payload was made where `M`'s
    /// handler was compiled, the common case.
    #[inline]
    pub fn downcast_sent<M: Send + 'static>(self) -> Result<M, Self> {
        if !std::ptr::eq(self.vtable, &Table::<M>::VTABLE) && !self.is::<M>() {
            return Err(self);
        }
        // SAFETY: the value is an `M`: its table is `M`'s (a table is made
        // for one type), or it has `M`'s `TypeId`.
        Ok(unsafe { self.take::<M>() })
    }

    /// Moves the value out, its type not looked at (a handler's, whose
    /// table already told the type: see `Handlers::call`).
    ///
    /// # Safety
    /// The value held is an `M`.
    #[inline]
    pub(crate) unsafe fn take<M: 'static>(self) -> M {
        // Not dropped: the value is moved out below.
        let mut this = ManuallyDrop::new(self);
        let slot = this.slot.as_mut_ptr();
        // SAFETY: `Payload::new::<M>` wrote the value, inline exactly when
        // `fits::<M>()` (the same rule here), and it is read once: `this`
        // is never dropped.
        unsafe {
            if fits::<M>() {
                slot.cast::<M>().read()
            } else {
                *slot.cast::<Box<M>>().read()
            }
        }
    }

    /// The value in a `Box<dyn Any>` (for a fallback handler, or plain code).
    pub fn into_box(self) -> Box<dyn Any + Send> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: the vtable is the one of the type `Payload::new` wrote, and
        // the value is moved out once: `this` is never dropped.
        unsafe { (this.vtable.into_box)(&mut this.slot) }
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        // SAFETY: the vtable matches the value written by `Payload::new`,
        // and a payload whose value was moved out is never dropped.
        unsafe { (self.vtable.drop)(&mut self.slot) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts its drops.
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Larger than the slot, with a drop count.
    struct Big {
        _tracked: Tracked,
        _padding: [u64; 4],
    }

    #[test]
    fn small_and_large_values_come_back_unchanged() {
        assert!(fits::<u64>() && fits::<(u64, u64)>() && fits::<()>() && !fits::<String>());
        assert_eq!(Payload::new(7u64).downcast::<u64>().ok(), Some(7));
        assert_eq!(
            Payload::new((1u64, 2u64)).downcast::<(u64, u64)>().ok(),
            Some((1, 2))
        );
        assert_eq!(Payload::new(()).downcast::<()>().ok(), Some(()));
        let text = "a string is three words".to_string();
        assert_eq!(
            Payload::new(text.clone()).downcast::<String>().ok(),
            Some(text)
        );
        assert_eq!(Payload::new(7u128).downcast::<u128>().ok(), Some(7));
    }

    #[test]
    fn a_wrong_downcast_gives_the_payload_back_intact() {
        let payload = Payload::new(vec![1, 2, 3]);
        assert!(payload.is::<Vec<i32>>() && !payload.is::<u64>());
        let payload = payload.downcast::<u64>().expect_err("not a u64");
        assert_eq!(payload.type_id(), TypeId::of::<Vec<i32>>());
        assert_eq!(payload.downcast::<Vec<i32>>().ok(), Some(vec![1, 2, 3]));
    }

    /// The handlers' downcast: the right type comes out, inline or boxed,
    /// whichever table the payload was made with; a wrong one gives the
    /// payload back intact.
    #[test]
    fn a_handlers_downcast_takes_its_type_only() {
        let (small, large) = (Payload::new(7u64), Payload::new(vec![1u8, 2]));
        assert_eq!(small.type_key(), Payload::new(8u64).type_key());
        assert_ne!(small.type_key(), large.type_key());
        let small = small.downcast_sent::<u32>().expect_err("not a u32");
        let large = large.downcast_sent::<String>().expect_err("not a String");
        assert_eq!(small.downcast_sent::<u64>().ok(), Some(7));
        assert_eq!(large.downcast_sent::<Vec<u8>>().ok(), Some(vec![1, 2]));
    }

    #[test]
    fn every_value_is_dropped_exactly_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let small = || Tracked(drops.clone());
        let big = || Big {
            _tracked: Tracked(drops.clone()),
            _padding: [0; 4],
        };
        assert!(fits::<Tracked>() && !fits::<Big>());

        drop(Payload::new(small()));
        drop(Payload::new(big()));
        assert_eq!(drops.load(Ordering::SeqCst), 2, "dropped in place");

        drop(Payload::new(small()).downcast::<Tracked>().ok());
        drop(Payload::new(big()).downcast::<Big>().ok());
        assert_eq!(
            drops.load(Ordering::SeqCst),
            4,
            "moved out, dropped by the taker"
        );

        drop(Payload::new(small()).into_box());
        drop(Payload::new(big()).into_box());
        assert_eq!(
            drops.load(Ordering::SeqCst),
            6,
            "boxed, dropped with the box"
        );

        let boxed = Payload::new(big()).into_box();
        assert!(boxed.downcast::<Big>().is_ok());
        assert_eq!(drops.load(Ordering::SeqCst), 7);
    }
}
