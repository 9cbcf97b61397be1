//! Selectors: each one reads its series from storage once for the whole
//! grid, then walks the steps with a moving cursor / window.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use storage::is_stale_nan;

use super::eval::{Evaluator, Grid, Limits, SeriesOut};
use crate::ast::{MatrixSelector, VectorSelector};
use crate::error::Result;

/// Evaluation time of a selector at step `t`.
#[inline]
fn eval_time(at: Option<i64>, offset: i64, t: i64) -> i64 {
    at.unwrap_or(t) - offset
}

/// `[min, max]` of the evaluation times over the grid.
fn eval_time_bounds(at: Option<i64>, offset: i64, grid: Grid) -> (i64, i64) {
    (
        eval_time(at, offset, grid.start),
        eval_time(at, offset, grid.end),
    )
}

/// Instant vector selector over the grid: the latest sample in
/// `(te - lookback, te]` unless it is a staleness marker. With `want_ts`
/// the value is the sample's timestamp in seconds (for `timestamp()`).
pub(crate) fn eval_vector(
    ev: &mut Evaluator,
    vs: &VectorSelector,
    grid: Grid,
    want_ts: bool,
) -> Result<Vec<SeriesOut>> {
    let mut src = VectorSource::select(ev, vs, grid, want_ts)?;
    let mut tally = WindowTally::new(grid);
    let out = src.part(ev, grid, src.len(), &mut tally)?;
    tally.count(ev)?;
    Ok(out)
}

/// The series an instant vector selector selected, their points computed
/// a part at a time (all at once in [`eval_vector`]).
pub(crate) struct VectorSource {
    series: std::vec::IntoIter<storage::querier::Series>,
    at: Option<i64>,
    offset: i64,
    lookback: i64,
    want_ts: bool,
}

impl VectorSource {
    /// Selects the series the grid needs.
    pub fn select(
        ev: &mut Evaluator,
        vs: &VectorSelector,
        grid: Grid,
        want_ts: bool,
    ) -> Result<VectorSource> {
        let at = ev.resolve_at(vs.at);
        let lookback = ev.opts.lookback_delta;
        let (min_te, max_te) = eval_time_bounds(at, vs.offset, grid);
        let started = Instant::now();
        let mint = min_te.saturating_sub(lookback).saturating_add(1);
        let querier = ev.q.querier(mint, max_te)?;
        let hints = ev.select_hints(mint, max_te, 0);
        let series = ev.selected(querier.select(&hints, &vs.matchers)?);
        ev.add_prepare_time(started.elapsed());
        Ok(VectorSource {
            series: series.into_iter(),
            at,
            offset: vs.offset,
            lookback,
            want_ts,
        })
    }

    /// Series not yet read.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// The series with points among the next `n`, read on the query's
    /// threads, what they held added to `tally`.
    pub fn part(
        &mut self,
        ev: &Evaluator,
        grid: Grid,
        n: usize,
        tally: &mut WindowTally,
    ) -> Result<Vec<SeriesOut>> {
        let series: Vec<storage::querier::Series> = self.series.by_ref().take(n).collect();
        let (at, offset, lookback, want_ts) = (self.at, self.offset, self.lookback, self.want_ts);
        let steps = grid.len();
        let limits = ev.limits();
        let produced = &tally.produced;
        let parts = ev.workers.map_parts(series, parallel_min(steps), |part| {
            let mut out = Vec::with_capacity(part.len());
            let mut buf: Vec<(i64, f64)> = Vec::new();
            let mut per_step = vec![0usize; steps];
            for s in part {
                limits.check("expression evaluation")?;
                buf.clear();
                s.read_into(&mut buf);
                let mut points = Vec::new();
                let mut i = 0usize; // first sample after te
                for (k, t) in grid.times().enumerate() {
                    let te = eval_time(at, offset, t);
                    while i < buf.len() && buf[i].0 <= te {
                        i += 1;
                    }
                    if i == 0 {
                        continue;
                    }
                    let (st, sv) = buf[i - 1];
                    if st <= te - lookback || is_stale_nan(sv) {
                        continue;
                    }
                    per_step[k] += 1;
                    points.push((t, if want_ts { st as f64 / 1000.0 } else { sv }));
                }
                if !points.is_empty() {
                    let n = points.len();
                    limits.check_output(produced.fetch_add(n, Ordering::Relaxed) + n)?;
                    out.push(SeriesOut::new(s.labels, points));
                }
            }
            Ok((out, per_step))
        });
        let (out, per_step) = join_parts(parts?, steps)?;
        tally.add(&per_step);
        Ok(out)
    }
}

