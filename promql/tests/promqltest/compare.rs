//! Checking a query outcome against an `eval` command's expectations.

use promql::{Labels, QueryResult, Sample, Value};

use crate::script::{Expectations, MsgMatch, Point};

/// Relative tolerance for float comparisons, as upstream uses.
const EPSILON: f64 = 1e-6;

/// Float equality for test results: NaN equals NaN (including the staleness
/// marker), equal values (and equal infinities) match, and otherwise the
/// difference must be within a relative error of `EPSILON`. When one side is
/// zero or both are tiny, the difference is compared against `EPSILON` scaled
/// by the smallest normal float instead.
pub fn almost_equal(a: f64, b: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    let sum = a.abs() + b.abs();
    if a == 0.0 || b == 0.0 || sum < f64::MIN_POSITIVE {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / sum.min(f64::MAX) < EPSILON
}

/// The time grid a matrix result is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    pub start: i64,
    /// Inclusive; `i64::MIN` when no points can be expected at all (an
    /// instant query without `expect range vector`).
    pub end: i64,
    pub step: i64,
}

/// An error when a query that had to fail did not, or failed differently.
pub fn check_failure(fail: &[MsgMatch], msg: &str) -> Result<(), String> {
    for m in fail {
        if !m.matches(msg) {
            return Err(format!("expected error matching {m}, got: {msg}"));
        }
    }
    Ok(())
}

fn check_annotation_kind(
    kind: &str,
    expected: &[MsgMatch],
    actual: &[String],
) -> Result<(), String> {
    if expected.is_empty() {
        return Ok(());
    }
    if actual.is_empty() {
        return Err(format!("expected {kind} annotations but none were found"));
    }
    for e in expected {
        if !actual.iter().any(|a| e.matches(a)) {
            return Err(format!(
                "expected {kind} annotation matching {e} but found only {actual:?}"
            ));
        }
    }
    for a in actual {
        if !expected.iter().any(|e| e.matches(a)) {
            return Err(format!("unexpected {kind} annotation {a:?}"));
        }
    }
    Ok(())
}

/// Checks warnings and infos: with no `expect warn|info|no_warn|no_info`
/// annotations are not checked at all.
pub fn check_annotations(x: &Expectations, r: &QueryResult) -> Result<(), String> {
    if x.legacy_warn && r.warnings.is_empty() {
        return Err("expected warnings but got none".into());
    }
    if x.legacy_info && r.infos.is_empty() {
        return Err("expected info annotations but got none".into());
    }
    check_annotation_kind("warn", &x.warn, &r.warnings)?;
    check_annotation_kind("info", &x.info, &r.infos)?;
    if x.no_warn && !r.warnings.is_empty() {
        return Err(format!("unexpected warnings: {:?}", r.warnings));
    }
    if x.no_info && !r.infos.is_empty() {
        return Err(format!("unexpected infos: {:?}", r.infos));
    }
    Ok(())
}

fn fmt_points(p: &[(i64, f64)]) -> String {
    let v: Vec<String> = p.iter().map(|(t, v)| format!("{v} @{t}")).collect();
    format!("[{}]", v.join(", "))
}

fn expected_for<'a>(x: &'a Expectations, m: &Labels) -> Option<(usize, &'a [Point])> {
    x.series
        .iter()
        .position(|(l, _)| l == m)
        .map(|i| (i + 1, x.series[i].1.as_slice()))
}

/// Upstream requires range results sorted by labels.
pub fn check_sorted(series: &[promql::Series]) -> Result<(), String> {
    for w in series.windows(2) {
        if w[0].metric > w[1].metric {
            return Err(format!(
                "matrix not sorted by labels: {} before {}",
                w[0].metric, w[1].metric
            ));
        }
    }
    Ok(())
}

