//! The notifier as the server runs it: one send loop draining the queue,
//! the Alertmanager sets of the current config, and the discovery that
//! keeps their Alertmanagers up to date.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use storage::Label;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use super::metrics::Metrics;
use super::queue::Queue;
use super::send::send_all;
use super::set::AlertmanagerSet;
use super::{Alert, NotifierError};
use crate::config::Config;
use crate::discovery::{Discovery, DiscoveryOptions, DiscoveryUpdate, TargetGroup};
use crate::metrics::Registry;
use crate::relabel::{self, CompiledRule};

/// How long [`Notifier::stop`] keeps sending what is queued.
const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// Sizes and timing; the defaults are Prometheus's.
#[derive(Clone, Debug)]
pub struct NotifierOptions {
    /// `--alertmanager.notification-queue-capacity`.
    pub queue_capacity: usize,
    /// `--alertmanager.notification-batch-size`.
    pub batch_size: usize,
    /// How Alertmanager discovery polls (tests shorten it).
    pub discovery: DiscoveryOptions,
}

impl Default for NotifierOptions {
    fn default() -> Self {
        NotifierOptions {
            queue_capacity: 10_000,
            batch_size: 256,
            discovery: DiscoveryOptions::default(),
        }
    }
}

/// What every alert goes through before it is queued.
#[derive(Default)]
struct Labeling {
    /// `global.external_labels`; an alert's own label of the same name wins.
    external: Vec<Label>,
    /// `alerting.alert_relabel_configs`.
    rules: Vec<CompiledRule>,
}

impl Labeling {
    fn from_config(cfg: &Config) -> Result<Labeling, NotifierError> {
        let scheme = cfg.global.metric_name_validation_scheme;
        Ok(Labeling {
            external: cfg
                .global
                .external_labels
                .iter()
                .map(|(n, v)| Label::new(n.as_str(), v.as_str()))
                .collect(),
            rules: relabel::compile_with_scheme(&cfg.alerting.alert_relabel_configs, scheme)?,
        })
    }

    /// The alert with external labels added and relabeled; `None` when
    /// relabeling drops it.
    fn apply(&self, mut alert: Alert) -> Option<Alert> {
        for l in &self.external {
            if !alert.labels.iter().any(|a| a.name == l.name) {
                alert.labels.push(l.clone());
            }
        }
        relabel::process(&self.rules, &mut alert.labels).then_some(alert)
    }
}

/// State the send loop, discovery and callers share.
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when alerts are queued.
    more: Notify,
    stopping: AtomicBool,
    batch_size: usize,
    labeling: RwLock<Arc<Labeling>>,
    sets: RwLock<Vec<Arc<AlertmanagerSet>>>,
    /// The last groups discovery reported per set name, so a reload that
    /// rebuilds a set with unchanged discovery settings keeps its
    /// Alertmanagers meanwhile. Locked around every change to `sets`'
    /// Alertmanagers.
    groups: Mutex<HashMap<String, Vec<TargetGroup>>>,
    metrics: Metrics,
}

impl Shared {
    /// Records a discovery update and applies it to the set it names.
    fn sync(&self, update: DiscoveryUpdate) {
        let mut groups = self.groups.lock();
        if let Some(set) = self.sets.read().iter().find(|s| s.name == update.job) {
            set.sync(&update.groups);
        }
        if update.groups.is_empty() {
            groups.remove(&update.job);
        } else {
            groups.insert(update.job, update.groups);
        }
        self.count_discovered();
    }

    fn count_discovered(&self) {
        let n: usize = self
            .sets
            .read()
            .iter()
            .map(|s| s.discovered().active.len())
            .sum();
        self.metrics.discovered.set(n as f64);
    }

    fn next_batch(&self) -> Vec<Alert> {
        let mut q = self.queue.lock();
        let batch = q.pop_batch(self.batch_size);
        self.metrics.queue_length.set(q.len() as f64);
        batch
    }
}

/// Sends alerts to the Alertmanagers of the applied config. Create it
/// inside a Tokio runtime; call [`Notifier::stop`] before dropping it to
/// flush the queue.
pub struct Notifier {
    shared: Arc<Shared>,
    discovery: Mutex<Option<Discovery>>,
    discovery_options: DiscoveryOptions,
    send_loop: Mutex<Option<JoinHandle<()>>>,
    sync_loop: Mutex<Option<JoinHandle<()>>>,
}

