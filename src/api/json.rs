//! JSON for the status, target and admin endpoints, spelled the way
//! Prometheus's Go encoder spells it: HTML-significant characters escaped,
//! label sets as objects, times as Go's RFC 3339 with trimmed nanoseconds.

use std::time::SystemTime;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use storage::Labels;

use super::encode::{push_escaped, Escaper};
use super::response::{ApiError, Success};

/// `data` serialised as Prometheus would send it.
pub(crate) fn success<T: Serialize>(data: &T) -> Result<Success, ApiError> {
    let mut raw = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut raw, GoEscapes::default());
    data.serialize(&mut ser)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Success::raw(raw))
}

/// serde_json's compact output with the escapes Go's encoder adds inside
/// strings: `<`, `>`, `&`, U+2028 and U+2029 (jsoniter's standard-library
/// mode does the same). serde_json escapes quotes, backslashes and control
/// characters itself and hands the rest over as fragments, which go
/// through the API's one JSON string escaper.
#[derive(Default)]
struct GoEscapes {
    /// Reused for each fragment's escaped text.
    scratch: Vec<u8>,
}

impl serde_json::ser::Formatter for GoEscapes {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        self.scratch.clear();
        push_escaped(&mut self.scratch, fragment, Escaper::Std);
        writer.write_all(&self.scratch)
    }
}

/// A label set as a JSON object in label order (Go's `labels.Labels`).
pub(crate) struct LabelMap<'a>(pub &'a Labels);

impl Serialize for LabelMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for l in self.0.iter() {
            m.serialize_entry(&l.name, &l.value)?;
        }
        m.end()
    }
}

/// A float as Go's encoder writes it: whole numbers without `.0`.
pub(crate) struct GoFloat(pub f64);

impl Serialize for GoFloat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.fract() == 0.0 && v.abs() < 1e18 {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f64(v)
        }
    }
}

/// Go's zero `time.Time`, which Prometheus shows for "never".
pub(crate) const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A time as Go's `time.Time` marshals to JSON (RFC 3339, nanoseconds with
/// trailing zeros trimmed), in UTC.
pub(crate) fn go_time(t: SystemTime) -> String {
    let dt: chrono::DateTime<chrono::Utc> = t.into();
    let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    // chrono reports a leap second as nanos ≥ 1e9; Go has no leap seconds.
    let ns = dt.timestamp_subsec_nanos() % 1_000_000_000;
    if ns > 0 {
        let frac = format!("{ns:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn escapes_html_and_line_separators_like_go() {
        let v = serde_json::json!({"help": "a <b> & c\u{2028}d\u{2029}é"});
        let out = String::from_utf8(success(&v).unwrap().data).unwrap();
        assert_eq!(out, r#"{"help":"a \u003cb\u003e \u0026 c\u2028d\u2029é"}"#);
        let plain = serde_json::json!(["x", 1]);
        assert_eq!(success(&plain).unwrap().data, br#"["x",1]"#);
    }

    #[test]
    fn label_sets_are_objects_in_label_order() {
        let l = Labels::from_pairs([("job", "a"), ("__name__", "up"), ("instance", "x:1")]);
        assert_eq!(
            serde_json::to_string(&LabelMap(&l)).unwrap(),
            r#"{"__name__":"up","instance":"x:1","job":"a"}"#
        );
        assert_eq!(
            serde_json::to_string(&LabelMap(&Labels::default())).unwrap(),
            "{}"
        );
    }

    #[test]
    fn floats_like_go() {
        let f = |v: f64| serde_json::to_string(&GoFloat(v)).unwrap();
        assert_eq!(f(0.0), "0");
        assert_eq!(f(3.0), "3");
        assert_eq!(f(-2.0), "-2");
        assert_eq!(f(0.001234), "0.001234");
        assert_eq!(f(1.5), "1.5");
    }

    #[test]
    fn times_like_go() {
        let t = |ns: u64| UNIX_EPOCH + Duration::from_nanos(ns);
        assert_eq!(go_time(t(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            go_time(t(1_500_000_000_123_456_700)),
            "2017-07-14T02:40:00.1234567Z"
        );
        assert_eq!(
            go_time(t(1_500_000_000_500_000_000)),
            "2017-07-14T02:40:00.5Z"
        );
    }
}
