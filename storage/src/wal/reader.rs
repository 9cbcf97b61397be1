//! Reading segments back: a per-segment record iterator and the replay of a
//! whole WAL directory with torn-tail repair (see `docs/formats/wal.md`).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

use super::checkpoint_dir::{latest_checkpoint, remove_tmp_checkpoints};
use super::frame::{Decompressor, Frame, FrameError, Frames, SEGMENT_HEADER_LEN};
use super::record::Record;
use super::segment::{list_segments, segment_path, segment_size, SegmentWindow};

/// Why [`WalReader::next_record`] stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The bytes at `offset` (a frame start, or 0 for the segment header) are
    /// incomplete or damaged. Everything before `offset` was read fine.
    Corrupt { offset: u64, detail: String },
    /// An I/O failure, or a segment this code must not touch (unknown format
    /// version); never repaired.
    Fatal(Error),
}

/// Reads the records of one segment file in order.
///
/// As an [`Iterator`] it yields `crate::Result<Record>` and ends after the
/// first error; corruption is reported as [`Error::Corruption`] naming the
/// file and offset.
pub struct WalReader {
    win: SegmentWindow,
    /// The file's size at open: bytes appended later are not read.
    file_len: u64,
    done: bool,
    decompressor: Decompressor,
}

impl std::fmt::Debug for WalReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalReader")
            .field("path", &self.win.path())
            .field("offset", &self.win.offset())
            .finish_non_exhaustive()
    }
}

impl WalReader {
    /// Opens a segment file for reading.
    pub fn open(path: &Path) -> Result<WalReader> {
        let win = SegmentWindow::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = win.file_len()?;
        Ok(WalReader {
            win,
            file_len,
            done: false,
            decompressor: Decompressor::new(),
        })
    }

    /// The segment file being read.
    pub fn path(&self) -> &Path {
        self.win.path()
    }

    /// The offset just past the last good record (or header) read so far:
    /// where a torn file would be truncated.
    pub fn offset(&self) -> u64 {
        self.win.offset()
    }

    fn corrupt<T>(&self, detail: impl Into<String>) -> Result<T, ReadError> {
        Err(ReadError::Corrupt {
            offset: self.win.offset(),
            detail: detail.into(),
        })
    }

    /// Reads more of the file after the window ran out mid-frame (or at a
    /// frame boundary) before the file's end.
    fn read_more(&mut self) -> Result<(), ReadError> {
        match self.win.fill(self.file_len) {
            Ok(0) => self.corrupt("unexpected end of file"),
            Ok(_) => Ok(()),
            Err(e) => Err(ReadError::Fatal(e)),
        }
    }

    /// The next record, `Ok(None)` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        loop {
            let bytes = self.win.unconsumed();
            let mut frames = if self.win.offset() == 0 {
                Frames::segment(bytes)
            } else {
                Frames::after_header(bytes)
            };
            let next = frames.next();
            let good = frames.offset();
            let more = self.win.end() < self.file_len;
            match next {
                Some(Ok(frame)) => {
                    let (start, end) = (frame.offset, frame.end());
                    let rec = decode_record(&frame, &mut self.decompressor);
                    return match rec {
                        Ok(r) => {
                            self.win.consume(end);
                            Ok(Some(r))
                        }
                        Err(detail) => {
                            self.win.consume(start);
                            self.corrupt(detail)
                        }
                    };
                }
                // The window holds no more (or only part of a frame) but
                // the file does: read on.
                None if more => {
                    self.win.consume(good);
                    self.read_more()?;
                }
                Some(Err(e)) if more && e.is_incomplete() => {
                    self.win.consume(good);
                    self.read_more()?;
                }
                None => {
                    self.win.consume(good);
                    return Ok(None);
                }
                Some(Err(e @ FrameError::UnsupportedVersion(_))) => {
                    return Err(ReadError::Fatal(Error::corruption(
                        self.win.path(),
                        e.to_string(),
                    )));
                }
                Some(Err(e)) => {
                    self.win.consume(good);
                    return self.corrupt(e.to_string());
                }
            }
        }
    }
}