/// Rule evaluation hands its alerts to the notifier.
impl crate::rules::AlertSink for Notifier {
    fn send(&self, alerts: Vec<crate::rules::OutgoingAlert>) {
        Notifier::send(self, alerts.into_iter().map(Alert::from).collect());
    }
}

impl Notifier {
    /// A notifier with no Alertmanagers (until [`Notifier::apply_config`]),
    /// its metrics registered in `registry` and its send loop running.
    pub fn new(registry: &Registry, options: NotifierOptions) -> Notifier {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::new(options.queue_capacity)),
            more: Notify::new(),
            stopping: AtomicBool::new(false),
            batch_size: options.batch_size.max(1),
            labeling: RwLock::default(),
            sets: RwLock::default(),
            groups: Mutex::default(),
            metrics: Metrics::new(registry, options.queue_capacity),
        });
        let send_loop = tokio::spawn(run(Arc::clone(&shared)));
        Notifier {
            shared,
            discovery: Mutex::new(None),
            discovery_options: options.discovery,
            send_loop: Mutex::new(Some(send_loop)),
            sync_loop: Mutex::new(None),
        }
    }

    /// Checks that `cfg`'s `alerting:` section can be applied, changing
    /// nothing.
    pub fn check(&self, cfg: &Config) -> Result<(), NotifierError> {
        Labeling::from_config(cfg)?;
        build_sets(cfg).map(drop)
    }

    /// Applies a (re)loaded config: the external labels and alert
    /// relabeling, and the Alertmanager sets, whose discovery is started or
    /// updated. On error nothing changes.
    pub fn apply_config(&self, cfg: &Config) -> Result<(), NotifierError> {
        let labeling = Labeling::from_config(cfg)?;
        let sets = build_sets(cfg)?;
        {
            let groups = self.shared.groups.lock();
            let old = self.shared.sets.read().clone();
            for set in &sets {
                let kept = old
                    .iter()
                    .any(|o| o.name == set.name && o.same_discovery(set));
                if let (true, Some(g)) = (kept, groups.get(&set.name)) {
                    set.sync(g);
                }
            }
            *self.shared.sets.write() = sets;
            *self.shared.labeling.write() = Arc::new(labeling);
        }
        self.shared.count_discovered();
        let mut discovery = self.discovery.lock();
        match discovery.as_mut() {
            Some(d) => d.update(cfg),
            None => {
                let (tx, mut rx) = mpsc::unbounded_channel();
                *discovery = Some(Discovery::alertmanagers(
                    cfg,
                    tx,
                    self.discovery_options.clone(),
                ));
                let shared = Arc::clone(&self.shared);
                *self.sync_loop.lock() = Some(tokio::spawn(async move {
                    while let Some(update) = rx.recv().await {
                        shared.sync(update);
                    }
                }));
            }
        }
        Ok(())
    }

    /// Queues alerts for sending, after adding the external labels and
    /// applying `alerting.alert_relabel_configs`. Never waits on the
    /// network: when the queue is full the oldest alerts are dropped.
    pub fn send(&self, alerts: Vec<Alert>) {
        let labeling = Arc::clone(&self.shared.labeling.read());
        let alerts: Vec<Alert> = alerts
            .into_iter()
            .filter_map(|a| labeling.apply(a))
            .collect();
        if alerts.is_empty() {
            return;
        }
        let dropped = {
            let mut q = self.shared.queue.lock();
            let dropped = q.push(alerts);
            self.shared.metrics.queue_length.set(q.len() as f64);
            dropped
        };
        if dropped > 0 {
            tracing::warn!(
                count = dropped,
                "alert notification queue full, dropping alerts"
            );
            self.shared.metrics.dropped.add(dropped as f64);
        }
        self.shared.more.notify_one();
    }

    /// The URLs of the active and of the dropped (by `relabel_configs`)
    /// Alertmanagers of every set, in config order.
    pub fn alertmanagers(&self) -> (Vec<String>, Vec<String>) {
        let (mut active, mut dropped) = (Vec::new(), Vec::new());
        for set in self.shared.sets.read().iter() {
            let d = set.discovered();
            active.extend(d.active);
            dropped.extend(d.dropped);
        }
        (active, dropped)
    }

    /// Stops discovery and the send loop, sending what is queued for up to
    /// a few seconds first.
    pub async fn stop(&self) {
        self.discovery.lock().take();
        if let Some(h) = self.sync_loop.lock().take() {
            h.abort();
        }
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.more.notify_one();
        let handle = self.send_loop.lock().take();
        if let Some(mut h) = handle {
            if tokio::time::timeout(STOP_DEADLINE, &mut h).await.is_err() {
                tracing::warn!("alert notifications still queued at shutdown were dropped");
                h.abort();
            }
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        for h in [
            self.send_loop.get_mut().take(),
            self.sync_loop.get_mut().take(),
        ]
        .into_iter()
        .flatten()
        {
            h.abort();
        }
    }
}

