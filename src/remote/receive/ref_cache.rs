//! The remote-write receiver's series-ref cache: label sets exactly as a
//! sender sent them (their protobuf bytes) → the storage ref of their
//! (validated) series, so a known series skips label decoding, validation
//! and the by-labels lookup and is appended by ref, as Prometheus's scrape
//! cache does for scraped series.
//!
//! One cache lives for the whole server and is shared by concurrent
//! requests; it is split into independently locked shards so they rarely
//! wait for each other.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use rustc_hash::{FxHashMap, FxSeededState};

use crate::config::NameValidationScheme;

/// Shards of the cache; a power of two, chosen by the top hash bits.
const SHARDS: usize = 64;

/// Default memory budget over all shards: label bytes plus per-entry
/// overhead. 20k node-exporter series take about 6 MiB.
pub const DEFAULT_BUDGET_BYTES: usize = 128 << 20;

/// Entries not hit for this many requests are dropped by the next sweep of
/// their shard. Large enough that a sender cycling through a million series
/// in 2000-sample requests (500 requests per round) keeps them all.
const MAX_AGE: u64 = 4096;

/// Bookkeeping bytes counted per entry besides its key (map slot, box,
/// ref, generation).
const ENTRY_OVERHEAD: usize = 64;

struct Entry {
    /// Scheme byte, then the label fields' bytes as sent.
    key: Box<[u8]>,
    series_ref: u64,
    /// Generation (request number) of the last hit.
    seen: u64,
}

#[derive(Default)]
struct Shard {
    map: FxHashMap<u64, Entry>,
    bytes: usize,
    /// Generation of the last age sweep.
    swept: u64,
}

/// Receiver-wide map from a sent label set (with the name validation
/// scheme it was validated under) to its storage series ref.
///
/// Only label sets that passed validation and were appended are inserted,
/// so a hit may skip validation. A ref storage no longer knows (its series
/// was garbage-collected from the head) must be [`forget`](Self::forget)ten
/// by the caller. Memory stays under a byte budget: entries idle for many
/// requests are swept, and a shard still over half its budget after a
/// sweep is cleared.
pub struct SeriesRefCache {
    shards: Box<[Mutex<Shard>]>,
    hasher: FxSeededState,
    generation: AtomicU64,
    shard_budget: usize,
}

impl Default for SeriesRefCache {
    fn default() -> Self {
        Self::with_budget(DEFAULT_BUDGET_BYTES)
    }
}

/// A label set as looked up in the cache: its hash, computed once per
/// series and reused by the insert that may follow a miss.
#[derive(Clone, Copy)]
pub struct Key<'a> {
    hash: u64,
    raw: &'a [u8],
    scheme: NameValidationScheme,
}

