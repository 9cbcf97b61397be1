//! Series metadata: `/api/v1/series`, `/api/v1/labels` and
//! `/api/v1/label/<name>/values`, read through the fanout storage as in
//! Prometheus: local storage plus the `remote_read:` endpoints (for the
//! series endpoint; label lookups only warn that remote endpoints do not
//! implement them), remote failures reported as warnings.
//!
//! Without `start`/`end` the whole time range is searched. Several
//! `match[]` selectors give the union of their answers. `limit` keeps the
//! first names, values or series and warns that the result was cut.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use storage::querier::{extend_unique, Querier, Queryable, SelectHints};
use storage::{Labels, Matcher};

use super::blocking;
use super::encode;
use super::params::{
    go_quote, invalid_param, limit_param, parse_matchers, time_param, Params, MAX_TIME, MIN_TIME,
};
use super::query::{get_post, observe};
use super::response::{method_not_allowed, ApiError, Success};
use super::ApiState;

const TRUNCATED: &str = "results truncated due to limit";

/// The metadata routes; merge them into the API router.
pub fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        // Upstream routes DELETE here but never implemented it.
        .route(
            "/api/v1/series",
            get_post(series).delete(|| async { ApiError::internal("not implemented") }),
        )
        .route("/api/v1/labels", get_post(label_names))
        // GET only, as upstream: POST gets a plain-text 405.
        .route(
            "/api/v1/label/{name}/values",
            get(label_values)
                .fallback(|m: Method| async move { method_not_allowed(&m, "GET, OPTIONS") }),
        )
        // The router does not match an empty segment; upstream reports it.
        .route(
            "/api/v1/label//values",
            get(|| async { ApiError::bad_data("invalid label name: \"\"") })
                .fallback(|m: Method| async move { method_not_allowed(&m, "GET, OPTIONS") }),
        )
}

/// A storage failure while reading metadata (upstream: `execution`).
fn storage_error(e: storage::Error) -> ApiError {
    ApiError::new(super::response::ErrorType::Execution, e.to_string())
}

/// Runs `f` on the blocking pool against a querier over `[start, end]` of
/// the fanout storage; returns its result and the warnings it collected.
async fn with_querier<T, F>(
    state: &Arc<ApiState>,
    start: i64,
    end: i64,
    f: F,
) -> Result<(T, Vec<String>), ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Querier) -> Result<(T, Vec<String>), storage::Error> + Send + 'static,
{
    let st = Arc::clone(state);
    // A request whose client went away stops waiting for remote endpoints.
    blocking::run_cancellable(move |flag| {
        let view = st.queryable.view(flag, None);
        let q = view.querier(start, end).map_err(storage_error)?;
        f(q.as_ref()).map_err(storage_error)
    })
    .await
    .map_err(|e| ApiError::internal(format!("metadata lookup failed: {e}")))?
}

fn respond(
    state: &ApiState,
    endpoint: &str,
    started: Instant,
    r: Result<Success, ApiError>,
) -> Response {
    observe(state, endpoint, started);
    match r {
        Ok(s) => s.into_response(),
        Err(e) => e.into_response(),
    }
}

/// The first `limit` items (all when 0), and whether some were cut.
fn cut<T>(mut items: Vec<T>, limit: usize) -> (Vec<T>, Vec<String>) {
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        (items, vec![TRUNCATED.into()])
    } else {
        (items, Vec::new())
    }
}

async fn series(State(state): State<Arc<ApiState>>, params: Params) -> Response {
    let started = Instant::now();
    let r = series_answer(&state, &params).await;
    respond(&state, "series", started, r)
}

