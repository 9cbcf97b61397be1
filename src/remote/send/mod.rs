//! The remote-write sender (`remote_write:`): every sample appended to
//! storage is read back from the WAL — not kept in a side buffer — and
//! shipped to each configured endpoint in snappy-compressed protobuf
//! `WriteRequest`s (remote-write 1.0).
//!
//! Per queue: a reader thread tails the WAL ([`storage::wal::WalWatcher`],
//! polling every 10 ms when idle), maps each series through
//! `global.external_labels` and `write_relabel_configs`, and spreads samples
//! over shards by series ref; each shard batches and POSTs, retrying
//! recoverable failures (5xx, 429, no answer) forever with exponential
//! backoff and dropping batches a receiver refuses (other 4xx) with a
//! counter. The shard count follows the measured send cost, incoming rate
//! and lag. How far a queue got is saved in
//! `<data>/remote_write/<key>/progress` (see
//! `docs/formats/remote-write-progress.md`), so a restart resumes where the
//! receiver stopped acknowledging; a new queue starts at the end of the WAL.
//!
//! With `metadata_config.send` (the default) each queue also sends the
//! scraped targets' metric metadata periodically (see `metadata.rs`).
//!
//! Not sent: exemplars and native histograms (ferroprom stores neither).

pub(crate) mod backoff;
mod client;
mod encode;
mod metadata;
mod metrics;
mod progress;
mod queue;
mod reshard;
mod retry;
mod shards;
mod watcher;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use storage::Label;

use crate::config::Config;
use crate::metrics::Registry;
pub use metadata::MetadataSource;
pub use progress::ProgressError;

/// Why a queue could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("remote_write {0}: {1}")]
    Client(String, String),
    #[error("remote_write {0}: write_relabel_configs: {1}")]
    Relabel(String, String),
    #[error("remote_write {0}: starting the WAL reader: {1}")]
    Thread(String, std::io::Error),
}

/// All configured queues; applies configuration changes.
pub struct RemoteWriteManager {
    wal_dir: PathBuf,
    state_dir: PathBuf,
    families: metrics::Families,
    /// Where queues get the metadata they send; none, none is sent.
    metadata: Option<MetadataSource>,
    /// Running queues by a hash of their whole configuration (external
    /// labels included).
    queues: tokio::sync::Mutex<HashMap<String, queue::Queue>>,
}

impl RemoteWriteManager {
    /// A manager for the WAL in `wal_dir`, keeping queue state under
    /// `<data_dir>/remote_write`. Registers the sender's metrics.
    pub fn new(data_dir: &Path, wal_dir: &Path, registry: &Registry) -> Self {
        RemoteWriteManager {
            wal_dir: wal_dir.to_path_buf(),
            state_dir: data_dir.join("remote_write"),
            families: metrics::Families::register(registry),
            metadata: None,
            queues: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Queues started from now on send the metric metadata `source`
    /// reports (when their `metadata_config.send` is on).
    pub fn with_metadata_source(mut self, source: MetadataSource) -> Self {
        self.metadata = Some(source);
        self
    }

    /// Makes the running queues match `cfg.remote_write`: unchanged queues
    /// keep running, removed and changed ones are stopped (with a final
    /// flush attempt) and their metrics removed, new and changed ones
    /// started. A changed queue with the same name and URL resumes where
    /// the old one stopped.
    ///
    /// Every new queue is built before anything is stopped, so an error
    /// (e.g. an unreadable CA file) leaves the running queues as they were.
    pub async fn apply_config(&self, cfg: &Config) -> Result<(), SendError> {
        let external: Vec<Label> = cfg
            .global
            .external_labels
            .iter()
            .map(|(k, v)| Label::new(k.as_str(), v.as_str()))
            .collect();
        let ext_key: String = external
            .iter()
            .map(|l| format!("{}={};", l.name, l.value))
            .collect();
        let wanted: Vec<(String, Arc<crate::config::RemoteWriteConfig>)> = cfg
            .remote_write
            .iter()
            .map(|rw| (format!("{}/{ext_key}", rw.hash()), Arc::new(rw.clone())))
            .collect();
        let mut queues = self.queues.lock().await;
        // Check first that every new queue can be built (client, rules).
        for (key, rw) in &wanted {
            if !queues.contains_key(key) {
                check_queue(rw, cfg)?;
            }
        }
        let keep: std::collections::HashSet<&String> = wanted.iter().map(|(k, _)| k).collect();
        let gone: Vec<String> = queues
            .keys()
            .filter(|k| !keep.contains(k))
            .cloned()
            .collect();
        for k in gone {
            if let Some(q) = queues.remove(&k) {
                let (name, url) = (q.inner.name.clone(), q.url.clone());
                q.stop().await;
                self.families.remove_queue(&name, &url);
            }
        }
        for (key, rw) in wanted {
            if queues.contains_key(&key) {
                continue;
            }
            let q = queue::Queue::start(
                rw,
                external.clone(),
                cfg.global.metric_name_validation_scheme,
                &self.wal_dir,
                &self.state_dir,
                &self.families,
                self.metadata.clone(),
            )?;
            queues.insert(key, q);
        }
        Ok(())
    }

    /// Checks that every queue of `cfg` could be built (HTTP client, write
    /// relabel rules) without changing anything, so a reload can refuse a
    /// bad file before it touches the running scrape configuration.
    pub fn check(&self, cfg: &Config) -> Result<(), SendError> {
        cfg.remote_write
            .iter()
            .try_for_each(|rw| check_queue(rw, cfg))
    }

    /// Stops every queue: a final flush attempt each, then progress saved.
    pub async fn stop(&self) {
        let mut queues = self.queues.lock().await;
        let all: Vec<_> = queues.drain().map(|(_, q)| q).collect();
        let stops: Vec<_> = all.into_iter().map(|q| tokio::spawn(q.stop())).collect();
        for s in stops {
            let _ = s.await;
        }
    }

    /// Number of running queues.
    pub async fn len(&self) -> usize {
        self.queues.lock().await.len()
    }

    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }
}

/// Builds what a queue for `rw` needs that can fail on a bad config.
fn check_queue(rw: &crate::config::RemoteWriteConfig, cfg: &Config) -> Result<(), SendError> {
    let rules = crate::relabel::compile_with_scheme(
        &rw.write_relabel_configs,
        cfg.global.metric_name_validation_scheme,
    );
    if let Err(e) = rules {
        return Err(SendError::Relabel(rw.queue_name(), e.error.to_string()));
    }
    client::Client::new(Arc::new(rw.clone()))
        .map_err(|e| SendError::Client(rw.queue_name(), e.to_string()))?;
    Ok(())
}
