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

/// A jemalloc options string for the `malloc_conf` symbol a binary
/// exports (a C `const char *`, read before the first allocation).
#[repr(transparent)]
pub struct Conf(*const u8);

// SAFETY: a pointer to an immutable static string.
unsafe impl Sync for Conf {}

impl Conf {
    /// `conf` is NUL-terminated (checked at compile time).
    pub const fn new(conf: &'static [u8]) -> Conf {
        assert!(!conf.is_empty() && conf[conf.len() - 1] == 0);
        Conf(conf.as_ptr())
    }
}

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
    let decays = [("dirty_decay_ms", DIRTY_DECAY_MS), ("muzzy_decay_ms", 0)];
    // SAFETY: `arenas.narenas` is an unsigned.
    let arenas = unsafe { raw::read::<u32>(b"arenas.narenas\0") }.unwrap_or(0);
    let mut ok = true;
    for (name, ms) in decays {
        // The default for arenas created from now on.
        let key = format!("arenas.{name}\0");
        // SAFETY: a NUL-terminated jemalloc control of type ssize_t,
        // written with an isize.
        ok &= unsafe { raw::write(key.as_bytes(), ms) }.is_ok();
        // The arenas that exist already, one by one (these controls take
        // no "all arenas" index); an index not initialised yet fails and
        // gets the default above when it is.
        for i in 0..arenas {
            let key = format!("arena.{i}.{name}\0");
            // SAFETY: as above.
            let _ = unsafe { raw::write(key.as_bytes(), ms) };
        }
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
            // Arena 0 exists from the first allocation on.
            assert_eq!(
                raw::read::<isize>(b"arena.0.dirty_decay_ms\0").unwrap(),
                super::DIRTY_DECAY_MS
            );
        }
    }
}