async fn series_answer(state: &Arc<ApiState>, params: &Params) -> Result<Success, ApiError> {
    let selectors = params.all("match[]");
    if selectors.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let limit = limit_param(params)?;
    let start = time_param(params, "start", MIN_TIME)?;
    let end = time_param(params, "end", MAX_TIME)?;
    let sets = parse_matchers(&selectors).map_err(|e| invalid_param("match[]", e.msg))?;
    // "series" is no function: the hint tells remote endpoints that only
    // label sets are wanted, as Prometheus's series API sends it.
    let hints = SelectHints {
        start,
        end,
        func: Some("series"),
        labels_only: true,
        ..Default::default()
    };
    let (found, remote_warnings) = with_querier(state, start, end, move |q| {
        // Each select is sorted; several are merged without duplicates.
        let mut all: Vec<Labels> = Vec::new();
        let mut warnings = Vec::new();
        for set in &sets {
            let found = q.select(&hints, set)?;
            all.extend(found.series.into_iter().map(|s| s.labels));
            extend_unique(&mut warnings, found.warnings);
        }
        if sets.len() > 1 {
            all.sort();
            all.dedup();
        }
        Ok((all, warnings))
    })
    .await?;
    let (found, truncated) = cut(found, limit);
    let mut s = Success::raw(encode::label_sets(&found));
    s.warnings = remote_warnings;
    s.warnings.extend(truncated);
    Ok(s)
}

/// `limit`, `start`, `end` and `match[]` of the label endpoints.
struct LabelQuery {
    limit: usize,
    start: i64,
    end: i64,
    sets: Vec<Vec<Matcher>>,
}

fn label_query(params: &Params) -> Result<LabelQuery, ApiError> {
    let limit = limit_param(params)?;
    let start = time_param(params, "start", MIN_TIME)?;
    let end = time_param(params, "end", MAX_TIME)?;
    let sets = parse_matchers(&params.all("match[]"))?;
    Ok(LabelQuery {
        limit,
        start,
        end,
        sets,
    })
}

/// Runs `lookup` once without matchers, or once per selector, and merges
/// the sorted answers.
async fn union_lookup<F>(
    state: &Arc<ApiState>,
    lq: LabelQuery,
    lookup: F,
) -> Result<Success, ApiError>
where
    F: Fn(&dyn Querier, &[Matcher]) -> Result<(Vec<String>, Vec<String>), storage::Error>
        + Send
        + 'static,
{
    let LabelQuery {
        limit,
        start,
        end,
        sets,
    } = lq;
    let (names, remote_warnings) = with_querier(state, start, end, move |q| {
        if sets.len() <= 1 {
            return lookup(q, sets.first().map_or(&[][..], |s| s.as_slice()));
        }
        let mut all = BTreeSet::new();
        let mut warnings = Vec::new();
        for set in &sets {
            let (found, w) = lookup(q, set)?;
            all.extend(found);
            warnings.extend(w);
        }
        Ok((all.into_iter().collect(), warnings))
    })
    .await?;
    let (names, truncated) = cut(names, limit);
    let mut s = Success::raw(encode::strings(&names));
    s.warnings = remote_warnings;
    s.warnings.extend(truncated);
    Ok(s)
}

async fn label_names(State(state): State<Arc<ApiState>>, params: Params) -> Response {
    let started = Instant::now();
    let r = match label_query(&params) {
        Ok(lq) => union_lookup(&state, lq, |q, m| q.label_names(m)).await,
        Err(e) => Err(e),
    };
    respond(&state, "labels", started, r)
}

async fn label_values(State(state): State<Arc<ApiState>>, uri: Uri, params: Params) -> Response {
    let started = Instant::now();
    let r = match label_name_from_path(uri.path()).and_then(|n| Ok((n, label_query(&params)?))) {
        Ok((name, lq)) => union_lookup(&state, lq, move |q, m| q.label_values(&name, m)).await,
        Err(e) => Err(e),
    };
    respond(&state, "label_values", started, r)
}

