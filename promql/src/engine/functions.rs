//! Function calls: dispatch to the numeric library in `crate::functions`,
//! plus the functions that work on labels, ordering or whole vectors.

use std::collections::HashMap;

use regex::Regex;
use storage::{Label, Labels, MatchOp, METRIC_NAME};

use super::aggregate::format_float;
use super::eval::{
    merge_after_name_removal, merge_same_labels, remove_name, stay_distinct, Evaluator, Grid,
    SeriesOut, Val,
};
use super::selector;
use crate::ast::{Call, Expr, Pos, ValueType};
use crate::error::{Error, Result};
use crate::functions::{histogram, math, time};

pub(crate) fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(inner) = e {
        e = inner;
    }
    e
}

pub(crate) fn eval_call(ev: &mut Evaluator, c: &Call, grid: Grid) -> Result<Val> {
    let name = c.func.name;
    if let Some(mi) = (0..c.args.len()).find(|&i| c.func.arg_type(i) == ValueType::Matrix) {
        return super::range_call::eval(ev, c, mi, grid);
    }
    if let Some(f) = math::simple_math(name) {
        let v = ev.eval_vector(&c.args[0], grid)?;
        return map_values(
            v,
            grid,
            ev.opts.delayed_name_removal,
            selector_input(c),
            |x, _| Some(f(x)),
        );
    }
    match name {
        "time" => Ok(Val::Scalar(
            grid.times().map(|t| t as f64 / 1000.0).collect(),
        )),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; grid.len()])),
        // Query-wide constants, in seconds.
        "step" | "range" | "start" | "end" => {
            let ms = match name {
                "step" => ev.qstep,
                "range" => ev.qend - ev.qstart,
                "start" => ev.qstart,
                _ => ev.qend,
            };
            Ok(Val::Scalar(vec![ms as f64 / 1000.0; grid.len()]))
        }
        "min_of" | "max_of" => {
            let a = ev.eval_scalar(&c.args[0], grid)?;
            let b = ev.eval_scalar(&c.args[1], grid)?;
            let f = if name == "min_of" {
                math::go_min
            } else {
                math::go_max
            };
            Ok(Val::Scalar(
                a.iter().zip(&b).map(|(&x, &y)| f(x, y)).collect(),
            ))
        }
        "vector" => {
            let s = ev.eval_scalar(&c.args[0], grid)?;
            Ok(Val::Vector(vec![SeriesOut::new(
                Labels::default(),
                s.into_iter()
                    .enumerate()
                    .map(|(i, v)| (grid.t(i), v))
                    .collect(),
            )]))
        }
        "scalar" => {
            let v = ev.eval_vector(&c.args[0], grid)?;
            let mut out = vec![f64::NAN; grid.len()];
            let mut count = vec![0u32; grid.len()];
            for s in &v {
                for &(t, x) in &s.points {
                    let k = grid.idx(t);
                    count[k] += 1;
                    out[k] = x;
                }
            }
            for (o, n) in out.iter_mut().zip(count) {
                if n != 1 {
                    *o = f64::NAN;
                }
            }
            Ok(Val::Scalar(out))
        }
        "round" => {
            let v = ev.eval_vector(&c.args[0], grid)?;
            let to = match c.args.get(1) {
                Some(e) => ev.eval_scalar(e, grid)?,
                None => vec![1.0; grid.len()],
            };
            map_values(
                v,
                grid,
                ev.opts.delayed_name_removal,
                selector_input(c),
                |x, k| Some(math::round(x, to[k])),
            )
        }
        "clamp" => {
            let v = ev.eval_vector(&c.args[0], grid)?;
            let lo = ev.eval_scalar(&c.args[1], grid)?;
            let hi = ev.eval_scalar(&c.args[2], grid)?;
            map_values(
                v,
                grid,
                ev.opts.delayed_name_removal,
                selector_input(c),
                |x, k| math::clamp(x, lo[k], hi[k]),
            )
        }
        "clamp_min" | "clamp_max" => {
            let v = ev.eval_vector(&c.args[0], grid)?;
            let b = ev.eval_scalar(&c.args[1], grid)?;
            let min = name == "clamp_min";
            map_values(
                v,
                grid,
                ev.opts.delayed_name_removal,
                selector_input(c),
                |x, k| {
                    Some(if min {
                        math::clamp_min(x, b[k])
                    } else {
                        math::clamp_max(x, b[k])
                    })
                },
            )
        }
        "timestamp" => {
            let v = match unwrap_parens(&c.args[0]) {
                Expr::Vector(vs) => selector::eval_vector(ev, vs, grid, true)?,
                other => {
                    let mut v = ev.eval_vector(other, grid)?;
                    for s in &mut v {
                        s.points.iter_mut().for_each(|p| p.1 = p.0 as f64 / 1000.0);
                    }
                    v
                }
            };
            map_values(
                v,
                grid,
                ev.opts.delayed_name_removal,
                selector_input(c),
                |x, _| Some(x),
            )
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => {
            let v = match c.args.first() {
                Some(e) => ev.eval_vector(e, grid)?,
                None => vec![SeriesOut::new(
                    Labels::default(),
                    grid.times().map(|t| (t, t as f64 / 1000.0)).collect(),
                )],
            };
            map_values(
                v,
                grid,
                ev.opts.delayed_name_removal,
                selector_input(c),
                |x, _| time::date_part(name, x),
            )
        }
        "absent" => {
            let v = ev.eval_vector(&c.args[0], grid)?;
            let mut present = vec![false; grid.len()];
            for s in &v {
                for &(t, _) in &s.points {
                    present[grid.idx(t)] = true;
                }
            }
            Ok(absent(&present, grid, &c.args[0]))
        }
        "sort" | "sort_desc" => {
            let mut v = ev.eval_vector(&c.args[0], grid)?;
            if grid.len() > 1 {
                ev.warn(format!("PromQL warning: sort is ineffective for range queries since results are always ordered by labels ({})", c.pos));
                return Ok(Val::Vector(v));
            }
            let desc = name == "sort_desc";
            v.sort_by(|a, b| {
                let (x, y) = (a.points[0].1, b.points[0].1);
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ => {
                        let o = x.partial_cmp(&y).unwrap();
                        if desc {
                            o.reverse()
                        } else {
                            o
                        }
                    }
                }
            });
            Ok(Val::Vector(v))
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut v = ev.eval_vector(&c.args[0], grid)?;
            let mut names = Vec::new();
            for a in &c.args[1..] {
                names.push(ev.eval_string(a, grid)?);
            }
            if grid.len() > 1 {
                ev.warn(format!("PromQL warning: sort is ineffective for range queries since results are always ordered by labels ({})", c.pos));
                return Ok(Val::Vector(v));
            }
            let desc = name == "sort_by_label_desc";
            v.sort_by(|a, b| {
                let mut o = std::cmp::Ordering::Equal;
                for n in &names {
                    o = natural_cmp(a.labels.get(n), b.labels.get(n));
                    if o.is_ne() {
                        break;
                    }
                }
                if o.is_eq() {
                    o = a.labels.cmp(&b.labels);
                }
                if desc {
                    o.reverse()
                } else {
                    o
                }
            });
            Ok(Val::Vector(v))
        }
        "label_replace" => {
            let v = ev.eval_vector(&c.args[0], grid)?;
            let dst = ev.eval_string(&c.args[1], grid)?;
            let repl = ev.eval_string(&c.args[2], grid)?;
            let src = ev.eval_string(&c.args[3], grid)?;
            let re_str = ev.eval_string(&c.args[4], grid)?;
            let re = Regex::new(&format!("^(?s:{re_str})$")).map_err(|e| {
                Error::Eval(format!(
                    "invalid regular expression in label_replace(): {e}"
                ))
            })?;
            if !valid_label_name(&dst) {
                return Err(Error::Eval(format!(
                    "invalid destination label name in label_replace(): {dst}"
                )));
            }
            let mut out = v;
            for s in &mut out {
                if let Some(caps) = re.captures(s.labels.get(&src)) {
                    let mut res = String::new();
                    caps.expand(&repl, &mut res);
                    s.labels = set_label(&s.labels, &dst, &res);
                    if dst == METRIC_NAME {
                        // The name was set explicitly: it stays.
                        s.drop_name = false;
                    }
                }
            }
            Ok(Val::Vector(merge_same_labels(out)?))
        }
        "label_join" => {
            let v = ev.eval_vector(&c.args[0], grid)?;
            let dst = ev.eval_string(&c.args[1], grid)?;
            let sep = ev.eval_string(&c.args[2], grid)?;
            let mut srcs = Vec::new();
            for a in &c.args[3..] {
                srcs.push(ev.eval_string(a, grid)?);
            }
            if !valid_label_name(&dst) {
                return Err(Error::Eval(format!(
                    "invalid destination label name in label_join(): {dst}"
                )));
            }
            let mut out = v;
            for s in &mut out {
                let joined = srcs
                    .iter()
                    .map(|n| s.labels.get(n))
                    .collect::<Vec<_>>()
                    .join(&sep);
                s.labels = set_label(&s.labels, &dst, &joined);
                if dst == METRIC_NAME {
                    // The name was set explicitly: it stays.
                    s.drop_name = false;
                }
            }
            Ok(Val::Vector(merge_same_labels(out)?))
        }
        "histogram_quantile" => {
            let q = ev.eval_scalar(&c.args[0], grid)?;
            let v = ev.eval_vector(&c.args[1], grid)?;
            for &qk in &q {
                ev.check_quantile(qk, c.arg_pos(0));
            }
            classic_quantile(ev, v, grid, &q, c.arg_pos(1))
        }
        "histogram_quantiles" => {
            let v = ev.eval_vector(&c.args[0], grid)?;
            let label = ev.eval_string(&c.args[1], grid)?;
            let pos = c.arg_pos(0);
            let mut out = Vec::new();
            for (i, qe) in c.args.iter().enumerate().skip(2) {
                let q = ev.eval_scalar(qe, grid)?;
                for &qk in &q {
                    ev.check_quantile(qk, c.arg_pos(i));
                }
                let value = quantile_label(q[0]);
                let res = classic_quantile(ev, v.clone(), grid, &q, pos)?;
                if let Val::Vector(ss) = res {
                    out.extend(ss.into_iter().map(|mut s| {
                        s.labels = set_label(&s.labels, &label, &value);
                        s
                    }));
                }
            }
            Ok(Val::Vector(merge_same_labels(out)?))
        }
        "histogram_fraction" => {
            let lo = ev.eval_scalar(&c.args[0], grid)?;
            let hi = ev.eval_scalar(&c.args[1], grid)?;
            let v = ev.eval_vector(&c.args[2], grid)?;
            classic_histogram(ev, v, grid, c.arg_pos(2), |_, k, b, _| {
                histogram::bucket_fraction(lo[k], hi[k], b)
            })
        }
        // Native-histogram functions ignore float samples.
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            ev.eval_vector(&c.args[0], grid)?;
            Ok(Val::Vector(Vec::new()))
        }
        other => Err(Error::Eval(format!("function {other}() is not supported"))),
    }
}

