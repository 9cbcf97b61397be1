//! The alert as it is sent to Alertmanager, and its JSON for
//! `POST /api/v2/alerts`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::{Serialize, SerializeMap, Serializer};
use storage::Label;

use crate::rules::OutgoingAlert;

/// One alert to notify about: firing (`ends_at` unset or in the future)
/// or resolved (`ends_at` in the past).
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Identify the alert; names are unique. External labels and alert
    /// relabeling are applied by the notifier, not by the sender.
    pub labels: Vec<Label>,
    pub annotations: Vec<Label>,
    pub starts_at: SystemTime,
    /// When the alert resolved, or (firing) when Alertmanager should
    /// consider it resolved if it hears no more. `None` is sent as Go's
    /// zero time, which Alertmanager reads as "not set".
    pub ends_at: Option<SystemTime>,
    /// Link back to the expression that produced the alert.
    pub generator_url: String,
}

impl From<OutgoingAlert> for Alert {
    /// An alert from rule evaluation, as it is queued.
    fn from(a: OutgoingAlert) -> Self {
        let at = |ms: i64| UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
        Alert {
            labels: a.labels.iter().cloned().collect(),
            annotations: a
                .annotations
                .into_iter()
                .map(|(k, v)| Label::new(k, v))
                .collect(),
            starts_at: at(a.starts_at_ms),
            ends_at: a.ends_at_ms.map(at),
            generator_url: a.generator_url,
        }
    }
}

/// Go's zero `time.Time` as the Alertmanager client library writes it.
const ZERO_TIME: &str = "0001-01-01T00:00:00.000Z";

/// RFC 3339 in UTC with milliseconds, as Prometheus formats alert times
/// (Alertmanager parses any RFC 3339 time).
fn format_time(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A label list as a JSON object.
struct LabelSet<'a>(&'a [Label]);

impl Serialize for LabelSet<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for l in self.0 {
            m.serialize_entry(&l.name, &l.value)?;
        }
        m.end()
    }
}

impl Serialize for Alert {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("labels", &LabelSet(&self.labels))?;
        m.serialize_entry("annotations", &LabelSet(&self.annotations))?;
        m.serialize_entry("startsAt", &format_time(self.starts_at))?;
        match self.ends_at {
            Some(t) => m.serialize_entry("endsAt", &format_time(t))?,
            None => m.serialize_entry("endsAt", ZERO_TIME)?,
        }
        m.serialize_entry("generatorURL", &self.generator_url)?;
        m.end()
    }
}

/// The request body for a batch.
pub(crate) fn encode(alerts: &[Alert]) -> Vec<u8> {
    serde_json::to_vec(alerts).expect("alerts serialize to JSON")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn json_has_alertmanagers_v2_shape() {
        let a = Alert {
            labels: vec![Label::new("alertname", "Down"), Label::new("job", "x")],
            annotations: vec![Label::new("summary", "x is \"down\"")],
            starts_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            ends_at: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_300)),
            generator_url: "http://p:9090/graph?g0.expr=up&g0.tab=1".into(),
        };
        let json = String::from_utf8(encode(std::slice::from_ref(&a))).unwrap();
        assert_eq!(
            json,
            r#"[{"labels":{"alertname":"Down","job":"x"},"annotations":{"summary":"x is \"down\""},"startsAt":"2023-11-14T22:13:20.123Z","endsAt":"2023-11-14T22:18:20.000Z","generatorURL":"http://p:9090/graph?g0.expr=up&g0.tab=1"}]"#
        );
        let firing = Alert { ends_at: None, ..a };
        let v: serde_json::Value = serde_json::from_slice(&encode(&[firing])).unwrap();
        assert_eq!(v[0]["endsAt"], "0001-01-01T00:00:00.000Z");
        assert_eq!(encode(&[]), b"[]");
    }
}