/// The record a checked frame holds; the error is the `detail` replay
/// reports.
pub(crate) fn decode_record(frame: &Frame<'_>, dec: &mut Decompressor) -> Result<Record, String> {
    let body = dec.body(frame).map_err(|e| e.to_string())?;
    Record::decode(frame.typ, body).map_err(|e| format!("record does not decode: {e}"))
}

impl Iterator for WalReader {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(match e {
                    ReadError::Corrupt { offset, detail } => {
                        Error::corruption(self.path(), format!("offset {offset}: {detail}"))
                    }
                    ReadError::Fatal(e) => e,
                }))
            }
        }
    }
}

/// What [`replay`] did.
#[derive(Debug, Default)]
pub struct ReplayStats {
    /// Records delivered to the callback (checkpoint included).
    pub records: u64,
    /// Segment files read (checkpoint segments included).
    pub segments: u32,
    /// The tail segment that was truncated and the offset it was cut at.
    pub truncated: Option<(PathBuf, u64)>,
    /// Mid-log corruption that stopped the replay (nothing after it was read).
    pub corruption: Option<Error>,
    /// The checkpoint replayed first, if any.
    pub checkpoint: Option<u32>,
}

/// Replays one segment into `f`; returns the corruption it stopped at, if any.
pub(crate) fn read_segment(
    path: &Path,
    f: &mut impl FnMut(Record) -> Result<()>,
    records: &mut u64,
) -> Result<Option<(u64, String)>> {
    let mut r = WalReader::open(path)?;
    loop {
        match r.next_record() {
            Ok(Some(rec)) => {
                *records += 1;
                f(rec)?;
            }
            Ok(None) => return Ok(None),
            Err(ReadError::Corrupt { offset, detail }) => return Ok(Some((offset, detail))),
            Err(ReadError::Fatal(e)) => return Err(e),
        }
    }
}

/// Checks that segment numbers run without gaps from `first` (if given).
/// Returns the index of the first missing segment and its number.
pub(crate) fn find_gap(segs: &[(u32, PathBuf)], first: Option<u32>) -> Option<(usize, u32)> {
    let mut want = first;
    for (i, (n, _)) in segs.iter().enumerate() {
        if let Some(w) = want {
            if *n != w {
                return Some((i, w));
            }
        }
        want = Some(n.wrapping_add(1));
    }
    None
}

