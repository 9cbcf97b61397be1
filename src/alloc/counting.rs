//! The process allocator: jemalloc (see [`super`] for why), with every
//! allocation and free charged to the current thread's query budget
//! ([`super::budget`]). The binary and the engine benchmarks install it
//! with `#[global_allocator]`; a thread outside any budget pays one
//! thread-local read per call.

use std::alloc::{GlobalAlloc, Layout};

use tikv_jemallocator::Jemalloc;

use super::budget::charge;

/// jemalloc plus budget accounting.
pub struct Counting;

// SAFETY: every call is forwarded to jemalloc unchanged; the accounting
// neither allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = Jemalloc.alloc(layout);
        if !p.is_null() {
            charge(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = Jemalloc.alloc_zeroed(layout);
        if !p.is_null() {
            charge(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Jemalloc.dealloc(ptr, layout);
        charge(-(layout.size() as isize));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = Jemalloc.realloc(ptr, layout, new_size);
        if !p.is_null() {
            charge(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::super::MemoryBudget;
    use super::Counting;

    // The library's tests run under the allocator the binary installs.
    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    #[test]
    fn real_allocations_are_charged_and_trip_the_budget() {
        let cancel = Arc::new(AtomicBool::new(false));
        let budget = MemoryBudget::new(4 << 20, Arc::clone(&cancel));
        {
            let _scope = budget.enter();
            let small: Vec<u8> = vec![1; 1 << 20];
            assert!(budget.peak() >= 1 << 20);
            drop(small);
            assert!(!budget.tripped());
            let mut grown = Vec::<u64>::new();
            for i in 0..(1 << 20) {
                grown.push(i); // reallocations: 8 MiB in the end
            }
            assert!(budget.tripped() && cancel.load(Ordering::Relaxed));
            std::hint::black_box(&grown);
        }
        assert!(budget.peak() >= 8 << 20);
    }
}
