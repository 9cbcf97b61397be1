//! A rule of a group, recording or alerting, with the outcome of its last
//! evaluation (what `/api/v1/rules` reports).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::alerting::AlertingRule;
use super::recording::RecordingRule;

/// How the last evaluation of a rule went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    #[default]
    Unknown,
    Ok,
    Err,
}

impl Health {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// The outcome of a rule's last evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleStatus {
    pub health: Health,
    pub last_error: Option<String>,
    /// How long the last evaluation took (query, templates and appends).
    pub evaluation_time: Duration,
    /// Wall-clock start of the last evaluation.
    pub last_evaluation: Option<SystemTime>,
}

impl RuleStatus {
    pub(crate) fn set_result(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.health = Health::Ok;
                self.last_error = None;
            }
            Err(e) => {
                self.health = Health::Err;
                self.last_error = Some(e);
            }
        }
    }
}

/// A recording or an alerting rule.
#[derive(Debug)]
pub enum Rule {
    Recording(RecordingRule),
    Alerting(AlertingRule),
}

impl Rule {
    /// The recorded metric or the alert name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(r) => &r.name,
            Rule::Alerting(a) => &a.name,
        }
    }

    /// The rule's labels, group labels merged in (rule labels win).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        match self {
            Rule::Recording(r) => &r.labels,
            Rule::Alerting(a) => &a.labels,
        }
    }

    /// The expression as the engine prints it.
    pub fn query(&self) -> String {
        match self {
            Rule::Recording(r) => r.expr.to_string(),
            Rule::Alerting(a) => a.expr.to_string(),
        }
    }

    pub fn status(&self) -> &RuleStatus {
        match self {
            Rule::Recording(r) => &r.status,
            Rule::Alerting(a) => &a.status,
        }
    }

    pub(crate) fn status_mut(&mut self) -> &mut RuleStatus {
        match self {
            Rule::Recording(r) => &mut r.status,
            Rule::Alerting(a) => &mut a.status,
        }
    }
}
