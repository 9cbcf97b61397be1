//! The sender's self-monitoring, under Prometheus 2.x's names. Families
//! are registered once per server; each queue takes its children by
//! `remote_name` and `url`.

use std::sync::Arc;

use crate::metrics::{Counter, CounterVec, Gauge, GaugeVec, Histogram, HistogramVec, Registry};

/// The metric families, registered once.
#[derive(Clone)]
pub(crate) struct Families {
    samples: CounterVec,
    failed: CounterVec,
    retried: CounterVec,
    dropped: CounterVec,
    pending: GaugeVec,
    shards: GaugeVec,
    shards_desired: GaugeVec,
    shards_min: GaugeVec,
    shards_max: GaugeVec,
    highest_sent: GaugeVec,
    batch_duration: HistogramVec,
    bytes: CounterVec,
    wal_gaps: CounterVec,
    metadata: CounterVec,
    metadata_failed: CounterVec,
    metadata_retried: CounterVec,
    metadata_bytes: CounterVec,
    /// Unlabeled, as Prometheus: the newest timestamp appended (here: read
    /// from the WAL by any queue).
    pub(crate) highest_in: Arc<Gauge>,
}

const LABELS: &[&str] = &["remote_name", "url"];

impl Families {
    pub(crate) fn register(r: &Registry) -> Self {
        let c = |name: &str, help: &str| r.counter_vec(name, help, LABELS);
        let g = |name: &str, help: &str| r.gauge_vec(name, help, LABELS);
        Families {
            samples: c(
                "prometheus_remote_storage_samples_total",
                "Total number of samples sent to remote storage.",
            ),
            failed: c(
                "prometheus_remote_storage_samples_failed_total",
                "Total number of samples which failed on send to remote storage, non-recoverable errors.",
            ),
            retried: c(
                "prometheus_remote_storage_samples_retried_total",
                "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.",
            ),
            dropped: c(
                "prometheus_remote_storage_samples_dropped_total",
                "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling or unintentionally because of an unknown reference ID.",
            ),
            pending: g(
                "prometheus_remote_storage_samples_pending",
                "The number of samples pending in the queues shards to be sent to the remote storage.",
            ),
            shards: g(
                "prometheus_remote_storage_shards",
                "The number of shards used for parallel sending to the remote storage.",
            ),
            shards_desired: g(
                "prometheus_remote_storage_shards_desired",
                "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.",
            ),
            shards_min: g(
                "prometheus_remote_storage_shards_min",
                "The minimum number of shards that the queue is allowed to run.",
            ),
            shards_max: g(
                "prometheus_remote_storage_shards_max",
                "The maximum number of shards that the queue is allowed to run.",
            ),
            highest_sent: g(
                "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
                "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.",
            ),
            batch_duration: r.histogram_vec(
                "prometheus_remote_storage_sent_batch_duration_seconds",
                "Duration of send calls to the remote storage.",
                LABELS,
                &[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0,
                    120.0, 300.0,
                ],
            ),
            bytes: c(
                "prometheus_remote_storage_bytes_total",
                "The total number of bytes of data (not metadata) sent by the queue after compression.",
            ),
            wal_gaps: c(
                "ferroprom_remote_storage_wal_segments_skipped_total",
                "Times the queue's WAL reader had to skip data it had not sent yet (segments deleted by WAL truncation, or damaged).",
            ),
            metadata: c(
                "prometheus_remote_storage_metadata_total",
                "Total number of metadata entries sent to remote storage.",
            ),
            metadata_failed: c(
                "prometheus_remote_storage_metadata_failed_total",
                "Total number of metadata entries which failed on send to remote storage, non-recoverable errors.",
            ),
            metadata_retried: c(
                "prometheus_remote_storage_metadata_retried_total",
                "Total number of metadata entries which failed on send to remote storage but were retried because the send error was recoverable.",
            ),
            metadata_bytes: c(
                "prometheus_remote_storage_metadata_bytes_total",
                "The total number of bytes of metadata sent by the queue after compression.",
            ),
            highest_in: r.gauge(
                "prometheus_remote_storage_highest_timestamp_in_seconds",
                "Highest timestamp that has come into the remote storage via the Appender interface, in seconds since epoch.",
            ),
        }
    }

