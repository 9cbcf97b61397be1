//! Crash test: a child process appends and acknowledges batches while the WAL
//! rotates and the head and blocks compact constantly; the parent kills it
//! with SIGKILL at random moments, reopens the database and checks that
//! every acknowledged sample is present exactly once with its value.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use storage::querier::Queryable;
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Labels, Options};

const CHILD_ENV: &str = "FERROPROM_CRASH_CHILD_DIR";
const SERIES: u64 = 20;
const STEP: i64 = 50;

fn opts() -> Options {
    Options {
        block_range: 1_000,
        retention: None,
        retention_bytes: None,
        wal: WalOptions {
            segment_size: 16 * 1024,
            sync: SyncPolicy::Always,
            ..WalOptions::default()
        },
        compaction_interval: Some(Duration::from_millis(5)),
        future_grace: None,
    }
}

fn labels(s: u64) -> Labels {
    Labels::from_pairs([
        ("__name__", "crash_metric".to_string()),
        ("series", s.to_string()),
    ])
}

/// The value stored for series `s` at `t`: derivable, so the parent can
/// check what it reads without knowing which batches landed.
fn value(s: u64, t: i64) -> f64 {
    (t as f64) * 0.5 + s as f64
}

/// Child side: runs only when the parent starts this test binary with the
/// env var set. Appends batches from the start time given, printing
/// `ack <t>` after each commit returns.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let start: i64 = std::env::var("FERROPROM_CRASH_START")
        .unwrap()
        .parse()
        .unwrap();
    let db = Db::open(Path::new(&dir), opts()).expect("child open");
    let mut t = start;
    loop {
        let mut app = db.appender();
        for s in 0..SERIES {
            app.append(&labels(s), t, value(s, t)).expect("append");
        }
        app.commit().expect("commit");
        println!("ack {t}");
        t += STEP;
    }
}

fn read_all(db: &Db) -> BTreeMap<(String, i64), f64> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut out = BTreeMap::new();
    for s in q
        .select(
            &storage::querier::SelectHints::default(),
            &[storage::Matcher::equal("__name__", "crash_metric")],
        )
        .unwrap()
        .series
    {
        let name = s.labels.get("series").to_string();
        let mut last = i64::MIN;
        for (t, v) in s.iter() {
            assert!(
                t > last,
                "series {name}: timestamp {t} not strictly increasing"
            );
            last = t;
            assert!(
                out.insert((name.clone(), t), v).is_none(),
                "duplicate sample {name}@{t}"
            );
        }
    }
    out
}

#[test]
fn acknowledged_samples_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let cycles: usize = std::env::var("FERROPROM_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<i64> = Vec::new();
    let mut next_start = 0i64;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let (mut blocks_seen, mut levels_seen) = (0usize, 0u32);
    let mut last_blocks = Vec::new();
    for cycle in 0..cycles {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .env("FERROPROM_CRASH_START", next_start.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(t) = line.strip_prefix("ack ") {
                    let _ = tx.send(t.parse::<i64>().unwrap());
                }
            }
        });
        // Kill after a random number of acknowledgements (20..2020): from a
        // few ms to ~2s in, so kills land in appends, WAL cuts, head
        // compactions and block merges alike.
        let want = 20 + (rng % 2000) as usize;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = 0;
        while got < want && Instant::now() < deadline {
            if let Ok(t) = rx.recv_timeout(Duration::from_millis(50)) {
                acked.push(t);
                got += 1;
            }
        }
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        let _ = child.wait();
        reader.join().unwrap();
        // Acks that raced the kill still count: they were printed after commit.
        acked.extend(rx.try_iter());
        assert!(got > 0, "cycle {cycle}: child acknowledged nothing");

        let db = Db::open(
            &dir,
            Options {
                compaction_interval: None,
                ..opts()
            },
        )
        .unwrap_or_else(|e| panic!("cycle {cycle}: reopen failed: {e}"));
        assert!(
            db.stats().wal_corruption.is_none(),
            "cycle {cycle}: {:?}",
            db.stats().wal_corruption
        );
        assert_eq!(db.stats().blocks_corrupt, 0, "cycle {cycle}");
        let data = read_all(&db);
        let mut per_series: HashMap<String, usize> = HashMap::new();
        for ((s, t), v) in &data {
            let sid: u64 = s.parse().unwrap();
            assert_eq!(
                v.to_bits(),
                value(sid, *t).to_bits(),
                "cycle {cycle}: wrong value {s}@{t}"
            );
            *per_series.entry(s.clone()).or_default() += 1;
        }
        for &t in &acked {
            for s in 0..SERIES {
                assert!(
                    data.contains_key(&(s.to_string(), t)),
                    "cycle {cycle}: acknowledged sample series={s} t={t} lost"
                );
            }
        }
        next_start = data.keys().map(|(_, t)| *t).max().unwrap_or(0) + STEP;
        blocks_seen = blocks_seen.max(db.blocks().len());
        last_blocks = db
            .blocks()
            .iter()
            .map(|m| (m.min_time, m.max_time, m.compaction.level))
            .collect::<Vec<_>>();
        levels_seen = levels_seen.max(
            db.blocks()
                .iter()
                .map(|m| m.compaction.level)
                .max()
                .unwrap_or(0),
        );
        db.close().unwrap();
    }
    // The kills must have hit a database that was really compacting.
    assert!(blocks_seen > 0, "no head compaction happened");
    assert!(
        levels_seen > 1,
        "no block compaction happened: {last_blocks:?}"
    );
}
