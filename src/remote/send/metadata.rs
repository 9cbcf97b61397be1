//! Metric metadata sending (`metadata_config`), as Prometheus 2.42 does it:
//! every `send_interval` the TYPE/HELP/UNIT of every active target's metric
//! families, deduplicated, goes out in `WriteRequest.metadata` (no time
//! series), `max_samples_per_send` entries per request, one request after
//! the other, under the samples' retry rules. A refused request is counted
//! in `metadata_failed_total` and the remaining ones are still sent;
//! nothing is kept for later, as the next interval sends the whole set again.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use super::retry::{deliver, Delivered};
use super::shards::ShardCtx;
use crate::config::remote_write::MetadataConfig;
use crate::remote::proto::{self, MetricType, WriteRequest};
use crate::scrape::status::ScrapeStatus;

/// Where the metadata to send comes from: the scrape manager.
pub type MetadataSource = Arc<dyn ScrapeStatus>;

/// The metadata of all active targets, each distinct (name, type, help,
/// unit) once, in target order.
fn collect(source: &dyn ScrapeStatus) -> Vec<proto::MetricMetadata> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (_, list) in source.metadata() {
        for md in list {
            let entry = proto::MetricMetadata {
                r#type: metric_type(&md.kind) as i32,
                metric_family_name: md.metric,
                help: md.help,
                unit: md.unit,
            };
            let key = (
                entry.metric_family_name.clone(),
                entry.r#type,
                entry.help.clone(),
                entry.unit.clone(),
            );
            if seen.insert(key) {
                out.push(entry);
            }
        }
    }
    out
}

/// The protobuf type for a scrape-side type name; anything unknown is
/// `UNKNOWN`, as in Prometheus.
fn metric_type(kind: &str) -> MetricType {
    match kind {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "gaugehistogram" => MetricType::Gaugehistogram,
        "summary" => MetricType::Summary,
        "info" => MetricType::Info,
        "stateset" => MetricType::Stateset,
        _ => MetricType::Unknown,
    }
}

/// A snappy-compressed `WriteRequest` holding only `list`.
fn encode(list: &[proto::MetricMetadata]) -> Result<Bytes, snap::Error> {
    let req = WriteRequest {
        timeseries: Vec::new(),
        metadata: list.to_vec(),
    };
    let raw = req.encode_to_vec();
    Ok(Bytes::from(snap::raw::Encoder::new().compress_vec(&raw)?))
}

/// Requests for one round: `per_send` entries each (all in one when 0).
fn chunks(
    list: &[proto::MetricMetadata],
    per_send: usize,
) -> std::slice::Chunks<'_, proto::MetricMetadata> {
    list.chunks(if per_send == 0 {
        list.len().max(1)
    } else {
        per_send
    })
}

/// The queue's metadata task: a round every `send_interval`, the first one
/// interval after the start (as Prometheus's ticker). Ends when aborted.
pub(crate) async fn run(ctx: Arc<ShardCtx>, source: MetadataSource, cfg: MetadataConfig) {
    let period = cfg.send_interval.as_std();
    if period.is_zero() {
        tracing::warn!(remote_name = %ctx.name, "remote write: metadata_config.send_interval is 0; not sending metadata");
        return;
    }
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut abort = ctx.abort.subscribe();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = abort.wait_for(|a| *a) => return,
        }
        let list = collect(source.as_ref());
        for chunk in chunks(&list, cfg.max_samples_per_send) {
            if !send(&ctx, chunk, &mut abort).await {
                return;
            }
        }
    }
}

