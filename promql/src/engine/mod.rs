//! The PromQL evaluator.
//!
//! Every node is evaluated once over the whole step grid of the query and
//! yields series-oriented results (one point per step at most), so selectors
//! read each series from storage once per query.

mod aggregate;
mod binary;
mod eval;
mod fold;
mod functions;
mod label_map;
mod range_call;
mod selector;
mod streamed;
mod subquery;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use storage::querier::Queryable;
use storage::Workers;

use crate::ast::{Expr, ValueType};
use crate::error::{Error, Result};
use crate::value::{QueryResult, Sample, Series, Value};

use eval::{Evaluator, Grid, Val};

/// Limits and defaults of the engine.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (ms).
    pub lookback_delta: i64,
    /// Most samples a query may hold at once.
    pub max_samples: usize,
    /// Wall-clock limit of one query.
    pub timeout: Duration,
    /// Step of subqueries written without one (`[5m:]`), in ms.
    pub default_subquery_step: i64,
    /// Delayed `__name__` removal (Prometheus's `EnableDelayedNameRemoval`,
    /// the `promql-delayed-name-removal` feature). Off by default, as in
    /// Prometheus.
    ///
    /// When off, operations that make a metric name meaningless (unary
    /// minus, arithmetic operators, comparisons with `bool`, most functions)
    /// drop `__name__` from their results at once. When on, they only mark
    /// the series and keep the label, so that later `label_replace` /
    /// `label_join` can still read it (setting `__name__` as destination
    /// clears the mark) and aggregations `by (__name__)` still see it; an
    /// aggregated series is marked when any of its inputs was. The marked
    /// names are removed when the query finishes, which then fails with
    /// "vector cannot contain metrics with the same labelset" if two series
    /// end up with the same labels at the same timestamp.
    pub delayed_name_removal: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: 300_000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step: 60_000,
            delayed_name_removal: false,
        }
    }
}

/// Settings of one query that override the engine's (the HTTP API's
/// `timeout`, `lookback_delta` and `stats=all`).
#[derive(Clone, Debug, Default)]
pub struct QueryOptions {
    /// Wall-clock limit; the engine's own timeout applies when shorter.
    pub timeout: Option<Duration>,
    /// Lookback delta in ms; the engine's when `None` or not positive, as
    /// upstream treats `lookback_delta=0`.
    pub lookback_delta: Option<i64>,
    /// Fill [`QueryStats::samples_per_step`](crate::QueryStats).
    pub per_step_stats: bool,
    /// Threads the query may spread its per-series work over (selects,
    /// decoding, range functions); the calling thread alone by default.
    /// Results do not depend on it.
    pub workers: Workers,
}

