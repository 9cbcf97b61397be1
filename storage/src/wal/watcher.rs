//! Tailing a live WAL directory for a reader that follows the writer (the
//! remote-write sender): read the latest checkpoint for its series, then
//! every segment in order, then keep reading the newest segment as it grows
//! and move on when the writer cuts a new one.
//!
//! The watcher never modifies the directory: unlike [`super::replay`] it
//! must not repair anything, because the writer owns the files.
//!
//! * A partial frame at the end of the newest segment is a write in
//!   progress (the OS makes a `write` visible page by page), not
//!   corruption: the watcher stops before it and waits.
//! * Segments deleted under the watcher by WAL truncation are skipped: the
//!   new checkpoint is read for the series it keeps, series it does not
//!   keep are forgotten, and the jump is reported to [`WalSink::gap`].
//! * A damaged frame (bad CRC, undecodable body) in a segment ends that
//!   segment for the watcher; it moves on once a newer segment exists and
//!   reports the jump too.
//!
//! There is no wakeup from the writer: [`WalWatcher::poll`] reads whatever
//! is there and the caller polls again after a short sleep when nothing
//! was read. A poll that finds nothing costs two `stat`s and a directory
//! listing, so a 10 ms interval is cheap, and it keeps the writer's commit
//! path free of any reader concern.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::labels::Labels;

use super::checkpoint_dir::latest_checkpoint;
use super::frame::{Decompressor, Frames};
use super::reader::decode_record;
use super::record::{Record, RefSample, TYPE_SERIES};
use super::segment::{list_segments, segment_path, SegmentWindow};

/// A place in the WAL: a segment and a byte offset in it. Positions order
/// by segment, then offset; a record is identified by the position of its
/// first byte (its frame header).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WalPosition {
    pub segment: u32,
    pub offset: u64,
}

impl std::fmt::Display for WalPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "segment {} offset {}", self.segment, self.offset)
    }
}

/// Where the watcher starts delivering samples. Series are always read
/// from the checkpoint and every segment, whatever the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The end of the WAL when the watcher first polls: only samples
    /// written after that.
    End,
    /// Samples of records starting at or after this position. A position
    /// whose segment no longer exists (or that lies beyond the WAL's end,
    /// as after the WAL was replaced) starts at the oldest segment present
    /// instead, reported to [`WalSink::gap`].
    At(WalPosition),
}

/// Receives what the watcher reads.
pub trait WalSink {
    /// What the sink keeps per series (e.g. the relabeled label set, or a
    /// marker that the series is dropped).
    type Series;

    /// A series definition; the value returned is kept for its ref and
    /// handed back through [`SeriesMap`] with its samples.
    fn series(&mut self, labels: &Labels) -> Self::Series;

    /// One samples record, starting at `at`, with the series known so far.
    /// May block (backpressure): the watcher does nothing else meanwhile.
    fn samples(&mut self, at: WalPosition, samples: &[RefSample], series: &SeriesMap<Self::Series>);

    /// Samples between `from` and `to` will never be delivered: their
    /// segments were deleted, or damaged. `why` says which.
    fn gap(&mut self, from: WalPosition, to: WalPosition, why: &str) {
        let _ = (from, to, why);
    }
}

/// The series the watcher knows, by WAL ref.
pub struct SeriesMap<V> {
    /// Value and the generation it was last defined in (see [`generation`]).
    map: HashMap<u64, (V, u64)>,
}

impl<V> SeriesMap<V> {
    fn new() -> Self {
        SeriesMap {
            map: HashMap::new(),
        }
    }

    /// The value kept for series `r`, `None` if the ref is unknown.
    pub fn get(&self, r: u64) -> Option<&V> {
        self.map.get(&r).map(|(v, _)| v)
    }

