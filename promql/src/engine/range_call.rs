//! Range functions (`rate`, `*_over_time`, `deriv`, …): one value per
//! step and series from the windows of a range vector argument.
//!
//! A call is prepared once (its scalar arguments evaluated, its series
//! selected), then its windows are computed over all of its series at
//! once ([`eval`]) or a part at a time ([`RangeCall::part`]), so that an
//! aggregation can fold each part and never hold the whole matrix
//! (`super::streamed`).

use std::ops::Range;

use storage::METRIC_NAME;

use super::eval::{
    merge_after_name_removal, remove_name, stay_distinct, Evaluator, Grid, SeriesOut, Val,
};
use super::functions::{absent, unwrap_parens};
use super::selector::{Plain, RangeData, SeriesPoints, WindowFn, WindowTally};
use crate::ast::{Call, Expr};
use crate::error::{Error, Result};
use crate::functions::{over_time as ot, rate};

/// Evaluates a call of a range function; `mi` is its range argument.
pub(crate) fn eval(ev: &mut Evaluator, c: &Call, mi: usize, grid: Grid) -> Result<Val> {
    if c.func.name == "absent_over_time" {
        return absent_over_time(ev, c, mi, grid);
    }
    let Some(kind) = Kind::of(c.func.name) else {
        // Still evaluates its arguments first, as any call does, so a bad
        // argument is reported before the unknown function.
        for (i, a) in c.args.iter().enumerate() {
            if i != mi {
                ev.eval_scalar(a, grid)?;
            }
        }
        let rd = RangeCall::source(ev, c, mi, grid)?;
        let mut seen = false;
        rd.map_windows(ev, grid, |_, _, _, _| {
            seen = true;
            None
        })?;
        if seen {
            return Err(Error::Eval(format!(
                "function {}() is not supported",
                c.func.name
            )));
        }
        return Ok(Val::Vector(Vec::new()));
    };
    let call = RangeCall::prepare(ev, c, mi, grid, kind)?;
    Ok(Val::Vector(call.all(ev, grid)?))
}

/// `absent_over_time`: one series (labels from the selector's equality
/// matchers) with a point at every step whose window is empty everywhere.
fn absent_over_time(ev: &mut Evaluator, c: &Call, mi: usize, grid: Grid) -> Result<Val> {
    let rd = RangeCall::source(ev, c, mi, grid)?;
    let mut present = vec![false; grid.len()];
    rd.map_windows(ev, grid, |k, _, _, _| {
        present[k] = true;
        None
    })?;
    Ok(absent(&present, grid, &c.args[mi]))
}

/// What to compute per window, resolved once rather than per window.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Simple(fn(&[(i64, f64)]) -> f64),
    /// `rate`, `increase` (counters) and `delta`.
    Extrapolated {
        counter: bool,
        is_rate: bool,
    },
    /// `irate` (`is_rate`) and `idelta`: the last two samples.
    Instant {
        is_rate: bool,
    },
    Deriv,
    PredictLinear,
    Quantile,
    Smoothing,
}

impl Kind {
    /// The kind of a range function; `None` for one not implemented here
    /// (and for `absent_over_time`, which is not per series).
    pub fn of(name: &str) -> Option<Kind> {
        Some(match name {
            "avg_over_time" => Kind::Simple(ot::avg_over_time),
            "sum_over_time" => Kind::Simple(ot::sum_over_time),
            "count_over_time" => Kind::Simple(ot::count_over_time),
            "min_over_time" => Kind::Simple(ot::min_over_time),
            "max_over_time" => Kind::Simple(ot::max_over_time),
            "last_over_time" => Kind::Simple(ot::last_over_time),
            "first_over_time" => Kind::Simple(ot::first_over_time),
            "present_over_time" => Kind::Simple(ot::present_over_time),
            "stddev_over_time" => Kind::Simple(ot::stddev_over_time),
            "stdvar_over_time" => Kind::Simple(ot::stdvar_over_time),
            "mad_over_time" => Kind::Simple(ot::mad_over_time),
            "changes" => Kind::Simple(ot::changes),
            "resets" => Kind::Simple(ot::resets),
            "ts_of_min_over_time" => Kind::Simple(ot::ts_of_min_over_time),
            "ts_of_max_over_time" => Kind::Simple(ot::ts_of_max_over_time),
            "ts_of_last_over_time" => Kind::Simple(ot::ts_of_last_over_time),
            "ts_of_first_over_time" => Kind::Simple(ot::ts_of_first_over_time),
            "rate" | "increase" | "delta" => Kind::Extrapolated {
                counter: name != "delta",
                is_rate: name == "rate",
            },
            "irate" => Kind::Instant { is_rate: true },
            "idelta" => Kind::Instant { is_rate: false },
            "deriv" => Kind::Deriv,
            "predict_linear" => Kind::PredictLinear,
            "quantile_over_time" => Kind::Quantile,
            "double_exponential_smoothing" => Kind::Smoothing,
            _ => return None,
        })
    }
}

