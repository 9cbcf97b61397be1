//! Splitting a range request into cached and missing evaluation times,
//! and joining the parts back into the matrix a full evaluation returns.

use std::collections::BTreeMap;

use promql::{Labels, Series};

use super::store::Run;

/// Evaluation times on one grid: `from, from + step, …, to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub from: i64,
    pub to: i64,
}

/// How a request's times `[start, last]` divide: what a cached run
/// covers, and the times before and after it left to evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub before: Option<Span>,
    pub cached: Option<Span>,
    pub after: Option<Span>,
}

impl Plan {
    /// The plan for `[start, last]` (both on the grid of `step`, as the
    /// run is) given what is cached.
    pub fn new(start: i64, last: i64, step: i64, run: Option<&Run>) -> Plan {
        let whole = Plan {
            before: None,
            cached: None,
            after: Some(Span {
                from: start,
                to: last,
            }),
        };
        let Some(run) = run else { return whole };
        let (from, to) = (start.max(run.from), last.min(run.to));
        if from > to {
            return whole;
        }
        Plan {
            before: (start < from).then(|| Span {
                from: start,
                to: from - step,
            }),
            cached: Some(Span { from, to }),
            after: (to < last).then(|| Span {
                from: to + step,
                to: last,
            }),
        }
    }
}

/// The series of `run` restricted to the times of `span`, as evaluating
/// just those times gives them (series without points there left out).
pub fn slice(run: &Run, span: Span) -> Vec<Series> {
    run.series
        .iter()
        .filter_map(|s| {
            let lo = s.points.partition_point(|&(t, _)| t < span.from);
            let hi = s.points.partition_point(|&(t, _)| t <= span.to);
            (lo < hi).then(|| Series {
                metric: s.metric.clone(),
                points: s.points[lo..hi].to_vec(),
            })
        })
        .collect()
}

/// Joins matrices of disjoint times, given in time order, into one: a
/// series' points in time order, series sorted by labels (the order of
/// a range query's answer).
pub fn join(parts: Vec<Vec<Series>>) -> Vec<Series> {
    if parts.len() == 1 {
        return parts.into_iter().next().unwrap_or_default();
    }
    let mut by_labels: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for part in parts {
        for s in part {
            by_labels.entry(s.metric).or_default().extend(s.points);
        }
    }
    by_labels
        .into_iter()
        .map(|(metric, points)| Series { metric, points })
        .collect()
}

/// `series` restricted to the times of `span`, moved.
pub fn keep(series: Vec<Series>, span: Span) -> Vec<Series> {
    series
        .into_iter()
        .filter_map(|mut s| {
            s.points.retain(|&(t, _)| t >= span.from && t <= span.to);
            (!s.points.is_empty()).then_some(s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn s(name: &str, points: &[(i64, f64)]) -> Series {
        Series {
            metric: Labels::from_pairs([("n", name)]),
            points: points.to_vec(),
        }
    }

    fn run(from: i64, to: i64) -> Run {
        Run {
            from,
            to,
            series: Arc::new(vec![s("a", &[(from, 1.0), (to, 2.0)])]),
        }
    }

    #[test]
    fn plans() {
        let span = |from, to| Some(Span { from, to });
        assert_eq!(
            Plan::new(0, 100, 10, None),
            Plan {
                before: None,
                cached: None,
                after: span(0, 100)
            }
        );
        assert_eq!(
            Plan::new(30, 100, 10, Some(&run(0, 70))),
            Plan {
                before: None,
                cached: span(30, 70),
                after: span(80, 100)
            }
        );
        assert_eq!(
            Plan::new(0, 100, 10, Some(&run(20, 200))),
            Plan {
                before: span(0, 10),
                cached: span(20, 100),
                after: None
            }
        );
        assert_eq!(
            Plan::new(0, 100, 10, Some(&run(20, 50))),
            Plan {
                before: span(0, 10),
                cached: span(20, 50),
                after: span(60, 100)
            }
        );
        assert_eq!(Plan::new(0, 100, 10, Some(&run(110, 200))).cached, None);
    }

    #[test]
    fn joins_in_label_and_time_order() {
        let parts = vec![
            vec![s("b", &[(0, 1.0)]), s("c", &[(0, f64::NAN)])],
            vec![s("a", &[(10, 2.0)]), s("b", &[(10, 3.0)])],
        ];
        let got = join(parts);
        let names: Vec<&str> = got.iter().map(|s| s.metric.get("n")).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(got[1].points, [(0, 1.0), (10, 3.0)]);
        assert!(got[2].points[0].1.is_nan());
    }

    #[test]
    fn slices_drop_series_without_points() {
        let r = Run {
            from: 0,
            to: 30,
            series: Arc::new(vec![s("a", &[(0, 1.0), (10, 2.0)]), s("b", &[(30, 3.0)])]),
        };
        let got = slice(&r, Span { from: 10, to: 20 });
        assert_eq!(got, vec![s("a", &[(10, 2.0)])]);
        assert_eq!(
            keep(vec![s("b", &[(30, 3.0)])], Span { from: 0, to: 20 }),
            vec![]
        );
    }
}
