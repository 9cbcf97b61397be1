//! The Prometheus HTTP API (`/api/v1/*`, `/-/*`, `/metrics`), served by axum.
//!
//! Every handler reads the shared [`ApiState`]; parameters come from
//! [`params::Params`] (URL query merged with the POST form body) and answers
//! go out through [`response`] in Prometheus's envelope.

mod admin;
pub mod instrument;
mod json;
mod lifecycle;
mod metadata;
mod middleware;
pub mod params;
pub mod response;
mod rules;
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
pub use status::{BuildInfo, BUILD_INFO};

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
        .merge(admin::routes())
        // TODO(admin): merge query::routes() and series::routes() from
        // branch `api` once they exist.
        .merge(lifecycle::routes())
        .route("/metrics", get(instrument::metrics))
        .fallback(middleware::not_found)
        .layer(from_fn_with_state(Arc::clone(&state), middleware::api_gate))
        .layer(from_fn(middleware::method_not_allowed_text))
        .layer(from_fn_with_state(http, instrument::track))
        .with_state(state)
}

/// Parses a series selector such as `up{job="x"}` as Prometheus's
/// `ParseMetricSelector` does: anything but a bare selector is an error.
fn parse_metric_selector(s: &str) -> Result<Vec<storage::Matcher>, String> {
    match promql::parse(s).map_err(|e| e.to_string())? {
        promql::ast::Expr::Vector(sel) if sel.offset == 0 && sel.at.is_none() => Ok(sel.matchers),
        _ => Err(format!(
            "1:1: parse error: expected a series selector, got {s:?}"
        )),
    }
}

/// Go's `strconv.ParseBool`, with its error text.
fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_selectors() {
        let m = parse_metric_selector(r#"up{job="a"}"#).unwrap();
        assert_eq!(m.len(), 2);
        for bad in ["up[5m]", "rate(up[5m])", "up offset 5m", "1", "{}", "up{"] {
            let e = parse_metric_selector(bad).unwrap_err();
            assert!(e.contains("parse error"), "{bad}: {e}");
        }
    }

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
