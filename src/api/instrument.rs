//! Self-instrumentation: request counts and latencies per route, the
//! `/metrics` endpoint, and the collectors that put storage and process
//! numbers into the registry under Prometheus's metric names.

mod process;
mod tsdb;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use crate::metrics::{Collected, CounterVec, HistogramVec, Registry};

pub use process::register_process_metrics;
pub use tsdb::register_storage_metrics;

/// Prometheus's buckets for `prometheus_http_request_duration_seconds`.
const DURATION_BUCKETS: &[f64] = &[0.1, 0.2, 0.4, 1.0, 3.0, 8.0, 20.0, 60.0, 120.0];

/// The HTTP metric families, registered once per router.
pub(super) struct HttpMetrics {
    requests: CounterVec,
    duration: HistogramVec,
}

impl HttpMetrics {
    pub(super) fn new(registry: &Registry) -> Self {
        HttpMetrics {
            requests: registry.counter_vec(
                "prometheus_http_requests_total",
                "Counter of HTTP requests.",
                &["handler", "code"],
            ),
            duration: registry.histogram_vec(
                "prometheus_http_request_duration_seconds",
                "Histogram of latencies for HTTP requests.",
                &["handler"],
                DURATION_BUCKETS,
            ),
        }
    }
}

/// Counts and times every request that matched a route, labelled with the
/// route pattern so that the label's values stay few whatever the URLs.
/// Unrouted requests (404s) are not counted, as in Prometheus.
pub(super) async fn track(State(m): State<Arc<HttpMetrics>>, req: Request, next: Next) -> Response {
    let Some(handler) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| handler_label(p.as_str()))
    else {
        return next.run(req).await;
    };
    let start = Instant::now();
    let resp = next.run(req).await;
    m.duration
        .with(&[&handler])
        .observe(start.elapsed().as_secs_f64());
    m.requests.with(&[&handler, resp.status().as_str()]).inc();
    resp
}

/// A route pattern as Prometheus's router spells it: `/label/:name/values`
/// where axum writes `/label/{name}/values`.
fn handler_label(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..open + len];
        match name.strip_prefix('*') {
            Some(n) => {
                out.push('*');
                out.push_str(n);
            }
            None => {
                out.push(':');
                out.push_str(name);
            }
        }
        rest = &rest[open + len + 1..];
    }
    out.push_str(rest);
    out
}

/// `/metrics`: the registry in the text exposition format 0.0.4.
pub(super) async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.registry.render(),
    )
        .into_response()
}

/// One collected family with a single unlabelled sample.
fn single(name: &str, help: &str, kind: &'static str, v: f64) -> Collected {
    labelled(name, help, kind, &[], v)
}

/// One collected family with a single sample labelled `labels`.
fn labelled(
    name: &str,
    help: &str,
    kind: &'static str,
    labels: &[(&str, &str)],
    v: f64,
) -> Collected {
    Collected {
        name: name.to_string(),
        help: help.to_string(),
        kind,
        samples: vec![(
            labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            v,
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_labels_use_prometheus_syntax() {
        assert_eq!(handler_label("/api/v1/query"), "/api/v1/query");
        assert_eq!(
            handler_label("/api/v1/label/{name}/values"),
            "/api/v1/label/:name/values"
        );
        assert_eq!(handler_label("/static/{*path}"), "/static/*path");
        assert_eq!(handler_label("/a/{x}/{y}"), "/a/:x/:y");
        assert_eq!(handler_label("/odd/{x"), "/odd/{x");
    }
}
