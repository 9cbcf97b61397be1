//! Storage statistics as metrics, read from [`storage::Db::stats`] at every
//! render. Names are Prometheus's where the meaning is the same, so its
//! dashboards and alerts work; `ferroprom_*` names cover the rest.

use std::sync::Arc;

use storage::Stats;

use super::{labelled, single};
use crate::metrics::{Collected, Registry};

/// Registers a collector reporting `db`'s head, WAL, compaction and block
/// numbers.
pub fn register_storage_metrics(registry: &Registry, db: Arc<storage::Db>) {
    registry.collector(move || families(&db.stats()));
}

fn families(s: &Stats) -> Vec<Collected> {
    let float = [("type", "float")];
    let mut rejected = labelled(
        "ferroprom_tsdb_rejected_samples_total",
        "Samples the storage refused to append, by reason.",
        "counter",
        &[("reason", "out_of_order")],
        s.rejected_out_of_order as f64,
    );
    for (reason, n) in [
        ("duplicate", s.rejected_duplicate),
        ("out_of_bounds", s.rejected_out_of_bounds),
        ("too_far_in_future", s.rejected_too_far_in_future),
        ("wal_replay_too_far_in_future", s.replay_too_far_in_future),
    ] {
        rejected
            .samples
            .push((vec![("reason".into(), reason.into())], n as f64));
    }
    vec![
        single(
            "prometheus_tsdb_head_series",
            "Total number of series in the head block.",
            "gauge",
            s.head_series as f64,
        ),
        single(
            "prometheus_tsdb_head_chunks",
            "Total number of chunks in the head block.",
            "gauge",
            s.head_chunks as f64,
        ),
        single(
            "prometheus_tsdb_head_min_time",
            "Minimum time bound of the head block.",
            "gauge",
            s.head_min_time as f64,
        ),
        single(
            "prometheus_tsdb_head_max_time",
            "Maximum timestamp of the head block.",
            "gauge",
            s.head_max_time as f64,
        ),
        single(
            "prometheus_tsdb_head_min_time_seconds",
            "Minimum time bound of the head block.",
            "gauge",
            s.head_min_time as f64 / 1000.0,
        ),
        single(
            "prometheus_tsdb_head_max_time_seconds",
            "Maximum timestamp of the head block.",
            "gauge",
            s.head_max_time as f64 / 1000.0,
        ),
        labelled(
            "prometheus_tsdb_head_samples_appended_total",
            "Total number of appended samples.",
            "counter",
            &float,
            s.samples_appended as f64,
        ),
        single(
            "prometheus_tsdb_head_series_created_total",
            "Total number of series created in the head",
            "counter",
            s.series_created as f64,
        ),
        single(
            "prometheus_tsdb_head_series_removed_total",
            "Total number of series removed in the head",
            "counter",
            s.series_removed as f64,
        ),
        labelled(
            "prometheus_tsdb_out_of_order_samples_total",
            "Total number of out of order samples ingestion failed attempts.",
            "counter",
            &float,
            s.rejected_out_of_order as f64,
        ),
        labelled(
            "prometheus_tsdb_out_of_bound_samples_total",
            "Total number of out of bound samples ingestion failed attempts.",
            "counter",
            &float,
            s.rejected_out_of_bounds as f64,
        ),
        rejected,
        single(
            "prometheus_tsdb_wal_storage_size_bytes",
            "Size of the write log directory.",
            "gauge",
            s.wal_bytes as f64,
        ),
        // Prometheus has a summary here; the sum and count are what rates
        // and averages are built from, and are exact.
        single(
            "prometheus_tsdb_wal_fsync_duration_seconds_sum",
            "Total duration of write log fsyncs.",
            "counter",
            s.wal_fsync_seconds,
        ),
        single(
            "prometheus_tsdb_wal_fsync_duration_seconds_count",
            "Number of write log fsyncs.",
            "counter",
            s.wal_fsyncs as f64,
        ),
        single(
            "prometheus_tsdb_wal_corruptions_total",
            "Total number of WAL corruptions.",
            "counter",
            s.wal_corruption.is_some() as u8 as f64,
        ),
        single(
            "prometheus_tsdb_compactions_total",
            "Total number of compactions that were executed for the partition.",
            "counter",
            s.compactions as f64,
        ),
        single(
            "prometheus_tsdb_compactions_failed_total",
            "Total number of compactions that failed for the partition.",
            "counter",
            s.compactions_failed as f64,
        ),
        single(
            "ferroprom_tsdb_compaction_seconds_total",
            "Time spent compacting, retention and tombstone cleaning included.",
            "counter",
            s.compaction_seconds,
        ),
        single(
            "prometheus_tsdb_time_retentions_total",
            "The number of times that blocks were deleted because the maximum time limit was exceeded.",
            "counter",
            s.time_retentions as f64,
        ),
        single(
            "prometheus_tsdb_size_retentions_total",
            "The number of times that blocks were deleted because the maximum number of bytes was exceeded.",
            "counter",
            s.size_retentions as f64,
        ),
        single(
            "prometheus_tsdb_blocks_loaded",
            "Number of currently loaded data blocks",
            "gauge",
            s.blocks as f64,
        ),
        single(
            "prometheus_tsdb_storage_blocks_bytes",
            "The number of bytes that are currently used for local storage by all blocks.",
            "gauge",
            s.block_bytes as f64,
        ),
        single(
            "ferroprom_tsdb_blocks_skipped",
            "Blocks that failed to open at startup and are not served.",
            "gauge",
            s.blocks_corrupt as f64,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_stats_under_prometheus_names() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(
            storage::Db::open(
                dir.path(),
                storage::Options {
                    compaction_interval: None,
                    ..Default::default()
                },
            )
            .unwrap(),
        );
        let mut app = db.appender();
        let l = storage::Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        app.append(&l, 1_000, 1.0).unwrap();
        app.append(&l, 2_000, 1.0).unwrap();
        assert!(app.append(&l, 1_500, 1.0).is_err());
        app.commit().unwrap();

        let registry = Registry::new();
        register_storage_metrics(&registry, Arc::clone(&db));
        let text = registry.render();
        for line in [
            "prometheus_tsdb_head_series 1\n",
            "prometheus_tsdb_head_min_time 1000\n",
            "prometheus_tsdb_head_max_time_seconds 2\n",
            "prometheus_tsdb_head_samples_appended_total{type=\"float\"} 2\n",
            "prometheus_tsdb_out_of_order_samples_total{type=\"float\"} 1\n",
            "ferroprom_tsdb_rejected_samples_total{reason=\"out_of_order\"} 1\n",
            "ferroprom_tsdb_rejected_samples_total{reason=\"duplicate\"} 0\n",
            "prometheus_tsdb_blocks_loaded 0\n",
            "# TYPE prometheus_tsdb_compactions_total counter\n",
            "prometheus_tsdb_time_retentions_total 0\n",
            "prometheus_tsdb_size_retentions_total 0\n",
            "# TYPE prometheus_tsdb_head_chunks gauge\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        // Collected at render time: new data shows up in the next render.
        let mut app = db.appender();
        app.append(&l, 3_000, 1.0).unwrap();
        app.commit().unwrap();
        assert!(registry
            .render()
            .contains("prometheus_tsdb_head_samples_appended_total{type=\"float\"} 3\n"));
    }
}
