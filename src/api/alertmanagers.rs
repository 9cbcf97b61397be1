//! `/api/v1/alertmanagers`: the Alertmanagers the notifier found, active
//! and dropped by relabeling, in Prometheus's shape.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use super::json::success;
use super::response::{ApiError, Success};
use super::ApiState;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/api/v1/alertmanagers", get(alertmanagers))
}

#[derive(Serialize)]
struct AlertmanagerTarget {
    url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerDiscovery {
    active_alertmanagers: Vec<AlertmanagerTarget>,
    dropped_alertmanagers: Vec<AlertmanagerTarget>,
}

async fn alertmanagers(State(state): State<Arc<ApiState>>) -> Result<Success, ApiError> {
    let (active, dropped) = state
        .notifier
        .as_ref()
        .map(|n| n.alertmanagers())
        .unwrap_or_default();
    let targets = |urls: Vec<String>| {
        urls.into_iter()
            .map(|url| AlertmanagerTarget { url })
            .collect()
    };
    success(&AlertmanagerDiscovery {
        active_alertmanagers: targets(active),
        dropped_alertmanagers: targets(dropped),
    })
}
