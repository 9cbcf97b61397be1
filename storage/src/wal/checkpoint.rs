//! Checkpoints: fold a prefix of the WAL into `checkpoint.NNNNNNNN`, keeping
//! only live series and recent samples, so old segments can be deleted.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::vfs::{Fs, WriteFile};

use super::checkpoint_dir::{
    checkpoint_name, latest_checkpoint, list_checkpoints, tmp_checkpoint_name,
};
use super::frame::{FrameEncoder, SEGMENT_HEADER_LEN};
use super::reader::{find_gap, read_segment};
use super::record::Record;
use super::segment::{create_segment, list_segments, segment_path};
use super::writer::Wal;

/// What [`checkpoint()`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Number of the new checkpoint (= last segment folded in).
    pub checkpoint: u32,
    /// Segments read (previous checkpoint's included).
    pub segments_read: u32,
    pub kept_series: u64,
    pub dropped_series: u64,
    pub kept_samples: u64,
    pub dropped_samples: u64,
    pub kept_tombstones: u64,
    pub dropped_tombstones: u64,
    /// Bytes of the new checkpoint directory.
    pub size_bytes: u64,
}

/// Writes records into numbered segments in a checkpoint directory.
struct CheckpointWriter<'a> {
    fs: Fs,
    dir: &'a Path,
    segment_size: u64,
    seg: u32,
    w: BufWriter<WriteFile>,
    len: u64,
    frame: Vec<u8>,
    enc: FrameEncoder,
}

impl<'a> CheckpointWriter<'a> {
    fn new(fs: Fs, dir: &'a Path, segment_size: u64) -> Result<Self> {
        let f = create_segment(fs, dir, 0, false)?;
        Ok(CheckpointWriter {
            fs,
            dir,
            segment_size,
            seg: 0,
            w: BufWriter::with_capacity(1 << 20, f),
            len: SEGMENT_HEADER_LEN,
            frame: Vec::new(),
            enc: FrameEncoder::new(),
        })
    }

    fn path(&self) -> PathBuf {
        segment_path(self.dir, self.seg)
    }

    fn close_segment(&mut self) -> Result<()> {
        let path = self.path();
        self.w.flush().map_err(|e| Error::io(&path, e))?;
        self.w.get_ref().sync_all().map_err(|e| Error::io(&path, e))
    }

    fn add(&mut self, rec: &Record) -> Result<()> {
        self.frame.clear();
        self.enc
            .append(rec.type_byte(), &mut self.frame, |b| rec.encode(b))
            .map_err(|e| Error::io(self.path(), e))?;
        let n = self.frame.len() as u64;
        if self.len > SEGMENT_HEADER_LEN && self.len + n > self.segment_size {
            self.close_segment()?;
            self.seg += 1;
            self.w = BufWriter::with_capacity(
                1 << 20,
                create_segment(self.fs, self.dir, self.seg, false)?,
            );
            self.len = SEGMENT_HEADER_LEN;
        }
        self.w
            .write_all(&self.frame)
            .map_err(|e| Error::io(self.path(), e))?;
        self.len += n;
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.close_segment()?;
        self.fs.sync_dir(self.dir)
    }
}

fn invalid(path: &Path, msg: String) -> Error {
    Error::io(
        path,
        std::io::Error::new(std::io::ErrorKind::InvalidInput, msg),
    )
}

