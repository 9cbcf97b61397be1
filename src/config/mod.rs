//! `prometheus.yml`: the configuration file, parsed and validated.
//!
//! The types mirror Prometheus's YAML keys one to one, so a config that
//! Prometheus accepts and that uses only supported features loads unchanged.
//! Loading (with errors naming the key and line), defaults and validation
//! live in [`load`] and [`validate`]; durations in [`duration`]; sizes in
//! [`body_size`]; label-name rules in [`names`]; relabeling rules in
//! [`relabel`]; scrape jobs in [`scrape`]; remote-read endpoints in
//! [`remote_read`]; where alerts are sent in [`alerting`]; the HTTP client
//! keys every client entry shares (credentials, TLS, proxies) in
//! [`http_client`]; environment variables in external labels in
//! [`env_expand`]; the service-discovery keys of jobs and Alertmanager
//! sets in [`sd`] (Consul's own keys in [`consul_sd`], Kubernetes's in
//! [`kubernetes_sd`]); Go's reading of any YAML scalar as a string in
//! [`scalar`]; hiding URL passwords wherever a URL is shown in [`redact`].
//!
//! Keys Prometheus knows that ferroprom accepts but does not act on (so
//! existing files keep loading; each one set is listed in
//! [`Config::warnings`]):
//! - top level: `storage`, `tracing`, `runtime`, `otlp`;
//! - `global:` `scrape_failure_log_file`, `metric_name_escaping_scheme`,
//!   `always_scrape_classic_histograms`,
//!   `convert_classic_histograms_to_nhcb`, `query_log_file`;
//! - per job: see [`scrape::ScrapeConfig`].

pub mod alerting;
pub mod body_size;
pub mod consul_sd;
pub mod duration;
mod env_expand;
pub(crate) mod glob;
pub mod http_client;
pub mod kubernetes_sd;
pub mod load;
pub(crate) mod locate;
pub mod names;
pub mod redact;
pub mod relabel;
pub mod remote_read;
pub mod remote_write;
pub(crate) mod scalar;
pub mod scrape;
pub mod sd;
#[cfg(test)]
mod test_support;
mod validate;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use alerting::{AlertingConfig, AlertmanagerConfig};
pub use consul_sd::ConsulSdConfig;
pub use duration::PromDuration;
pub use http_client::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
pub use kubernetes_sd::{KubernetesRole, KubernetesSdConfig};
pub use load::{load_file, parse_str, parse_str_in_dir, ConfigError, DEFAULT_CONFIG};
pub use names::NameValidationScheme;
pub use relabel::{RelabelAction, RelabelConfig};
pub use remote_read::RemoteReadConfig;
pub use remote_write::{MetadataConfig, QueueConfig, RemoteWriteConfig};
pub use scrape::{FileSdConfig, HttpSdConfig, Scheme, ScrapeConfig, StaticConfig};
pub use sd::{DnsRecordType, DnsSdConfig, SdConfigs};

/// The whole configuration file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub global: GlobalConfig,
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Files (wildcards allowed in the last path element) holding more
    /// `scrape_configs:`; the loader appends their jobs to
    /// `scrape_configs`, with relative paths in each resolved against that
    /// file's directory.
    #[serde(default)]
    pub scrape_config_files: Vec<String>,
    /// Rule files (wildcards allowed in the last path element) evaluated by
    /// `crate::rules`. Relative paths are resolved against the config
    /// file's directory.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// Where alerts are sent (see `crate::notifier`). `alerting:` with no
    /// value is the same as leaving it out.
    #[serde(default, deserialize_with = "alerting::or_default")]
    pub alerting: AlertingConfig,
    /// Where to send every appended sample (see `crate::remote::send`).
    #[serde(default)]
    pub remote_write: Vec<RemoteWriteConfig>,
    /// Endpoints whose series queries merge with local data.
    #[serde(default)]
    pub remote_read: Vec<RemoteReadConfig>,
    /// Prometheus sections with no ferroprom counterpart; accepted, ignored.
    #[serde(default)]
    pub storage: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub tracing: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub runtime: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub otlp: Option<serde_yaml_ng::Value>,
    /// The file's text as loaded, served by `/api/v1/status/config`.
    #[serde(skip)]
    pub source: String,
    /// One line per setting that was accepted but is not acted on, or that
    /// referenced an empty environment variable, for the server to log
    /// after a (re)load.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// The `global:` section. Fields left out of the file take Prometheus's
/// defaults when loaded (scrape_interval 1m, scrape_timeout 10s or the
/// interval if shorter, evaluation_interval 1m).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    #[serde(default = "duration::one_minute")]
    pub scrape_interval: PromDuration,
    #[serde(default = "duration::ten_seconds")]
    pub scrape_timeout: PromDuration,
    #[serde(default = "duration::one_minute")]
    pub evaluation_interval: PromDuration,
    /// `$VAR` / `${VAR}` in values are replaced by environment variables
    /// when loaded, as Prometheus 3.x does ([`env_expand`]); labels whose
    /// value is then empty are removed (Prometheus treats `l: ""` as "no
    /// label l").
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub sample_limit: u64,
    #[serde(default)]
    pub label_limit: u64,
    #[serde(default)]
    pub label_name_length_limit: u64,
    #[serde(default)]
    pub label_value_length_limit: u64,
    #[serde(default)]
    pub target_limit: u64,
    #[serde(default)]
    pub body_size_limit: Option<String>,
    /// `body_size_limit` in bytes, 0 for none; set by the loader.
    #[serde(skip)]
    pub body_size_limit_bytes: u64,
    #[serde(default)]
    pub query_log_file: Option<String>,
    /// Default for jobs that do not set their own.
    #[serde(default)]
    pub metric_name_validation_scheme: NameValidationScheme,
    // Accepted, not acted on (see the module docs).
    #[serde(default)]
    pub scrape_protocols: Option<Vec<String>>,
    /// How far back rules query (and stamp their output) by default;
    /// groups may set their own.
    #[serde(default)]
    pub rule_query_offset: Option<PromDuration>,
    #[serde(default)]
    pub scrape_failure_log_file: Option<String>,
    #[serde(default)]
    pub metric_name_escaping_scheme: Option<String>,
    #[serde(default)]
    pub keep_dropped_targets: Option<u64>,
    #[serde(default)]
    pub always_scrape_classic_histograms: Option<bool>,
    #[serde(default)]
    pub convert_classic_histograms_to_nhcb: Option<bool>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: duration::one_minute(),
            scrape_timeout: duration::ten_seconds(),
            evaluation_interval: duration::one_minute(),
            external_labels: BTreeMap::new(),
            sample_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            target_limit: 0,
            body_size_limit: None,
            body_size_limit_bytes: 0,
            query_log_file: None,
            metric_name_validation_scheme: NameValidationScheme::Utf8,
            scrape_protocols: None,
            rule_query_offset: None,
            scrape_failure_log_file: None,
            metric_name_escaping_scheme: None,
            keep_dropped_targets: None,
            always_scrape_classic_histograms: None,
            convert_classic_histograms_to_nhcb: None,
        }
    }
}
