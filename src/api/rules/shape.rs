//! The JSON of `/api/v1/rules` and `/api/v1/alerts`, field for field as
//! Prometheus 3.x writes it: durations as float seconds, times as Go's
//! RFC 3339 (the zero time for "never"), alert values in Go's `%e` form.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promql::go_float;
use serde::Serialize;

use super::super::json::{go_time, GoFloat, LabelMap, GO_ZERO_TIME};
use crate::rules::{AlertSnapshot, AlertState, AlertingSnapshot, GroupSnapshot, RuleSnapshot};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RuleDiscovery<'a> {
    pub(super) groups: Vec<GroupJson<'a>>,
    /// Set when `group_limit` cut the list short.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) group_next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GroupJson<'a> {
    name: &'a str,
    file: &'a str,
    /// Alerting and recording rules in one list, keeping the file's order.
    rules: Vec<RuleJson<'a>>,
    interval: GoFloat,
    limit: usize,
    evaluation_time: GoFloat,
    last_evaluation: String,
}

impl<'a> GroupJson<'a> {
    pub(super) fn new(g: &'a GroupSnapshot, rules: Vec<RuleJson<'a>>) -> Self {
        GroupJson {
            name: &g.name,
            file: &g.file,
            rules,
            interval: GoFloat(g.interval_ms as f64 / 1000.0),
            limit: g.limit,
            evaluation_time: GoFloat(g.evaluation_time.as_secs_f64()),
            last_evaluation: wall_time(g.last_evaluation),
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum RuleJson<'a> {
    Alerting(AlertingJson<'a>),
    Recording(RecordingJson<'a>),
}

impl<'a> RuleJson<'a> {
    /// `exclude_alerts` gives `alerts: null`, as upstream.
    pub(super) fn new(r: &'a RuleSnapshot, exclude_alerts: bool) -> Self {
        let outcome = |kind| Outcome {
            health: r.health.as_str(),
            last_error: r.last_error.as_deref().filter(|e| !e.is_empty()),
            evaluation_time: GoFloat(r.evaluation_time.as_secs_f64()),
            last_evaluation: wall_time(r.last_evaluation),
            kind,
        };
        match &r.alerting {
            None => RuleJson::Recording(RecordingJson {
                name: &r.name,
                query: &r.query,
                labels: &r.labels,
                outcome: outcome("recording"),
            }),
            Some(a) => RuleJson::Alerting(AlertingJson {
                // Upstream's rule state before the first evaluation.
                state: match r.last_evaluation {
                    None => "unknown",
                    Some(_) => a.state.as_str(),
                },
                name: &r.name,
                query: &r.query,
                duration: GoFloat(a.duration_ms as f64 / 1000.0),
                keep_firing_for: GoFloat(a.keep_firing_for_ms as f64 / 1000.0),
                labels: &r.labels,
                annotations: &a.annotations,
                alerts: (!exclude_alerts).then(|| active_alerts(a).collect()),
                outcome: outcome("alerting"),
            }),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AlertingJson<'a> {
    state: &'static str,
    name: &'a str,
    query: &'a str,
    duration: GoFloat,
    keep_firing_for: GoFloat,
    labels: &'a BTreeMap<String, String>,
    annotations: &'a BTreeMap<String, String>,
    alerts: Option<Vec<AlertJson<'a>>>,
    #[serde(flatten)]
    outcome: Outcome<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RecordingJson<'a> {
    name: &'a str,
    query: &'a str,
    labels: &'a BTreeMap<String, String>,
    #[serde(flatten)]
    outcome: Outcome<'a>,
}

/// The last evaluation of a rule and its type: the fields both kinds of
/// rule end with, in upstream's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Outcome<'a> {
    health: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<&'a str>,
    evaluation_time: GoFloat,
    last_evaluation: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
pub(super) struct AlertDiscovery<'a> {
    pub(super) alerts: Vec<AlertJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AlertJson<'a> {
    labels: LabelMap<'a>,
    annotations: &'a BTreeMap<String, String>,
    state: &'static str,
    active_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep_firing_since: Option<String>,
    value: String,
}

/// The pending and firing alerts of a rule; resolved ones, kept for
/// re-sending, are not shown (upstream's `ActiveAlerts`).
pub(super) fn active_alerts(a: &AlertingSnapshot) -> impl Iterator<Item = AlertJson<'_>> {
    a.alerts
        .iter()
        .filter(|al| al.state != AlertState::Inactive)
        .map(AlertJson::new)
}

impl<'a> AlertJson<'a> {
    fn new(a: &'a AlertSnapshot) -> Self {
        AlertJson {
            labels: LabelMap(&a.labels),
            annotations: &a.annotations,
            state: a.state.as_str(),
            active_at: ms_time(a.active_at_ms),
            keep_firing_since: a.keep_firing_since_ms.map(ms_time),
            value: go_e(a.value),
        }
    }
}

fn wall_time(t: Option<SystemTime>) -> String {
    t.map_or_else(|| GO_ZERO_TIME.to_string(), go_time)
}

fn ms_time(ms: i64) -> String {
    let d = Duration::from_millis(ms.unsigned_abs());
    go_time(if ms >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    })
}

/// `strconv.FormatFloat(v, 'e', -1, 64)`, with Prometheus's `NaN`, `+Inf`
/// and `-Inf`.
pub(super) fn go_e(v: f64) -> String {
    if !v.is_finite() {
        return go_float::format_f(v);
    }
    let mut out = Vec::with_capacity(24);
    go_float::write_e(&mut out, v);
    String::from_utf8(out).unwrap_or_default()
}
