//! The per-target scrape cache: raw series text (`name{labels}` exactly as
//! the target wrote it) → storage series ref, or "dropped by
//! metric_relabel_configs". On a hit the scrape loop appends by ref without
//! parsing labels, relabeling or hashing a label set.
//!
//! The cache also tracks which series each scrape wrote, for staleness:
//! every ingest attempt gets a sequence number, and an entry remembers the
//! last two attempts that wrote it, which answers "was this series written
//! by attempt k" for the previous attempt even while the current one is
//! writing it. It also keeps the metadata (TYPE/HELP/UNIT) the target
//! exposed.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::hash::SeriesHashBuilder;
use super::status::MetricMetadata;

/// What a cached series resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    Series(u64),
    Dropped,
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) resolved: Resolved,
    /// Last attempt whose payload contained this series.
    seen: u64,
    /// The last two distinct attempts that wrote a sample subject to
    /// staleness (no explicit timestamp) for this series; 0 = never.
    tracked: u64,
    tracked_before: u64,
}

impl Entry {
    fn tracked_in(&self, attempt: u64) -> bool {
        attempt != 0 && (self.tracked == attempt || self.tracked_before == attempt)
    }
}

/// Metadata of one metric family, with the successful-scrape counter at
/// which it was last seen (entries are kept for 10 scrapes after their
/// metric disappears, as Prometheus does).
#[derive(Clone, Debug)]
struct MetaEntry {
    kind: &'static str,
    help: String,
    unit: String,
    last_ok: u64,
}

/// Metadata shared with the target's status (read by the HTTP API while
/// the loop writes).
#[derive(Debug, Default)]
pub(crate) struct MetadataStore {
    entries: HashMap<String, MetaEntry>,
}

impl MetadataStore {
    pub(crate) fn list(&self) -> Vec<MetricMetadata> {
        let mut v: Vec<MetricMetadata> = self
            .entries
            .iter()
            .map(|(m, e)| MetricMetadata {
                metric: m.clone(),
                kind: e.kind.to_string(),
                help: e.help.clone(),
                unit: e.unit.clone(),
            })
            .collect();
        v.sort_by(|a, b| a.metric.cmp(&b.metric));
        v
    }
}

pub(crate) type SharedMetadata = Arc<Mutex<MetadataStore>>;

