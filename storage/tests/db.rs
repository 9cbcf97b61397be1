//! End-to-end behaviour of the database: append, query, restart, delete,
//! head compaction, block compaction, retention.

use std::path::Path;

use storage::querier::Queryable;
use storage::{Db, Error, Labels, MatchOp, Matcher, Options};

mod common;
use common::*;

fn opts() -> Options {
    opts_with_segments(64 * 1024)
}

#[test]
fn append_and_query_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db, "up", 5, 0, 10 * 60_000);
    let got = samples(&db, &name_is("up"), 0, i64::MAX);
    assert_eq!(got.len(), 5);
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
    for (l, s) in &got {
        assert_eq!(s.len(), 40, "{l}");
        assert!(s.windows(2).all(|w| w[0].0 < w[1].0));
    }
    // Range restriction is inclusive at both ends.
    let got = samples(&db, &name_is("up"), 15_000, 45_000);
    assert_eq!(
        got[0].1.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![15_000, 30_000, 45_000]
    );
    let q = db.querier(0, i64::MAX).unwrap();
    assert_eq!(
        q.label_names(&[]).unwrap().0,
        vec!["__name__", "instance", "job"]
    );
    assert_eq!(
        q.label_values("instance", &name_is("up")).unwrap().0.len(),
        5
    );
}

#[test]
fn rejections_are_typed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let l = series("m", 0);
    let mut app = db.appender();
    app.append(&l, 10_000, 1.0).unwrap();
    app.append(&l, 10_000, 1.0).unwrap(); // identical duplicate: ignored
    assert!(matches!(
        app.append(&l, 10_000, 2.0),
        Err(Error::DuplicateSample)
    ));
    assert!(matches!(
        app.append(&l, 5_000, 2.0),
        Err(Error::OutOfOrderSample)
    ));
    app.commit().unwrap();
    let mut app = db.appender();
    assert!(matches!(
        app.append(&l, 9_000, 2.0),
        Err(Error::OutOfOrderSample)
    ));
    app.append(&l, 3 * H, 1.0).unwrap();
    app.commit().unwrap();
    // More than half a block range behind the newest sample is out of bounds.
    let mut app = db.appender();
    assert!(matches!(
        app.append(&series("m", 1), 1_000, 1.0),
        Err(Error::OutOfBounds)
    ));
    drop(app);
    let st = db.stats();
    assert_eq!(st.rejected_duplicate, 1);
    assert_eq!(st.rejected_out_of_order, 2);
    assert_eq!(st.rejected_out_of_bounds, 1);
    assert_eq!(st.samples_appended, 2);
    assert!(Labels::default().validate().is_err());
    assert!(db.appender().append(&Labels::default(), 1, 1.0).is_err());
}

#[test]
fn special_values_roundtrip_bit_exactly_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let vals = [
        storage::stale_nan(),
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        1e-300,
        f64::MAX,
    ];
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        let mut app = db.appender();
        for (i, v) in vals.iter().enumerate() {
            app.append(&series("x", 0), i as i64 * 1000, *v).unwrap();
        }
        app.commit().unwrap();
        let got = samples(&db, &name_is("x"), 0, i64::MAX);
        let bits: Vec<u64> = got[0].1.iter().map(|s| s.1.to_bits()).collect();
        assert_eq!(bits, vals.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    let got = samples(&db, &name_is("x"), 0, i64::MAX);
    let bits: Vec<u64> = got[0].1.iter().map(|s| s.1.to_bits()).collect();
    assert_eq!(bits, vals.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    assert!(storage::is_stale_nan(got[0].1[0].1));
    assert!(!storage::is_stale_nan(got[0].1[1].1));
}

#[test]
fn restart_replays_wal_and_keeps_refs() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        fill(&db, "a", 50, 0, 60 * 60_000);
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    let got = samples(&db, &name_is("a"), 0, i64::MAX);
    assert_eq!(got.len(), 50);
    assert!(got.iter().all(|(_, s)| s.len() == 240));
    // Appending continues after the replayed data and OOO is still detected.
    let mut app = db.appender();
    assert!(matches!(
        app.append(&series("a", 0), 0, 1.0),
        Err(Error::OutOfOrderSample)
    ));
    app.append(&series("a", 0), 60 * 60_000, 1.0).unwrap();
    app.commit().unwrap();
    assert_eq!(db.stats().head_series, 50);
}

