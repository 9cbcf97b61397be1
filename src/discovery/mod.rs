//! Service discovery: where a job's targets come from. `static_configs`,
//! `file_sd_configs` (JSON/YAML files, re-read on change),
//! `http_sd_configs` (polled URLs), `dns_sd_configs` (DNS names looked
//! up every `refresh_interval`), `consul_sd_configs` (Consul's catalog,
//! followed by blocking queries) and `kubernetes_sd_configs` (the API
//! server's objects, listed and watched) all produce [`TargetGroup`]s; the
//! [`Discovery`] runner reports each job's complete list on a channel as
//! [`DiscoveryUpdate`]s. Turning groups into scrape targets (target labels,
//! relabeling) is the scrape manager's job. A second runner does the same
//! for the Alertmanager sets of `alerting:`, for the notifier.

mod consul;
mod dns;
mod file;
mod http;
mod kubernetes;
mod manager;
mod target_group;

pub use manager::{alertmanager_set_name, Discovery, DiscoveryOptions, DiscoveryUpdate};
pub use target_group::{TargetGroup, ADDRESS_LABEL};

/// Adds discovery's metrics to `registry`: DNS lookups, Consul RPCs,
/// Kubernetes events and failed requests, and the SD configs that could
/// not start.
pub fn register_metrics(registry: &crate::metrics::Registry) {
    dns::register_metrics(registry);
    consul::register_metrics(registry);
    kubernetes::register_metrics(registry);
    manager::register_metrics(registry);
}