/// Writes `checkpoint.NNNNNNNN` (N = `upto`, the last segment included) in the
/// WAL dir: reads the existing checkpoint and segments `(previous, upto]` and
/// writes only the Series records for which `keep_series(ref)` is true,
/// Samples with `t >= mint` of kept series, and Tombstones of kept series with
/// `maxt >= mint`. Written in `checkpoint.NNNNNNNN.tmp`, fsynced, renamed
/// (atomic publish); older checkpoints are then deleted, then segments
/// `<= upto`.
///
/// `upto` must be below the segment being written ([`Wal::cut`] first) and
/// above the previous checkpoint. Any corruption or missing segment in the
/// input fails the checkpoint and deletes nothing.
pub fn checkpoint(
    wal: &Wal,
    upto: u32,
    keep_series: impl Fn(u64) -> bool,
    mint: i64,
) -> Result<CheckpointStats> {
    let _guard = wal.checkpoint_lock.lock();
    let dir = wal.dir();
    let current = wal.current_segment();
    if upto >= current {
        return Err(invalid(
            dir,
            format!("checkpoint up to segment {upto} includes the active segment {current}"),
        ));
    }
    let prev = latest_checkpoint(dir)?;
    if let Some((p, _)) = &prev {
        if upto <= *p {
            return Err(invalid(
                dir,
                format!("checkpoint {p} already covers segment {upto}"),
            ));
        }
    }
    let prev_n = prev.as_ref().map(|(n, _)| *n);
    let segs: Vec<_> = list_segments(dir)?
        .into_iter()
        .filter(|(n, _)| prev_n.is_none_or(|p| *n > p) && *n <= upto)
        .collect();
    if let Some((_, missing)) = find_gap(&segs, prev_n.map(|p| p + 1)) {
        return Err(Error::corruption(
            segment_path(dir, missing),
            "segment missing, cannot checkpoint",
        ));
    }
    if segs.last().map(|(n, _)| *n) != Some(upto) {
        return Err(Error::corruption(
            segment_path(dir, upto),
            "segment missing, cannot checkpoint",
        ));
    }

    let final_dir = dir.join(checkpoint_name(upto));
    let tmp = dir.join(tmp_checkpoint_name(upto));
    let fs = wal.options().vfs;
    fs.remove_dir_all(&tmp)?;
    fs.create_dir(&tmp)?;
    let res = write_checkpoint(wal, &tmp, prev.as_ref(), &segs, &keep_series, mint);
    let mut stats = match res {
        Ok(s) => s,
        Err(e) => {
            if let Err(e2) = fs.remove_dir_all(&tmp) {
                tracing::warn!(error = %e2, "could not remove failed WAL checkpoint");
            }
            return Err(e);
        }
    };
    stats.checkpoint = upto;
    fs.publish_dir(&tmp, &final_dir)?;
    stats.size_bytes = crate::fs::dir_size(&final_dir);

    for (n, path) in list_checkpoints(dir)? {
        if n < upto {
            fs.remove_dir_all(&path)?;
        }
    }
    wal.truncate_before(upto + 1)?;
    tracing::info!(
        checkpoint = upto,
        kept_series = stats.kept_series,
        kept_samples = stats.kept_samples,
        "WAL checkpoint written"
    );
    Ok(stats)
}

fn write_checkpoint(
    wal: &Wal,
    tmp: &Path,
    prev: Option<&(u32, PathBuf)>,
    segs: &[(u32, PathBuf)],
    keep: &impl Fn(u64) -> bool,
    mint: i64,
) -> Result<CheckpointStats> {
    let mut stats = CheckpointStats::default();
    let mut w = CheckpointWriter::new(wal.options().vfs, tmp, wal.options().segment_size)?;
    let mut inputs: Vec<PathBuf> = Vec::new();
    if let Some((_, cp_dir)) = prev {
        let cp_segs = list_segments(cp_dir)?;
        if let Some((_, missing)) = find_gap(&cp_segs, Some(0)) {
            return Err(Error::corruption(
                segment_path(cp_dir, missing),
                "checkpoint segment missing",
            ));
        }
        inputs.extend(cp_segs.into_iter().map(|(_, p)| p));
    }
    inputs.extend(segs.iter().map(|(_, p)| p.clone()));

    let mut records = 0u64;
    let mut filter = |mut out: Record| -> Result<()> {
        match &mut out {
            Record::Series(v) => retain_counted(
                v,
                |s| keep(s.series_ref),
                (&mut stats.kept_series, &mut stats.dropped_series),
            ),
            Record::Samples(v) => retain_counted(
                v,
                |s| s.t >= mint && keep(s.series_ref),
                (&mut stats.kept_samples, &mut stats.dropped_samples),
            ),
            Record::Tombstones(v) => retain_counted(
                v,
                |t| t.maxt >= mint && keep(t.series_ref),
                (&mut stats.kept_tombstones, &mut stats.dropped_tombstones),
            ),
        }
        if !out.is_empty() {
            w.add(&out)?;
        }
        Ok(())
    };
    for path in &inputs {
        if let Some((off, detail)) = read_segment(path, &mut filter, &mut records)? {
            return Err(Error::corruption(path, format!("offset {off}: {detail}")));
        }
    }
    stats.segments_read = inputs.len() as u32;
    w.finish()?;
    Ok(stats)
}

