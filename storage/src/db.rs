//! The database: one head plus the immutable blocks on disk, with background
//! compaction and retention.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{bounded, Receiver, RecvTimeoutError, Sender};
use parking_lot::{Mutex, RwLock};

use crate::block::{write_block, Block, BlockMeta, TMP_CREATION_SUFFIX, TMP_DELETION_SUFFIX};
use crate::change_feed::ChangeFeed;
use crate::compact::plan::max_block_range_ms;
use crate::compact::{blocks_to_delete, exponential_ranges, plan, RetentionReason};
use crate::error::{Error, Result};
use crate::head::{Appender, Head, HeadOptions, HeadQuerier};
use crate::labels::Matcher;
use crate::querier::{MergeQuerier, Querier, Queryable, SelectHints};
use crate::vfs::Fs;
use crate::wal::WalOptions;

/// Database options. `Default` gives Prometheus's defaults.
#[derive(Clone, Debug)]
pub struct Options {
    /// Base block range in ms (2h).
    pub block_range: i64,
    /// `--storage.tsdb.retention.time`; `None` keeps data forever. Default 15d.
    pub retention: Option<i64>,
    /// `--storage.tsdb.retention.size`; `None` means unlimited.
    pub retention_bytes: Option<u64>,
    /// WAL tuning, and the file system every write of the database goes
    /// through ([`WalOptions::vfs`]).
    pub wal: WalOptions,
    /// How often the background thread checks for compaction work; `None`
    /// disables the thread (callers then call [`Db::compact`]).
    pub compaction_interval: Option<Duration>,
    /// How far (ms) ahead of the clock a sample may be; `None` (the
    /// default, for import and tests) takes any timestamp. See
    /// [`HeadOptions::future_grace`].
    pub future_grace: Option<i64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            block_range: 2 * 3600 * 1000,
            retention: Some(15 * 24 * 3600 * 1000),
            retention_bytes: None,
            wal: WalOptions::default(),
            compaction_interval: Some(Duration::from_secs(60)),
            future_grace: None,
        }
    }
}

/// A point-in-time copy of the database's self-monitoring numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub head_series: u64,
    pub head_chunks: u64,
    pub head_min_time: i64,
    pub head_max_time: i64,
    pub samples_appended: u64,
    pub rejected_out_of_order: u64,
    pub rejected_duplicate: u64,
    pub rejected_out_of_bounds: u64,
    pub rejected_too_far_in_future: u64,
    /// WAL samples skipped at open as too far in the future.
    pub replay_too_far_in_future: u64,
    pub series_created: u64,
    pub series_removed: u64,
    pub wal_bytes: u64,
    pub wal_fsyncs: u64,
    pub wal_fsync_seconds: f64,
    pub compactions: u64,
    pub compactions_failed: u64,
    pub compaction_seconds: f64,
    /// Retention passes that deleted blocks for their age / for the size
    /// limit (Prometheus counts passes, not blocks).
    pub time_retentions: u64,
    pub size_retentions: u64,
    pub blocks: u64,
    pub block_bytes: u64,
    /// Blocks skipped at startup because they failed to open.
    pub blocks_corrupt: u64,
    pub wal_corruption: Option<String>,
}

/// The WAL segments replayed when the database was opened, as
/// `/api/v1/status/walreplay` reports them. Opening replays the whole WAL
/// before it returns, so `current` is always `max` once a [`Db`] exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalReplayStatus {
    pub min: u32,
    pub max: u32,
    pub current: u32,
}

#[derive(Default)]
struct Counters {
    compactions: u64,
    failed: u64,
    seconds: f64,
    time_retentions: u64,
    size_retentions: u64,
    corrupt_blocks: u64,
    wal_corruption: Option<String>,
}

struct Inner {
    dir: PathBuf,
    opts: Options,
    head: Head,
    blocks: RwLock<Vec<Arc<Block>>>,
    /// Serialises compaction, retention and deletion against each other.
    compact_lock: Mutex<()>,
    counters: Mutex<Counters>,
    wal_replay: WalReplayStatus,
}

/// An open database directory.
pub struct Db {
    inner: Arc<Inner>,
    /// The background thread and its stop channel; behind a mutex so a
    /// shared (`Arc`) handle can still be shut down.
    background: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
}

