//! What a rule unit test compares, and how promtool prints a mismatch:
//! the firing alerts of a rule (labels and annotations) and the samples of
//! a query, both as sorted lists so their order does not matter; labels,
//! floats and durations in Go's spelling.

use std::fmt::Write as _;

use storage::Labels;

use crate::api::params::go_quote;

/// One alert as tests see it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct AlertEntry {
    pub labels: Labels,
    pub annotations: Labels,
}

/// One sample of a query result or an expectation.
#[derive(Clone, Debug)]
pub(crate) struct SampleEntry {
    pub labels: Labels,
    pub value: f64,
}

/// Whether two label-sorted sample lists are equal: same labels, same
/// values. Floats compare with `==`, so NaN never equals NaN (as upstream's
/// comparison); with `fuzzy`, values one ulp apart are equal too.
pub(crate) fn samples_equal(exp: &[SampleEntry], got: &[SampleEntry], fuzzy: bool) -> bool {
    exp.len() == got.len()
        && exp
            .iter()
            .zip(got)
            .all(|(e, g)| e.labels == g.labels && floats_equal(e.value, g.value, fuzzy))
}

fn floats_equal(x: f64, y: f64, fuzzy: bool) -> bool {
    x == y || (fuzzy && (x.next_down() == y || x.next_up() == y))
}

/// promtool's text for an alert mismatch: both lists, or with `diff` a
/// line diff of them (common lines indented, expected-only ones marked
/// `-`, received-only `+`).
pub(crate) fn alert_mismatch(
    group_name: &str,
    alertname: &str,
    eval_time: &str,
    (exp, got): (&[AlertEntry], &[AlertEntry]),
    diff: bool,
) -> String {
    let indent = |s: String| s.replace('\n', "\n            ");
    let (exp, got) = (alerts_text(exp), alerts_text(got));
    let body = if diff {
        let lines = line_diff(
            &exp.lines().collect::<Vec<_>>(),
            &got.lines().collect::<Vec<_>>(),
        );
        format!("diff: {}", indent(lines))
    } else {
        format!("exp:{}, \n        got:{}", indent(exp), indent(got))
    };
    format!(
        "{}    alertname: {alertname}, time: {eval_time}, \n        {body}",
        name_line(group_name)
    )
}

/// `    name: NAME,\n` for a named test group, else nothing.
fn name_line(group_name: &str) -> String {
    if group_name.is_empty() {
        String::new()
    } else {
        format!("    name: {group_name},\n")
    }
}

/// A list of alerts as upstream prints it: `[]`, or numbered entries of
/// `Labels:` and `Annotations:` lines.
fn alerts_text(list: &[AlertEntry]) -> String {
    if list.is_empty() {
        return "[]".to_string();
    }
    let mut s = "[".to_string();
    for (i, a) in list.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(
            s,
            "{sep}\n{i}:\n  Labels:{}\n  Annotations:{}",
            go_labels(&a.labels),
            go_labels(&a.annotations)
        );
    }
    s.push_str("\n]");
    s
}

