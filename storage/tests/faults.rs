//! Faults at every write: a small deterministic run of appends (fsynced
//! commits), head compaction into blocks, block compaction, WAL
//! checkpoints and retention (by time, and by size) is repeated with a
//! fault injected at operation N = 1, 2, … until the run completes
//! without reaching N: `ENOSPC`, `EIO` and a short write at the Nth
//! mutating file operation, and power loss after the Nth fsync.
//!
//! Every run must end without a panic; after a reopen on the real file
//! system every acknowledged sample (its commit returned `Ok`) is there
//! unless retention had the right to drop it, and nothing readable is
//! wrong (every sample present was appended with exactly that value). A
//! non-power fault is cleared two steps after it first fails something,
//! and from then on the same `Db` must commit and compact without a
//! restart.
//!
//! The run is 30 commits (10 h of data: five head compactions, block
//! compaction, checkpoints and retention, which `every_n` checks it
//! reaches). Every N of every kind reruns it, so the cost grows with its
//! square; most of it is the kernel creating and deleting files (about
//! 40 s in release; 45 commits took 80). `FAULT_RUN_STEPS` lengthens it.

use std::collections::BTreeMap;
use std::path::Path;

use storage::querier::Queryable;
use storage::vfs::{FaultKind, FaultVfs, Fs};
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Labels, Options};

const H: i64 = 3600 * 1000;
/// Time between commits: a 2h block range is crossed every 6 commits.
const STEP: i64 = 20 * 60 * 1000;
const SERIES: usize = 3;

fn steps() -> i64 {
    std::env::var("FAULT_RUN_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Retention {
    Time,
    Size,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    Op(u64, FaultKind),
    PowerAfterFsync(u64),
}

fn opts(fs: Fs, retention: Retention) -> Options {
    Options {
        block_range: 2 * H,
        retention: (retention == Retention::Time).then_some(RETENTION_TIME),
        retention_bytes: (retention == Retention::Size).then_some(RETENTION_BYTES),
        compaction_interval: None,
        wal: WalOptions {
            segment_size: 4 * 1024,
            sync: SyncPolicy::Always,
            vfs: fs,
        },
        future_grace: None,
    }
}

/// Short enough that time retention drops the oldest blocks of the run,
/// long enough that they are compacted first.
const RETENTION_TIME: i64 = 7 * H;

/// Small enough that size retention drops the oldest blocks of the run:
/// the head's preallocated chunk file, the WAL and a few small blocks.
const RETENTION_BYTES: u64 = storage::chunk::HEAD_SEGMENT_BYTES + 10 * 1024;

fn labels(i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", "m".to_string()),
        ("i", i.to_string()),
        ("job", "faults".to_string()),
    ])
}

fn value(t: i64, i: usize) -> f64 {
    (t / 1000) as f64 * 0.5 + i as f64
}

/// What one run did.
#[derive(Default)]
struct Outcome {
    /// Timestamps whose commit returned `Ok`.
    acked: Vec<i64>,
    /// Timestamps committed at all.
    attempted: Vec<i64>,
    /// Whether the injected fault was reached.
    fired: bool,
    /// Highest compaction level and number of blocks removed, seen while
    /// running (to prove the run exercises what it should).
    max_level: u32,
    blocks_dropped: usize,
    checkpoints: bool,
}

/// Empties `dir` so one injector (and one leaked `'static`) serves every run.
fn wipe(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap();
        } else {
            std::fs::remove_file(p).unwrap();
        }
    }
}