impl Db {
    /// Opens (creating) the database in `dir`: removes leftovers of
    /// interrupted block writes and deletions, opens every block (a block that
    /// fails to open is logged, counted and skipped; its files stay for
    /// inspection), replays the WAL into the head.
    pub fn open(dir: &Path, opts: Options) -> Result<Db> {
        let fs = opts.wal.vfs;
        fs.create_dir_durable(dir)?;
        let mut counters = Counters::default();
        let blocks = open_blocks(fs, dir, &mut counters)?;
        let head_opts = HeadOptions {
            block_range: opts.block_range,
            wal: opts.wal,
            future_grace: opts.future_grace,
        };
        // Head chunks ending before the newest block are not loaded.
        let floor = blocks.iter().map(|b| b.meta().max_time).max();
        let (head, report) = Head::open_above(dir, head_opts, floor.unwrap_or(i64::MIN))?;
        counters.wal_corruption = report.replay.corruption.as_ref().map(|e| e.to_string());
        let (first, last) = head.wal().segment_range()?.unwrap_or_default();
        let wal_replay = WalReplayStatus {
            min: first,
            max: last,
            current: last,
        };
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            opts,
            head,
            blocks: RwLock::new(blocks),
            compact_lock: Mutex::new(()),
            counters: Mutex::new(counters),
            wal_replay,
        });
        // Data already in blocks (a crash after writing a block but before
        // truncating the WAL) is dropped from the head.
        if let Some(max) = inner.blocks.read().iter().map(|b| b.meta().max_time).max() {
            if inner.head.min_time() < max {
                inner.head.truncate(max)?;
            }
        }
        let db = Db {
            inner,
            background: Mutex::new(None),
        };
        if let Some(every) = db.inner.opts.compaction_interval {
            let (tx, rx) = bounded(1);
            let inner = Arc::clone(&db.inner);
            let worker = std::thread::Builder::new()
                .name("tsdb-compact".into())
                .spawn(move || background(inner, rx, every))
                .map_err(|e| Error::io(dir, e))?;
            *db.background.lock() = Some((tx, worker));
        }
        Ok(db)
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Starts a batch of appends into the head.
    pub fn appender(&self) -> Appender<'_> {
        self.inner.head.appender()
    }

    pub fn head(&self) -> &Head {
        &self.inner.head
    }

    /// Metas of the blocks currently served, oldest first.
    pub fn blocks(&self) -> Vec<BlockMeta> {
        self.inner
            .blocks
            .read()
            .iter()
            .map(|b| b.meta().clone())
            .collect()
    }

    /// Deletes the matching series' samples in `[mint, maxt]`: tombstones in
    /// the head (WAL-logged) and in every overlapping block. Queries honour
    /// them at once; compaction purges the data.
    pub fn delete(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<()> {
        let _g = self.inner.compact_lock.lock();
        let deleted = (|| {
            for b in self.inner.blocks.read().iter() {
                b.delete(matchers, mint, maxt)?;
            }
            self.inner.head.delete(matchers, mint, maxt).map(drop)
        })();
        // A failure may come after some tombstones took effect.
        self.inner.head.changes.note(mint);
        deleted
    }

    /// The oldest timestamp at which data changed since the last look:
    /// commits, deletions and retention note it (see [`ChangeFeed`]).
    pub fn changes(&self) -> &ChangeFeed {
        &self.inner.head.changes
    }

    /// Runs all due maintenance now: head → blocks, block compaction,
    /// retention. The background thread calls this periodically.
    pub fn compact(&self) -> Result<()> {
        self.inner.compact()
    }

    /// Writes a snapshot of the database into `dir` (created if missing):
    /// every block hard-linked, plus, with `with_head`, the head's data as
    /// one more block. `dir` then opens as a database of its own. Deletions
    /// recorded in tombstones stay recorded; in the head block they are
    /// already applied.
    pub fn snapshot(&self, dir: &Path, with_head: bool) -> Result<()> {
        let invalid = |msg: &str| {
            Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, msg.to_string()),
            )
        };
        if dir == self.inner.dir {
            return Err(invalid("cannot snapshot into base directory"));
        }
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.parse::<crate::block::Ulid>().is_ok() {
            // It would be taken for a block when the parent is opened.
            return Err(invalid("dir must not be a valid ULID"));
        }
        let fs = self.inner.fs();
        fs.create_dir_all(dir)?;
        // Compaction, retention and deletion would change the block list
        // or a block's tombstones halfway through.
        let _g = self.inner.compact_lock.lock();
        let blocks: Vec<Arc<Block>> = self.inner.blocks.read().clone();
        for b in &blocks {
            crate::snapshot::link_block(fs, b, dir)?;
        }
        if with_head {
            crate::snapshot::write_head_block(fs, &self.inner.head, dir)?;
        }
        Ok(())
    }

    /// Rewrites every block that has tombstones without the deleted data,
    /// and swaps the new block in for the old one (a block whose data is
    /// all deleted is just removed). Queries in flight keep reading the old
    /// block until they finish. Deletions in the head are purged when the
    /// head is compacted, as in Prometheus.
    pub fn clean_tombstones(&self) -> Result<()> {
        let _g = self.inner.compact_lock.lock();
        let start = Instant::now();
        let r = self.inner.clean_tombstones();
        self.inner.counters.lock().seconds += start.elapsed().as_secs_f64();
        r
    }

    /// The WAL segments replayed at open.
    pub fn wal_replay_status(&self) -> WalReplayStatus {
        self.inner.wal_replay
    }

    pub fn stats(&self) -> Stats {
        let inner = &self.inner;
        let h = &inner.head;
        let c = inner.counters.lock();
        let blocks = inner.blocks.read();
        let (fsyncs, fsync_time) = h.wal().fsync_stats();
        Stats {
            head_series: h.num_series(),
            head_chunks: h.num_chunks(),
            head_min_time: h.min_time(),
            head_max_time: h.max_time(),
            samples_appended: h.stats.samples_appended.load(Ordering::Relaxed),
            rejected_out_of_order: h.stats.out_of_order.load(Ordering::Relaxed),
            rejected_duplicate: h.stats.duplicates.load(Ordering::Relaxed),
            rejected_out_of_bounds: h.stats.out_of_bounds.load(Ordering::Relaxed),
            rejected_too_far_in_future: h.stats.too_far_in_future.load(Ordering::Relaxed),
            replay_too_far_in_future: h.stats.replay_too_far_in_future.load(Ordering::Relaxed),
            series_created: h.stats.series_created.load(Ordering::Relaxed),
            series_removed: h.stats.series_removed.load(Ordering::Relaxed),
            wal_bytes: h.wal().size_bytes(),
            wal_fsyncs: fsyncs,
            wal_fsync_seconds: fsync_time.as_secs_f64(),
            compactions: c.compactions,
            compactions_failed: c.failed,
            compaction_seconds: c.seconds,
            time_retentions: c.time_retentions,
            size_retentions: c.size_retentions,
            blocks: blocks.len() as u64,
            block_bytes: blocks.iter().map(|b| b.size_bytes()).sum(),
            blocks_corrupt: c.corrupt_blocks,
            wal_corruption: c.wal_corruption.clone(),
        }
    }

    /// Stops background work and syncs the WAL.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    /// [`Db::close`] through a shared handle: waits for a running compaction
    /// to finish, stops the background thread and syncs the WAL. The
    /// database stays readable; later appends are still logged.
    pub fn shutdown(&self) -> Result<()> {
        self.stop_background();
        self.inner.head.close()
    }

    fn stop_background(&self) {
        let bg = self.background.lock().take();
        if let Some((stop, worker)) = bg {
            drop(stop);
            let _ = worker.join();
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.stop_background();
    }
}