/// `histogram_quantile` over classic buckets, one quantile per step; `pos`
/// is where the bucket vector is written (for annotations).
fn classic_quantile(
    ev: &mut Evaluator,
    v: Vec<SeriesOut>,
    grid: Grid,
    q: &[f64],
    pos: Pos,
) -> Result<Val> {
    classic_histogram(ev, v, grid, pos, |ev, k, b, metric| {
        let r = histogram::bucket_quantile(q[k], b);
        if r.forced_monotonic {
            ev.info(format!("PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {metric:?} ({pos})"));
        }
        r.value
    })
}

/// Prometheus 3 accepts any non-empty UTF-8 label name; strings holding
/// non-UTF-8 bytes are not.
pub(crate) fn valid_label_name(name: &str) -> bool {
    !name.is_empty() && !crate::parser::literal::has_raw_bytes(name)
}

/// The label value `histogram_quantiles` gives a quantile: the shortest
/// float form, always with a decimal point (`0.0`, `0.25`, `1.0`).
fn quantile_label(q: f64) -> String {
    let s = format_float(q);
    if q.is_finite() && !s.contains(['.', 'e']) {
        format!("{s}.0")
    } else {
        s
    }
}

/// Whether the vector argument of a call is a selector's series (label sets
/// known distinct), or there is none.
fn selector_input(c: &Call) -> bool {
    c.args
        .first()
        .is_none_or(|a| matches!(unwrap_parens(a), Expr::Vector(_)))
}