    /// Number of series known.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Orders where a series definition was read: segment `s` is `2s`,
/// checkpoint `n` (which folds segments `<= n`) is `2n + 1`. After reading
/// checkpoint `n`, a series whose generation is below `2n + 1` was defined
/// only in folded segments and not kept by the checkpoint: the head dropped
/// it.
fn generation(segment: u32, checkpoint: bool) -> u64 {
    2 * segment as u64 + checkpoint as u64
}

/// Follows a WAL directory; see the module docs.
pub struct WalWatcher<V> {
    dir: PathBuf,
    requested: Start,
    /// Resolved on the first poll.
    start: Option<WalPosition>,
    checkpoint: Option<u32>,
    series: SeriesMap<V>,
    /// The segment being read, or the number expected next.
    tail: Option<Tail>,
    next_segment: u32,
    /// Set once the current segment hit damage; it is left when a newer
    /// segment appears.
    damaged: bool,
    decompressor: Decompressor,
}

impl<V> std::fmt::Debug for WalWatcher<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalWatcher")
            .field("dir", &self.dir)
            .field("start", &self.start)
            .field("position", &self.position())
            .finish_non_exhaustive()
    }
}

/// The segment being tailed.
struct Tail {
    segment: u32,
    win: SegmentWindow,
}

impl Tail {
    fn open(dir: &Path, segment: u32) -> std::io::Result<Tail> {
        Ok(Tail {
            segment,
            win: SegmentWindow::open(&segment_path(dir, segment))?,
        })
    }

    /// Reads (up to a chunk) more of what the writer has written so far.
    fn fill(&mut self) -> Result<usize> {
        self.win.fill(u64::MAX)
    }
}

/// The end of the WAL in `dir` now: the end of its newest segment (the
/// next segment's start when there is none yet). [`Start::End`] resolved
/// ahead of time, for a caller that must record where it starts before
/// the first poll.
pub fn end_position(dir: &Path) -> Result<WalPosition> {
    let cp = latest_checkpoint(dir)?.map(|(n, _)| n);
    match list_segments(dir)?
        .into_iter()
        .rfind(|(n, _)| cp.is_none_or(|c| *n > c))
    {
        Some((segment, path)) => Ok(WalPosition {
            segment,
            offset: file_len(&path)?,
        }),
        None => Ok(WalPosition {
            segment: cp.map_or(0, |c| c.wrapping_add(1)),
            offset: 0,
        }),
    }
}

/// What one [`WalWatcher::poll`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollStats {
    /// Records parsed (series, samples and others).
    pub records: u64,
    /// Bytes consumed.
    pub bytes: u64,
}

impl<V> WalWatcher<V> {
    /// A watcher of the WAL in `dir`; nothing is read before the first
    /// [`poll`](Self::poll).
    pub fn new(dir: &Path, start: Start) -> Self {
        WalWatcher {
            dir: dir.to_path_buf(),
            requested: start,
            start: None,
            checkpoint: None,
            series: SeriesMap::new(),
            tail: None,
            next_segment: 0,
            damaged: false,
            decompressor: Decompressor::new(),
        }
    }

    /// The resolved start (known after the first poll).
    pub fn start(&self) -> Option<WalPosition> {
        self.start
    }

    /// The position of the next record to read: everything before it has
    /// been delivered.
    pub fn position(&self) -> WalPosition {
        match &self.tail {
            Some(t) => WalPosition {
                segment: t.segment,
                offset: t.win.offset(),
            },
            None => WalPosition {
                segment: self.next_segment,
                offset: 0,
            },
        }
    }

    /// The series known so far.
    pub fn series(&self) -> &SeriesMap<V> {
        &self.series
    }

