//! The process's heap: the allocator the binary installs ([`Counting`]:
//! jemalloc, charging per-query [`MemoryBudget`]s), and its policy, set
//! once at start by the server (and by the benchmarks that measure the
//! engine as the server runs it).
//!
//! Why jemalloc: a range query over thousands of series allocates and
//! frees tens of MiB of points, label sets and buffers. With glibc's
//! defaults every query page-faulted its whole working set in again (30–40%
//! of `rate(a_two_thousand[1m])`), and keeping the freed heap instead
//! (a 128 MiB trim threshold) left it resident after the queries in every
//! per-thread arena, where `malloc_trim` cannot reach the arena tops
//! (276 MiB after a dashboard against 117 MiB after ingest, issue 17);
//! malloc and free themselves were still a third of a wide query's time.
//! jemalloc keeps freed pages for [`DIRTY_DECAY_MS`] and returns them from
//! a background thread after that, like Go's scavenger (Prometheus): a
//! burst of queries reuses its pages, and they are given back once the
//! burst is over (docs/performance.md has the measurements).

mod budget;
mod counting;
pub mod system_memory;

pub use budget::{MemoryBudget, Scope};
pub use counting::Counting;

/// How long freed pages stay mapped for reuse before they are returned.
/// A dashboard's panels arrive within a second or two of each other.
pub const DIRTY_DECAY_MS: isize = 2_000;

/// Applies the heap policy above: decay times for every arena, present and
/// future, and jemalloc's background purging thread (without it, pages
/// are only returned when a thread allocates again). Returns whether
/// jemalloc took all of it.
pub fn tune() -> bool {
    use tikv_jemalloc_ctl::raw;
    // Muzzy pages (MADV_FREE) still count as resident until the kernel
    // needs them; a muzzy decay of 0 returns purged pages outright.
    let settings: [(&[u8], isize); 4] = [
        (b"arenas.dirty_decay_ms\0", DIRTY_DECAY_MS),
        (b"arenas.muzzy_decay_ms\0", 0),
        // 4096 is MALLCTL_ARENAS_ALL: the arenas that exist already.
        (b"arena.4096.dirty_decay_ms\0", DIRTY_DECAY_MS),
        (b"arena.4096.muzzy_decay_ms\0", 0),
    ];
    let mut ok = true;
    for (name, ms) in settings {
        // SAFETY: each name is a NUL-terminated jemalloc control of type
        // ssize_t, written with an isize.
        ok &= unsafe { raw::write(name, ms) }.is_ok();
    }
    ok & tikv_jemalloc_ctl::background_thread::write(true).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn jemalloc_takes_the_policy() {
        use tikv_jemalloc_ctl::raw;
        assert!(super::tune());
        // SAFETY: NUL-terminated controls of the types read.
        unsafe {
            assert_eq!(
                raw::read::<isize>(b"arenas.dirty_decay_ms\0").unwrap(),
                super::DIRTY_DECAY_MS
            );
            assert_eq!(raw::read::<isize>(b"arenas.muzzy_decay_ms\0").unwrap(), 0);
            assert!(raw::read::<bool>(b"background_thread\0").unwrap());
        }
    }
}
