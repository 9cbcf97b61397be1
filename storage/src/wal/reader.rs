//! Reading segments back: a per-segment record iterator and the replay of a
//! whole WAL directory with torn-tail repair (see `docs/formats/wal.md`).

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

use super::checkpoint::{latest_checkpoint, remove_tmp_checkpoints};
use super::record::Record;
use super::segment::{
    frame_crc, list_segments, segment_path, segment_size, FLAG_SNAPPY, FRAME_HEADER_LEN,
    SEGMENT_HEADER_LEN, SEGMENT_MAGIC, SEGMENT_VERSION,
};

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
    path: PathBuf,
    r: BufReader<File>,
    file_len: u64,
    offset: u64,
    started: bool,
    done: bool,
    header: [u8; FRAME_HEADER_LEN],
    payload: Vec<u8>,
    body: Vec<u8>,
    snappy: snap::raw::Decoder,
}

impl std::fmt::Debug for WalReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalReader")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl WalReader {
    /// Opens a segment file for reading.
    pub fn open(path: &Path) -> Result<WalReader> {
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = f.metadata().map_err(|e| Error::io(path, e))?.len();
        Ok(WalReader {
            path: path.to_path_buf(),
            r: BufReader::with_capacity(256 << 10, f),
            file_len,
            offset: 0,
            started: false,
            done: false,
            header: [0; FRAME_HEADER_LEN],
            payload: Vec::new(),
            body: Vec::new(),
            snappy: snap::raw::Decoder::new(),
        })
    }

    /// The segment file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The offset just past the last good record (or header) read so far:
    /// where a torn file would be truncated.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn corrupt<T>(&self, detail: impl Into<String>) -> Result<T, ReadError> {
        Err(ReadError::Corrupt {
            offset: self.offset,
            detail: detail.into(),
        })
    }

    fn read_exact(&mut self, n: usize, into_payload: bool) -> Result<(), ReadError> {
        let res = if into_payload {
            self.payload.resize(n, 0);
            self.r.read_exact(&mut self.payload)
        } else {
            self.r.read_exact(&mut self.header[..n])
        };
        match res {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                self.corrupt("unexpected end of file")
            }
            Err(e) => Err(ReadError::Fatal(Error::io(&self.path, e))),
        }
    }

    fn check_header(&mut self) -> Result<(), ReadError> {
        if self.file_len == 0 {
            return Ok(());
        }
        if self.file_len < SEGMENT_HEADER_LEN {
            return self.corrupt("incomplete segment header");
        }
        self.read_exact(SEGMENT_HEADER_LEN as usize, false)?;
        let h = &self.header[..SEGMENT_HEADER_LEN as usize];
        let magic = u32::from_be_bytes(h[..4].try_into().expect("4 bytes"));
        if magic != SEGMENT_MAGIC {
            return self.corrupt(format!("bad segment magic {magic:#010x}"));
        }
        if h[4] != SEGMENT_VERSION {
            return Err(ReadError::Fatal(Error::corruption(
                &self.path,
                format!("unsupported WAL segment version {}", h[4]),
            )));
        }
        if h[5..8] != [0, 0, 0] {
            return self.corrupt("nonzero reserved header bytes");
        }
        self.offset = SEGMENT_HEADER_LEN;
        Ok(())
    }

    /// The next record, `Ok(None)` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        if !self.started {
            self.started = true;
            self.check_header()?;
        }
        if self.offset >= self.file_len {
            return Ok(None);
        }
        let left = self.file_len - self.offset;
        if left < FRAME_HEADER_LEN as u64 {
            return self.corrupt(format!("incomplete frame header ({left} bytes)"));
        }
        self.read_exact(FRAME_HEADER_LEN, false)?;
        let h = self.header;
        let (typ, flags) = (h[0], h[1]);
        let len = u32::from_be_bytes(h[2..6].try_into().expect("4 bytes"));
        let crc = u32::from_be_bytes(h[6..10].try_into().expect("4 bytes"));
        let avail = left - FRAME_HEADER_LEN as u64;
        if len as u64 > avail {
            return self.corrupt(format!(
                "incomplete frame: length {len} but only {avail} bytes left"
            ));
        }
        self.read_exact(len as usize, true)?;
        let want = frame_crc(&h[..6], &self.payload);
        if want != crc {
            return self.corrupt(format!(
                "checksum mismatch: stored {crc:#010x}, computed {want:#010x}"
            ));
        }
        if typ == 0 {
            return self.corrupt("record type 0");
        }
        if flags & !FLAG_SNAPPY != 0 {
            return self.corrupt(format!("unknown frame flags {flags:#04x}"));
        }
        let rec = if flags & FLAG_SNAPPY != 0 {
            let n = match snap::raw::decompress_len(&self.payload) {
                Ok(n) => n,
                Err(e) => return self.corrupt(format!("snappy: {e}")),
            };
            // Snappy expands at most ~64x; reject absurd lengths before allocating.
            if n > self.payload.len().saturating_mul(64) + 64 {
                return self.corrupt(format!("snappy: implausible decompressed length {n}"));
            }
            self.body.resize(n, 0);
            if let Err(e) = self.snappy.decompress(&self.payload, &mut self.body) {
                return self.corrupt(format!("snappy: {e}"));
            }
            Record::decode(typ, &self.body)
        } else {
            Record::decode(typ, &self.payload)
        };
        match rec {
            Ok(r) => {
                self.offset += FRAME_HEADER_LEN as u64 + len as u64;
                Ok(Some(r))
            }
            Err(e) => self.corrupt(format!("record does not decode: {e}")),
        }
    }
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
                        Error::corruption(&self.path, format!("offset {offset}: {detail}"))
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
    remove_tmp_checkpoints(dir)?;
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
