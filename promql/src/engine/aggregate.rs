//! Aggregation operators, evaluated per step over precomputed groups.

use std::collections::HashMap;

use storage::{Label, Labels, METRIC_NAME};

use super::eval::{Evaluator, Grid, SeriesOut, Val};
use crate::ast::{AggOp, AggregateExpr};
use crate::error::{Error, Result};
use crate::functions::{kahan::kahan_sum_inc, quantile::quantile};

/// The labels of the group a series belongs to.
fn group_labels(labels: &Labels, a: &AggregateExpr) -> Labels {
    Labels::from_sorted(
        labels
            .iter()
            .filter(|l| {
                let listed = a.grouping.contains(&l.name);
                if a.without {
                    !listed && l.name != METRIC_NAME
                } else {
                    listed
                }
            })
            .cloned()
            .collect(),
    )
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub(crate) fn format_float(v: f64) -> String {
    crate::go_float::format_f(v)
}

#[derive(Clone, Copy, Default)]
struct Acc {
    stamp: usize,
    count: f64,
    value: f64,
    c: f64,
    mean: f64,
    incremental: bool,
}

impl Acc {
    fn start(&mut self, op: AggOp, v: f64, stamp: usize) {
        *self = Acc {
            stamp,
            count: 1.0,
            value: v,
            c: 0.0,
            mean: v,
            incremental: false,
        };
        if matches!(op, AggOp::Stddev | AggOp::Stdvar) {
            self.value = if v.is_finite() { 0.0 } else { f64::NAN };
        }
    }

    fn add(&mut self, op: AggOp, f: f64) {
        match op {
            AggOp::Sum => {
                self.count += 1.0;
                (self.value, self.c) = kahan_sum_inc(f, self.value, self.c);
            }
            AggOp::Avg => {
                self.count += 1.0;
                if !self.incremental {
                    let (nv, nc) = kahan_sum_inc(f, self.value, self.c);
                    if !nv.is_infinite() {
                        (self.value, self.c) = (nv, nc);
                        return;
                    }
                    self.incremental = true;
                    self.mean = self.value / (self.count - 1.0);
                    self.c /= self.count - 1.0;
                }
                if self.mean.is_infinite() {
                    if f.is_infinite() && (self.mean > 0.0) == (f > 0.0) {
                        return;
                    }
                    if !f.is_infinite() && !f.is_nan() {
                        return;
                    }
                }
                let q = (self.count - 1.0) / self.count;
                (self.mean, self.c) = kahan_sum_inc(f / self.count, q * self.mean, q * self.c);
            }
            AggOp::Count => self.count += 1.0,
            AggOp::Group => {}
            AggOp::Max if (self.value < f || self.value.is_nan()) => {
                self.value = f;
            }
            AggOp::Min if (self.value > f || self.value.is_nan()) => {
                self.value = f;
            }
            AggOp::Stddev | AggOp::Stdvar => {
                if !f.is_finite() {
                    self.value = f64::NAN;
                    return;
                }
                self.count += 1.0;
                let delta = f - self.mean;
                self.mean += delta / self.count;
                self.value += delta * (f - self.mean);
            }
            _ => {}
        }
    }

    fn result(&self, op: AggOp) -> f64 {
        match op {
            AggOp::Sum => self.value + self.c,
            AggOp::Avg => {
                if self.incremental {
                    self.mean + self.c
                } else {
                    (self.value + self.c) / self.count
                }
            }
            AggOp::Count => self.count,
            AggOp::Group => 1.0,
            AggOp::Stdvar => self.value / self.count,
            AggOp::Stddev => (self.value / self.count).sqrt(),
            _ => self.value,
        }
    }
}

pub(crate) fn eval_aggregate(ev: &mut Evaluator, a: &AggregateExpr, grid: Grid) -> Result<Val> {
    let mut str_param = None;
    let mut num_param = None;
    if let Some(p) = &a.param {
        if a.op == AggOp::CountValues {
            str_param = Some(ev.eval_string(p, grid)?);
        } else {
            num_param = Some(ev.eval_scalar(p, grid)?);
        }
    }
    if let Some(ps) = &num_param {
        match a.op {
            AggOp::Topk | AggOp::Bottomk | AggOp::Limitk if ps.iter().any(|p| p.is_nan()) => {
                return Err(Error::Eval("Parameter value is NaN".into()));
            }
            AggOp::LimitRatio if ps.iter().any(|p| p.is_nan()) => {
                return Err(Error::Eval("Ratio value is NaN".into()));
            }
            _ => {}
        }
    }
    let input = ev.eval_vector(&a.expr, grid)?;

    // Group of every input series.
    let mut group_ids: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<Labels> = Vec::new();
    let series_group: Vec<usize> = input
        .iter()
        .map(|s| {
            let g = group_labels(&s.labels, a);
            *group_ids.entry(g).or_insert_with_key(|g| {
                groups.push(g.clone());
                groups.len() - 1
            })
        })
        .collect();

    // With delayed name removal: a group's result is marked for name
    // removal when any of its input series is.
    let mut group_marks = vec![false; groups.len()];
    for (s, &g) in input.iter().zip(&series_group) {
        group_marks[g] |= s.drop_name;
    }

    // Points bucketed by step, in input order.
    let n = grid.len();
    let mut steps: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
    for (i, s) in input.iter().enumerate() {
        for &(t, v) in &s.points {
            steps[grid.idx(t)].push((i as u32, v));
        }
    }

    match a.op {
        AggOp::Topk | AggOp::Bottomk | AggOp::Limitk | AggOp::LimitRatio => select_series(
            ev,
            a,
            &input,
            &series_group,
            groups.len(),
            &steps,
            num_param.unwrap_or_default(),
            grid,
        ),
        AggOp::Quantile => {
            let qs = num_param.unwrap_or_default();
            let mut vals: Vec<Vec<f64>> = vec![Vec::new(); groups.len()];
            let mut out: Vec<Vec<(i64, f64)>> = vec![Vec::new(); groups.len()];
            for (k, step) in steps.iter().enumerate() {
                if step.is_empty() {
                    continue;
                }
                let q = qs[k];
                ev.check_quantile(q, a.param_pos);
                let mut touched = Vec::new();
                for &(i, v) in step {
                    let g = series_group[i as usize];
                    if vals[g].is_empty() {
                        touched.push(g);
                    }
                    vals[g].push(v);
                }
                touched.sort_unstable();
                for g in touched {
                    out[g].push((grid.t(k), quantile(q, &mut vals[g])));
                    vals[g].clear();
                }
            }
            Ok(Val::Vector(
                groups
                    .into_iter()
                    .zip(out)
                    .zip(&group_marks)
                    .map(|((labels, points), &drop_name)| SeriesOut {
                        labels,
                        points,
                        drop_name,
                    })
                    .filter(|s| !s.points.is_empty())
                    .collect(),
            ))
        }
        AggOp::CountValues => {
            let name = str_param.unwrap_or_default();
            if !super::functions::valid_label_name(&name) {
                return Err(Error::Eval(format!(
                    "invalid label name {}",
                    crate::parser::literal::quote(&name)
                )));
            }
            let mut out: Vec<SeriesOut> = Vec::new();
            let mut index: HashMap<Labels, usize> = HashMap::new();
            let mut counts: HashMap<(usize, String), f64> = HashMap::new();
            let mut order: Vec<(usize, String)> = Vec::new();
            for (k, step) in steps.iter().enumerate() {
                counts.clear();
                order.clear();
                for &(i, v) in step {
                    let key = (series_group[i as usize], format_float(v));
                    let c = counts.entry(key.clone()).or_insert(0.0);
                    if *c == 0.0 {
                        order.push(key);
                    }
                    *c += 1.0;
                }
                for key in &order {
                    let mut pairs: Vec<Label> = groups[key.0]
                        .iter()
                        .filter(|l| l.name != name)
                        .cloned()
                        .collect();
                    pairs.push(Label::new(name.clone(), key.1.clone()));
                    let labels = Labels::new(pairs);
                    let oi = *index.entry(labels.clone()).or_insert_with(|| {
                        out.push(SeriesOut {
                            labels,
                            points: Vec::new(),
                            drop_name: group_marks[key.0],
                        });
                        out.len() - 1
                    });
                    out[oi].points.push((grid.t(k), counts[key]));
                }
            }
            Ok(Val::Vector(out))
        }
        op => {
            let mut acc = vec![Acc::default(); groups.len()];
            let mut out: Vec<Vec<(i64, f64)>> = vec![Vec::new(); groups.len()];
            let mut touched = Vec::new();
            for (k, step) in steps.iter().enumerate() {
                let stamp = k + 1;
                touched.clear();
                for &(i, v) in step {
                    let g = series_group[i as usize];
                    if acc[g].stamp != stamp {
                        acc[g].start(op, v, stamp);
                        touched.push(g);
                    } else {
                        acc[g].add(op, v);
                    }
                }
                for &g in &touched {
                    out[g].push((grid.t(k), acc[g].result(op)));
                }
            }
            Ok(Val::Vector(
                groups
                    .into_iter()
                    .zip(out)
                    .zip(&group_marks)
                    .map(|((labels, points), &drop_name)| SeriesOut {
                        labels,
                        points,
                        drop_name,
                    })
                    .filter(|s| !s.points.is_empty())
                    .collect(),
            ))
        }
    }
}

/// Largest-first order with NaN last (topk), or smallest-first with NaN last.
fn cmp_values(a: f64, b: f64, desc: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Equal,
        (true, false) => Greater,
        (false, true) => Less,
        _ => {
            let o = a.partial_cmp(&b).unwrap_or(Equal);
            if desc {
                o.reverse()
            } else {
                o
            }
        }
    }
}