/// Compares a result value with the expected series/scalar/string.
pub fn compare_value(x: &Expectations, v: &Value, grid: Grid) -> Result<(), String> {
    match v {
        Value::Matrix(series) => {
            if x.ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            if x.scalar.is_some() {
                return Err("expected scalar result, but got a matrix".into());
            }
            check_sorted(series)?;
            let mut seen = vec![false; x.series.len()];
            for s in series {
                let Some((pos, exp)) = expected_for(x, &s.metric) else {
                    return Err(format!(
                        "unexpected metric {} in result, has {}",
                        s.metric,
                        fmt_points(&s.points)
                    ));
                };
                seen[pos - 1] = true;
                let mut want = Vec::new();
                for (i, p) in exp.iter().enumerate() {
                    let t = grid.start + i as i64 * grid.step;
                    if grid.end == i64::MIN || t > grid.end {
                        return Err(format!(
                            "expected {} points for {}, but the query time range cannot return this many points",
                            exp.len(),
                            s.metric
                        ));
                    }
                    match p {
                        Point::Float(f) => want.push((t, *f)),
                        Point::Omitted => {}
                        Point::Histogram => {
                            return Err(format!(
                                "expected a native histogram at t={t} for {} (unsupported)",
                                s.metric
                            ))
                        }
                    }
                }
                let bad = want.len() != s.points.len()
                    || want
                        .iter()
                        .zip(&s.points)
                        .any(|(w, g)| w.0 != g.0 || !almost_equal(w.1, g.1));
                if bad {
                    return Err(format!(
                        "for {}: expected {} but got {}",
                        s.metric,
                        fmt_points(&want),
                        fmt_points(&s.points)
                    ));
                }
            }
            missing(x, &seen)
        }
        Value::Vector(samples) => compare_vector(x, samples),
        Value::Scalar { v, .. } => {
            let Some(want) = x.scalar else {
                return Err(format!(
                    "expected vector or matrix result, but got scalar {v}"
                ));
            };
            if !almost_equal(want, *v) {
                return Err(format!("expected scalar {want} but got {v}"));
            }
            Ok(())
        }
        Value::String { s, .. } => {
            let want = x.string.as_deref().unwrap_or("");
            if want != s {
                return Err(format!("expected string {want:?} but got {s:?}"));
            }
            Ok(())
        }
    }
}

fn missing(x: &Expectations, seen: &[bool]) -> Result<(), String> {
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(format!("expected metric {} not found", x.series[i].0));
    }
    Ok(())
}