fn truncate_file(path: &Path, offset: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.set_len(offset).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

fn mid_log_corruption(stats: &mut ReplayStats, path: &Path, detail: String) {
    let err = Error::corruption(path, detail);
    tracing::error!(error = %err, "WAL corruption: replay stopped, later records are not replayed");
    stats.corruption = Some(err);
}

/// Reads the latest checkpoint (if any) then every segment after it, in order,
/// calling `f` per record. An error from `f` aborts the replay and is returned.
///
/// * A torn or corrupt tail of the *tail segment* (the last one holding any
///   record bytes) is truncated at the last good record, logged, and reported
///   in [`ReplayStats::truncated`].
/// * Any other corruption (a non-tail segment, the checkpoint, a missing
///   segment) stops the replay there: records before it were delivered, later
///   segments are not replayed, nothing is modified, and it is reported in
///   [`ReplayStats::corruption`].
///
/// Leftover `checkpoint.*.tmp` directories are deleted first.
pub fn replay(dir: &Path, mut f: impl FnMut(Record) -> Result<()>) -> Result<ReplayStats> {
    let mut stats = ReplayStats::default();
    remove_tmp_checkpoints(crate::vfs::Fs::os(), dir)?;
    let cp = latest_checkpoint(dir)?;
    if let Some((n, cp_dir)) = &cp {
        stats.checkpoint = Some(*n);
        let segs = list_segments(cp_dir)?;
        let gap = find_gap(&segs, Some(0));
        for (_, path) in &segs[..gap.map_or(segs.len(), |(i, _)| i)] {
            stats.segments += 1;
            if let Some((off, d)) = read_segment(path, &mut f, &mut stats.records)? {
                mid_log_corruption(&mut stats, path, format!("offset {off}: {d}"));
                return Ok(stats);
            }
        }
        if let Some((_, missing)) = gap {
            let path = segment_path(cp_dir, missing);
            mid_log_corruption(&mut stats, &path, "checkpoint segment missing".into());
            return Ok(stats);
        }
    }

    let cp_n = cp.map(|(n, _)| n);
    let segs: Vec<_> = list_segments(dir)?
        .into_iter()
        .filter(|(n, _)| cp_n.is_none_or(|c| *n > c))
        .collect();
    // The tail segment: the last one with bytes beyond its header. Segments
    // after it hold no records (e.g. opened but never written).
    let mut tail = 0;
    for (i, (_, path)) in segs.iter().enumerate() {
        if segment_size(path)? > SEGMENT_HEADER_LEN {
            tail = i;
        }
    }
    let gap = find_gap(&segs, cp_n.map(|c| c.wrapping_add(1)));
    let end = gap.map_or(segs.len(), |(i, _)| i);
    for (i, (_, path)) in segs[..end].iter().enumerate() {
        stats.segments += 1;
        let Some((off, detail)) = read_segment(path, &mut f, &mut stats.records)? else {
            continue;
        };
        if i >= tail {
            tracing::warn!(
                path = %path.display(),
                offset = off,
                detail = %detail,
                "WAL tail torn or corrupt; truncating segment at the last good record"
            );
            truncate_file(path, off)?;
            if stats.truncated.is_none() {
                stats.truncated = Some((path.clone(), off));
            }
        } else {
            mid_log_corruption(&mut stats, path, format!("offset {off}: {detail}"));
            return Ok(stats);
        }
    }
    if let Some((_, missing)) = gap {
        mid_log_corruption(
            &mut stats,
            &segment_path(dir, missing),
            "segment missing: later segments are not replayed".into(),
        );
    }
    Ok(stats)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::labels::Labels;
    use crate::wal::record::{RefSample, RefSeries, RefTombstone};
    use crate::wal::writer::{SyncPolicy, Wal, WalOptions};
    use std::fs;

    /// Deterministic test batches: series definitions, samples, tombstones.
    pub(crate) fn batches(n: usize) -> Vec<Record> {
        (0..n)
            .map(|i| match i % 3 {
                0 => Record::Series(vec![RefSeries {
                    series_ref: i as u64,
                    labels: Labels::from_pairs([("__name__", "m"), ("i", &*i.to_string())]),
                }]),
                1 => Record::Samples(
                    (0..20)
                        .map(|j| RefSample {
                            series_ref: (i - 1) as u64,
                            t: (i * 100 + j) as i64 - 50,
                            v: if j == 3 {
                                crate::stale_nan()
                            } else {
                                (i * j) as f64 * 0.5
                            },
                        })
                        .collect(),
                ),
                _ => Record::Tombstones(vec![RefTombstone {
                    series_ref: (i - 2) as u64,
                    mint: i as i64,
                    maxt: i as i64 * 2,
                }]),
            })
            .collect()
    }

    pub(crate) fn opts(segment_size: u64) -> WalOptions {
        WalOptions {
            segment_size,
            sync: SyncPolicy::Never,
            ..WalOptions::default()
        }
    }

    pub(crate) fn collect(dir: &Path) -> (Vec<Record>, ReplayStats) {
        let mut out = Vec::new();
        let stats = replay(dir, |r| {
            out.push(r);
            Ok(())
        })
        .unwrap();
        (out, stats)
    }

    /// Offsets of each frame end in a segment file.
    fn frame_ends(path: &Path) -> Vec<u64> {
        let mut r = WalReader::open(path).unwrap();
        let mut ends = Vec::new();
        while r.next_record().unwrap().is_some() {
            ends.push(r.offset());
        }
        ends
    }

    #[test]
    fn missing_or_empty_dir_replays_nothing() {
        let d = tempfile::tempdir().unwrap();
        let (got, stats) = collect(&d.path().join("nope"));
        assert!(got.is_empty() && stats.segments == 0);
        drop(Wal::open(d.path(), opts(1 << 20)).unwrap());
        let (got, stats) = collect(d.path());
        assert!(got.is_empty() && stats.truncated.is_none() && stats.segments == 1);
    }

    #[test]
    fn roundtrip_across_segments() {
        let d = tempfile::tempdir().unwrap();
        let recs = batches(300);
        {
            let wal = Wal::open(d.path(), opts(2048)).unwrap();
            for chunk in recs.chunks(2) {
                wal.log(chunk).unwrap();
            }
            wal.log(&[]).unwrap();
            let (first, last) = wal.segment_range().unwrap().unwrap();
            assert_eq!(first, 0);
            assert!(last >= 4, "only {last} segments");
        }
        let (got, stats) = collect(d.path());
        assert_eq!(got, recs);
        assert!(stats.truncated.is_none() && stats.corruption.is_none());
        assert_eq!(stats.records, 300);
        // Every segment stays within the size limit (no single batch exceeds it).
        for (_, p) in list_segments(d.path()).unwrap() {
            assert!(segment_size(&p).unwrap() <= 2048);
        }
    }

    #[test]
    fn torn_tail_at_every_offset() {
        let src = tempfile::tempdir().unwrap();
        let recs = batches(6);
        {
            let wal = Wal::open(src.path(), opts(1 << 20)).unwrap();
            for r in &recs {
                wal.log(std::slice::from_ref(r)).unwrap();
            }
        }
        let seg = segment_path(src.path(), 0);
        let bytes = fs::read(&seg).unwrap();
        let ends = frame_ends(&seg);
        let last_start = ends[ends.len() - 2];
        assert_eq!(*ends.last().unwrap(), bytes.len() as u64);
        // Cuts inside the last record, and inside the segment header.
        let cuts = (last_start + 1..bytes.len() as u64).chain(1..SEGMENT_HEADER_LEN);
        for cut in cuts {
            let d = tempfile::tempdir().unwrap();
            let path = segment_path(d.path(), 0);
            fs::write(&path, &bytes[..cut as usize]).unwrap();
            let (got, stats) = collect(d.path());
            let good = if cut < SEGMENT_HEADER_LEN {
                0
            } else {
                last_start
            };
            let n = if cut < SEGMENT_HEADER_LEN {
                0
            } else {
                recs.len() - 1
            };
            assert_eq!(got, recs[..n], "cut at {cut}");
            assert_eq!(stats.truncated, Some((path.clone(), good)), "cut at {cut}");
            assert!(stats.corruption.is_none());
            assert_eq!(fs::metadata(&path).unwrap().len(), good);

            // The repaired WAL takes new writes and replays cleanly.
            let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
            wal.log(&recs[5..]).unwrap();
            drop(wal);
            let (got, stats) = collect(d.path());
            assert!(stats.truncated.is_none() && stats.corruption.is_none());
            assert_eq!(got.len(), n + 1);
            assert_eq!(got.last(), recs.last());
        }
    }

    #[test]
    fn flipped_byte_in_last_segment_truncates() {
        let d = tempfile::tempdir().unwrap();
        let recs = batches(30);
        {
            let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
            for r in &recs {
                wal.log(std::slice::from_ref(r)).unwrap();
            }
            // An empty segment after the written one (as a later open would
            // leave): the written one is still the tail.
            wal.cut().unwrap();
        }
        let seg = segment_path(d.path(), 0);
        let ends = frame_ends(&seg);
        let mut bytes = fs::read(&seg).unwrap();
        let at = ends[9] as usize + 12; // inside record 10's payload
        bytes[at] ^= 0x40;
        fs::write(&seg, &bytes).unwrap();
        let (got, stats) = collect(d.path());
        assert_eq!(got, recs[..10]);
        assert_eq!(stats.truncated, Some((seg.clone(), ends[9])));
        assert!(stats.corruption.is_none());
        assert_eq!(fs::metadata(&seg).unwrap().len(), ends[9]);
    }

    #[test]
    fn flipped_byte_in_middle_segment_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let recs = batches(200);
        {
            let wal = Wal::open(d.path(), opts(1500)).unwrap();
            for r in &recs {
                wal.log(std::slice::from_ref(r)).unwrap();
            }
        }
        let segs = list_segments(d.path()).unwrap();
        assert!(segs.len() >= 4);
        let in_seg0 = frame_ends(&segs[0].1).len();
        let seg1 = &segs[1].1;
        let ends1 = frame_ends(seg1);
        let sizes: Vec<u64> = segs.iter().map(|(_, p)| segment_size(p).unwrap()).collect();
        let mut bytes = fs::read(seg1).unwrap();
        bytes[ends1[1] as usize + 4] ^= 0x01; // the length field of record 3
        fs::write(seg1, &bytes).unwrap();

        let (got, stats) = collect(d.path());
        assert_eq!(got, recs[..in_seg0 + 2]);
        assert!(stats.truncated.is_none());
        let err = stats.corruption.expect("corruption reported");
        let msg = err.to_string();
        assert!(msg.contains(&seg1.display().to_string()), "{msg}");
        assert!(msg.contains(&format!("offset {}", ends1[1])), "{msg}");
        assert!(matches!(err, Error::Corruption { .. }));
        // Nothing was modified.
        for ((_, p), size) in segs.iter().zip(sizes) {
            assert_eq!(segment_size(p).unwrap(), size);
        }
    }

    #[test]
    fn missing_middle_segment_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let recs = batches(100);
        {
            let wal = Wal::open(d.path(), opts(1500)).unwrap();
            for r in &recs {
                wal.log(std::slice::from_ref(r)).unwrap();
            }
        }
        let segs = list_segments(d.path()).unwrap();
        let in_seg0 = frame_ends(&segs[0].1).len();
        fs::remove_file(&segs[1].1).unwrap();
        let (got, stats) = collect(d.path());
        assert_eq!(got, recs[..in_seg0]);
        let msg = stats.corruption.unwrap().to_string();
        assert!(msg.contains(&segs[1].1.display().to_string()), "{msg}");
    }

    #[test]
    fn torn_tail_survives_open_without_replay() {
        let d = tempfile::tempdir().unwrap();
        let recs = batches(10);
        {
            let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
            wal.log(&recs).unwrap();
        }
        let seg = segment_path(d.path(), 0);
        let len = segment_size(&seg).unwrap();
        fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        // Opening first creates an empty segment 1 after the torn segment 0.
        drop(Wal::open(d.path(), opts(1 << 20)).unwrap());
        let (got, stats) = collect(d.path());
        assert_eq!(got, recs[..9]);
        assert!(stats.corruption.is_none());
        assert!(stats.truncated.is_some());
    }

    #[test]
    fn unknown_version_is_an_error_not_repaired() {
        let d = tempfile::tempdir().unwrap();
        drop(Wal::open(d.path(), opts(1 << 20)).unwrap());
        let seg = segment_path(d.path(), 0);
        let mut b = fs::read(&seg).unwrap();
        b[4] = 9;
        b.extend_from_slice(&[1, 2, 3]);
        fs::write(&seg, &b).unwrap();
        assert!(replay(d.path(), |_| Ok(())).is_err());
        assert_eq!(fs::read(&seg).unwrap(), b);
    }

    #[test]
    fn reader_iterator_reports_corruption() {
        let d = tempfile::tempdir().unwrap();
        {
            let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
            wal.log(&batches(3)).unwrap();
        }
        let seg = segment_path(d.path(), 0);
        let b = fs::read(&seg).unwrap();
        fs::write(&seg, &b[..b.len() - 1]).unwrap();
        let items: Vec<_> = WalReader::open(&seg).unwrap().collect();
        assert_eq!(items.len(), 3);
        assert!(items[..2].iter().all(|r| r.is_ok()));
        assert!(items[2]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("00000000"));
    }
}
