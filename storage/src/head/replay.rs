//! Rebuilding the head from the WAL at startup.

use std::path::Path;

use std::sync::Arc;

use super::series::Appended;
use super::{FastMap, Head, OpenReport, SHARDS};
use crate::chunk::{ChunkRef, LoadedChunk};
use crate::error::Result;
use crate::tombstones::Interval;
use crate::wal::{self, Record, RefSample, RefSeries, RefTombstone};

/// Chunks found in the head-chunks file, by the series ref they were
/// written for: `(ref, mint, maxt)`, oldest first.
pub(super) type Loaded = FastMap<u64, Vec<(ChunkRef, i64, i64)>>;

/// Groups loaded chunks by series. Chunks ending before `floor` (data
/// already in blocks) are left out, so is one reaching past `max_valid`
/// (the future grace: its samples come from the WAL, where replay skips
/// the ones too far ahead), and so is a chunk not after its series'
/// previous one (a series ref reused for other data): a left-out chunk's
/// samples, if still wanted, are in the WAL.
pub(super) fn group_loaded(loaded: Vec<LoadedChunk>, floor: i64, max_valid: i64) -> Loaded {
    let mut by_series = Loaded::default();
    for (r, m) in loaded {
        if m.maxt < floor || m.mint > m.maxt || m.maxt > max_valid {
            continue;
        }
        let v = by_series.entry(m.series_ref).or_default();
        if v.last().is_none_or(|&(_, _, maxt)| maxt < m.mint) {
            v.push((r, m.mint, m.maxt));
        }
    }
    by_series
}

/// Threads appending samples during replay; each owns the series of every
/// `WORKERS`-th shard, so they never contend for a shard lock.
const WORKERS: usize = 2;

/// What the reading thread hands a sample worker, in log order.
enum Work {
    Samples(Arc<Vec<RefSample>>),
    /// A WAL series ref replayed as another id.
    Remap(u64, u32),
}

/// Replays checkpoint and segments into `head`. Series keep their WAL refs
/// so later records (and tombstones) resolve to them. A series gets its
/// `loaded` chunks when its series record is replayed, and its WAL samples
/// inside them are skipped.
///
/// The reading thread decodes records (CRC, snappy, record bodies) and
/// applies series and tombstone records itself; every samples record goes
/// to all [`WORKERS`] sample workers over bounded channels, and each worker
/// appends the samples of its own shards. A series record is applied before
/// any later record is handed on, so a worker never meets a sample of a
/// series not yet created; per series, samples stay in log order.
pub(super) fn replay(head: &mut Head, wal_dir: &Path, loaded: Loaded) -> Result<OpenReport> {
    let h: &Head = head;
    let max_valid = h.max_valid_time();
    let (stats, pass, applied) = std::thread::scope(|scope| {
        let mut txs = Vec::with_capacity(WORKERS);
        let mut workers = Vec::with_capacity(WORKERS);
        for w in 0..WORKERS {
            let (tx, rx) = crossbeam::channel::bounded::<Work>(128);
            txs.push(tx);
            workers.push(scope.spawn(move || {
                let mut a = Applied {
                    worker: w,
                    max_valid,
                    ..Applied::default()
                };
                for work in rx {
                    match work {
                        Work::Samples(v) => a.samples(h, &v),
                        Work::Remap(from, to) => {
                            a.remap.insert(from, to);
                        }
                    }
                }
                a
            }));
        }
        let mut pass = SeriesPass {
            loaded,
            ..SeriesPass::default()
        };
        let stats = wal::replay(wal_dir, |rec| {
            // A worker only stops early by panicking, which join reports.
            match rec {
                Record::Series(series) => {
                    for (from, to) in pass.series(h, series) {
                        for tx in &txs {
                            let _ = tx.send(Work::Remap(from, to));
                        }
                    }
                }
                Record::Samples(mut samples) => {
                    pass.drop_covered(&mut samples);
                    if samples.is_empty() {
                        return Ok(());
                    }
                    let samples = Arc::new(samples);
                    for tx in &txs {
                        let _ = tx.send(Work::Samples(Arc::clone(&samples)));
                    }
                }
                Record::Tombstones(stones) => pass.tombstones(h, stones),
            }
            Ok(())
        });
        drop(txs);
        let mut applied = Applied::default();
        for w in workers {
            applied.merge(w.join().expect("WAL replay worker panicked"));
        }
        (stats, pass, applied)
    });
    let stats = stats?;
    if applied.samples > 0 {
        head.note_time(applied.lo);
        head.note_time(applied.hi);
    }
    if pass.chunks_loaded > 0 {
        head.note_time(pass.lo);
        head.note_time(pass.hi);
    }
    finish(head);
    if pass.chunks_loaded > 0 {
        tracing::info!(
            chunks = pass.chunks_loaded,
            samples_skipped = applied.samples_in_chunks + pass.samples_in_chunks,
            "head chunks taken from chunks_head; their WAL samples not replayed"
        );
    }
    if let Some(err) = &stats.corruption {
        tracing::error!(error = %err, "WAL corruption: replay stopped there; earlier data kept");
    }
    if applied.too_far_in_future > 0 {
        head.stats.replay_too_far_in_future.fetch_add(
            applied.too_far_in_future,
            std::sync::atomic::Ordering::Relaxed,
        );
        tracing::warn!(
            skipped = applied.too_far_in_future,
            "WAL samples further ahead of the clock than the future grace were skipped during replay"
        );
    }
    if applied.skipped > 0 {
        tracing::warn!(
            skipped = applied.skipped,
            "WAL samples could not be applied during replay"
        );
    }
    Ok(OpenReport {
        replay: stats,
        samples_skipped: applied.skipped,
        chunks_loaded: pass.chunks_loaded,
    })
}

