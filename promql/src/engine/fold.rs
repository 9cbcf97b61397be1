//! The aggregation operators that fold values one at a time (`sum`, `avg`,
//! `count`, `group`, `min`, `max`, `stddev`, `stdvar`): one accumulator
//! per group and step, fed series by series in input order.
//!
//! Each accumulator takes its inputs in input order, as a walk step by step
//! over all series does, so the result is the same to the bit whether the
//! series come all at once or a part at a time (`super::streamed`).

use crate::ast::AggOp;
use crate::functions::kahan::kahan_sum_inc;

use super::eval::Grid;

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

/// Below this many accumulators the rows are kept whatever the input: the
/// memory is small.
const ROWS_ALWAYS: usize = 1 << 16;

/// Folds series into their groups' accumulators.
///
/// A group gets a row of one accumulator per step while the rows hold no
/// more accumulators than the points folded so far (or are few), so that
/// sparse input (many groups with few points each) does not cost groups ×
/// steps. Once a group is refused a row, no later group gets one: the
/// series of those groups are kept and walked step by step at the end,
/// which needs memory for their points only. Groups never mix between the
/// two, so each group still folds its inputs in input order.
pub(crate) struct Folder {
    op: AggOp,
    grid: Grid,
    /// `rows` rows of `grid.len()` accumulators, one row per group below
    /// `rows`.
    dense: Vec<Acc>,
    rows: usize,
    /// Whether new groups still get a row.
    growing: bool,
    /// The series of groups from `rows` on, in input order.
    rest: Vec<(usize, Vec<(i64, f64)>)>,
    /// Points folded so far.
    points: usize,
}

impl Folder {
    /// A folder for `op` over `grid`; `None` when `op` does not fold.
    pub fn new(op: AggOp, grid: Grid) -> Option<Folder> {
        matches!(
            op,
            AggOp::Sum
                | AggOp::Avg
                | AggOp::Count
                | AggOp::Group
                | AggOp::Min
                | AggOp::Max
                | AggOp::Stddev
                | AggOp::Stdvar
        )
        .then(|| Folder {
            op,
            grid,
            dense: Vec::new(),
            rows: 0,
            growing: true,
            rest: Vec::new(),
            points: 0,
        })
    }

    /// Folds the points (grid times, ascending) of the next input series,
    /// of group `g`. Groups are numbered in order of first appearance, so a
    /// new group is always the next number.
    pub fn fold(&mut self, g: usize, points: Vec<(i64, f64)>) {
        let n = self.grid.len();
        self.points += points.len();
        if g >= self.rows {
            let slots = (self.rows + 1).saturating_mul(n);
            if self.growing && g == self.rows && slots <= self.points.max(ROWS_ALWAYS) {
                self.dense.resize(slots, Acc::default());
                self.rows += 1;
            } else {
                self.growing = false;
                self.rest.push((g, points));
                return;
            }
        }
        let (op, grid) = (self.op, self.grid);
        let row = &mut self.dense[g * n..(g + 1) * n];
        for &(t, v) in &points {
            let a = &mut row[grid.idx(t)];
            if a.stamp == 0 {
                a.start(op, v, 1);
            } else {
                a.add(op, v);
            }
        }
    }

