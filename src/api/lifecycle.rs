//! `/-/healthy`, `/-/ready`, `/-/reload`, `/-/quit`: the plain-text
//! lifecycle endpoints, with Prometheus's texts and status codes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;

use super::ApiState;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    // Prometheus answers a second quit differently; the flag lives as long
    // as the router.
    let quitting = Arc::new(AtomicBool::new(false));
    Router::new()
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/-/reload", get(only_post).post(reload).put(reload))
        .route(
            "/-/quit",
            get(only_post)
                .post({
                    let q = Arc::clone(&quitting);
                    move |s: State<Arc<ApiState>>| quit(s, Arc::clone(&q))
                })
                .put(move |s: State<Arc<ApiState>>| quit(s, Arc::clone(&quitting))),
        )
}

/// A plain-text answer as Go's `fmt.Fprintf` on a response writer gives it.
pub(super) fn text(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// What every endpoint gated on readiness answers before the server is
/// ready.
pub(super) fn not_ready() -> Response {
    text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
}

pub(super) fn is_ready(state: &ApiState) -> bool {
    state.ready.load(Ordering::Acquire)
}

async fn healthy() -> Response {
    text(StatusCode::OK, "Prometheus Server is Healthy.\n")
}

async fn ready(State(state): State<Arc<ApiState>>) -> Response {
    if is_ready(&state) {
        text(StatusCode::OK, "Prometheus Server is Ready.\n")
    } else {
        not_ready()
    }
}

async fn only_post() -> Response {
    text(
        StatusCode::METHOD_NOT_ALLOWED,
        "Only POST or PUT requests allowed",
    )
}

fn lifecycle_disabled() -> Response {
    text(StatusCode::FORBIDDEN, "Lifecycle API is not enabled.")
}

/// Asks the server to reload its configuration and waits for the outcome.
async fn reload(State(state): State<Arc<ApiState>>) -> Response {
    let Some(tx) = &state.reload else {
        return lifecycle_disabled();
    };
    let (answer, outcome) = oneshot::channel();
    let result = match tx.send(answer).await {
        Ok(()) => outcome
            .await
            .unwrap_or_else(|_| Err("reload was abandoned".to_string())),
        Err(_) => Err("the reload handler is not running".to_string()),
    };
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        // Go's http.Error: plain text ending in a newline.
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
    }
}

/// Asks the server to shut down; only the first request triggers it.
async fn quit(State(state): State<Arc<ApiState>>, quitting: Arc<AtomicBool>) -> Response {
    let Some(tx) = &state.quit else {
        return lifecycle_disabled();
    };
    if quitting.swap(true, Ordering::AcqRel) {
        return text(StatusCode::OK, "Termination already in progress.");
    }
    // A full channel already holds a quit request; a closed one means the
    // server is going down anyway.
    let _ = tx.try_send(());
    text(StatusCode::OK, "Requesting termination... Goodbye!")
}