/// Lets every series whose newest sample is in a loaded chunk read it, on
/// two threads (half the shards each).
fn finish(head: &Head) {
    let shards = &head.shards[..];
    let (a, b) = shards.split_at(shards.len() / 2);
    let run = |part: &[parking_lot::Mutex<super::Shard>]| {
        for shard in part {
            for s in shard.lock().series.values_mut() {
                s.finish_replay(&head.chunks);
            }
        }
    };
    std::thread::scope(|scope| {
        scope.spawn(|| run(a));
        run(b);
    });
}

/// The reading thread's part of replay: series and tombstone records.
struct SeriesPass {
    /// Chunks from the head-chunks file not yet given to their series.
    loaded: Loaded,
    chunks_loaded: u64,
    /// Time range of the chunks given out.
    lo: i64,
    hi: i64,
    /// WAL series refs replayed as another id (the labels already had a
    /// series): their samples and tombstones go there.
    remap: FastMap<u64, u32>,
    /// Per series id (below [`COVER_IDS`]): the `(start, len)` of its
    /// loaded chunks' time ranges in `ranges`; `len` 0 once a WAL sample
    /// went past them (or a gap showed).
    cover: Vec<(u32, u32)>,
    ranges: Vec<(i64, i64)>,
    /// WAL samples dropped by [`SeriesPass::drop_covered`].
    samples_in_chunks: u64,
}

/// Series ids [`SeriesPass::cover`] tracks; samples of larger ids (not
/// written by this head) go to the workers, which check them one by one.
const COVER_IDS: u64 = 1 << 26;

impl Default for SeriesPass {
    fn default() -> Self {
        SeriesPass {
            loaded: Loaded::default(),
            chunks_loaded: 0,
            lo: i64::MAX,
            hi: i64::MIN,
            remap: FastMap::default(),
            cover: Vec::new(),
            ranges: Vec::new(),
            samples_in_chunks: 0,
        }
    }
}

impl SeriesPass {
    /// Creates the series (with their loaded chunks); returns the refs
    /// remapped to another id.
    fn series(&mut self, head: &Head, series: Vec<RefSeries>) -> Vec<(u64, u32)> {
        let mut remapped = Vec::new();
        for s in series {
            if s.labels.validate().is_err() {
                continue;
            }
            let want = u32::try_from(s.series_ref).ok();
            let (id, new) = head.get_or_create(&s.labels, want);
            let chunks = self.loaded.remove(&s.series_ref);
            if let Some(m) = head.shard(id).lock().series.get_mut(&id) {
                m.wal_logged = true;
                // Chunks were written under the id the series had, which
                // is its WAL ref; a remapped or already filled series takes
                // its samples from the WAL instead.
                if let (Some(c), true, true) = (&chunks, new, Some(id) == want) {
                    m.attach_mapped(c);
                    self.chunks_loaded += c.len() as u64;
                    self.lo = self.lo.min(c[0].1);
                    self.hi = self.hi.max(c[c.len() - 1].2);
                    if u64::from(id) < COVER_IDS {
                        let i = id as usize;
                        if self.cover.len() <= i {
                            self.cover.resize(i + 1, (0, 0));
                        }
                        self.cover[i] = (self.ranges.len() as u32, c.len() as u32);
                        self.ranges.extend(c.iter().map(|&(_, lo, hi)| (lo, hi)));
                    }
                }
            }
            if Some(id) != want {
                self.remap.insert(s.series_ref, id);
                remapped.push((s.series_ref, id));
                tracing::warn!(series_ref = s.series_ref, "WAL series ref remapped");
            }
        }
        remapped
    }

