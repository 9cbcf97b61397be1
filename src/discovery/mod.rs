//! Service discovery: where a job's targets come from. `static_configs`,
//! `file_sd_configs` (JSON/YAML files, re-read on change),
//! `http_sd_configs` (polled URLs), `dns_sd_configs` (DNS names looked
//! up every `refresh_interval`) and `consul_sd_configs` (Consul's catalog,
//! followed by blocking queries) all produce [`TargetGroup`]s; the
//! [`Discovery`] runner reports each job's complete list on a channel as
//! [`DiscoveryUpdate`]s. Turning groups into scrape targets (target labels,
//! relabeling) is the scrape manager's job. A second runner does the same
//! for the Alertmanager sets of `alerting:`, for the notifier.

mod consul;
mod dns;
mod file;
mod http;
// Not wired into the config yet: the list/watch client comes next.
#[allow(dead_code)]
mod kubernetes;
mod manager;
mod target_group;

pub use consul::register_metrics as register_consul_metrics;
pub use dns::register_metrics as register_dns_metrics;
pub use manager::{alertmanager_set_name, Discovery, DiscoveryOptions, DiscoveryUpdate};
pub use target_group::{TargetGroup, ADDRESS_LABEL};