/// Series per thread below which a selector's series are not split
/// between threads, for one step: starting a thread costs about as much as
/// reading a few hundred series at one step. Over many steps a series
/// costs as many times more (a window or a lookback per step), so fewer
/// series are worth a thread: a range query of 250 series × 240 steps
/// (`deriv` over 15 m windows) is tens of milliseconds of work.
const PARALLEL_MIN: usize = 512;

/// [`PARALLEL_MIN`] for a grid of `steps` steps.
fn parallel_min(steps: usize) -> usize {
    (PARALLEL_MIN / steps.max(1)).max(8)
}

/// The results of the threads of one node, in order: their series joined,
/// their per-step sample counts added. The first error wins.
fn join_parts<T>(
    parts: Vec<Result<(Vec<T>, Vec<usize>)>>,
    steps: usize,
) -> Result<(Vec<T>, Vec<usize>)> {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return Ok((Vec::new(), vec![0; steps]));
    };
    let (mut out, mut per_step) = first?;
    for part in parts {
        let (more, counts) = part?;
        out.extend(more);
        for (a, b) in per_step.iter_mut().zip(counts) {
            *a += b;
        }
    }
    Ok((out, per_step))
}

/// A range vector source: whole series (stale markers removed) plus how to
/// cut the window of each step: `(te - range, te]` with
/// `te = (at or t) - offset`.
pub(crate) struct RangeData {
    /// The series. When `raw` is set, their `points` are empty and the
    /// samples are read from storage, one series at a time, when windows
    /// are cut.
    pub series: Vec<SeriesOut>,
    raw: Option<Vec<storage::querier::Series>>,
    pub range: i64,
    pub offset: i64,
    pub at: Option<i64>,
}

/// Appends the samples of a storage series, staleness markers skipped.
fn read_samples(s: &storage::querier::Series, buf: &mut Vec<(i64, f64)>) {
    let from = buf.len();
    s.read_into(buf);
    // No early exit: the whole scan vectorises, and markers are rare.
    if buf[from..]
        .iter()
        .fold(false, |any, p| any | is_stale_nan(p.1))
    {
        let mut i = from;
        for j in from..buf.len() {
            if !is_stale_nan(buf[j].1) {
                buf[i] = buf[j];
                i += 1;
            }
        }
        buf.truncate(i);
    }
}

/// What a range function computes over the windows of
/// [`RangeData::map_windows_with`]; [`RangeData::map_windows`] takes a
/// closure `(step index, t, te, window) -> value` instead.
pub(crate) trait WindowFn {
    /// Called with all the samples of a series before its windows.
    fn start_series(&mut self, _samples: &[(i64, f64)]) {}
    /// The value at step `k` (time `t`, evaluation time `te`) of a
    /// non-empty window, if any.
    fn window(&mut self, k: usize, t: i64, te: i64, w: &[(i64, f64)]) -> Option<f64>;
}

/// Per series, the points of a range function and whether the series had
/// any non-empty window.
pub(crate) type SeriesPoints = (Vec<(i64, f64)>, bool);

/// What the windows of one node held and produced, summed over the parts
/// it is computed in: samples held per step, and the points produced
/// (shared by the threads, so the output limit holds for their sum).
pub(crate) struct WindowTally {
    per_step: Vec<usize>,
    produced: AtomicUsize,
}

impl WindowTally {
    pub fn new(grid: Grid) -> WindowTally {
        WindowTally {
            per_step: vec![0; grid.len()],
            produced: AtomicUsize::new(0),
        }
    }

    fn add(&mut self, per_step: &[usize]) {
        for (a, b) in self.per_step.iter_mut().zip(per_step) {
            *a += b;
        }
    }

    /// Counts the samples held per step, and checks the most held at one
    /// step against the limit: once per node, after all its parts.
    pub fn count(&self, ev: &Evaluator) -> Result<()> {
        for (k, &n) in self.per_step.iter().enumerate() {
            ev.count_samples(k, n as u64);
        }
        ev.check_samples(self.per_step.iter().copied().max().unwrap_or(0))
    }
}

