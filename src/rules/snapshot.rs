//! The read model behind `/api/v1/rules` and `/api/v1/alerts`: plain
//! copies of each group's rules, their health and their alerts, taken
//! after every evaluation so readers never wait for one.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use storage::Labels;

use super::alert::AlertState;
use super::group::Group;
use super::rule::{Health, Rule};

/// A group as the API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSnapshot {
    pub name: String,
    pub file: String,
    pub interval_ms: i64,
    pub limit: usize,
    pub query_offset_ms: i64,
    /// How long the last evaluation of the whole group took.
    pub evaluation_time: Duration,
    /// Wall-clock start of the last evaluation.
    pub last_evaluation: Option<SystemTime>,
    pub rules: Vec<RuleSnapshot>,
}

/// A rule as the API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSnapshot {
    pub name: String,
    /// The expression, printed.
    pub query: String,
    pub labels: BTreeMap<String, String>,
    pub health: Health,
    pub last_error: Option<String>,
    pub evaluation_time: Duration,
    pub last_evaluation: Option<SystemTime>,
    /// `None` for a recording rule.
    pub alerting: Option<AlertingSnapshot>,
}

/// What only alerting rules have.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertingSnapshot {
    /// `for`, ms.
    pub duration_ms: i64,
    pub keep_firing_for_ms: i64,
    pub annotations: BTreeMap<String, String>,
    /// The highest state of its alerts.
    pub state: AlertState,
    /// Pending, firing and recently resolved alerts, in label order.
    pub alerts: Vec<AlertSnapshot>,
}

/// One alert as the API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertSnapshot {
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    /// ms since the epoch.
    pub active_at_ms: i64,
    pub keep_firing_since_ms: Option<i64>,
    pub value: f64,
}

impl Group {
    /// A copy of the group's current state for readers.
    pub fn snapshot(&self) -> GroupSnapshot {
        GroupSnapshot {
            name: self.name().to_string(),
            file: self.file().to_string(),
            interval_ms: self.interval_ms(),
            limit: self.limit(),
            query_offset_ms: self.query_offset_ms(),
            evaluation_time: self.evaluation_time,
            last_evaluation: self.last_evaluation,
            rules: self.rules().iter().map(rule_snapshot).collect(),
        }
    }
}

fn rule_snapshot(r: &Rule) -> RuleSnapshot {
    let status = r.status();
    let alerting = match r {
        Rule::Recording(_) => None,
        Rule::Alerting(a) => Some(AlertingSnapshot {
            duration_ms: a.hold_ms,
            keep_firing_for_ms: a.keep_firing_for_ms,
            annotations: a.annotations.clone(),
            state: a.state(),
            alerts: a
                .alerts()
                .into_iter()
                .map(|al| AlertSnapshot {
                    labels: al.labels.clone(),
                    annotations: al.annotations.clone(),
                    state: al.state,
                    active_at_ms: al.active_at_ms,
                    keep_firing_since_ms: al.keep_firing_since_ms,
                    value: al.value,
                })
                .collect(),
        }),
    };
    RuleSnapshot {
        name: r.name().to_string(),
        query: r.query(),
        labels: r.labels().clone(),
        health: status.health,
        last_error: status.last_error.clone(),
        evaluation_time: status.evaluation_time,
        last_evaluation: status.last_evaluation,
        alerting,
    }
}
