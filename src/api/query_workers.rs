//! The threads one API query may use, and how they count against
//! `--query.max-concurrency`.
//!
//! A query always holds one slot of the `--query.max-concurrency`
//! semaphore for its own thread. When it starts it also takes, without
//! waiting, one more slot per extra core that is free right then, for
//! helper threads that split its per-series work (see `storage::Workers`);
//! it keeps them until it ends. So the semaphore bounds the threads
//! evaluating queries, not only the queries: an idle server gives one wide
//! query every core, and a busy one runs each query on one thread, as
//! Prometheus does. Queries waiting for a slot come first: a slot only
//! looks free to `try_acquire` when nobody waits for it.

use std::sync::{Arc, OnceLock};

use storage::Workers;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::alloc::MemoryBudget;

/// The threads a query may use, and the extra slots it holds for them
/// (released when dropped, at the end of the query). Helper threads charge
/// their allocations to `budget`, the query's `--query.max-memory`.
pub(super) fn grant(
    slots: &Arc<Semaphore>,
    budget: Option<&MemoryBudget>,
) -> (Workers, Option<OwnedSemaphorePermit>) {
    static CORES: OnceLock<usize> = OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    grant_on(cores, slots, budget)
}

/// [`grant`] on a machine with `cores` cores.
fn grant_on(
    cores: usize,
    slots: &Arc<Semaphore>,
    budget: Option<&MemoryBudget>,
) -> (Workers, Option<OwnedSemaphorePermit>) {
    // The most extra slots that are free, up to one per extra core.
    let Some((extra, permit)) = (1..cores).rev().find_map(|n| {
        let permit = Arc::clone(slots).try_acquire_many_owned(n as u32).ok()?;
        Some((n, permit))
    }) else {
        return (Workers::default(), None);
    };
    let mut workers = Workers::new(1 + extra);
    if let Some(b) = budget {
        let b = b.clone();
        workers = workers.with_enter(Arc::new(move || Box::new(b.enter())));
    }
    (workers, Some(permit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn extra_threads_take_free_slots_and_give_them_back() {
        let slots = Arc::new(Semaphore::new(5));
        // The query's own slot, as `run_in_slot` takes it.
        let own = Arc::clone(&slots).try_acquire_owned().unwrap();
        let (w, extra) = grant_on(4, &slots, None);
        assert_eq!(w.threads(), 4);
        assert_eq!(slots.available_permits(), 1);
        // A second query finds one slot free: itself and one helper.
        let (w2, extra2) = grant_on(4, &slots, None);
        assert_eq!(w2.threads(), 2);
        assert_eq!(slots.available_permits(), 0);
        // A third finds none: its own thread only.
        let (w3, extra3) = grant_on(4, &slots, None);
        assert_eq!(w3.threads(), 1);
        assert!(extra3.is_none());
        drop((extra, extra2, own));
        assert_eq!(slots.available_permits(), 5);
        // One core: never a helper.
        let (w, extra) = grant_on(1, &slots, None);
        assert_eq!(w.threads(), 1);
        assert!(extra.is_none());
    }

    #[test]
    fn helpers_charge_the_query_budget() {
        let cancel = Arc::new(AtomicBool::new(false));
        let budget = MemoryBudget::new(64 << 20, Arc::clone(&cancel));
        let slots = Arc::new(Semaphore::new(2));
        let (w, _extra) = grant_on(2, &slots, Some(&budget));
        assert_eq!(w.threads(), 2);
        let me = std::thread::current().id();
        // Each part allocates 8 MiB; only the helper's is charged here
        // (this thread never entered the budget).
        let held = w
            .map_ranges(2, 1, |_| {
                let v = vec![1u8; 8 << 20];
                (std::thread::current().id(), v)
            })
            .unwrap();
        assert_eq!(held[0].0, me);
        assert_ne!(held[1].0, me);
        assert!(budget.peak() >= 8 << 20, "peak {}", budget.peak());
        assert!(budget.peak() < 16 << 20, "peak {}", budget.peak());
        assert!(!cancel.load(Ordering::Relaxed));
        // Over the limit on a helper: the budget trips and cancels.
        let small = MemoryBudget::new(1 << 20, Arc::clone(&cancel));
        let (w, _extra) = grant_on(2, &Arc::new(Semaphore::new(1)), Some(&small));
        w.map_ranges(2, 1, |r| (r.start == 1).then(|| vec![1u8; 4 << 20]))
            .unwrap();
        assert!(small.tripped() && cancel.load(Ordering::Relaxed));
    }
}
