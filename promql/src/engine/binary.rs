//! Binary operators: scalar/scalar, vector/scalar and vector/vector with
//! Prometheus's vector matching.

use std::collections::HashMap;

use storage::{Label, Labels, METRIC_NAME};

use super::eval::{
    merge_after_name_removal, merge_same_labels, remove_name, Evaluator, Grid, SeriesOut, Val,
    DUPLICATE_LABELSET,
};
use crate::ast::{BinOp, BinaryExpr, Cardinality, VectorMatching};
use crate::error::{Error, Result};

/// Applies `op` to two floats: `(value, keep)`. For comparisons the value is
/// the left operand and `keep` the comparison outcome.
#[inline]
pub(crate) fn scalar_op(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Mod => (l % r, true),
        BinOp::Pow => (l.powf(r), true),
        BinOp::Atan2 => (l.atan2(r), true),
        BinOp::Eql => (l, l == r),
        BinOp::Neq => (l, l != r),
        BinOp::Gtr => (l, l > r),
        BinOp::Lss => (l, l < r),
        BinOp::Gte => (l, l >= r),
        BinOp::Lte => (l, l <= r),
        BinOp::And | BinOp::Or | BinOp::Unless => (f64::NAN, false),
    }
}

fn drops_name(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow | BinOp::Mod | BinOp::Atan2
    )
}

pub(crate) fn eval_binary(ev: &mut Evaluator, b: &BinaryExpr, grid: Grid) -> Result<Val> {
    let lhs = ev.eval(&b.lhs, grid)?;
    let rhs = ev.eval(&b.rhs, grid)?;
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
            l.iter()
                .zip(&r)
                .map(|(&l, &r)| {
                    let (v, keep) = scalar_op(b.op, l, r);
                    if b.op.is_comparison() {
                        if keep {
                            1.0
                        } else {
                            0.0
                        }
                    } else {
                        v
                    }
                })
                .collect(),
        )),
        (Val::Vector(l), Val::Scalar(r)) => vector_scalar(ev, b, l, &r, false, grid),
        (Val::Scalar(l), Val::Vector(r)) => vector_scalar(ev, b, r, &l, true, grid),
        (Val::Vector(l), Val::Vector(r)) => {
            let default = VectorMatching {
                card: if b.op.is_set() {
                    Cardinality::ManyToMany
                } else {
                    Cardinality::OneToOne
                },
                labels: Vec::new(),
                on: false,
                include: Vec::new(),
            };
            let m = b.matching.as_ref().unwrap_or(&default);
            if b.op.is_set() {
                set_op(ev, b.op, m, l, r, grid)
            } else {
                vector_vector(ev, b, m, l, r, grid)
            }
        }
        _ => Err(Error::Eval(format!(
            "invalid operand types for binary operator {}",
            b.op.as_str()
        ))),
    }
}

fn vector_scalar(
    ev: &Evaluator,
    b: &BinaryExpr,
    mut vec: Vec<SeriesOut>,
    scalar: &[f64],
    scalar_left: bool,
    grid: Grid,
) -> Result<Val> {
    if b.op.is_set() {
        return Err(Error::Eval(format!(
            "set operator \"{}\" not allowed in binary scalar expression",
            b.op.as_str()
        )));
    }
    let drop = drops_name(b.op) || b.return_bool;
    let delayed = ev.opts.delayed_name_removal;
    for s in &mut vec {
        if drop {
            remove_name(s, delayed);
        }
        s.points.retain_mut(|p| {
            let sv = scalar[grid.idx(p.0)];
            let (l, r) = if scalar_left { (sv, p.1) } else { (p.1, sv) };
            let (mut v, keep) = scalar_op(b.op, l, r);
            if b.op.is_comparison() {
                v = p.1;
            }
            if b.return_bool {
                p.1 = if keep { 1.0 } else { 0.0 };
                return true;
            }
            if keep {
                p.1 = v;
            }
            keep
        });
    }
    Ok(Val::Vector(if drop {
        merge_after_name_removal(vec, delayed, false)?
    } else {
        vec
    }))
}