/// The `<name>` of `/api/v1/label/<name>/values`: percent-decoded,
/// `U__`-escaped names unescaped (Prometheus 3's way of putting any UTF-8
/// name in a URL), and checked to be a valid UTF-8 label name.
fn label_name_from_path(path: &str) -> Result<String, ApiError> {
    let raw = path
        .strip_prefix("/api/v1/label/")
        .and_then(|p| p.strip_suffix("/values"))
        .unwrap_or_default();
    let bytes: Vec<u8> = percent_decode(raw);
    let name = match String::from_utf8(bytes) {
        Ok(n) => n,
        Err(e) => {
            return Err(ApiError::bad_data(format!(
                "invalid label name: {}",
                go_quote(e.as_bytes())
            )))
        }
    };
    let name = match name.strip_prefix("U__") {
        Some(escaped) => unescape_name(escaped).unwrap_or(name),
        None => name,
    };
    if name.is_empty() {
        return Err(ApiError::bad_data("invalid label name: \"\""));
    }
    Ok(name)
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Reverses Prometheus's value-encoding escape (`U__` already removed):
/// `__` is `_`, `_<hex>_` is that code point, anything else stands for
/// itself. `None` when malformed, and the name is then taken literally.
fn unescape_name(escaped: &str) -> Option<String> {
    let b = escaped.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'_' {
            // Multi-byte characters pass through whole.
            let ch = escaped[i..].chars().next()?;
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        i += 1;
        match b.get(i) {
            None => return None,
            Some(b'_') => {
                out.push('_');
                i += 1;
            }
            Some(_) => {
                let mut code: u32 = 0;
                let mut digits = 0;
                loop {
                    // Upstream gives up after six hex digits.
                    if digits >= 6 {
                        return None;
                    }
                    match b.get(i) {
                        None => return None,
                        Some(b'_') => break,
                        Some(&c) => {
                            code = code * 16 + (c as char).to_digit(16)?;
                            digits += 1;
                            i += 1;
                        }
                    }
                }
                out.push(char::from_u32(code)?);
                i += 1;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_in_paths() {
        let n = |p: &str| label_name_from_path(p).map_err(|e| e.msg);
        assert_eq!(n("/api/v1/label/job/values"), Ok("job".into()));
        assert_eq!(n("/api/v1/label/__name__/values"), Ok("__name__".into()));
        assert_eq!(n("/api/v1/label/%E4%BD%A0/values"), Ok("你".into()));
        assert_eq!(n("/api/v1/label/host.name/values"), Ok("host.name".into()));
        assert_eq!(
            n("/api/v1/label/U__host_2e_name/values"),
            Ok("host.name".into())
        );
        assert_eq!(n("/api/v1/label/U__a__b/values"), Ok("a_b".into()));
        assert_eq!(
            n("/api/v1/label/U__x_1f600_/values"),
            Ok("x\u{1F600}".into())
        );
        // Malformed escapes are taken literally.
        assert_eq!(n("/api/v1/label/U__x_zz_/values"), Ok("U__x_zz_".into()));
        assert_eq!(n("/api/v1/label/U__x_/values"), Ok("U__x_".into()));
        assert_eq!(
            n("/api/v1/label/U__x_10ffff_/values"),
            Ok("U__x_10ffff_".into())
        );
        assert_eq!(
            n("/api/v1/label/U__x_d800_/values"),
            Ok("U__x_d800_".into())
        );
        assert_eq!(
            n("/api/v1/label/%ff/values"),
            Err(r#"invalid label name: "\xff""#.into())
        );
        assert_eq!(
            n("/api/v1/label//values"),
            Err(r#"invalid label name: """#.into())
        );
        assert_eq!(n("/api/v1/label/50%/values"), Ok("50%".into()));
    }

    #[test]
    fn limits_cut_and_warn() {
        assert_eq!(cut(vec![1, 2, 3], 0), (vec![1, 2, 3], vec![]));
        assert_eq!(cut(vec![1, 2, 3], 3), (vec![1, 2, 3], vec![]));
        assert_eq!(
            cut(vec![1, 2, 3], 2),
            (vec![1, 2], vec![TRUNCATED.to_string()])
        );
    }
}
