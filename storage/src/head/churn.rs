//! Head churn: how many series were created and removed in the last hour,
//! counted in per-minute buckets of a ring.
//!
//! The head records one event per series it creates (not per sample) and
//! one per truncation that removes series, so the cost is a clock read and
//! an uncontended lock next to the postings write lock series creation
//! already takes. Nothing is kept per series.

use parking_lot::Mutex;

/// Length of the window the ring covers, in minutes.
const MINUTES: usize = 60;

/// The window [`Churn::window`] reports over, in seconds.
const CHURN_WINDOW_SECONDS: u64 = MINUTES as u64 * 60;

#[derive(Clone, Copy, Default)]
struct Bucket {
    /// Minute since the epoch the counts belong to; a bucket whose minute
    /// is older than the window is stale and reads as zero.
    minute: u64,
    created: u64,
    removed: u64,
}

/// Series created and removed over the last `window_seconds` (an hour).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeadChurn {
    pub window_seconds: u64,
    pub series_created: u64,
    pub series_removed: u64,
}

/// A ring of per-minute buckets, indexed by minute modulo its length.
pub(crate) struct Churn {
    buckets: Mutex<[Bucket; MINUTES]>,
}

impl Default for Churn {
    fn default() -> Self {
        Churn {
            buckets: Mutex::new([Bucket::default(); MINUTES]),
        }
    }
}

impl Churn {
    /// Adds `created` and `removed` series to the bucket of `now_secs`.
    pub fn record(&self, now_secs: u64, created: u64, removed: u64) {
        let minute = now_secs / 60;
        let mut ring = self.buckets.lock();
        let b = &mut ring[(minute % MINUTES as u64) as usize];
        if b.minute != minute {
            // The slot last held a minute at least an hour old: reuse it.
            *b = Bucket {
                minute,
                ..Bucket::default()
            };
        }
        b.created += created;
        b.removed += removed;
    }

    /// Totals over the current minute and the 59 before it (so between 59
    /// and 60 minutes of history, depending on how far into the minute
    /// `now_secs` is).
    pub fn window(&self, now_secs: u64) -> HeadChurn {
        let now = now_secs / 60;
        let oldest = now.saturating_sub(MINUTES as u64 - 1);
        let ring = self.buckets.lock();
        let (created, removed) = ring
            .iter()
            .filter(|b| (oldest..=now).contains(&b.minute))
            .fold((0, 0), |(c, r), b| (c + b.created, r + b.removed));
        HeadChurn {
            window_seconds: CHURN_WINDOW_SECONDS,
            series_created: created,
            series_removed: removed,
        }
    }
}

/// Seconds since the epoch (0 for a clock before 1970).
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(c: &Churn, now: u64) -> (u64, u64) {
        let w = c.window(now);
        assert_eq!(w.window_seconds, 3600);
        (w.series_created, w.series_removed)
    }

    #[test]
    fn counts_within_the_hour_and_forgets_older_minutes() {
        let c = Churn::default();
        let t0 = 1_700_000_000 / 60 * 60; // start of a minute
        assert_eq!(totals(&c, t0), (0, 0));
        c.record(t0, 3, 0);
        c.record(t0 + 59, 1, 0);
        c.record(t0 + 60, 0, 2);
        c.record(t0 + 30 * 60, 5, 1);
        assert_eq!(totals(&c, t0 + 30 * 60), (9, 3));
        // Minute t0 is still the oldest of the 60 at t0 + 59m59s...
        assert_eq!(totals(&c, t0 + 3599), (9, 3));
        // ...and has left the window one minute later.
        assert_eq!(totals(&c, t0 + 3600), (5, 3));
        assert_eq!(totals(&c, t0 + 3660), (5, 1));
        // A reading from before a bucket's minute does not count it.
        assert_eq!(totals(&c, t0 - 60), (0, 0));
        // The slot of minute t0 is reused an hour later, from zero.
        c.record(t0 + 3600, 7, 0);
        assert_eq!(totals(&c, t0 + 3600), (12, 3));
        assert_eq!(totals(&c, t0 + 2 * 3600 + 60), (0, 0));
    }

    #[test]
    fn a_clock_at_zero_is_a_minute_like_any_other() {
        let c = Churn::default();
        // Default buckets claim minute 0; they hold no counts, so a reading
        // at time 0 is still exact.
        assert_eq!(totals(&c, 0), (0, 0));
        c.record(0, 1, 1);
        assert_eq!(totals(&c, 10), (1, 1));
    }
}
