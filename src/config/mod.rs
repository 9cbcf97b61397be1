//! `prometheus.yml`: the configuration file, parsed and validated.
//!
//! The types mirror Prometheus's YAML keys one to one, so a config that
//! Prometheus accepts and that uses only supported features loads unchanged.
//! Loading (with errors naming the key and line), defaults and validation
//! live in [`load`]; durations in [`duration`]; relabeling rules in
//! [`relabel`]; scrape jobs in [`scrape`].

pub mod duration;
pub mod load;
pub mod relabel;
pub mod scrape;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use duration::PromDuration;
pub use load::{load_file, parse_str, ConfigError, DEFAULT_CONFIG};
pub use relabel::{RelabelAction, RelabelConfig};
pub use scrape::{
    Authorization, BasicAuth, FileSdConfig, HttpSdConfig, Scheme, ScrapeConfig, StaticConfig,
    TlsConfig,
};

/// The whole configuration file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub global: GlobalConfig,
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Accepted so existing configs load; rules are not evaluated (yet).
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// Accepted so existing configs load; ferroprom sends no alerts.
    #[serde(default)]
    pub alerting: Option<serde_yaml_ng::Value>,
    /// The file's text as loaded, served by `/api/v1/status/config`.
    #[serde(skip)]
    pub source: String,
}

/// The `global:` section. Fields left out of the file take Prometheus's
/// defaults when loaded (scrape_interval 1m, scrape_timeout 10s,
/// evaluation_interval 1m).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    #[serde(default = "duration::one_minute")]
    pub scrape_interval: PromDuration,
    #[serde(default = "duration::ten_seconds")]
    pub scrape_timeout: PromDuration,
    #[serde(default = "duration::one_minute")]
    pub evaluation_interval: PromDuration,
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
    #[serde(default)]
    pub query_log_file: Option<String>,
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
            query_log_file: None,
        }
    }
}
