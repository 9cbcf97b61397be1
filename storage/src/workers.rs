//! The threads one query may spread its per-series work over.
//!
//! A query over tens of thousands of series does the same independent work
//! for each (find its chunks, build its labels, decode, compute a range
//! function), so that work is split into contiguous runs of series, one per
//! thread, and the results are put back together in order: the answer does
//! not depend on the split. Threads are scoped to one call (spawned and
//! joined there), so nothing outlives the query, and a query holds as many
//! threads as its caller granted it (the server counts them against
//! `--query.max-concurrency`).

use std::any::Any;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// Run first on every helper thread; the guard it returns is dropped when
/// the thread's part is done (the server enters the query's memory budget
/// here, so a helper's allocations are charged like the caller's).
pub type EnterFn = dyn Fn() -> Box<dyn Any> + Send + Sync;

/// How many threads a query may use, the calling one included, and what a
/// helper thread does first. The default is the calling thread alone.
#[derive(Clone, Default)]
pub struct Workers {
    threads: usize,
    enter: Option<Arc<EnterFn>>,
    /// Overrides the callers' smallest run per thread (see
    /// [`Workers::with_min_len`]).
    min_len: Option<usize>,
}

impl fmt::Debug for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workers")
            .field("threads", &self.threads())
            .field("enter", &self.enter.is_some())
            .field("min_len", &self.min_len)
            .finish()
    }
}

impl Workers {
    /// Up to `threads` threads (0 and 1 both mean the calling thread only).
    pub fn new(threads: usize) -> Workers {
        Workers {
            threads,
            enter: None,
            min_len: None,
        }
    }

    /// The same, splitting any input of at least `min_len` items per
    /// thread, whatever smallest run a caller asks for. Callers keep small
    /// inputs on one thread because starting threads costs more; tests use
    /// 1 here so that every query, however small, takes the split paths.
    pub fn with_min_len(mut self, min_len: usize) -> Workers {
        self.min_len = Some(min_len);
        self
    }

    /// The same, with `enter` run first on every helper thread.
    pub fn with_enter(mut self, enter: Arc<EnterFn>) -> Workers {
        self.enter = Some(enter);
        self
    }

    /// Threads a call may use, the calling one included (at least 1).
    pub fn threads(&self) -> usize {
        self.threads.max(1)
    }

    /// Splits `0..n` into at most [`Workers::threads`] contiguous ranges of
    /// at least `min_len` items each (one range when `n < 2 * min_len`),
    /// runs `f` on every range, the first on the calling thread and the
    /// others on helper threads, and returns the results in range order.
    ///
    /// A helper thread that cannot be started leaves its range to the
    /// calling thread. A panic in `f` on a helper thread becomes
    /// [`Error::WorkerPanicked`] once all threads have stopped (the query
    /// fails, the server goes on); one on the calling thread unwinds as it
    /// would with a single thread.
    pub fn map_ranges<T: Send>(
        &self,
        n: usize,
        min_len: usize,
        f: impl Fn(Range<usize>) -> T + Sync,
    ) -> Result<Vec<T>> {
        self.run(self.split(n, min_len), f)
    }

    /// [`Workers::map_ranges`] over owned items: `items` is cut into the
    /// same contiguous runs, each handed to `f` by value.
    pub fn map_parts<I: Send, T: Send>(
        &self,
        mut items: Vec<I>,
        min_len: usize,
        f: impl Fn(Vec<I>) -> T + Sync,
    ) -> Result<Vec<T>> {
        let ranges = self.split(items.len(), min_len);
        if ranges.len() == 1 {
            return Ok(vec![f(items)]);
        }
        let mut parts: Vec<Vec<I>> = ranges
            .iter()
            .rev()
            .map(|r| items.split_off(r.start))
            .collect();
        parts.reverse();
        self.run(parts, f)
    }

    /// Contiguous ranges covering `0..n`: as many as threads, each at least
    /// `min_len` long, at least one.
    fn split(&self, n: usize, min_len: usize) -> Vec<Range<usize>> {
        let min_len = self.min_len.unwrap_or(min_len).max(1);
        let parts = self.threads().min(n / min_len).max(1);
        (0..parts)
            .map(|i| (n * i / parts)..(n * (i + 1) / parts))
            .collect()
    }

