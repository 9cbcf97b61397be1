//! Damaged bytes on disk: every case must open, name the bad file in its
//! error, serve what is intact and lose none of it.
//!
//! Byte layouts used to aim the damage are in `docs/formats/`.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use storage::querier::Queryable;
use storage::wal::{Record, WalReader};
use storage::{Db, Error, Matcher, Options};

mod common;
use common::*;

fn opts() -> Options {
    opts_with_segments(16 * 1024)
}

/// Every series holds exactly the timestamps `want`, with the values `fill` wrote.
fn assert_served(db: &Db, name: &str, n: usize, want: &BTreeSet<i64>) {
    let got = samples(db, &[Matcher::equal("__name__", name)], i64::MIN, i64::MAX);
    if want.is_empty() {
        assert!(got.iter().all(|(_, s)| s.is_empty()), "expected no data");
        return;
    }
    assert_eq!(got.len(), n, "series count");
    for (i, (l, s)) in got.iter().enumerate() {
        assert_eq!(l, &series(name, i));
        let ts: BTreeSet<i64> = s.iter().map(|p| p.0).collect();
        assert_eq!(ts.len(), s.len(), "{l}: duplicate timestamps");
        if &ts != want {
            let missing: Vec<_> = want.difference(&ts).take(5).collect();
            let extra: Vec<_> = ts.difference(want).take(5).collect();
            panic!(
                "{l}: {} samples, want {}; missing e.g. {missing:?}, extra e.g. {extra:?}",
                ts.len(),
                want.len()
            );
        }
        for &(t, v) in s {
            assert_eq!(v, value(t, i), "{l} @ {t}");
        }
    }
}

fn range(from: i64, to: i64) -> BTreeSet<i64> {
    (from..to).step_by(15_000).collect()
}

// ---------------------------------------------------------------- WAL helpers

/// WAL segment files with bytes beyond the 8-byte header, in order.
fn nonempty_segments(db_dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<(u32, PathBuf)> = std::fs::read_dir(db_dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let n = p.file_name()?.to_str()?.parse::<u32>().ok()?;
            Some((n, p))
        })
        .collect();
    v.sort();
    v.into_iter()
        .map(|(_, p)| p)
        .filter(|p| std::fs::metadata(p).unwrap().len() > 8)
        .collect()
}

/// A frame in a segment: start offset, total length (10-byte header + payload).
struct Frame {
    start: u64,
    len: u64,
    /// Sample timestamps the record carries (empty for non-sample records).
    ts: Vec<i64>,
}

/// Walks a healthy segment frame by frame (layout in docs/formats/wal.md).
fn frames(path: &Path) -> Vec<Frame> {
    let mut r = WalReader::open(path).unwrap();
    let mut out = Vec::new();
    loop {
        // The reader's offset is the start of the next frame (8 before the first).
        let start = r.offset().max(8);
        match r.next_record().unwrap() {
            None => break,
            Some(rec) => {
                let ts = match rec {
                    Record::Samples(s) => s.iter().map(|s| s.t).collect(),
                    _ => Vec::new(),
                };
                out.push(Frame {
                    start,
                    len: r.offset() - start,
                    ts,
                });
            }
        }
    }
    assert_eq!(
        out.last().map(|f| f.start + f.len),
        Some(std::fs::metadata(path).unwrap().len())
    );
    out
}

/// Timestamps of every sample record before frame `frame` of segment `seg`.
fn timestamps_before(segs: &[PathBuf], seg: usize, frame: usize) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    for (i, p) in segs.iter().enumerate().take(seg + 1) {
        for (j, f) in frames(p).into_iter().enumerate() {
            if i == seg && j >= frame {
                break;
            }
            out.extend(f.ts);
        }
    }
    out
}

fn flip(path: &Path, offset: u64) {
    let mut b = std::fs::read(path).unwrap();
    assert!(
        (offset as usize) < b.len(),
        "{} has {} bytes",
        path.display(),
        b.len()
    );
    b[offset as usize] ^= 0x5a;
    std::fs::write(path, b).unwrap();
}

fn truncate(path: &Path, len: u64) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(len).unwrap();
}

const WAL_SERIES: usize = 10;
const WAL_STEPS: i64 = 400;

