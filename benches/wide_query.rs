//! Wide PromQL queries: aggregations over tens of thousands of series, the
//! shape where a dashboard's latency is the per-series cost (select, chunk
//! decoding, the range function, grouping).
//!
//! Data: `wide_requests_total`, a counter over `WIDE_SERIES` series
//! (default 50,000: 500 instances × 10 handlers × 10 codes, plus constant
//! `job`, `env` and `region` labels), and `wide_memory_bytes`, a gauge over
//! a fifth as many series; one sample every 15 s for an hour (241 per
//! series, with a per-series scrape offset), in a head-only `Db`, as a
//! server holds data remote-written during the last hour.
//!
//! Each query runs as an instant query at the end of the data and as a
//! range query over the last hour with a 30 s step (121 steps).
//!
//! Run: `cargo bench --bench wide_query` (filter e.g. `-- sum_rate`).
//! Knobs (env): `WIDE_SERIES`; `WIDE_THREADS` (threads a query may use,
//! default 1: the engine alone; `0` = every core); `PROMQL_BENCH_CPU_TIME=1`
//! times each iteration by the process's CPU clock instead of the wall
//! clock (all threads: what the query costs, not how long it waits).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "support/db.rs"]
mod db;
#[path = "support/timing.rs"]
mod timing;
use db::env_or;
use promql::{Engine, EngineOptions, QueryOptions};
use storage::{Db, Labels, Workers};
use timing::timed;

const INTERVAL: i64 = 15_000;
const SAMPLES: i64 = 241;
/// The data ends here, plus at most one interval of scrape offset.
const END: i64 = 1_700_000_000_000;
const START: i64 = END - (SAMPLES - 1) * INTERVAL;
const STEP: i64 = 30_000;

const CODES: [&str; 10] = [
    "200", "201", "204", "301", "304", "400", "404", "429", "500", "503",
];

/// Counter series `i` (unique by instance, handler, code).
fn counter_labels(i: usize) -> Labels {
    let (instance, handler, code) = (i / 100, (i / 10) % 10, i % 10);
    Labels::from_pairs([
        ("__name__", "wide_requests_total".to_string()),
        ("code", CODES[code].to_string()),
        ("env", "prod".to_string()),
        ("handler", format!("/api/v1/handler_{handler}")),
        (
            "instance",
            format!("host-{instance:04}.dc1.example.org:9100"),
        ),
        ("job", "api".to_string()),
        ("region", ["eu-west", "us-east"][instance % 2].to_string()),
    ])
}

/// Gauge series `i` (unique by instance, area).
fn gauge_labels(i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", "wide_memory_bytes".to_string()),
        ("area", format!("area_{}", i % 20)),
        ("env", "prod".to_string()),
        (
            "instance",
            format!("host-{:04}.dc1.example.org:9100", i / 20),
        ),
        ("job", "api".to_string()),
    ])
}

/// A small deterministic noise source.
fn noise(i: usize, k: i64) -> f64 {
    let mut x = (i as u64) << 32 ^ k as u64 ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 29;
    (x % 1000) as f64 / 1000.0
}

fn fill(db: &Db, counters: usize) -> usize {
    let gauges = counters / 5;
    let mut series: Vec<(Labels, bool, usize)> = Vec::new();
    for i in 0..counters {
        series.push((counter_labels(i), true, i));
    }
    for i in 0..gauges {
        series.push((gauge_labels(i), false, i));
    }
    let mut refs = vec![0; series.len()];
    let mut values = vec![0.0f64; series.len()];
    for k in 0..SAMPLES {
        let mut app = db.appender();
        for (j, (l, counter, i)) in series.iter().enumerate() {
            // Per-series scrape offset inside the interval.
            let t = START - INTERVAL + k * INTERVAL + ((*i as i64 * 7919) % INTERVAL) + 1;
            let v = if *counter {
                // Counters grow at a per-series rate; one in 50 resets once.
                if *i % 50 == 7 && k == SAMPLES / 2 {
                    values[j] = 0.0;
                }
                values[j] += (1 + i % 17) as f64 * 15.0 + (noise(*i, k) * 10.0).round();
                values[j]
            } else {
                1e9 + (*i as f64) * 1e5 + k as f64 * 4096.0 + (noise(*i, k) * 1e6).round()
            };
            if k == 0 {
                refs[j] = app.append(l, t, v).unwrap();
            } else {
                app.append_ref(refs[j], t, v).unwrap();
            }
        }
        app.commit().unwrap();
    }
    series.len()
}

fn queries() -> Vec<(&'static str, &'static str)> {
    vec![
        ("sum_rate", "sum(rate(wide_requests_total[5m]))"),
        (
            "sum_by_rate",
            "sum by (code) (rate(wide_requests_total[5m]))",
        ),
        (
            "error_ratio",
            r#"sum by (handler) (rate(wide_requests_total{code=~"5.."}[5m])) / sum by (handler) (rate(wide_requests_total[5m]))"#,
        ),
        ("topk_rate", "topk(10, rate(wide_requests_total[5m]))"),
        ("offset", "sum(rate(wide_requests_total[5m] offset 10m))"),
        ("resets", "sum(resets(wide_requests_total[30m]))"),
        (
            "subquery",
            "max_over_time(sum(rate(wide_requests_total[5m]))[30m:1m])",
        ),
        ("sum_by_instance", "sum by (instance) (wide_requests_total)"),
        ("count", "count(wide_requests_total)"),
        ("deriv", "sum(deriv(wide_memory_bytes[10m]))"),
        (
            "predict_linear",
            "sum(predict_linear(wide_memory_bytes[10m], 3600))",
        ),
        ("avg_by_gauge", "avg by (area) (wide_memory_bytes)"),
    ]
}

/// The server's allocator, so the engine is measured as the server runs it.
#[global_allocator]
static ALLOCATOR: ferroprom::alloc::Counting = ferroprom::alloc::Counting;

fn bench_wide(c: &mut Criterion) {
    // The heap policy the server runs with (`src/alloc/`).
    ferroprom::alloc::tune();
    let cpu = std::env::var_os("PROMQL_BENCH_CPU_TIME")
        .is_some_and(|v| v == "1")
        .then_some(libc::CLOCK_PROCESS_CPUTIME_ID);
    let counters = env_or("WIDE_SERIES", 50_000);
    let threads = match env_or("WIDE_THREADS", 1) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let dir = tempfile::tempdir().unwrap();
    let db = db::open_head_only(dir.path());
    let filled = Instant::now();
    let n = fill(&db, counters);
    eprintln!(
        "wide_query: {n} series × {SAMPLES} samples in {:.1?}; {threads} thread(s) per query",
        filled.elapsed()
    );
    let engine = Engine::new(EngineOptions::default());
    let opts = QueryOptions {
        workers: Workers::new(threads),
        ..QueryOptions::default()
    };
    let never = std::sync::atomic::AtomicBool::new(false);
    let mut g = c.benchmark_group(format!("wide_query/{counters}"));
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for (case, q) in queries() {
        let expr = promql::parse(q).unwrap();
        g.bench_function(format!("{case}/instant"), |b| {
            b.iter_custom(|n| {
                timed(n, cpu, || {
                    engine
                        .instant_with_options(&db, &expr, END, &opts, &never)
                        .unwrap()
                })
            })
        });
        g.bench_function(format!("{case}/range"), |b| {
            b.iter_custom(|n| {
                timed(n, cpu, || {
                    engine
                        .range_with_options(&db, &expr, END - 3_600_000, END, STEP, &opts, &never)
                        .unwrap()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_wide);
criterion_main!(benches);