impl Queryable for Db {
    /// Head and every overlapping block, merged.
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>> {
        let mut qs: Vec<Box<dyn Querier + '_>> = Vec::new();
        for b in self.inner.blocks.read().iter() {
            if b.overlaps(mint, maxt) {
                qs.push(Box::new(b.querier(mint, maxt)));
            }
        }
        qs.push(Box::new(HeadQuerier::new(&self.inner.head, mint, maxt)));
        Ok(Box::new(MergeQuerier::new(qs)))
    }
}

fn background(inner: Arc<Inner>, stop: Receiver<()>, every: Duration) {
    loop {
        match stop.recv_timeout(every) {
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = inner.compact() {
                    tracing::error!(error = %e, "compaction failed");
                }
            }
            _ => return,
        }
    }
}

impl Inner {
    fn fs(&self) -> Fs {
        self.opts.wal.vfs
    }

    fn compact(&self) -> Result<()> {
        let _g = self.compact_lock.lock();
        let start = Instant::now();
        let r = self
            .compact_head()
            .and_then(|()| self.compact_blocks())
            .and_then(|()| self.apply_retention());
        let mut c = self.counters.lock();
        c.seconds += start.elapsed().as_secs_f64();
        if r.is_err() {
            c.failed += 1;
        }
        r
    }

