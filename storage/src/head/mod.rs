//! The head: the in-memory, WAL-backed part of the database that receives
//! every sample.
//!
//! Series live in shards chosen by label hash; a series id encodes its shard
//! (`id % SHARDS`), so lookups by labels (append) and by id (queries, WAL
//! replay) lock exactly one shard and no lock is global on the append path.
//! Label strings are interned in one symbol table. Full chunks are written to
//! the head-chunks file and only their references stay on the heap.

mod append;
mod cardinality;
mod churn;
mod read;
mod replay;
mod series;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use roaring::RoaringBitmap;

use crate::change_feed::ChangeFeed;
use crate::chunk::HeadChunkFile;
use crate::error::Result;
use crate::index::{MemPostings, SymbolTable};
use crate::labels::{Label, Labels};
use crate::tombstones::{Interval, Tombstones};
use crate::wal::{self, Record, RefTombstone, Wal, WalOptions};

pub use append::Appender;
pub use cardinality::{Cardinality, CardinalityQuery};
pub use churn::HeadChurn;
pub use read::HeadQuerier;
use series::MemSeries;

/// Number of series shards; a power of two comfortably above the core count.
const SHARDS: u32 = 128;

/// Options of the head.
#[derive(Clone, Debug)]
pub struct HeadOptions {
    /// Block range in ms (default 2h). Open chunks are cut at its multiples.
    pub block_range: i64,
    pub wal: WalOptions,
    /// How far (ms) ahead of the wall clock a sample may be. `None` takes
    /// any timestamp (bulk import of data with future times); the server
    /// sets it so one bad timestamp cannot push the head's max time, and
    /// with it the lower bound of every later append, into the future.
    pub future_grace: Option<i64>,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            block_range: 2 * 3600 * 1000,
            wal: WalOptions::default(),
            future_grace: None,
        }
    }
}

/// Counters for self-monitoring; all monotonic unless named otherwise.
#[derive(Default, Debug)]
pub struct HeadStats {
    pub samples_appended: AtomicU64,
    pub out_of_order: AtomicU64,
    pub duplicates: AtomicU64,
    pub out_of_bounds: AtomicU64,
    /// Appends refused as further ahead of the clock than the future grace.
    pub too_far_in_future: AtomicU64,
    /// WAL samples skipped at replay for the same reason (written before
    /// the limit existed, or with a larger grace).
    pub replay_too_far_in_future: AtomicU64,
    pub series_created: AtomicU64,
    pub series_removed: AtomicU64,
    pub chunks_cut: AtomicU64,
    pub commits: AtomicU64,
}

/// Wall-clock time in ms since the epoch (0 for a clock before 1970).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A fast hasher for keys that are already hashes or dense ids.
///
/// Integer keys go through a folded multiply (high ^ low half of the
/// 128-bit product), so every input bit reaches the low bits the hash table
/// indexes with. A plain multiply keeps the low bits a function of the
/// input's low bits only, and every key of one shard shares those (ids are
/// `local * SHARDS + shard`, label hashes are `≡ shard mod SHARDS`): all
/// keys of a shard landed in 1/128 of the buckets and probing grew with the
/// head.
#[derive(Default)]
struct MulHasher(u64);

const MUL: u64 = 0x9e37_79b9_7f4a_7c15;