#[test]
fn matchers_follow_prometheus_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut app = db.appender();
    app.append(&Labels::from_pairs([("__name__", "m"), ("a", "1")]), 0, 1.0)
        .unwrap();
    app.append(
        &Labels::from_pairs([("__name__", "m"), ("a", "2"), ("b", "x")]),
        0,
        1.0,
    )
    .unwrap();
    app.append(&Labels::from_pairs([("__name__", "m")]), 0, 1.0)
        .unwrap();
    app.commit().unwrap();
    let count = |ms: Vec<Matcher>| samples(&db, &ms, 0, 10).len();
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    assert_eq!(count(vec![m(MatchOp::Equal, "b", "")]), 2);
    assert_eq!(count(vec![m(MatchOp::NotEqual, "b", "")]), 1);
    assert_eq!(count(vec![m(MatchOp::RegexMatch, "a", "1|2")]), 2);
    assert_eq!(count(vec![m(MatchOp::RegexMatch, "a", "|1")]), 2);
    assert_eq!(count(vec![m(MatchOp::RegexNoMatch, "a", "1")]), 2);
    assert_eq!(
        count(vec![
            Matcher::equal("__name__", "m"),
            m(MatchOp::RegexMatch, "a", ".*")
        ]),
        3
    );
    assert_eq!(
        count(vec![
            Matcher::equal("__name__", "m"),
            m(MatchOp::RegexMatch, "a", ".+")
        ]),
        2
    );
}

fn block_ranges(db: &Db) -> Vec<(i64, i64)> {
    db.blocks()
        .iter()
        .map(|m| (m.min_time, m.max_time))
        .collect()
}

#[test]
fn head_compacts_into_blocks_and_blocks_merge() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    // 10h of data: the head cuts 2h blocks while it spans > 3h; a window is
    // merged once a newer block exists after it.
    fill(&db, "c", 20, 0, 10 * H);
    db.compact().unwrap();
    let blocks = block_ranges(&db);
    assert!(!blocks.is_empty());
    // The first 6h window is merged into one 6h block.
    assert_eq!(blocks[0], (0, 6 * H), "{blocks:?}");
    assert_eq!(blocks[1..], [(6 * H, 8 * H)], "{blocks:?}");
    assert!(db.head().min_time() >= 8 * H);
    let got = samples(&db, &name_is("c"), 0, i64::MAX);
    assert_eq!(got.len(), 20);
    for (l, s) in &got {
        assert_eq!(s.len() as i64, 10 * H / 15_000, "{l}");
        assert!(s.windows(2).all(|w| w[1].0 - w[0].0 == 15_000));
    }
    // Reopen serves the same data from blocks + WAL.
    drop(got);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let got = samples(&db, &name_is("c"), 0, i64::MAX);
    assert!(got.iter().all(|(_, s)| s.len() as i64 == 10 * H / 15_000));
    // No leftovers of temporary dirs.
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.contains(".tmp"), "leftover {n}");
    }
}

#[test]
fn retention_by_time_drops_whole_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            retention: Some(5 * H),
            ..opts()
        },
    )
    .unwrap();
    fill(&db, "r", 5, 0, 14 * H);
    db.compact().unwrap();
    let blocks = block_ranges(&db);
    let newest = db.head().max_time();
    assert!(
        blocks.iter().all(|b| b.1 > newest - 5 * H),
        "{blocks:?} newest {newest}"
    );
    let got = samples(&db, &name_is("r"), 0, i64::MAX);
    let first = got[0].1[0].0;
    assert!(
        first >= newest - 7 * H,
        "oldest sample {first} kept too long"
    );
    assert!(first > 0);
    let stats = db.stats();
    assert_eq!((stats.time_retentions, stats.size_retentions), (1, 0));
}