/// Applies `f(value, step index)` to every point; `None` drops the point.
/// Removes `__name__` (at once, or with `delayed` by marking the series).
/// `distinct`: the label sets of `v` are known distinct.
fn map_values(
    mut v: Vec<SeriesOut>,
    grid: Grid,
    delayed: bool,
    distinct: bool,
    f: impl Fn(f64, usize) -> Option<f64>,
) -> Result<Val> {
    let still_distinct = stay_distinct(&v, distinct);
    for s in &mut v {
        remove_name(s, delayed);
        s.points.retain_mut(|p| match f(p.1, grid.idx(p.0)) {
            Some(x) => {
                p.1 = x;
                true
            }
            None => false,
        });
    }
    Ok(Val::Vector(merge_after_name_removal(
        v,
        delayed,
        still_distinct,
    )?))
}

fn set_label(labels: &Labels, name: &str, value: &str) -> Labels {
    let mut pairs: Vec<Label> = labels.iter().filter(|l| l.name != name).cloned().collect();
    if !value.is_empty() {
        pairs.push(Label::new(name, value));
    }
    Labels::new(pairs)
}

/// The output of `absent(arg)` or `absent_over_time(arg)`: one series
/// with a 1 at every step where `present` is false, none when it is true
/// everywhere.
pub(crate) fn absent(present: &[bool], grid: Grid, arg: &Expr) -> Val {
    let points: Vec<(i64, f64)> = present
        .iter()
        .enumerate()
        .filter(|(_, p)| !**p)
        .map(|(k, _)| (grid.t(k), 1.0))
        .collect();
    Val::Vector(if points.is_empty() {
        Vec::new()
    } else {
        vec![SeriesOut::new(absent_labels(arg), points)]
    })
}

