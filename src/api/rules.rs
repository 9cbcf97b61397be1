//! `/api/v1/rules` and `/api/v1/alerts`: the rule manager's groups, their
//! rules with health and alerts, and the active alerts, read from the
//! snapshots the manager publishes after each evaluation. Parameters
//! ([`filter`]) and JSON ([`shape`]) follow Prometheus 3.x.

mod filter;
mod shape;

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::Router;

use super::json::success;
use super::params::{invalid_param, Params};
use super::response::{ApiError, Success};
use super::ApiState;
use crate::rules::GroupSnapshot;
use filter::{group_token, RuleFilter};
use shape::{active_alerts, AlertDiscovery, GroupJson, RuleDiscovery, RuleJson};

pub(super) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/alerts", get(alerts))
}

/// Groups ordered by file, then name; without a rule manager, none.
fn groups(state: &ApiState) -> Vec<GroupSnapshot> {
    state.rules.as_ref().map(|m| m.groups()).unwrap_or_default()
}

async fn rules(State(state): State<Arc<ApiState>>, params: Params) -> Result<Success, ApiError> {
    let filter = RuleFilter::parse(&params)?;
    let groups = groups(&state);
    success(&discover(&groups, &filter)?)
}

/// The groups `f` selects. A group left without rules by the filters is
/// not listed; with `group_limit`, listing starts at the group the token
/// names and stops after `limit` groups, naming the next one.
fn discover<'a>(
    groups: &'a [GroupSnapshot],
    f: &RuleFilter,
) -> Result<RuleDiscovery<'a>, ApiError> {
    let mut out = Vec::new();
    let mut next = None;
    let mut seeking = f.page.as_ref().and_then(|p| p.token.as_deref());
    for g in groups {
        if let Some(token) = seeking {
            if group_token(g) != token {
                continue;
            }
            seeking = None;
        }
        if !f.wants_group(g) {
            continue;
        }
        let rules: Vec<RuleJson> = g
            .rules
            .iter()
            .filter(|r| f.wants_rule(r))
            .map(|r| RuleJson::new(r, f.exclude_alerts))
            .collect();
        if rules.is_empty() {
            continue;
        }
        if f.page.as_ref().is_some_and(|p| out.len() == p.limit) {
            next = Some(group_token(g));
            break;
        }
        out.push(GroupJson::new(g, rules));
    }
    if let Some(token) = seeking {
        return Err(invalid_param(
            "group_next_token",
            format!("invalid group_next_token '{token}'. were rule groups changed?"),
        ));
    }
    Ok(RuleDiscovery {
        groups: out,
        group_next_token: next,
    })
}

/// Pending and firing alerts of every alerting rule, group by group.
async fn alerts(State(state): State<Arc<ApiState>>) -> Result<Success, ApiError> {
    let groups = groups(&state);
    let alerts = groups
        .iter()
        .flat_map(|g| &g.rules)
        .filter_map(|r| r.alerting.as_ref())
        .flat_map(active_alerts)
        .collect();
    success(&AlertDiscovery { alerts })
}

#[cfg(test)]
mod tests;