fn fold_mul(v: u64) -> u64 {
    let p = (v as u128).wrapping_mul(MUL as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

impl Hasher for MulHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = fold_mul(self.0 ^ *b as u64);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = fold_mul(self.0 ^ v as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = fold_mul(self.0 ^ v);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<MulHasher>>;

#[derive(Default)]
struct Shard {
    series: FastMap<u32, MemSeries>,
    /// Label hash → ids with that hash (almost always one).
    by_hash: FastMap<u64, Vec<u32>>,
    /// Next local index; ids are `local * SHARDS + shard`.
    next_local: u32,
}

/// The in-memory head of the database.
pub struct Head {
    opts: HeadOptions,
    symbols: SymbolTable,
    shards: Box<[Mutex<Shard>]>,
    postings: RwLock<MemPostings>,
    tombstones: RwLock<Tombstones>,
    chunks: HeadChunkFile,
    wal: Wal,
    min_time: AtomicI64,
    max_time: AtomicI64,
    /// Samples older than this are rejected (raised by truncation).
    lower_bound: AtomicI64,
    pub stats: HeadStats,
    /// The oldest sample time changed since its reader last looked.
    pub(crate) changes: ChangeFeed,
    /// Series created (outside WAL replay) and removed per minute, for the
    /// cardinality statistics.
    churn: churn::Churn,
}

/// What opening the head found in the WAL.
pub struct OpenReport {
    pub replay: wal::ReplayStats,
    /// Samples in the WAL that could not be applied (e.g. out of order).
    pub samples_skipped: u64,
    /// Full chunks taken from the head-chunks file a previous run wrote
    /// (their samples were not re-appended from the WAL).
    pub chunks_loaded: u64,
}

impl Head {
    /// Opens the head in `dir`: takes the full chunks a previous run left in
    /// `dir/chunks_head`, replays `dir/wal` into memory (skipping samples
    /// those chunks hold), then opens the WAL for writing.
    pub fn open(dir: &Path, opts: HeadOptions) -> Result<(Head, OpenReport)> {
        Self::open_above(dir, opts, i64::MIN)
    }

    /// [`Head::open`] for a database whose blocks reach `floor`: chunks in
    /// `dir/chunks_head` ending before it are not loaded (that data is in a
    /// block; the head was truncated there).
    pub fn open_above(dir: &Path, opts: HeadOptions, floor: i64) -> Result<(Head, OpenReport)> {
        let wal_dir = dir.join("wal");
        let (chunks, loaded) = HeadChunkFile::open(&dir.join("chunks_head"))?;
        let max_valid = opts
            .future_grace
            .map_or(i64::MAX, |g| now_ms().saturating_add(g));
        let loaded = replay::group_loaded(loaded, floor, max_valid);
        let mut head = Head {
            symbols: SymbolTable::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            postings: RwLock::new(MemPostings::default()),
            tombstones: RwLock::new(Tombstones::default()),
            chunks,
            // Opening starts a fresh segment; replay below reads the older ones.
            wal: Wal::open(&wal_dir, opts.wal)?,
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            lower_bound: AtomicI64::new(i64::MIN),
            stats: HeadStats::default(),
            changes: ChangeFeed::default(),
            churn: churn::Churn::default(),
            opts,
        };
        let mut report = replay::replay(&mut head, &wal_dir, loaded)?;
        if report.replay.corruption.is_some() && report.chunks_loaded > 0 {
            // Replay stopped early: loaded chunks may hold samples from
            // after the damage, which the head must not keep when the WAL
            // does not (the rewritten WAL would make them durable while
            // their neighbours are gone). Start over from the WAL alone.
            head.chunks = HeadChunkFile::create(&dir.join("chunks_head"))?;
            head.symbols = SymbolTable::new();
            head.shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
            head.postings = RwLock::new(MemPostings::default());
            head.tombstones = RwLock::new(Tombstones::default());
            head.min_time = AtomicI64::new(i64::MAX);
            head.max_time = AtomicI64::new(i64::MIN);
            head.stats = HeadStats::default();
            report = replay::replay(&mut head, &wal_dir, replay::Loaded::default())?;
        }
        if report.replay.corruption.is_some() {
            replay::rewrite_wal(&mut head, dir)?;
        }
        Ok((head, report))
    }

    pub fn options(&self) -> &HeadOptions {
        &self.opts
    }

    /// Starts a batch of appends.
    pub fn appender(&self) -> Appender<'_> {
        Appender::new(self)
    }

    /// Smallest sample timestamp held, or `i64::MAX` when empty.
    pub fn min_time(&self) -> i64 {
        self.min_time.load(Ordering::Acquire)
    }

    /// Largest sample timestamp held, or `i64::MIN` when empty.
    pub fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Acquire)
    }

    /// Samples older than this are rejected as out of bounds: the larger of
    /// the truncation point and half a block range behind the newest sample
    /// (so a block being written is never appended to).
    pub fn min_valid_time(&self) -> i64 {
        let lb = self.lower_bound.load(Ordering::Acquire);
        let max = self.max_time();
        if max == i64::MIN {
            return lb;
        }
        lb.max(max.saturating_sub(self.opts.block_range / 2))
    }

    /// Samples newer than this are rejected as too far in the future, or
    /// `i64::MAX` without a future grace. Read once per appender (and per
    /// replay): the clock is not consulted per sample.
    pub fn max_valid_time(&self) -> i64 {
        match self.opts.future_grace {
            Some(grace) => now_ms().saturating_add(grace),
            None => i64::MAX,
        }
    }

    fn note_time(&self, t: i64) {
        self.min_time.fetch_min(t, Ordering::AcqRel);
        self.max_time.fetch_max(t, Ordering::AcqRel);
    }

    fn shard_of_hash(hash: u64) -> u32 {
        (hash % SHARDS as u64) as u32
    }

    fn shard(&self, id: u32) -> &Mutex<Shard> {
        &self.shards[(id % SHARDS) as usize]
    }

    fn intern(&self, labels: &Labels) -> Box<[u32]> {
        labels
            .iter()
            .flat_map(|l| [self.symbols.intern(&l.name), self.symbols.intern(&l.value)])
            .collect()
    }

    fn labels_of(&self, syms: &[u32]) -> Labels {
        self.symbols.with(|r| {
            Labels::from_sorted(
                syms.chunks_exact(2)
                    .map(|p| Label::new(r.get(p[0]), r.get(p[1])))
                    .collect(),
            )
        })
    }

    fn same_labels(&self, syms: &[u32], labels: &Labels) -> bool {
        syms.len() == labels.len() * 2
            && self.symbols.with(|r| {
                syms.chunks_exact(2)
                    .zip(labels.iter())
                    .all(|(p, l)| r.get(p[0]) == l.name && r.get(p[1]) == l.value)
            })
    }

    /// [`Head::same_labels`] for `(name, value)` pairs.
    fn same_pairs(&self, syms: &[u32], pairs: &[(&str, &str)]) -> bool {
        syms.len() == pairs.len() * 2
            && self.symbols.with(|r| {
                syms.chunks_exact(2)
                    .zip(pairs)
                    .all(|(p, &(n, v))| r.get(p[0]) == n && r.get(p[1]) == v)
            })
    }

    /// The id of the series with these labels (as `(name, value)` pairs in
    /// `Labels` order), if it exists. Cheaper than building `Labels` when
    /// the series is usually known, as for remote-write requests.
    fn find_pairs(&self, pairs: &[(&str, &str)]) -> Option<u32> {
        let hash = crate::labels::stable_hash_pairs(pairs.iter().copied());
        let shard = self.shards[Self::shard_of_hash(hash) as usize].lock();
        shard.by_hash.get(&hash)?.iter().copied().find(|id| {
            shard
                .series
                .get(id)
                .is_some_and(|s| self.same_pairs(&s.labels, pairs))
        })
    }

    fn find_in_shard(&self, shard: &Shard, hash: u64, labels: &Labels) -> Option<u32> {
        shard.by_hash.get(&hash)?.iter().copied().find(|id| {
            shard
                .series
                .get(id)
                .is_some_and(|s| self.same_labels(&s.labels, labels))
        })
    }

    /// Finds or creates the series for `labels` (already validated), with the
    /// given id when replaying the WAL. Returns the id and whether it is new.
    fn get_or_create(&self, labels: &Labels, want_id: Option<u32>) -> (u32, bool) {
        let hash = labels.stable_hash();
        let shard_idx = Self::shard_of_hash(hash);
        let mut shard = self.shards[shard_idx as usize].lock();
        if let Some(id) = self.find_in_shard(&shard, hash, labels) {
            return (id, false);
        }
        let id = match want_id {
            Some(id) if id % SHARDS == shard_idx => {
                shard.next_local = shard.next_local.max(id / SHARDS + 1);
                id
            }
            _ => {
                let id = shard.next_local * SHARDS + shard_idx;
                shard.next_local += 1;
                id
            }
        };
        shard.series.insert(id, MemSeries::new(self.intern(labels)));
        shard.by_hash.entry(hash).or_default().push(id);
        // Postings are updated before the shard lock is released so a reader
        // never sees an id without its series.
        self.postings.write().add(id, labels);
        self.stats.series_created.fetch_add(1, Ordering::Relaxed);
        // Replay rebuilds series that existed before the restart; counting
        // them would show every restart as an hour of churn.
        if want_id.is_none() {
            self.churn.record(churn::now_secs(), 1, 0);
        }
        (id, true)
    }

    /// Number of series held.
    pub fn num_series(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.lock().series.len() as u64)
            .sum()
    }

    /// Number of chunks held (closed and open).
    pub fn num_chunks(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .series
                    .values()
                    .map(|m| m.closed.len() as u64 + m.open.is_some() as u64)
                    .sum::<u64>()
            })
            .sum()
    }

    /// Approximate heap bytes used by series, symbols and postings.
    pub fn heap_bytes(&self) -> u64 {
        let series: usize = self
            .shards
            .iter()
            .map(|s| {
                let s = s.lock();
                s.series
                    .values()
                    .map(|m| m.heap_bytes() + 16)
                    .sum::<usize>()
                    + s.by_hash.capacity() * 40
            })
            .sum();
        (series + self.symbols.heap_bytes()) as u64
    }

    /// WAL and head-chunk bytes on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.wal.size_bytes() + self.chunks.size_bytes()
    }

    pub fn wal(&self) -> &Wal {
        &self.wal
    }

    /// Marks samples of the series matching `matchers` in `[mint, maxt]` as
    /// deleted. Logged to the WAL first so the deletion survives a crash.
    pub fn delete(&self, matchers: &[crate::Matcher], mint: i64, maxt: i64) -> Result<u64> {
        let ids = self.postings_for(matchers)?;
        if ids.is_empty() {
            return Ok(0);
        }
        let stones: Vec<RefTombstone> = ids
            .iter()
            .map(|id| RefTombstone {
                series_ref: id as u64,
                mint,
                maxt,
            })
            .collect();
        self.wal.log(&[Record::Tombstones(stones)])?;
        let mut ts = self.tombstones.write();
        for id in ids.iter() {
            ts.add(id as u64, Interval { mint, maxt });
        }
        Ok(ids.len())
    }

    fn postings_for(&self, matchers: &[crate::Matcher]) -> Result<RoaringBitmap> {
        let p = self.postings.read();
        if matchers.is_empty() {
            return Ok(p.all().clone());
        }
        crate::index::postings_for_matchers(&*p, matchers)
    }

    /// Drops all data older than `mint` (after it was written to a block):
    /// chunks ending before it, series left empty, their postings and
    /// tombstones; then checkpoints the WAL so replay stays short.
    pub fn truncate(&self, mint: i64) -> Result<()> {
        let previous = self.lower_bound.fetch_max(mint, Ordering::AcqRel);
        if mint > previous {
            // Before anything is dropped: a restart must not load chunks
            // from before `mint` back from the chunk files.
            self.chunks.set_floor(mint)?;
        }
        let mut removed = RoaringBitmap::new();
        let mut new_min = i64::MAX;
        let mut min_segment = self.chunks.current_segment();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            let mut dead = Vec::new();
            for (&id, s) in shard.series.iter_mut() {
                if s.truncate(mint) && s.pending == 0 {
                    dead.push(id);
                } else if let Some((lo, _)) = s.bounds() {
                    new_min = new_min.min(lo);
                }
                for c in &s.closed {
                    if let series::ClosedChunk::Mapped { chunk_ref, .. } = c {
                        min_segment = min_segment.min(HeadChunkFile::ref_segment(*chunk_ref));
                    }
                }
            }
            for id in dead {
                if let Some(s) = shard.series.remove(&id) {
                    let hash = self.labels_of(&s.labels).stable_hash();
                    if let Some(v) = shard.by_hash.get_mut(&hash) {
                        v.retain(|x| *x != id);
                        if v.is_empty() {
                            shard.by_hash.remove(&hash);
                        }
                    }
                    removed.insert(id);
                }
            }
        }
        if !removed.is_empty() {
            self.postings.write().delete(&removed);
            self.stats
                .series_removed
                .fetch_add(removed.len(), Ordering::Relaxed);
            self.churn.record(churn::now_secs(), 0, removed.len());
        }
        self.tombstones
            .write()
            .retain(|r, iv| !removed.contains(r as u32) && iv.iter().any(|i| i.maxt >= mint));
        self.min_time.store(new_min, Ordering::Release);
        if new_min == i64::MAX {
            self.max_time.store(i64::MIN, Ordering::Release);
        }
        // Head-chunk segments no remaining chunk points into are deleted.
        self.chunks.truncate_before(min_segment)?;
        // Everything logged so far is either in the block just written or
        // still in memory: keep only what memory still needs.
        let last = self.wal.cut()?;
        if last > 0 {
            let keep = |r: u64| self.shard(r as u32).lock().series.contains_key(&(r as u32));
            wal::checkpoint(&self.wal, last - 1, keep, mint)?;
        }
        Ok(())
    }

    /// Flushes the WAL (used at shutdown).
    pub fn close(&self) -> Result<()> {
        self.wal.sync()
    }
}

