//! PromQL evaluator benchmarks, after the shapes of Prometheus's engine
//! benchmark: metrics `a_one` (1 series), `a_hundred` (100) and
//! `a_two_thousand` (2000), each series with a label `l`, a twin `b_X` with
//! the same series, and a classic histogram `h_hundred` (100 series × 11
//! `le` buckets). Samples every 10 s over 11,000 s (1,101 per series) in a
//! head-only `Db`.
//!
//! Every query runs as an instant query at the end of the data and as range
//! queries with 100 and 1000 steps of 10 s ending there.
//!
//! Run: `cargo bench --bench promql_eval`
//! (e.g. `-- promql_eval/two_thousand/rate` to filter). With
//! `PROMQL_BENCH_CPU_TIME=1` each iteration is timed by the thread's CPU
//! clock instead of the wall clock: on a machine shared with other work the
//! wall clock also counts the time spent waiting for a core.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "support/db.rs"]
mod db;
#[path = "support/timing.rs"]
mod timing;
use promql::{Engine, EngineOptions};
use storage::{Db, Labels};
use timing::timed;

const INTERVAL: i64 = 10_000;
const SAMPLES: i64 = 1_101;
const END: i64 = (SAMPLES - 1) * INTERVAL;
const BUCKETS: [&str; 11] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf",
];
const SIZES: [(&str, usize); 3] = [("one", 1), ("hundred", 100), ("two_thousand", 2000)];

fn fill(db: &Db) {
    // (labels, value increment per sample)
    let mut series: Vec<(Labels, f64)> = Vec::new();
    for (name, n) in SIZES {
        for m in ["a", "b"] {
            for i in 0..n {
                series.push((
                    Labels::from_pairs([("__name__", format!("{m}_{name}")), ("l", i.to_string())]),
                    (i % 10 + 1) as f64,
                ));
            }
        }
    }
    for i in 0..100 {
        for (b, le) in BUCKETS.iter().enumerate() {
            series.push((
                Labels::from_pairs([
                    ("__name__", "h_hundred".to_string()),
                    ("l", i.to_string()),
                    ("le", le.to_string()),
                ]),
                (b + 1 + i % 3) as f64,
            ));
        }
    }
    let mut refs = Vec::with_capacity(series.len());
    for k in 0..SAMPLES {
        let t = k * INTERVAL;
        let mut app = db.appender();
        for (j, (l, inc)) in series.iter().enumerate() {
            let v = k as f64 * inc;
            if k == 0 {
                refs.push(app.append(l, t, v).unwrap());
            } else {
                app.append_ref(refs[j], t, v).unwrap();
            }
        }
        app.commit().unwrap();
    }
}

fn queries(name: &str) -> Vec<(&'static str, String)> {
    let mut q = vec![
        ("rate", format!("rate(a_{name}[1m])")),
        ("sum_by", format!("sum by (l) (a_{name})")),
        ("avg_over_time", format!("avg_over_time(a_{name}[1m])")),
        ("max_over_time", format!("max_over_time(a_{name}[1m])")),
        (
            "group_left",
            format!("a_{name} * on(l) group_left b_{name}"),
        ),
        ("topk", format!("topk(5, a_{name})")),
        ("quantile", format!("quantile(0.9, a_{name})")),
        (
            "subquery",
            format!("max_over_time(rate(a_{name}[1m])[10m:1m])"),
        ),
        (
            "label_replace",
            format!("label_replace(a_{name}, \"l2\", \"$1\", \"l\", \"(.*)\")"),
        ),
    ];
    if name == "hundred" {
        q.push((
            "histogram_quantile",
            "histogram_quantile(0.9, rate(h_hundred[5m]))".to_string(),
        ));
    }
    q
}

/// The server's allocator, so the engine is measured as the server runs it.
#[global_allocator]
static ALLOCATOR: ferroprom::alloc::Counting = ferroprom::alloc::Counting;

fn bench_eval(c: &mut Criterion) {
    // The heap policy the server runs with (`src/alloc/`).
    ferroprom::alloc::tune();
    let cpu = std::env::var_os("PROMQL_BENCH_CPU_TIME")
        .is_some_and(|v| v == "1")
        .then_some(libc::CLOCK_THREAD_CPUTIME_ID);
    let dir = tempfile::tempdir().unwrap();
    let db = db::open_head_only(dir.path());
    fill(&db);
    let engine = Engine::new(EngineOptions::default());
    for (name, _) in SIZES {
        let mut g = c.benchmark_group(format!("promql_eval/{name}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for (case, q) in queries(name) {
            let expr = promql::parse(&q).unwrap();
            g.bench_function(format!("{case}/instant"), |b| {
                b.iter_custom(|n| timed(n, cpu, || engine.instant(&db, &expr, END).unwrap()))
            });
            for steps in [100i64, 1000] {
                let start = END - (steps - 1) * INTERVAL;
                g.bench_function(format!("{case}/range_{steps}"), |b| {
                    b.iter_custom(|n| {
                        timed(n, cpu, || {
                            engine.range(&db, &expr, start, END, INTERVAL).unwrap()
                        })
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, bench_eval);
criterion_main!(benches);
