//! `/api/v1/targets` and `/api/v1/scrape_pools`: what the scrape manager
//! scrapes, and what relabeling dropped.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use super::json::{go_time, success, GoFloat, LabelMap, GO_ZERO_TIME};
use super::params::Params;
use super::response::{ApiError, Success};
use super::ApiState;
use crate::scrape::status::{ActiveTarget, DroppedTarget};

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/v1/targets", get(targets))
        .route("/api/v1/scrape_pools", get(scrape_pools))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Active<'a> {
    discovered_labels: LabelMap<'a>,
    labels: LabelMap<'a>,
    scrape_pool: &'a str,
    scrape_url: &'a str,
    global_url: &'a str,
    last_error: &'a str,
    last_scrape: String,
    last_scrape_duration: GoFloat,
    health: &'static str,
    scrape_interval: &'a str,
    scrape_timeout: &'a str,
}

impl<'a> From<&'a ActiveTarget> for Active<'a> {
    fn from(t: &'a ActiveTarget) -> Self {
        Active {
            discovered_labels: LabelMap(&t.discovered_labels),
            labels: LabelMap(&t.labels),
            scrape_pool: &t.scrape_pool,
            scrape_url: &t.scrape_url,
            global_url: &t.global_url,
            last_error: &t.last_error,
            last_scrape: t
                .last_scrape
                .map_or_else(|| GO_ZERO_TIME.to_string(), go_time),
            last_scrape_duration: GoFloat(t.last_scrape_duration_seconds),
            health: t.health.as_str(),
            scrape_interval: &t.scrape_interval,
            scrape_timeout: &t.scrape_timeout,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Dropped<'a> {
    discovered_labels: LabelMap<'a>,
}

/// Prometheus 2.53's shape: `droppedTargetCounts` is `null` when dropped
/// targets were not asked for.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Discovery<'a> {
    active_targets: Vec<Active<'a>>,
    dropped_targets: Vec<Dropped<'a>>,
    dropped_target_counts: Option<BTreeMap<&'a str, usize>>,
}

/// `state` (`active`, `dropped`, `any`; anything else shows nothing, as in
/// Prometheus) and `scrapePool` filter the lists. Targets are ordered by
/// pool, then as the scrape manager lists them.
async fn targets(State(state): State<Arc<ApiState>>, params: Params) -> Result<Success, ApiError> {
    let which = params.get("state").unwrap_or("").to_ascii_lowercase();
    let show_active = matches!(which.as_str(), "" | "any" | "active");
    let show_dropped = matches!(which.as_str(), "" | "any" | "dropped");
    let pool = params.get("scrapePool").unwrap_or("");
    let in_pool = |p: &str| pool.is_empty() || p == pool;

    let mut active: Vec<ActiveTarget> = if show_active {
        state.scrape.active_targets()
    } else {
        Vec::new()
    };
    active.retain(|t| in_pool(&t.scrape_pool));
    active.sort_by(|a, b| a.scrape_pool.cmp(&b.scrape_pool));

    let mut dropped: Vec<DroppedTarget> = if show_dropped {
        state.scrape.dropped_targets()
    } else {
        Vec::new()
    };
    dropped.retain(|t| in_pool(&t.scrape_pool));
    dropped.sort_by(|a, b| a.scrape_pool.cmp(&b.scrape_pool));
    let counts = show_dropped.then(|| {
        let mut m = BTreeMap::new();
        for t in &dropped {
            *m.entry(t.scrape_pool.as_str()).or_insert(0) += 1;
        }
        m
    });

    success(&Discovery {
        active_targets: active.iter().map(Active::from).collect(),
        dropped_targets: dropped
            .iter()
            .map(|t| Dropped {
                discovered_labels: LabelMap(&t.discovered_labels),
            })
            .collect(),
        dropped_target_counts: counts,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScrapePools<'a> {
    scrape_pools: Vec<&'a str>,
}

/// The configured scrape jobs, sorted.
async fn scrape_pools(State(state): State<Arc<ApiState>>) -> Result<Success, ApiError> {
    let cfg = Arc::clone(&state.config.read());
    let mut pools: Vec<&str> = cfg
        .scrape_configs
        .iter()
        .map(|s| s.job_name.as_str())
        .collect();
    pools.sort_unstable();
    pools.dedup();
    success(&ScrapePools {
        scrape_pools: pools,
    })
}
