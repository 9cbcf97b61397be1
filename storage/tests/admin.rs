//! The admin operations behind `/api/v1/admin/tsdb/*` and `/status/*`:
//! snapshots, tombstone cleaning, head cardinality, WAL replay status.

use storage::block::BlockMeta;
use storage::{Db, Matcher, Options};

mod common;
use common::*;

fn opts() -> Options {
    opts_with_segments(64 * 1024)
}

/// A database with blocks for the first hours and the rest in the head.
fn db_with_blocks(dir: &std::path::Path) -> Db {
    let db = Db::open(dir, opts()).unwrap();
    fill(&db, "up", 3, 0, 7 * H);
    db.compact().unwrap();
    assert!(!db.blocks().is_empty(), "test needs blocks");
    db
}

fn block_dirs(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("meta.json").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn snapshot_links_blocks_and_writes_head() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_blocks(dir.path());
    db.delete(&host(1), 0, 30 * 60_000).unwrap();
    let before = samples(&db, &name_is("up"), 0, i64::MAX);

    let snap = dir.path().join("snapshots").join("20240101T000000Z-1");
    db.snapshot(&snap, true).unwrap();
    let blocks = db.blocks();
    let names = block_dirs(&snap);
    assert_eq!(
        names.len(),
        blocks.len() + 1,
        "blocks plus the head: {names:?}"
    );
    for m in &blocks {
        let name = m.ulid.to_string();
        assert!(names.contains(&name));
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let a = std::fs::metadata(dir.path().join(&name).join("index")).unwrap();
            let b = std::fs::metadata(snap.join(&name).join("index")).unwrap();
            assert_eq!(a.ino(), b.ino(), "block files are hard links");
        }
    }
    let head_block = names
        .iter()
        .find(|n| !blocks.iter().any(|m| m.ulid.to_string() == **n))
        .unwrap();
    let hm = BlockMeta::read(&snap.join(head_block)).unwrap();
    assert_eq!(hm.min_time, db.head().min_time());
    assert_eq!(hm.max_time, db.head().max_time() + 1);
    assert!(!std::fs::read_dir(&snap)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains(".tmp")));

    // The snapshot opens as a database with the same data, deletions included.
    let copy = Db::open(&snap, opts()).unwrap();
    assert_eq!(samples(&copy, &name_is("up"), 0, i64::MAX), before);
    drop(copy);

    // Opening the original again ignores the snapshots directory.
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(samples(&db, &name_is("up"), 0, i64::MAX), before);

    // Without the head only the blocks are there.
    let blocks_only = dir.path().join("snapshots").join("blocks-only");
    db.snapshot(&blocks_only, false).unwrap();
    assert_eq!(block_dirs(&blocks_only).len(), db.blocks().len());
}

#[test]
fn snapshot_of_empty_db_and_bad_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let snap = dir.path().join("snap");
    db.snapshot(&snap, true).unwrap();
    assert!(snap.is_dir());
    assert!(block_dirs(&snap).is_empty());

    let err = db.snapshot(dir.path(), true).unwrap_err().to_string();
    assert!(err.contains("cannot snapshot into base directory"), "{err}");
    let ulid_dir = dir.path().join("01BKGV7JBM69T2G1BGBGM6KB12");
    let err = db.snapshot(&ulid_dir, true).unwrap_err().to_string();
    assert!(err.contains("must not be a valid ULID"), "{err}");
    assert!(!ulid_dir.exists());
}

#[test]
fn clean_tombstones_rewrites_blocks_without_deleted_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_blocks(dir.path());
    let old = db.blocks();
    let samples_before: u64 = old.iter().map(|m| m.stats.num_samples).sum();

    // Nothing to clean: nothing changes.
    db.clean_tombstones().unwrap();
    assert_eq!(db.blocks(), old);

    // Delete host-0 entirely and host-1 in the first hour.
    db.delete(&host(0), i64::MIN, i64::MAX).unwrap();
    db.delete(&host(1), 0, H - 1).unwrap();
    let end = old.iter().map(|m| m.max_time).max().unwrap();
    // Fully deleted series may still be listed, without samples, before
    // cleaning; compare what has samples.
    let nonempty = |g: Got| -> Got { g.into_iter().filter(|(_, s)| !s.is_empty()).collect() };
    let visible = nonempty(samples(&db, &name_is("up"), 0, end - 1));
    db.clean_tombstones().unwrap();

    let new = db.blocks();
    assert_eq!(new.len(), old.len());
    for (o, n) in old.iter().zip(&new) {
        assert_ne!(o.ulid, n.ulid, "every block had tombstones");
        assert_eq!((o.min_time, o.max_time), (n.min_time, n.max_time));
        assert_eq!(n.stats.num_tombstones, 0);
        assert_eq!(n.compaction.parents.len(), 1);
        assert_eq!(n.compaction.parents[0].ulid, o.ulid);
        assert!(
            !dir.path().join(o.ulid.to_string()).exists(),
            "old block deleted"
        );
        assert!(!dir
            .path()
            .join(n.ulid.to_string())
            .join("tombstones")
            .exists());
    }
    let samples_after: u64 = new.iter().map(|m| m.stats.num_samples).sum();
    // One sample per 15s: host-0 loses all, host-1 its first hour.
    assert_eq!(
        samples_before - samples_after,
        (end / 15_000) as u64 + (H / 15_000) as u64
    );
    assert!(samples(&db, &name_is("up"), 0, end - 1) == visible);
    assert_eq!(new.iter().map(|m| m.stats.num_series).max(), Some(2));

    // The result survives a restart.
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.blocks(), new);
    assert!(samples(&db, &name_is("up"), 0, end - 1) == visible);
}

#[test]
fn clean_tombstones_removes_fully_deleted_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_blocks(dir.path());
    let n_blocks = db.blocks().len();
    let first = db.blocks()[0].clone();
    db.delete(
        &[Matcher::equal("job", "node")],
        first.min_time,
        first.max_time - 1,
    )
    .unwrap();
    db.clean_tombstones().unwrap();
    let left = db.blocks();
    assert_eq!(left.len(), n_blocks - 1);
    assert!(left.iter().all(|m| m.ulid != first.ulid));
    assert!(!dir.path().join(first.ulid.to_string()).exists());
    assert!(samples(&db, &name_is("up"), first.min_time, first.max_time - 1).is_empty());
}

#[test]
fn wal_replay_status_names_segments() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts_with_segments(32 * 1024)).unwrap();
    let fresh = db.wal_replay_status();
    assert_eq!(fresh.min, fresh.max);
    assert_eq!(fresh.current, fresh.max);
    fill(&db, "up", 20, 0, H);
    drop(db);
    let db = Db::open(dir.path(), opts_with_segments(32 * 1024)).unwrap();
    let st = db.wal_replay_status();
    assert!(st.max > st.min, "{st:?}");
    assert_eq!(st.current, st.max);
}
