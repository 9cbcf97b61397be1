//! The Prometheus HTTP API (`/api/v1/*`, `/-/*`, `/metrics`), served by axum.
//!
//! Every handler reads the shared [`ApiState`]; parameters come from
//! [`params::Params`] (URL query merged with the POST form body) and answers
//! go out through [`response`] in Prometheus's envelope.

mod admin;
mod alertmanagers;
pub mod ast_json;
mod blocking;
pub mod encode;
pub mod federate;
pub mod instrument;
mod json;
mod lifecycle;
mod metadata;
mod middleware;
pub mod params;
pub mod query;
pub mod query_cache;
mod query_workers;
mod remote;
pub mod response;
mod rules;
pub mod series;
mod status;
mod targets;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::SystemTime;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use axum::Router;
use parking_lot::RwLock;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::config::Config;
use crate::metrics::Registry;
use crate::scrape::status::ScrapeStatus;

pub use instrument::{register_process_metrics, register_storage_metrics};
pub(crate) use middleware::not_found;
pub use status::{BuildInfo, BUILD_INFO};

/// A reload request: the answer channel gets `Err(message)` when the new
/// configuration was rejected (the old one keeps running).
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// Everything the handlers share.
pub struct ApiState {
    pub db: Arc<storage::Db>,
    /// What `/api/v1/query` and `/query_range` read: `db` merged with the
    /// `remote_read:` endpoints.
    pub queryable: Arc<crate::remote::FanoutStorage>,
    pub engine: promql::Engine,
    /// `--query.max-concurrency` permits.
    pub query_slots: Arc<Semaphore>,
    /// `--query.max-memory`: the heap one query may hold; `None` = no limit.
    pub query_memory_limit: Option<usize>,
    /// The range-query result cache; `None` when `--query.cache-max-bytes`
    /// is 0.
    pub query_cache: Option<query_cache::QueryCache>,
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
    /// Metric metadata received through remote write.
    pub remote_metadata: Arc<crate::remote::MetadataStore>,
    /// Storage refs of series received through remote write.
    pub remote_refs: Arc<crate::remote::SeriesRefCache>,
    /// Reused buffers for decompressed remote-write bodies.
    pub remote_bodies: crate::remote::receive::BodyPool,
    /// Label limits of the remote-write receiver.
    pub remote_write_limits: crate::remote::receive::LabelLimits,
    /// False until the WAL is replayed and the server can answer queries.
    pub ready: Arc<AtomicBool>,
    pub registry: Arc<Registry>,
    pub start_time: SystemTime,
    /// `--storage.tsdb.retention.time` / `.size` as given, for runtimeinfo.
    pub storage_retention: String,
    /// Where `/api/v1/alertmanagers` looks; `None` lists no Alertmanagers.
    pub notifier: Option<Arc<crate::notifier::Notifier>>,
    /// What `/api/v1/rules` and `/api/v1/alerts` show; `None` shows no
    /// rules.
    pub rules: Option<Arc<crate::rules::Manager>>,
}

/// The whole HTTP surface: every API route, the lifecycle endpoints and
/// `/metrics`, with Prometheus's behaviour around them (readiness gate and
/// CORS on `/api/v1`, plain-text 404/405, request metrics per route).
///
/// Registers the HTTP request metric families in `state.registry`; build
/// one router per registry.
pub fn router(state: Arc<ApiState>) -> Router {
    let http = Arc::new(instrument::HttpMetrics::new(&state.registry));
    Router::new()
        .merge(status::routes())
        .merge(targets::routes())
        .merge(metadata::routes())
        .merge(rules::routes())
        .merge(alertmanagers::routes())
        .merge(admin::routes())
        .merge(query::routes())
        .merge(series::routes())
        .merge(lifecycle::routes())
        .merge(remote::routes())
        .merge(federate::routes())
        .route("/metrics", get(instrument::metrics))
        .fallback(middleware::not_found)
        .layer(from_fn_with_state(Arc::clone(&state), middleware::api_gate))
        .layer(from_fn(middleware::method_not_allowed_text))
        .layer(from_fn_with_state(http, instrument::track))
        .with_state(state)
}

/// Go's `strconv.ParseBool`, with its error text.
fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            params::go_quote(s.as_bytes())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_bools() {
        assert_eq!(parse_go_bool("True"), Ok(true));
        assert_eq!(parse_go_bool("0"), Ok(false));
        assert_eq!(
            parse_go_bool("yes"),
            Err("strconv.ParseBool: parsing \"yes\": invalid syntax".into())
        );
    }
}