/// A closure as a [`WindowFn`].
#[derive(Clone)]
pub(crate) struct Plain<F>(pub F);

impl<F: FnMut(usize, i64, i64, &[(i64, f64)]) -> Option<f64>> WindowFn for Plain<F> {
    #[inline(always)]
    fn window(&mut self, k: usize, t: i64, te: i64, w: &[(i64, f64)]) -> Option<f64> {
        (self.0)(k, t, te, w)
    }
}

impl RangeData {
    /// Samples already in memory (subquery results).
    pub fn loaded(series: Vec<SeriesOut>, range: i64, offset: i64, at: Option<i64>) -> RangeData {
        RangeData {
            series,
            raw: None,
            range,
            offset,
            at,
        }
    }

    pub fn eval_time(&self, t: i64) -> i64 {
        eval_time(self.at, self.offset, t)
    }

    /// Whether any series has a sample.
    pub fn has_samples(&self) -> bool {
        match &self.raw {
            None => !self.series.is_empty(),
            Some(raw) => raw.iter().any(|s| s.iter().any(|p| !is_stale_nan(p.1))),
        }
    }

    /// Reads the samples of lazily loaded series into memory, dropping
    /// series without any.
    fn materialize(&mut self) {
        let Some(raw) = self.raw.take() else {
            return;
        };
        let series = std::mem::take(&mut self.series);
        self.series = series
            .into_iter()
            .zip(raw)
            .filter_map(|(mut so, s)| {
                read_samples(&s, &mut so.points);
                (!so.points.is_empty()).then_some(so)
            })
            .collect();
    }

    /// The raw windows at one step (an instant query's range vector).
    pub fn windows_at(mut self, t: i64) -> Vec<SeriesOut> {
        self.materialize();
        let te = self.eval_time(t);
        let lo = te - self.range;
        self.series
            .into_iter()
            .filter_map(|s| {
                let points: Vec<(i64, f64)> = s
                    .points
                    .into_iter()
                    .filter(|p| p.0 > lo && p.0 <= te)
                    .collect();
                (!points.is_empty()).then_some(SeriesOut {
                    labels: s.labels,
                    points,
                    drop_name: s.drop_name,
                })
            })
            .collect()
    }

    /// Evaluates `f(step index, t, te, window)` at every step with a
    /// non-empty window, series by series. Returns per series the points
    /// `(t, value)` where `f` returned a value, and whether the series had
    /// any non-empty window.
    ///
    /// Generic over `f` so each range function gets its own copy of the
    /// loop with the function inlined; nothing is allocated per window.
    pub fn map_windows(
        &self,
        ev: &Evaluator,
        grid: Grid,
        f: impl FnMut(usize, i64, i64, &[(i64, f64)]) -> Option<f64>,
    ) -> Result<Vec<SeriesPoints>> {
        self.map_windows_with(ev, grid, Plain(f))
    }

    /// [`RangeData::map_windows`] with a [`WindowFn`].
    pub fn map_windows_with(
        &self,
        ev: &Evaluator,
        grid: Grid,
        f: impl WindowFn,
    ) -> Result<Vec<SeriesPoints>> {
        let mut f = f;
        let mut tally = WindowTally::new(grid);
        let all = 0..self.series.len();
        let out = self.windows_of(
            all,
            grid,
            &mut f,
            &mut tally.per_step,
            &tally.produced,
            ev.limits(),
        )?;
        tally.count(ev)?;
        Ok(out)
    }

    /// [`RangeData::map_windows_with`] over the series `part` only, split
    /// between the query's threads, each with its own copy of `f` (the
    /// same result), adding to `tally`; a node ends with
    /// [`WindowTally::count`] once all its parts are done.
    pub fn map_windows_part(
        &self,
        ev: &Evaluator,
        grid: Grid,
        f: impl WindowFn + Clone + Sync,
        part: Range<usize>,
        tally: &mut WindowTally,
    ) -> Result<Vec<SeriesPoints>> {
        let steps = grid.len();
        let limits = ev.limits();
        let produced = &tally.produced;
        let base = part.start;
        let parts = ev.workers.map_ranges(part.len(), parallel_min(steps), |r| {
            let mut f = f.clone();
            let mut per_step = vec![0usize; steps];
            let series = (base + r.start)..(base + r.end);
            let out = self.windows_of(series, grid, &mut f, &mut per_step, produced, limits)?;
            Ok((out, per_step))
        });
        let (out, per_step) = join_parts(parts?, steps)?;
        tally.add(&per_step);
        Ok(out)
    }

