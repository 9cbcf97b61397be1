//! Alerting rules: the state machine from query results to pending, firing
//! and resolved alerts, and the `ALERTS` / `ALERTS_FOR_STATE` samples that
//! record it.

use std::collections::{BTreeMap, HashMap, HashSet};

use promql::ast::Expr;
use promql::Sample;
use storage::{Label, Labels, METRIC_NAME};

use super::alert::{Alert, AlertState};
use super::context::EvalContext;
use super::rule::RuleStatus;
use super::template::{error_annotation, AlertData, AlertValue, Expander};

/// How long a resolved alert is kept (and re-sent) after it resolved.
pub(crate) const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

const ALERTS_METRIC: &str = "ALERTS";
pub(crate) const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";
const ALERT_NAME: &str = "alertname";
const ALERT_STATE: &str = "alertstate";

/// An `alert:` rule and its active alerts.
#[derive(Debug)]
pub struct AlertingRule {
    pub name: String,
    pub expr: Expr,
    /// `for`, ms.
    pub hold_ms: i64,
    pub keep_firing_for_ms: i64,
    /// Group labels with the rule's own on top; templates.
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub status: RuleStatus,
    /// Alerts by identity, including resolved ones still kept.
    pub(crate) active: HashMap<Labels, Alert>,
    /// Whether `for` state was restored (or needs no restoring): until then
    /// no `ALERTS` series are written, as upstream.
    pub(crate) restored: bool,
}

