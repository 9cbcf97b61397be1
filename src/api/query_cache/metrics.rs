//! The cache's `/metrics` families, `ferroprom_query_cache_*`.

use std::sync::Arc;

use super::store::Effect;
use crate::metrics::{Counter, Gauge, Registry};

pub struct CacheMetrics {
    hits: Arc<Counter>,
    partial_hits: Arc<Counter>,
    misses: Arc<Counter>,
    pub uncacheable: Arc<Counter>,
    steps_cached: Arc<Counter>,
    steps_evaluated: Arc<Counter>,
    evictions: Arc<Counter>,
    invalidations: Arc<Counter>,
    bytes: Arc<Gauge>,
    entries: Arc<Gauge>,
}

impl CacheMetrics {
    pub fn new(registry: &Registry, max_bytes: usize) -> CacheMetrics {
        let requests = registry.counter_vec(
            "ferroprom_query_cache_requests_total",
            "Range queries by how the result cache answered them: hit (all steps cached), partial (some evaluated), miss (none cached), uncacheable (not looked up).",
            &["result"],
        );
        let steps = registry.counter_vec(
            "ferroprom_query_cache_steps_total",
            "Evaluation steps of range queries through the result cache, by whether they came from it or were evaluated.",
            &["source"],
        );
        registry
            .gauge(
                "ferroprom_query_cache_max_bytes",
                "The result cache's budget (--query.cache-max-bytes).",
            )
            .set(max_bytes as f64);
        CacheMetrics {
            hits: requests.with(&["hit"]),
            partial_hits: requests.with(&["partial"]),
            misses: requests.with(&["miss"]),
            uncacheable: requests.with(&["uncacheable"]),
            steps_cached: steps.with(&["cache"]),
            steps_evaluated: steps.with(&["evaluated"]),
            evictions: registry.counter(
                "ferroprom_query_cache_evictions_total",
                "Result cache entries evicted to stay within --query.cache-max-bytes.",
            ),
            invalidations: registry.counter(
                "ferroprom_query_cache_invalidations_total",
                "Result cache entries cut back or dropped because data at or before their times changed.",
            ),
            bytes: registry.gauge(
                "ferroprom_query_cache_bytes",
                "Estimated bytes held by the result cache.",
            ),
            entries: registry.gauge(
                "ferroprom_query_cache_entries",
                "Queries with results in the result cache.",
            ),
        }
    }

    /// A request answered with `cached` steps from the cache and
    /// `evaluated` ones from the engine.
    pub fn served(&self, cached: u64, evaluated: u64) {
        match (cached, evaluated) {
            (0, _) => self.misses.inc(),
            (_, 0) => self.hits.inc(),
            _ => self.partial_hits.inc(),
        }
        self.steps_cached.add(cached as f64);
        self.steps_evaluated.add(evaluated as f64);
    }

    /// The store changed: `effect`, and its size now.
    pub fn changed(&self, effect: Effect, bytes: usize, entries: usize) {
        self.invalidations.add(effect.invalidated as f64);
        self.evictions.add(effect.evicted as f64);
        self.bytes.set(bytes as f64);
        self.entries.set(entries as f64);
    }
}