fn run(v: &'static FaultVfs, dir: &Path, retention: Retention, fault: Option<Fault>) -> Outcome {
    wipe(dir);
    v.reset().unwrap();
    let power = matches!(fault, Some(Fault::PowerAfterFsync(_)));
    match fault {
        Some(Fault::Op(n, kind)) => v.fail_from(n, kind),
        Some(Fault::PowerAfterFsync(n)) => v.power_off_after(n),
        None => {}
    }
    let fs = Fs::new(v);
    let mut out = Outcome::default();
    // When the fault first failed something, and whether it was cleared.
    let mut failed_at: Option<i64> = None;
    let mut cleared = false;
    let ctx = |step: i64| format!("{fault:?} {retention:?} step {step}");

    let db = match Db::open(dir, opts(fs, retention)) {
        Ok(db) => Some(db),
        Err(e) => {
            assert!(fault.is_some(), "open failed without a fault: {e}");
            if power {
                None
            } else {
                v.clear();
                cleared = true;
                failed_at = Some(-1);
                Some(Db::open(dir, opts(fs, retention)).expect("opens once the disk frees up"))
            }
        }
    };
    if let Some(db) = &db {
        let mut seen = std::collections::HashSet::new();
        for step in 0..=steps() {
            let t = step * STEP;
            let last = step == steps();
            out.attempted.push(t);
            let mut app = db.appender();
            for i in 0..SERIES {
                app.append(&labels(i), t, value(t, i)).unwrap();
            }
            match app.commit() {
                Ok(()) => out.acked.push(t),
                Err(e) => {
                    assert!(fault.is_some() && !cleared, "{}: commit: {e}", ctx(step));
                    failed_at.get_or_insert(step);
                }
            }
            if step % 3 == 2 || last {
                if let Err(e) = db.compact() {
                    assert!(fault.is_some() && !cleared, "{}: compact: {e}", ctx(step));
                    failed_at.get_or_insert(step);
                }
            }
            for m in db.blocks() {
                out.max_level = out.max_level.max(m.compaction.level);
                seen.insert(m.ulid);
            }
            if std::fs::read_dir(dir.join("wal"))
                .map(|rd| {
                    rd.flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with("checkpoint."))
                })
                .unwrap_or(false)
            {
                out.checkpoints = true;
            }
            // The disk frees up two steps after the first failure.
            if !power && !cleared && failed_at.is_some_and(|s| step >= s + 2) {
                v.clear();
                cleared = true;
            }
        }
        let live: std::collections::HashSet<_> = db.blocks().iter().map(|m| m.ulid).collect();
        out.blocks_dropped = seen.difference(&live).count();
        if !power && !cleared && failed_at.is_some() {
            // Failed in the last steps: the same instance recovers now.
            v.clear();
            let t = (steps() + 1) * STEP;
            out.attempted.push(t);
            let mut app = db.appender();
            for i in 0..SERIES {
                app.append(&labels(i), t, value(t, i)).unwrap();
            }
            app.commit()
                .unwrap_or_else(|e| panic!("{}: commit after clearing: {e}", ctx(t)));
            out.acked.push(t);
            db.compact()
                .unwrap_or_else(|e| panic!("{}: compact after clearing: {e}", ctx(t)));
        }
    }
    out.fired = match fault {
        None => false,
        Some(Fault::Op(n, _)) => v.ops() >= n,
        Some(Fault::PowerAfterFsync(_)) => v.powered_off(),
    };
    drop(db);
    if power {
        v.power_loss().unwrap();
    }
    verify(dir, retention, &out, &format!("{fault:?} {retention:?}"));
    out
}

