//! One `scrape_configs:` entry: a job, how to reach its targets and what to
//! do with their samples.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::http_client::http_client_keys;
use super::sd::sd_keys;
use super::{NameValidationScheme, PromDuration, RelabelConfig};

/// `scheme:` of a job.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

impl Scheme {
    /// The scheme as written in URLs and the `__scheme__` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

sd_keys! {
    /// A scrape job. `Option` fields fall back to `global:` when loaded; after
    /// [`super::load`] has run they are always `Some` (a limit of 0 also takes
    /// the global value, as in Prometheus). The loader also moves
    /// `bearer_token`/`bearer_token_file` into `authorization` and makes
    /// relative file paths absolute against the config file's directory.
    ///
    /// Accepted but not acted on (listed in [`super::Config::warnings`] when
    /// set): `scrape_classic_histograms`, `always_scrape_classic_histograms`,
    /// `convert_classic_histograms_to_nhcb`, `metric_name_escaping_scheme`,
    /// `native_histogram_bucket_limit`, `native_histogram_min_bucket_factor`,
    /// `scrape_failure_log_file`, `proxy_connect_header`, `http_headers`.
    /// `scrape_protocols` and `keep_dropped_targets` fall back to `global:`.
    #[derive(Clone, Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct ScrapeConfig {
        pub job_name: String,
        #[serde(default)]
        pub scrape_interval: Option<PromDuration>,
        #[serde(default)]
        pub scrape_timeout: Option<PromDuration>,
        #[serde(default = "default_metrics_path")]
        pub metrics_path: String,
        #[serde(default)]
        pub scheme: Scheme,
        /// URL parameters; each key may repeat.
        #[serde(default)]
        pub params: BTreeMap<String, Vec<String>>,
        #[serde(default)]
        pub honor_labels: bool,
        #[serde(default = "yes")]
        pub honor_timestamps: bool,
        #[serde(default = "yes")]
        pub enable_compression: bool,
        #[serde(default)]
        pub relabel_configs: Vec<RelabelConfig>,
        #[serde(default)]
        pub metric_relabel_configs: Vec<RelabelConfig>,
        /// 0 means no limit, for this and the other limits.
        #[serde(default)]
        pub sample_limit: Option<u64>,
        #[serde(default)]
        pub label_limit: Option<u64>,
        #[serde(default)]
        pub label_name_length_limit: Option<u64>,
        #[serde(default)]
        pub label_value_length_limit: Option<u64>,
        /// Size such as `10MB`; parsed by the loader into `body_size_limit_bytes`.
        #[serde(default)]
        pub body_size_limit: Option<String>,
        #[serde(skip)]
        pub body_size_limit_bytes: u64,
        #[serde(default)]
        pub target_limit: Option<u64>,
        /// Falls back to `global.metric_name_validation_scheme`.
        #[serde(default)]
        pub metric_name_validation_scheme: Option<NameValidationScheme>,
        #[serde(default)]
        pub scrape_protocols: Option<Vec<String>>,
        #[serde(default)]
        pub fallback_scrape_protocol: Option<String>,
        #[serde(default)]
        pub scrape_classic_histograms: Option<bool>,
        #[serde(default)]
        pub always_scrape_classic_histograms: Option<bool>,
        #[serde(default)]
        pub convert_classic_histograms_to_nhcb: Option<bool>,
        #[serde(default)]
        pub track_timestamps_staleness: Option<bool>,
        #[serde(default)]
        pub metric_name_escaping_scheme: Option<String>,
        #[serde(default)]
        pub native_histogram_bucket_limit: Option<u64>,
        #[serde(default)]
        pub native_histogram_min_bucket_factor: Option<f64>,
        #[serde(default)]
        pub keep_dropped_targets: Option<u64>,
        #[serde(default)]
        pub scrape_failure_log_file: Option<String>,
    }
}

fn default_metrics_path() -> String {
    "/metrics".to_string()
}

fn yes() -> bool {
    true
}

/// `static_configs:` entry: fixed targets with extra labels.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs:` entry: JSON or YAML files (globs in the last path
/// element) of target groups, re-read when they change and every
/// `refresh_interval` (default 5m).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    pub files: Vec<String>,
    #[serde(default = "super::duration::five_minutes")]
    pub refresh_interval: PromDuration,
}

http_client_keys! {
    /// `http_sd_configs:` entry: a URL returning target groups as JSON, polled
    /// every `refresh_interval` (default 1m).
    #[derive(Clone, Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct HttpSdConfig {
        pub url: String,
        #[serde(default = "super::duration::one_minute")]
        pub refresh_interval: PromDuration,
    }
}
