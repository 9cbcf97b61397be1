//! Head benchmarks: append throughput for existing series, postings
//! selection at high cardinality, cardinality statistics, WAL replay speed,
//! memory per series.
//!
//! Run: `cargo bench --bench head` (`-- cardinality` for the statistics alone). Memory and replay numbers are printed
//! once at start (they are measurements of state, not of a loop).

use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use storage::head::CardinalityQuery;
use storage::querier::Queryable;
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Labels, MatchOp, Matcher, Options};

fn opts(sync: SyncPolicy) -> Options {
    Options {
        compaction_interval: None,
        retention: None,
        wal: WalOptions {
            sync,
            ..WalOptions::default()
        },
        ..Options::default()
    }
}

fn node_labels(i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", format!("node_metric_{}", i % 200)),
        (
            "instance",
            format!("10.0.{}.{}:9100", (i / 200) / 250, (i / 200) % 250),
        ),
        ("job", "node".to_string()),
        ("cpu", (i % 8).to_string()),
        (
            "mode",
            ["user", "system", "idle", "iowait"][i % 4].to_string(),
        ),
    ])
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn bench_append(c: &mut Criterion) {
    const SERIES: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(SyncPolicy::Never)).unwrap();
    let labels: Vec<Labels> = (0..SERIES).map(node_labels).collect();
    let mut refs = Vec::with_capacity(SERIES);
    let mut app = db.appender();
    for l in &labels {
        refs.push(app.append(l, 0, 0.0).unwrap());
    }
    app.commit().unwrap();
    let mut t = 0i64;
    let mut g = c.benchmark_group("head_append");
    g.throughput(Throughput::Elements(SERIES as u64));
    g.bench_function("existing_series_by_ref_10k_batch", |b| {
        b.iter(|| {
            t += 15_000;
            let mut app = db.appender();
            for (i, r) in refs.iter().enumerate() {
                app.append_ref(*r, t, (t + i as i64) as f64 * 0.25).unwrap();
            }
            app.commit().unwrap();
        })
    });
    g.bench_function("existing_series_by_labels_10k_batch", |b| {
        b.iter(|| {
            t += 15_000;
            let mut app = db.appender();
            for (i, l) in labels.iter().enumerate() {
                app.append(l, t, (t + i as i64) as f64 * 0.25).unwrap();
            }
            app.commit().unwrap();
        })
    });
    g.finish();
}

/// Memory per active series with 120 samples each, from RSS growth.
fn report_memory() {
    const SERIES: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let before = rss_bytes();
    let db = Db::open(dir.path(), opts(SyncPolicy::Never)).unwrap();
    let labels: Vec<Labels> = (0..SERIES).map(node_labels).collect();
    let labels_bytes = rss_bytes() - before;
    let mut refs = Vec::new();
    for step in 0..120i64 {
        let mut app = db.appender();
        for (i, l) in labels.iter().enumerate() {
            let v = (step * 1000 + i as i64) as f64;
            if step == 0 {
                refs.push(app.append(l, step * 15_000, v).unwrap());
            } else {
                app.append_ref(refs[i], step * 15_000, v).unwrap();
            }
        }
        app.commit().unwrap();
    }
    let after = rss_bytes();
    let per = (after - before - labels_bytes) as f64 / SERIES as f64;
    println!(
        "head memory: {per:.0} bytes/series (RSS growth over {SERIES} series x 120 samples, excluding the benchmark's own label vector); head_heap_estimate {} bytes/series",
        db.head().heap_bytes() / SERIES as u64
    );
}

/// WAL replay speed: write samples, close, time reopen.
fn report_replay() {
    const SERIES: usize = 10_000;
    const STEPS: i64 = 200;
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts(SyncPolicy::Never)).unwrap();
        let labels: Vec<Labels> = (0..SERIES).map(node_labels).collect();
        for step in 0..STEPS {
            let mut app = db.appender();
            for (i, l) in labels.iter().enumerate() {
                app.append(l, step * 15_000, (step + i as i64) as f64)
                    .unwrap();
            }
            app.commit().unwrap();
        }
        db.close().unwrap();
    }
    let start = Instant::now();
    let db = Db::open(dir.path(), opts(SyncPolicy::Never)).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let n = (SERIES as i64 * STEPS) as f64;
    println!(
        "wal replay: {} samples in {secs:.3}s = {:.2}M samples/s (wal {} bytes)",
        n,
        n / secs / 1e6,
        db.stats().wal_bytes
    );
}

