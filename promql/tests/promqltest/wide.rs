//! One thread against two on a wide head, with the engine's own thresholds
//! for splitting work (the `.test` cases run with every input split, but
//! have few series): 5,000 series, enough for the head's select and the
//! selectors to split, with values that tell orders of summation apart
//! (magnitudes from 1e-3 to 1e12, -0.0, NaN, infinities, counter resets,
//! gaps and staleness markers), and queries over selectors, range
//! functions, aggregations and binary operators, as instant and range
//! queries. Every answer must agree to the bit.

use std::sync::atomic::AtomicBool;

use storage::{stale_nan, Db, Labels, Workers};

use crate::glue;

const SERIES: usize = 5_000;
const SAMPLES: i64 = 60;
const INTERVAL: i64 = 15_000;

/// A deterministic pseudo-random number from a series and sample index.
fn mix(i: usize, k: i64) -> u64 {
    let mut x = ((i as u64) << 32) ^ (k as u64) ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 29;
    x
}

/// The sample `k` of series `i`, or `None` for a gap.
fn value(i: usize, k: i64, counter: &mut f64) -> Option<f64> {
    let r = mix(i, k);
    match r % 97 {
        0 => return None,
        1 => return Some(stale_nan()),
        2 if i.is_multiple_of(7) => return Some(f64::NAN),
        3 if i.is_multiple_of(11) => return Some(f64::INFINITY),
        4 if i.is_multiple_of(13) => return Some(-0.0),
        5 => *counter = 0.0, // a reset
        _ => {}
    }
    let scale = [1e-3, 1.0, 1e3, 1e6, 1e12][i % 5];
    *counter += (r >> 40) as f64 / 65_536.0 * scale;
    Some(*counter)
}

fn fill(db: &Db) -> Result<(), String> {
    let labels: Vec<Labels> = (0..SERIES)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", ["wide_total", "wide_gauge"][i % 2].to_string()),
                ("code", format!("{}", 200 + (i / 2) % 5)),
                ("instance", format!("host-{}", i / 10)),
                ("shard", format!("{}", mix(i, -1) % 37)),
            ])
        })
        .collect();
    let mut counters = vec![0.0; SERIES];
    for k in 0..SAMPLES {
        let mut app = db.appender();
        for (i, l) in labels.iter().enumerate() {
            if let Some(v) = value(i, k, &mut counters[i]) {
                let t = k * INTERVAL + (i as i64 * 7919) % INTERVAL;
                app.append(l, t, v).map_err(|e| e.to_string())?;
            }
        }
        app.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}

const QUERIES: &[&str] = &[
    "wide_total",
    "{__name__=~\"wide_.*\"}",
    "-wide_gauge",
    "abs(wide_gauge)",
    "rate(wide_total[2m])",
    "sum(rate(wide_total[2m]))",
    "sum by (code) (rate(wide_total[2m]))",
    "avg without (instance) (wide_gauge)",
    "stddev by (shard) (wide_gauge)",
    "count_values(\"v\", wide_gauge > 1e12)",
    "quantile by (code) (0.9, wide_gauge)",
    "topk(7, wide_gauge)",
    "bottomk by (code) (3, rate(wide_total[1m]))",
    "max by (shard) (deriv(wide_gauge[5m]))",
    "predict_linear(wide_gauge[5m], 600)",
    "resets(wide_total[10m])",
    "sum(increase(wide_total[5m] offset 2m))",
    "max_over_time(sum by (code) (rate(wide_total[1m]))[5m:30s])",
    "wide_total / on (instance, code, shard) wide_gauge",
    "sum by (code) (wide_total) / ignoring (code) group_left sum(wide_total)",
    "last_over_time(wide_gauge[1m])",
    "quantile_over_time(0.3, wide_gauge[3m])",
];

/// Failures, one line each; empty when every query agreed.
pub fn check() -> Vec<String> {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return vec![format!("tempdir: {e}")],
    };
    let db = match Db::open(dir.path(), crate::db_options()) {
        Ok(db) => db,
        Err(e) => return vec![format!("open db: {e}")],
    };
    if let Err(e) = fill(&db) {
        return vec![format!("fill: {e}")];
    }
    let never = AtomicBool::new(false);
    let end = (SAMPLES - 1) * INTERVAL;
    let mut failures = Vec::new();
    for q in QUERIES {
        let expr = match glue::parse(q) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{q}: {e}"));
                continue;
            }
        };
        let e = glue::engine();
        for (mode, r) in [
            (
                "instant",
                glue::same_on(Workers::new(2), |o| {
                    e.instant_with_options(&db, &expr, end, o, &never)
                }),
            ),
            (
                "range",
                glue::same_on(Workers::new(2), |o| {
                    e.range_with_options(&db, &expr, end - 600_000, end, 20_000, o, &never)
                }),
            ),
        ] {
            if let Err(err) = r {
                failures.push(format!("{q} ({mode}): {err}"));
            }
        }
    }
    failures
}
