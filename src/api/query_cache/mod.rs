//! A cache of range-query results for dashboards, which ask for the same
//! range again every few seconds, moved forward a little.
//!
//! Results are kept per [`Key`] (query, step, grid phase, lookback) as a
//! run of evaluation times with the series and points found there. A
//! request is answered from the cached times it covers; only the times
//! outside them (typically the newest few steps) go through the engine,
//! and the parts are joined per series in label order, exactly as one
//! evaluation of the whole range answers (each step of a range query is
//! evaluated on its own; see [`key`] for the queries where that fails and
//! which are never cached).
//!
//! Invalidation: storage's [`ChangeFeed`](storage::change_feed::ChangeFeed)
//! gives the oldest timestamp changed since the cache last looked (new
//! samples, deletions, retention); data at `t` can only change results at
//! evaluation times `≥ t`, so every run is cut back to before it. The
//! feed is read before a request looks up its run and again before the
//! result is stored, and a result computed across an invalidation is cut
//! by it too, so a concurrent commit is never lost. Times after the wall
//! clock are not stored.
//!
//! What is not cached: requests with `stats` (per-step statistics would
//! need the cached steps' counts), queries that read `remote_read:`
//! endpoints (their data changes without storage knowing), and
//! evaluations that returned warnings or infos (an annotation cannot be
//! tied to the steps that raised it; the answer is still served, its
//! cached part came from evaluations without annotations).
//!
//! Limits: the evaluated times go through the engine as any query
//! (timeout, `--query.max-samples`, `--query.max-memory`, cancellation),
//! and joining the parts runs in the query's memory budget. Times served
//! from the cache are not re-checked against `--query.max-samples`: a
//! range built up by refreshes may be answered although evaluating all
//! of it at once would pass the limit.

mod key;
mod merge;
mod metrics;
mod store;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use promql::{QueryResult, QueryStats, Series, Value};

pub use key::Key;
use merge::{join, keep, slice, Plan, Span};
use metrics::CacheMetrics;
use store::{series_bytes, Run, Store};

use crate::metrics::Registry;

/// The cache of one server (see the module documentation).
pub struct QueryCache {
    store: Mutex<Store>,
    db: Arc<storage::Db>,
    metrics: CacheMetrics,
}

impl QueryCache {
    /// A cache of at most `max_bytes` (estimated) over `db`, counting in
    /// `registry`; `None` when `max_bytes` is 0 (`--query.cache-max-bytes=0`).
    pub fn new(max_bytes: usize, db: Arc<storage::Db>, registry: &Registry) -> Option<QueryCache> {
        if max_bytes == 0 {
            return None;
        }
        // What happened before the cache existed does not concern it.
        let _ = db.changes().take();
        Some(QueryCache {
            store: Mutex::new(Store::new(max_bytes)),
            db,
            metrics: CacheMetrics::new(registry, max_bytes),
        })
    }

    /// Counts a range query answered without the cache.
    pub fn note_uncacheable(&self) {
        self.metrics.uncacheable.inc();
    }

    /// Answers the range query of `key` over `[start, end]` from the cache
    /// and `eval`, which evaluates the query at the grid times of its
    /// arguments (`from`, `to`, both on the grid) through the engine. The
    /// answer is the one evaluating `[start, end]` at once gives.
    pub fn range<E>(
        &self,
        key: Key,
        start: i64,
        end: i64,
        mut eval: impl FnMut(i64, i64) -> Result<QueryResult, E>,
    ) -> Result<QueryResult, E> {
        let step = key.step();
        let last = start + (end - start) / step * step;
        let (run, mark) = {
            let mut store = self.store.lock();
            self.sync(&mut store);
            (store.get(&key), store.mark())
        };
        let plan = Plan::new(start, last, step, run.as_ref());
        let mut parts: Vec<Vec<Series>> = Vec::with_capacity(3);
        let mut annotated = false;
        let mut warnings: Vec<String> = Vec::new();
        let mut infos: Vec<String> = Vec::new();
        let mut stats = QueryStats::default();
        let mut evaluate = |span: Span, parts: &mut Vec<Vec<Series>>| -> Result<(), E> {
            let r = eval(span.from, span.to)?;
            annotated |= !r.warnings.is_empty() || !r.infos.is_empty();
            add_new(&mut warnings, r.warnings);
            add_new(&mut infos, r.infos);
            add_stats(&mut stats, &r.stats);
            if let Value::Matrix(m) = r.value {
                parts.push(m);
            }
            Ok(())
        };
        if let Some(span) = plan.before {
            evaluate(span, &mut parts)?;
        }
        if let (Some(span), Some(run)) = (plan.cached, &run) {
            parts.push(slice(run, span));
        }
        if let Some(span) = plan.after {
            evaluate(span, &mut parts)?;
        }
        let steps = |s: Option<Span>| s.map_or(0, |s| ((s.to - s.from) / step + 1) as u64);
        let evaluated = steps(plan.before) + steps(plan.after);
        let cached = steps(plan.cached);
        self.metrics.served(cached, evaluated);
        let series = join(parts);
        let stored_to = last.min(floor_on_grid(now_ms(), start, step));
        // An answer larger than the whole budget is not copied to be
        // refused.
        let fits = || series_bytes(&series) <= self.store.lock().max_bytes();
        if !annotated && stored_to >= start && fits() {
            let span = Span {
                from: start,
                to: stored_to,
            };
            let run = Run {
                from: start,
                to: stored_to,
                series: Arc::new(keep(series.clone(), span)),
            };
            let mut store = self.store.lock();
            self.sync(&mut store);
            let effect = store.put(key, run, mark);
            self.metrics.changed(effect, store.bytes(), store.len());
        }
        Ok(QueryResult {
            value: Value::Matrix(series),
            warnings,
            infos,
            stats,
        })
    }

    /// Applies the changes storage noted since the last look.
    fn sync(&self, store: &mut Store) {
        if let Some(t) = self.db.changes().take() {
            let effect = store.invalidate(t);
            self.metrics.changed(effect, store.bytes(), store.len());
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The last time at or before `t` on the grid `start + k·step`
/// (`start - step` when `t` is before `start`).
fn floor_on_grid(t: i64, start: i64, step: i64) -> i64 {
    start + (t - start).div_euclid(step) * step
}

/// Appends the messages of `new` not in `all` yet, in order.
fn add_new(all: &mut Vec<String>, new: Vec<String>) {
    for m in new {
        if !all.contains(&m) {
            all.push(m);
        }
    }
}

/// What the evaluations of several parts cost together.
fn add_stats(total: &mut QueryStats, part: &QueryStats) {
    total.total_samples += part.total_samples;
    total.peak_samples = total.peak_samples.max(part.peak_samples);
    total.prepare_time += part.prepare_time;
    total.sort_time += part.sort_time;
    total.eval_time += part.eval_time;
}

#[cfg(test)]
mod tests;
