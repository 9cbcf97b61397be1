//! Sending one batch: every active Alertmanager of every set gets it at
//! the same time, each request bounded by its set's timeout, so a slow or
//! dead Alertmanager costs the others nothing and holds the next batch at
//! most that long.

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use super::alert::encode;
use super::metrics::Metrics;
use super::set::AlertmanagerSet;
use super::Alert;

/// Sends `alerts` to every Alertmanager of `sets` and waits for all the
/// answers. True when at least one Alertmanager took the batch.
pub(crate) async fn send_all(
    sets: &[Arc<AlertmanagerSet>],
    alerts: &[Alert],
    metrics: &Metrics,
) -> bool {
    if alerts.is_empty() {
        return true;
    }
    let begin = Instant::now();
    let mut requests = JoinSet::new();
    for set in sets {
        let urls = set.discovered().active;
        if urls.is_empty() {
            continue;
        }
        let alerts = set.relabel_alerts(alerts);
        if alerts.is_empty() {
            continue;
        }
        let count = alerts.len() as f64;
        // Encoded once per set: every Alertmanager of a set gets the same body.
        let body = bytes::Bytes::from(encode(&alerts));
        for url in urls {
            let (set, body, metrics) = (Arc::clone(set), body.clone(), metrics.clone());
            requests.spawn(async move {
                let result = set.post(&url, body).await;
                // Logs and `/metrics` name the Alertmanager without its password.
                let shown = crate::config::redact::redact_url(&url);
                if let Err(e) = &result {
                    tracing::error!(alertmanager = %shown, count, error = %e, "error sending alerts");
                    metrics.errors.with(&[&shown]).add(count);
                }
                metrics
                    .latency
                    .with(&[&shown])
                    .observe(begin.elapsed().as_secs_f64());
                metrics.sent.with(&[&shown]).add(count);
                result.is_ok()
            });
        }
    }
    let mut delivered = false;
    while let Some(ok) = requests.join_next().await {
        delivered |= ok.unwrap_or(false);
    }
    delivered
}