    /// Runs `f` on every part, the first on the calling thread.
    fn run<P: Send, T: Send>(&self, parts: Vec<P>, f: impl Fn(P) -> T + Sync) -> Result<Vec<T>> {
        let mut parts = parts.into_iter();
        let Some(first) = parts.next() else {
            return Ok(Vec::new());
        };
        // Each helper's part waits in a slot it takes, so that a helper
        // that never started leaves its part to be run here.
        let slots: Vec<Mutex<Option<P>>> = parts.map(|p| Mutex::new(Some(p))).collect();
        if slots.is_empty() {
            return Ok(vec![f(first)]);
        }
        let f = &f;
        std::thread::scope(|scope| {
            let helpers: Vec<_> = slots
                .iter()
                .map(|slot| {
                    let enter = self.enter.clone();
                    std::thread::Builder::new()
                        .name("query-worker".into())
                        .spawn_scoped(scope, move || {
                            let _guard = enter.as_ref().map(|e| e());
                            take(slot).map(f)
                        })
                        .ok()
                })
                .collect();
            let mut out = Vec::with_capacity(slots.len() + 1);
            out.push(f(first));
            let mut panicked = None;
            for (handle, slot) in helpers.into_iter().zip(&slots) {
                let done = match handle.map(|h| h.join()) {
                    Some(Ok(r)) => r,
                    Some(Err(panic)) => {
                        panicked.get_or_insert_with(|| panic_message(&*panic));
                        None
                    }
                    None => None,
                };
                // A part no helper took is run here (a panicked helper
                // took its part).
                out.extend(done.or_else(|| take(slot).map(f)));
            }
            match panicked {
                Some(msg) => Err(Error::WorkerPanicked(msg)),
                None => Ok(out),
            }
        })
    }
}

/// The message a panic was raised with.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic without a message".into())
}

/// The part waiting in `slot`, if still there.
fn take<P>(slot: &Mutex<Option<P>>) -> Option<P> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn ranges_cover_everything_in_order() {
        for threads in [0, 1, 2, 3, 8] {
            for n in [0, 1, 5, 99, 1000] {
                let w = Workers::new(threads);
                let parts = w.map_ranges(n, 10, |r| r).unwrap();
                assert!(parts.len() <= w.threads());
                let flat: Vec<usize> = parts.into_iter().flatten().collect();
                assert_eq!(flat, (0..n).collect::<Vec<_>>(), "threads {threads} n {n}");
            }
        }
    }

    #[test]
    fn owned_parts_come_back_in_order() {
        for threads in [1, 2, 3] {
            let items: Vec<String> = (0..100).map(|i| i.to_string()).collect();
            let parts = Workers::new(threads)
                .map_parts(items.clone(), 10, |p| p)
                .unwrap();
            assert_eq!(parts.len(), threads);
            assert_eq!(parts.concat(), items);
        }
    }

    #[test]
    fn small_inputs_stay_on_the_calling_thread() {
        let me = std::thread::current().id();
        let w = Workers::new(4);
        let ids = w
            .map_ranges(15, 10, |_| std::thread::current().id())
            .unwrap();
        assert_eq!(ids, vec![me]);
        let ids = w
            .map_ranges(40, 10, |_| std::thread::current().id())
            .unwrap();
        assert_eq!(ids.len(), 4);
        assert_eq!(ids[0], me);
        assert!(ids[1..].iter().all(|&i| i != me));
    }

    #[test]
    fn helpers_run_enter_first_and_drop_its_guard() {
        struct Guard(Arc<AtomicUsize>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.fetch_add(100, Ordering::SeqCst);
            }
        }
        let count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&count);
        let w = Workers::new(3).with_enter(Arc::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Box::new(Guard(Arc::clone(&c)))
        }));
        w.map_ranges(300, 1, |_| ()).unwrap();
        // Two helpers entered and left; the calling thread did neither.
        assert_eq!(count.load(Ordering::SeqCst), 202);
    }

    #[test]
    fn a_panic_in_a_helper_is_an_error() {
        let w = Workers::new(2);
        let r = w.map_ranges(100, 1, |r| {
            if r.start > 0 {
                panic!("boom at {}", r.start);
            }
        });
        match r {
            Err(Error::WorkerPanicked(msg)) => assert_eq!(msg, "boom at 50"),
            other => panic!("expected a worker panic error, got {other:?}"),
        }
    }

    #[test]
    fn min_len_override_splits_small_inputs() {
        let w = Workers::new(3).with_min_len(1);
        let parts = w.map_ranges(5, 1000, |r| r).unwrap();
        assert_eq!(parts, vec![0..1, 1..3, 3..5]);
    }
}