    /// The points of each of the `groups` groups (by number).
    pub fn finish(self, groups: usize) -> Vec<Vec<(i64, f64)>> {
        let (op, grid) = (self.op, self.grid);
        let n = grid.len();
        let mut out: Vec<Vec<(i64, f64)>> = Vec::with_capacity(groups);
        out.extend(self.dense.chunks_exact(n).map(|row| {
            row.iter()
                .enumerate()
                .filter(|(_, a)| a.stamp != 0)
                .map(|(k, a)| (grid.t(k), a.result(op)))
                .collect()
        }));
        drop(self.dense);
        out.resize(groups.max(self.rows), Vec::new());
        if self.rest.is_empty() {
            return out;
        }
        // The rest step by step: points bucketed by step in input order,
        // one accumulator per group reused from step to step.
        let mut steps: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
        for (g, points) in self.rest {
            let g = (g - self.rows) as u32;
            for (t, v) in points {
                steps[grid.idx(t)].push((g, v));
            }
        }
        let mut acc = vec![Acc::default(); out.len() - self.rows];
        let mut touched = Vec::new();
        for (k, step) in steps.iter().enumerate() {
            let stamp = k + 1;
            touched.clear();
            for &(g, v) in step {
                let a = &mut acc[g as usize];
                if a.stamp != stamp {
                    a.start(op, v, stamp);
                    touched.push(g as usize);
                } else {
                    a.add(op, v);
                }
            }
            for &g in &touched {
                out[self.rows + g].push((grid.t(k), acc[g].result(op)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folds `input` (group, points) with a folder whose rows stop after
    /// `rows` groups (`None`: as the folder decides).
    fn fold_all(
        op: AggOp,
        grid: Grid,
        input: &[(usize, Vec<(i64, f64)>)],
        rows: Option<usize>,
    ) -> Vec<Vec<(i64, f64)>> {
        let mut f = Folder::new(op, grid).unwrap();
        let groups = input.iter().map(|(g, _)| g + 1).max().unwrap_or(0);
        for (g, points) in input {
            if rows.is_some_and(|r| *g >= r) {
                f.growing = false;
            }
            f.fold(*g, points.clone());
        }
        f.finish(groups)
    }

    /// A walk step by step over all series with one accumulator per
    /// group: what the folder must equal to the bit.
    fn reference(
        op: AggOp,
        grid: Grid,
        input: &[(usize, Vec<(i64, f64)>)],
    ) -> Vec<Vec<(i64, f64)>> {
        let groups = input.iter().map(|(g, _)| g + 1).max().unwrap_or(0);
        let mut out = vec![Vec::new(); groups];
        for k in 0..grid.len() {
            let mut acc: Vec<Option<Acc>> = vec![None; groups];
            for (g, points) in input {
                for &(t, v) in points {
                    if t == grid.t(k) {
                        match &mut acc[*g] {
                            Some(a) => a.add(op, v),
                            slot => {
                                let mut a = Acc::default();
                                a.start(op, v, 1);
                                *slot = Some(a);
                            }
                        }
                    }
                }
            }
            for (g, a) in acc.iter().enumerate() {
                if let Some(a) = a {
                    out[g].push((grid.t(k), a.result(op)));
                }
            }
        }
        out
    }

    fn bits(v: &[Vec<(i64, f64)>]) -> Vec<Vec<(i64, u64)>> {
        v.iter()
            .map(|s| s.iter().map(|&(t, x)| (t, x.to_bits())).collect())
            .collect()
    }

    proptest::proptest! {
        /// Whether a group folds into a row or is walked at the end, each
        /// group's values are the walk's, to the bit: the inputs of a group
        /// are folded in input order either way.
        #[test]
        fn rows_and_rest_fold_as_the_walk_does(
            series in proptest::collection::vec(
                (0usize..6, proptest::collection::vec(proptest::option::of(-1e6f64..1e6), 8)),
                0..24,
            ),
            rows in 0usize..7,
            op in proptest::sample::select(vec![
                AggOp::Sum, AggOp::Avg, AggOp::Count, AggOp::Group,
                AggOp::Min, AggOp::Max, AggOp::Stddev, AggOp::Stdvar,
            ]),
        ) {
            let grid = Grid::new(1000, 8000, 1000);
            // Groups numbered in order of first appearance, as a grouper does.
            let mut seen: Vec<usize> = Vec::new();
            let input: Vec<(usize, Vec<(i64, f64)>)> = series
                .into_iter()
                .map(|(g, vals)| {
                    let g = match seen.iter().position(|&s| s == g) {
                        Some(i) => i,
                        None => {
                            seen.push(g);
                            seen.len() - 1
                        }
                    };
                    let points = vals
                        .into_iter()
                        .enumerate()
                        .filter_map(|(k, v)| v.map(|v| (grid.t(k), v)))
                        .collect();
                    (g, points)
                })
                .collect();
            let want = bits(&reference(op, grid, &input));
            proptest::prop_assert_eq!(bits(&fold_all(op, grid, &input, None)), want.clone());
            proptest::prop_assert_eq!(bits(&fold_all(op, grid, &input, Some(rows))), want);
        }
    }

    #[test]
    fn sparse_groups_get_no_rows() {
        // 100,000 groups of one point each over 240 steps: rows would be
        // 24M accumulators for 100,000 points.
        let grid = Grid::new(0, 239_000, 1000);
        let mut f = Folder::new(AggOp::Sum, grid).unwrap();
        for g in 0..100_000usize {
            f.fold(g, vec![(grid.t(g % 240), g as f64)]);
        }
        assert!(f.rows * grid.len() <= ROWS_ALWAYS, "{} rows", f.rows);
        let out = f.finish(100_000);
        assert_eq!(out.len(), 100_000);
        assert_eq!(out[99_999], vec![(grid.t(99_999 % 240), 99_999.0)]);
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
}
