//! Helpers shared by the storage integration tests: options, a node-like
//! label set, and reading back or writing whole series.
#![allow(dead_code)] // each test binary uses a different subset

use storage::querier::Queryable;
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Error, Labels, Matcher, Options};

pub const H: i64 = 3600 * 1000;

/// Options for tests: no background compaction (tests call `compact`), no
/// fsync, WAL segments of `segment_size` bytes.
pub fn opts_with_segments(segment_size: u64) -> Options {
    Options {
        compaction_interval: None,
        wal: WalOptions {
            segment_size,
            sync: SyncPolicy::Never,
            ..WalOptions::default()
        },
        ..Options::default()
    }
}

pub fn series(name: &str, i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", name.to_string()),
        ("instance", format!("host-{i}")),
        ("job", "node".to_string()),
    ])
}

/// The value `fill` writes for series `i` at `t`.
pub fn value(t: i64, i: usize) -> f64 {
    (t / 1000) as f64 + i as f64
}

pub type Got = Vec<(Labels, Vec<(i64, f64)>)>;

pub fn try_samples(db: &Db, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Got, Error> {
    let q = db.querier(mint, maxt)?;
    Ok(
        q.select(&storage::querier::SelectHints::default(), matchers)?
            .series
            .into_iter()
            .map(|s| {
                let v = s.iter().collect();
                (s.labels, v)
            })
            .collect(),
    )
}

pub fn samples(db: &Db, matchers: &[Matcher], mint: i64, maxt: i64) -> Got {
    try_samples(db, matchers, mint, maxt).unwrap()
}

pub fn name_is(n: &str) -> Vec<Matcher> {
    vec![Matcher::equal("__name__", n)]
}

pub fn host(i: usize) -> Vec<Matcher> {
    vec![Matcher::equal("instance", format!("host-{i}"))]
}

/// Appends `n` series of `name` every 15s over [from, to), one commit per step.
pub fn fill(db: &Db, name: &str, n: usize, from: i64, to: i64) {
    let mut t = from;
    while t < to {
        let mut app = db.appender();
        for i in 0..n {
            app.append(&series(name, i), t, value(t, i)).unwrap();
        }
        app.commit().unwrap();
        t += 15_000;
    }
}