/// The labels a matching signature is computed from.
fn match_labels(labels: &Labels, m: &VectorMatching) -> Labels {
    Labels::from_sorted(
        labels
            .iter()
            .filter(|l| {
                if m.on {
                    m.labels.contains(&l.name)
                } else {
                    l.name != METRIC_NAME && !m.labels.contains(&l.name)
                }
            })
            .cloned()
            .collect(),
    )
}

/// Interns the matching signature of every series of both sides.
fn signatures(m: &VectorMatching, l: &[SeriesOut], r: &[SeriesOut]) -> (Vec<u32>, Vec<u32>, usize) {
    let mut ids: HashMap<Labels, u32> = HashMap::new();
    let mut id = |s: &SeriesOut| {
        let k = match_labels(&s.labels, m);
        let n = ids.len() as u32;
        *ids.entry(k).or_insert(n)
    };
    let ls = l.iter().map(&mut id).collect();
    let rs = r.iter().map(&mut id).collect();
    let n = ids.len();
    (ls, rs, n)
}

/// Points of all series bucketed by step: `(series index, value)`.
fn by_step(ss: &[SeriesOut], grid: Grid) -> Vec<Vec<(u32, f64)>> {
    let mut out = vec![Vec::new(); grid.len()];
    for (i, s) in ss.iter().enumerate() {
        for &(t, v) in &s.points {
            out[grid.idx(t)].push((i as u32, v));
        }
    }
    out
}

fn set_op(
    ev: &mut Evaluator,
    op: BinOp,
    m: &VectorMatching,
    l: Vec<SeriesOut>,
    r: Vec<SeriesOut>,
    grid: Grid,
) -> Result<Val> {
    let (lsig, rsig, nsig) = signatures(m, &l, &r);
    let lsteps = by_step(&l, grid);
    let rsteps = by_step(&r, grid);
    let mut lout: Vec<Vec<(i64, f64)>> = vec![Vec::new(); l.len()];
    let mut rout: Vec<Vec<(i64, f64)>> = vec![Vec::new(); r.len()];
    // stamp[sig] == k + 1 when the signature is present at step k.
    let mut stamp = vec![0usize; nsig];
    for k in 0..grid.len() {
        ev.check("expression evaluation")?;
        let t = grid.t(k);
        let mark = k + 1;
        match op {
            BinOp::And | BinOp::Unless => {
                for &(j, _) in &rsteps[k] {
                    stamp[rsig[j as usize] as usize] = mark;
                }
                let want = op == BinOp::And;
                for &(i, v) in &lsteps[k] {
                    if (stamp[lsig[i as usize] as usize] == mark) == want {
                        lout[i as usize].push((t, v));
                    }
                }
            }
            _ => {
                for &(i, v) in &lsteps[k] {
                    stamp[lsig[i as usize] as usize] = mark;
                    lout[i as usize].push((t, v));
                }
                for &(j, v) in &rsteps[k] {
                    if stamp[rsig[j as usize] as usize] != mark {
                        rout[j as usize].push((t, v));
                    }
                }
            }
        }
    }
    let mut out: Vec<SeriesOut> = Vec::with_capacity(l.len() + r.len());
    for (s, p) in l.into_iter().zip(lout).chain(r.into_iter().zip(rout)) {
        out.push(SeriesOut {
            labels: s.labels,
            points: p,
            drop_name: s.drop_name,
        });
    }
    Ok(Val::Vector(merge_same_labels(out)?))
}