    /// Removes a stopped queue's children, so its series leave `/metrics`
    /// as Prometheus unregisters a stopped queue's metrics. A queue started
    /// later under the same name and URL begins from zero.
    pub(crate) fn remove_queue(&self, name: &str, url: &str) {
        let url = crate::config::redact::redact_url(url);
        let l = [name, &url];
        for c in [
            &self.samples,
            &self.failed,
            &self.retried,
            &self.dropped,
            &self.bytes,
            &self.wal_gaps,
            &self.metadata,
            &self.metadata_failed,
            &self.metadata_retried,
            &self.metadata_bytes,
        ] {
            c.remove(&l);
        }
        for g in [
            &self.pending,
            &self.shards,
            &self.shards_desired,
            &self.shards_min,
            &self.shards_max,
            &self.highest_sent,
        ] {
            g.remove(&l);
        }
        self.batch_duration.remove(&l);
    }

    pub(crate) fn for_queue(&self, name: &str, url: &str) -> QueueMetrics {
        // `/metrics` is readable by anyone who can scrape: no password in it.
        let url = crate::config::redact::redact_url(url);
        let l = [name, &url];
        QueueMetrics {
            samples: self.samples.with(&l),
            failed: self.failed.with(&l),
            retried: self.retried.with(&l),
            dropped: self.dropped.with(&l),
            pending: self.pending.with(&l),
            shards: self.shards.with(&l),
            shards_desired: self.shards_desired.with(&l),
            shards_min: self.shards_min.with(&l),
            shards_max: self.shards_max.with(&l),
            highest_sent: self.highest_sent.with(&l),
            batch_duration: self.batch_duration.with(&l),
            bytes: self.bytes.with(&l),
            wal_gaps: self.wal_gaps.with(&l),
            metadata: self.metadata.with(&l),
            metadata_failed: self.metadata_failed.with(&l),
            metadata_retried: self.metadata_retried.with(&l),
            metadata_bytes: self.metadata_bytes.with(&l),
            highest_in: Arc::clone(&self.highest_in),
        }
    }
}

/// One queue's children.
pub(crate) struct QueueMetrics {
    pub(crate) samples: Arc<Counter>,
    pub(crate) failed: Arc<Counter>,
    pub(crate) retried: Arc<Counter>,
    pub(crate) dropped: Arc<Counter>,
    pub(crate) pending: Arc<Gauge>,
    pub(crate) shards: Arc<Gauge>,
    pub(crate) shards_desired: Arc<Gauge>,
    pub(crate) shards_min: Arc<Gauge>,
    pub(crate) shards_max: Arc<Gauge>,
    pub(crate) highest_sent: Arc<Gauge>,
    pub(crate) batch_duration: Arc<Histogram>,
    pub(crate) bytes: Arc<Counter>,
    pub(crate) wal_gaps: Arc<Counter>,
    pub(crate) metadata: Arc<Counter>,
    pub(crate) metadata_failed: Arc<Counter>,
    pub(crate) metadata_retried: Arc<Counter>,
    pub(crate) metadata_bytes: Arc<Counter>,
    pub(crate) highest_in: Arc<Gauge>,
}

/// Raises `g` to `v` if `v` is higher (several writers, monotonic value).
pub(crate) fn raise(g: &Gauge, v: f64) {
    if v > g.get() {
        g.set(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_queue_leaves_the_exposition_and_restarts_from_zero() {
        let r = Registry::new();
        let f = Families::register(&r);
        let a = f.for_queue("a", "http://127.0.0.1:1/w");
        let b = f.for_queue("b", "http://127.0.0.1:2/w");
        a.samples.add(5.0);
        a.batch_duration.observe(0.1);
        a.shards.set(2.0);
        b.samples.add(1.0);
        f.remove_queue("a", "http://127.0.0.1:1/w");
        let text = r.render();
        assert!(!text.contains("remote_name=\"a\""), "{text}");
        assert!(text.contains("prometheus_remote_storage_samples_total{remote_name=\"b\""));
        let again = f.for_queue("a", "http://127.0.0.1:1/w");
        assert_eq!(again.samples.get(), 0.0);
    }

    #[test]
    fn a_password_in_the_url_never_reaches_the_exposition() {
        let r = Registry::new();
        let f = Families::register(&r);
        f.for_queue("a", "http://user:s3cret@127.0.0.1:1/w")
            .samples
            .add(1.0);
        let text = r.render();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(
            text.contains("url=\"http://user:xxxxx@127.0.0.1:1/w\""),
            "{text}"
        );
        f.remove_queue("a", "http://user:s3cret@127.0.0.1:1/w");
        assert!(!r.render().contains("remote_name=\"a\""));
    }
}