/// The query evaluator. Stateless apart from its options.
pub struct Engine {
    opts: EngineOptions,
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Engine {
        Engine { opts }
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Instant query at `t` (ms).
    pub fn instant(&self, q: &dyn Queryable, expr: &Expr, t: i64) -> Result<QueryResult> {
        self.instant_with_cancel(q, expr, t, &AtomicBool::new(false))
    }

    /// Range query over `[start, end]` every `step` ms; always a matrix.
    pub fn range(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult> {
        self.range_with_cancel(q, expr, start, end, step, &AtomicBool::new(false))
    }

    /// With delayed name removal, removes the marked `__name__` labels from
    /// a query's final value.
    fn finish_names(&self, v: Val) -> Result<Val> {
        if !self.opts.delayed_name_removal {
            return Ok(v);
        }
        Ok(match v {
            Val::Vector(ss) => Val::Vector(eval::finish_name_removal(ss)?),
            Val::Matrix(ss) => Val::Matrix(eval::finish_name_removal(ss)?),
            other => other,
        })
    }

    /// The engine's options with a query's overrides applied.
    fn effective(&self, o: &QueryOptions) -> EngineOptions {
        let mut opts = self.opts.clone();
        if let Some(t) = o.timeout {
            opts.timeout = opts.timeout.min(t);
        }
        if let Some(l) = o.lookback_delta.filter(|&l| l > 0) {
            opts.lookback_delta = l;
        }
        opts
    }

    /// [`Engine::instant`] that stops with `Error::Canceled` once `cancel` is set.
    pub fn instant_with_cancel(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        t: i64,
        cancel: &AtomicBool,
    ) -> Result<QueryResult> {
        self.instant_with_options(q, expr, t, &QueryOptions::default(), cancel)
    }

    /// [`Engine::instant_with_cancel`] with per-query settings; the result
    /// carries the query's statistics.
    pub fn instant_with_options(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        t: i64,
        qopts: &QueryOptions,
        cancel: &AtomicBool,
    ) -> Result<QueryResult> {
        let started = Instant::now();
        let opts = self.effective(qopts);
        let mut ev = Evaluator::new(q, &opts, t, t, 0, cancel);
        ev.workers = qopts.workers.clone();
        if qopts.per_step_stats {
            ev.track_steps(1);
        }
        let grid = Grid::new(t, t, 1);
        let value = match self.finish_names(ev.eval(expr, grid)?)? {
            Val::Scalar(v) => Value::Scalar { t, v: v[0] },
            Val::Str(s) => Value::String { t, s },
            Val::Vector(series) => Value::Vector(
                series
                    .into_iter()
                    .filter_map(|s| {
                        s.points.first().map(|&(_, v)| Sample {
                            metric: s.labels,
                            t,
                            v,
                        })
                    })
                    .collect(),
            ),
            Val::Matrix(series) => Value::Matrix(
                series
                    .into_iter()
                    .filter(|s| !s.points.is_empty())
                    .map(|s| Series {
                        metric: s.labels,
                        points: s.points,
                    })
                    .collect(),
            ),
        };
        let mut r = ev.finish(value);
        r.stats.eval_time = started.elapsed();
        Ok(r)
    }

    /// [`Engine::range`] that stops with `Error::Canceled` once `cancel` is set.
    pub fn range_with_cancel(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        cancel: &AtomicBool,
    ) -> Result<QueryResult> {
        let defaults = QueryOptions::default();
        self.range_with_options(q, expr, start, end, step, &defaults, cancel)
    }

    /// [`Engine::range_with_cancel`] with per-query settings; the result
    /// carries the query's statistics.
    #[allow(clippy::too_many_arguments)]
    pub fn range_with_options(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        qopts: &QueryOptions,
        cancel: &AtomicBool,
    ) -> Result<QueryResult> {
        let started = Instant::now();
        if step <= 0 {
            return Err(Error::Eval(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(Error::Eval(
                "end timestamp must not be before start time".into(),
            ));
        }
        match expr.value_type() {
            ValueType::Scalar | ValueType::Vector => {}
            other => {
                return Err(Error::Eval(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                other.name()
            )))
            }
        }
        let opts = self.effective(qopts);
        let mut ev = Evaluator::new(q, &opts, start, end, step, cancel);
        ev.workers = qopts.workers.clone();
        let grid = ev.grid(start, end, step)?;
        if qopts.per_step_stats {
            ev.track_steps(grid.len());
        }
        let mut out: Vec<Series> = match self.finish_names(ev.eval(expr, grid)?)? {
            Val::Scalar(v) => vec![Series {
                metric: Default::default(),
                points: v
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (grid.t(i), v))
                    .collect(),
            }],
            Val::Vector(series) => series
                .into_iter()
                .filter(|s| !s.points.is_empty())
                .map(|s| Series {
                    metric: s.labels,
                    points: s.points,
                })
                .collect(),
            Val::Str(_) | Val::Matrix(_) => {
                return Err(Error::Eval(
                    "invalid expression type for range query".into(),
                ))
            }
        };
        let sorting = Instant::now();
        out.sort_by(|a, b| a.metric.cmp(&b.metric));
        let sort_time = sorting.elapsed();
        let mut r = ev.finish(Value::Matrix(out));
        r.stats.sort_time = sort_time;
        r.stats.eval_time = started.elapsed();
        Ok(r)
    }
}

#[cfg(test)]
mod tests;
