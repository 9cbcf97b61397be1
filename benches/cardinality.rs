//! Cardinality statistics (`/api/v1/status/tsdb`) on a 50,000-series head:
//! the unfocused call (postings only), a focused call on one metric (250
//! series), and a focused call matching the whole head (the per-series
//! path at its worst).
//!
//! Run: `cargo bench --bench cardinality`.

use criterion::{criterion_group, criterion_main, Criterion};
use storage::head::CardinalityQuery;
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Labels, Matcher, Options};

const SERIES: usize = 50_000;

/// node_exporter-like series: 200 metrics × 250 instances, with cpu and
/// mode labels spread over them.
fn node_labels(i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", format!("node_metric_{}", i % 200)),
        (
            "instance",
            format!("10.0.{}.{}:9100", i / 200 / 250, i / 200 % 250),
        ),
        ("job", "node".to_string()),
        ("cpu", (i % 8).to_string()),
        (
            "mode",
            ["user", "system", "idle", "iowait"][i % 4].to_string(),
        ),
    ])
}

fn bench_cardinality(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        compaction_interval: None,
        retention: None,
        wal: WalOptions {
            sync: SyncPolicy::Never,
            ..WalOptions::default()
        },
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    let mut app = db.appender();
    for i in 0..SERIES {
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
    g.bench_function("unfocused", |b| b.iter(|| run(&all, SERIES as u64)));
    let focus = CardinalityQuery {
        focus_label: Some("instance".into()),
        ..CardinalityQuery::default()
    };
    g.bench_function("unfocused_focus_label", |b| {
        b.iter(|| run(&focus, SERIES as u64))
    });
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
    g.bench_function("match_whole_head", |b| {
        b.iter(|| run(&whole, SERIES as u64))
    });
    // The API also reports the head's chunk count, one pass over the series.
    g.bench_function("num_chunks", |b| b.iter(|| head.num_chunks()));
    g.finish();
}

criterion_group!(benches, bench_cardinality);
criterion_main!(benches);
