//! `/api/v1/status/tsdb`: head cardinality statistics.
//!
//! Prometheus's fields (`headStats` and four rankings, sized by `limit`)
//! plus ferroprom's cardinality-explorer extensions: `match[]` narrows the
//! statistics to the head series matching any selector, `focusLabel` adds
//! a ranking of one label's values, `seriesCountByLabelName` ranks label
//! names by the series carrying them and `headChurn` counts series created
//! and removed in the last hour (see `docs/compatibility.md`).

use std::sync::Arc;

use axum::extract::State;
use serde::Serialize;
use storage::head::{CardinalityQuery, HeadChurn};

use super::super::json::success;
use super::super::params::{parse_matchers, Params};
use super::super::response::{ApiError, Success};
use super::super::ApiState;

/// Entries per ranking without `limit`.
const DEFAULT_LIMIT: usize = 10;

/// Most entries per ranking. Prometheus takes any positive `limit`; a
/// larger one is served as this many (the request still succeeds), which
/// bounds the answer to a few MB whatever the head holds.
const MAX_LIMIT: usize = 10_000;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HeadStats {
    num_series: u64,
    num_label_pairs: u64,
    chunk_count: u64,
    min_time: i64,
    max_time: i64,
}

#[derive(Serialize)]
struct Stat<'a> {
    name: &'a str,
    value: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Churn {
    window_seconds: u64,
    series_created: u64,
    series_removed: u64,
}

impl From<HeadChurn> for Churn {
    fn from(c: HeadChurn) -> Self {
        Churn {
            window_seconds: c.window_seconds,
            series_created: c.series_created,
            series_removed: c.series_removed,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TsdbStatus<'a> {
    head_stats: HeadStats,
    series_count_by_metric_name: Vec<Stat<'a>>,
    label_value_count_by_label_name: Vec<Stat<'a>>,
    memory_in_bytes_by_label_name: Vec<Stat<'a>>,
    series_count_by_label_value_pair: Vec<Stat<'a>>,
    series_count_by_label_name: Vec<Stat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    series_count_by_focus_label_value: Option<Vec<Stat<'a>>>,
    head_churn: Churn,
}

fn stats(v: &[(String, u64)]) -> Vec<Stat<'_>> {
    v.iter()
        .map(|(name, value)| Stat {
            name,
            value: *value,
        })
        .collect()
}

/// `limit` as Prometheus parses it (a positive integer, error text
/// included), then capped at [`MAX_LIMIT`].
fn limit_param(params: &Params) -> Result<usize, ApiError> {
    match params.get("limit") {
        None | Some("") => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(usize::try_from(n).map_or(MAX_LIMIT, |n| n.min(MAX_LIMIT))),
            _ => Err(ApiError::bad_data("limit must be a positive number")),
        },
    }
}

/// The query the parameters ask for: `match[]` parsed and checked as
/// `/api/v1/labels` does it; an empty `focusLabel` is no focus label.
fn query(params: &Params) -> Result<CardinalityQuery, ApiError> {
    Ok(CardinalityQuery {
        limit: limit_param(params)?,
        selectors: parse_matchers(&params.all("match[]"))?,
        focus_label: params
            .get("focusLabel")
            .filter(|l| !l.is_empty())
            .map(str::to_string),
    })
}

pub(super) async fn tsdb(
    State(state): State<Arc<ApiState>>,
    params: Params,
) -> Result<Success, ApiError> {
    let q = query(&params)?;
    let db = Arc::clone(&state.db);
    let (card, chunks) = tokio::task::spawn_blocking(move || {
        let head = db.head();
        (head.cardinality(&q), head.num_chunks())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let card = card.map_err(|e| ApiError::internal(e.to_string()))?;
    success(&TsdbStatus {
        head_stats: HeadStats {
            num_series: card.num_series,
            num_label_pairs: card.num_label_pairs,
            chunk_count: chunks,
            min_time: card.min_time,
            max_time: card.max_time,
        },
        series_count_by_metric_name: stats(&card.series_count_by_metric_name),
        label_value_count_by_label_name: stats(&card.label_value_count_by_label_name),
        memory_in_bytes_by_label_name: stats(&card.memory_in_bytes_by_label_name),
        series_count_by_label_value_pair: stats(&card.series_count_by_label_value_pair),
        series_count_by_label_name: stats(&card.series_count_by_label_name),
        series_count_by_focus_label_value: card
            .series_count_by_focus_label_value
            .as_deref()
            .map(stats),
        head_churn: card.churn.into(),
    })
}
