//! The tree walk: every node is evaluated once over a step grid.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use storage::querier::{extend_unique, Queryable, SelectHints, Series, SeriesSet};
use storage::{Labels, Workers};

use super::label_map::{self, LabelMap};
use super::EngineOptions;
use crate::ast::{At, Expr, UnaryOp};
use crate::error::{Error, Result};
use crate::value::{QueryResult, QueryStats, Value};

/// Evaluation timestamps `start, start+step, …, <= end` (ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Grid {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Grid {
    pub fn new(start: i64, end: i64, step: i64) -> Grid {
        let step = step.max(1);
        let n = (end - start).max(0) / step;
        Grid {
            start,
            end: start + n * step,
            step,
        }
    }

    pub fn len(&self) -> usize {
        ((self.end - self.start) / self.step + 1) as usize
    }

    pub fn t(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    /// Step index of a grid timestamp.
    pub fn idx(&self, t: i64) -> usize {
        ((t - self.start) / self.step) as usize
    }

    pub fn times(&self) -> impl Iterator<Item = i64> {
        let g = *self;
        (0..g.len()).map(move |i| g.t(i))
    }
}

/// A series of an intermediate result: at most one point per step for
/// instant vectors, raw samples for range vectors.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SeriesOut {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
    /// With delayed name removal: `__name__` is still present but must be
    /// removed when the query finishes. Always `false` otherwise.
    pub drop_name: bool,
}

impl SeriesOut {
    /// A series not marked for name removal.
    pub fn new(labels: Labels, points: Vec<(i64, f64)>) -> SeriesOut {
        SeriesOut {
            labels,
            points,
            drop_name: false,
        }
    }
}

/// An intermediate value over a grid.
#[derive(Debug)]
pub(crate) enum Val {
    /// One value per step.
    Scalar(Vec<f64>),
    Str(String),
    Vector(Vec<SeriesOut>),
    /// Only produced for single-step grids (an instant query of a range
    /// vector expression).
    Matrix(Vec<SeriesOut>),
}

impl Val {
    /// How many samples the value holds.
    fn samples(&self) -> u64 {
        match self {
            Val::Scalar(v) => v.len() as u64,
            Val::Str(_) => 0,
            Val::Vector(ss) | Val::Matrix(ss) => ss.iter().map(|s| s.points.len() as u64).sum(),
        }
    }
}

/// Sample statistics gathered during one evaluation. Interior mutability
/// because window walks count while the evaluator is borrowed shared.
#[derive(Default)]
struct SampleCounter {
    total: Cell<u64>,
    /// One slot per step of the query grid; empty when not asked for.
    per_step: RefCell<Vec<u64>>,
    peak: Cell<u64>,
    /// Above zero while a range function's subquery argument is evaluated:
    /// upstream counts those samples through the function's windows only.
    muted: Cell<u32>,
    /// While a subquery outside a range function is evaluated, the query
    /// step its samples are attributed to (its inner steps are not the
    /// query's).
    redirect: Cell<Option<usize>>,
    prepare: Cell<Duration>,
}

/// Cancellation, deadline and output limit of an evaluation, shared with
/// the threads that do its per-series work.
#[derive(Clone, Copy)]
pub(crate) struct Limits<'a> {
    cancel: &'a AtomicBool,
    deadline: Instant,
    max_samples: usize,
}

impl Limits<'_> {
    /// Fails when the query was canceled or ran out of time.
    pub fn check(&self, stage: &'static str) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::Canceled(stage));
        }
        if Instant::now() >= self.deadline {
            return Err(Error::Timeout(stage));
        }
        Ok(())
    }

    /// Fails when the points produced so far by one node (`n`) exceed the
    /// limit: checked per series while a node's output grows, so its
    /// buffers stop at the limit plus one series instead of series × steps.
    pub fn check_output(&self, n: usize) -> Result<()> {
        if n > self.max_samples {
            return Err(Error::TooManySamples("query execution"));
        }
        Ok(())
    }
}

