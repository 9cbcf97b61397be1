//! The process's heap: the allocator the binary installs ([`Counting`],
//! which charges per-query [`MemoryBudget`]s), and its policy, set once at
//! start by the server (and by the benchmarks that measure the engine as
//! the server runs it).
//!
//! glibc hands freed memory at the top of a heap back to the kernel as soon
//! as more than 128 KiB is free there (and allocations above its mmap
//! threshold are unmapped on free). A range query over thousands of series
//! allocates and frees tens of MiB of result points, so with those defaults
//! every query page-faults its whole working set in again: 30–40% of
//! `rate(a_two_thousand[1m])`'s time (see docs/performance.md). Keeping up
//! to [`TRIM_THRESHOLD`] free per heap trades that much resident memory
//! after a large query for not paying the faults on the next one, which is
//! what Go's heap (Prometheus) does too.

mod budget;
mod counting;
pub mod system_memory;

pub use budget::{MemoryBudget, Scope};
pub use counting::Counting;

/// Free bytes a heap may keep at its top before glibc returns them.
pub const TRIM_THRESHOLD: usize = 128 << 20;

/// Allocations at least this large get their own mapping (returned to the
/// kernel on free); smaller ones come from, and go back to, the heap.
pub const MMAP_THRESHOLD: usize = 32 << 20;

/// Applies the heap policy above. Returns whether the allocator took it
/// (only glibc does; elsewhere this does nothing).
pub fn tune() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is called
        // before the server starts its threads.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int) == 1
                && libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_policy() {
        assert!(super::tune());
    }
}
