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
use std::hash::{BuildHasher, BuildHasherDefault};
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

/// A cache slot: its series text lives in the arena; a free slot has
/// `len == 0` (no series text is empty).
struct Slot {
    off: usize,
    len: usize,
    hash: u64,
    /// Next slot with the same hash.
    next: u32,
    entry: Entry,
}

/// Identity hasher for keys that already are hashes.
#[derive(Default)]
struct HashKey(u64);

impl std::hash::Hasher for HashKey {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

pub(crate) struct ScrapeCache {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Series text hash → first slot of its chain.
    index: HashMap<u64, u32, BuildHasherDefault<HashKey>>,
    hasher: SeriesHashBuilder,
    /// The series texts, one after another in the order they were first
    /// seen, which is the order the target exposes them: the position check
    /// in `get` then reads memory sequentially.
    arena: Vec<u8>,
    /// Arena bytes of freed slots.
    garbage: usize,
    live: usize,
    /// Slot of every sample position of the last successful attempt.
    /// Targets expose their series in the same order every time, so the
    /// slot at the same position is tried first: one comparison instead of
    /// hashing and a random memory access.
    order: Vec<u32>,
    /// This attempt's positions so far (`NO_SLOT` where nothing is cached).
    next_order: Vec<u32>,
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

const NO_SLOT: u32 = u32::MAX;

impl ScrapeCache {
    pub(crate) fn new(metadata: SharedMetadata) -> Self {
        ScrapeCache {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::default(),
            hasher: SeriesHashBuilder::default(),
            arena: Vec::new(),
            garbage: 0,
            live: 0,
            order: Vec::new(),
            next_order: Vec::new(),
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
        self.next_order.clear();
    }

    #[inline]
    fn key(&self, s: &Slot) -> &[u8] {
        &self.arena[s.off..s.off + s.len]
    }

    fn find(&self, series: &[u8], hash: u64) -> Option<u32> {
        let mut i = *self.index.get(&hash)?;
        while i != NO_SLOT {
            let s = &self.slots[i as usize];
            if self.key(s) == series {
                return Some(i);
            }
            i = s.next;
        }
        None
    }

    /// The entry for `series`, marked as seen in this attempt. Call it
    /// once per sample, in payload order: the position predicts the slot.
    #[inline]
    pub(crate) fn get(&mut self, series: &[u8]) -> Option<&mut Entry> {
        let pos = self.next_order.len();
        let predicted = self.order.get(pos).copied().filter(|&i| {
            self.slots
                .get(i as usize)
                .is_some_and(|s| s.len != 0 && self.key(s) == series)
        });
        let idx = match predicted.or_else(|| self.find(series, self.hasher.hash_one(series))) {
            Some(i) => i,
            None => {
                self.next_order.push(NO_SLOT);
                return None;
            }
        };
        self.next_order.push(idx);
        let e = &mut self.slots[idx as usize].entry;
        e.seen = self.attempt;
        Some(e)
    }

    /// Caches `series` (just missed by [`ScrapeCache::get`]).
    pub(crate) fn insert(&mut self, series: &[u8], resolved: Resolved) -> &mut Entry {
        let hash = self.hasher.hash_one(series);
        if let Some(old) = self.find(series, hash) {
            self.free_slot(old);
        }
        let slot = Slot {
            off: self.arena.len(),
            len: series.len(),
            hash,
            next: self.index.get(&hash).copied().unwrap_or(NO_SLOT),
            entry: Entry {
                resolved,
                seen: self.attempt,
                tracked: 0,
                tracked_before: 0,
            },
        };
        self.arena.extend_from_slice(series);
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(hash, idx);
        self.live += 1;
        if let Some(last) = self.next_order.last_mut() {
            *last = idx;
        }
        &mut self.slots[idx as usize].entry
    }

    /// Unlinks slot `idx` from its hash chain and frees it.
    fn free_slot(&mut self, idx: u32) {
        let (hash, next, len) = {
            let s = &self.slots[idx as usize];
            (s.hash, s.next, s.len)
        };
        match self.index.get(&hash).copied() {
            Some(head) if head == idx => {
                if next == NO_SLOT {
                    self.index.remove(&hash);
                } else {
                    self.index.insert(hash, next);
                }
            }
            Some(mut i) => {
                while i != NO_SLOT {
                    let n = self.slots[i as usize].next;
                    if n == idx {
                        self.slots[i as usize].next = next;
                        break;
                    }
                    i = n;
                }
            }
            None => {}
        }
        let s = &mut self.slots[idx as usize];
        s.len = 0;
        s.next = NO_SLOT;
        self.garbage += len;
        self.live -= 1;
        self.free.push(idx);
    }

    /// Forgets `series` (its ref went stale in storage).
    pub(crate) fn remove(&mut self, series: &[u8]) {
        if let Some(i) = self.find(series, self.hasher.hash_one(series)) {
            self.free_slot(i);
        }
    }

    /// Drops the entries `keep` rejects, then compacts the arena once it
    /// is mostly garbage.
    fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            if s.len == 0 || keep(&s.entry) {
                continue;
            }
            self.free_slot(i as u32);
        }
        if self.garbage > 4096 && self.garbage > self.arena.len() / 2 {
            self.compact();
        }
    }

    /// Rewrites the arena with the live texts only, in slot order.
    fn compact(&mut self) {
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        for s in self.slots.iter_mut().filter(|s| s.len != 0) {
            let off = arena.len();
            arena.extend_from_slice(&self.arena[s.off..s.off + s.len]);
            s.off = off;
        }
        self.arena = arena;
        self.garbage = 0;
    }

    fn live(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().filter(|s| s.len != 0).map(|s| &s.entry)
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
        self.retain(|e| {
            if let Resolved::Series(r) = e.resolved {
                if e.tracked_in(prev) && !e.tracked_in(now) {
                    stale(r);
                }
            }
            e.seen == now
        });
        std::mem::swap(&mut self.order, &mut self.next_order);
        self.last_ok_attempt = now;
        self.ok_count += 1;
        self.successful_len = self.live;
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
            for e in self.live() {
                if let Resolved::Series(r) = e.resolved {
                    if e.tracked_in(prev) {
                        stale(r);
                    }
                }
            }
        }
        // A target failing with ever-new series must not grow the cache
        // without bound: flush what this attempt did not see.
        if self.live > self.successful_len * 2 + 1000 {
            self.retain(|e| e.seen == now);
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
        self.live
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
    fn lookups_survive_reordering_and_removal() {
        let mut c = cache();
        attempt(&mut c, &[("a", 1), ("b", 2), ("c", 3)], true);
        // Another order: positions mispredict, the index answers.
        c.begin();
        for (k, r) in [("c", 3), ("a", 1), ("b", 2)] {
            assert_eq!(c.get(k.as_bytes()).unwrap().resolved, Resolved::Series(r));
        }
        c.finish_ok(|_| {});
        c.remove(b"a");
        c.begin();
        assert_eq!(c.get(b"c").unwrap().resolved, Resolved::Series(3));
        assert!(c.get(b"a").is_none());
        // The freed slot is reused for a new series.
        c.insert(b"d", Resolved::Series(4));
        assert_eq!(c.get(b"b").unwrap().resolved, Resolved::Series(2));
        c.finish_ok(|_| {});
        assert_eq!(c.slots.len(), 3);
        c.begin();
        for (k, r) in [("c", 3), ("d", 4), ("b", 2)] {
            assert_eq!(c.get(k.as_bytes()).unwrap().resolved, Resolved::Series(r));
        }
        assert!(c.get(b"a").is_none());
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