    /// Removes the samples that lie inside their series' loaded chunks, so
    /// the workers never see them: a table lookup per sample on this
    /// thread instead of a shard lock and a series lookup on a worker.
    /// The rule is [`super::series::MemSeries::in_loaded_chunk`]'s, kept in
    /// step with it: a sample past the chunks ends the dropping for the
    /// series, and one in a gap between them cuts the ranges there as the
    /// worker will cut the chunks.
    fn drop_covered(&mut self, samples: &mut Vec<RefSample>) {
        if self.cover.is_empty() {
            return;
        }
        let (cover, ranges, remap) = (&mut self.cover, &self.ranges, &self.remap);
        let before = samples.len();
        samples.retain(|s| {
            // A remapped ref's samples belong to another series than the
            // one that took chunks under that ref.
            if !remap.is_empty() && remap.contains_key(&s.series_ref) {
                return true;
            }
            let Some(e) = usize::try_from(s.series_ref)
                .ok()
                .and_then(|i| cover.get_mut(i))
            else {
                return true;
            };
            let (start, n) = (e.0 as usize, e.1 as usize);
            if n == 0 {
                return true;
            }
            let r = &ranges[start..start + n];
            if s.t > r[n - 1].1 {
                e.1 = 0;
                return true;
            }
            let i = r.partition_point(|&(_, maxt)| maxt < s.t);
            if i < n && r[i].0 <= s.t {
                return false;
            }
            e.1 = i as u32;
            true
        });
        self.samples_in_chunks += (before - samples.len()) as u64;
    }

    fn tombstones(&mut self, head: &Head, stones: Vec<RefTombstone>) {
        let mut ts = head.tombstones.write();
        for t in stones {
            let id = id_of(&self.remap, t.series_ref);
            ts.add(
                id as u64,
                Interval {
                    mint: t.mint,
                    maxt: t.maxt,
                },
            );
        }
    }
}

/// The head id of a WAL series ref.
fn id_of(remap: &FastMap<u64, u32>, series_ref: u64) -> u32 {
    if remap.is_empty() {
        return series_ref as u32;
    }
    remap.get(&series_ref).copied().unwrap_or(series_ref as u32)
}

/// One sample worker's part of replay.
struct Applied {
    /// Which shards are this worker's: those with `shard % WORKERS == worker`.
    worker: usize,
    samples: u64,
    skipped: u64,
    /// Of `skipped`: samples newer than `max_valid`.
    too_far_in_future: u64,
    /// A sample past this (the clock plus the future grace at open) is
    /// skipped rather than applied: applied, it would become the head's max
    /// time and put every sample written from now on out of bounds.
    max_valid: i64,
    lo: i64,
    hi: i64,
    /// WAL samples found already in a loaded chunk.
    samples_in_chunks: u64,
    /// The reading thread's remappings, as far as the log has got.
    remap: FastMap<u64, u32>,
}

impl Default for Applied {
    fn default() -> Self {
        Applied {
            worker: 0,
            samples: 0,
            skipped: 0,
            too_far_in_future: 0,
            max_valid: i64::MAX,
            lo: i64::MAX,
            hi: i64::MIN,
            samples_in_chunks: 0,
            remap: FastMap::default(),
        }
    }
}