/// Which part of a family's metadata an exposition line set.
pub(crate) enum Meta<'a> {
    Type(&'static str),
    Help(&'a str),
    Unit(&'a str),
}

pub(crate) struct ScrapeCache {
    series: HashMap<Box<[u8]>, Entry, SeriesHashBuilder>,
    /// The current ingest attempt (first is 1).
    attempt: u64,
    /// The previous attempt, if it succeeded: its series are the ones a
    /// stale marker may be due for.
    last_ok_attempt: u64,
    /// Successful attempts so far; ages metadata.
    ok_count: u64,
    /// Entries right after the last successful attempt; a failing target
    /// whose cache keeps growing is flushed anyway.
    successful_len: usize,
    metadata: SharedMetadata,
}

impl ScrapeCache {
    pub(crate) fn new(metadata: SharedMetadata) -> Self {
        ScrapeCache {
            series: HashMap::with_hasher(SeriesHashBuilder::default()),
            attempt: 0,
            last_ok_attempt: 0,
            ok_count: 0,
            successful_len: 0,
            metadata,
        }
    }

    pub(crate) fn metadata(&self) -> &SharedMetadata {
        &self.metadata
    }

    /// Starts an ingest attempt.
    pub(crate) fn begin(&mut self) {
        self.attempt += 1;
    }

    /// The entry for `series`, marked as seen in this attempt.
    #[inline]
    pub(crate) fn get(&mut self, series: &[u8]) -> Option<&mut Entry> {
        let attempt = self.attempt;
        let e = self.series.get_mut(series)?;
        e.seen = attempt;
        Some(e)
    }

    pub(crate) fn insert(&mut self, series: &[u8], resolved: Resolved) -> &mut Entry {
        let attempt = self.attempt;
        let e = self.series.entry(series.into()).or_insert(Entry {
            resolved,
            seen: attempt,
            tracked: 0,
            tracked_before: 0,
        });
        e.resolved = resolved;
        e.seen = attempt;
        e
    }

    /// Forgets `series` (its ref went stale in storage).
    pub(crate) fn remove(&mut self, series: &[u8]) {
        self.series.remove(series);
    }

    /// Records that this attempt wrote a staleness-tracked sample to `e`.
    #[inline]
    pub(crate) fn track(attempt: u64, e: &mut Entry) {
        if e.tracked != attempt {
            e.tracked_before = e.tracked;
            e.tracked = attempt;
        }
    }

    pub(crate) fn attempt(&self) -> u64 {
        self.attempt
    }

    /// Ends a successful attempt: calls `stale` with the ref of every
    /// series the previous successful attempt wrote and this one did not,
    /// then drops entries this attempt did not see (series churn, or
    /// several spellings of one series).
    pub(crate) fn finish_ok(&mut self, mut stale: impl FnMut(u64)) {
        let (now, prev) = (self.attempt, self.last_ok_attempt);
        let prev = if prev + 1 == now { prev } else { 0 };
        self.series.retain(|_, e| {
            if let Resolved::Series(r) = e.resolved {
                if e.tracked_in(prev) && !e.tracked_in(now) {
                    stale(r);
                }
            }
            e.seen == now
        });
        self.last_ok_attempt = now;
        self.ok_count += 1;
        self.successful_len = self.series.len();
        let ok = self.ok_count;
        self.metadata
            .lock()
            .entries
            .retain(|_, m| ok.saturating_sub(m.last_ok) <= 10);
    }

    /// Ends a failed attempt (or a stopped target): calls `stale` with the
    /// ref of every series the previous attempt wrote, if it succeeded.
    pub(crate) fn finish_failed(&mut self, mut stale: impl FnMut(u64)) {
        let (now, prev) = (self.attempt, self.last_ok_attempt);
        if prev != 0 && prev + 1 == now {
            for e in self.series.values() {
                if let Resolved::Series(r) = e.resolved {
                    if e.tracked_in(prev) {
                        stale(r);
                    }
                }
            }
        }
        // A target failing with ever-new series must not grow the cache
        // without bound: flush what this attempt did not see.
        if self.series.len() > self.successful_len * 2 + 1000 {
            self.series.retain(|_, e| e.seen == now);
        }
    }

    /// Notes metadata from the payload. Allocates only when it changed.
    pub(crate) fn set_meta(&mut self, metric: &str, meta: Meta<'_>) {
        let mut store = self.metadata.lock();
        let ok = self.ok_count + 1;
        let e = match store.entries.get_mut(metric) {
            Some(e) => e,
            None => store
                .entries
                .entry(metric.to_string())
                .or_insert(MetaEntry {
                    kind: "unknown",
                    help: String::new(),
                    unit: String::new(),
                    last_ok: ok,
                }),
        };
        e.last_ok = ok;
        match meta {
            Meta::Type(k) => e.kind = k,
            Meta::Help(h) if e.help != h => e.help = h.to_string(),
            Meta::Unit(u) if e.unit != u => e.unit = u.to_string(),
            _ => {}
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> ScrapeCache {
        ScrapeCache::new(SharedMetadata::default())
    }

    /// One attempt writing `series` (name, ref); returns stale refs.
    fn attempt(c: &mut ScrapeCache, series: &[(&str, u64)], ok: bool) -> Vec<u64> {
        c.begin();
        for (s, r) in series {
            let a = c.attempt();
            let e = match c.get(s.as_bytes()) {
                Some(e) => e,
                None => c.insert(s.as_bytes(), Resolved::Series(*r)),
            };
            ScrapeCache::track(a, e);
        }
        let mut stale = Vec::new();
        if ok {
            c.finish_ok(|r| stale.push(r));
        } else {
            c.finish_failed(|r| stale.push(r));
        }
        stale.sort();
        stale
    }

    #[test]
    fn series_missing_from_the_next_scrape_go_stale_once() {
        let mut c = cache();
        assert!(attempt(&mut c, &[("a", 1), ("b", 2)], true).is_empty());
        assert_eq!(attempt(&mut c, &[("a", 1)], true), vec![2]);
        assert!(attempt(&mut c, &[("a", 1)], true).is_empty());
        assert_eq!(c.len(), 1, "b was flushed");
        assert_eq!(attempt(&mut c, &[], true), vec![1]);
        assert!(attempt(&mut c, &[], true).is_empty());
    }

    #[test]
    fn failed_scrape_marks_everything_of_the_last_success() {
        let mut c = cache();
        attempt(&mut c, &[("a", 1), ("b", 2)], true);
        // The failing attempt wrote `a` before failing: still stale.
        assert_eq!(attempt(&mut c, &[("a", 1)], false), vec![1, 2]);
        // Nothing more to mark while it keeps failing.
        assert!(attempt(&mut c, &[], false).is_empty());
        // Recovery: no markers for series that came back.
        assert!(attempt(&mut c, &[("a", 1)], true).is_empty());
        assert_eq!(attempt(&mut c, &[], true), vec![1]);
    }

    #[test]
    fn dropped_entries_never_go_stale() {
        let mut c = cache();
        c.begin();
        c.insert(b"x", Resolved::Dropped);
        c.finish_ok(|_| panic!("no stale"));
        c.begin();
        c.finish_ok(|_| panic!("no stale"));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn metadata_is_kept_ten_scrapes_after_it_disappears() {
        let mut c = cache();
        c.begin();
        c.set_meta("m", Meta::Type("counter"));
        c.set_meta("m", Meta::Help("Help."));
        c.set_meta("n", Meta::Unit("seconds"));
        c.finish_ok(|_| {});
        let list = c.metadata().lock().list();
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0],
            MetricMetadata {
                metric: "m".into(),
                kind: "counter".into(),
                help: "Help.".into(),
                unit: String::new()
            }
        );
        assert_eq!(list[1].kind, "unknown");
        for _ in 0..10 {
            c.begin();
            c.finish_ok(|_| {});
        }
        assert_eq!(c.metadata().lock().list().len(), 2);
        c.begin();
        c.finish_ok(|_| {});
        assert!(c.metadata().lock().list().is_empty());
    }
}