fn build_sets(cfg: &Config) -> Result<Vec<Arc<AlertmanagerSet>>, NotifierError> {
    let scheme = cfg.global.metric_name_validation_scheme;
    cfg.alerting
        .alertmanagers
        .iter()
        .enumerate()
        .map(|(i, am)| AlertmanagerSet::new(i, am, scheme).map(Arc::new))
        .collect()
}

/// The send loop: whenever alerts are queued, sends them batch by batch
/// until the queue is empty; after `stopping`, drains once more and ends.
async fn run(shared: Arc<Shared>) {
    loop {
        shared.more.notified().await;
        loop {
            let batch = shared.next_batch();
            if batch.is_empty() {
                break;
            }
            let sets = shared.sets.read().clone();
            if !send_all(&sets, &batch, &shared.metrics).await {
                shared.metrics.dropped.add(batch.len() as f64);
            }
        }
        if shared.stopping.load(Ordering::Acquire) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use axum::http::StatusCode;
    use axum::routing::post;

    use super::*;
    use crate::config::parse_str;

    /// A stand-in Alertmanager answering `status`; records each batch.
    async fn fake_alertmanager(status: StatusCode) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&got);
        let app = axum::Router::new().route(
            "/api/v2/alerts",
            post(move |body: axum::body::Bytes| async move {
                seen.lock().push(serde_json::from_slice(&body).unwrap());
                status
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        (addr.to_string(), got)
    }

    fn alert(i: usize) -> Alert {
        Alert {
            labels: vec![Label::new("alertname", format!("A{i}"))],
            annotations: Vec::new(),
            starts_at: SystemTime::now(),
            ends_at: None,
            generator_url: String::new(),
        }
    }

    async fn until(what: &str, f: impl Fn() -> bool) {
        for _ in 0..500 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }

    fn notifier(registry: &Registry, capacity: usize) -> Notifier {
        Notifier::new(
            registry,
            NotifierOptions {
                queue_capacity: capacity,
                ..Default::default()
            },
        )
    }

    #[tokio::test]
    async fn batches_of_256_reach_every_alertmanager() {
        let (a, got_a) = fake_alertmanager(StatusCode::OK).await;
        let (b, got_b) = fake_alertmanager(StatusCode::ACCEPTED).await;
        let registry = Registry::new();
        let n = notifier(&registry, 10_000);
        let cfg = parse_str(&format!(
            "alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{a}']}}]\n    - static_configs: [{{targets: ['{b}']}}]\n"
        ))
        .unwrap();
        n.apply_config(&cfg).unwrap();
        until("discovery", || n.alertmanagers().0.len() == 2).await;
        n.send((0..600).map(alert).collect());
        until("three batches each", || {
            got_a.lock().len() == 3 && got_b.lock().len() == 3
        })
        .await;
        for got in [&got_a, &got_b] {
            let sizes: Vec<usize> = got
                .lock()
                .iter()
                .map(|b| b.as_array().unwrap().len())
                .collect();
            assert_eq!(sizes, [256, 256, 88]);
            assert_eq!(got.lock()[0][0]["labels"]["alertname"], "A0");
        }
        // The counter moves when the sender reads the answer, a moment
        // after the receiver has recorded the batch.
        let url = format!("http://{a}/api/v2/alerts");
        let sent = format!("prometheus_notifications_sent_total{{alertmanager=\"{url}\"}} 600");
        until("600 counted as sent", || registry.render().contains(&sent)).await;
        let metrics = registry.render();
        assert!(metrics.contains("prometheus_notifications_alertmanagers_discovered 2"));
        assert!(metrics.contains("prometheus_notifications_queue_capacity 10000"));
        n.stop().await;
    }

    #[tokio::test]
    async fn external_labels_then_alert_relabeling() {
        let (a, got) = fake_alertmanager(StatusCode::OK).await;
        let registry = Registry::new();
        let n = notifier(&registry, 100);
        let cfg = parse_str(&format!(
            "
global:
  external_labels: {{dc: eu, alertname: ignored}}
alerting:
  alert_relabel_configs:
    - {{source_labels: [alertname], regex: A1, action: drop}}
    - {{source_labels: [dc], target_label: region, replacement: 'r-$1'}}
  alertmanagers:
    - static_configs: [{{targets: ['{a}']}}]
      alert_relabel_configs: [{{target_label: via, replacement: set0}}]
"
        ))
        .unwrap();
        n.apply_config(&cfg).unwrap();
        until("discovery", || !n.alertmanagers().0.is_empty()).await;
        n.send(vec![alert(0), alert(1)]);
        until("one batch", || got.lock().len() == 1).await;
        let batch = got.lock()[0].clone();
        assert_eq!(batch.as_array().unwrap().len(), 1, "A1 was dropped");
        assert_eq!(
            batch[0]["labels"],
            serde_json::json!({"alertname": "A0", "dc": "eu", "region": "r-eu", "via": "set0"})
        );
        n.stop().await;
    }

    #[tokio::test]
    async fn full_queue_drops_oldest_and_failures_are_counted() {
        let (bad, _) = fake_alertmanager(StatusCode::INTERNAL_SERVER_ERROR).await;
        let (good, got) = fake_alertmanager(StatusCode::OK).await;
        let registry = Registry::new();
        let n = notifier(&registry, 5);
        // Nothing configured yet: queued alerts overflow and, once sent
        // to no Alertmanager, count as dropped too.
        n.send((0..8).map(alert).collect());
        until("dropped", || {
            registry
                .render()
                .contains("prometheus_notifications_dropped_total 8")
        })
        .await;

        let cfg = parse_str(&format!(
            "alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{bad}', '127.0.0.1:1', '{good}']}}]\n"
        ))
        .unwrap();
        n.apply_config(&cfg).unwrap();
        until("discovery", || n.alertmanagers().0.len() == 3).await;
        n.send(vec![alert(0), alert(1)]);
        until("delivery", || got.lock().len() == 1).await;
        let m = registry.render();
        for url in [
            format!("http://{bad}/api/v2/alerts"),
            "http://127.0.0.1:1/api/v2/alerts".into(),
        ] {
            until("errors", || {
                registry.render().contains(&format!(
                    "prometheus_notifications_errors_total{{alertmanager=\"{url}\"}} 2"
                ))
            })
            .await;
        }
        assert!(
            m.contains("prometheus_notifications_dropped_total 8"),
            "{m}"
        );
        assert!(m.contains("prometheus_notifications_queue_length 0"));
        n.stop().await;
    }

    #[tokio::test]
    async fn reload_keeps_alertmanagers_and_stop_flushes() {
        let (a, got) = fake_alertmanager(StatusCode::OK).await;
        let registry = Registry::new();
        let n = notifier(&registry, 100);
        let text =
            format!("alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{a}']}}]\n");
        n.apply_config(&parse_str(&text).unwrap()).unwrap();
        until("discovery", || n.alertmanagers().0.len() == 1).await;
        // A changed timeout rebuilds the set; its Alertmanager stays.
        let slower = format!("{text}      timeout: 20s\n");
        n.apply_config(&parse_str(&slower).unwrap()).unwrap();
        assert_eq!(n.alertmanagers().0, [format!("http://{a}/api/v2/alerts")]);
        n.send(vec![Alert {
            ends_at: Some(UNIX_EPOCH),
            ..alert(7)
        }]);
        n.stop().await;
        assert_eq!(got.lock().len(), 1);
        // Removing the section removes the Alertmanagers.
        let n = notifier(&Registry::new(), 10);
        n.apply_config(&parse_str("").unwrap()).unwrap();
        assert_eq!(n.alertmanagers(), (vec![], vec![]));
    }
}