    /// Reads what is available now and delivers it to `sink`; returns what
    /// was read (zero records means the watcher is at the WAL's end: sleep
    /// a little before polling again). Reads at most a few MiB per call.
    ///
    /// Errors are I/O failures; the watcher may be polled again after one.
    pub fn poll<S: WalSink<Series = V>>(&mut self, sink: &mut S) -> Result<PollStats> {
        if self.start.is_none() {
            self.init(sink)?;
        }
        let mut stats = PollStats::default();
        loop {
            if self.tail.is_none() && !self.open_next(sink)? {
                return Ok(stats);
            }
            let before = stats;
            if !self.damaged {
                self.parse_available(sink, &mut stats)?;
                let tail = self.tail.as_mut().expect("tail is open");
                if tail.fill()? > 0 {
                    self.parse_available(sink, &mut stats)?;
                    return Ok(stats);
                }
            }
            if stats != before {
                return Ok(stats);
            }
            // At the end of this segment: move on only once the writer has
            // moved on (a newer segment exists), and only after a last look
            // at this one, since the writer's final write to it happened
            // before the new segment was created.
            self.check_checkpoint(sink)?;
            let seg = self.tail.as_ref().expect("tail is open").segment;
            let Some(next) = self.newer_segment(seg)? else {
                return Ok(stats);
            };
            if !self.damaged {
                let tail = self.tail.as_mut().expect("tail is open");
                if tail.fill()? > 0 {
                    self.parse_available(sink, &mut stats)?;
                    return Ok(stats);
                }
            }
            let tail = self.tail.take().expect("tail is open");
            let end = WalPosition {
                segment: tail.segment,
                offset: tail.win.offset(),
            };
            let next_pos = WalPosition {
                segment: next,
                offset: 0,
            };
            if !tail.win.unconsumed().is_empty() && !self.damaged {
                let why = "segment ends in a torn record";
                tracing::warn!(path = %tail.win.path().display(), offset = end.offset, "WAL watcher: {why}; moving to the next segment");
                self.report_gap(sink, end, next_pos, why);
            } else if self.damaged {
                self.report_gap(sink, end, next_pos, "damaged record in segment");
            }
            self.damaged = false;
            self.next_segment = next;
            if next != seg.wrapping_add(1) {
                self.report_gap(
                    sink,
                    WalPosition {
                        segment: seg.wrapping_add(1),
                        offset: 0,
                    },
                    WalPosition {
                        segment: next,
                        offset: 0,
                    },
                    "segments deleted before they were read",
                );
            }
        }
    }

    /// Reports a gap only if it loses samples the sink should get.
    fn report_gap<S: WalSink<Series = V>>(
        &self,
        sink: &mut S,
        from: WalPosition,
        to: WalPosition,
        why: &str,
    ) {
        let start = self.start.unwrap_or_default();
        if to > start {
            sink.gap(from.max(start), to, why);
        }
    }

    /// Reads the latest checkpoint and resolves the start.
    fn init<S: WalSink<Series = V>>(&mut self, sink: &mut S) -> Result<()> {
        self.check_checkpoint(sink)?;
        let cp = self.checkpoint;
        let segs: Vec<(u32, PathBuf)> = list_segments(&self.dir)?
            .into_iter()
            .filter(|(n, _)| cp.is_none_or(|c| *n > c))
            .collect();
        let first = segs
            .first()
            .map(|(n, _)| *n)
            .unwrap_or_else(|| cp.map_or(0, |c| c.wrapping_add(1)));
        let end = match segs.last() {
            Some((n, path)) => WalPosition {
                segment: *n,
                offset: file_len(path)?,
            },
            None => WalPosition {
                segment: first,
                offset: 0,
            },
        };
        let oldest = WalPosition {
            segment: first,
            offset: 0,
        };
        let start = match self.requested {
            Start::End => end,
            Start::At(p) if p < oldest => {
                tracing::warn!(wanted = %p, from = %oldest, "WAL watcher: the start position's segment was deleted; starting at the oldest segment");
                sink.gap(p, oldest, "segments deleted before they were read");
                oldest
            }
            Start::At(p) if p > end => {
                tracing::warn!(wanted = %p, end = %end, "WAL watcher: start position beyond the end of the WAL (was it replaced?); starting at the oldest segment");
                sink.gap(p, oldest, "start position beyond the end of the WAL");
                oldest
            }
            Start::At(p) => p,
        };
        self.start = Some(start);
        self.next_segment = first;
        Ok(())
    }

