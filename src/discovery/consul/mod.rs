//! consul_sd: targets from Consul's service catalog, one group per
//! service (its source is the service name), one target per instance with
//! the `__meta_consul_*` labels, followed through blocking queries so a
//! change shows within moments. The calls are in [`api`], the watches in
//! [`watch`], the labels in [`targets`], the metrics in [`metrics`]; this
//! file keeps the current groups and reports the whole list to the
//! discovery manager on every change.

mod api;
mod metrics;
mod targets;
#[cfg(test)]
pub(crate) mod tests;
mod watch;

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use super::TargetGroup;
use crate::config::ConsulSdConfig;
pub use metrics::register_metrics;
use watch::Timing;

/// Runs discovery for `cfg` until dropped, sending every group after each
/// change.
pub(crate) async fn run(cfg: ConsulSdConfig, tx: mpsc::Sender<Vec<TargetGroup>>) {
    run_with(cfg, Timing::default(), tx).await
}

/// [`run`] with explicit pauses.
async fn run_with(cfg: ConsulSdConfig, timing: Timing, tx: mpsc::Sender<Vec<TargetGroup>>) {
    let api = match api::ConsulApi::new(cfg.clone(), timing.wait) {
        Ok(api) => api,
        Err(e) => {
            tracing::error!(server = %cfg.server, error = %e, "consul_sd: cannot start");
            return;
        }
    };
    let (changes_tx, changes_rx) = mpsc::channel(16);
    tokio::select! {
        () = watch::discover(api, cfg, timing, changes_tx) => {}
        () = merge(changes_rx, tx) => {}
    }
}

/// Keeps the latest group of every source and sends the whole list,
/// sorted by source, whenever it changed. Batches already waiting are
/// applied together, so a burst of changes makes one report.
async fn merge(mut changes: mpsc::Receiver<Vec<TargetGroup>>, tx: mpsc::Sender<Vec<TargetGroup>>) {
    let mut groups: BTreeMap<String, TargetGroup> = BTreeMap::new();
    let mut last: Option<Vec<TargetGroup>> = None;
    while let Some(batch) = changes.recv().await {
        let mut apply = |batch: Vec<TargetGroup>| {
            for g in batch {
                groups.insert(g.source.clone(), g);
            }
        };
        apply(batch);
        while let Ok(more) = changes.try_recv() {
            apply(more);
        }
        let now: Vec<TargetGroup> = groups.values().cloned().collect();
        if last.as_ref() != Some(&now) {
            last = Some(now.clone());
            if tx.send(now).await.is_err() {
                return;
            }
        }
    }
}