/// Labels of `absent()`'s output: the equality matchers of a selector
/// argument (a label matched twice is left out).
fn absent_labels(arg: &Expr) -> Labels {
    let matchers = match unwrap_parens(arg) {
        Expr::Vector(vs) => &vs.matchers,
        Expr::Matrix(ms) => &ms.vector.matchers,
        _ => return Labels::default(),
    };
    // As Prometheus: an equality matcher sets its label unless it was seen
    // before; any other matcher on the label (or a repeat) removes it.
    let mut pairs: Vec<Label> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for m in matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == MatchOp::Equal && !seen.contains(&m.name.as_str()) {
            pairs.push(Label::new(m.name.clone(), m.value.clone()));
        } else {
            pairs.retain(|l| l.name != m.name);
        }
        seen.push(&m.name);
    }
    Labels::new(pairs)
}

/// Compares strings with digit runs compared numerically.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = a[si..i].trim_start_matches('0');
            let nb = b[sj..j].trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o.is_ne() {
                return o;
            }
        } else {
            let o = ab[i].cmp(&bb[j]);
            if o.is_ne() {
                return o;
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

/// Classic histogram functions: series grouped by their labels without `le`
/// (and without `__name__`), per step a list of buckets.
fn classic_histogram(
    ev: &mut Evaluator,
    v: Vec<SeriesOut>,
    grid: Grid,
    pos: Pos,
    mut f: impl FnMut(&mut Evaluator, usize, &mut Vec<histogram::Bucket>, &str) -> f64,
) -> Result<Val> {
    let mut groups: HashMap<Labels, usize> = HashMap::new();
    let mut glabels: Vec<(Labels, String)> = Vec::new();
    let mut members: Vec<Vec<(f64, &SeriesOut)>> = Vec::new();
    for s in &v {
        let le = s.labels.get("le");
        let upper = match le.parse::<f64>() {
            Ok(u) if !le.is_empty() => u,
            _ => {
                ev.warn(format!(
                    "PromQL warning: bucket label \"le\" is missing or has a malformed value of {:?} for metric name {:?} ({pos})",
                    le,
                    s.labels.get(METRIC_NAME)
                ));
                continue;
            }
        };
        let key = Labels::from_sorted(
            s.labels
                .iter()
                .filter(|l| l.name != "le")
                .cloned()
                .collect(),
        );
        let g = *groups.entry(key.clone()).or_insert_with(|| {
            glabels.push((key, s.labels.get(METRIC_NAME).to_string()));
            members.push(Vec::new());
            glabels.len() - 1
        });
        members[g].push((upper, s));
    }
    let delayed = ev.opts.delayed_name_removal;
    let mut out = Vec::new();
    let mut buckets: Vec<histogram::Bucket> = Vec::new();
    let mut cursors: Vec<usize> = Vec::new();
    for (g, (labels, metric)) in glabels.into_iter().enumerate() {
        let ms = &members[g];
        cursors.clear();
        cursors.resize(ms.len(), 0);
        let mut points = Vec::new();
        for (k, t) in grid.times().enumerate() {
            buckets.clear();
            for (m, (upper, s)) in ms.iter().enumerate() {
                let c = &mut cursors[m];
                while *c < s.points.len() && s.points[*c].0 < t {
                    *c += 1;
                }
                if *c < s.points.len() && s.points[*c].0 == t {
                    buckets.push(histogram::Bucket {
                        upper: *upper,
                        count: s.points[*c].1,
                    });
                }
            }
            if buckets.is_empty() {
                continue;
            }
            points.push((t, f(ev, k, &mut buckets, &metric)));
        }
        if !points.is_empty() {
            let mut s = SeriesOut::new(labels, points);
            remove_name(&mut s, delayed);
            out.push(s);
        }
    }
    Ok(Val::Vector(merge_after_name_removal(out, delayed, false)?))
}
