//! The memory budget of an idle pooled actor: at most 512 bytes of heap
//! (issue 10; the README's "a million actors in under 500 MB").
//!
//! Resident memory is noisy (pages, the allocator's arenas, other threads),
//! heap bytes are not: this binary counts every allocation through its own
//! global allocator, spawns actors that each handle one message and idle,
//! and divides the heap they hold by their number. A field added to every
//! actor fails here, not silently in a bench nobody ran.
//!
//! One test in this binary on purpose: the allocator is process-wide, and a
//! test running beside it would count its own allocations.

use std::alloc::{GlobalAlloc, Layout, System as SystemAlloc};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrotp::{ActorRef, Executor, Inbox, Stop, Stopped, System};

/// The actor the spawn benches spawn: the budget holds for what they measure.
#[path = "../benches/common/one_shot.rs"]
mod one_shot;
use one_shot::{Hello, OneShot};

/// The system allocator, counting what is live: the bytes asked for, and
/// the bytes a glibc-style malloc hands out for them (an 8-byte header,
/// rounded up to 16, at least 32), which is what resident memory pays.
struct Counting;

static REQUESTED: AtomicUsize = AtomicUsize::new(0);
static CHUNKS: AtomicUsize = AtomicUsize::new(0);

fn chunk(size: usize) -> usize {
    ((size + 8 + 15) & !15).max(32)
}

fn count_in(size: usize) {
    REQUESTED.fetch_add(size, Ordering::Relaxed);
    CHUNKS.fetch_add(chunk(size), Ordering::Relaxed);
}

fn count_out(size: usize) {
    REQUESTED.fetch_sub(size, Ordering::Relaxed);
    CHUNKS.fetch_sub(chunk(size), Ordering::Relaxed);
}

// SAFETY: every call is passed on unchanged to the system allocator, which
// upholds `GlobalAlloc`'s contract; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout contract is passed on as is.
        let ptr = unsafe { SystemAlloc.alloc(layout) };
        if !ptr.is_null() {
            count_in(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { SystemAlloc.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count_in(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (so from the system's)
        // with `layout`, as the caller guarantees.
        unsafe { SystemAlloc.dealloc(ptr, layout) };
        count_out(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and `new_size` is the caller's.
        let new = unsafe { SystemAlloc.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            count_out(layout.size());
            count_in(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The budget of issue 10, per idle pooled actor.
const BUDGET: usize = 512;

/// Actors per measured round: enough that the system's table, which grows
/// by doubling, is paid for at a typical fill, not at one actor's margin.
const N: usize = 4096;

const WAIT: Duration = Duration::from_secs(10);

/// Spawns actors into `into` (already large enough) until it is full; each
/// handles one `Hello`, one at a time, so no queue grows with `N`.
fn spawn_and_greet(system: &System, inbox: &Inbox, into: &mut Vec<ActorRef>) {
    while into.len() < into.capacity() {
        let actor = system.spawn(OneShot);
        inbox.send(&actor, Hello);
        let answer = inbox.recv(WAIT).expect("an actor's answer to Hello");
        assert!(
            answer.is::<Hello>(),
            "expected Hello, got a {}",
            answer.type_name()
        );
        into.push(actor);
    }
}

fn stop_all(inbox: &Inbox, actors: Vec<ActorRef>) {
    for actor in &actors {
        inbox.send(actor, Stop);
    }
    for _ in 0..actors.len() {
        let stopped = inbox.recv(WAIT).expect("an actor's Stopped");
        assert!(stopped.is::<Stopped>(), "got a {}", stopped.type_name());
    }
}

#[test]
fn an_idle_pooled_actor_holds_at_most_512_bytes_of_heap() {
    let system = System::builder().executor(Executor::Pool).build();
    let inbox = system.inbox();
    // A first round pays for what is paid once: the workers, the run
    // queue, the handlers of `OneShot`, the inbox's queue, and the table's
    // first doublings.
    let mut warm = Vec::with_capacity(N);
    spawn_and_greet(&system, &inbox, &mut warm);

    let mut actors = Vec::with_capacity(N);
    let (requested_before, chunks_before) = (
        REQUESTED.load(Ordering::SeqCst),
        CHUNKS.load(Ordering::SeqCst),
    );
    spawn_and_greet(&system, &inbox, &mut actors);
    let requested = REQUESTED
        .load(Ordering::SeqCst)
        .saturating_sub(requested_before)
        / N;
    let chunks = CHUNKS.load(Ordering::SeqCst).saturating_sub(chunks_before) / N;
    println!(
        "memory: {chunks} bytes/actor in malloc chunks ({requested} asked for), \
         {N} idle pooled actors that each handled one message"
    );

    stop_all(&inbox, actors);
    stop_all(&inbox, warm);
    system.shutdown(WAIT).expect("every actor stopped");

    assert!(
        chunks <= BUDGET,
        "an idle pooled actor holds {chunks} bytes of heap ({requested} asked for), \
         over the budget of {BUDGET}: see the README's memory figures"
    );
}
