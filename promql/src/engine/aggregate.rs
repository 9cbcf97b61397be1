//! Aggregation operators, evaluated per step over precomputed groups.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use storage::{Label, Labels, METRIC_NAME};

use super::eval::{Evaluator, Grid, SeriesOut, Val};
use super::label_map::{self, LabelMap};
use crate::ast::{AggOp, AggregateExpr};
use crate::error::{Error, Result};
use crate::functions::{kahan::kahan_sum_inc, quantile::quantile};

/// Whether label `l` of an input series is one of its group's labels.
fn in_group(l: &Label, a: &AggregateExpr) -> bool {
    let listed = a.grouping.contains(&l.name);
    if a.without {
        !listed && l.name != METRIC_NAME
    } else {
        listed
    }
}

/// The group of every input series, and the groups' label sets in order of
/// first appearance.
///
/// A series' group is found by hashing its group labels where they are, so
/// only a new group's label set is built.
fn group_series(input: &[SeriesOut], a: &AggregateExpr) -> (Vec<usize>, Vec<Labels>) {
    if !a.without && a.grouping.is_empty() {
        let groups = if input.is_empty() {
            Vec::new()
        } else {
            vec![Labels::default()]
        };
        return (vec![0; input.len()], groups);
    }
    let mut groups: Vec<Labels> = Vec::new();
    // A group by the hash of its labels; a group whose hash an earlier
    // group has (a 64-bit collision) is found in `more`.
    let mut by_hash: LabelMap<u64, usize> = label_map::with_capacity(0);
    let mut more: Vec<(u64, usize)> = Vec::new();
    let same = |g: &Labels, s: &Labels| g.iter().eq(s.iter().filter(|l| in_group(l, a)));
    let series_group = input
        .iter()
        .map(|s| {
            let h = label_map::hash_pairs(s.labels.iter().filter(|l| in_group(l, a)));
            let found = match by_hash.get(&h) {
                Some(&g) if same(&groups[g], &s.labels) => Some(g),
                Some(_) => more
                    .iter()
                    .find(|&&(mh, g)| mh == h && same(&groups[g], &s.labels))
                    .map(|&(_, g)| g),
                None => None,
            };
            found.unwrap_or_else(|| {
                let g = groups.len();
                groups.push(Labels::from_sorted(
                    s.labels
                        .iter()
                        .filter(|l| in_group(l, a))
                        .cloned()
                        .collect(),
                ));
                match by_hash.entry(h) {
                    Entry::Vacant(e) => {
                        e.insert(g);
                    }
                    Entry::Occupied(_) => more.push((h, g)),
                }
                g
            })
        })
        .collect();
    (series_group, groups)
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

    let (series_group, groups) = group_series(&input, a);

    // With delayed name removal: a group's result is marked for name
    // removal when any of its input series is.
    let mut group_marks = vec![false; groups.len()];
    for (s, &g) in input.iter().zip(&series_group) {
        group_marks[g] |= s.drop_name;
    }

    if let Some(out) = accumulate(a.op, &input, &series_group, groups.len(), grid) {
        return Ok(Val::Vector(group_results(groups, out, &group_marks)));
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
            Ok(Val::Vector(group_results(groups, out, &group_marks)))
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
            Ok(Val::Vector(group_results(groups, out, &group_marks)))
        }
    }
}

