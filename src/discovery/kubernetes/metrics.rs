//! Kubernetes discovery's own metrics, process-wide as in Prometheus:
//! `prometheus_sd_kubernetes_events_total{role,event}` (every role and
//! event exported from the start, at 0) and
//! `prometheus_sd_kubernetes_failures_total` (failed list and watch
//! requests).

use std::sync::LazyLock;

use crate::config::KubernetesRole;
use crate::metrics::{Collected, Counter, Registry};

/// What happened to a watched object, as the metric's `event` label says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    Add,
    Update,
    Delete,
}

impl EventType {
    const ALL: [EventType; 3] = [EventType::Add, EventType::Delete, EventType::Update];

    fn as_str(self) -> &'static str {
        match self {
            EventType::Add => "add",
            EventType::Update => "update",
            EventType::Delete => "delete",
        }
    }
}

/// One counter per role and event type, in [`KubernetesRole::ALL`] order.
static EVENTS: LazyLock<Vec<[Counter; 3]>> = LazyLock::new(|| {
    KubernetesRole::ALL
        .iter()
        .map(|_| Default::default())
        .collect()
});
static FAILURES: LazyLock<Counter> = LazyLock::new(Counter::default);

fn slot(event: EventType) -> usize {
    EventType::ALL
        .iter()
        .position(|e| *e == event)
        .unwrap_or_default()
}

/// Counts one event of `role`'s objects.
pub(crate) fn count_event(role: KubernetesRole, event: EventType) {
    if let Some(i) = KubernetesRole::ALL.iter().position(|r| *r == role) {
        EVENTS[i][slot(event)].inc();
    }
}

/// Counts one failed list or watch request.
pub(crate) fn count_failure() {
    FAILURES.inc();
}

/// The current count of `role`'s `event`s (for tests).
#[cfg(test)]
pub(crate) fn events(role: KubernetesRole, event: EventType) -> f64 {
    let i = KubernetesRole::ALL.iter().position(|r| *r == role).unwrap();
    EVENTS[i][slot(event)].get()
}

/// Adds both families to `registry`.
pub fn register_metrics(registry: &Registry) {
    registry.collector(|| {
        let mut samples = Vec::new();
        for (i, role) in KubernetesRole::ALL.iter().enumerate() {
            for event in EventType::ALL {
                samples.push((
                    vec![
                        ("event".to_string(), event.as_str().to_string()),
                        ("role".to_string(), role.as_str().to_string()),
                    ],
                    EVENTS[i][slot(event)].get(),
                ));
            }
        }
        vec![
            Collected {
                name: "prometheus_sd_kubernetes_events_total".to_string(),
                help: "The number of Kubernetes events handled.".to_string(),
                kind: "counter",
                samples,
            },
            Collected {
                name: "prometheus_sd_kubernetes_failures_total".to_string(),
                help: "The number of failed WATCH/LIST requests.".to_string(),
                kind: "counter",
                samples: vec![(Vec::new(), FAILURES.get())],
            },
        ]
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_and_event_is_exported_from_the_start() {
        let r = Registry::new();
        register_metrics(&r);
        count_event(KubernetesRole::Ingress, EventType::Delete);
        let text = r.render();
        for role in KubernetesRole::ALL {
            for event in ["add", "delete", "update"] {
                let series = format!(
                    "prometheus_sd_kubernetes_events_total{{event=\"{event}\",role=\"{role}\"}} "
                );
                assert!(text.contains(&series), "{series} missing in\n{text}");
            }
        }
        assert!(text.contains("# TYPE prometheus_sd_kubernetes_failures_total counter"));
        assert!(events(KubernetesRole::Ingress, EventType::Delete) >= 1.0);
    }
}
