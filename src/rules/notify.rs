//! The hand-off from rule evaluation to the notifier: after each
//! evaluation a group passes the alerts due for sending (firing ones every
//! resend delay, resolved ones for a while after they resolved) to an
//! [`AlertSink`].

use std::collections::BTreeMap;

use storage::Labels;

use super::alert::Alert;

/// An alert as the Alertmanager API takes it. Times are ms since the epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct OutgoingAlert {
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing.
    pub starts_at_ms: i64,
    /// When it resolved or, while firing, when the Alertmanager should
    /// consider it resolved if it hears nothing more.
    pub ends_at_ms: Option<i64>,
    /// A link to the rule's expression in the expression browser.
    pub generator_url: String,
}

/// Takes alerts to deliver (the notifier implements it).
pub trait AlertSink: Send + Sync {
    fn send(&self, alerts: Vec<OutgoingAlert>);
}

/// Drops every alert (tests that do not look at notifications).
#[cfg(test)]
pub(crate) struct NoSink;

#[cfg(test)]
impl AlertSink for NoSink {
    fn send(&self, _alerts: Vec<OutgoingAlert>) {}
}

/// The alerts of one rule as they are sent.
pub(crate) fn outgoing(alerts: Vec<Alert>, expr: &str, external_url: &str) -> Vec<OutgoingAlert> {
    let url = generator_url(external_url, expr);
    alerts
        .into_iter()
        .map(|a| OutgoingAlert {
            starts_at_ms: a.fired_at_ms.unwrap_or(a.active_at_ms),
            ends_at_ms: a.resolved_at_ms.or(a.valid_until_ms),
            labels: a.labels,
            annotations: a.annotations,
            generator_url: url.clone(),
        })
        .collect()
}

/// `<external URL>/graph?g0.expr=<expr>&g0.tab=1`, the expression
/// escaped as Go's `url.QueryEscape` does.
pub fn generator_url(external_url: &str, expr: &str) -> String {
    // Form encoding differs from Go's only on `*` (kept) and `~` (escaped).
    let escaped: String = form_urlencoded::byte_serialize(expr.as_bytes())
        .collect::<String>()
        .replace('*', "%2A")
        .replace("%7E", "~");
    format!("{external_url}/graph?g0.expr={escaped}&g0.tab=1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_url_escapes_like_go() {
        assert_eq!(
            generator_url("http://p:9090", "up{job=\"a b\"} == 0"),
            "http://p:9090/graph?g0.expr=up%7Bjob%3D%22a+b%22%7D+%3D%3D+0&g0.tab=1"
        );
        assert_eq!(
            generator_url("", "a*b ~ c"),
            "/graph?g0.expr=a%2Ab+~+c&g0.tab=1"
        );
    }
}
