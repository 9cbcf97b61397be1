//! The remote-write receiver's series-ref cache: label sets exactly as a
//! sender sent them → the storage ref of their (validated) series, so a
//! known series skips label validation and the by-labels lookup and is
//! appended by ref, as Prometheus's scrape cache does for scraped series.
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

/// Separates names and values in a key; `0xff` never occurs in UTF-8, so
/// no two label lists share an encoding.
const SEP: u8 = 0xff;

struct Entry {
    /// Scheme byte, then `name SEP value SEP` per label, as sent.
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
pub struct Key<'k, 'a> {
    hash: u64,
    labels: &'k [(&'a str, &'a str)],
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

    /// Hashes a label set as sent, for [`get`](Self::get) and
    /// [`insert`](Self::insert).
    pub fn key<'k, 'a>(
        &self,
        labels: &'k [(&'a str, &'a str)],
        scheme: NameValidationScheme,
    ) -> Key<'k, 'a> {
        let mut h = self.hasher.build_hasher();
        h.write_u8(scheme as u8);
        for (name, value) in labels {
            h.write(name.as_bytes());
            h.write_u8(SEP);
            h.write(value.as_bytes());
            h.write_u8(SEP);
        }
        Key {
            hash: h.finish(),
            labels,
            scheme,
        }
    }

    /// The cached ref of `key`'s series, stamping it as seen in `generation`.
    pub fn get(&self, key: &Key<'_, '_>, generation: u64) -> Option<u64> {
        let mut shard = self.shard(key.hash).lock();
        let e = shard.map.get_mut(&key.hash)?;
        if !matches(&e.key, key) {
            return None;
        }
        e.seen = generation;
        Some(e.series_ref)
    }

    /// Remembers that `key`'s series (validated, appended) has `series_ref`.
    pub fn insert(&self, key: &Key<'_, '_>, series_ref: u64, generation: u64) {
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
    pub fn forget(&self, key: &Key<'_, '_>) {
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
        &self.shards[(hash >> (64 - SHARDS.trailing_zeros())) as usize]
    }
}

impl Shard {
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

fn encode(key: &Key<'_, '_>) -> Box<[u8]> {
    let len = 1 + key
        .labels
        .iter()
        .map(|(n, v)| n.len() + v.len() + 2)
        .sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.push(key.scheme as u8);
    for (name, value) in key.labels {
        out.extend_from_slice(name.as_bytes());
        out.push(SEP);
        out.extend_from_slice(value.as_bytes());
        out.push(SEP);
    }
    out.into_boxed_slice()
}

/// Whether `stored` is `key`'s encoding, compared in place.
fn matches(stored: &[u8], key: &Key<'_, '_>) -> bool {
    let Some((&scheme, mut rest)) = stored.split_first() else {
        return false;
    };
    if scheme != key.scheme as u8 {
        return false;
    }
    for (name, value) in key.labels {
        for part in [name.as_bytes(), value.as_bytes()] {
            match rest.strip_prefix(part) {
                Some([SEP, tail @ ..]) => rest = tail,
                _ => return false,
            }
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: NameValidationScheme = NameValidationScheme::Utf8;

    #[test]
    fn hit_needs_the_same_labels_in_the_same_order_and_scheme() {
        let c = SeriesRefCache::default();
        let g = c.begin();
        let labels = [("__name__", "m"), ("job", "j")];
        assert_eq!(c.get(&c.key(&labels, U), g), None);
        c.insert(&c.key(&labels, U), 7, g);
        assert_eq!(c.get(&c.key(&labels, U), g), Some(7));
        assert_eq!(c.len(), 1);
        for other in [
            &[("job", "j"), ("__name__", "m")][..],
            &[("__name__", "m"), ("job", "j"), ("x", "")],
            &[("__name__", "m"), ("job", "")],
            &[("__name__", "m")],
            // Label boundaries are part of the key.
            &[("__name__", "mj"), ("ob", "j")],
        ] {
            assert_eq!(c.get(&c.key(other, U), g), None, "{other:?}");
        }
        let legacy = c.key(&labels, NameValidationScheme::Legacy);
        assert_eq!(c.get(&legacy, g), None);
    }

    #[test]
    fn matches_compares_whole_encoding() {
        let c = SeriesRefCache::default();
        let k = c.key(&[("a", "b")], U);
        let stored = encode(&k);
        assert!(matches(&stored, &k));
        assert!(!matches(&stored[..stored.len() - 1], &k));
        assert!(!matches(&[], &k));
        let longer = c.key(&[("a", "b"), ("c", "d")], U);
        assert!(!matches(&stored, &longer));
        assert!(!matches(&encode(&longer), &k));
    }

    #[test]
    fn forget_drops_only_that_entry() {
        let c = SeriesRefCache::default();
        let g = c.begin();
        let (a, b) = ([("__name__", "a")], [("__name__", "b")]);
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
        let names: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            c.insert(&c.key(&[("__name__", n)], U), i as u64, g);
        }
        assert_eq!(c.len(), 1000);
        // Long after, one series is still sent; an insert into its shard
        // sweeps that shard and keeps only it there.
        let later = g + MAX_AGE + 10;
        let kept = [("__name__", names[0].as_str())];
        let kept_key = c.key(&kept, U);
        assert_eq!(c.get(&kept_key, later), Some(0));
        let shard = c.shard(kept_key.hash);
        let before = shard.lock().map.len();
        assert!(before > 1);
        let fresh: String = (0..)
            .map(|i| format!("new{i}"))
            .find(|n| std::ptr::eq(c.shard(c.key(&[("__name__", n)], U).hash), shard))
            .unwrap();
        c.insert(&c.key(&[("__name__", &fresh)], U), 5000, later);
        assert_eq!(shard.lock().map.len(), 2);
        assert_eq!(c.get(&kept_key, later), Some(0));
        assert_eq!(c.get(&c.key(&[("__name__", &fresh)], U), later), Some(5000));
        assert_eq!(c.len(), 1000 - before + 2);
    }

    #[test]
    fn memory_stays_under_budget() {
        let budget = 64 * 1024;
        let c = SeriesRefCache::with_budget(budget);
        let g = c.begin();
        for i in 0..10_000 {
            let v = format!("value-{i}");
            c.insert(&c.key(&[("__name__", "m"), ("i", &v)], U), i, g);
            let total: usize = c.shards.iter().map(|s| s.lock().bytes).sum();
            assert!(total <= budget, "{total} bytes after {i} inserts");
        }
        assert!(!c.is_empty());
        // Recent entries are still found after shards were cleared.
        let last = [("__name__", "m"), ("i", "value-9999")];
        assert_eq!(c.get(&c.key(&last, U), g), Some(9999));
        // A label set larger than a whole shard's budget is never cached.
        let huge = "x".repeat(budget);
        c.insert(&c.key(&[("__name__", &huge)], U), 1, g);
        assert_eq!(c.get(&c.key(&[("__name__", &huge)], U), g), None);
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
                        let v = (i % 100).to_string();
                        let labels = [("__name__", "m"), ("v", v.as_str())];
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
