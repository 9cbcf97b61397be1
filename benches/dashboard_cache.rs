//! A refreshed dashboard with and without the range-query result cache.
//!
//! Data: `dash_requests_total`, a counter over `DASH_SERIES` series
//! (default 5,000: 100 instances × 10 handlers × 5 codes), and
//! `dash_memory_bytes`, a gauge per instance, one sample every 15 s over
//! the last 6 hours, in a head-only `Db`.
//!
//! The dashboard: five panels, each a range query over the last 6 hours
//! with a 15 s step (1,441 steps), evaluated as the server evaluates them
//! (one thread). A refresh appends the next 30 s of samples to every
//! series and asks for the same panels with the range moved by 30 s, as
//! Grafana does every 30 s. Reported: the time of the first load and the
//! median of `DASH_REFRESHES` (default 5) refreshes, for each panel and the
//! whole dashboard, with the cache and without; every cached answer is
//! checked against the uncached one.
//!
//! Run: `cargo bench --bench dashboard_cache`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "support/db.rs"]
mod db;
use db::env_or;
use ferroprom::api::query_cache::{Key, QueryCache};
use ferroprom::metrics::Registry;
use promql::{Engine, EngineOptions, QueryOptions, QueryResult};
use storage::{Db, Labels};

const INTERVAL: i64 = 15_000;
const STEP: i64 = 15_000;
const RANGE: i64 = 6 * 3600 * 1000;
const REFRESH: i64 = 30_000;

const PANELS: [&str; 5] = [
    "sum by (code) (rate(dash_requests_total[5m]))",
    "sum by (instance) (rate(dash_requests_total{code=~\"5..\"}[5m])) / sum by (instance) (rate(dash_requests_total[5m]))",
    "topk(5, sum by (handler) (rate(dash_requests_total[5m])))",
    "max by (instance) (max_over_time(dash_memory_bytes[5m]))",
    "sum(increase(dash_requests_total[1h]))",
];

fn series(n: usize) -> Vec<Labels> {
    let counters = (0..n).map(|i| {
        Labels::from_pairs([
            ("__name__", "dash_requests_total".to_string()),
            ("instance", format!("host-{:03}:9100", i / 50)),
            ("handler", format!("/api/h{}", (i / 5) % 10)),
            (
                "code",
                ["200", "201", "404", "500", "503"][i % 5].to_string(),
            ),
            ("job", "api".to_string()),
        ])
    });
    let gauges = (0..n.div_ceil(50)).map(|inst| {
        Labels::from_pairs([
            ("__name__", "dash_memory_bytes".to_string()),
            ("instance", format!("host-{inst:03}:9100")),
            ("job", "api".to_string()),
        ])
    });
    counters.chain(gauges).collect()
}

/// Samples at `[from, to)` for every series, in one commit per 15 s.
fn append(db: &Db, labels: &[Labels], from: i64, to: i64) {
    let mut t = from;
    while t < to {
        let mut app = db.appender();
        let k = t / INTERVAL;
        for (i, l) in labels.iter().enumerate() {
            let v = if l.get("__name__") == "dash_memory_bytes" {
                1e8 + ((k * 7919 + i as i64 * 104_729) % 1_000_000) as f64
            } else {
                (k % 100_000) as f64 * (1 + i % 7) as f64
            };
            app.append(l, t, v).unwrap();
        }
        app.commit().unwrap();
        t += INTERVAL;
    }
}

struct Dashboard {
    db: Arc<Db>,
    engine: Engine,
    cache: QueryCache,
    exprs: Vec<promql::ast::Expr>,
}

impl Dashboard {
    fn eval(&self, i: usize, from: i64, to: i64) -> QueryResult {
        self.engine
            .range_with_options(
                &*self.db,
                &self.exprs[i],
                from,
                to,
                STEP,
                &QueryOptions::default(),
                &AtomicBool::new(false),
            )
            .unwrap()
    }