/// A closed database whose WAL spans several segments; returns all timestamps.
fn wal_db(dir: &Path) -> BTreeSet<i64> {
    let db = Db::open(dir, opts()).unwrap();
    fill(&db, "m", WAL_SERIES, 0, WAL_STEPS * 15_000);
    db.close().unwrap();
    let segs = nonempty_segments(dir);
    assert!(
        segs.len() >= 3,
        "want several WAL segments, got {}",
        segs.len()
    );
    range(0, WAL_STEPS * 15_000)
}

/// Appends one more step after `want`, closes, reopens and checks everything is kept.
fn append_reopen_keeps(dir: &Path, db: Db, mut want: BTreeSet<i64>) {
    let next = want.last().copied().unwrap_or(0) + 15_000;
    fill(&db, "m", WAL_SERIES, next, next + 10 * 15_000);
    want.extend(range(next, next + 10 * 15_000));
    assert_served(&db, "m", WAL_SERIES, &want);
    db.close().unwrap();
    let db = Db::open(dir, opts()).unwrap();
    assert_eq!(db.stats().wal_corruption, None);
    assert_served(&db, "m", WAL_SERIES, &want);
    db.close().unwrap();
    // And once more: the repaired WAL stays clean.
    let db = Db::open(dir, opts()).unwrap();
    assert_eq!(db.stats().wal_corruption, None);
    assert_served(&db, "m", WAL_SERIES, &want);
}

// ---------------------------------------------------------------- WAL cases

#[test]
fn wal_torn_tail_is_truncated_and_earlier_batches_kept() {
    let dir = tempfile::tempdir().unwrap();
    let all = wal_db(dir.path());
    let segs = nonempty_segments(dir.path());
    let last = segs.len() - 1;
    let fr = frames(&segs[last]);
    let torn = fr.last().unwrap();
    assert!(!torn.ts.is_empty(), "last record is a sample batch");
    let want = timestamps_before(&segs, last, fr.len() - 1);
    truncate(&segs[last], torn.start + torn.len / 2);
    assert_eq!(want.len(), all.len() - 1, "exactly the torn batch is lost");

    let db = Db::open(dir.path(), opts()).unwrap();
    let st = db.stats();
    assert_eq!(st.wal_corruption, None);
    assert_eq!(st.head_series, WAL_SERIES as u64);
    assert_served(&db, "m", WAL_SERIES, &want);
    append_reopen_keeps(dir.path(), db, want);
}

#[test]
fn wal_torn_tail_inside_frame_header() {
    let dir = tempfile::tempdir().unwrap();
    let all = wal_db(dir.path());
    let segs = nonempty_segments(dir.path());
    let last = segs.len() - 1;
    let fr = frames(&segs[last]);
    // Only 3 bytes of the last frame's 10-byte header made it.
    let want = timestamps_before(&segs, last, fr.len() - 1);
    truncate(&segs[last], fr.last().unwrap().start + 3);
    assert_eq!(want.len(), all.len() - 1);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().wal_corruption, None);
    assert_served(&db, "m", WAL_SERIES, &want);
    append_reopen_keeps(dir.path(), db, want);
}

#[test]
fn wal_flipped_byte_in_last_segment_keeps_data_before_it() {
    let dir = tempfile::tempdir().unwrap();
    wal_db(dir.path());
    let segs = nonempty_segments(dir.path());
    let last = segs.len() - 1;
    let fr = frames(&segs[last]);
    let k = fr.len() / 2;
    assert!(k > 0);
    // A payload byte of a record in the middle of the segment.
    let want = timestamps_before(&segs, last, k);
    flip(
        &segs[last],
        fr[k].start + 10 + fr[k].len.saturating_sub(10) / 2,
    );

    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(
        db.stats().wal_corruption,
        None,
        "tail damage is repaired, not reported"
    );
    assert_served(&db, "m", WAL_SERIES, &want);
    append_reopen_keeps(dir.path(), db, want);
}

#[test]
fn wal_flipped_length_in_last_segment_keeps_data_before_it() {
    let dir = tempfile::tempdir().unwrap();
    wal_db(dir.path());
    let segs = nonempty_segments(dir.path());
    let last = segs.len() - 1;
    let fr = frames(&segs[last]);
    let k = fr.len() / 2;
    // The high byte of the frame's length: claims far more bytes than remain.
    let want = timestamps_before(&segs, last, k);
    flip(&segs[last], fr[k].start + 2);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().wal_corruption, None);
    assert_served(&db, "m", WAL_SERIES, &want);
    append_reopen_keeps(dir.path(), db, want);
}