pub(crate) struct Evaluator<'a> {
    pub q: &'a dyn Queryable,
    pub opts: &'a EngineOptions,
    /// Query start/end: the values of `@ start()` / `@ end()`.
    pub qstart: i64,
    pub qend: i64,
    /// Query step (0 for an instant query): the value of `step()`.
    pub qstep: i64,
    cancel: &'a AtomicBool,
    deadline: Instant,
    pub warnings: Vec<String>,
    /// Warnings of storage selects (failed remote reads), each once; they
    /// come before the engine's own in the result.
    storage_warnings: Vec<String>,
    /// The function or aggregation the selectors being evaluated feed:
    /// the `func` hint of their selects.
    feeding: Option<&'static str>,
    pub infos: Vec<String>,
    counter: SampleCounter,
    /// Threads per-series work may use.
    pub workers: Workers,
}

impl<'a> Evaluator<'a> {
    pub fn new(
        q: &'a dyn Queryable,
        opts: &'a EngineOptions,
        qstart: i64,
        qend: i64,
        qstep: i64,
        cancel: &'a AtomicBool,
    ) -> Self {
        Evaluator {
            q,
            opts,
            qstart,
            qend,
            qstep,
            cancel,
            deadline: {
                let now = Instant::now();
                // A timeout too large to add is as good as none.
                now.checked_add(opts.timeout)
                    .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
            },
            warnings: Vec::new(),
            storage_warnings: Vec::new(),
            feeding: None,
            infos: Vec::new(),
            counter: SampleCounter::default(),
            workers: Workers::default(),
        }
    }

    /// A grid to evaluate over, refused when it has more steps than the
    /// query may hold samples: every node allocates per step (a scalar
    /// holds one value per step), so this check must come before any such
    /// allocation, or a subquery like `x[100y:1ms]` asks for terabytes.
    pub fn grid(&self, start: i64, end: i64, step: i64) -> Result<Grid> {
        let span = (end as i128 - start as i128).max(0);
        let steps = span / step.max(1) as i128 + 1;
        if steps > self.opts.max_samples as i128 {
            return Err(Error::TooManySamples("query execution"));
        }
        Ok(Grid::new(start, end, step))
    }

    /// Counts samples per step of a query grid of `steps` steps (a grid
    /// from [`Evaluator::grid`], so `steps` is bounded).
    pub fn track_steps(&mut self, steps: usize) {
        *self.counter.per_step.borrow_mut() = vec![0; steps];
    }

    /// Counts `n` samples a selector or window handed over at `step` of the
    /// grid being evaluated.
    pub fn count_samples(&self, step: usize, n: u64) {
        let c = &self.counter;
        if c.muted.get() > 0 || n == 0 {
            return;
        }
        c.total.set(c.total.get() + n);
        let mut per_step = c.per_step.borrow_mut();
        let i = c.redirect.get().unwrap_or(step);
        if let Some(slot) = per_step.get_mut(i) {
            *slot += n;
        }
    }

    /// Records that `n` samples are held at once.
    fn note_held(&self, n: u64) {
        if n > self.counter.peak.get() {
            self.counter.peak.set(n);
        }
    }

    /// Adds time spent selecting series from storage.
    pub fn add_prepare_time(&self, d: Duration) {
        let c = &self.counter;
        c.prepare.set(c.prepare.get() + d);
    }