/// A prepared call of a range function: its scalar arguments evaluated
/// and its range argument's series selected (their samples are read when
/// the windows are cut).
pub(crate) struct RangeCall<'c> {
    c: &'c Call,
    kind: Kind,
    rd: RangeData,
    /// The scalar arguments, one value per step, in argument order.
    scalars: Vec<Vec<f64>>,
    /// The range argument is a selector (not a subquery).
    from_selector: bool,
    /// The metric name last checked for the counter note: a selector's
    /// series usually share one.
    checked: Option<String>,
}

impl<'c> RangeCall<'c> {
    /// The range argument's data: a selector's series, or a subquery's
    /// result (whose samples are counted through the windows only).
    fn source(ev: &mut Evaluator, c: &Call, mi: usize, grid: Grid) -> Result<RangeData> {
        match unwrap_parens(&c.args[mi]) {
            Expr::Matrix(ms) => super::selector::load_range(ev, ms, grid),
            Expr::Subquery(sq) => ev.uncounted(|ev| super::subquery::eval_subquery(ev, sq, grid)),
            _ => Err(Error::Eval(format!(
                "expected range vector in call to {}()",
                c.func.name
            ))),
        }
    }

    /// Evaluates the scalar arguments, then selects the range argument,
    /// and checks the arguments as Prometheus does before any window.
    pub fn prepare(
        ev: &mut Evaluator,
        c: &'c Call,
        mi: usize,
        grid: Grid,
        kind: Kind,
    ) -> Result<RangeCall<'c>> {
        let mut scalars: Vec<Vec<f64>> = Vec::new();
        for (i, a) in c.args.iter().enumerate() {
            if i != mi {
                scalars.push(ev.eval_scalar(a, grid)?);
            }
        }
        let from_selector = matches!(unwrap_parens(&c.args[mi]), Expr::Matrix(_));
        let rd = Self::source(ev, c, mi, grid)?;
        if let Kind::Smoothing = kind {
            for (&sf, &tf) in scalars[0].iter().zip(&scalars[1]) {
                ot::validate_smoothing(sf, tf).map_err(Error::Eval)?;
            }
        }
        if let Kind::Quantile = kind {
            let mut has_samples = None;
            for &q in &scalars[0] {
                if !(0.0..=1.0).contains(&q) && *has_samples.get_or_insert_with(|| rd.has_samples())
                {
                    ev.check_quantile(q, c.arg_pos(0));
                }
            }
        }
        Ok(RangeCall {
            c,
            kind,
            rd,
            scalars,
            from_selector,
            checked: None,
        })
    }

    /// Series of the range argument.
    pub fn len(&self) -> usize {
        self.rd.series.len()
    }

    /// Whether the output's label sets stay distinct without the name
    /// (see [`stay_distinct`]), so no merging of equal sets is needed.
    pub fn still_distinct(&self) -> bool {
        (self.keeps_name() && self.from_selector)
            || stay_distinct(&self.rd.series, self.from_selector)
    }

    fn keeps_name(&self) -> bool {
        matches!(self.c.func.name, "last_over_time" | "first_over_time")
    }

    /// The call's whole output: every series' windows computed and
    /// counted, the series finished in input order, then merged where
    /// removing the name made label sets equal.
    pub fn all(mut self, ev: &mut Evaluator, grid: Grid) -> Result<Vec<SeriesOut>> {
        // Before `finish_series` takes the labels it looks at.
        let still_distinct = self.still_distinct();
        let mut tally = WindowTally::new(grid);
        let all = 0..self.len();
        let outs = self.points(ev, grid, all.clone(), &mut tally)?;
        tally.count(ev)?;
        let mut result = Vec::with_capacity(self.len());
        for (si, (points, any)) in all.zip(outs) {
            result.extend(self.finish_series(ev, si, points, any));
        }
        merge_after_name_removal(result, ev.opts.delayed_name_removal, still_distinct)
    }

    /// The points of the series `part`, computed on the query's threads,
    /// what their windows held added to `tally`.
    pub fn points(
        &self,
        ev: &Evaluator,
        grid: Grid,
        part: Range<usize>,
        tally: &mut WindowTally,
    ) -> Result<Vec<SeriesPoints>> {
        let rd = &self.rd;
        // One monomorphised window loop per function, the function inlined.
        match self.kind {
            Kind::Simple(f) => {
                rd.map_windows_part(ev, grid, plain(move |_, _, _, w| Some(f(w))), part, tally)
            }
            Kind::Extrapolated { counter, is_rate } => {
                let x = rate::Extrapolation::new(counter, is_rate, rd.range);
                // One window loop per combination, the flags constant in it.
                match (counter, is_rate) {
                    (true, true) => {
                        rd.map_windows_part(ev, grid, Extrapolated::<true, true>(x), part, tally)
                    }
                    (true, false) => {
                        rd.map_windows_part(ev, grid, Extrapolated::<true, false>(x), part, tally)
                    }
                    (false, _) => {
                        rd.map_windows_part(ev, grid, Extrapolated::<false, false>(x), part, tally)
                    }
                }
            }
            Kind::Instant { is_rate } => rd.map_windows_part(
                ev,
                grid,
                plain(move |_, _, _, w| rate::instant_value(w, is_rate)),
                part,
                tally,
            ),
            Kind::Deriv => {
                rd.map_windows_part(ev, grid, plain(|_, _, _, w| ot::deriv(w)), part, tally)
            }
            Kind::PredictLinear => {
                let d = &self.scalars[0];
                let f = plain(|k, t, _, w| ot::predict_linear(w, d[k], t));
                rd.map_windows_part(ev, grid, f, part, tally)
            }
            Kind::Quantile => {
                let q = &self.scalars[0];
                let f = plain(|k, _, _, w| Some(ot::quantile_over_time(q[k], w)));
                rd.map_windows_part(ev, grid, f, part, tally)
            }
            Kind::Smoothing => {
                let (sf, tf) = (&self.scalars[0], &self.scalars[1]);
                let f = plain(|k, _, _, w| ot::double_exponential_smoothing(w, sf[k], tf[k]));
                rd.map_windows_part(ev, grid, f, part, tally)
            }
        }
    }

    /// The output series of input series `si` from its points (`None`
    /// when it has none), its name removed unless the function keeps it;
    /// `rate` and `increase` note a series that might not be a counter
    /// when it had any window at all. Takes the series' labels: call once
    /// per series, in order.
    pub fn finish_series(
        &mut self,
        ev: &mut Evaluator,
        si: usize,
        points: Vec<(i64, f64)>,
        any: bool,
    ) -> Option<SeriesOut> {
        let s = &mut self.rd.series[si];
        let counter = matches!(self.kind, Kind::Extrapolated { counter: true, .. });
        if counter && any && self.checked.as_deref() != Some(s.labels.get(METRIC_NAME)) {
            let metric = s.labels.get(METRIC_NAME);
            self.checked = Some(metric.to_string());
            if !metric.is_empty()
                && !["_total", "_sum", "_count", "_bucket"]
                    .iter()
                    .any(|suf| metric.ends_with(suf))
            {
                ev.info(format!(
                    "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?} ({})",
                    self.c.arg_pos(0)
                ));
            }
        }
        if points.is_empty() {
            return None;
        }
        // The functions that keep the name also keep a removal mark that
        // came through a subquery.
        let mut out = SeriesOut {
            labels: std::mem::take(&mut s.labels),
            points,
            drop_name: s.drop_name,
        };
        if !self.keeps_name() {
            remove_name(&mut out, ev.opts.delayed_name_removal);
        }
        Some(out)
    }
}

/// A closure as a [`WindowFn`]. Written out at the call, `Plain(|..| ..)`
/// would infer one lifetime for the window slice; the `Fn` bound here makes
/// the closure generic over it, as the trait needs.
fn plain<F>(f: F) -> Plain<F>
where
    F: Fn(usize, i64, i64, &[(i64, f64)]) -> Option<f64> + Clone + Sync,
{
    Plain(f)
}

/// `rate` (`COUNTER && RATE`), `increase` (`COUNTER`) or `delta` (neither)
/// over the windows of a range selector; the flags are the ones given to
/// the wrapped [`rate::Extrapolation`].
#[derive(Clone)]
struct Extrapolated<const COUNTER: bool, const RATE: bool>(rate::Extrapolation);

impl<const COUNTER: bool, const RATE: bool> WindowFn for Extrapolated<COUNTER, RATE> {
    fn start_series(&mut self, samples: &[(i64, f64)]) {
        self.0.start_series(samples);
    }

    #[inline(always)]
    fn window(&mut self, _: usize, _: i64, te: i64, w: &[(i64, f64)]) -> Option<f64> {
        self.0.eval_as::<COUNTER, RATE>(w, te)
    }
}