/// Prometheus's result metric of a matched pair (`one` is the "one" side).
/// With `keep_name` (delayed name removal) `__name__` is not dropped here.
fn result_metric(
    many: &Labels,
    one: &Labels,
    b: &BinaryExpr,
    m: &VectorMatching,
    keep_name: bool,
) -> Labels {
    let drop = !keep_name && (drops_name(b.op) || b.return_bool);
    let mut pairs: Vec<Label> = many
        .iter()
        .filter(|l| {
            if drop && l.name == METRIC_NAME {
                return false;
            }
            if m.card == Cardinality::OneToOne {
                let listed = m.labels.contains(&l.name);
                if m.on != listed {
                    return false;
                }
            }
            !m.include.contains(&l.name)
        })
        .cloned()
        .collect();
    for n in &m.include {
        let v = one.get(n);
        if !v.is_empty() {
            pairs.push(Label::new(n.clone(), v));
        }
    }
    if !m.include.is_empty() {
        pairs.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Labels::from_sorted(pairs)
}

fn vector_vector(
    ev: &mut Evaluator,
    b: &BinaryExpr,
    m: &VectorMatching,
    l: Vec<SeriesOut>,
    r: Vec<SeriesOut>,
    grid: Grid,
) -> Result<Val> {
    let swap = m.card == Cardinality::OneToMany;
    // `many` is the side every result comes from, `one` the side whose
    // signatures must be unique.
    let (many, one) = if swap { (r, l) } else { (l, r) };
    let (msig, osig, nsig) = signatures(m, &many, &one);
    let msteps = by_step(&many, grid);
    let osteps = by_step(&one, grid);
    // Per signature: (stamp, index into `one`, value) of this step's sample.
    let mut slot: Vec<(usize, u32, f64)> = vec![(0, 0, 0.0); nsig];
    let mut matched = vec![0usize; nsig];
    let mut pair_out: HashMap<(u32, u32), usize> = HashMap::new();
    let delayed = ev.opts.delayed_name_removal;
    // With delayed name removal every result is marked unless the operator
    // keeps the metric name (a filtering comparison keeps the mark of the
    // series it passes through).
    let mark_all = delayed && (drops_name(b.op) || b.return_bool);
    let mut label_out: HashMap<(Labels, bool), usize> = HashMap::new();
    let mut out: Vec<SeriesOut> = Vec::new();
    for k in 0..grid.len() {
        ev.check("expression evaluation")?;
        if msteps[k].is_empty() || osteps[k].is_empty() {
            continue;
        }
        let t = grid.t(k);
        let mark = k + 1;
        for &(j, v) in &osteps[k] {
            let sig = osig[j as usize] as usize;
            if slot[sig].0 == mark {
                let dup = &one[slot[sig].1 as usize].labels;
                let cur = &one[j as usize].labels;
                return Err(Error::Eval(format!(
                    "found duplicate series for the match group {} on the {} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    match_labels(cur, m),
                    if swap { "left" } else { "right" },
                    dup,
                    cur
                )));
            }
            slot[sig] = (mark, j, v);
        }
        for &(i, v) in &msteps[k] {
            let sig = msig[i as usize] as usize;
            if slot[sig].0 != mark {
                continue;
            }
            let (_, j, ov) = slot[sig];
            let (fl, fr) = if swap { (ov, v) } else { (v, ov) };
            if m.card == Cardinality::OneToOne {
                if matched[sig] == mark {
                    return Err(Error::Eval(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
                matched[sig] = mark;
            }
            let (mut value, keep) = scalar_op(b.op, fl, fr);
            if b.return_bool {
                value = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            let oi = match pair_out.get(&(i, j)) {
                Some(&oi) => oi,
                None => {
                    let ms = &many[i as usize];
                    let labels = result_metric(&ms.labels, &one[j as usize].labels, b, m, delayed);
                    let drop_name = mark_all || ms.drop_name;
                    let key = (labels, drop_name);
                    let oi = match label_out.get(&key) {
                        Some(&oi) => oi,
                        None => {
                            let (labels, drop_name) = key.clone();
                            label_out.insert(key, out.len());
                            out.push(SeriesOut {
                                labels,
                                points: Vec::new(),
                                drop_name,
                            });
                            out.len() - 1
                        }
                    };
                    pair_out.insert((i, j), oi);
                    oi
                }
            };
            let pts = &mut out[oi].points;
            if pts.last().is_some_and(|p| p.0 == t) {
                return Err(Error::Eval(if m.card == Cardinality::OneToOne {
                    DUPLICATE_LABELSET.into()
                } else {
                    "multiple matches for labels: grouping labels must ensure unique matches".into()
                }));
            }
            pts.push((t, value));
        }
    }
    out.retain(|s| !s.points.is_empty());
    Ok(Val::Vector(out))
}