    /// Evaluates `f` without counting the samples it reads (a range
    /// function's subquery, counted through the function's windows).
    pub fn uncounted<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let m = &self.counter.muted;
        m.set(m.get() + 1);
        let r = f(self);
        let m = &self.counter.muted;
        m.set(m.get() - 1);
        r
    }

    /// Evaluates `f` attributing the samples it reads to `step` of the
    /// current grid (a subquery whose own steps differ from the query's).
    pub fn counted_at<T>(&mut self, step: usize, f: impl FnOnce(&mut Self) -> T) -> T {
        let outer = self.counter.redirect.get();
        self.counter.redirect.set(Some(outer.unwrap_or(step)));
        let r = f(self);
        self.counter.redirect.set(outer);
        r
    }

    /// Fails when the query was canceled or ran out of time.
    pub fn check(&self, stage: &'static str) -> Result<()> {
        self.limits().check(stage)
    }

    /// The checks above, for threads that work for this evaluation.
    pub fn limits(&self) -> Limits<'_> {
        Limits {
            cancel: self.cancel,
            deadline: self.deadline,
            max_samples: self.opts.max_samples,
        }
    }

    /// Fails when `n` samples held at once exceed the limit.
    pub fn check_samples(&self, n: usize) -> Result<()> {
        self.note_held(n as u64);
        if n > self.opts.max_samples {
            return Err(Error::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// The hints of a select over `[start, end]` from here: the query's
    /// step, the enclosing function and the selector's `range` (0 for an
    /// instant selector).
    pub fn select_hints(&self, start: i64, end: i64, range: i64) -> SelectHints {
        SelectHints {
            start,
            end,
            step: self.qstep,
            func: self.feeding,
            range,
            labels_only: false,
            workers: self.workers.clone(),
        }
    }

    /// The series of a select, its warnings kept for the result.
    pub fn selected(&mut self, set: SeriesSet) -> Vec<Series> {
        extend_unique(&mut self.storage_warnings, set.warnings);
        set.series
    }

    /// Evaluates `f` with `func` as the function (or aggregation; `None`
    /// under an operator) the selectors inside feed, as Prometheus derives
    /// the `func` hint from the nearest such node above a selector.
    pub fn feeding<T>(&mut self, func: Option<&'static str>, f: impl FnOnce(&mut Self) -> T) -> T {
        let outer = std::mem::replace(&mut self.feeding, func);
        let r = f(self);
        self.feeding = outer;
        r
    }

    pub fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    /// Prometheus's warning for a quantile outside `[0, 1]` (`pos`: where
    /// the quantile is written).
    pub fn check_quantile(&mut self, q: f64, pos: crate::ast::Pos) {
        if !(0.0..=1.0).contains(&q) {
            self.warn(format!(
                "PromQL warning: quantile value should be between 0 and 1, got {} ({pos})",
                super::aggregate::format_float(q)
            ));
        }
    }

    pub fn info(&mut self, msg: String) {
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }

    pub fn finish(self, value: Value) -> QueryResult {
        let c = self.counter;
        let mut warnings = self.storage_warnings;
        warnings.extend(self.warnings);
        QueryResult {
            value,
            warnings,
            infos: self.infos,
            stats: QueryStats {
                total_samples: c.total.get(),
                samples_per_step: c.per_step.into_inner(),
                peak_samples: c.peak.get(),
                prepare_time: c.prepare.get(),
                ..QueryStats::default()
            },
        }
    }

    /// The fixed evaluation time of an `@` modifier.
    pub fn resolve_at(&self, at: Option<At>) -> Option<i64> {
        at.map(|a| match a {
            At::Timestamp(t) => t,
            At::Start => self.qstart,
            At::End => self.qend,
        })
    }

    pub fn eval(&mut self, expr: &Expr, grid: Grid) -> Result<Val> {
        let v = self.eval_node(expr, grid)?;
        // A node's whole output counts, as upstream counts every point of
        // a range result: the per-step check alone lets series × steps grow
        // without bound.
        self.held(v.samples())?;
        Ok(v)
    }

    /// Notes that a node's whole output of `n` samples is held, failing
    /// past the limit.
    pub fn held(&self, n: u64) -> Result<()> {
        self.note_held(n);
        if n > self.opts.max_samples as u64 {
            return Err(Error::TooManySamples("query execution"));
        }
        Ok(())
    }

    fn eval_node(&mut self, expr: &Expr, grid: Grid) -> Result<Val> {
        self.check("expression evaluation")?;
        match expr {
            Expr::Number(v) => Ok(Val::Scalar(vec![*v; grid.len()])),
            Expr::String(s) => Ok(Val::Str(s.clone())),
            Expr::Paren(e) => self.eval(e, grid),
            Expr::Unary(op, e) => {
                let v = self.eval(e, grid)?;
                match (op, v) {
                    (UnaryOp::Pos, v) => Ok(v),
                    (UnaryOp::Neg, Val::Scalar(mut v)) => {
                        v.iter_mut().for_each(|x| *x = -*x);
                        Ok(Val::Scalar(v))
                    }
                    (UnaryOp::Neg, Val::Vector(mut ss)) => {
                        let delayed = self.opts.delayed_name_removal;
                        for s in &mut ss {
                            remove_name(s, delayed);
                            s.points.iter_mut().for_each(|p| p.1 = -p.1);
                        }
                        Ok(Val::Vector(merge_after_name_removal(ss, delayed, false)?))
                    }
                    (_, _) => Err(Error::Eval("unary operator on unsupported type".into())),
                }
            }
            Expr::Vector(vs) => Ok(Val::Vector(super::selector::eval_vector(
                self, vs, grid, false,
            )?)),
            Expr::Matrix(ms) => {
                let rd = super::selector::load_range(self, ms, grid)?;
                let windows = rd.windows_at(grid.start);
                let n = windows.iter().map(|s| s.points.len() as u64).sum();
                self.count_samples(0, n);
                Ok(Val::Matrix(windows))
            }
            Expr::Subquery(sq) => {
                // Upstream counts what the subquery read, not its output.
                let rd = self.counted_at(0, |ev| super::subquery::eval_subquery(ev, sq, grid))?;
                Ok(Val::Matrix(rd.windows_at(grid.start)))
            }
            Expr::Binary(b) => self.feeding(None, |ev| super::binary::eval_binary(ev, b, grid)),
            Expr::Aggregate(a) => self.feeding(Some(a.op.as_str()), |ev| {
                super::aggregate::eval_aggregate(ev, a, grid)
            }),
            Expr::Call(c) => self.feeding(Some(c.func.name), |ev| {
                super::functions::eval_call(ev, c, grid)
            }),
        }
    }

    /// Evaluates an expression that must give a scalar.
    pub fn eval_scalar(&mut self, expr: &Expr, grid: Grid) -> Result<Vec<f64>> {
        match self.eval(expr, grid)? {
            Val::Scalar(v) => Ok(v),
            _ => Err(Error::Eval("expected scalar".into())),
        }
    }

    pub fn eval_vector(&mut self, expr: &Expr, grid: Grid) -> Result<Vec<SeriesOut>> {
        match self.eval(expr, grid)? {
            Val::Vector(v) => Ok(v),
            _ => Err(Error::Eval("expected instant vector".into())),
        }
    }

    pub fn eval_string(&mut self, expr: &Expr, grid: Grid) -> Result<String> {
        match self.eval(expr, grid)? {
            Val::Str(s) => Ok(s),
            _ => Err(Error::Eval("expected string".into())),
        }
    }
}

/// `labels` without `__name__`; moves the pairs, clones no string.
pub(crate) fn drop_name(labels: Labels) -> Labels {
    let Some(i) = labels.iter().position(|l| l.name == storage::METRIC_NAME) else {
        return labels;
    };
    let mut pairs = labels.into_vec();
    pairs.remove(i);
    Labels::from_sorted(pairs)
}

/// Removes `__name__` from a series: right away, or with delayed name
/// removal by marking it so that [`finish_name_removal`] drops the name
/// when the query finishes.
pub(crate) fn remove_name(s: &mut SeriesOut, delayed: bool) {
    if delayed {
        s.drop_name = true;
    } else {
        s.labels = drop_name(std::mem::take(&mut s.labels));
    }
}

/// Whether label sets stay distinct when `__name__` is removed from all of
/// `ss`: they were distinct (`distinct`, e.g. a selector's series) and all
/// had the same name (or none), so they differed in other labels. Then
/// [`merge_after_name_removal`] need not look for equal label sets.
pub(crate) fn stay_distinct(ss: &[SeriesOut], distinct: bool) -> bool {
    let Some(first) = ss.first() else {
        return true;
    };
    let name = first.labels.get(storage::METRIC_NAME);
    distinct
        && ss
            .iter()
            .all(|s| s.labels.get(storage::METRIC_NAME) == name)
}

/// After names were removed with [`remove_name`]: merges series that now
/// share a label set (eager removal; skipped when `still_distinct`, see
/// [`stay_distinct`]), or only drops empty series (delayed removal, where
/// label sets are checked at the end of the query).
pub(crate) fn merge_after_name_removal(
    mut ss: Vec<SeriesOut>,
    delayed: bool,
    still_distinct: bool,
) -> Result<Vec<SeriesOut>> {
    if delayed || still_distinct {
        ss.retain(|s| !s.points.is_empty());
        Ok(ss)
    } else {
        merge_same_labels(ss)
    }
}

/// The end of a query with delayed name removal: drops `__name__` from the
/// marked series, then merges series with equal label sets, failing when
/// two of them have a point at the same timestamp.
pub(crate) fn finish_name_removal(mut ss: Vec<SeriesOut>) -> Result<Vec<SeriesOut>> {
    for s in &mut ss {
        if s.drop_name {
            s.labels = drop_name(std::mem::take(&mut s.labels));
            s.drop_name = false;
        }
    }
    merge_same_labels(ss)
}

pub(crate) const DUPLICATE_LABELSET: &str = "vector cannot contain metrics with the same labelset";

/// Merges series with equal label sets (e.g. after `__name__` was dropped);
/// two points at the same step are Prometheus's duplicate-labelset error.
/// Series that differ in their name-removal mark are kept apart (their
/// label sets differ once the query finishes). Keeps the order of first
/// appearance.
pub(crate) fn merge_same_labels(mut ss: Vec<SeriesOut>) -> Result<Vec<SeriesOut>> {
    ss.retain(|s| !s.points.is_empty());
    if ss.len() < 2 {
        return Ok(ss);
    }
    let mut idx: LabelMap<(&Labels, bool), usize> = label_map::with_capacity(ss.len());
    let mut dup = false;
    for (i, s) in ss.iter().enumerate() {
        if idx.insert((&s.labels, s.drop_name), i).is_some() {
            dup = true;
            break;
        }
    }
    if !dup {
        return Ok(ss);
    }
    drop(idx);
    let mut out: Vec<SeriesOut> = Vec::with_capacity(ss.len());
    let mut pos: LabelMap<(Labels, bool), usize> = label_map::with_capacity(0);
    for s in ss {
        match pos.get(&(s.labels.clone(), s.drop_name)) {
            Some(&i) => {
                let target = &mut out[i];
                let mut merged = Vec::with_capacity(target.points.len() + s.points.len());
                let (a, b) = (&target.points, &s.points);
                let (mut i, mut j) = (0, 0);
                while i < a.len() || j < b.len() {
                    if j == b.len() || (i < a.len() && a[i].0 < b[j].0) {
                        merged.push(a[i]);
                        i += 1;
                    } else if i == a.len() || b[j].0 < a[i].0 {
                        merged.push(b[j]);
                        j += 1;
                    } else {
                        return Err(Error::Eval(DUPLICATE_LABELSET.into()));
                    }
                }
                target.points = merged;
            }
            None => {
                pos.insert((s.labels.clone(), s.drop_name), out.len());
                out.push(s);
            }
        }
    }
    Ok(out)
}
