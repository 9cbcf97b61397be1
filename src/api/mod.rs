//! The Prometheus HTTP API (`/api/v1/*`, `/-/*`, `/metrics`), served by axum.
//!
//! Every handler reads the shared [`ApiState`]; parameters come from
//! [`params::Params`] (URL query merged with the POST form body) and answers
//! go out through [`response`] in Prometheus's envelope.

pub mod ast_json;
pub mod encode;
pub mod params;
pub mod query;
pub mod response;
pub mod series;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::RwLock;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::config::Config;
use crate::metrics::Registry;
use crate::scrape::status::ScrapeStatus;

/// A reload request: the answer channel gets `Err(message)` when the new
/// configuration was rejected (the old one keeps running).
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// Everything the handlers share.
pub struct ApiState {
    pub db: Arc<storage::Db>,
    pub engine: promql::Engine,
    /// `--query.max-concurrency` permits.
    pub query_slots: Arc<Semaphore>,
    /// The configuration currently applied.
    pub config: Arc<RwLock<Arc<Config>>>,
    /// `--flag` → value, for `/api/v1/status/flags`.
    pub flags: BTreeMap<String, String>,
    pub scrape: Arc<dyn ScrapeStatus>,
    /// `Some` when `--web.enable-lifecycle` is set.
    pub reload: Option<mpsc::Sender<ReloadRequest>>,
    /// `Some` when `--web.enable-lifecycle` is set: `/-/quit` sends here.
    pub quit: Option<mpsc::Sender<()>>,
    pub admin_enabled: bool,
    pub remote_write_enabled: bool,
    /// False until the WAL is replayed and the server can answer queries.
    pub ready: Arc<AtomicBool>,
    pub registry: Arc<Registry>,
    pub start_time: SystemTime,
    /// `--storage.tsdb.retention.time` / `.size` as given, for runtimeinfo.
    pub storage_retention: String,
}