impl Applied {
    /// Appends the samples of this worker's shards.
    fn samples(&mut self, head: &Head, samples: &[RefSample]) {
        for s in samples {
            let id = id_of(&self.remap, s.series_ref);
            if (id % SHARDS) as usize % WORKERS != self.worker {
                continue;
            }
            if s.t > self.max_valid {
                self.too_far_in_future += 1;
                self.skipped += 1;
                continue;
            }
            let mut shard = head.shard(id).lock();
            let r = shard.series.get_mut(&id).map(|m| {
                if m.in_loaded_chunk(s.t, &head.chunks) {
                    self.samples_in_chunks += 1;
                    return Ok(Appended::Duplicate);
                }
                m.append(id, s.t, s.v, head.opts.block_range, &head.chunks)
            });
            if let Some(Ok(_)) = r {
                self.samples += 1;
                self.lo = self.lo.min(s.t);
                self.hi = self.hi.max(s.t);
            } else {
                self.skipped += 1;
            }
        }
    }

    fn merge(&mut self, o: Applied) {
        self.samples += o.samples;
        self.skipped += o.skipped;
        self.too_far_in_future += o.too_far_in_future;
        self.lo = self.lo.min(o.lo);
        self.hi = self.hi.max(o.hi);
        self.samples_in_chunks += o.samples_in_chunks;
    }
}

/// After mid-log corruption the WAL cannot be appended to (replay would
/// stop before anything new). The whole WAL dir is moved aside for
/// inspection as `wal.corrupt-<unix ms>`, and a fresh WAL is written from
/// what the head holds, so the next start replays exactly the current state.
pub(super) fn rewrite_wal(head: &mut Head, dir: &Path) -> Result<()> {
    use crate::chunk::{Chunk, ChunkBytes, Encoding};
    use crate::error::Error;
    use crate::wal::{RefSample, RefSeries, RefTombstone, Wal};

    let wal_dir = dir.join("wal");
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let aside = dir.join(format!("wal.corrupt-{ms}"));
    std::fs::rename(&wal_dir, &aside).map_err(|e| Error::io(&wal_dir, e))?;
    tracing::error!(moved_to = %aside.display(), "corrupt WAL moved aside; rewriting WAL from memory");
    head.wal = Wal::open(&wal_dir, head.opts.wal)?;

    const BATCH: usize = 10_000;
    let mut samples = Vec::with_capacity(BATCH);
    for shard in head.shards.iter() {
        let shard = shard.lock();
        for (&id, s) in shard.series.iter() {
            let labels = head.labels_of(&s.labels);
            head.wal.log(&[Record::Series(vec![RefSeries {
                series_ref: id as u64,
                labels,
            }])])?;
            let mut chunks = Vec::new();
            for c in &s.closed {
                chunks.push(match c {
                    super::series::ClosedChunk::Mapped { chunk_ref, .. } => {
                        head.chunks.chunk(*chunk_ref)?
                    }
                    super::series::ClosedChunk::Memory { chunk, .. } => chunk.clone(),
                });
            }
            if let Some(open) = &s.open {
                chunks.push(Chunk::new(
                    Encoding::Xor,
                    ChunkBytes::from_vec(open.encode()),
                ));
            }
            for c in &chunks {
                for (t, v) in c.iter() {
                    samples.push(RefSample {
                        series_ref: id as u64,
                        t,
                        v,
                    });
                    if samples.len() == BATCH {
                        head.wal
                            .log(&[Record::Samples(std::mem::take(&mut samples))])?;
                    }
                }
            }
        }
    }
    if !samples.is_empty() {
        head.wal.log(&[Record::Samples(samples)])?;
    }
    let stones: Vec<RefTombstone> = head
        .tombstones
        .read()
        .iter()
        .flat_map(|(r, ivs)| {
            ivs.iter().map(move |iv| RefTombstone {
                series_ref: r,
                mint: iv.mint,
                maxt: iv.maxt,
            })
        })
        .collect();
    if !stones.is_empty() {
        head.wal.log(&[Record::Tombstones(stones)])?;
    }
    head.wal.sync()
}

#[cfg(test)]
mod tests {
    use super::super::{now_ms, HeadOptions};
    use super::*;
    use crate::error::Error;
    use crate::labels::Labels;
    use std::sync::atomic::Ordering;

    const GRACE: i64 = 10 * 60 * 1000;

    fn open(dir: &Path, future_grace: Option<i64>) -> (Head, OpenReport) {
        let opts = HeadOptions {
            future_grace,
            ..HeadOptions::default()
        };
        Head::open(dir, opts).unwrap()
    }