impl SeriesRefCache {
    /// A cache holding at most about `budget` bytes.
    pub fn with_budget(budget: usize) -> Self {
        SeriesRefCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            // Fx is fast but not collision-resistant; a collision only
            // costs a miss, as keys are compared in full. The random seed
            // keeps the shard spread from being the same in every process.
            hasher: FxSeededState::with_seed(RandomState::new().hash_one(0u64) as usize),
            generation: AtomicU64::new(0),
            shard_budget: budget / SHARDS,
        }
    }

    /// Starts a request: returns the generation its hits are stamped with.
    pub fn begin(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Hashes a label set's wire bytes as sent (all its `Label` fields,
    /// see [`super::decode::SeriesView::raw_labels`]), for
    /// [`insert`](Self::insert) and [`forget`](Self::forget).
    pub fn key<'a>(&self, raw: &'a [u8], scheme: NameValidationScheme) -> Key<'a> {
        let mut h = self.hasher.build_hasher();
        h.write_u8(scheme as u8);
        h.write(raw);
        Key {
            hash: h.finish(),
            raw,
            scheme,
        }
    }

    /// The cached ref of `key`'s series, stamping it as seen in
    /// `generation`; the receiver looks a request up with
    /// [`get_many`](Self::get_many), tests one key at a time.
    #[cfg(test)]
    fn get(&self, key: &Key<'_>, generation: u64) -> Option<u64> {
        self.shard(key.hash).lock().hit(key, generation)
    }

    /// The cached refs of a request's worth of label bytes at once
    /// (`None` entries are not looked up): one answer per entry pushed to
    /// `out`. Each shard is locked once, and its lookups run back to back
    /// so the CPU can overlap their cache misses.
    pub fn get_many(
        &self,
        raws: &[Option<&[u8]>],
        scheme: NameValidationScheme,
        generation: u64,
        out: &mut Vec<Option<u64>>,
    ) {
        let keys: Vec<Option<Key<'_>>> = raws
            .iter()
            .map(|r| r.map(|raw| self.key(raw, scheme)))
            .collect();
        // Entries grouped by shard, a counting sort.
        let mut start = [0u32; SHARDS + 1];
        for k in keys.iter().flatten() {
            start[self.shard_index(k.hash) + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let n = start[SHARDS] as usize;
        let mut order = vec![0u32; n];
        for (i, k) in keys.iter().enumerate() {
            if let Some(k) = k {
                let slot = &mut start[self.shard_index(k.hash)];
                order[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        out.clear();
        out.resize(raws.len(), None);
        let mut i = 0;
        while i < n {
            let shard_idx = self.shard_index(keys[order[i] as usize].expect("grouped").hash);
            let mut shard = self.shards[shard_idx].lock();
            // Load the group's entries and keys first, in independent
            // lookups whose cache misses overlap; the compares below then
            // find them cached.
            let mut x = 0u8;
            for &o in &order[i..] {
                let k = keys[o as usize].expect("grouped");
                if self.shard_index(k.hash) != shard_idx {
                    break;
                }
                if let Some(e) = shard.map.get(&k.hash) {
                    x ^= e.key.first().copied().unwrap_or(0) ^ e.key.last().copied().unwrap_or(0);
                }
            }
            std::hint::black_box(x);
            while i < n {
                let k = keys[order[i] as usize].expect("grouped");
                if self.shard_index(k.hash) != shard_idx {
                    break;
                }
                out[order[i] as usize] = shard.hit(&k, generation);
                i += 1;
            }
        }
    }

    /// Remembers that `key`'s series (validated, appended) has `series_ref`.
    pub fn insert(&self, key: &Key<'_>, series_ref: u64, generation: u64) {
        let encoded = encode(key);
        let cost = encoded.len() + ENTRY_OVERHEAD;
        if cost > self.shard_budget {
            return;
        }
        let mut guard = self.shard(key.hash).lock();
        let shard = &mut *guard;
        if shard.bytes + cost > self.shard_budget
            || generation.saturating_sub(shard.swept) > MAX_AGE
        {
            shard.sweep(generation);
            if shard.bytes + cost > self.shard_budget / 2 {
                // Everything is in use and still too big: start over rather
                // than sweep again on every insert.
                shard.map.clear();
                shard.bytes = 0;
            }
        }
        let entry = Entry {
            key: encoded,
            series_ref,
            seen: generation,
        };
        // A different label set with the same hash is displaced.
        if let Some(old) = shard.map.insert(key.hash, entry) {
            shard.bytes -= old.key.len() + ENTRY_OVERHEAD;
        }
        shard.bytes += cost;
    }

    /// Drops `key`'s entry (its ref is gone from storage).
    pub fn forget(&self, key: &Key<'_>) {
        let mut shard = self.shard(key.hash).lock();
        if shard
            .map
            .get(&key.hash)
            .is_some_and(|e| matches(&e.key, key))
        {
            if let Some(old) = shard.map.remove(&key.hash) {
                shard.bytes -= old.key.len() + ENTRY_OVERHEAD;
            }
        }
    }

    /// Number of cached label sets.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard> {
        &self.shards[self.shard_index(hash)]
    }

    fn shard_index(&self, hash: u64) -> usize {
        (hash >> (64 - SHARDS.trailing_zeros())) as usize
    }
}

impl Shard {
    /// The cached ref of `key`'s series, stamping it as seen in `generation`.
    fn hit(&mut self, key: &Key<'_>, generation: u64) -> Option<u64> {
        let e = self.map.get_mut(&key.hash)?;
        if !matches(&e.key, key) {
            return None;
        }
        e.seen = generation;
        Some(e.series_ref)
    }

    fn sweep(&mut self, generation: u64) {
        let mut bytes = 0;
        self.map.retain(|_, e| {
            let keep = generation.saturating_sub(e.seen) <= MAX_AGE;
            if keep {
                bytes += e.key.len() + ENTRY_OVERHEAD;
            }
            keep
        });
        self.bytes = bytes;
        self.swept = generation;
    }
}

fn encode(key: &Key<'_>) -> Box<[u8]> {
    let mut out = Vec::with_capacity(1 + key.raw.len());
    out.push(key.scheme as u8);
    out.extend_from_slice(key.raw);
    out.into_boxed_slice()
}

/// Whether `stored` is `key`'s encoding.
fn matches(stored: &[u8], key: &Key<'_>) -> bool {
    stored.split_first() == Some((&(key.scheme as u8), key.raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::proto::Label;
    use prost::Message;

    const U: NameValidationScheme = NameValidationScheme::Utf8;

    /// Label fields as a sender encodes them.
    fn raw(labels: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, v) in labels {
            out.push(0x0a);
            let l = Label {
                name: n.to_string(),
                value: v.to_string(),
            };
            out.extend(l.encode_length_delimited_to_vec());
        }
        out
    }

    #[test]
    fn hit_needs_the_same_bytes_and_scheme() {
        let c = SeriesRefCache::default();
        let g = c.begin();
        let labels = raw(&[("__name__", "m"), ("job", "j")]);
        assert_eq!(c.get(&c.key(&labels, U), g), None);
        c.insert(&c.key(&labels, U), 7, g);
        assert_eq!(c.get(&c.key(&labels, U), g), Some(7));
        assert_eq!(c.len(), 1);
        for other in [
            raw(&[("job", "j"), ("__name__", "m")]),
            raw(&[("__name__", "m"), ("job", "j"), ("x", "")]),
            raw(&[("__name__", "m"), ("job", "")]),
            raw(&[("__name__", "m")]),
            raw(&[("__name__", "mj"), ("ob", "j")]),
            labels[..labels.len() - 1].to_vec(),
            Vec::new(),
        ] {
            assert_eq!(c.get(&c.key(&other, U), g), None, "{other:?}");
        }
        let legacy = c.key(&labels, NameValidationScheme::Legacy);
        assert_eq!(c.get(&legacy, g), None);
    }

    #[test]
    fn get_many_answers_like_get() {
        let c = SeriesRefCache::default();
        let g = c.begin();
        let sets: Vec<Vec<u8>> = (0..500)
            .map(|i| raw(&[("__name__", "m"), ("i", &i.to_string())]))
            .collect();
        for (i, k) in sets.iter().enumerate().filter(|(i, _)| i % 3 != 0) {
            c.insert(&c.key(k, U), i as u64, g);
        }
        let mut raws: Vec<Option<&[u8]>> = sets.iter().map(|k| Some(k.as_slice())).collect();
        raws.push(None);
        raws.insert(7, None);
        let g2 = c.begin();
        let mut out = vec![Some(99)];
        c.get_many(&raws, U, g2, &mut out);
        assert_eq!(out.len(), raws.len());
        for (r, got) in raws.iter().zip(&out) {
            assert_eq!(*got, r.and_then(|r| c.get(&c.key(r, U), g2)));
        }
        assert_eq!(out.iter().flatten().count(), 333);
        // Hits are stamped: nothing is swept at the generation after.
        let mut none = Vec::new();
        c.get_many(&raws, NameValidationScheme::Legacy, g2, &mut none);
        assert!(none.iter().all(Option::is_none));
    }

    #[test]
    fn matches_compares_whole_encoding() {
        let c = SeriesRefCache::default();
        let (ab, abcd) = (raw(&[("a", "b")]), raw(&[("a", "b"), ("c", "d")]));
        let k = c.key(&ab, U);
        let stored = encode(&k);
        assert!(matches(&stored, &k));
        assert!(!matches(&stored[..stored.len() - 1], &k));
        assert!(!matches(&[], &k));
        let longer = c.key(&abcd, U);
        assert!(!matches(&stored, &longer));
        assert!(!matches(&encode(&longer), &k));
    }

    #[test]
    fn forget_drops_only_that_entry() {
        let c = SeriesRefCache::default();
        let g = c.begin();
        let (a, b) = (raw(&[("__name__", "a")]), raw(&[("__name__", "b")]));
        c.insert(&c.key(&a, U), 1, g);
        c.insert(&c.key(&b, U), 2, g);
        c.forget(&c.key(&a, U));
        assert_eq!(c.get(&c.key(&a, U), g), None);
        assert_eq!(c.get(&c.key(&b, U), g), Some(2));
        c.forget(&c.key(&a, U));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn idle_entries_are_swept() {
        let c = SeriesRefCache::default();
        let g = c.begin();
        let names: Vec<Vec<u8>> = (0..1000)
            .map(|i| raw(&[("__name__", &format!("m{i}"))]))
            .collect();
        for (i, n) in names.iter().enumerate() {
            c.insert(&c.key(n, U), i as u64, g);
        }
        assert_eq!(c.len(), 1000);
        // Long after, one series is still sent; an insert into its shard
        // sweeps that shard and keeps only it there.
        let later = g + MAX_AGE + 10;
        let kept_key = c.key(&names[0], U);
        assert_eq!(c.get(&kept_key, later), Some(0));
        let shard = c.shard(kept_key.hash);
        let before = shard.lock().map.len();
        assert!(before > 1);
        let fresh: Vec<u8> = (0..)
            .map(|i| raw(&[("__name__", &format!("new{i}"))]))
            .find(|n| std::ptr::eq(c.shard(c.key(n, U).hash), shard))
            .unwrap();
        c.insert(&c.key(&fresh, U), 5000, later);
        assert_eq!(shard.lock().map.len(), 2);
        assert_eq!(c.get(&kept_key, later), Some(0));
        assert_eq!(c.get(&c.key(&fresh, U), later), Some(5000));
        assert_eq!(c.len(), 1000 - before + 2);
    }

    #[test]
    fn memory_stays_under_budget() {
        let budget = 64 * 1024;
        let c = SeriesRefCache::with_budget(budget);
        let g = c.begin();
        for i in 0..10_000 {
            let k = raw(&[("__name__", "m"), ("i", &format!("value-{i}"))]);
            c.insert(&c.key(&k, U), i, g);
            let total: usize = c.shards.iter().map(|s| s.lock().bytes).sum();
            assert!(total <= budget, "{total} bytes after {i} inserts");
        }
        assert!(!c.is_empty());
        // Recent entries are still found after shards were cleared.
        let last = raw(&[("__name__", "m"), ("i", "value-9999")]);
        assert_eq!(c.get(&c.key(&last, U), g), Some(9999));
        // A label set larger than a whole shard's budget is never cached.
        let huge = raw(&[("__name__", &"x".repeat(budget))]);
        c.insert(&c.key(&huge, U), 1, g);
        assert_eq!(c.get(&c.key(&huge, U), g), None);
    }

    /// A key whose hash is `hash`, not its bytes': forces collisions.
    fn colliding<'a>(raw: &'a [u8], hash: u64) -> Key<'a> {
        Key {
            hash,
            raw,
            scheme: U,
        }
    }

    #[test]
    fn colliding_label_sets_never_answer_for_each_other() {
        let c = SeriesRefCache::default();
        let g = c.begin();
        let (a, b) = (raw(&[("__name__", "a")]), raw(&[("__name__", "b")]));
        let (ka, kb) = (colliding(&a, 42), colliding(&b, 42));
        c.insert(&ka, 1, g);
        assert_eq!(c.get(&kb, g), None);
        // The newer one displaces the older; forgetting the displaced one
        // leaves the newer in place.
        c.insert(&kb, 2, g);
        assert_eq!((c.get(&ka, g), c.get(&kb, g)), (None, Some(2)));
        c.forget(&ka);
        assert_eq!(c.get(&kb, g), Some(2));
        assert_eq!(c.len(), 1);
    }

    proptest::proptest! {
        /// Whatever is inserted, forgotten or displaced, under hashes
        /// squeezed into four values so that most label sets collide, a
        /// lookup answers either nothing or the ref last inserted for
        /// exactly those bytes.
        #[test]
        fn a_hit_is_always_the_last_ref_of_the_same_bytes(
            ops in proptest::collection::vec((0u8..3, 0usize..6, 0u64..100), 1..200)
        ) {
            let c = SeriesRefCache::default();
            let sets: Vec<Vec<u8>> = (0..6)
                .map(|i| raw(&[("__name__", "m"), ("i", &"x".repeat(i))]))
                .collect();
            let key = |i: usize| colliding(&sets[i], (i % 4) as u64);
            let mut model: std::collections::HashMap<usize, u64> = Default::default();
            for (op, i, r) in ops {
                let g = c.begin();
                match op {
                    0 => {
                        c.insert(&key(i), r, g);
                        model.insert(i, r);
                    }
                    1 => {
                        c.forget(&key(i));
                        model.remove(&i);
                    }
                    _ => {
                        if let Some(got) = c.get(&key(i), g) {
                            proptest::prop_assert_eq!(Some(&got), model.get(&i));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn concurrent_requests_share_the_cache() {
        let c = std::sync::Arc::new(SeriesRefCache::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..500u64 {
                        let g = c.begin();
                        let labels = raw(&[("__name__", "m"), ("v", &(i % 100).to_string())]);
                        let k = c.key(&labels, U);
                        match c.get(&k, g) {
                            Some(r) => assert_eq!(r, i % 100),
                            None => c.insert(&k, i % 100, g),
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(c.len(), 100);
    }
}
