//! Writing the Prometheus text exposition format: floats, names, escaped
//! label values, `# HELP`/`# TYPE` lines and series lines, as Prometheus's
//! Go code writes them. `/metrics` and `/federate` answer in this format,
//! and the scrape parser's normalised `le`/`quantile` values and error
//! messages spell floats with it. Reading the format is `exposition`'s job.
//!
//! Floats are Go's `strconv.FormatFloat(v, 'g', -1, 64)` (`1e+21`,
//! `1.5e-07`, `0.25`), built on [`promql::go_float`], with the text
//! format's `NaN`, `+Inf` and `-Inf`. Names that are not legacy
//! (`[a-zA-Z_:][a-zA-Z0-9_:]*`) are quoted as text format 1.0.0 allows.

use std::fmt::Write as _;

/// Appends `v` as the text format spells a sample value.
pub fn push_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        // go_float writes bytes; its output is ASCII.
        let mut buf = Vec::with_capacity(24);
        promql::go_float::write_g(&mut buf, v);
        out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
    }
}

/// `v` as the text format spells it, e.g. for an `le` label value.
pub fn format_float(v: f64) -> String {
    let mut s = String::with_capacity(24);
    push_float(&mut s, v);
    s
}

/// Whether `s` is a legacy metric or label name, `[a-zA-Z_:][a-zA-Z0-9_:]*`,
/// which the format writes bare.
pub fn is_legacy_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

/// Appends a metric name, quoted when it is not a legacy name.
pub fn push_name(out: &mut String, name: &str) {
    if is_legacy_name(name) {
        out.push_str(name);
    } else {
        push_quoted(out, name);
    }
}

/// Appends `s` in double quotes with the label value escapes: `\\`, `\"`
/// and `\n`.
pub fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `# HELP name help`; the help text escapes only `\\` and `\n`
/// (quotes stay as they are, unlike in label values).
pub fn push_help(out: &mut String, name: &str, help: &str) {
    out.push_str("# HELP ");
    push_name(out, name);
    out.push(' ');
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\n');
}

/// Appends `# TYPE name kind`.
pub fn push_type(out: &mut String, name: &str, kind: &str) {
    out.push_str("# TYPE ");
    push_name(out, name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// Appends one series line, `name{l="v",…} value[ timestamp]`: braces only
/// when there are labels, and a name that is not legacy goes inside them,
/// quoted, first (text format 1.0.0). The timestamp is in milliseconds.
pub fn push_series<'a>(
    out: &mut String,
    name: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    v: f64,
    timestamp: Option<i64>,
) {
    let mut first = true;
    let mut open = |out: &mut String| {
        out.push(if std::mem::take(&mut first) { '{' } else { ',' });
    };
    if is_legacy_name(name) {
        out.push_str(name);
    } else {
        open(out);
        push_quoted(out, name);
    }
    for (n, val) in labels {
        open(out);
        // A label name may not hold a bare ':' as a metric name may.
        if crate::config::names::is_legacy_name(n) {
            out.push_str(n);
        } else {
            push_quoted(out, n);
        }
        out.push('=');
        push_quoted(out, val);
    }
    if !first {
        out.push('}');
    }
    out.push(' ');
    push_float(out, v);
    if let Some(t) = timestamp {
        let _ = write!(out, " {t}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(v: f64) -> String {
        let mut s = String::new();
        push_float(&mut s, v);
        s
    }

    #[test]
    #[allow(clippy::excessive_precision)] // the exact binary value of a tie
    fn floats_as_go_formats_them() {
        for (v, want) in [
            (1.0, "1"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e21, "1e+21"),
            (1.726839813016397e9, "1.726839813016397e+09"),
            // A tie between two shortest spellings: Go rounds half to even.
            (957.17535400390625, "957.1753540039062"),
            (-0.0, "-0"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (0.0, "0"),
        ] {
            assert_eq!(float(v), want, "{v}");
        }
        assert_eq!(format_float(1e21), "1e+21");
    }

    /// Fuzz finding (`tests/fuzz.rs`, exposition round trip): the label
    /// name `a:b` was written bare, which no text-format parser (ours or
    /// Prometheus's) reads; `/federate` output with such a label failed to
    /// scrape.
    #[test]
    fn label_names_with_colons_are_quoted() {
        let mut s = String::new();
        push_series(&mut s, "a:b", [("a:b", "c"), ("_x1", "d")], 1.0, None);
        assert_eq!(s, "a:b{\"a:b\"=\"c\",_x1=\"d\"} 1\n");
        let mut p = crate::exposition::Parser::new(s.as_bytes(), Default::default());
        assert!(p.next().unwrap().is_some());
        let mut labels = Vec::new();
        p.labels(&mut labels).unwrap();
        let names: Vec<_> = labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "_x1", "a:b"]);
    }

    #[test]
    fn headers_and_series_lines() {
        let mut s = String::new();
        push_help(&mut s, "up", "a \"b\" \\ c\nd");
        push_type(&mut s, "up", "gauge");
        push_type(&mut s, "a.b", "untyped");
        push_series(&mut s, "up", [], 1.0, None);
        push_series(&mut s, "up", [("job", "x\"y"), ("l.x", "")], 0.5, Some(-3));
        push_series(&mut s, "a.b", [("c", "d")], f64::INFINITY, None);
        assert_eq!(
            s,
            "# HELP up a \"b\" \\\\ c\\nd\n\
             # TYPE up gauge\n\
             # TYPE \"a.b\" untyped\n\
             up 1\n\
             up{job=\"x\\\"y\",\"l.x\"=\"\"} 0.5 -3\n\
             {\"a.b\",c=\"d\"} +Inf\n"
        );
    }
}
