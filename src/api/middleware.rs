//! HTTP behaviour Prometheus has outside its handlers: the readiness gate
//! and CORS headers of `/api/v1`, and plain-text 404 and 405 answers.

use std::sync::Arc;

use axum::body::HttpBody;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{lifecycle, ApiState};

/// Served while not ready too: it reports the replay that readiness waits for.
const WAL_REPLAY: &str = "/api/v1/status/walreplay";

/// Prometheus's CORS headers, sent when the request has an `Origin`. The
/// allowed origin is its default (`--web.cors.origin=.*`): everyone.
const CORS: [(&str, &str); 5] = [
    (
        "access-control-allow-headers",
        "Accept, Authorization, Content-Type, Origin",
    ),
    ("access-control-allow-methods", "GET, POST, OPTIONS"),
    ("access-control-expose-headers", "Date"),
    ("vary", "Origin"),
    ("access-control-allow-origin", "*"),
];

/// For `/api/v1/*`: answers 503 until the server is ready, answers
/// `OPTIONS` (CORS preflight) with 204 for any path, and adds CORS headers.
pub(super) async fn api_gate(
    State(state): State<Arc<ApiState>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if !path.starts_with("/api/v1/") {
        return next.run(req).await;
    }
    // Unknown paths stay 404s whether ready or not.
    let routed = req.extensions().get::<MatchedPath>().is_some();
    if routed && path != WAL_REPLAY && !lifecycle::is_ready(&state) {
        return lifecycle::not_ready();
    }
    let cors = req.headers().contains_key(header::ORIGIN);
    let mut resp = if req.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    if cors {
        let h = resp.headers_mut();
        for (k, v) in CORS {
            h.insert(k, HeaderValue::from_static(v));
        }
    }
    resp
}

/// Go's `http.Error`: a plain-text body ending in a newline.
fn go_error(status: StatusCode, msg: &'static str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        msg,
    )
        .into_response()
}

/// Gives the router's bodiless 405 Prometheus's text, keeping `Allow`.
pub(super) async fn method_not_allowed_text(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if resp.status() != StatusCode::METHOD_NOT_ALLOWED || resp.body().size_hint().exact() != Some(0)
    {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let text = go_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
    let (text_parts, body) = text.into_parts();
    parts.headers.extend(text_parts.headers);
    Response::from_parts(parts, body)
}

/// The answer for paths nothing is routed to.
pub(crate) async fn not_found() -> Response {
    go_error(StatusCode::NOT_FOUND, "404 page not found\n")
}