/// Keeps the entries of `v` that `keep` accepts, adding to the `(kept,
/// dropped)` counters.
fn retain_counted<T>(v: &mut Vec<T>, keep: impl FnMut(&T) -> bool, counts: (&mut u64, &mut u64)) {
    let before = v.len();
    v.retain(keep);
    *counts.0 += v.len() as u64;
    *counts.1 += (before - v.len()) as u64;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use crate::wal::reader::tests::{batches, collect, opts};
    use crate::wal::record::{RefSample, RefSeries, RefTombstone};
    use std::fs;

    fn series(r: u64) -> Record {
        Record::Series(vec![RefSeries {
            series_ref: r,
            labels: Labels::from_pairs([("__name__", "up"), ("r", &*r.to_string())]),
        }])
    }

    fn samples(refs: &[u64], t: i64) -> Record {
        Record::Samples(
            refs.iter()
                .map(|&r| RefSample {
                    series_ref: r,
                    t,
                    v: r as f64 + t as f64,
                })
                .collect(),
        )
    }

    /// Keeps even refs and samples with t >= 300.
    fn expected(recs: &[Record]) -> Vec<Record> {
        recs.iter()
            .filter_map(|r| {
                let out = match r.clone() {
                    Record::Series(mut v) => {
                        v.retain(|s| s.series_ref % 2 == 0);
                        Record::Series(v)
                    }
                    Record::Samples(mut v) => {
                        v.retain(|s| s.series_ref % 2 == 0 && s.t >= 300);
                        Record::Samples(v)
                    }
                    Record::Tombstones(mut v) => {
                        v.retain(|t| t.series_ref % 2 == 0 && t.maxt >= 300);
                        Record::Tombstones(v)
                    }
                };
                (!out.is_empty()).then_some(out)
            })
            .collect()
    }

    #[test]
    fn checkpoint_keeps_live_series_and_recent_samples() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), opts(100)).unwrap();
        let mut before = Vec::new();
        for r in 0..6 {
            before.push(series(r));
        }
        for t in (0..600).step_by(100) {
            before.push(samples(&[0, 1, 2, 3, 4, 5], t));
        }
        before.push(Record::Tombstones(vec![
            RefTombstone {
                series_ref: 2,
                mint: 0,
                maxt: 100,
            },
            RefTombstone {
                series_ref: 4,
                mint: 200,
                maxt: 400,
            },
            RefTombstone {
                series_ref: 5,
                mint: 200,
                maxt: 400,
            },
        ]));
        for r in &before {
            wal.log(std::slice::from_ref(r)).unwrap();
        }
        let upto = wal.cut().unwrap() - 1;
        assert!(upto >= 2, "test wants several segments");
        let after = vec![samples(&[0, 2], 600), series(6), samples(&[6], 700)];
        wal.log(&after).unwrap();

        let stats = checkpoint(&wal, upto, |r| r % 2 == 0, 300).unwrap();
        assert_eq!(stats.checkpoint, upto);
        assert_eq!(stats.kept_series, 3);
        assert_eq!(stats.dropped_series, 3);
        assert_eq!(stats.kept_samples, 9);
        assert_eq!(stats.kept_tombstones, 1);
        assert!(d.path().join(checkpoint_name(upto)).is_dir());
        assert_eq!(wal.segment_range().unwrap(), Some((upto + 1, upto + 1)));

        let (got, rs) = collect(d.path());
        let mut want = expected(&before);
        want.extend(after.iter().cloned());
        assert_eq!(got, want);
        assert_eq!(rs.checkpoint, Some(upto));
        assert!(rs.corruption.is_none() && rs.truncated.is_none());

        // A second checkpoint folds the first one in and deletes it.
        let upto2 = wal.cut().unwrap() - 1;
        let stats2 = checkpoint(&wal, upto2, |r| r != 0, 650).unwrap();
        assert_eq!(stats2.checkpoint, upto2);
        assert_eq!(list_checkpoints(d.path()).unwrap().len(), 1);
        let (got, _) = collect(d.path());
        assert_eq!(
            got,
            vec![series(2), series(4), series(6), samples(&[6], 700)]
        );

        // Bad ranges are refused.
        assert!(checkpoint(&wal, upto2, |_| true, 0).is_err());
        assert!(checkpoint(&wal, wal.current_segment(), |_| true, 0).is_err());
    }

    #[test]
    fn leftover_tmp_checkpoint_is_ignored_and_removed() {
        let d = tempfile::tempdir().unwrap();
        let recs = batches(20);
        {
            let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
            wal.log(&recs).unwrap();
        }
        // A crash mid-checkpoint: a half-written temp dir with garbage.
        let tmp = d.path().join(format!("{}.tmp", checkpoint_name(0)));
        fs::create_dir(&tmp).unwrap();
        fs::write(segment_path(&tmp, 0), b"FPWL\x01\0\0\0garbage").unwrap();
        let (got, stats) = collect(d.path());
        assert_eq!(got, recs);
        assert!(stats.checkpoint.is_none() && stats.corruption.is_none());
        assert!(!tmp.exists());

        // Open removes it too.
        fs::create_dir(&tmp).unwrap();
        let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
        assert!(!tmp.exists());
        // And a real checkpoint over the same number still works.
        checkpoint(&wal, 0, |_| true, i64::MIN).unwrap();
        let (got, _) = collect(d.path());
        assert_eq!(got, recs);
    }

    #[test]
    fn corrupt_input_fails_checkpoint_without_deleting() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
        wal.log(&batches(10)).unwrap();
        wal.cut().unwrap();
        let seg = segment_path(d.path(), 0);
        let mut b = fs::read(&seg).unwrap();
        let n = b.len();
        b[n - 2] ^= 0xff;
        fs::write(&seg, &b).unwrap();
        let err = checkpoint(&wal, 0, |_| true, 0).unwrap_err();
        assert!(err.to_string().contains("00000000"), "{err}");
        assert!(seg.exists());
        assert!(list_checkpoints(d.path()).unwrap().is_empty());
        assert!(fs::read_dir(d.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")));
    }
}
