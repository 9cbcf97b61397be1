//! The notifier's self-metrics, with Prometheus's names, help and labels
//! (`alertmanager` is the URL alerts are posted to).

use std::sync::Arc;

use crate::metrics::{Counter, CounterVec, Gauge, HistogramVec, Registry};

#[derive(Clone)]
pub(crate) struct Metrics {
    pub(crate) sent: CounterVec,
    /// Counts alerts in failed posts, not failed posts (Prometheus 3.1+).
    pub(crate) errors: CounterVec,
    /// Prometheus has a summary here; the registry has no summaries, so a
    /// histogram with Prometheus's notification-latency buckets keeps
    /// `_sum` and `_count` (and so average latency) the same.
    pub(crate) latency: HistogramVec,
    /// Alerts lost to a full queue or to a batch no Alertmanager took.
    pub(crate) dropped: Arc<Counter>,
    pub(crate) queue_length: Arc<Gauge>,
    pub(crate) discovered: Arc<Gauge>,
}

impl Metrics {
    pub(crate) fn new(registry: &Registry, capacity: usize) -> Metrics {
        let label = &["alertmanager"];
        registry
            .gauge(
                "prometheus_notifications_queue_capacity",
                "The capacity of the alert notifications queue.",
            )
            .set(capacity as f64);
        Metrics {
            latency: registry.histogram_vec(
                "prometheus_notifications_latency_seconds",
                "Latency quantiles for sending alert notifications.",
                label,
                &[0.01, 0.1, 1.0, 10.0],
            ),
            errors: registry.counter_vec(
                "prometheus_notifications_errors_total",
                "Total number of sent alerts affected by errors.",
                label,
            ),
            sent: registry.counter_vec(
                "prometheus_notifications_sent_total",
                "Total number of alerts sent.",
                label,
            ),
            dropped: registry.counter(
                "prometheus_notifications_dropped_total",
                "Total number of alerts dropped due to errors when sending to Alertmanager.",
            ),
            queue_length: registry.gauge(
                "prometheus_notifications_queue_length",
                "The number of alert notifications in the queue.",
            ),
            discovered: registry.gauge(
                "prometheus_notifications_alertmanagers_discovered",
                "The number of alertmanagers discovered and active.",
            ),
        }
    }
}