#[test]
fn wal_flipped_byte_in_middle_segment_is_reported_moved_aside_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    wal_db(dir.path());
    let segs = nonempty_segments(dir.path());
    let seg = 1;
    let fr = frames(&segs[seg]);
    let k = fr.len() / 2;
    let want = timestamps_before(&segs, seg, k);
    flip(
        &segs[seg],
        fr[k].start + 10 + fr[k].len.saturating_sub(10) / 2,
    );
    assert!(!want.is_empty());
    let aside = assert_reported_and_rewritten(dir.path(), &segs[seg], want);
    // The damaged segment is kept for inspection.
    let kept = aside.join(segs[seg].file_name().unwrap());
    assert!(kept.exists(), "{} kept", kept.display());
}

#[test]
fn wal_middle_segment_corruption_with_head_chunks_on_disk() {
    // Enough samples per series that the head has sealed (mmapped) chunks
    // when the WAL is rewritten from memory.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, "m", WAL_SERIES, 0, 3 * H / 2);
    db.close().unwrap();
    let segs = nonempty_segments(dir.path());
    assert!(segs.len() >= 3);
    let seg = segs.len() - 2;
    let fr = frames(&segs[seg]);
    let k = fr.len() - 1;
    let want = timestamps_before(&segs, seg, k);
    flip(
        &segs[seg],
        fr[k].start + 10 + fr[k].len.saturating_sub(10) / 2,
    );
    assert!(want.len() > 200, "{}", want.len());

    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.stats().wal_corruption.is_some());
    assert!(
        db.stats().head_chunks > WAL_SERIES as u64,
        "{:?}",
        db.stats()
    );
    assert_served(&db, "m", WAL_SERIES, &want);
    append_reopen_keeps(dir.path(), db, want);
}

// ---------------------------------------------------------------- block helpers

const BLOCK_SERIES: usize = 3;

/// Fills 0..8h: head compaction cuts three 2h blocks, the last 2h stay in the head.
fn block_db(dir: &Path) -> Vec<PathBuf> {
    let db = Db::open(dir, opts()).unwrap();
    fill(&db, "a", BLOCK_SERIES, 0, 8 * H);
    db.compact().unwrap();
    let ranges: Vec<(i64, i64)> = db
        .blocks()
        .iter()
        .map(|m| (m.min_time, m.max_time))
        .collect();
    assert_eq!(ranges, vec![(0, 2 * H), (2 * H, 4 * H), (4 * H, 6 * H)]);
    let dirs = db
        .blocks()
        .iter()
        .map(|m| dir.join(m.ulid.to_string()))
        .collect();
    db.close().unwrap();
    dirs
}

/// Everything outside [lost_from, lost_to) is served, for every series.
fn assert_all_but(db: &Db, lost_from: i64, lost_to: i64) {
    let mut want = range(0, 8 * H);
    want.retain(|t| *t < lost_from || *t >= lost_to);
    assert_served(db, "a", BLOCK_SERIES, &want);
}

fn assert_skipped_first_block(dir: &Path) {
    let db = Db::open(dir, opts()).unwrap();
    let st = db.stats();
    assert_eq!(st.blocks_corrupt, 1, "{st:?}");
    assert_eq!(st.blocks, 2);
    assert_eq!(db.blocks()[0].min_time, 2 * H);
    assert_all_but(&db, 0, 2 * H);
    // Head data.
    let got = samples(&db, &host(1), 6 * H, 8 * H);
    assert_eq!(got[0].1.len(), (2 * H / 15_000) as usize);
    db.close().unwrap();
    // Still skipped (and still counted) on the next start; files left alone.
    let db = Db::open(dir, opts()).unwrap();
    assert_eq!(db.stats().blocks_corrupt, 1);
    assert_all_but(&db, 0, 2 * H);
}

// ---------------------------------------------------------------- block cases

