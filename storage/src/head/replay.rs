//! Rebuilding the head from the WAL at startup.

use std::path::Path;

use super::{Head, OpenReport};
use crate::error::Result;
use crate::tombstones::Interval;
use crate::wal::{self, Record};

/// Replays checkpoint and segments into `head`. Series keep their WAL refs
/// so later records (and tombstones) resolve to them.
///
/// Reading (CRC, snappy, record decoding) and applying run on two threads
/// joined by a bounded channel, so replay uses both cores; one consumer keeps
/// the records in log order.
pub(super) fn replay(head: &mut Head, wal_dir: &Path) -> Result<OpenReport> {
    let h: &Head = head;
    let (stats, applied) = std::thread::scope(|scope| {
        let (tx, rx) = crossbeam::channel::bounded::<Record>(256);
        let applier = scope.spawn(move || {
            let mut a = Applied {
                max_valid: h.max_valid_time(),
                ..Applied::default()
            };
            for rec in rx {
                a.apply(h, rec);
            }
            a
        });
        let stats = wal::replay(wal_dir, |rec| {
            // The applier only stops early by panicking, which join reports.
            let _ = tx.send(rec);
            Ok(())
        });
        drop(tx);
        let applied = applier.join().expect("WAL replay applier panicked");
        (stats, applied)
    });
    let stats = stats?;
    if applied.samples > 0 {
        head.note_time(applied.lo);
        head.note_time(applied.hi);
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
    })
}

struct Applied {
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
}

impl Default for Applied {
    fn default() -> Self {
        Applied {
            samples: 0,
            skipped: 0,
            too_far_in_future: 0,
            max_valid: i64::MAX,
            lo: i64::MAX,
            hi: i64::MIN,
        }
    }
}

impl Applied {
    fn apply(&mut self, head: &Head, rec: Record) {
        match rec {
            Record::Series(series) => {
                for s in series {
                    if s.labels.validate().is_err() {
                        continue;
                    }
                    let want = u32::try_from(s.series_ref).ok();
                    let (id, _) = head.get_or_create(&s.labels, want);
                    if let Some(m) = head.shard(id).lock().series.get_mut(&id) {
                        m.wal_logged = true;
                    }
                    if Some(id) != want {
                        tracing::warn!(series_ref = s.series_ref, "WAL series ref remapped");
                    }
                }
            }
            Record::Samples(samples) => {
                for s in samples {
                    if s.t > self.max_valid {
                        self.too_far_in_future += 1;
                        self.skipped += 1;
                        continue;
                    }
                    let id = s.series_ref as u32;
                    let mut shard = head.shard(id).lock();
                    let ok = shard.series.get_mut(&id).is_some_and(|m| {
                        m.append(id, s.t, s.v, head.opts.block_range, &head.chunks)
                            .is_ok()
                    });
                    if ok {
                        self.samples += 1;
                        self.lo = self.lo.min(s.t);
                        self.hi = self.hi.max(s.t);
                    } else {
                        self.skipped += 1;
                    }
                }
            }
            Record::Tombstones(stones) => {
                let mut ts = head.tombstones.write();
                for t in stones {
                    ts.add(
                        t.series_ref,
                        Interval {
                            mint: t.mint,
                            maxt: t.maxt,
                        },
                    );
                }
            }
        }
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
}
