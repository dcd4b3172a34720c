//! This process's resident memory, read from `/proc` (Linux): the benches
//! report it, and `tests/bounded_mailbox.rs` checks that a flood into a
//! bounded mailbox keeps it flat. One reader, so both count alike.

/// This process's resident set in bytes (`/proc/self/statm`, Linux).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm (Linux only)");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("resident pages in /proc/self/statm");
    pages * page_size()
}

/// The page size, from the auxiliary vector's `AT_PAGESZ` (std has no call
/// for it); 4 KiB if it cannot be read.
fn page_size() -> u64 {
    const AT_PAGESZ: usize = 6;
    const WORD: usize = std::mem::size_of::<usize>();
    let word = |bytes: &[u8]| usize::from_ne_bytes(bytes.try_into().expect("one word"));
    std::fs::read("/proc/self/auxv")
        .ok()
        .and_then(|auxv| {
            auxv.chunks_exact(2 * WORD)
                .find(|entry| word(&entry[..WORD]) == AT_PAGESZ)
                .map(|entry| word(&entry[WORD..]) as u64)
        })
        .unwrap_or(4096)
}