#[test]
fn flipped_byte_in_block_chunk_fails_only_queries_touching_it() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db(dir.path());
    let chunk_file = blocks[0].join("chunks").join("000001");
    // The first record starts right after the 8-byte header: len uvarint
    // (1-2 bytes), encoding byte, data. Offset 12 is inside the first
    // chunk's data: series id 0 (host-0), its first chunk.
    flip(&chunk_file, 12);

    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().blocks_corrupt, 0);
    assert_eq!(db.stats().blocks, 3);
    let err = try_samples(&db, &host(0), 0, 8 * H).expect_err("query over the bad chunk fails");
    let msg = err.to_string();
    assert!(msg.contains(&chunk_file.display().to_string()), "{msg:?}");
    assert!(matches!(err, Error::Corruption { .. }), "{err:?}");
    // The same series outside the damaged chunk's range is fine: later chunks
    // of the same block, other blocks, the head.
    let got = samples(&db, &host(0), H, 8 * H);
    assert_eq!(got.len(), 1);
    let ts: BTreeSet<i64> = got[0].1.iter().map(|p| p.0).collect();
    assert_eq!(ts, range(H, 8 * H));
    // The other series are intact everywhere.
    for i in 1..BLOCK_SERIES {
        let got = samples(&db, &host(i), 0, 8 * H);
        assert_eq!(got.len(), 1);
        let ts: BTreeSet<i64> = got[0].1.iter().map(|p| p.0).collect();
        assert_eq!(ts, range(0, 8 * H), "host-{i}");
        for &(t, v) in &got[0].1 {
            assert_eq!(v, value(t, i));
        }
    }
    // Label queries do not read chunks.
    let q = db.querier(0, 8 * H).unwrap();
    assert_eq!(
        q.label_values("instance", &[]).unwrap().0.len(),
        BLOCK_SERIES
    );
}

#[test]
fn flipped_byte_in_block_index_skips_that_block() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db(dir.path());
    // Symbol table content: header (8) + framed length (4) + a few bytes.
    flip(&blocks[0].join("index"), 8 + 4 + 3);
    assert_skipped_first_block(dir.path());
}

#[test]
fn flipped_byte_in_index_toc_skips_that_block() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db(dir.path());
    let index = blocks[0].join("index");
    let len = std::fs::metadata(&index).unwrap().len();
    flip(&index, len - 44 + 5);
    assert_skipped_first_block(dir.path());
}

#[test]
fn truncated_block_index_skips_that_block() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db(dir.path());
    let index = blocks[0].join("index");
    let len = std::fs::metadata(&index).unwrap().len();
    truncate(&index, len / 2);
    assert_skipped_first_block(dir.path());
}

#[test]
fn empty_block_index_skips_that_block() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db(dir.path());
    truncate(&blocks[0].join("index"), 0);
    assert_skipped_first_block(dir.path());
}

#[test]
fn flipped_byte_in_index_series_entry_fails_queries_naming_the_index() {
    // Series entries are checked when read, not at open.
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db(dir.path());
    let index = blocks[0].join("index");
    let b = std::fs::read(&index).unwrap();
    let toc = b.len() - 44;
    let series_off = u64::from_be_bytes(b[toc + 8..toc + 16].try_into().unwrap());
    // First entry (host-0): len uvarint, then content.
    flip(&index, series_off + 2);

    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().blocks_corrupt, 0);
    let err = try_samples(&db, &host(0), 0, 8 * H).expect_err("bad series entry");
    assert!(
        err.to_string().contains(&index.display().to_string()),
        "{err}"
    );
    let got = samples(&db, &host(0), 2 * H, 8 * H);
    assert_eq!(got[0].1.len(), (6 * H / 15_000) as usize);
    for i in 1..BLOCK_SERIES {
        let got = samples(&db, &host(i), 0, 8 * H);
        assert_eq!(got[0].1.len(), (8 * H / 15_000) as usize, "host-{i}");
    }
}

#[test]
fn garbage_meta_json_skips_that_block() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db(dir.path());
    std::fs::write(blocks[0].join("meta.json"), b"{\"ulid\": \x00\xff garbage").unwrap();
    assert_skipped_first_block(dir.path());
}

#[test]
fn missing_meta_json_skips_that_block() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db(dir.path());
    std::fs::remove_file(blocks[0].join("meta.json")).unwrap();
    assert_skipped_first_block(dir.path());
}

#[test]
fn truncated_chunk_segment_header_skips_that_block() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db(dir.path());
    truncate(&blocks[0].join("chunks").join("000001"), 5);
    assert_skipped_first_block(dir.path());
}

/// Deletes a bit of host-1 in the first block so it has a tombstones file.
fn block_db_with_tombstones(dir: &Path) -> Vec<PathBuf> {
    let blocks = block_db(dir);
    let db = Db::open(dir, opts()).unwrap();
    db.delete(&host(1), 0, 10 * 60_000).unwrap();
    db.close().unwrap();
    let ts = blocks[0].join("tombstones");
    assert!(ts.exists());
    blocks
}

