//! The cache answers exactly what evaluating the whole range at once
//! answers: many queries, requests moved back and forth over one grid,
//! data appended, backfilled and deleted in between.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use promql::{Engine, EngineOptions, QueryOptions, QueryResult, Value};
use storage::{Db, Labels, Matcher};

use super::{Key, QueryCache};
use crate::metrics::Registry;

const S: i64 = 1000;
/// A fixed past origin: every cached time is before the wall clock.
const T0: i64 = 1_700_000_000_000;
const STEP: i64 = 15 * S;

const QUERIES: &[&str] = &[
    "req_total",
    "rate(req_total[1m])",
    "sum by (job) (rate(req_total[2m]))",
    "sum(rate(req_total[5m]))",
    "increase(req_total[3m]) > 5",
    "topk(2, req_total)",
    "bottomk(1, rate(req_total[1m])) by (job)",
    "count by (job) (req_total)",
    "absent(req_total{instance=\"gone\"})",
    "absent(req_total{instance=\"i4\"})",
    "gauge",
    "gauge * 2 + on(instance) group_left req_total",
    "avg_over_time(gauge[2m])",
    "max_over_time(gauge[5m:30s])",
    "deriv(gauge[3m])",
    "histogram_quantile(0.9, sum by (le) (rate(h_bucket[2m])))",
    "time()",
    "scalar(sum(req_total))",
    "vector(time()) - timestamp(req_total)",
    "req_total offset 2m",
    "changes(gauge[10m])",
    "resets(req_total[10m])",
    "label_replace(gauge, \"x\", \"$1\", \"instance\", \"(.*)\")",
    "sort_desc(gauge)",
    "quantile(0.5, gauge)",
    "count_values(\"v\", round(gauge))",
    "1",
    "req_total unless on(instance) gauge",
    "clamp_max(rate(req_total[1m]), 0.5)",
    "last_over_time(req_total[1m])",
];

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// Counters with a reset, a gap, a stale end and a late start; gauges with
/// NaNs; histogram buckets. Samples every 15 s over `[from, to)` seconds.
fn write(db: &Db, from: i64, to: i64) {
    let mut app = db.appender();
    for s in (from..to).step_by(15) {
        let t = T0 + s * S;
        for i in 0..6 {
            let inst = format!("i{i}");
            let job = if i % 2 == 0 { "api" } else { "web" };
            let present = match i {
                2 => !(1200..2400).contains(&s),
                3 => s < 1800,
                4 => s >= 2000,
                _ => true,
            };
            // instance i1 restarts (its counter resets) at 1500 s.
            let since = if i == 1 && s >= 1500 { s - 1500 } else { s };
            let v = (since * (i + 1)) as f64 / 10.0;
            let l = labels(&[("__name__", "req_total"), ("job", job), ("instance", &inst)]);
            if present {
                app.append(&l, t, v).unwrap();
            } else if i == 3 && s == 1800 {
                app.append(&l, t, storage::stale_nan()).unwrap();
            }
            let g = if (s / 15 + i) % 17 == 0 {
                f64::NAN
            } else {
                ((s + i * 100) % 700) as f64 - 300.0
            };
            app.append(&labels(&[("__name__", "gauge"), ("instance", &inst)]), t, g)
                .unwrap();
        }
        for (k, le) in ["0.1", "1", "10", "+Inf"].iter().enumerate() {
            app.append(
                &labels(&[("__name__", "h_bucket"), ("le", le)]),
                t,
                (s * (k as i64 + 1)) as f64,
            )
            .unwrap();
        }
    }
    app.commit().unwrap();
}

struct Fixture {
    _dir: tempfile::TempDir,
    db: Arc<Db>,
    engine: Engine,
    cache: QueryCache,
    registry: Arc<Registry>,
}

impl Fixture {
    fn new(max_bytes: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let opts = storage::Options {
            compaction_interval: None,
            retention: None,
            ..storage::Options::default()
        };
        let db = Arc::new(Db::open(dir.path(), opts).unwrap());
        let registry = Arc::new(Registry::new());
        let cache = QueryCache::new(max_bytes, Arc::clone(&db), &registry).unwrap();
        Fixture {
            _dir: dir,
            db,
            engine: Engine::new(EngineOptions::default()),
            cache,
            registry,
        }
    }

    /// `expr` evaluated over `[from, to]` at `STEP`, without the cache.
    fn eval(&self, expr: &promql::ast::Expr, from: i64, to: i64) -> promql::Result<QueryResult> {
        self.engine.range_with_options(
            &*self.db,
            expr,
            from,
            to,
            STEP,
            &QueryOptions::default(),
            &AtomicBool::new(false),
        )
    }

    fn full(&self, q: &str, start: i64, end: i64) -> QueryResult {
        self.eval(&promql::parse(q).unwrap(), start, end).unwrap()
    }

    fn cached(&self, q: &str, start: i64, end: i64) -> QueryResult {
        let expr = promql::parse(q).unwrap();
        let key = Key::for_query(&expr, start, STEP, None).unwrap();
        self.cache
            .range(key, start, end, |from, to| self.eval(&expr, from, to))
            .unwrap()
    }

