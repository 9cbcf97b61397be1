//! Aggregations fed straight by a selector or by a range function over a
//! selector, as in `sum by (job) (rate(x[5m]))`: the input's series are
//! computed a part at a time and folded into the aggregation as each part
//! is done.
//!
//! Evaluated node by node, such a query holds the function's whole output
//! (every selected series × every step: 190 MB for 50,000 series over 240
//! steps) only to fold it into a few groups. Here at most one part's points
//! are held. Series are folded in input order, so the result is the same
//! to the bit, and every check, count and note of the node-by-node
//! evaluation happens as it would there.

use super::aggregate::Folding;
use super::eval::{Evaluator, Grid, Val};
use super::fold::Folder;
use super::functions::unwrap_parens;
use super::range_call::{Kind, RangeCall};
use super::selector::{VectorSource, WindowTally};
use crate::ast::{AggregateExpr, Call, Expr, ValueType, VectorSelector};
use crate::error::Result;

/// Points a part holds at most (16 MiB of points); a part has at least
/// enough series to be split between threads. Tests cut small parts, so
/// that every query of theirs is folded from several.
const PART_POINTS: usize = if cfg!(test) { 1 << 14 } else { 1 << 20 };
const PART_MIN_SERIES: usize = if cfg!(test) { 100 } else { 2048 };

/// Evaluates `a` this way when it is a folding aggregation of a range
/// function over a selector, or of a selector; `None` (nothing evaluated)
/// otherwise.
pub(crate) fn aggregate(ev: &mut Evaluator, a: &AggregateExpr, grid: Grid) -> Result<Option<Val>> {
    #[cfg(test)]
    if OFF.with(|o| o.get()) {
        return Ok(None);
    }
    let Some(folder) = Folder::new(a.op, grid) else {
        return Ok(None);
    };
    match unwrap_parens(&a.expr) {
        Expr::Vector(vs) => of_selector(ev, a, vs, grid, folder).map(Some),
        Expr::Call(c) => of_call(ev, a, c, grid, folder),
        _ => Ok(None),
    }
}

/// Series per part: a part holds at most [`PART_POINTS`].
fn part_len(grid: Grid) -> usize {
    (PART_POINTS / grid.len()).max(PART_MIN_SERIES)
}

/// `a` over an instant vector selector.
fn of_selector(
    ev: &mut Evaluator,
    a: &AggregateExpr,
    vs: &VectorSelector,
    grid: Grid,
    folder: Folder,
) -> Result<Val> {
    // What evaluating the selector as a node does, in order.
    ev.check("expression evaluation")?;
    let mut src = VectorSource::select(ev, vs, grid, false)?;
    let mut tally = WindowTally::new(grid);
    let mut folding = Folding::new(a, folder);
    let mut produced = 0u64;
    while src.len() > 0 {
        for s in src.part(ev, grid, part_len(grid), &mut tally)? {
            produced += s.points.len() as u64;
            folding.add(s);
        }
    }
    tally.count(ev)?;
    ev.held(produced)?;
    Ok(folding.finish())
}

/// `a` over a call of a range function over a selector; `None` for other
/// calls.
fn of_call(
    ev: &mut Evaluator,
    a: &AggregateExpr,
    c: &Call,
    grid: Grid,
    folder: Folder,
) -> Result<Option<Val>> {
    let Some(mi) = (0..c.args.len()).find(|&i| c.func.arg_type(i) == ValueType::Matrix) else {
        return Ok(None);
    };
    let Some(kind) = Kind::of(c.func.name) else {
        return Ok(None);
    };
    if !matches!(unwrap_parens(&c.args[mi]), Expr::Matrix(_)) {
        return Ok(None);
    }
    // What evaluating the call as a node does, in order.
    ev.check("expression evaluation")?;
    let mut call = ev.feeding(Some(c.func.name), |ev| {
        RangeCall::prepare(ev, c, mi, grid, kind)
    })?;
    let mut folding = Folding::new(a, folder);
    if !ev.opts.delayed_name_removal && !call.still_distinct() {
        // Output series may share a label set once the name is gone and
        // must be merged first: the node's whole output is needed.
        let input = call.all(ev, grid)?;
        ev.held(input.iter().map(|s| s.points.len() as u64).sum())?;
        input.into_iter().for_each(|s| folding.add(s));
        return Ok(Some(folding.finish()));
    }
    let all = 0..call.len();
    let mut tally = WindowTally::new(grid);
    let mut produced = 0u64;
    let mut start = 0;
    while start < all.end {
        let part = start..(start + part_len(grid)).min(all.end);
        start = part.end;
        let outs = call.points(ev, grid, part.clone(), &mut tally)?;
        for (si, (points, any)) in part.zip(outs) {
            if let Some(s) = call.finish_series(ev, si, points, any) {
                produced += s.points.len() as u64;
                folding.add(s);
            }
        }
    }
    tally.count(ev)?;
    ev.held(produced)?;
    Ok(Some(folding.finish()))
}

