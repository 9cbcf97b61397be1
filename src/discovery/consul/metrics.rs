//! consul_sd's metrics, with Prometheus's names: failed calls, and the
//! duration of every call as a summary by `endpoint` and `call`. Shared by
//! every consul_sd config of the process (scrape jobs and Alertmanager sets
//! alike), as in Prometheus, and present at zero before any config uses
//! Consul.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use crate::metrics::{Collected, Counter, Registry, Summary, SummaryVec};

static FAILURES: LazyLock<Counter> = LazyLock::new(Counter::default);
static DURATION: LazyLock<SummaryVec> = LazyLock::new(|| {
    SummaryVec::unregistered(
        "prometheus_sd_consul_rpc_duration_seconds",
        "The duration of a Consul RPC call in seconds.",
        &["endpoint", "call"],
    )
});
/// The two children Prometheus creates up front: the service list, and a
/// service's instances (health calls are labelled `catalog`/`service` too).
static SERVICES_CALL: LazyLock<Arc<Summary>> =
    LazyLock::new(|| DURATION.with(&["catalog", "services"]));
static SERVICE_CALL: LazyLock<Arc<Summary>> =
    LazyLock::new(|| DURATION.with(&["catalog", "service"]));

/// Adds `prometheus_sd_consul_rpc_failures_total` and
/// `prometheus_sd_consul_rpc_duration_seconds` to `registry`.
pub fn register_metrics(registry: &Registry) {
    LazyLock::force(&SERVICES_CALL);
    LazyLock::force(&SERVICE_CALL);
    registry.adopt_summary_vec(&DURATION);
    registry.collector(|| {
        vec![Collected {
            name: "prometheus_sd_consul_rpc_failures_total".to_string(),
            help: "The number of Consul RPC call failures.".to_string(),
            kind: "counter",
            samples: vec![(Vec::new(), FAILURES.get())],
        }]
    });
}

/// Counts a call that failed.
pub(crate) fn failed() {
    FAILURES.inc();
}

/// Records how long a `/v1/catalog/services` call took.
pub(crate) fn services_call(took: Duration) {
    SERVICES_CALL.observe(took.as_secs_f64());
}

/// Records how long a `/v1/health/service/<name>` call took.
pub(crate) fn service_call(took: Duration) {
    SERVICE_CALL.observe(took.as_secs_f64());
}

#[cfg(test)]
pub(crate) fn failures() -> f64 {
    FAILURES.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_families_show_up_at_registration() {
        let r = Registry::new();
        register_metrics(&r);
        let text = r.render();
        for line in [
            "# TYPE prometheus_sd_consul_rpc_duration_seconds summary",
            "prometheus_sd_consul_rpc_duration_seconds_count{endpoint=\"catalog\",call=\"services\"}",
            "prometheus_sd_consul_rpc_duration_seconds_count{endpoint=\"catalog\",call=\"service\"}",
            "prometheus_sd_consul_rpc_duration_seconds{endpoint=\"catalog\",call=\"service\",quantile=\"0.99\"}",
            "# TYPE prometheus_sd_consul_rpc_failures_total counter",
            "prometheus_sd_consul_rpc_failures_total ",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