#[test]
fn flipped_byte_in_tombstones_skips_that_block() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db_with_tombstones(dir.path());
    let ts = blocks[0].join("tombstones");
    let len = std::fs::metadata(&ts).unwrap().len();
    // A byte of the body (after magic + version), covered by the CRC.
    flip(&ts, 5.min(len - 5));
    assert_skipped_first_block(dir.path());
}

#[test]
fn truncated_and_garbage_tombstones_skip_that_block() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db_with_tombstones(dir.path());
    let ts = blocks[0].join("tombstones");
    truncate(&ts, 4);
    assert_skipped_first_block(dir.path());

    std::fs::write(&ts, b"not a tombstones file at all").unwrap();
    assert_skipped_first_block(dir.path());
}

#[test]
fn tombstones_still_apply_when_intact() {
    // Control for the tombstone cases: the same setup without damage.
    let dir = tempfile::tempdir().unwrap();
    block_db_with_tombstones(dir.path());
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().blocks_corrupt, 0);
    let got = samples(&db, &host(1), 0, 8 * H);
    assert_eq!(got[0].1.first().unwrap().0, 10 * 60_000 + 15_000);
    assert_eq!(
        samples(&db, &host(0), 0, 8 * H)[0].1.len(),
        (8 * H / 15_000) as usize
    );
}

// ---------------------------------------------------------------- more WAL damage

/// The one `wal.corrupt-*` dir the damaged WAL was moved to.
fn assert_moved_aside(dir: &Path) -> PathBuf {
    let aside: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("wal.corrupt-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "corrupt WAL moved aside");
    assert!(aside[0].is_dir());
    aside[0].clone()
}

/// Opens a db whose WAL has mid-log damage in `bad_seg`: the damage is
/// reported naming the file, exactly `want` is served, the WAL was moved
/// aside (returned) and rewritten so appends survive later reopens.
fn assert_reported_and_rewritten(dir: &Path, bad_seg: &Path, want: BTreeSet<i64>) -> PathBuf {
    let db = Db::open(dir, opts()).unwrap();
    let msg = db
        .stats()
        .wal_corruption
        .expect("mid-log corruption is reported");
    let seg_path = bad_seg.display().to_string();
    assert!(msg.contains(&seg_path), "{msg:?} should name {seg_path}");
    assert_served(&db, "m", WAL_SERIES, &want);
    let aside = assert_moved_aside(dir);
    append_reopen_keeps(dir, db, want);
    aside
}

#[test]
fn wal_middle_segment_bad_magic_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    wal_db(dir.path());
    let segs = nonempty_segments(dir.path());
    let want = timestamps_before(&segs, 1, 0);
    flip(&segs[1], 0);
    assert_reported_and_rewritten(dir.path(), &segs[1], want);
}

#[test]
fn wal_missing_middle_segment_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    wal_db(dir.path());
    let segs = nonempty_segments(dir.path());
    let want = timestamps_before(&segs, 1, 0);
    std::fs::remove_file(&segs[1]).unwrap();
    assert_reported_and_rewritten(dir.path(), &segs[1], want);
}

#[test]
fn wal_unknown_segment_version_fails_open_naming_the_file_and_repairs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    wal_db(dir.path());
    let segs = nonempty_segments(dir.path());
    for seg in [1, segs.len() - 1] {
        flip(&segs[seg], 4);
        let before = std::fs::read(&segs[seg]).unwrap();
        let err = Db::open(dir.path(), opts())
            .err()
            .expect("refuses to guess at another format");
        assert!(
            err.to_string().contains(&segs[seg].display().to_string()),
            "{err}"
        );
        assert_eq!(
            std::fs::read(&segs[seg]).unwrap(),
            before,
            "file left alone"
        );
        flip(&segs[seg], 4);
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().wal_corruption, None);
    assert_served(&db, "m", WAL_SERIES, &range(0, WAL_STEPS * 15_000));
}