/// Reopens on the real file system and checks what is readable.
fn verify(dir: &Path, retention: Retention, out: &Outcome, ctx: &str) {
    let db = Db::open(dir, opts(Fs::os(), retention))
        .unwrap_or_else(|e| panic!("{ctx}: reopen after the run: {e}"));
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let set = q
        .select(&storage::querier::SelectHints::default(), &[])
        .unwrap();
    let mut got: BTreeMap<usize, Vec<(i64, f64)>> = BTreeMap::new();
    for s in set.series {
        let i: usize = s
            .labels
            .get("i")
            .parse()
            .unwrap_or_else(|_| panic!("{ctx}: unexpected series {}", s.labels));
        assert_eq!(s.labels, labels(i), "{ctx}");
        got.insert(i, s.iter().collect());
    }
    let max_t = out.acked.iter().copied().max().unwrap_or(i64::MIN);
    // Acknowledged samples retention may not have dropped: the head keeps
    // at least the newest half block range; time retention keeps 5h.
    let keep_from = match retention {
        Retention::Time => max_t.saturating_sub(RETENTION_TIME - 2 * H),
        Retention::Size => max_t.saturating_sub(H),
    };
    for i in 0..SERIES {
        let samples = got.get(&i).map(Vec::as_slice).unwrap_or_default();
        for w in samples.windows(2) {
            assert!(w[0].0 < w[1].0, "{ctx}: series {i} not strictly ordered");
        }
        for &(t, val) in samples {
            assert!(
                out.attempted.contains(&t),
                "{ctx}: series {i} has a sample at {t} never appended"
            );
            assert_eq!(
                val.to_bits(),
                value(t, i).to_bits(),
                "{ctx}: series {i} at {t}"
            );
        }
        // Retention may drop whole old blocks; a block whose publishing
        // failed halfway may come back at reopen (its data is right), so
        // only the window retention never touches is checked for holes.
        for &t in &out.acked {
            if t >= keep_from {
                assert!(
                    samples.iter().any(|s| s.0 == t),
                    "{ctx}: acknowledged sample of series {i} at {t} lost \
                     (acked {:?}, present {:?})",
                    out.acked,
                    samples.iter().map(|s| s.0).collect::<Vec<_>>()
                );
            }
        }
    }
}

/// One injector per test (tests run in parallel), over its own directory.
fn injector() -> (&'static FaultVfs, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let v = FaultVfs::new(dir.path(), &["chunks_head"]).unwrap();
    (Box::leak(Box::new(v)), dir)
}

fn every_n(retention: Retention, make: impl Fn(u64) -> Fault) {
    let (v, dir) = injector();
    let clean = run(v, dir.path(), retention, None);
    // Time retention caps the block range at a tenth of it, so block
    // compaction is exercised by the size-retention run.
    if retention == Retention::Size {
        assert!(clean.max_level >= 2, "the run compacts blocks");
    }
    assert!(clean.blocks_dropped > 0, "the run applies retention");
    assert!(clean.checkpoints, "the run checkpoints the WAL");
    assert_eq!(clean.acked, clean.attempted);
    let mut n = 1;
    loop {
        let out = run(v, dir.path(), retention, Some(make(n)));
        if !out.fired {
            break;
        }
        n += 1;
    }
    assert!(n > 50, "the run has only {n} operations");
}

fn both_retentions(make: impl Fn(u64) -> Fault) {
    every_n(Retention::Time, &make);
    every_n(Retention::Size, &make);
}

#[test]
fn no_space_at_every_operation() {
    both_retentions(|n| Fault::Op(n, FaultKind::NoSpace));
}

#[test]
fn io_error_at_every_operation() {
    both_retentions(|n| Fault::Op(n, FaultKind::Io));
}

#[test]
fn short_write_at_every_operation() {
    both_retentions(|n| Fault::Op(n, FaultKind::ShortWrite));
}

#[test]
fn power_loss_after_every_fsync() {
    both_retentions(Fault::PowerAfterFsync);
}

/// Regression: the data and WAL directories were created without an fsync
/// of their parent, so a power loss right after the first acknowledged
/// commit could take the whole WAL directory away with it.
#[test]
fn power_loss_keeps_the_wal_of_a_new_database() {
    let (v, root) = injector();
    let dir = root.path().join("data");
    let opts = |fs| Options {
        compaction_interval: None,
        wal: WalOptions {
            vfs: fs,
            ..WalOptions::default()
        },
        ..Options::default()
    };
    let db = Db::open(&dir, opts(Fs::new(v))).unwrap();
    let mut app = db.appender();
    app.append(&labels(0), 1000, 1.0).unwrap();
    app.commit().unwrap();
    v.power_off_after(v.fsyncs());
    drop(db);
    v.power_loss().unwrap();
    let db = Db::open(&dir, opts(Fs::os())).unwrap();
    let q = db.querier(0, i64::MAX).unwrap();
    let got = q
        .select(&storage::querier::SelectHints::default(), &[])
        .unwrap()
        .series;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].iter().collect::<Vec<_>>(), [(1000, 1.0)]);
}