#[test]
fn retention_by_size_drops_oldest_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            retention: None,
            retention_bytes: Some(1),
            ..opts()
        },
    )
    .unwrap();
    fill(&db, "s", 5, 0, 10 * H);
    db.compact().unwrap();
    assert!(db.blocks().is_empty(), "{:?}", block_ranges(&db));
    let stats = db.stats();
    assert!(stats.head_series > 0);
    assert_eq!((stats.time_retentions, stats.size_retentions), (0, 1));
}

#[test]
fn delete_hides_at_once_and_survives_restart_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        fill(&db, "d", 3, 0, 4 * H);
        db.compact().unwrap();
        assert!(!db.blocks().is_empty());
        let target = vec![
            Matcher::equal("__name__", "d"),
            Matcher::equal("instance", "host-1"),
        ];
        // Delete one hour that spans the block and the head.
        db.delete(&target, H + 30 * 60_000, 2 * H + 30 * 60_000)
            .unwrap();
        let got = samples(&db, &target, 0, i64::MAX);
        assert_eq!(got[0].1.len() as i64, 4 * H / 15_000 - 240 - 1);
        assert!(got[0]
            .1
            .iter()
            .all(|s| s.0 < H + 30 * 60_000 || s.0 > 2 * H + 30 * 60_000));
        let other = samples(&db, &name_is("d"), 0, i64::MAX);
        assert_eq!(other[0].1.len() as i64, 4 * H / 15_000);
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    let target = vec![Matcher::equal("instance", "host-1")];
    assert_eq!(
        samples(&db, &target, 0, i64::MAX)[0].1.len() as i64,
        4 * H / 15_000 - 241
    );
    // Compaction purges deleted samples physically.
    fill(&db, "d", 3, 4 * H, 12 * H);
    db.compact().unwrap();
    let got = samples(&db, &target, 0, i64::MAX);
    assert_eq!(got[0].1.len() as i64, 12 * H / 15_000 - 241);
}

#[test]
fn unknown_dirs_and_leftovers_are_handled_at_open() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(
        dir.path()
            .join("01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp-for-creation/chunks"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("lost+found")).unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(!Path::new(
        &dir.path()
            .join("01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp-for-creation")
    )
    .exists());
    assert_eq!(db.stats().blocks, 0);
}

#[test]
fn small_block_ranges_compact_through_levels() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            block_range: 1_000,
            retention: None,
            ..opts()
        },
    )
    .unwrap();
    let mut t = 0;
    while t < 30_000 {
        let mut app = db.appender();
        app.append(&series("s", 0), t, t as f64).unwrap();
        app.commit().unwrap();
        t += 50;
        if t % 1000 == 0 {
            db.compact().unwrap();
        }
    }
    let levels: Vec<(i64, i64, u32)> = db
        .blocks()
        .iter()
        .map(|m| (m.min_time, m.max_time, m.compaction.level))
        .collect();
    assert!(levels.iter().any(|l| l.2 > 1), "{levels:?}");
    assert_eq!(samples(&db, &name_is("s"), 0, i64::MAX)[0].1.len(), 600);
}

/// Builds a series with samples every 15s over [from, to).
fn chunk_series(l: &Labels, from: i64, to: i64, offset: f64) -> storage::querier::Series {
    let samples: Vec<(i64, f64)> = (from..to)
        .step_by(15_000)
        .map(|t| (t, t as f64 + offset))
        .collect();
    storage::querier::Series::from_samples(l.clone(), &samples, from, to - 1)
}