    /// Opens `next_segment` if it exists, else jumps to the first newer
    /// one (the expected one was deleted). Returns false when there is
    /// nothing to open yet.
    fn open_next<S: WalSink<Series = V>>(&mut self, sink: &mut S) -> Result<bool> {
        loop {
            match Tail::open(&self.dir, self.next_segment) {
                Ok(t) => {
                    self.tail = Some(t);
                    return Ok(true);
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(segment_path(&self.dir, self.next_segment), e)),
            }
            let want = self.next_segment;
            let Some(later) = list_segments(&self.dir)?
                .into_iter()
                .map(|(n, _)| n)
                .find(|n| *n > want)
            else {
                return Ok(false);
            };
            self.check_checkpoint(sink)?;
            self.report_gap(
                sink,
                WalPosition {
                    segment: want,
                    offset: 0,
                },
                WalPosition {
                    segment: later,
                    offset: 0,
                },
                "segments deleted before they were read",
            );
            self.next_segment = later;
        }
    }

    /// The lowest segment after `seg` present in the directory.
    fn newer_segment(&self, seg: u32) -> Result<Option<u32>> {
        if segment_path(&self.dir, seg.wrapping_add(1)).exists() {
            return Ok(Some(seg.wrapping_add(1)));
        }
        Ok(list_segments(&self.dir)?
            .into_iter()
            .map(|(n, _)| n)
            .find(|n| *n > seg))
    }

    /// Reads a checkpoint newer than the last one read, if any, and forgets
    /// the series it dropped.
    fn check_checkpoint<S: WalSink<Series = V>>(&mut self, sink: &mut S) -> Result<()> {
        let Some((n, path)) = latest_checkpoint(&self.dir)? else {
            return Ok(());
        };
        if self.checkpoint.is_some_and(|c| c >= n) {
            return Ok(());
        }
        let gen = generation(n, true);
        let mut defs = Vec::new();
        for (_, seg) in list_segments(&path)? {
            let bytes = match std::fs::read(&seg) {
                Ok(b) => b,
                // Replaced by a newer checkpoint meanwhile: read that one
                // on the next call.
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(Error::io(&seg, e)),
            };
            let mut frames = Frames::segment(&bytes);
            while let Some(frame) = frames.next() {
                let frame = frame.map_err(|e| damaged(&seg, frames.offset(), e.to_string()))?;
                if frame.typ == TYPE_SERIES {
                    match decode_record(&frame, &mut self.decompressor) {
                        Ok(Record::Series(s)) => defs.extend(s),
                        Ok(_) => {}
                        Err(d) => return Err(damaged(&seg, frame.offset, d)),
                    }
                }
            }
        }
        for s in defs {
            let v = sink.series(&s.labels);
            self.series.map.insert(s.series_ref, (v, gen));
        }
        self.series.map.retain(|_, (_, g)| *g >= gen);
        self.checkpoint = Some(n);
        Ok(())
    }

    /// Parses and delivers every complete frame in the tail buffer.
    fn parse_available<S: WalSink<Series = V>>(
        &mut self,
        sink: &mut S,
        stats: &mut PollStats,
    ) -> Result<()> {
        let start = self.start.expect("initialised");
        let tail = self.tail.as_mut().expect("tail is open");
        let base = tail.win.offset();
        let mut frames = if base == 0 {
            Frames::segment(tail.win.unconsumed())
        } else {
            Frames::after_header(tail.win.unconsumed())
        };
        let gen = generation(tail.segment, false);
        // Set when a frame checks but its record does not decode: the
        // frame stays unconsumed, as the start of the damage.
        let mut bad_record = None;
        while let Some(next) = frames.next() {
            let frame = match next {
                Ok(f) => f,
                // A write in progress: wait for the rest.
                Err(e) if e.is_incomplete() => break,
                Err(e) => {
                    let (path, offset) = (tail.win.path(), base + frames.offset() as u64);
                    if offset == 0 {
                        tracing::warn!(path = %path.display(), detail = %e, "WAL watcher: unreadable segment; waiting for the next one");
                    } else {
                        tracing::warn!(path = %path.display(), offset, detail = %e, "WAL watcher: damaged record; the rest of this segment is skipped");
                    }
                    self.damaged = true;
                    break;
                }
            };
            let at = WalPosition {
                segment: tail.segment,
                offset: base + frame.offset as u64,
            };
            let deliver_samples = at >= start;
            if frame.typ == TYPE_SERIES || deliver_samples {
                match decode_record(&frame, &mut self.decompressor) {
                    Ok(Record::Series(defs)) => {
                        for s in defs {
                            let v = sink.series(&s.labels);
                            self.series.map.insert(s.series_ref, (v, gen));
                        }
                    }
                    Ok(Record::Samples(samples)) => {
                        if deliver_samples && !samples.is_empty() {
                            sink.samples(at, &samples, &self.series);
                        }
                    }
                    Ok(Record::Tombstones(_)) => {}
                    Err(d) => {
                        tracing::warn!(path = %tail.win.path().display(), offset = at.offset, detail = %d, "WAL watcher: undecodable record; the rest of this segment is skipped");
                        self.damaged = true;
                        bad_record = Some(frame.offset);
                        break;
                    }
                }
            }
            stats.records += 1;
            stats.bytes += (frame.end() - frame.offset) as u64;
        }
        let consumed = bad_record.unwrap_or(frames.offset());
        tail.win.consume(consumed);
        Ok(())
    }
}