    /// A year-9999 sample in the WAL (written by a version without the
    /// limit) is skipped at replay, so the head's max time stays near now
    /// and current samples are still accepted.
    #[test]
    fn far_future_wal_sample_does_not_poison_replay() {
        let dir = tempfile::tempdir().unwrap();
        let now = now_ms();
        let far = 253_402_300_799_000; // 9999-12-31T23:59:59Z
        let l = Labels::from_pairs([("__name__", "m")]);
        {
            let (head, _) = open(dir.path(), None);
            let mut app = head.appender();
            app.append(&l, now - 1000, 1.0).unwrap();
            app.append(&l, far, 2.0).unwrap();
            app.commit().unwrap();
            assert_eq!(head.max_time(), far);
        }
        let (head, report) = open(dir.path(), Some(GRACE));
        assert_eq!(head.max_time(), now - 1000);
        assert_eq!(report.samples_skipped, 1);
        assert_eq!(
            head.stats.replay_too_far_in_future.load(Ordering::Relaxed),
            1
        );
        let mut app = head.appender();
        app.append(&l, now, 3.0).unwrap();
        app.commit().unwrap();
        assert_eq!(head.max_time(), now);
    }

    /// With a grace, an append past it is refused and counted, and leaves
    /// the head's time range alone.
    #[test]
    fn append_past_grace_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (head, _) = open(dir.path(), Some(GRACE));
        let now = now_ms();
        let l = Labels::from_pairs([("__name__", "m")]);
        let mut app = head.appender();
        assert!(matches!(
            app.append(&l, now + 2 * GRACE, 1.0),
            Err(Error::TooFarInFuture)
        ));
        app.append(&l, now + GRACE / 2, 1.0).unwrap();
        app.commit().unwrap();
        assert_eq!(head.max_time(), now + GRACE / 2);
        assert_eq!(head.stats.too_far_in_future.load(Ordering::Relaxed), 1);
    }

    fn value(s: usize, t: i64) -> f64 {
        t as f64 * 0.25 + s as f64
    }

    fn name(s: usize) -> Labels {
        Labels::from_pairs([("__name__", "m".to_string()), ("s", s.to_string())])
    }

    /// Appends samples `from..to` (every 1000 ms) for `series` series, one
    /// commit per timestamp.
    fn fill(head: &Head, series: usize, from: i64, to: i64) {
        for t in (from..to).step_by(1000) {
            let mut app = head.appender();
            for s in 0..series {
                app.append(&name(s), t, value(s, t)).unwrap();
            }
            app.commit().unwrap();
        }
    }

    /// Every sample the head serves, per series label `s`, checked against
    /// `value` and for strictly increasing timestamps.
    fn read_all(head: &Head) -> Vec<Vec<i64>> {
        use crate::querier::{Querier, SelectHints};
        let set = super::super::HeadQuerier::new(head, i64::MIN, i64::MAX)
            .select(&SelectHints::default(), &[])
            .unwrap();
        let mut out = Vec::new();
        for series in set.series {
            let s: usize = series.labels.get("s").parse().unwrap();
            let mut ts = Vec::new();
            for (t, v) in series.iter() {
                assert_eq!(v.to_bits(), value(s, t).to_bits(), "series {s} at {t}");
                assert!(ts.last().is_none_or(|&l| l < t), "series {s} at {t}");
                ts.push(t);
            }
            if out.len() <= s {
                out.resize(s + 1, Vec::new());
            }
            out[s] = ts;
        }
        out
    }

    fn expect(series: usize, from: i64, to: i64) -> Vec<Vec<i64>> {
        vec![(from..to).step_by(1000).collect(); series]
    }

    fn chunk_segments(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(dir.join("chunks_head"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    /// Chunks a run wrote are taken at the next open (twice in a row), the
    /// samples they hold are not replayed, and nothing is lost or doubled;
    /// appends go on after the newest loaded sample.
    #[test]
    fn chunks_survive_restarts() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (head, _) = open(dir.path(), None);
            fill(&head, 5, 0, 300_000);
        }
        let (head, report) = open(dir.path(), None);
        // 300 samples: two full chunks of 120 per series, 60 in the open one.
        assert_eq!(report.chunks_loaded, 10);
        assert_eq!(report.samples_skipped, 0);
        assert_eq!(read_all(&head), expect(5, 0, 300_000));
        assert_eq!(head.min_time(), 0);
        assert_eq!(head.max_time(), 299_000);
        fill(&head, 5, 300_000, 400_000);
        drop(head);
        let (head, report) = open(dir.path(), None);
        assert_eq!(report.chunks_loaded, 15);
        assert_eq!(read_all(&head), expect(5, 0, 400_000));
        // The duplicate check sees the newest loaded sample.
        let mut app = head.appender();
        assert!(app.append(&name(0), 399_000, value(0, 399_000)).is_ok());
        assert!(matches!(
            app.append(&name(1), 399_000, 7.0),
            Err(Error::DuplicateSample)
        ));
        assert!(matches!(
            app.append(&name(2), 398_000, 7.0),
            Err(Error::OutOfOrderSample)
        ));
        drop(app);
        drop(head);
        // Ending exactly on a chunk boundary: no WAL sample follows the
        // loaded chunks; the last value is read back from them.
        let dir = tempfile::tempdir().unwrap();
        {
            let (head, _) = open(dir.path(), None);
            fill(&head, 2, 0, 121_000);
        }
        let (head, report) = open(dir.path(), None);
        assert_eq!(report.chunks_loaded, 2);
        let mut app = head.appender();
        assert!(app.append(&name(0), 120_000, value(0, 120_000)).is_ok());
        assert!(matches!(
            app.append(&name(1), 120_000, -1.0),
            Err(Error::DuplicateSample)
        ));
    }

    /// A chunk file that is damaged, cut short, partly or wholly deleted
    /// between runs costs replay time only: every sample comes back.
    #[test]
    fn damaged_chunk_files_lose_nothing() {
        type Damage = fn(&[std::path::PathBuf]);
        let flip: Damage = |segs| {
            // A byte inside the third record of the first segment.
            let mut b = std::fs::read(&segs[0]).unwrap();
            b[8 + 2 * 200 + 40] ^= 0x55;
            std::fs::write(&segs[0], b).unwrap();
        };
        let cut: Damage = |segs| {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&segs[0])
                .unwrap();
            f.set_len(1000).unwrap();
        };
        let garbage: Damage = |segs| std::fs::write(&segs[0], b"not a chunk file").unwrap();
        let remove_first: Damage = |segs| std::fs::remove_file(&segs[0]).unwrap();
        let remove_all: Damage = |segs| {
            for s in segs {
                std::fs::remove_file(s).unwrap();
            }
        };
        for (what, damage) in [
            ("flipped byte", flip),
            ("truncated", cut),
            ("garbage", garbage),
            ("first segment deleted", remove_first),
            ("all deleted", remove_all),
        ] {
            let dir = tempfile::tempdir().unwrap();
            // Two runs, so chunks of each series lie in two segments and a
            // damaged first segment leaves a gap before good chunks.
            {
                let (head, _) = open(dir.path(), None);
                fill(&head, 4, 0, 250_000);
            }
            {
                let (head, _) = open(dir.path(), None);
                fill(&head, 4, 250_000, 500_000);
            }
            let segs = chunk_segments(dir.path());
            assert_eq!(segs.len(), 2, "{what}");
            damage(&segs);
            let (head, report) = open(dir.path(), None);
            assert_eq!(report.samples_skipped, 0, "{what}");
            assert_eq!(read_all(&head), expect(4, 0, 500_000), "{what}");
            fill(&head, 4, 500_000, 520_000);
            drop(head);
            let (head, _) = open(dir.path(), None);
            assert_eq!(read_all(&head), expect(4, 0, 520_000), "{what}, again");
        }
    }

    /// After head truncation the chunks below the new lower bound are not
    /// loaded again (`open_above`), and a tombstone still hides what it
    /// covers in loaded chunks.
    #[test]
    fn truncation_and_tombstones_survive_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (head, _) = open(dir.path(), None);
            fill(&head, 3, 0, 400_000);
            head.truncate(200_000).unwrap();
            let m = [crate::Matcher::equal("s", "1")];
            head.delete(&m, 250_000, 260_000).unwrap();
        }
        let (head, report) = Head::open_above(dir.path(), HeadOptions::default(), 200_000).unwrap();
        assert!(report.chunks_loaded > 0);
        let got = read_all(&head);
        let mut want = expect(3, 0, 400_000);
        for w in &mut want {
            // Chunks are cut at 120 samples: the first truncation keeps the
            // chunk holding 200 s, which starts at 120 s.
            w.retain(|&t| t >= 120_000);
        }
        want[1].retain(|&t| !(250_000..=260_000).contains(&t));
        assert_eq!(got, want);
    }
}