    /// Asks the cache for `[start, end]` (seconds after `T0`) and checks
    /// the answer against a full evaluation, bit for bit.
    fn check(&self, q: &str, start: i64, end: i64) {
        let (start, end) = (T0 + start * S, T0 + end * S);
        let got = self.cached(q, start, end);
        let want = self.full(q, start, end);
        assert_identical(q, &got, &want);
    }

    fn metric(&self, line_start: &str) -> f64 {
        self.registry
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {line_start}"))
    }
}

fn assert_identical(q: &str, got: &QueryResult, want: &QueryResult) {
    let (Value::Matrix(g), Value::Matrix(w)) = (&got.value, &want.value) else {
        panic!("{q}: not matrices");
    };
    let bits = |m: &[promql::Series]| {
        m.iter()
            .map(|s| {
                let points: Vec<(i64, u64)> =
                    s.points.iter().map(|&(t, v)| (t, v.to_bits())).collect();
                (s.metric.clone(), points)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(g), bits(w), "{q}");
    assert_eq!(got.warnings, want.warnings, "{q}");
    assert_eq!(got.infos, want.infos, "{q}");
}

#[test]
fn answers_as_one_evaluation_does() {
    let f = Fixture::new(64 << 20);
    write(&f.db, 0, 3600);
    // Moves over one grid: a miss, the tail missing, the head missing,
    // both, all cached; ends off the grid.
    let requests = [
        (600, 2400),
        (900, 2707),
        (300, 2100),
        (0, 3600),
        (0, 3600),
        (1200, 1800),
    ];
    for q in QUERIES {
        for &(start, end) in &requests {
            f.check(q, start, end);
        }
    }
    assert!(f.metric("ferroprom_query_cache_requests_total{result=\"hit\"}") > 0.0);
    assert!(f.metric("ferroprom_query_cache_requests_total{result=\"partial\"}") > 0.0);
    // New data in the tail, a new series backfilled into the middle, a
    // deletion: each invalidates from its time on.
    write(&f.db, 3600, 3900);
    for q in QUERIES {
        f.check(q, 300, 3900);
    }
    let mut app = f.db.appender();
    let late = labels(&[
        ("__name__", "req_total"),
        ("job", "api"),
        ("instance", "late"),
    ]);
    for s in (1500..1700).step_by(15) {
        app.append(&late, T0 + s * S, s as f64).unwrap();
    }
    app.commit().unwrap();
    for q in QUERIES {
        f.check(q, 300, 3900);
    }
    f.db.delete(
        &[Matcher::equal("instance", "i1")],
        T0 + 1000 * S,
        T0 + 2000 * S,
    )
    .unwrap();
    for q in QUERIES {
        f.check(q, 600, 3900);
    }
    assert!(f.metric("ferroprom_query_cache_invalidations_total") > 0.0);
    assert!(f.metric("ferroprom_query_cache_bytes") > 0.0);
}

#[test]
fn a_commit_during_evaluation_is_not_lost() {
    let f = Fixture::new(64 << 20);
    write(&f.db, 0, 600);
    let q = "sum(req_total)";
    let expr = promql::parse(q).unwrap();
    let (start, end) = (T0, T0 + 900 * S);
    let key = Key::for_query(&expr, start, STEP, None).unwrap();
    // Samples land after the evaluation read storage but before the
    // result is stored.
    f.cache
        .range(key, start, end, |from, to| {
            let r = f.eval(&expr, from, to);
            write(&f.db, 600, 900);
            r
        })
        .unwrap();
    f.check(q, 0, 900);
}

#[test]
fn evicts_least_recently_used_within_the_budget() {
    let f = Fixture::new(2_000);
    // 41 points each, about 770 bytes with key and series: two fit.
    for q in ["vector(1)", "vector(2)", "vector(3)", "vector(4)"] {
        f.check(q, 0, 600);
    }
    assert!(f.metric("ferroprom_query_cache_evictions_total") > 0.0);
    assert!(f.metric("ferroprom_query_cache_bytes") <= 2_000.0);
    // The newest is still a hit; the oldest is gone.
    let hits = || f.metric("ferroprom_query_cache_requests_total{result=\"hit\"}");
    let before = hits();
    f.check("vector(4)", 0, 600);
    assert_eq!(hits(), before + 1.0);
    f.check("vector(1)", 0, 600);
    assert_eq!(hits(), before + 1.0);
}

#[test]
fn nothing_after_the_wall_clock_is_kept() {
    let f = Fixture::new(64 << 20);
    let now = super::now_ms() / STEP * STEP;
    let q = "vector(1)";
    let expr = promql::parse(q).unwrap();
    let eval = |from, to| f.eval(&expr, from, to);
    let key = || Key::for_query(&expr, now - 600 * S, STEP, None).unwrap();
    f.cache
        .range(key(), now - 600 * S, now + 600 * S, eval)
        .unwrap();
    f.cache
        .range(key(), now - 600 * S, now + 600 * S, eval)
        .unwrap();
    // The second request evaluated again what lies ahead of the clock.
    assert_eq!(
        f.metric("ferroprom_query_cache_requests_total{result=\"partial\"}"),
        1.0
    );
}