#[cfg(test)]
thread_local! {
    /// Set by the tests to evaluate node by node, for comparison.
    static OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
mod tests {
    use storage::Labels;

    use super::OFF;
    use crate::engine::tests::{load, TestDb, TestSeries};
    use crate::engine::{Engine, EngineOptions};
    use crate::value::{QueryResult, Value};

    const M: i64 = 60_000;

    /// 5,000 series: counters (with resets and a NaN) under two names, and
    /// gauges (with -0.0), over 40 minutes every 30 s, in five jobs.
    fn db() -> TestDb {
        let mut labels: Vec<Vec<(String, String)>> = Vec::new();
        let mut samples: Vec<Vec<(i64, f64)>> = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..5_000usize {
            let name = match i % 10 {
                0..=5 => "c_total",
                6 => "d_total",
                _ => "g",
            };
            labels.push(vec![
                ("__name__".into(), name.into()),
                ("instance".into(), format!("i{i:05}")),
                ("job".into(), format!("j{}", i % 5)),
            ]);
            let mut v = 0.0f64;
            let mut pts = Vec::new();
            for k in 0..80 {
                if rnd() % 16 == 0 {
                    continue;
                }
                let r = rnd();
                v = match name {
                    "g" if r % 50 == 0 => -0.0,
                    "g" => (r % 1000) as f64 / 7.0,
                    _ if r % 97 == 0 => 0.0,
                    _ if r % 389 == 0 => f64::NAN,
                    _ => (if v.is_nan() { 0.0 } else { v }) + (r % 100) as f64 / 3.0,
                };
                pts.push((k as i64 * 30_000, v));
            }
            samples.push(pts);
        }
        let pairs: Vec<Vec<(&str, &str)>> = labels
            .iter()
            .map(|l| l.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect())
            .collect();
        let series: Vec<TestSeries<'_>> = pairs
            .iter()
            .zip(samples)
            .map(|(l, s)| (l.as_slice(), s))
            .collect();
        load(&series)
    }

    /// A query's answer with its floats as bits, so NaN and -0.0 compare.
    fn answer(r: &crate::error::Result<QueryResult>) -> String {
        let r = match r {
            Ok(r) => r,
            Err(e) => return format!("error: {e}"),
        };
        let series: Vec<(Labels, Vec<(i64, u64)>)> = match &r.value {
            Value::Matrix(m) => m
                .iter()
                .map(|s| {
                    let pts = s.points.iter().map(|&(t, v)| (t, v.to_bits())).collect();
                    (s.metric.clone(), pts)
                })
                .collect(),
            Value::Vector(v) => v
                .iter()
                .map(|s| (s.metric.clone(), vec![(s.t, s.v.to_bits())]))
                .collect(),
            other => panic!("{other:?}"),
        };
        format!(
            "{series:?} warnings {:?} infos {:?} samples {} peak {}",
            r.warnings, r.infos, r.stats.total_samples, r.stats.peak_samples
        )
    }

    /// Runs `query` streamed and node by node, instant and over 240 steps
    /// (two parts of series), and compares everything.
    fn same(e: &Engine, t: &TestDb, query: &str) {
        let expr = crate::parser::parse(query).unwrap();
        let run = |off: bool| {
            OFF.with(|o| o.set(off));
            let range = e.range(&t.db, &expr, 10 * M, 40 * M, 7_500);
            let instant = e.instant(&t.db, &expr, 30 * M);
            OFF.with(|o| o.set(false));
            (answer(&range), answer(&instant))
        };
        let (streamed, node) = (run(false), run(true));
        assert_eq!(streamed.0, node.0, "range {query}");
        assert_eq!(streamed.1, node.1, "instant {query}");
        assert!(!streamed.0.starts_with("[]"), "{query}: nothing to compare");
    }

    const QUERIES: &[&str] = &[
        "sum(rate(c_total[5m]))",
        "sum by (job) (rate(c_total[5m]))",
        "avg without (instance) (increase(c_total[10m]))",
        "count by (job) (deriv(g[10m]))",
        "max by (job) (predict_linear(g[10m], 600))",
        "min(idelta(g[5m]))",
        "stddev by (job) (irate(c_total[2m]))",
        "stdvar(delta(g[5m]))",
        "group by (job) (changes(g[5m]))",
        "sum by (instance) (rate(c_total[5m]))",
        "sum by (job) (rate(c_total[5m] offset 2m))",
        "sum by (job) (rate(c_total[5m] @ 1500))",
        "sum by (__name__, job) (last_over_time({__name__=~\"c_total|g\"}[1m]))",
        "sum by (job) (rate({__name__=~\"c_total|d_total\"}[5m]))",
        "avg(quantile_over_time(0.9, g[5m]))",
        "sum(rate(c_total[5m])) / sum(rate(d_total[5m]))",
        "count by (job) (g)",
        "sum(c_total offset 1m)",
        "max by (job) ({__name__=~\"c_total|g\"})",
        "avg without (instance) (g @ 1200)",
        "count(count by (instance) (c_total))",
        "sum(rate(nothing[5m]))",
    ];

    #[test]
    fn streamed_equals_node_by_node() {
        let t = db();
        let e = Engine::new(EngineOptions::default());
        for q in QUERIES.iter().filter(|q| !q.contains("nothing")) {
            same(&e, &t, q);
        }
    }

    #[test]
    fn streamed_equals_node_by_node_with_delayed_name_removal() {
        let t = db();
        let e = Engine::new(EngineOptions {
            delayed_name_removal: true,
            ..EngineOptions::default()
        });
        for q in QUERIES.iter().filter(|q| !q.contains("nothing")) {
            same(&e, &t, q);
        }
    }

    #[test]
    fn limits_fail_alike() {
        let t = db();
        // Below one step's windows, then below the function's output.
        for max_samples in [1_000, 200_000] {
            let e = Engine::new(EngineOptions {
                max_samples,
                ..EngineOptions::default()
            });
            for q in ["sum by (job) (rate(c_total[5m]))", "sum by (job) (c_total)"] {
                let expr = crate::parser::parse(q).unwrap();
                let run = |off: bool| {
                    OFF.with(|o| o.set(off));
                    let r = answer(&e.range(&t.db, &expr, 10 * M, 40 * M, 7_500));
                    OFF.with(|o| o.set(false));
                    r
                };
                let streamed = run(false);
                assert!(
                    streamed.starts_with("error"),
                    "{q} {max_samples}: {streamed}"
                );
                assert_eq!(streamed, run(true), "{q}");
            }
        }
    }
}
