//! One alert of an alerting rule: its identity, state and the times the
//! state machine and the notification hand-off need.

use std::collections::BTreeMap;
use std::fmt;

use storage::Labels;

/// Where an alert (or, taking the highest of its alerts, a rule) stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertState {
    /// Condition not met (a resolved alert kept for re-sending).
    #[default]
    Inactive,
    /// Condition met for less than the rule's `for`.
    Pending,
    /// Condition met for `for` or longer (or kept by `keep_firing_for`).
    Firing,
}

impl AlertState {
    /// The name Prometheus uses in `alertstate` and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alert. Times are milliseconds since the epoch, in evaluation time
/// (the group's timestamp, not the wall clock).
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// The identity: result labels without `__name__`, templated rule
    /// labels and `alertname`.
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    /// The sample value of the latest evaluation that returned the alert.
    pub value: f64,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    pub last_sent_at_ms: Option<i64>,
    /// `endsAt` of a firing alert as last sent.
    pub valid_until_ms: Option<i64>,
    /// When the condition of a firing alert with `keep_firing_for` cleared.
    pub keep_firing_since_ms: Option<i64>,
}

impl Alert {
    /// A new pending alert first seen at `ts`.
    pub(crate) fn new(
        labels: Labels,
        annotations: BTreeMap<String, String>,
        value: f64,
        ts: i64,
    ) -> Alert {
        Alert {
            labels,
            annotations,
            state: AlertState::Pending,
            value,
            active_at_ms: ts,
            fired_at_ms: None,
            resolved_at_ms: None,
            last_sent_at_ms: None,
            valid_until_ms: None,
            keep_firing_since_ms: None,
        }
    }

    /// Whether the alert is due to go to the notifier at `ts`: never while
    /// pending; at once when it resolved since it was last sent; otherwise
    /// once `resend_delay` has passed since the last send.
    pub(crate) fn needs_sending(&self, ts: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let last = self.last_sent_at_ms;
        if self
            .resolved_at_ms
            .is_some_and(|r| last.is_none_or(|l| r > l))
        {
            return true;
        }
        last.is_none_or(|l| l + resend_delay_ms < ts)
    }
}
