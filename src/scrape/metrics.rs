//! The scrape manager's self-metrics, named as Prometheus names them.
//!
//! Prometheus exports `prometheus_target_interval_length_seconds` and
//! `prometheus_target_sync_length_seconds` as summaries; the registry here
//! has no summaries, so they are histograms under the same names (their
//! `_sum` and `_count` mean the same).

use std::sync::Arc;

use crate::metrics::{Counter, CounterVec, GaugeVec, Histogram, HistogramVec, Registry};

use super::ingest::ScrapeReport;
use super::ScrapeError;

const INTERVAL_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

pub(crate) struct ScrapeMetrics {
    pub(crate) interval_length: HistogramVec,
    pub(crate) scrape_duration: Arc<Histogram>,
    exceeded_sample_limit: Arc<Counter>,
    exceeded_body_size_limit: Arc<Counter>,
    exceeded_label_limits: Arc<Counter>,
    pub(crate) exceeded_target_limit: Arc<Counter>,
    out_of_order: Arc<Counter>,
    duplicate: Arc<Counter>,
    out_of_bounds: Arc<Counter>,
    /// Scrapes whose samples storage could not take (a full or failing
    /// disk); Prometheus only logs these.
    append_failed: Arc<Counter>,
    pub(crate) pool_targets: GaugeVec,
    pub(crate) pool_target_limit: GaugeVec,
    pub(crate) sync_length: HistogramVec,
    pub(crate) syncs: CounterVec,
    pub(crate) sync_failed: CounterVec,
    pub(crate) pools: Arc<Counter>,
    pub(crate) pools_failed: Arc<Counter>,
    pub(crate) pool_reloads: Arc<Counter>,
    pub(crate) pool_reloads_failed: Arc<Counter>,
    pub(crate) sd_discovered: GaugeVec,
}

impl ScrapeMetrics {
    pub(crate) fn new(r: &Registry) -> Self {
        ScrapeMetrics {
            interval_length: r.histogram_vec(
                "prometheus_target_interval_length_seconds",
                "Actual intervals between scrapes.",
                &["interval"],
                INTERVAL_BUCKETS,
            ),
            scrape_duration: r
                .histogram_vec(
                    "prometheus_target_scrape_duration_seconds",
                    "Scrape request latency histogram.",
                    &[],
                    crate::metrics::DEFAULT_BUCKETS,
                )
                .with(&[]),
            exceeded_sample_limit: r.counter(
                "prometheus_target_scrapes_exceeded_sample_limit_total",
                "Total number of scrapes that hit the sample limit and were rejected.",
            ),
            exceeded_body_size_limit: r.counter(
                "prometheus_target_scrapes_exceeded_body_size_limit_total",
                "Total number of scrapes that hit the body size limit",
            ),
            exceeded_label_limits: r.counter(
                "prometheus_target_scrape_pool_exceeded_label_limits_total",
                "Total number of times scrape pools hit the label limits, during sync or config reload.",
            ),
            exceeded_target_limit: r.counter(
                "prometheus_target_scrape_pool_exceeded_target_limit_total",
                "Total number of times scrape pools hit the target limit, during sync or config reload.",
            ),
            out_of_order: r.counter(
                "prometheus_target_scrapes_sample_out_of_order_total",
                "Total number of samples rejected due to not being out of the expected order.",
            ),
            duplicate: r.counter(
                "prometheus_target_scrapes_sample_duplicate_timestamp_total",
                "Total number of samples rejected due to duplicate timestamps but different values.",
            ),
            out_of_bounds: r.counter(
                "prometheus_target_scrapes_sample_out_of_bounds_total",
                "Total number of samples rejected due to timestamp falling outside of the time bounds.",
            ),
            append_failed: r.counter(
                "ferroprom_target_scrapes_append_failed_total",
                "Total number of scrapes whose samples could not be stored (storage I/O errors).",
            ),
            pool_targets: r.gauge_vec(
                "prometheus_target_scrape_pool_targets",
                "Current number of targets in this scrape pool.",
                &["scrape_job"],
            ),
            pool_target_limit: r.gauge_vec(
                "prometheus_target_scrape_pool_target_limit",
                "Maximum number of targets allowed in this scrape pool.",
                &["scrape_job"],
            ),
            sync_length: r.histogram_vec(
                "prometheus_target_sync_length_seconds",
                "Actual interval to sync the scrape pool.",
                &["scrape_job"],
                crate::metrics::DEFAULT_BUCKETS,
            ),
            syncs: r.counter_vec(
                "prometheus_target_scrape_pool_sync_total",
                "Total number of syncs that were executed on a scrape pool.",
                &["scrape_job"],
            ),
            sync_failed: r.counter_vec(
                "prometheus_target_sync_failed_total",
                "Total number of target sync failures.",
                &["scrape_job"],
            ),
            pools: r.counter(
                "prometheus_target_scrape_pools_total",
                "Total number of scrape pool creation attempts.",
            ),
            pools_failed: r.counter(
                "prometheus_target_scrape_pools_failed_total",
                "Total number of scrape pool creations that failed.",
            ),
            pool_reloads: r.counter(
                "prometheus_target_scrape_pool_reloads_total",
                "Total number of scrape pool reloads.",
            ),
            pool_reloads_failed: r.counter(
                "prometheus_target_scrape_pool_reloads_failed_total",
                "Total number of failed scrape pool reloads.",
            ),
            sd_discovered: r.gauge_vec(
                "prometheus_sd_discovered_targets",
                "Current number of discovered targets.",
                &["config", "name"],
            ),
        }
    }

    /// Counts one finished scrape.
    pub(crate) fn observe(&self, report: &ScrapeReport, error: Option<&ScrapeError>) {
        self.out_of_order.add(report.out_of_order as f64);
        self.duplicate.add(report.duplicates as f64);
        self.out_of_bounds.add(report.out_of_bounds as f64);
        match error {
            Some(ScrapeError::SampleLimit) => self.exceeded_sample_limit.inc(),
            Some(ScrapeError::BodySizeLimit) => self.exceeded_body_size_limit.inc(),
            Some(
                ScrapeError::LabelLimit { .. }
                | ScrapeError::LabelNameLengthLimit { .. }
                | ScrapeError::LabelValueLengthLimit { .. },
            ) => self.exceeded_label_limits.inc(),
            Some(ScrapeError::Storage(_)) => self.append_failed.inc(),
            _ => {}
        }
    }
}