fn bench_select(c: &mut Criterion) {
    const SERIES: usize = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(SyncPolicy::Never)).unwrap();
    for chunk in (0..SERIES).collect::<Vec<_>>().chunks(50_000) {
        let mut app = db.appender();
        for &i in chunk {
            let l = Labels::from_pairs([
                ("__name__", format!("metric_{}", i % 100)),
                ("instance", format!("host-{}", i / 100)),
                ("job", format!("job-{}", i % 7)),
            ]);
            app.append(&l, 0, 1.0).unwrap();
        }
        app.commit().unwrap();
    }
    let mut g = c.benchmark_group("select_1m_series");
    let two_eq = vec![
        Matcher::equal("__name__", "metric_42"),
        Matcher::equal("instance", "host-4242"),
    ];
    g.bench_function("two_equality_matchers", |b| {
        b.iter(|| {
            let q = db.querier(0, 10).unwrap();
            let s = q
                .select(&storage::querier::SelectHints::default(), &two_eq)
                .unwrap()
                .series;
            assert_eq!(s.len(), 1);
        })
    });
    // A regex over a label with 10k values.
    let re = vec![
        Matcher::equal("__name__", "metric_7"),
        Matcher::new(MatchOp::RegexMatch, "instance", "host-1.*5").unwrap(),
    ];
    g.bench_function("regex_over_10k_values", |b| {
        b.iter_batched(
            || (),
            |_| {
                let q = db.querier(0, 10).unwrap();
                q.select(&storage::querier::SelectHints::default(), &re)
                    .unwrap()
                    .series
                    .len()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Cardinality statistics (`/api/v1/status/tsdb`) on a 50,000-series head:
/// unfocused (postings only), focused on one metric (250 series), and
/// focused on a selector matching the whole head (the per-series path at
/// its worst).
fn bench_cardinality(c: &mut Criterion) {
    const SERIES: u64 = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts(SyncPolicy::Never)).unwrap();
    let mut app = db.appender();
    for i in 0..SERIES as usize {
        app.append(&node_labels(i), 0, 1.0).unwrap();
    }
    app.commit().unwrap();
    let head = db.head();
    let run = |q: &CardinalityQuery, want: u64| {
        let c = head.cardinality(q).unwrap();
        assert_eq!(c.num_series, want);
        c
    };
    let mut g = c.benchmark_group("cardinality_50k_series");
    let all = CardinalityQuery::default();
    g.bench_function("unfocused", |b| b.iter(|| run(&all, SERIES)));
    let focus = CardinalityQuery {
        focus_label: Some("instance".into()),
        ..CardinalityQuery::default()
    };
    g.bench_function("unfocused_focus_label", |b| b.iter(|| run(&focus, SERIES)));
    let one_metric = CardinalityQuery {
        selectors: vec![vec![Matcher::equal("__name__", "node_metric_7")]],
        focus_label: Some("instance".into()),
        ..CardinalityQuery::default()
    };
    g.bench_function("match_one_metric", |b| b.iter(|| run(&one_metric, 250)));
    let whole = CardinalityQuery {
        selectors: vec![vec![Matcher::equal("job", "node")]],
        ..CardinalityQuery::default()
    };
    g.bench_function("match_whole_head", |b| b.iter(|| run(&whole, SERIES)));
    // The API also reports the head's chunk count: one pass over the series.
    g.bench_function("num_chunks", |b| b.iter(|| head.num_chunks()));
    g.finish();
}

fn reports(_: &mut Criterion) {
    report_memory();
    report_replay();
}

criterion_group!(
    benches,
    reports,
    bench_append,
    bench_select,
    bench_cardinality
);
criterion_main!(benches);
