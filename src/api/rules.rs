//! `/api/v1/rules`, `/api/v1/alerts`. ferroprom evaluates no rules yet,
//! so the lists are empty; the parameters are still checked as Prometheus
//! checks them, so clients see the same errors.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use serde::Serialize;

use super::json::success;
use super::params::{go_quote, invalid_param, Params};
use super::parse_go_bool;
use super::response::{ApiError, Success};
use super::ApiState;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/alerts", get(alerts))
}

#[derive(Serialize)]
struct RuleDiscovery {
    groups: [(); 0],
}

async fn rules(params: Params) -> Result<Success, ApiError> {
    let kind = params.get("type").unwrap_or("").to_ascii_lowercase();
    if !matches!(kind.as_str(), "" | "alert" | "record") {
        return Err(invalid_param(
            "type",
            format!("not supported value {}", go_quote(kind.as_bytes())),
        ));
    }
    let exclude = params
        .get("exclude_alerts")
        .unwrap_or("")
        .to_ascii_lowercase();
    if !exclude.is_empty() {
        parse_go_bool(&exclude).map_err(|e| {
            invalid_param(
                "exclude_alerts",
                format!("error converting exclude_alerts: {e}"),
            )
        })?;
    }
    success(&RuleDiscovery { groups: [] })
}

#[derive(Serialize)]
struct AlertDiscovery {
    alerts: [(); 0],
}

async fn alerts() -> Result<Success, ApiError> {
    success(&AlertDiscovery { alerts: [] })
}