/// The lines of `a` and `b` merged along their longest common
/// subsequence: `  ` common, `- ` only in `a`, `+ ` only in `b`.
fn line_diff(a: &[&str], b: &[&str]) -> String {
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(format!("  {}", a[i]));
            (i, j) = (i + 1, j + 1);
        } else if j == b.len() || (i < a.len() && lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("- {}", a[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    out.join("\n")
}

/// promtool's text for a sample mismatch.
pub(crate) fn sample_mismatch(
    expr: &str,
    eval_time: &str,
    exp: &[SampleEntry],
    got: &[SampleEntry],
) -> String {
    format!(
        "    expr: {}, time: {eval_time},\n        exp: {}\n        got: {}",
        go_quote(expr.as_bytes()),
        samples_text(exp),
        samples_text(got)
    )
}

/// `nil`, or `LABELS VALUE` entries joined by `, `.
fn samples_text(list: &[SampleEntry]) -> String {
    if list.is_empty() {
        return "nil".to_string();
    }
    list.iter()
        .map(|s| format!("{} {}", go_labels(&s.labels), go_float_e(s.value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Labels as Go's `labels.Labels.String()`: `{a="1", b="2"}`, names that
/// are not legacy label names quoted.
pub(crate) fn go_labels(labels: &Labels) -> String {
    let mut s = "{".to_string();
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        if is_legacy_name(&l.name) {
            s.push_str(&l.name);
        } else {
            s.push_str(&go_quote(l.name.as_bytes()));
        }
        s.push('=');
        s.push_str(&go_quote(l.value.as_bytes()));
    }
    s.push('}');
    s
}

fn is_legacy_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `3.5E-07`, `+Inf`.
fn go_float_e(v: f64) -> String {
    if !v.is_finite() {
        return promql::go_float::format_f(v);
    }
    let mut out = Vec::new();
    promql::go_float::write_e(&mut out, v);
    String::from_utf8_lossy(&out).replace('e', "E")
}

/// A duration in ms as Go's `time.Duration.String()`: `0s`, `500ms`,
/// `1m0s`, `1h2m3.5s`.
pub(crate) fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut out = sign.to_string();
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(out, "{m}m");
    }
    let _ = write!(out, "{s}");
    if frac > 0 {
        let f = format!("{frac:03}");
        let _ = write!(out, ".{}", f.trim_end_matches('0'));
    }
    out.push('s');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_spellings() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(500), "500ms");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(3_723_500), "1h2m3.5s");
        assert_eq!(go_duration(86_400_000), "24h0m0s");
        assert_eq!(go_float_e(1.0), "1E+00");
        assert_eq!(go_float_e(0.0), "0E+00");
        assert_eq!(go_float_e(3.0000000000000004), "3.0000000000000004E+00");
        assert_eq!(go_float_e(-2.5e-7), "-2.5E-07");
        assert_eq!(go_float_e(f64::INFINITY), "+Inf");
        assert_eq!(go_float_e(f64::NAN), "NaN");
        let l = Labels::from_pairs([("__name__", "up"), ("a.b", "x\"y")]);
        assert_eq!(go_labels(&l), r#"{__name__="up", "a.b"="x\"y"}"#);
    }

    #[test]
    fn alert_lists_print_as_promtool() {
        let a = AlertEntry {
            labels: Labels::from_pairs([("alertname", "A"), ("job", "x")]),
            annotations: Labels::from_pairs([("summary", "s")]),
        };
        let text = alert_mismatch("g", "A", "5m", (&[], &[a.clone(), a]), false);
        assert_eq!(
            text,
            "    name: g,\n    alertname: A, time: 5m, \n        exp:[], \n        got:[\n            0:\n              Labels:{alertname=\"A\", job=\"x\"}\n              Annotations:{summary=\"s\"},\n            1:\n              Labels:{alertname=\"A\", job=\"x\"}\n              Annotations:{summary=\"s\"}\n            ]"
        );
        assert_eq!(
            line_diff(&["[", "a", "]"], &["[", "b", "]"]),
            "  [\n- a\n+ b\n  ]"
        );
    }

    #[test]
    fn samples_compare_exactly_or_within_one_ulp() {
        let s = |v: f64| SampleEntry {
            labels: Labels::default(),
            value: v,
        };
        assert!(samples_equal(&[s(3.0)], &[s(3.0)], false));
        assert!(!samples_equal(&[s(3.0)], &[s(3.0000000000000004)], false));
        assert!(samples_equal(&[s(3.0)], &[s(3.0000000000000004)], true));
        assert!(samples_equal(&[s(3.0)], &[s(2.9999999999999996)], true));
        assert!(!samples_equal(&[s(3.0)], &[s(3.0000000000000013)], true));
        assert!(!samples_equal(&[s(f64::NAN)], &[s(f64::NAN)], false));
        assert!(!samples_equal(&[s(1.0)], &[], false));
        assert_eq!(
            sample_mismatch("up", "0s", &[s(1.0)], &[]),
            "    expr: \"up\", time: 0s,\n        exp: {} 1E+00\n        got: nil"
        );
    }
}
