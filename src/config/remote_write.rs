//! One `remote_write:` entry: where to send samples, how to authenticate,
//! which series to send, and how the queue batches and retries.
//!
//! Defaults are Prometheus 2.x's. Checks that need more than one field
//! (reserved headers, credentials, duplicate queues) are in `validate.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::http_client::http_client_keys;
use super::{PromDuration, RelabelConfig};

http_client_keys! {
    /// A `remote_write:` entry, with the HTTP client keys of every client
    /// (see [`super::http_client`]).
    #[derive(Clone, Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct RemoteWriteConfig {
        pub url: String,
        /// Names the queue in metrics and logs; unique when set. Unset, the
        /// queue is named by a hash of the whole entry (see
        /// [`RemoteWriteConfig::queue_name`]).
        #[serde(default)]
        pub name: String,
        #[serde(default = "thirty_seconds")]
        pub remote_timeout: PromDuration,
        /// Extra request headers; the protocol's own headers are reserved.
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
        #[serde(default)]
        pub write_relabel_configs: Vec<RelabelConfig>,
        #[serde(default)]
        pub queue_config: QueueConfig,
        #[serde(default)]
        pub metadata_config: MetadataConfig,
        /// Accepted; ferroprom stores no exemplars, so there are none to send.
        #[serde(default)]
        pub send_exemplars: bool,
        /// Accepted; ferroprom stores no native histograms.
        #[serde(default)]
        pub send_native_histograms: bool,
        // Accepted, not acted on (listed in `Config::warnings` when set).
        #[serde(default)]
        pub protobuf_message: Option<String>,
        #[serde(default)]
        pub round_robin_dns: Option<bool>,
        #[serde(default)]
        pub oauth2: Option<serde_yaml_ng::Value>,
        #[serde(default)]
        pub sigv4: Option<serde_yaml_ng::Value>,
        #[serde(default)]
        pub azuread: Option<serde_yaml_ng::Value>,
        #[serde(default)]
        pub google_iam: Option<serde_yaml_ng::Value>,
    }
}

/// `queue_config:`, Prometheus 2.x's defaults.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Samples buffered per shard before the WAL reader waits.
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    #[serde(default = "default_max_shards")]
    pub max_shards: usize,
    #[serde(default = "default_min_shards")]
    pub min_shards: usize,
    #[serde(default = "default_max_samples_per_send")]
    pub max_samples_per_send: usize,
    #[serde(default = "five_seconds")]
    pub batch_send_deadline: PromDuration,
    #[serde(default = "thirty_ms")]
    pub min_backoff: PromDuration,
    #[serde(default = "five_seconds")]
    pub max_backoff: PromDuration,
    /// Retry a 429 (after its `Retry-After`) instead of dropping the
    /// batch. On by default: a rate-limited receiver is asking for the
    /// data later, not refusing it (Prometheus 2.42 defaults to off).
    #[serde(default = "yes")]
    pub retry_on_http_429: bool,
    /// Accepted, not acted on.
    #[serde(default)]
    pub sample_age_limit: Option<PromDuration>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: default_capacity(),
            max_shards: default_max_shards(),
            min_shards: default_min_shards(),
            max_samples_per_send: default_max_samples_per_send(),
            batch_send_deadline: five_seconds(),
            min_backoff: thirty_ms(),
            max_backoff: five_seconds(),
            retry_on_http_429: true,
            sample_age_limit: None,
        }
    }
}

/// `metadata_config:`: whether and how often the scraped targets' metric
/// metadata is sent, and how many entries go in one request.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    #[serde(default = "yes")]
    pub send: bool,
    #[serde(default = "one_minute")]
    pub send_interval: PromDuration,
    #[serde(default = "default_metadata_per_send")]
    pub max_samples_per_send: usize,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            send: true,
            send_interval: one_minute(),
            max_samples_per_send: default_metadata_per_send(),
        }
    }
}

impl RemoteWriteConfig {
    /// A hash of the whole entry, hex: two entries are duplicates when it
    /// is equal, and an unnamed queue is named by its first 6 digits, as
    /// in Prometheus.
    pub fn hash(&self) -> String {
        format!("{:016x}", fnv1a(format!("{self:?}").as_bytes()))
    }

    /// The `remote_name` label of the queue's metrics.
    pub fn queue_name(&self) -> String {
        if self.name.is_empty() {
            self.hash()[..6].to_string()
        } else {
            self.name.clone()
        }
    }

    /// What identifies the queue's destination across restarts and
    /// reloads: its name and URL. Tuning and relabeling may change while
    /// the queue keeps its place in the WAL; a new name or URL is a new
    /// queue.
    pub fn destination_key(&self) -> String {
        let mut key = self.name.as_bytes().to_vec();
        key.push(0);
        key.extend_from_slice(self.url.as_bytes());
        format!("{:016x}", fnv1a(&key))
    }
}

/// FNV-1a, 64 bit: stable across builds and platforms, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn yes() -> bool {
    true
}
fn thirty_seconds() -> PromDuration {
    PromDuration::from_secs(30)
}
fn five_seconds() -> PromDuration {
    PromDuration::from_secs(5)
}
fn one_minute() -> PromDuration {
    PromDuration::from_secs(60)
}
fn thirty_ms() -> PromDuration {
    PromDuration(30)
}
fn default_capacity() -> usize {
    10_000
}
fn default_max_shards() -> usize {
    50
}
fn default_min_shards() -> usize {
    1
}
fn default_max_samples_per_send() -> usize {
    2_000
}
fn default_metadata_per_send() -> usize {
    2_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_prometheus_defaults() {
        let c: RemoteWriteConfig = serde_yaml_ng::from_str("url: http://127.0.0.1:1/w").unwrap();
        assert_eq!(c.remote_timeout, PromDuration::from_secs(30));
        let q = &c.queue_config;
        assert_eq!(
            (
                q.capacity,
                q.min_shards,
                q.max_shards,
                q.max_samples_per_send
            ),
            (10_000, 1, 50, 2_000)
        );
        assert_eq!(q.batch_send_deadline, PromDuration::from_secs(5));
        assert_eq!((q.min_backoff.ms(), q.max_backoff.ms()), (30, 5_000));
        assert!(q.retry_on_http_429);
        let m = &c.metadata_config;
        assert!(m.send);
        assert_eq!(
            (m.send_interval, m.max_samples_per_send),
            (PromDuration::from_secs(60), 2_000)
        );
    }

    #[test]
    fn names_and_keys() {
        let mut a: RemoteWriteConfig =
            serde_yaml_ng::from_str("url: http://127.0.0.1:1/w").unwrap();
        assert_eq!(a.queue_name(), a.hash()[..6]);
        let key = a.destination_key();
        let hash = a.hash();
        a.queue_config.capacity = 5;
        // Tuning changes the entry but not where it sends.
        assert_ne!(a.hash(), hash);
        assert_eq!(a.destination_key(), key);
        a.name = "q".into();
        assert_eq!(a.queue_name(), "q");
        assert_ne!(a.destination_key(), key);
    }
}