/// The series of an aggregation: one per group that has points.
fn group_results(
    groups: Vec<Labels>,
    points: Vec<Vec<(i64, f64)>>,
    marks: &[bool],
) -> Vec<SeriesOut> {
    groups
        .into_iter()
        .zip(points)
        .zip(marks)
        .map(|((labels, points), &drop_name)| SeriesOut {
            labels,
            points,
            drop_name,
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

/// The points of every group for the operators that fold values one by one
/// (`sum`, `avg`, `count`, `group`, `min`, `max`, `stddev`, `stdvar`),
/// read series by series into one accumulator per group and step. Each
/// accumulator takes its inputs in input order, as a walk step by step
/// does, so the result is the same to the bit; it only spares bucketing
/// every point by step first. `None` for other operators, or when there
/// are far more group × step slots than points (sparse input, where the
/// walk step by step needs less memory).
fn accumulate(
    op: AggOp,
    input: &[SeriesOut],
    series_group: &[usize],
    ngroups: usize,
    grid: Grid,
) -> Option<Vec<Vec<(i64, f64)>>> {
    if !matches!(
        op,
        AggOp::Sum
            | AggOp::Avg
            | AggOp::Count
            | AggOp::Group
            | AggOp::Min
            | AggOp::Max
            | AggOp::Stddev
            | AggOp::Stdvar
    ) {
        return None;
    }
    let n = grid.len();
    let points: usize = input.iter().map(|s| s.points.len()).sum();
    let slots = ngroups.checked_mul(n)?;
    if slots > points.max(1 << 16) {
        return None;
    }
    let mut acc = vec![Acc::default(); slots];
    for (s, &g) in input.iter().zip(series_group) {
        let row = &mut acc[g * n..(g + 1) * n];
        for &(t, v) in &s.points {
            let a = &mut row[grid.idx(t)];
            if a.stamp == 0 {
                a.start(op, v, 1);
            } else {
                a.add(op, v);
            }
        }
    }
    Some(
        acc.chunks_exact(n)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .filter(|(_, a)| a.stamp != 0)
                    .map(|(k, a)| (grid.t(k), a.result(op)))
                    .collect()
            })
            .collect(),
    )
}

/// The `k` members (input order) of a group that topk (or bottomk) keeps,
/// left in `heap` in output order.
///
/// Which of several equal values survive is not specified by PromQL, but
/// users see it (and a subquery over topk makes it visible as values), so
/// this replays Prometheus 3.x's choice exactly: a binary min-heap (max-heap
/// for bottomk) of at most `k` members, in which a newcomer replaces the
/// root only when strictly better (or when the root is NaN and the newcomer
/// is not) and is then sifted down. Equal values therefore keep the earlier
/// member while the heap is full, but which equal member sits at the root
/// depends on the heap's shape, so the heap operations are reproduced
/// step for step rather than approximated by a stable sort. The heap's
/// order predicate puts NaN below everything when it is the left operand
/// only; that asymmetry is part of what decides survivors, so it is kept.
/// 2.x differed in one way: a full heap popped its root and pushed the
/// newcomer (a different shape afterwards), and replaced a NaN root by a
/// NaN newcomer.
fn keep_k(members: &[(u32, f64)], k: usize, bottom: bool, heap: &mut Vec<(u32, f64)>) {
    // `below(a, b)`: `a` belongs nearer the root than `b`.
    let below = |a: f64, b: f64| a.is_nan() || if bottom { a > b } else { a < b };
    heap.clear();
    for &m in members {
        if heap.len() < k {
            heap.push(m);
            let last = heap.len() - 1;
            sift_up(heap, last, below);
            continue;
        }
        let root = heap[0].1;
        let better = if bottom { root > m.1 } else { root < m.1 };
        if better || (root.is_nan() && !m.1.is_nan()) {
            heap[0] = m;
            sift_down(heap, 0, below);
        }
    }
    // Output order: best first. Small heaps are ordered by insertion sort
    // (as Prometheus's sort does up to 12 elements, so equal values come
    // out in the very same order); larger ones by a stable sort.
    if heap.len() <= 12 {
        for i in 1..heap.len() {
            let mut j = i;
            while j > 0 && below(heap[j - 1].1, heap[j].1) {
                heap.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        heap.sort_by(|x, y| cmp_values(x.1, y.1, !bottom));
    }
}

/// Moves `heap[j]` towards the root while it belongs above its parent.
fn sift_up(heap: &mut [(u32, f64)], mut j: usize, below: impl Fn(f64, f64) -> bool) {
    while j > 0 {
        let parent = (j - 1) / 2;
        if !below(heap[j].1, heap[parent].1) {
            break;
        }
        heap.swap(parent, j);
        j = parent;
    }
}

/// Moves `heap[i]` away from the root while a child belongs above it,
/// preferring the right child only when it belongs above the left one.
fn sift_down(heap: &mut [(u32, f64)], mut i: usize, below: impl Fn(f64, f64) -> bool) {
    let n = heap.len();
    loop {
        let left = 2 * i + 1;
        if left >= n {
            break;
        }
        let right = left + 1;
        let child = if right < n && below(heap[right].1, heap[left].1) {
            right
        } else {
            left
        };
        if !below(heap[child].1, heap[i].1) {
            break;
        }
        heap.swap(i, child);
        i = child;
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
    let mut heap: Vec<(u32, f64)> = Vec::new();
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
                AggOp::Topk | AggOp::Bottomk if kk > 0 => {
                    keep_k(members, kk, a.op == AggOp::Bottomk, &mut heap);
                    for &(i, v) in &heap {
                        take(i, v, &mut out);
                    }
                }
                _ => {
                    for &(i, v) in members.iter().take(kk) {
                        take(i, v, &mut out);
                    }
                }
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

#[cfg(test)]
mod tests {
    //! The expected survivors below were worked out by hand from Prometheus
    //! 3.x's heap operations (`aggregationK`), one member at a time.

    use super::*;

    /// The input ids topk (or bottomk) keeps from `values`, best first.
    fn kept(values: &[f64], k: usize, bottom: bool) -> Vec<u32> {
        let members: Vec<(u32, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as u32, v))
            .collect();
        let mut heap = Vec::new();
        keep_k(&members, k, bottom, &mut heap);
        heap.iter().map(|m| m.0).collect()
    }

    #[test]
    fn topk_ties_follow_the_heap_not_the_input_order() {
        // A full heap of equal values: the newcomer evicts the root (0), and
        // the next equal value (1) moves up into its place.
        assert_eq!(kept(&[1.0, 1.0, 1.0, 2.0], 2, false), vec![3, 1]);
        // The same values in another order: the leader comes first.
        assert_eq!(kept(&[2.0, 1.0, 1.0, 1.0], 2, false), vec![0, 1]);
        // Replacing an equal root with an equal newcomer keeps the newcomer
        // at the root (no swap with an equal child), so it is evicted next.
        assert_eq!(kept(&[0.0, 1.0, 1.0, 5.0], 2, false), vec![3, 1]);
        // k = 3: the root after the first eviction is 1, after the second 2
        // (the right child wins when strictly below the left one).
        assert_eq!(kept(&[1.0, 1.0, 1.0, 5.0, 5.0], 3, false), vec![3, 4, 2]);
        assert_eq!(kept(&[1.0, 1.0, 1.0, 1.0, 5.0], 3, false), vec![4, 1, 2]);
        // Fewer members than k: all of them, best first, equal ones in
        // input order.
        assert_eq!(kept(&[1.0, 3.0, 1.0], 5, false), vec![1, 0, 2]);
        // k = 1: the first of the largest.
        assert_eq!(kept(&[1.0, 2.0, 2.0, 0.0], 1, false), vec![1]);
    }

    #[test]
    fn bottomk_ties_mirror_topk() {
        assert_eq!(kept(&[1.0, 1.0, 1.0, 0.0], 2, true), vec![3, 1]);
        assert_eq!(kept(&[0.0, 1.0, 1.0, 1.0], 2, true), vec![0, 1]);
        assert_eq!(kept(&[1.0, 1.0, 1.0, -5.0, -5.0], 3, true), vec![3, 4, 2]);
        assert_eq!(kept(&[2.0, 0.0, 0.0, 2.0], 1, true), vec![1]);
    }

    #[test]
    fn nan_members_lose_to_numbers_and_never_replace_nan() {
        let nan = f64::NAN;
        // A NaN root is replaced by any number.
        assert_eq!(kept(&[nan, 1.0, nan, 2.0], 2, false), vec![3, 1]);
        assert_eq!(kept(&[1.0, nan, 3.0], 2, false), vec![2, 0]);
        assert_eq!(kept(&[1.0, nan, -3.0], 2, true), vec![2, 0]);
        // NaN never replaces NaN (3.x; 2.x did, keeping 2 here).
        assert_eq!(kept(&[nan, nan, nan], 2, false), vec![0, 1]);
        assert_eq!(kept(&[nan, 4.0], 1, false), vec![1]);
        assert_eq!(kept(&[nan, 4.0], 1, true), vec![1]);
    }

    #[test]
    fn large_heaps_come_out_best_first() {
        let values: Vec<f64> = (0..20).map(|i| (i % 7) as f64).collect();
        let ids = kept(&values, 15, false);
        assert_eq!(ids.len(), 15);
        let got: Vec<f64> = ids.iter().map(|&i| values[i as usize]).collect();
        assert!(got.windows(2).all(|w| w[0] >= w[1]), "{got:?}");
        // The five dropped are five of the smallest (0 and 1).
        assert_eq!(got.iter().filter(|&&v| v <= 1.0).count(), 1);
    }

    /// stdvar and stddev of `values`, as one group at one step.
    fn spread(values: &[f64]) -> (f64, f64) {
        let run = |op| {
            let mut acc = Acc::default();
            acc.start(op, values[0], 1);
            for &v in &values[1..] {
                acc.add(op, v);
            }
            acc.result(op)
        };
        (run(AggOp::Stdvar), run(AggOp::Stddev))
    }

    #[test]
    fn stdvar_and_stddev_with_infinities_and_nan() {
        let (inf, nan) = (f64::INFINITY, f64::NAN);
        assert_eq!(spread(&[1.0, 2.0]), (0.25, 0.5));
        assert_eq!(spread(&[3.0]), (0.0, 0.0));
        // Any non-finite member makes the result NaN, wherever it is and
        // even alone in its group (3.x; 2.x answered 0 for a group of one,
        // as its accumulator started at 0 whatever the first value).
        for group in [
            vec![-inf],
            vec![inf],
            vec![nan],
            vec![-inf, 0.0],
            vec![0.0, -inf],
            vec![inf, inf],
            vec![-inf, -inf, 0.0],
            vec![1.0, 2.0, nan],
            vec![nan, 1.0, 2.0],
        ] {
            let (var, dev) = spread(&group);
            assert!(var.is_nan() && dev.is_nan(), "{group:?}: {var} {dev}");
        }
    }

    #[test]
    fn topk_through_the_engine_keeps_the_heap_survivors() {
        use super::super::tests::load;
        use super::super::{Engine, EngineOptions, Value};
        let t = load(&[
            (&[("__name__", "x"), ("i", "a")], vec![(0, 1.0)]),
            (&[("__name__", "x"), ("i", "b")], vec![(0, 1.0)]),
            (&[("__name__", "x"), ("i", "c")], vec![(0, 1.0)]),
            (&[("__name__", "x"), ("i", "d")], vec![(0, 2.0)]),
        ]);
        let e = Engine::new(EngineOptions::default());
        let r = e
            .instant(&t.db, &crate::parser::parse("topk(2, x)").unwrap(), 0)
            .unwrap();
        let Value::Vector(v) = r.value else {
            panic!("not a vector")
        };
        let got: Vec<String> = v.iter().map(|s| s.metric.to_string()).collect();
        assert_eq!(
            got,
            [r#"{__name__="x", i="d"}"#, r#"{__name__="x", i="b"}"#]
        );
    }
}