    /// Writes the oldest block range of the head out while the head spans
    /// more than 1.5 block ranges.
    fn compact_head(&self) -> Result<()> {
        let range = self.opts.block_range;
        // Bounded by the head's extent at the start, so a head that grows
        // as fast as it is written out cannot starve block compaction.
        let hi = self.head.max_time();
        loop {
            let lo = self.head.min_time();
            if lo == i64::MAX || hi.saturating_sub(lo) <= range / 2 * 3 {
                return Ok(());
            }
            let mint = lo.div_euclid(range) * range;
            let maxt = mint + range;
            let series = HeadQuerier::new(&self.head, mint, maxt - 1)
                .select(&SelectHints::default(), &[])?
                .series;
            if let Some(meta) = write_block(self.fs(), &self.dir, mint, maxt, &[], series)? {
                let block = Block::open(self.fs(), &self.dir.join(meta.ulid.to_string()))?;
                let mut blocks = self.blocks.write();
                blocks.push(Arc::new(block));
                blocks.sort_by_key(|b| b.meta().min_time);
                self.counters.lock().compactions += 1;
            }
            self.head.truncate(maxt)?;
            if self.head.min_time() <= lo {
                // Nothing moved (cannot happen with aligned chunks); avoid spinning.
                return Ok(());
            }
        }
    }

    fn ranges(&self) -> Vec<i64> {
        exponential_ranges(
            self.opts.block_range,
            10,
            max_block_range_ms(self.opts.retention),
        )
    }

    /// Merges blocks as the planner says, until it has nothing to do.
    fn compact_blocks(&self) -> Result<()> {
        let ranges = self.ranges();
        loop {
            let snapshot: Vec<Arc<Block>> = self.blocks.read().clone();
            let metas: Vec<BlockMeta> = snapshot.iter().map(|b| b.meta().clone()).collect();
            let group = plan(&metas, &ranges);
            if group.is_empty() {
                return Ok(());
            }
            let (parts, parents): (Vec<Arc<Block>>, Vec<BlockMeta>) = snapshot
                .into_iter()
                .zip(metas)
                .filter(|(_, m)| group.contains(&m.ulid))
                .unzip();
            let mint = parents.iter().map(|m| m.min_time).min().unwrap_or(0);
            let maxt = parents.iter().map(|m| m.max_time).max().unwrap_or(0);
            let queriers: Vec<Box<dyn Querier>> = parts
                .iter()
                .map(|b| Box::new(b.querier(mint, maxt - 1)) as Box<dyn Querier>)
                .collect();
            let series = MergeQuerier::new(queriers)
                .select(&SelectHints::default(), &[])?
                .series;
            let new = write_block(self.fs(), &self.dir, mint, maxt, &parents, series)?;
            let mut blocks = self.blocks.write();
            if let Some(meta) = new {
                let block = Block::open(self.fs(), &self.dir.join(meta.ulid.to_string()))?;
                blocks.push(Arc::new(block));
            }
            blocks.retain(|b| !group.contains(&b.meta().ulid));
            blocks.sort_by_key(|b| b.meta().min_time);
            drop(blocks);
            for b in &parts {
                delete_block_dir(self.fs(), b.dir())?;
            }
            self.counters.lock().compactions += 1;
        }
    }

