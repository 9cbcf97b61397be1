//! `GET /federate`: the newest sample of every series matching the
//! `match[]` selectors, in the Prometheus text exposition format (0.0.4), so
//! another server can scrape this one (Prometheus's `web/federate.go`).
//!
//! As upstream: only samples within the lookback delta before now count;
//! staleness markers are left out (the format cannot carry them); series
//! are grouped by metric name under `# TYPE <name> untyped`; the global
//! external labels are appended to every series that lacks them, and
//! `instance=""` too when no external label names `instance`, so a scraper
//! with `honor_labels: true` does not attach its own target's instance.
//! No `match[]` is an empty 200, a bad selector a plain-text 400.
//!
//! Upstream also negotiates the protobuf exposition format; this endpoint
//! always answers in text, which every Prometheus scraper accepts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use storage::querier::Queryable;
use storage::{Labels, Matcher, METRIC_NAME};

use super::params::Params;
use super::ApiState;
use crate::text_format;

/// Content type of the answer: text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The federation route; merge it into the API router.
pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/federate", get(federate))
}

/// A bad request: Go's `http.Error`, plain text ending in a newline.
fn text_error(status: StatusCode, msg: &str) -> Response {
    let mut r = (status, format!("{msg}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn federate(State(state): State<Arc<ApiState>>, params: Params) -> Response {
    if !super::lifecycle::is_ready(&state) {
        return super::lifecycle::not_ready();
    }
    let selectors = params.all("match[]");
    let sets = match parse_selectors(&selectors) {
        Ok(s) => s,
        Err(msg) => return text_error(StatusCode::BAD_REQUEST, &msg),
    };
    let external = state.config.read().global.external_labels.clone();
    let lookback = state.engine.options().lookback_delta;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let db = Arc::clone(&state.db);
    let rendered =
        tokio::task::spawn_blocking(move || render(db.as_ref(), &sets, now, lookback, &external))
            .await;
    match rendered {
        Ok(Ok(body)) => {
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            r
        }
        Ok(Err(e)) => text_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("federation failed: {e}"),
        ),
        Err(e) => text_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("federation failed: {e}"),
        ),
    }
}

/// Parses each `match[]` value, as upstream's `ParseMetricSelectors`: a
/// selector whose matchers all match the empty string is refused.
fn parse_selectors(values: &[&str]) -> Result<Vec<Vec<Matcher>>, String> {
    values
        .iter()
        .map(|v| {
            let m = promql::parse_metric_selector(v).map_err(|e| e.to_string())?;
            if m.iter().all(|m| m.matches_empty()) {
                return Err(format!(
                    "{v}: vector selector must contain at least one non-empty matcher"
                ));
            }
            Ok(m)
        })
        .collect()
}

/// The federation answer for `sets` at `now` (ms): the newest sample in
/// `[now - lookback, now]` of each matching series (a series matched by
/// several selectors appears once), in text format, grouped by name.
pub fn render(
    db: &dyn Queryable,
    sets: &[Vec<Matcher>],
    now: i64,
    lookback: i64,
    external: &BTreeMap<String, String>,
) -> Result<Vec<u8>, storage::Error> {
    let q = db.querier(now.saturating_sub(lookback), now)?;
    let mut latest: BTreeMap<Labels, (i64, f64)> = BTreeMap::new();
    for set in sets {
        for s in q
            .select(&storage::querier::SelectHints::default(), set)?
            .series
        {
            if latest.contains_key(&s.labels) {
                continue;
            }
            let Some((t, v)) = s.iter().last() else {
                continue;
            };
            if storage::is_stale_nan(v) {
                continue;
            }
            latest.insert(s.labels, (t, v));
        }
    }
    // Grouped by name; within a name, label order (the map's order) stays.
    let mut vec: Vec<(Labels, (i64, f64))> = latest.into_iter().collect();
    vec.sort_by(|a, b| a.0.get(METRIC_NAME).cmp(b.0.get(METRIC_NAME)));

    let mut ext: Vec<(&str, &str)> = external
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if !external.contains_key("instance") {
        ext.push(("instance", ""));
        ext.sort_unstable();
    }
    let mut out = String::new();
    let mut family: Option<&str> = None;
    for (labels, (t, v)) in &vec {
        let name = labels.get(METRIC_NAME);
        if name.is_empty() {
            tracing::warn!(%labels, "ignoring nameless metric during federation");
            continue;
        }
        if family != Some(name) {
            text_format::push_type(&mut out, name, "untyped");
            family = Some(name);
        }
        write_sample(&mut out, labels, &ext, *t, *v);
    }
    Ok(out.into_bytes())
}

/// One sample line: `name{labels,external labels} value timestamp`.
fn write_sample(out: &mut String, labels: &Labels, ext: &[(&str, &str)], t: i64, v: f64) {
    let own = labels
        .iter()
        .filter(|l| l.name != METRIC_NAME)
        .map(|l| (l.name.as_str(), l.value.as_str()));
    let missing = ext
        .iter()
        .copied()
        .filter(|(n, _)| labels.get(n).is_empty());
    text_format::push_series(out, labels.get(METRIC_NAME), own.chain(missing), v, Some(t));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_format::is_legacy_name;

    #[test]
    fn names_and_escapes() {
        assert!(is_legacy_name("http_requests_total"));
        assert!(is_legacy_name(":a1"));
        assert!(!is_legacy_name("1a"));
        assert!(!is_legacy_name("a.b"));
        assert!(!is_legacy_name(""));
        let mut s = String::new();
        let l = Labels::from_pairs([("__name__", "a.b"), ("p", "x\"y\\z\nw")]);
        write_sample(&mut s, &l, &[("instance", "")], 5, 1.0);
        assert_eq!(s, "{\"a.b\",p=\"x\\\"y\\\\z\\nw\",instance=\"\"} 1 5\n");
    }

    #[test]
    fn selectors_are_checked() {
        assert_eq!(parse_selectors(&[]).unwrap().len(), 0);
        assert_eq!(parse_selectors(&["up", "{job=\"a\"}"]).unwrap().len(), 2);
        assert!(parse_selectors(&["up{"]).is_err());
        assert!(parse_selectors(&["{a=\"\"}"])
            .unwrap_err()
            .contains("non-empty matcher"));
    }
}