pub fn compare_vector(x: &Expectations, samples: &[Sample]) -> Result<(), String> {
    if x.scalar.is_some() {
        return Err(format!(
            "expected scalar result, but got a vector of {}",
            samples.len()
        ));
    }
    let mut seen = vec![false; x.series.len()];
    for (i, s) in samples.iter().enumerate() {
        let Some((pos, exp)) = expected_for(x, &s.metric) else {
            return Err(format!(
                "unexpected metric {} in result, has value {}",
                s.metric, s.v
            ));
        };
        if x.ordered && pos != i + 1 {
            return Err(format!(
                "expected metric {} at position {pos} but was at {}",
                s.metric,
                i + 1
            ));
        }
        match exp.first() {
            Some(Point::Float(f)) => {
                if !almost_equal(*f, s.v) {
                    return Err(format!("expected {f} for {} but got {}", s.metric, s.v));
                }
            }
            Some(Point::Histogram) => {
                return Err(format!(
                    "expected a native histogram for {} but got float {} (unsupported)",
                    s.metric, s.v
                ))
            }
            // `_` or no value: upstream compares against 0.
            _ => {
                if !almost_equal(0.0, s.v) {
                    return Err(format!("expected 0 for {} but got {}", s.metric, s.v));
                }
            }
        }
        seen[pos - 1] = true;
    }
    missing(x, &seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        assert!(almost_equal(f64::NAN, storage::stale_nan()));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY));
        assert!(almost_equal(1.0, 1.0 + 1e-9));
        assert!(!almost_equal(1.0, 1.0001));
        assert!(!almost_equal(0.0, 1e-10));
        assert!(almost_equal(0.0, -0.0));
        assert!(!almost_equal(1.0, f64::NAN));
    }

    fn exp(series: &[(&str, f64)]) -> Expectations {
        Expectations {
            series: series
                .iter()
                .map(|(n, v)| {
                    (
                        Labels::from_pairs([("__name__", *n)]),
                        vec![Point::Float(*v)],
                    )
                })
                .collect(),
            ..Default::default()
        }
    }

    fn sample(n: &str, v: f64) -> Sample {
        Sample {
            metric: Labels::from_pairs([("__name__", n)]),
            t: 0,
            v,
        }
    }

    #[test]
    fn vectors() {
        let mut x = exp(&[("a", 1.0), ("b", 2.0)]);
        assert!(compare_vector(&x, &[sample("b", 2.0), sample("a", 1.0)]).is_ok());
        assert!(compare_vector(&x, &[sample("a", 1.0)]).is_err());
        assert!(compare_vector(&x, &[sample("a", 1.0), sample("b", 2.5)]).is_err());
        assert!(
            compare_vector(&x, &[sample("a", 1.0), sample("b", 2.0), sample("c", 1.0)]).is_err()
        );
        x.ordered = true;
        assert!(compare_vector(&x, &[sample("b", 2.0), sample("a", 1.0)]).is_err());
        assert!(compare_vector(&x, &[sample("a", 1.0), sample("b", 2.0)]).is_ok());
    }

    #[test]
    fn matrices() {
        let l = Labels::from_pairs([("__name__", "a")]);
        let x = Expectations {
            series: vec![(
                l.clone(),
                vec![Point::Float(1.0), Point::Omitted, Point::Float(3.0)],
            )],
            ..Default::default()
        };
        let grid = Grid {
            start: 0,
            end: 20,
            step: 10,
        };
        let m = |pts: Vec<(i64, f64)>| {
            Value::Matrix(vec![promql::Series {
                metric: l.clone(),
                points: pts,
            }])
        };
        assert!(compare_value(&x, &m(vec![(0, 1.0), (20, 3.0)]), grid).is_ok());
        assert!(compare_value(&x, &m(vec![(0, 1.0), (10, 3.0)]), grid).is_err());
        assert!(compare_value(&x, &m(vec![(0, 1.0), (10, 2.0), (20, 3.0)]), grid).is_err());
        let short = Grid {
            start: 0,
            end: 10,
            step: 10,
        };
        assert!(compare_value(&x, &m(vec![(0, 1.0), (20, 3.0)]), short).is_err());
        assert!(compare_value(&x, &Value::Matrix(vec![]), grid).is_err());
    }

    #[test]
    fn annotations() {
        let r = QueryResult {
            value: Value::Scalar { t: 0, v: 1.0 },
            warnings: vec!["PromQL warning: boom".into()],
            infos: vec![],
            stats: Default::default(),
        };
        let mut x = Expectations::default();
        assert!(check_annotations(&x, &r).is_ok());
        x.no_warn = true;
        assert!(check_annotations(&x, &r).is_err());
        x.no_warn = false;
        x.warn = vec![MsgMatch::Exact("PromQL warning: boom".into())];
        assert!(check_annotations(&x, &r).is_ok());
        x.warn = vec![MsgMatch::Exact("other".into())];
        assert!(check_annotations(&x, &r).is_err());
        x.warn = vec![];
        x.info = vec![MsgMatch::Any];
        assert!(check_annotations(&x, &r).is_err());
        x.info = vec![];
        x.legacy_warn = true;
        assert!(check_annotations(&x, &r).is_ok());
    }

    #[test]
    fn failures() {
        assert!(check_failure(&[], "anything").is_ok());
        assert!(check_failure(&[MsgMatch::Exact("x".into())], "y").is_err());
    }
}