fn file_len(path: &Path) -> Result<u64> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn damaged(path: &Path, at: usize, detail: String) -> Error {
    Error::corruption(path, format!("offset {at}: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::frame::FrameEncoder;
    use crate::wal::record::RefSeries;
    use crate::wal::{checkpoint, SyncPolicy, Wal, WalOptions};
    use std::io::Write;

    /// Records what it is given; series values are the `i` label.
    #[derive(Default)]
    struct Collect {
        samples: Vec<(WalPosition, u64, String, i64)>,
        unknown: usize,
        gaps: Vec<(WalPosition, WalPosition, String)>,
    }

    impl WalSink for Collect {
        type Series = String;
        fn series(&mut self, labels: &Labels) -> String {
            labels.get("i").to_string()
        }
        fn samples(&mut self, at: WalPosition, samples: &[RefSample], series: &SeriesMap<String>) {
            for s in samples {
                match series.get(s.series_ref) {
                    Some(name) => self.samples.push((at, s.series_ref, name.clone(), s.t)),
                    None => self.unknown += 1,
                }
            }
        }
        fn gap(&mut self, from: WalPosition, to: WalPosition, why: &str) {
            self.gaps.push((from, to, why.to_string()));
        }
    }

    fn opts(segment_size: u64) -> WalOptions {
        WalOptions {
            segment_size,
            sync: SyncPolicy::Never,
            ..WalOptions::default()
        }
    }

    fn series(r: u64) -> Record {
        Record::Series(vec![RefSeries {
            series_ref: r,
            labels: Labels::from_pairs([("__name__", "m"), ("i", &*r.to_string())]),
        }])
    }

    fn samples(r: u64, ts: std::ops::Range<i64>) -> Record {
        Record::Samples(
            ts.map(|t| RefSample {
                series_ref: r,
                t,
                v: t as f64,
            })
            .collect(),
        )
    }

    fn drain(w: &mut WalWatcher<String>, sink: &mut Collect) {
        while w.poll(sink).unwrap().records > 0 {}
    }

    fn times(sink: &Collect) -> Vec<i64> {
        sink.samples.iter().map(|s| s.3).collect()
    }

    #[test]
    fn start_at_end_sends_only_new_samples() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
        wal.log(&[series(1), samples(1, 0..5)]).unwrap();
        let end = end_position(d.path()).unwrap();
        assert_eq!(end.segment, wal.current_segment());
        assert_eq!(
            end.offset,
            std::fs::metadata(segment_path(d.path(), end.segment))
                .unwrap()
                .len()
        );
        let mut w = WalWatcher::new(d.path(), Start::End);
        let mut sink = Collect::default();
        drain(&mut w, &mut sink);
        assert!(sink.samples.is_empty());
        // The series defined before the start is known.
        assert_eq!(w.series().get(1).map(String::as_str), Some("1"));
        wal.log(&[samples(1, 5..8)]).unwrap();
        drain(&mut w, &mut sink);
        assert_eq!(times(&sink), [5, 6, 7]);
        assert!(sink.samples.iter().all(|s| s.2 == "1"));
        assert!(sink.gaps.is_empty());
    }

    #[test]
    fn tails_a_partial_last_frame_without_calling_it_corruption() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
        let mut w = WalWatcher::new(d.path(), Start::End);
        let mut sink = Collect::default();
        drain(&mut w, &mut sink);
        wal.log(&[series(7), samples(7, 0..3)]).unwrap();
        // Write a frame by hand in two halves, as a reader may see a
        // write that is still being copied in.
        let mut frame = Vec::new();
        let rec = samples(7, 3..10);
        FrameEncoder::new()
            .append(rec.type_byte(), &mut frame, |b| rec.encode(b))
            .unwrap();
        let seg = segment_path(d.path(), wal.current_segment());
        let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&frame[..frame.len() / 2]).unwrap();
        for _ in 0..3 {
            w.poll(&mut sink).unwrap();
        }
        assert_eq!(times(&sink), [0, 1, 2]);
        let before = w.position();
        f.write_all(&frame[frame.len() / 2..]).unwrap();
        drain(&mut w, &mut sink);
        assert_eq!(times(&sink), (0..10).collect::<Vec<_>>());
        assert!(sink.gaps.is_empty());
        // Samples carry the position of their record.
        assert_eq!(sink.samples.last().unwrap().0, before);
        assert!(w.position() > before);
    }

    #[test]
    fn follows_segment_cuts_and_resumes_at_a_position() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), opts(300)).unwrap();
        let mut w = WalWatcher::new(d.path(), Start::End);
        let mut sink = Collect::default();
        drain(&mut w, &mut sink);
        for i in 0..40u64 {
            wal.log(&[series(i), samples(i, 0..4)]).unwrap();
            if i % 7 == 0 {
                drain(&mut w, &mut sink);
            }
        }
        drain(&mut w, &mut sink);
        assert!(wal.current_segment() > 5, "few segments");
        assert_eq!(sink.samples.len(), 160);
        assert!(sink.samples.windows(2).all(|p| p[0].0 <= p[1].0));
        for (i, chunk) in sink.samples.chunks(4).enumerate() {
            assert!(chunk
                .iter()
                .all(|s| s.1 == i as u64 && s.2 == i.to_string()));
        }
        // A new watcher resuming at some record's position gets exactly
        // the records from there on, with all series known.
        let resume = sink.samples[77].0;
        let want: Vec<_> = sink
            .samples
            .iter()
            .filter(|s| s.0 >= resume)
            .cloned()
            .collect();
        let mut w2 = WalWatcher::new(d.path(), Start::At(resume));
        let mut sink2 = Collect::default();
        drain(&mut w2, &mut sink2);
        assert_eq!(sink2.samples, want);
        assert_eq!(sink2.unknown, 0);
        assert!(sink2.gaps.is_empty());
    }

    #[test]
    fn truncation_and_checkpoint_under_the_watcher() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
        let mut w = WalWatcher::new(d.path(), Start::At(WalPosition::default()));
        let mut sink = Collect::default();
        wal.log(&[series(1), series(2), samples(1, 0..2), samples(2, 0..2)])
            .unwrap();
        drain(&mut w, &mut sink);
        assert_eq!(w.series().len(), 2);
        wal.cut().unwrap();
        wal.log(&[series(3), samples(3, 0..2)]).unwrap();
        drain(&mut w, &mut sink);
        // The head drops series 2; the checkpoint keeps 1 (and 3 is in a
        // later segment).
        let cur = wal.cut().unwrap();
        checkpoint(&wal, cur - 1, |r| r != 2, 0).unwrap();
        wal.log(&[samples(1, 2..3), samples(3, 2..3)]).unwrap();
        drain(&mut w, &mut sink);
        assert_eq!(w.series().get(1).map(String::as_str), Some("1"));
        assert!(w.series().get(2).is_none(), "dropped series forgotten");
        assert_eq!(w.series().get(3).map(String::as_str), Some("3"));
        assert_eq!(sink.samples.len(), 8);
        assert_eq!(sink.unknown, 0);
        assert!(sink.gaps.is_empty());

        // A watcher that falls behind while segments are deleted skips to
        // the next segment still there and says so.
        let mut slow = WalWatcher::new(
            d.path(),
            Start::At(WalPosition {
                segment: cur,
                offset: 0,
            }),
        );
        let mut slow_sink = Collect::default();
        slow.poll(&mut slow_sink).unwrap(); // initialised, reading segment `cur`
        wal.log(&[samples(1, 3..4)]).unwrap();
        let next = wal.cut().unwrap();
        wal.log(&[samples(1, 4..5)]).unwrap();
        let after = wal.cut().unwrap();
        wal.log(&[samples(1, 5..6)]).unwrap();
        checkpoint(&wal, after - 1, |_| true, 0).unwrap();
        assert!(!segment_path(d.path(), next).exists());
        drain(&mut slow, &mut slow_sink);
        // Segment `cur` was still open and is read to its end; `next` is
        // gone; `after` is read.
        assert_eq!(times(&slow_sink), [2, 2, 3, 5]);
        assert_eq!(slow_sink.gaps.len(), 1, "{:?}", slow_sink.gaps);
        let (from, to, _) = &slow_sink.gaps[0];
        assert_eq!((from.segment, to.segment), (next, after));
    }

    #[test]
    fn start_in_a_deleted_segment_begins_at_the_oldest() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
        wal.log(&[series(1), samples(1, 0..2)]).unwrap();
        let s1 = wal.cut().unwrap();
        wal.log(&[samples(1, 2..4)]).unwrap();
        wal.cut().unwrap();
        checkpoint(&wal, s1, |_| true, 0).unwrap();
        let mut w = WalWatcher::new(
            d.path(),
            Start::At(WalPosition {
                segment: 0,
                offset: 20,
            }),
        );
        let mut sink = Collect::default();
        drain(&mut w, &mut sink);
        // Checkpoint samples are not sent (as Prometheus): only segments.
        assert!(sink.samples.is_empty());
        assert_eq!(sink.gaps.len(), 1);
        wal.log(&[samples(1, 4..5)]).unwrap();
        drain(&mut w, &mut sink);
        assert_eq!(times(&sink), [4]);
        assert_eq!(sink.samples[0].2, "1");

        // A position past the end (a replaced WAL) starts at the oldest.
        let mut w = WalWatcher::new(
            d.path(),
            Start::At(WalPosition {
                segment: 999,
                offset: 0,
            }),
        );
        let mut sink = Collect::default();
        drain(&mut w, &mut sink);
        assert_eq!(times(&sink), [4]);
        assert_eq!(sink.gaps.len(), 1);
    }

    #[test]
    fn damaged_record_skips_to_the_next_segment() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), opts(1 << 20)).unwrap();
        let mut w = WalWatcher::new(d.path(), Start::End);
        let mut sink = Collect::default();
        drain(&mut w, &mut sink);
        wal.log(&[series(1), samples(1, 0..2)]).unwrap();
        let seg = segment_path(d.path(), wal.current_segment());
        let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
        // A complete frame with a wrong checksum.
        let mut frame = Vec::new();
        let rec = samples(1, 2..4);
        FrameEncoder::new()
            .append(rec.type_byte(), &mut frame, |b| rec.encode(b))
            .unwrap();
        frame[8] ^= 0xff;
        f.write_all(&frame).unwrap();
        drain(&mut w, &mut sink);
        assert_eq!(times(&sink), [0, 1]);
        assert!(sink.gaps.is_empty(), "no gap until a newer segment exists");
        wal.cut().unwrap();
        wal.log(&[samples(1, 4..5)]).unwrap();
        drain(&mut w, &mut sink);
        assert_eq!(times(&sink), [0, 1, 4]);
        assert_eq!(sink.gaps.len(), 1);
    }
}
