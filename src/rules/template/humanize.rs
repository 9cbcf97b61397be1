//! Prometheus's `humanize*` functions: numbers with SI or binary prefixes,
//! durations, percentages and timestamps, four significant digits.

use super::gotime;
use super::printf::format_float;

fn g4(v: f64) -> String {
    format_float(v, 'g', Some(4))
}

/// Scales `v` down by `base` while it is at least `base`, or up by 1000
/// while below 1, picking the matching prefix.
fn scaled(
    mut v: f64,
    base: f64,
    big: &[&'static str],
    small: &[&'static str],
) -> (f64, &'static str) {
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in big {
            if v.abs() < base {
                break;
            }
            prefix = p;
            v /= base;
        }
    } else {
        for p in small {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    (v, prefix)
}

const SMALL: [&str; 8] = ["m", "u", "n", "p", "f", "a", "z", "y"];

/// `humanize`: `1.235M`, `12.35m`.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let (v, p) = scaled(v, 1000.0, &["k", "M", "G", "T", "P", "E", "Z", "Y"], &SMALL);
    format!("{}{p}", g4(v))
}

/// `humanize1024`: `1Ki`, `1.5Mi`; no prefixes below 1.
pub fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let (v, p) = scaled(
        v,
        1024.0,
        &["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"],
        &[],
    );
    format!("{}{p}", g4(v))
}

/// `humanizeDuration` of seconds: `1d 1h 0m 0s`, `1.234s`, `100ms`.
pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let v = v.abs();
        let whole = v as i64;
        let (days, hours, minutes, seconds) = (
            whole / 86400,
            whole / 3600 % 24,
            whole / 60 % 60,
            whole % 60,
        );
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let (v, p) = scaled(v, 1000.0, &[], &SMALL);
    format!("{}{p}s", g4(v))
}

/// `humanizePercentage` of a ratio: 0.1234 → `12.34%`.
pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", g4(v * 100.0))
}

/// Seconds since the epoch as Prometheus turns them into a time: whole
/// milliseconds (truncated), failing when the nanoseconds overflow int64.
pub fn float_to_time_ns(v: f64) -> Result<i64, String> {
    if !v.is_finite() {
        return Err("value is NaN or Inf".into());
    }
    let ns = v * 1e9;
    if ns >= i64::MAX as f64 || ns < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            format_float(v, 'g', None)
        ));
    }
    Ok(ns as i64 / 1_000_000 * 1_000_000)
}

/// `humanizeTimestamp`: `2015-06-23 13:19:44.128 +0000 UTC`.
pub fn humanize_timestamp(v: f64) -> Result<String, String> {
    if !v.is_finite() {
        return Ok(g4(v));
    }
    float_to_time_ns(v).map(gotime::time_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_as_prometheus() {
        for (v, want) in [
            (0.0, "0"),
            (1e-5, "10u"),
            (0.0012, "1.2m"),
            (1.0, "1"),
            (1234567.0, "1.235M"),
            (12345678901234567.0, "12.35P"),
            (-1500.0, "-1.5k"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(humanize(v), want, "{v}");
        }
    }

    #[test]
    fn humanize1024_as_prometheus() {
        for (v, want) in [
            (0.0, "0"),
            (0.5, "0.5"),
            (1.0, "1"),
            (1024.0, "1ki"),
            (1536.0, "1.5ki"),
            (1048576.0, "1Mi"),
            (1.5 * 1024.0 * 1024.0 * 1024.0, "1.5Gi"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(humanize1024(v), want, "{v}");
        }
    }

    #[test]
    fn humanize_duration_as_prometheus() {
        for (v, want) in [
            (0.0, "0s"),
            (0.1, "100ms"),
            (0.0001, "100us"),
            (0.12345, "123.5ms"),
            (1.0, "1s"),
            (1.2345, "1.234s"),
            (12.345, "12.35s"),
            (61.0, "1m 1s"),
            (60.5, "1m 0s"),
            (899.99, "14m 59s"),
            (3600.0, "1h 0m 0s"),
            (3600.0 * 25.0, "1d 1h 0m 0s"),
            (1234567.0, "14d 6h 56m 7s"),
            (-1.0, "-1s"),
            (
                -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0),
                "-2d 3h 4m 5s",
            ),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(humanize_duration(v), want, "{v}");
        }
    }

    #[test]
    fn humanize_percentage_as_prometheus() {
        assert_eq!(humanize_percentage(0.0), "0%");
        assert_eq!(humanize_percentage(0.1234567), "12.35%");
        assert_eq!(humanize_percentage(1.0), "100%");
        assert_eq!(humanize_percentage(-0.5), "-50%");
    }

    #[test]
    fn humanize_timestamp_as_prometheus() {
        assert_eq!(
            humanize_timestamp(0.0).unwrap(),
            "1970-01-01 00:00:00 +0000 UTC"
        );
        assert_eq!(
            humanize_timestamp(-1.0).unwrap(),
            "1969-12-31 23:59:59 +0000 UTC"
        );
        assert_eq!(
            humanize_timestamp(1234567.0).unwrap(),
            "1970-01-15 06:56:07 +0000 UTC"
        );
        assert_eq!(
            humanize_timestamp(9223372036.0).unwrap(),
            "2262-04-11 23:47:16 +0000 UTC"
        );
        assert_eq!(
            humanize_timestamp(1435065584.128).unwrap(),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
        assert_eq!(humanize_timestamp(f64::NAN).unwrap(), "NaN");
        assert!(humanize_timestamp(i64::MAX as f64).is_err());
    }
}