#[test]
fn wal_rewrite_after_mid_log_corruption_keeps_head_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, "m", WAL_SERIES, 0, 20 * 15_000);
    db.delete(&host(1), 0, 5 * 15_000).unwrap();
    fill(&db, "m", WAL_SERIES, 20 * 15_000, WAL_STEPS * 15_000);
    db.close().unwrap();
    let segs = nonempty_segments(dir.path());
    assert!(segs.len() >= 3);
    let seg = segs.len() - 2;
    let want = timestamps_before(&segs, seg, 0);
    flip(&segs[seg], 10);

    let check = |db: &Db, want: &BTreeSet<i64>| {
        let got = samples(db, &[Matcher::equal("__name__", "m")], 0, i64::MAX);
        assert_eq!(got.len(), WAL_SERIES);
        for (i, (l, s)) in got.iter().enumerate() {
            let ts: BTreeSet<i64> = s.iter().map(|p| p.0).collect();
            let mut w = want.clone();
            if i == 1 {
                w.retain(|t| *t > 5 * 15_000);
            }
            assert_eq!(ts, w, "{l}");
        }
    };
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.stats().wal_corruption.is_some());
    check(&db, &want);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().wal_corruption, None);
    check(&db, &want);
}

#[test]
fn wal_corrupt_checkpoint_is_reported_and_blocks_still_served() {
    let dir = tempfile::tempdir().unwrap();
    block_db(dir.path());
    let wal = dir.path().join("wal");
    let cp = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("checkpoint.")
        })
        .expect("head compaction checkpointed the WAL");
    let seg = cp.join("00000000");
    let fr = frames(&seg);
    let k = fr.len() - 1;
    let kept: usize = fr[..k].iter().map(|f| f.ts.len()).sum();
    flip(&seg, fr[k].start + 10 + fr[k].len.saturating_sub(10) / 2);

    let db = Db::open(dir.path(), opts()).unwrap();
    let msg = db.stats().wal_corruption.expect("reported");
    assert!(msg.contains(&seg.display().to_string()), "{msg}");
    assert_eq!(db.stats().blocks, 3);
    let in_blocks = samples(&db, &[Matcher::equal("__name__", "a")], 0, 6 * H - 1);
    for (i, (_, s)) in in_blocks.iter().enumerate() {
        assert_eq!(
            s.iter().map(|p| p.0).collect::<BTreeSet<_>>(),
            range(0, 6 * H)
        );
        assert!(s.iter().all(|&(t, v)| v == value(t, i)));
    }
    let head = samples(&db, &[Matcher::equal("__name__", "a")], 6 * H, i64::MAX);
    let served: usize = head.iter().map(|(_, s)| s.len()).sum();
    assert_eq!(
        served, kept,
        "head serves exactly the checkpoint records before the damage"
    );
    assert_moved_aside(dir.path());
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().wal_corruption, None);
    let head = samples(&db, &[Matcher::equal("__name__", "a")], 6 * H, i64::MAX);
    assert_eq!(head.iter().map(|(_, s)| s.len()).sum::<usize>(), kept);
    assert_eq!(db.stats().blocks, 3);
}

#[test]
fn truncated_block_chunk_file_keeps_earlier_chunks_readable() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db(dir.path());
    let chunk_file = blocks[0].join("chunks").join("000001");
    let len = std::fs::metadata(&chunk_file).unwrap().len();
    // Cut inside the last record: the last series' (host-2) last chunk.
    truncate(&chunk_file, len - 3);
    let db = Db::open(dir.path(), opts()).unwrap();
    let err = try_samples(&db, &host(2), 0, 8 * H).expect_err("last chunk is gone");
    assert!(
        err.to_string().contains(&chunk_file.display().to_string()),
        "{err}"
    );
    // Its earlier chunks (120 samples = 30 min each) are intact.
    let got = samples(&db, &host(2), 0, 90 * 60_000 - 1);
    assert_eq!(got[0].1.len(), (90 * 60_000 / 15_000) as usize);
    assert_eq!(
        samples(&db, &host(2), 2 * H, 8 * H)[0].1.len(),
        (6 * H / 15_000) as usize
    );
    for i in 0..2 {
        let got = samples(&db, &host(i), 0, 8 * H);
        assert_eq!(got[0].1.len(), (8 * H / 15_000) as usize, "host-{i}");
    }
}

#[test]
fn missing_block_chunk_file_fails_queries_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = block_db(dir.path());
    let chunks = blocks[0].join("chunks");
    std::fs::remove_file(chunks.join("000001")).unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let err = try_samples(&db, &host(0), 0, 8 * H).expect_err("chunks are gone");
    let msg = err.to_string();
    assert!(
        msg.contains(&chunks.display().to_string()) && msg.contains("000001"),
        "{msg}"
    );
    // Other blocks and the head.
    assert_eq!(
        samples(&db, &host(0), 2 * H, 8 * H)[0].1.len(),
        (6 * H / 15_000) as usize
    );
}