/// topk, bottomk, limitk, limit_ratio: keep input series (all their labels).
#[allow(clippy::too_many_arguments)]
fn select_series(
    ev: &mut Evaluator,
    a: &AggregateExpr,
    input: &[SeriesOut],
    series_group: &[usize],
    ngroups: usize,
    steps: &[Vec<(u32, f64)>],
    param: Vec<f64>,
    grid: Grid,
) -> Result<Val> {
    let mut out: Vec<Vec<(i64, f64)>> = vec![Vec::new(); input.len()];
    let mut order: Vec<usize> = Vec::new();
    let mut seen = vec![false; input.len()];
    let mut per_group: Vec<Vec<(u32, f64)>> = vec![Vec::new(); ngroups];
    for (k, step) in steps.iter().enumerate() {
        if step.is_empty() {
            continue;
        }
        let p = param.get(k).copied().unwrap_or(0.0);
        let mut group_order: Vec<usize> = Vec::new();
        for &(i, v) in step {
            let g = series_group[i as usize];
            if per_group[g].is_empty() {
                group_order.push(g);
            }
            per_group[g].push((i, v));
        }
        let mut take = |i: u32, v: f64, out: &mut Vec<Vec<(i64, f64)>>| {
            let i = i as usize;
            if !seen[i] {
                seen[i] = true;
                order.push(i);
            }
            out[i].push((grid.t(k), v));
        };
        if a.op == AggOp::LimitRatio {
            if p.is_nan() {
                return Err(Error::Eval("Ratio value is NaN".into()));
            }
            let mut r = p;
            if !(-1.0..=1.0).contains(&r) {
                let capped = r.clamp(-1.0, 1.0);
                ev.warn(format!(
                    "PromQL warning: ratio value should be between -1 and 1, got {}, capping to {} ({})",
                    format_float(r),
                    format_float(capped),
                    a.param_pos
                ));
                r = capped;
            }
            for g in group_order {
                for &(i, v) in &per_group[g] {
                    let off = input[i as usize].labels.stable_hash() as f64 / u64::MAX as f64;
                    if (r >= 0.0 && off < r) || (r < 0.0 && off >= 1.0 + r) {
                        take(i, v, &mut out);
                    }
                }
                per_group[g].clear();
            }
            continue;
        }
        if p.is_nan() {
            return Err(Error::Eval("Parameter value is NaN".into()));
        }
        if p >= 9.223372036854776e18 {
            return Err(Error::Eval(format!(
                "Scalar value {} overflows int64",
                format_float(p)
            )));
        }
        let kk = if p < 1.0 { 0 } else { p as usize };
        for g in group_order {
            let members = &mut per_group[g];
            match a.op {
                AggOp::Topk => members.sort_by(|x, y| cmp_values(x.1, y.1, true)),
                AggOp::Bottomk => members.sort_by(|x, y| cmp_values(x.1, y.1, false)),
                _ => {}
            }
            for &(i, v) in members.iter().take(kk) {
                take(i, v, &mut out);
            }
            members.clear();
        }
    }
    let mut result = Vec::with_capacity(order.len());
    for i in order {
        let points = std::mem::take(&mut out[i]);
        result.push(SeriesOut {
            labels: input[i].labels.clone(),
            points,
            drop_name: input[i].drop_name,
        });
    }
    Ok(Val::Vector(result))
}