impl AlertingRule {
    /// The highest state of the rule's alerts.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or_default()
    }

    /// The alerts held, in label order.
    pub fn alerts(&self) -> Vec<&Alert> {
        let mut v: Vec<&Alert> = self.active.values().collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// Evaluates the rule at group timestamp `ts`, querying at
    /// `ts - query_offset`; returns the `ALERTS` and `ALERTS_FOR_STATE`
    /// samples to write, stamped `ts - query_offset`.
    pub(crate) fn eval(
        &mut self,
        ctx: &EvalContext,
        ts: i64,
        query_offset_ms: i64,
        limit: usize,
    ) -> Result<Vec<Sample>, String> {
        let t = ts - query_offset_ms;
        let results = ctx.query(&self.expr, t)?;
        let mut found: HashMap<Labels, Alert> = HashMap::with_capacity(results.len());
        for s in &results {
            let data = AlertData {
                labels: s
                    .metric
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect(),
                external_labels: ctx.settings.external_labels.clone(),
                external_url: ctx.settings.external_url.clone(),
                value: AlertValue::Float(s.v),
            };
            let expand = |text: &str| self.expand(ctx, text, &data, ts);
            let mut pairs: Vec<Label> = Vec::with_capacity(s.metric.len() + self.labels.len() + 1);
            pairs.push(Label::new(ALERT_NAME, self.name.as_str()));
            let mut removed = Vec::new();
            for (n, v) in &self.labels {
                let v = expand(v);
                if v.is_empty() {
                    removed.push(n.as_str());
                }
                pairs.push(Label::new(n.as_str(), v));
            }
            pairs.extend(
                s.metric
                    .iter()
                    .filter(|l| l.name != METRIC_NAME && !removed.contains(&l.name.as_str()))
                    .cloned(),
            );
            let labels = Labels::new(pairs);
            let annotations = self
                .annotations
                .iter()
                .map(|(n, v)| (n.clone(), expand(v)))
                .collect();
            if found.contains_key(&labels) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .to_string(),
                );
            }
            found.insert(labels.clone(), Alert::new(labels, annotations, s.v, ts));
        }

        let result_ids: HashSet<Labels> = found.keys().cloned().collect();
        for (id, new) in found {
            match self.active.get_mut(&id) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = new.value;
                    old.annotations = new.annotations;
                }
                _ => {
                    self.active.insert(id, new);
                }
            }
        }

        let mut out = Vec::new();
        let mut counted = 0usize;
        let (hold, keep_for, restored) = (self.hold_ms, self.keep_firing_for_ms, self.restored);
        let rule_labels = &self.labels;
        let name = self.name.as_str();
        self.active.retain(|id, a| {
            if result_ids.contains(id) {
                a.keep_firing_since_ms = None;
            } else {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep_for > 0 {
                    let since = *a.keep_firing_since_ms.get_or_insert(ts);
                    keep_firing = ts - since < keep_for;
                }
                if keep_firing {
                    // Still firing: counted and written below.
                } else {
                    let expired = a
                        .resolved_at_ms
                        .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS);
                    if a.state == AlertState::Pending || expired {
                        return false;
                    }
                    if a.state != AlertState::Inactive {
                        a.state = AlertState::Inactive;
                        a.resolved_at_ms = Some(ts);
                    }
                    return true;
                }
            }
            counted += 1;
            if a.state == AlertState::Pending && ts - a.active_at_ms >= hold {
                a.state = AlertState::Firing;
                a.fired_at_ms = Some(ts);
            }
            if restored {
                out.push(series_sample(rule_labels, a, name, Some(a.state), t, 1.0));
                let active_secs = a.active_at_ms.div_euclid(1000) as f64;
                out.push(series_sample(rule_labels, a, name, None, t, active_secs));
            }
            true
        });
        if limit > 0 && counted > limit {
            self.active.clear();
            return Err(format!("exceeded limit of {limit} with {counted} alerts"));
        }
        Ok(out)
    }

    /// Expands one label or annotation template; a failure becomes the
    /// text, as upstream (alerts must not be lost to a typo).
    fn expand(&self, ctx: &EvalContext, text: &str, data: &AlertData, ts: i64) -> String {
        // Text without actions expands to itself; skip parsing it.
        if !text.contains("{{") {
            return text.to_string();
        }
        let url = ctx.settings.external_url.as_str();
        Expander::for_alert(&self.name, text, data.clone(), ts, ctx, url, url_path(url))
            .expand()
            .unwrap_or_else(|e| {
                tracing::warn!(alert = %self.name, error = %e, "expanding alert template failed");
                error_annotation(&e)
            })
    }

    /// The alerts due for the notifier at `ts`, marked as sent.
    pub(crate) fn take_alerts_to_send(
        &mut self,
        ts: i64,
        resend_delay_ms: i64,
        interval_ms: i64,
    ) -> Vec<Alert> {
        // Room for two missed evaluations or failed sends before the
        // Alertmanager expires a firing alert on its own.
        let valid_for = 4 * resend_delay_ms.max(interval_ms);
        let mut due: Vec<Alert> = self
            .active
            .values_mut()
            .filter(|a| a.needs_sending(ts, resend_delay_ms))
            .map(|a| {
                a.last_sent_at_ms = Some(ts);
                a.valid_until_ms = Some(ts + valid_for);
                a.clone()
            })
            .collect();
        due.sort_by(|a, b| a.labels.cmp(&b.labels));
        due
    }
}

/// An `ALERTS` sample (`state` set) or an `ALERTS_FOR_STATE` one.
fn series_sample(
    rule_labels: &BTreeMap<String, String>,
    a: &Alert,
    name: &str,
    state: Option<AlertState>,
    t: i64,
    v: f64,
) -> Sample {
    let metric = match state {
        Some(_) => ALERTS_METRIC,
        None => ALERTS_FOR_STATE_METRIC,
    };
    // First of equal names wins in `Labels::new`: highest precedence first.
    let mut pairs = Vec::with_capacity(a.labels.len() + rule_labels.len() + 3);
    pairs.push(Label::new(METRIC_NAME, metric));
    pairs.push(Label::new(ALERT_NAME, name));
    if let Some(s) = state {
        pairs.push(Label::new(ALERT_STATE, s.as_str()));
    }
    pairs.extend(a.labels.iter().cloned());
    pairs.extend(
        rule_labels
            .iter()
            .map(|(n, v)| Label::new(n.as_str(), v.as_str())),
    );
    Sample {
        metric: Labels::new(pairs),
        t,
        v,
    }
}

/// The path of a URL (`/prefix` of `http://host/prefix`), "" when none.
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("", |i| &rest[i..])
}