    /// Each panel's time and answer over `[start, end]`.
    fn load(&self, start: i64, end: i64, cached: bool) -> Vec<(Duration, QueryResult)> {
        (0..PANELS.len())
            .map(|i| {
                let t = Instant::now();
                let r = if cached {
                    let key = Key::for_query(&self.exprs[i], start, STEP, None).unwrap();
                    self.cache
                        .range(key, start, end, |from, to| {
                            Ok::<_, promql::Error>(self.eval(i, from, to))
                        })
                        .unwrap()
                } else {
                    self.eval(i, start, end)
                };
                (t.elapsed(), r)
            })
            .collect()
    }
}

fn same(a: &QueryResult, b: &QueryResult) -> bool {
    use promql::Value;
    let (Value::Matrix(a), Value::Matrix(b)) = (&a.value, &b.value) else {
        return false;
    };
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.metric == y.metric
                && x.points.len() == y.points.len()
                && x.points
                    .iter()
                    .zip(&y.points)
                    .all(|(p, q)| p.0 == q.0 && p.1.to_bits() == q.1.to_bits())
        })
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n = env_or("DASH_SERIES", 5_000);
    let refreshes = env_or("DASH_REFRESHES", 5);
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(db::open_head_only(dir.path()));
    let labels = series(n);
    // The data ends a few refreshes before the wall clock, so refreshed
    // ranges stay in the past (the cache keeps nothing ahead of it).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut end = (now - (refreshes as i64 + 2) * REFRESH) / STEP * STEP;
    let loading = Instant::now();
    append(&db, &labels, end - RANGE - 3600 * 1000, end + 1);
    eprintln!(
        "{} series, {:.1} s of loading",
        labels.len(),
        loading.elapsed().as_secs_f64()
    );
    let registry = Registry::new();
    let d = Dashboard {
        cache: QueryCache::new(128 << 20, Arc::clone(&db), &registry).unwrap(),
        db,
        engine: Engine::new(EngineOptions::default()),
        exprs: PANELS.iter().map(|q| promql::parse(q).unwrap()).collect(),
    };

    let first_off = d.load(end - RANGE, end, false);
    let first_on = d.load(end - RANGE, end, true);
    let mut off: Vec<Vec<Duration>> = vec![Vec::new(); PANELS.len()];
    let mut on: Vec<Vec<Duration>> = vec![Vec::new(); PANELS.len()];
    for _ in 0..refreshes {
        append(&d.db, &labels, end + INTERVAL, end + REFRESH + 1);
        end += REFRESH;
        let a = d.load(end - RANGE, end, false);
        let b = d.load(end - RANGE, end, true);
        for i in 0..PANELS.len() {
            assert!(same(&a[i].1, &b[i].1), "panel {i} differs");
            off[i].push(a[i].0);
            on[i].push(b[i].0);
        }
    }
    println!("| panel | first load, cache off (ms) | first load, cache on (ms) | refresh, cache off (ms) | refresh, cache on (ms) |");
    println!("|---|---|---|---|---|");
    let mut totals = [Duration::ZERO; 4];
    for (i, q) in PANELS.iter().enumerate() {
        let row = [
            first_off[i].0,
            first_on[i].0,
            median(off[i].clone()),
            median(on[i].clone()),
        ];
        for (t, r) in totals.iter_mut().zip(row) {
            *t += r;
        }
        println!(
            "| `{q}` | {} | {} | {} | {} |",
            ms(row[0]),
            ms(row[1]),
            ms(row[2]),
            ms(row[3])
        );
    }
    println!(
        "| dashboard | {} | {} | {} | {} |",
        ms(totals[0]),
        ms(totals[1]),
        ms(totals[2]),
        ms(totals[3])
    );
    let text = registry.render();
    for line in text
        .lines()
        .filter(|l| l.starts_with("ferroprom_query_cache_"))
    {
        println!("    {line}");
    }
}
