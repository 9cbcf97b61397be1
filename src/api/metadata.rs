//! `/api/v1/metadata` (TYPE/HELP/UNIT per metric, merged over targets and
//! remote-write senders) and
//! `/api/v1/targets/metadata` (the same, per target).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use storage::Matcher;

use super::json::{success, LabelMap};
use super::params::{invalid_param, Params};
use super::response::{ApiError, Success};
use super::ApiState;

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/v1/metadata", get(metric_metadata))
        .route("/api/v1/targets/metadata", get(target_metadata))
}

/// An integer parameter as Go's `strconv.Atoi` reads it; absent means -1
/// ("no limit"), as in Prometheus.
fn int_param(params: &Params, key: &str) -> Result<i64, ApiError> {
    match params.get(key) {
        None | Some("") => Ok(-1),
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| ApiError::bad_data(format!("{key} must be a number"))),
    }
}

#[derive(Clone, PartialEq, Eq, Serialize)]
struct Meta<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    help: &'a str,
    unit: &'a str,
}

/// Distinct metadata per metric over all active targets. `limit` caps the
/// number of metrics (the first ones by name), `limit_per_metric` (when
/// positive) the entries per metric, `metric` selects one metric.
async fn metric_metadata(
    State(state): State<Arc<ApiState>>,
    params: Params,
) -> Result<Success, ApiError> {
    let limit = int_param(&params, "limit")?;
    let per_metric = int_param(&params, "limit_per_metric")?;
    let only = params.get("metric").unwrap_or("");
    let all = state.scrape.metadata();
    // Metadata pushed by remote-write senders counts like another target's.
    let remote = state.remote_metadata.all();
    let mut merged: BTreeMap<&str, Vec<Meta>> = BTreeMap::new();
    for md in all.iter().flat_map(|(_, list)| list).chain(&remote) {
        if !only.is_empty() && md.metric != only {
            continue;
        }
        let entries = merged.entry(md.metric.as_str()).or_default();
        if per_metric > 0 && entries.len() as i64 >= per_metric {
            continue;
        }
        let m = Meta {
            kind: &md.kind,
            help: &md.help,
            unit: &md.unit,
        };
        if !entries.contains(&m) {
            entries.push(m);
        }
    }
    if limit >= 0 {
        let keep = usize::try_from(limit).unwrap_or(usize::MAX);
        let cut = merged.keys().nth(keep).copied();
        if let Some(cut) = cut {
            merged.split_off(cut);
        }
    }
    success(&merged)
}

/// One target's metadata for one metric. `metric` is left out when the
/// request named the metric, as Prometheus does.
#[derive(Serialize)]
struct TargetMeta<'a> {
    target: LabelMap<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metric: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
    help: &'a str,
    unit: &'a str,
}

/// Metadata per target. `match_target` selects targets by their labels,
/// `metric` one metric, and `limit` stops adding targets once that many
/// entries are collected (a target's entries are never split, as in
/// Prometheus).
async fn target_metadata(
    State(state): State<Arc<ApiState>>,
    params: Params,
) -> Result<Success, ApiError> {
    let limit = int_param(&params, "limit")?;
    let matchers: Vec<Matcher> = match params.get("match_target") {
        None | Some("") => Vec::new(),
        Some(s) => {
            promql::parse_metric_selector(s).map_err(|e| invalid_param("match_target", e))?
        }
    };
    let metric = params.get("metric").unwrap_or("");
    let all = state.scrape.metadata();
    let mut out: Vec<TargetMeta> = Vec::new();
    for (target, list) in &all {
        if limit >= 0 && out.len() as i64 >= limit {
            break;
        }
        if !matchers.iter().all(|m| m.matches_labels(target)) {
            continue;
        }
        for md in list {
            if !metric.is_empty() && md.metric != metric {
                continue;
            }
            out.push(TargetMeta {
                target: LabelMap(target),
                metric: metric.is_empty().then_some(md.metric.as_str()),
                kind: &md.kind,
                help: &md.help,
                unit: &md.unit,
            });
            if !metric.is_empty() {
                break;
            }
        }
    }
    success(&out)
}
