//! Durations written the Prometheus way (`15s`, `1m30s`, `2h`, `1d`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A non-negative duration in milliseconds, parsed from Prometheus syntax.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(pub i64);

impl PromDuration {
    pub fn from_secs(s: i64) -> Self {
        PromDuration(s * 1000)
    }

    pub fn ms(self) -> i64 {
        self.0
    }

    pub fn as_std(self) -> Duration {
        Duration::from_millis(self.0.max(0) as u64)
    }
}

impl std::str::FromStr for PromDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        storage::compact::parse_duration_ms(s).map(PromDuration)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Parsing inside the visitor makes a bad value fail while the YAML
        // deserialiser still stands on the scalar, so the error carries the
        // key's own path and line rather than its parent's.
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PromDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 15s or 1m30s")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<PromDuration, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<PromDuration, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<PromDuration, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<PromDuration, E> {
                self.visit_str(&n.to_string())
            }
        }
        d.deserialize_str(V)
    }
}

impl fmt::Display for PromDuration {
    /// Renders as Prometheus's `model.Duration` does: largest units first,
    /// zero units left out (`1h30m`, `15s`, `0s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [
            ("y", 365 * 24 * 3600 * 1000),
            ("w", 7 * 24 * 3600 * 1000),
            ("d", 24 * 3600 * 1000),
            ("h", 3600 * 1000),
            ("m", 60 * 1000),
            ("s", 1000),
            ("ms", 1),
        ] {
            if ms >= size {
                write!(f, "{}{}", ms / size, unit)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

pub(crate) fn thirty_seconds() -> PromDuration {
    PromDuration::from_secs(30)
}

pub(crate) fn one_minute() -> PromDuration {
    PromDuration::from_secs(60)
}

pub(crate) fn five_minutes() -> PromDuration {
    PromDuration::from_secs(300)
}

pub(crate) fn ten_seconds() -> PromDuration {
    PromDuration::from_secs(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_like_prometheus() {
        for (s, ms, shown) in [
            ("15s", 15_000, "15s"),
            ("1m30s", 90_000, "1m30s"),
            ("90s", 90_000, "1m30s"),
            ("2h", 7_200_000, "2h"),
            ("1d", 86_400_000, "1d"),
            ("500ms", 500, "500ms"),
            ("0s", 0, "0s"),
        ] {
            let d: PromDuration = s.parse().unwrap();
            assert_eq!(d.ms(), ms, "{s}");
            assert_eq!(d.to_string(), shown, "{s}");
        }
        for bad in ["", "15", "1.5s", "-1s", "1x"] {
            assert!(bad.parse::<PromDuration>().is_err(), "{bad:?}");
        }
    }
}