/// Shared head handle.
pub type SharedHead = Arc<Head>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    /// The keys of one shard all agree modulo `SHARDS`; their hashes must
    /// still spread over the low bits hash tables index with.
    #[test]
    fn shard_keys_spread_over_buckets() {
        let build = BuildHasherDefault::<MulHasher>::default();
        let shard = 5u32;
        let mut ids = std::collections::HashSet::new();
        let mut hashes = std::collections::HashSet::new();
        for local in 0..4096u32 {
            let id = local * SHARDS + shard;
            ids.insert(build.hash_one(id) & 1023);
            hashes.insert(
                build.hash_one(
                    (u64::from(local) << 32 | 0x5bd1) * u64::from(SHARDS) + u64::from(shard),
                ) & 1023,
            );
        }
        // 4096 keys into 1024 buckets: nearly all are hit when spread, at
        // most 8 (1024 / SHARDS) when the shard bits leak through.
        assert!(ids.len() > 900, "ids hit {} of 1024 buckets", ids.len());
        assert!(hashes.len() > 900, "hashes hit {} of 1024", hashes.len());
    }

    #[test]
    fn append_pairs_finds_and_creates_the_same_series_as_labels() {
        let dir = tempfile::tempdir().unwrap();
        let (head, _) = Head::open(dir.path(), HeadOptions::default()).unwrap();
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let mut app = head.appender();
        let by_labels = app.append(&labels, 10, 1.0).unwrap();
        let pairs = [("__name__", "up"), ("job", "a")];
        assert_eq!(app.append_pairs(&pairs, 20, 2.0).unwrap(), by_labels);
        // A new series through pairs is the one later found by labels.
        let other = [("__name__", "up"), ("job", "b")];
        let created = app.append_pairs(&other, 10, 3.0).unwrap();
        assert_ne!(created, by_labels);
        app.commit().unwrap();
        let b = Labels::from_pairs(other);
        let mut app = head.appender();
        assert_eq!(app.append(&b, 30, 4.0).unwrap(), created);
        assert_eq!(head.find_pairs(&other), Some(created as u32));
        assert_eq!(head.find_pairs(&[("__name__", "up")]), None);
        // Same checks as `Labels::validate`, and the same sample checks.
        let unsorted = [("job", "a"), ("__name__", "up")];
        assert!(matches!(
            app.append_pairs(&unsorted, 40, 1.0),
            Err(crate::Error::InvalidLabels(_))
        ));
        assert!(app.append_pairs(&[], 40, 1.0).is_err());
        assert!(matches!(
            app.append_pairs(&pairs, 5, 1.0),
            Err(crate::Error::OutOfOrderSample)
        ));
        app.commit().unwrap();
        assert_eq!(head.num_series(), 2);
    }
}
