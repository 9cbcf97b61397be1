//! The oldest sample timestamp whose data changed since a reader last
//! looked, for caches of query results built above storage.
//!
//! PromQL (without negative `offset` or `@`) reads at evaluation time `T`
//! only samples at or before `T`, so a change to data at timestamp `t` can
//! only change results at evaluation times `≥ t`. Storage records the
//! smallest such `t`: committed samples note their oldest timestamp once
//! they are visible to queries, a deletion notes the start of its range,
//! retention notes the start of the blocks it drops. A reader takes the
//! value (resetting it) and drops what it derived from times at or after
//! it. Noting after visibility is what makes this exact: a reader that
//! took the feed before a commit either read the new samples or finds
//! their timestamp at its next take.
//!
//! There is one value, so there is one reader (the query cache); storage
//! knows nothing of it.

use std::sync::atomic::{AtomicI64, Ordering};

/// See the module documentation.
#[derive(Debug)]
pub struct ChangeFeed {
    oldest: AtomicI64,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        ChangeFeed {
            oldest: AtomicI64::new(i64::MAX),
        }
    }
}

impl ChangeFeed {
    /// Data at timestamps `≥ t` changed.
    pub(crate) fn note(&self, t: i64) {
        self.oldest.fetch_min(t, Ordering::AcqRel);
    }

    /// The oldest timestamp changed since the last call, if any.
    pub fn take(&self) -> Option<i64> {
        let t = self.oldest.swap(i64::MAX, Ordering::AcqRel);
        (t != i64::MAX).then_some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_oldest_until_taken() {
        let f = ChangeFeed::default();
        assert_eq!(f.take(), None);
        f.note(50);
        f.note(20);
        f.note(70);
        assert_eq!(f.take(), Some(20));
        assert_eq!(f.take(), None);
        f.note(i64::MIN);
        assert_eq!(f.take(), Some(i64::MIN));
    }
}
