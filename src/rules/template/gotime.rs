//! Go's spellings of `time.Time` and `time.Duration` (their `String`
//! methods), which templates print for `toTime`, `toDuration` and
//! `humanizeTimestamp`.

/// `time.Time.String()` of a UTC instant: `2015-06-23 13:19:44.128 +0000 UTC`,
/// the fraction trimmed of trailing zeros and left out when zero.
pub fn time_string(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000) as u32;
    let Some(t) = chrono::DateTime::from_timestamp(secs, frac) else {
        return format!("{ns}ns");
    };
    let mut out = t.format("%Y-%m-%d %H:%M:%S").to_string();
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

/// `time.Duration.String()`: `1h2m3.5s`, `1m0s`, `100ms`, `1.5µs`, `0s`.
pub fn duration_string(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if u < 1_000_000_000 {
        // Sub-second durations use the largest unit that keeps a digit
        // before the point.
        let (scale, unit) = match u {
            0..1_000 => (1, "ns"),
            1_000..1_000_000 => (1_000, "µs"),
            _ => (1_000_000, "ms"),
        };
        push_fraction(&mut out, u, scale);
        out.push_str(unit);
        return out;
    }
    let hours = u / 3_600_000_000_000;
    let minutes = (u / 60_000_000_000) % 60;
    let sec_ns = u % 60_000_000_000;
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    push_fraction(&mut out, sec_ns, 1_000_000_000);
    out.push('s');
    out
}

/// Writes `v / scale` with the fraction's trailing zeros trimmed.
fn push_fraction(out: &mut String, v: u64, scale: u64) {
    out.push_str(&(v / scale).to_string());
    let frac = v % scale;
    if frac != 0 {
        let width = scale.ilog10() as usize;
        let digits = format!("{frac:0width$}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_go() {
        assert_eq!(time_string(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(time_string(-1_000_000_000), "1969-12-31 23:59:59 +0000 UTC");
        assert_eq!(
            time_string(1_435_065_584_128_000_000),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
    }

    #[test]
    fn durations_print_as_go() {
        for (ns, want) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (100_000_000, "100ms"),
            (1_000_000_000, "1s"),
            (60_000_000_000, "1m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (-90_000_000_000, "-1m30s"),
            (90_000_000_000_000, "25h0m0s"),
        ] {
            assert_eq!(duration_string(ns), want, "{ns}");
        }
    }
}