#[test]
fn overlapping_blocks_are_merged_deduplicated() {
    let dir = tempfile::tempdir().unwrap();
    let l = series("o", 0);
    // Two blocks over [0, 30m) and [15m, 45m): the shared 15 minutes carry
    // the same samples, as after a re-import.
    let m = 60_000;
    storage::block::write_block(
        storage::vfs::Fs::os(),
        dir.path(),
        0,
        30 * m,
        &[],
        [chunk_series(&l, 0, 30 * m, 0.0)],
    )
    .unwrap()
    .unwrap();
    storage::block::write_block(
        storage::vfs::Fs::os(),
        dir.path(),
        15 * m,
        45 * m,
        &[],
        [chunk_series(&l, 15 * m, 45 * m, 0.0)],
    )
    .unwrap()
    .unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.blocks().len(), 2);
    let before = samples(&db, &name_is("o"), 0, i64::MAX);
    assert_eq!(before[0].1.len(), 180, "overlap deduplicated at query time");
    db.compact().unwrap();
    let blocks = block_ranges(&db);
    assert_eq!(blocks, vec![(0, 45 * m)]);
    assert_eq!(db.blocks()[0].stats.num_samples, 180);
    let after = samples(&db, &name_is("o"), 0, i64::MAX);
    assert_eq!(before, after);
}

/// After head compaction the head chunks of the compacted range stay in
/// `chunks_head` until their segment goes; a restart (without a clean
/// close, twice) must not bring them back next to the block: every sample
/// once, from the block or the head, and appends go on.
#[test]
fn restart_after_head_compaction_serves_each_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let want = |to: i64| -> std::collections::BTreeSet<i64> { (0..to).step_by(15_000).collect() };
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        fill(&db, "m", 3, 0, 4 * H);
        db.compact().unwrap();
        assert_eq!(db.blocks().len(), 1);
        // Dropped without `close`, as a crash leaves it.
    }
    for round in 0..2 {
        let db = Db::open(dir.path(), opts()).unwrap();
        let end = 4 * H + round * H;
        assert_eq!(db.blocks().len(), 1, "round {round}");
        let got = samples(&db, &name_is("m"), i64::MIN, i64::MAX);
        assert_eq!(got.len(), 3);
        for (i, (l, s)) in got.iter().enumerate() {
            let ts: std::collections::BTreeSet<i64> = s.iter().map(|p| p.0).collect();
            assert_eq!(ts.len(), s.len(), "round {round}: {l}: duplicates");
            assert_eq!(ts, want(end), "round {round}: {l}");
            for &(t, v) in s {
                assert_eq!(v, value(t, i), "{l} @ {t}");
            }
        }
        fill(&db, "m", 3, end, end + H);
    }
}

/// The change feed reports the oldest time each kind of change touched:
/// a commit's oldest new sample (not a duplicate), a deletion's start, a
/// retention's oldest dropped block; compaction alone reports nothing.
#[test]
fn changes_report_the_oldest_time_touched() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            retention: Some(5 * H),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(db.changes().take(), None);
    let l = Labels::from_pairs([("__name__", "c")]);
    let mut app = db.appender();
    app.append(&l, 50_000, 1.0).unwrap();
    app.append(&l, 60_000, 1.0).unwrap();
    app.commit().unwrap();
    let other = Labels::from_pairs([("__name__", "d")]);
    let mut app = db.appender();
    app.append(&other, 20_000, 1.0).unwrap();
    app.commit().unwrap();
    assert_eq!(db.changes().take(), Some(20_000));
    assert_eq!(db.changes().take(), None);
    // The same sample again changes nothing.
    let mut app = db.appender();
    app.append(&l, 60_000, 1.0).unwrap();
    app.commit().unwrap();
    assert_eq!(db.changes().take(), None);
    db.delete(&[Matcher::equal("__name__", "c")], 55_000, 70_000)
        .unwrap();
    assert_eq!(db.changes().take(), Some(55_000));

    fill(&db, "r", 2, H, 14 * H);
    let _ = db.changes().take();
    db.compact().unwrap();
    let stats = db.stats();
    assert_eq!(stats.time_retentions, 1);
    let dropped = db.changes().take().expect("retention reports");
    assert!(dropped < db.blocks()[0].min_time, "{dropped}");
    db.compact().unwrap();
    assert_eq!(db.changes().take(), None);
}