    /// See [`Db::clean_tombstones`]; the caller holds `compact_lock`.
    fn clean_tombstones(&self) -> Result<()> {
        let dirty: Vec<Arc<Block>> = self
            .blocks
            .read()
            .iter()
            .filter(|b| b.num_tombstones() > 0)
            .cloned()
            .collect();
        for old in dirty {
            let meta = old.meta().clone();
            let series = old
                .querier(meta.min_time, meta.max_time - 1)
                .select(&SelectHints::default(), &[])?
                .series;
            // The old block as parent: a crash before it is deleted below
            // leaves it to be removed at the next open.
            let new = write_block(
                self.fs(),
                &self.dir,
                meta.min_time,
                meta.max_time,
                std::slice::from_ref(&meta),
                series,
            )?;
            let mut blocks = self.blocks.write();
            if let Some(m) = new {
                let block = Block::open(self.fs(), &self.dir.join(m.ulid.to_string()))?;
                blocks.push(Arc::new(block));
            }
            blocks.retain(|b| b.meta().ulid != meta.ulid);
            blocks.sort_by_key(|b| b.meta().min_time);
            drop(blocks);
            tracing::info!(block = %meta.ulid, "tombstones cleaned");
            delete_block_dir(self.fs(), old.dir())?;
        }
        Ok(())
    }

    fn apply_retention(&self) -> Result<()> {
        let list: Vec<(BlockMeta, u64)> = self
            .blocks
            .read()
            .iter()
            .map(|b| (b.meta().clone(), b.size_bytes()))
            .collect();
        let head_max = self.head.max_time().max(
            list.iter()
                .map(|(m, _)| m.max_time)
                .max()
                .unwrap_or(i64::MIN),
        );
        let doomed = blocks_to_delete(
            &list,
            head_max,
            self.opts.retention,
            self.opts.retention_bytes,
            self.head.disk_bytes(),
        );
        if doomed.is_empty() {
            return Ok(());
        }
        {
            let mut c = self.counters.lock();
            let reason = |want| doomed.iter().any(|(_, r)| *r == want);
            c.time_retentions += reason(RetentionReason::Time) as u64;
            c.size_retentions += reason(RetentionReason::Size) as u64;
        }
        let removed: Vec<Arc<Block>> = {
            let mut blocks = self.blocks.write();
            let (gone, keep) = blocks
                .drain(..)
                .partition(|b| doomed.iter().any(|(u, _)| *u == b.meta().ulid));
            *blocks = keep;
            gone
        };
        if let Some(oldest) = removed.iter().map(|b| b.meta().min_time).min() {
            self.head.changes.note(oldest);
        }
        for b in removed {
            tracing::info!(block = %b.meta().ulid, "retention: deleting block");
            delete_block_dir(self.fs(), b.dir())?;
        }
        Ok(())
    }
}

/// Deletion is a rename first, so a crash never leaves a half-deleted block
/// that looks valid.
fn delete_block_dir(fs: Fs, dir: &Path) -> Result<()> {
    let mut tmp = dir.as_os_str().to_owned();
    tmp.push(TMP_DELETION_SUFFIX);
    let tmp = PathBuf::from(tmp);
    fs.rename(dir, &tmp)?;
    if let Some(p) = dir.parent() {
        fs.sync_dir(p)?;
    }
    fs.remove_dir_all(&tmp)
}

/// Opens every block dir in `dir`, after removing leftovers of interrupted
/// writes and deletions, and blocks already merged into a newer one.
fn open_blocks(fs: Fs, dir: &Path, counters: &mut Counters) -> Result<Vec<Arc<Block>>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut blocks = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_dir() {
            continue;
        }
        if name.ends_with(TMP_CREATION_SUFFIX) || name.ends_with(TMP_DELETION_SUFFIX) {
            tracing::info!(dir = %path.display(), "removing leftover temporary block dir");
            fs.remove_dir_all(&path)?;
            continue;
        }
        if name.parse::<crate::block::Ulid>().is_err() {
            continue;
        }
        match Block::open(fs, &path) {
            Ok(b) => blocks.push(Arc::new(b)),
            Err(e) => {
                tracing::error!(error = %e, "skipping block that failed to open");
                counters.corrupt_blocks += 1;
            }
        }
    }
    // A crash between publishing a merged block and deleting its parents
    // leaves both; the parents go.
    let parents: Vec<crate::block::Ulid> = blocks
        .iter()
        .flat_map(|b| b.meta().compaction.parents.iter().map(|p| p.ulid))
        .collect();
    let (stale, live): (Vec<_>, Vec<_>) = blocks
        .into_iter()
        .partition(|b| parents.contains(&b.meta().ulid));
    for b in stale {
        delete_block_dir(fs, b.dir())?;
    }
    let mut live = live;
    live.sort_by_key(|b| b.meta().min_time);
    Ok(live)
}
