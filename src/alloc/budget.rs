//! Per-query memory budgets, charged by the process allocator.
//!
//! `--query.max-samples` bounds what the engine knows it holds, and the
//! engine checks it before allocating what grows with steps, series or
//! points. This is the defence in depth behind it: every heap allocation
//! and free made on a thread that has [entered](MemoryBudget::enter) a
//! budget is charged to that budget, whatever code made it (label strings,
//! hash maps, function buffers, the JSON answer). When the net amount
//! passes the limit the budget trips: it raises the query's cancel flag, so
//! the engine stops at its next check and the API answers 422 instead of
//! the process growing until the kernel kills it.
//!
//! It cannot refuse a single allocation larger than what is left (an
//! allocator may not fail softly, and unwinding out of one is undefined);
//! the engine's checks before allocating are what stop those.
//!
//! Threads that work for a query must each enter its budget; memory freed
//! on a thread without a budget is simply not credited back.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::Arc;

/// The budget of one query.
#[derive(Clone)]
pub struct MemoryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    limit: isize,
    /// Net bytes allocated minus freed inside the budget's scopes.
    used: AtomicIsize,
    /// Highest `used` seen, for the error message and tests.
    peak: AtomicIsize,
    tripped: AtomicBool,
    /// Raised when the budget trips: the query's cancel flag.
    cancel: Arc<AtomicBool>,
}

thread_local! {
    /// The budget the current thread's allocations are charged to. A plain
    /// pointer with a const initialiser: reading it never allocates and
    /// registers no destructor, which an allocator hook must not do.
    static CURRENT: Cell<*const Inner> = const { Cell::new(std::ptr::null()) };
}

impl MemoryBudget {
    /// A budget of `limit` bytes that raises `cancel` when it trips.
    pub fn new(limit: usize, cancel: Arc<AtomicBool>) -> MemoryBudget {
        MemoryBudget {
            inner: Arc::new(Inner {
                limit: isize::try_from(limit).unwrap_or(isize::MAX),
                used: AtomicIsize::new(0),
                peak: AtomicIsize::new(0),
                tripped: AtomicBool::new(false),
                cancel,
            }),
        }
    }

    /// Charges this thread's allocations to the budget until the returned
    /// guard is dropped (scopes nest; the outer one is restored).
    pub fn enter(&self) -> Scope {
        let budget = Arc::clone(&self.inner);
        let previous = CURRENT.with(|c| c.replace(Arc::as_ptr(&budget)));
        Scope {
            budget,
            previous,
            _not_send: std::marker::PhantomData,
        }
    }

    /// Whether the query went over its limit.
    pub fn tripped(&self) -> bool {
        self.inner.tripped.load(Ordering::Relaxed)
    }

    /// The limit in bytes.
    pub fn limit(&self) -> usize {
        self.inner.limit as usize
    }

    /// The most the query held at once, in bytes.
    pub fn peak(&self) -> usize {
        self.inner.peak.load(Ordering::Relaxed).max(0) as usize
    }
}

/// While alive, the thread's allocations are charged to one budget.
pub struct Scope {
    /// Keeps the budget alive while `CURRENT` points at it.
    budget: Arc<Inner>,
    previous: *const Inner,
    /// The pointer is per thread: the scope must end where it began.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous;
        CURRENT.with(|c| c.set(previous));
        // `budget` is dropped after CURRENT no longer points at it, so the
        // free of its allocation (if this was the last handle) is charged
        // to the outer scope, never to freed memory.
        let _ = &self.budget;
    }
}

/// Charges `delta` bytes (negative for a free) to the current thread's
/// budget, if any. Called by the allocator on every allocation, so it does
/// nothing that allocates.
#[inline]
pub(super) fn charge(delta: isize) {
    // `try_with`: during thread teardown the slot may be gone.
    let _ = CURRENT.try_with(|c| {
        let p = c.get();
        if !p.is_null() {
            // SAFETY: a non-null CURRENT was set by a live `Scope` on this
            // thread, which holds an `Arc` to it until it resets CURRENT.
            unsafe { (*p).charge(delta) }
        }
    });
}

impl Inner {
    #[inline]
    fn charge(&self, delta: isize) {
        let now = self.used.fetch_add(delta, Ordering::Relaxed) + delta;
        if delta > 0 && now > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(now, Ordering::Relaxed);
            if now > self.limit && !self.tripped.swap(true, Ordering::Relaxed) {
                self.cancel.store(true, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_trip_the_budget_and_raise_the_cancel_flag() {
        let cancel = Arc::new(AtomicBool::new(false));
        let b = MemoryBudget::new(1000, Arc::clone(&cancel));
        let _s = b.enter();
        charge(600);
        charge(-500);
        charge(800);
        assert!(!b.tripped() && !cancel.load(Ordering::Relaxed));
        assert_eq!(b.peak(), 900);
        charge(200);
        assert!(b.tripped() && cancel.load(Ordering::Relaxed));
        assert_eq!(b.peak(), 1100);
    }

    #[test]
    fn scopes_nest_and_nothing_is_charged_outside_them() {
        let (a, b) = (
            MemoryBudget::new(100, Arc::default()),
            MemoryBudget::new(100, Arc::default()),
        );
        charge(1_000);
        {
            let _sa = a.enter();
            charge(10);
            {
                let _sb = b.enter();
                charge(20);
            }
            charge(30);
        }
        charge(1_000);
        assert_eq!((a.peak(), b.peak()), (40, 20));
        // Another thread's allocations are its own (the thread is spawned
        // before entering: spawning allocates on this thread).
        let (go, wait) = std::sync::mpsc::sync_channel::<()>(1);
        let other = std::thread::spawn(move || {
            wait.recv().unwrap();
            charge(1_000);
        });
        let c = MemoryBudget::new(100, Arc::default());
        {
            let _sc = c.enter();
            go.send(()).unwrap();
            while !other.is_finished() {
                std::thread::yield_now();
            }
        }
        other.join().unwrap();
        assert!(!c.tripped());
    }
}