/// Sends one request of metadata; false if the queue was aborted.
async fn send(
    ctx: &ShardCtx,
    chunk: &[proto::MetricMetadata],
    abort: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    let n = chunk.len() as f64;
    let body = match encode(chunk) {
        Ok(b) => b,
        // Only a request beyond snappy's 4 GiB input limit gets here.
        Err(e) => {
            ctx.metrics.metadata_failed.add(n);
            tracing::error!(remote_name = %ctx.name, count = chunk.len(), error = %e, "remote write: encoding metadata");
            return true;
        }
    };
    let outcome = deliver(
        &ctx.client,
        &body,
        (ctx.min_backoff, ctx.max_backoff),
        abort,
        &ctx.metrics.batch_duration,
        |r| {
            ctx.metrics.metadata_retried.add(n);
            if r.attempt == 1 {
                tracing::warn!(remote_name = %ctx.name, error = %r.why, retry_in = ?r.wait, "remote write: recoverable error sending metadata; retrying");
            }
        },
    )
    .await;
    match outcome {
        Delivered::Sent { .. } => {
            ctx.metrics.metadata.add(n);
            ctx.metrics.metadata_bytes.add(body.len() as f64);
            true
        }
        Delivered::Refused { status, why } => {
            ctx.metrics.metadata_failed.add(n);
            tracing::error!(remote_name = %ctx.name, status, count = chunk.len(), error = %why, "remote write: non-recoverable error while sending metadata");
            true
        }
        Delivered::Aborted => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::status::{ActiveTarget, DroppedTarget, MetricMetadata};
    use storage::Labels;

    struct Fixed(Vec<(Labels, Vec<MetricMetadata>)>);

    impl ScrapeStatus for Fixed {
        fn active_targets(&self) -> Vec<ActiveTarget> {
            Vec::new()
        }
        fn dropped_targets(&self) -> Vec<DroppedTarget> {
            Vec::new()
        }
        fn metadata(&self) -> Vec<(Labels, Vec<MetricMetadata>)> {
            self.0.clone()
        }
    }

    fn md(metric: &str, kind: &str, help: &str) -> MetricMetadata {
        MetricMetadata {
            metric: metric.into(),
            kind: kind.into(),
            help: help.into(),
            unit: String::new(),
        }
    }

    #[test]
    fn collects_distinct_entries_over_targets_with_proto_types() {
        let src = Fixed(vec![
            (
                Labels::default(),
                vec![md("a_total", "counter", "A."), md("b", "gauge", "B.")],
            ),
            (
                Labels::default(),
                // Same as the first target's: once. Different help: kept.
                vec![md("a_total", "counter", "A."), md("b", "gauge", "other")],
            ),
            (Labels::default(), vec![md("c", "weird", "")]),
        ]);
        let got = collect(&src);
        let names: Vec<_> = got
            .iter()
            .map(|m| (m.metric_family_name.as_str(), m.r#type, m.help.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("a_total", MetricType::Counter as i32, "A."),
                ("b", MetricType::Gauge as i32, "B."),
                ("b", MetricType::Gauge as i32, "other"),
                ("c", MetricType::Unknown as i32, ""),
            ]
        );
        for kind in [
            "counter",
            "gauge",
            "histogram",
            "gaugehistogram",
            "summary",
            "info",
            "stateset",
            "unknown",
        ] {
            assert_eq!(metric_type(kind).api_name(), kind);
        }
    }

    #[test]
    fn requests_hold_only_metadata_in_chunks() {
        let list: Vec<_> = (0..5)
            .map(|i| proto::MetricMetadata {
                r#type: MetricType::Gauge as i32,
                metric_family_name: format!("m{i}"),
                help: "h".into(),
                unit: "seconds".into(),
            })
            .collect();
        let sizes: Vec<_> = chunks(&list, 2).map(|c| c.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(chunks(&list, 0).count(), 1);
        assert_eq!(chunks(&[], 0).count(), 0);
        let raw = crate::remote::receive::write::decompress(&encode(&list[..2]).unwrap()).unwrap();
        let req = WriteRequest::decode(&raw[..]).unwrap();
        assert!(req.timeseries.is_empty());
        assert_eq!(req.metadata, list[..2]);
    }
}
