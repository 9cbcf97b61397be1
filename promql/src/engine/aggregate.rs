//! Aggregation operators, evaluated per step over precomputed groups.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use storage::{Label, Labels, METRIC_NAME};

use super::eval::{Evaluator, Grid, SeriesOut, Val};
use super::fold::Folder;
use super::label_map::{self, LabelMap};
use crate::ast::{AggOp, AggregateExpr};
use crate::error::{Error, Result};
use crate::functions::quantile::quantile;

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
fn group_series(input: &[SeriesOut], a: &AggregateExpr) -> (Vec<usize>, Vec<Labels>) {
    let mut grouper = Grouper::new(a);
    let series_group = input.iter().map(|s| grouper.group_of(&s.labels)).collect();
    (series_group, grouper.into_groups())
}

/// Numbers the groups of an aggregation in order of first appearance.
///
/// A series' group is found by hashing its group labels where they are, so
/// only a new group's label set is built.
pub(crate) struct Grouper<'a> {
    a: &'a AggregateExpr,
    groups: Vec<Labels>,
    /// A group by the hash of its labels; a group whose hash an earlier
    /// group has (a 64-bit collision) is found in `more`.
    by_hash: LabelMap<u64, usize>,
    more: Vec<(u64, usize)>,
}

impl<'a> Grouper<'a> {
    pub fn new(a: &'a AggregateExpr) -> Grouper<'a> {
        Grouper {
            a,
            groups: Vec::new(),
            by_hash: label_map::with_capacity(0),
            more: Vec::new(),
        }
    }

    /// The group of a series with `labels`: an existing one, or the next
    /// number.
    pub fn group_of(&mut self, labels: &Labels) -> usize {
        let a = self.a;
        if !a.without && a.grouping.is_empty() {
            if self.groups.is_empty() {
                self.groups.push(Labels::default());
            }
            return 0;
        }
        let groups = &self.groups;
        let same = |g: &Labels| g.iter().eq(labels.iter().filter(|l| in_group(l, a)));
        let h = label_map::hash_pairs(labels.iter().filter(|l| in_group(l, a)));
        let found = match self.by_hash.get(&h) {
            Some(&g) if same(&groups[g]) => Some(g),
            Some(_) => self
                .more
                .iter()
                .find(|&&(mh, g)| mh == h && same(&groups[g]))
                .map(|&(_, g)| g),
            None => None,
        };
        found.unwrap_or_else(|| {
            let g = self.groups.len();
            self.groups.push(Labels::from_sorted(
                labels.iter().filter(|l| in_group(l, a)).cloned().collect(),
            ));
            match self.by_hash.entry(h) {
                Entry::Vacant(e) => {
                    e.insert(g);
                }
                Entry::Occupied(_) => self.more.push((h, g)),
            }
            g
        })
    }

    /// The groups' label sets, by number.
    pub fn into_groups(self) -> Vec<Labels> {
        self.groups
    }
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub(crate) fn format_float(v: f64) -> String {
    crate::go_float::format_f(v)
}

/// A folding aggregation ([`Folder`]) fed one series at a time, in input
/// order.
pub(crate) struct Folding<'a> {
    grouper: Grouper<'a>,
    folder: Folder,
    /// Per group, with delayed name removal: whether its result is marked
    /// for name removal (any of its input series is).
    marks: Vec<bool>,
}

impl<'a> Folding<'a> {
    pub fn new(a: &'a AggregateExpr, folder: Folder) -> Folding<'a> {
        Folding {
            grouper: Grouper::new(a),
            folder,
            marks: Vec::new(),
        }
    }

    /// Folds the next input series.
    pub fn add(&mut self, s: SeriesOut) {
        let g = self.grouper.group_of(&s.labels);
        if g == self.marks.len() {
            self.marks.push(false);
        }
        self.marks[g] |= s.drop_name;
        self.folder.fold(g, s.points);
    }

    /// The aggregation's series, one per group with points.
    pub fn finish(self) -> Val {
        let groups = self.grouper.into_groups();
        let out = self.folder.finish(groups.len());
        Val::Vector(group_results(groups, out, &self.marks))
    }
}

pub(crate) fn eval_aggregate(ev: &mut Evaluator, a: &AggregateExpr, grid: Grid) -> Result<Val> {
    if let Some(v) = super::streamed::aggregate(ev, a, grid)? {
        return Ok(v);
    }
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
    if let Some(folder) = Folder::new(a.op, grid) {
        let mut folding = Folding::new(a, folder);
        input.into_iter().for_each(|s| folding.add(s));
        return Ok(folding.finish());
    }

    let (series_group, groups) = group_series(&input, a);

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
        op => Err(Error::Eval(format!(
            "aggregation {} not supported",
            op.as_str()
        ))),
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