    /// The window loop over the series `series`: their points (see
    /// [`RangeData::map_windows`]), the samples held per step added to
    /// `per_step`, the points produced added to `produced` (shared by the
    /// threads of one node, so the output limit holds for their sum).
    fn windows_of<F: WindowFn>(
        &self,
        series: Range<usize>,
        grid: Grid,
        f: &mut F,
        per_step: &mut [usize],
        produced: &AtomicUsize,
        limits: Limits,
    ) -> Result<Vec<SeriesPoints>> {
        let steps = grid.len();
        let mut buf: Vec<(i64, f64)> = Vec::new();
        let mut out = Vec::with_capacity(series.len());
        // `te` moves with `t` unless pinned by `@`.
        let te_step = if self.at.is_some() { 0 } else { grid.step };
        for si in series {
            limits.check("expression evaluation")?;
            let p: &[(i64, f64)] = match &self.raw {
                None => &self.series[si].points,
                Some(raw) => {
                    buf.clear();
                    read_samples(&raw[si], &mut buf);
                    &buf
                }
            };
            if p.is_empty() {
                out.push((Vec::new(), false));
                continue;
            }
            f.start_series(p);
            let mut points: Vec<(i64, f64)> = Vec::with_capacity(steps);
            let slots = &mut points.spare_capacity_mut()[..steps];
            let mut filled = 0usize;
            // Samples held over all windows: whether any window was
            // non-empty, without a flag to keep up per window.
            let mut held_total = 0usize;
            let (mut lo, mut hi) = (0usize, 0usize);
            let (mut t, mut te) = (grid.start, self.eval_time(grid.start));
            for (k, held) in per_step.iter_mut().enumerate() {
                let start = te - self.range;
                while hi < p.len() && p[hi].0 <= te {
                    hi += 1;
                }
                let upto = &p[..hi];
                while lo < upto.len() && upto[lo].0 <= start {
                    lo += 1;
                }
                if lo < upto.len() {
                    let w = &upto[lo..];
                    *held += w.len();
                    held_total += w.len();
                    if let Some(v) = f.window(k, t, te, w) {
                        // At most one point per step: `filled <= k < steps`.
                        slots[filled].write((t, v));
                        filled += 1;
                    }
                }
                t = t.wrapping_add(grid.step);
                te = te.wrapping_add(te_step);
            }
            let any = held_total > 0;
            // SAFETY: the loop above initialised `slots[..filled]`, the
            // first `filled` elements of `points`' buffer, and `filled` is
            // at most its capacity `steps`.
            unsafe { points.set_len(filled) };
            if filled < steps / 2 {
                points.shrink_to_fit();
            }
            limits.check_output(produced.fetch_add(filled, Ordering::Relaxed) + filled)?;
            out.push((points, any));
        }
        Ok(out)
    }
}

/// Loads the samples a matrix selector needs over the whole grid.
pub(crate) fn load_range(ev: &mut Evaluator, ms: &MatrixSelector, grid: Grid) -> Result<RangeData> {
    let vs = &ms.vector;
    let at = ev.resolve_at(vs.at);
    let (min_te, max_te) = eval_time_bounds(at, vs.offset, grid);
    let started = Instant::now();
    let mint = min_te.saturating_sub(ms.range).saturating_add(1);
    let querier = ev.q.querier(mint, max_te)?;
    let hints = ev.select_hints(mint, max_te, ms.range);
    let mut series = ev.selected(querier.select(&hints, &vs.matchers)?);
    ev.add_prepare_time(started.elapsed());
    // Samples are read when windows are cut, one series at a time.
    let out = series
        .iter_mut()
        .map(|s| SeriesOut::new(std::mem::take(&mut s.labels), Vec::new()))
        .collect();
    Ok(RangeData {
        series: out,
        raw: Some(series),
        range: ms.range,
        offset: vs.offset,
        at,
    })
}
