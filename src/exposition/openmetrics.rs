//! OpenMetrics 1.0 text, line by line.
//!
//! ```text
//! # HELP name text     # TYPE name type     # UNIT name unit
//! name{labels} value [timestamp-seconds] [# {labels} value [timestamp]]
//! # EOF
//! ```
//! Tokens are separated by exactly one space; there are no blank lines and
//! no other comments; every line ends in a newline except `# EOF`, which
//! must come last.

use std::borrow::Cow;

use super::error::{quote, ParseError};
use super::escape::unescape_label;
use super::float::{fast_decimal, parse_float};
use super::labels::Owner;
use super::lex::{is_metric_start, line_end, metric_name_end, scan_quoted, Context, QuoteRules};
use super::parser::{Parser, Span};
use super::{Entry, MetricType};
use crate::text_format::format_float;

#[derive(Clone, Copy)]
enum Meta {
    Help,
    Type,
    Unit,
}

impl Meta {
    fn word(self) -> &'static str {
        match self {
            Meta::Help => "HELP",
            Meta::Type => "TYPE",
            Meta::Unit => "UNIT",
        }
    }
}

const NO_EOF: &str = "data does not end with # EOF";

impl<'a> Parser<'a> {
    #[inline]
    pub(super) fn next_openmetrics(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let b = self.buf;
        let i = self.pos;
        let Some(&c) = b.get(i) else {
            return Err(self.error(i, NO_EOF));
        };
        if is_metric_start(c) || c == b'{' {
            return self.om_sample(i).map(Some);
        }
        if c != b'#' {
            return Err(self.unexpected("expected a valid start token", i, i, Context::Line));
        }
        if b.get(i + 1) != Some(&b' ') {
            return Err(self.invalid("expected a valid start token", i, i + 1, i));
        }
        let word = i + 2;
        let rest = &b[word..];
        for (keyword, meta) in [
            (&b"HELP "[..], Meta::Help),
            (b"TYPE ", Meta::Type),
            (b"UNIT ", Meta::Unit),
        ] {
            if rest.starts_with(keyword) {
                return self.om_meta(meta, word + 5, i).map(Some);
            }
        }
        if rest.starts_with(b"EOF") {
            let mut end = word + 3;
            if b.get(end) == Some(&b'\n') {
                end += 1;
            }
            if end != b.len() {
                return Err(self.error(end, "unexpected data after # EOF"));
            }
            self.pos = end;
            return Ok(None);
        }
        // The lexer reads as far as some keyword matches, then gives up.
        let matched = [&b"HELP "[..], b"TYPE ", b"UNIT ", b"EOF"]
            .iter()
            .map(|k| {
                rest.iter()
                    .zip(k.iter())
                    .take_while(|(x, y)| x == y)
                    .count()
            })
            .max()
            .unwrap_or(0);
        Err(self.invalid("expected a valid start token", i, word + matched, i))
    }

    /// The rest of a `HELP`/`TYPE`/`UNIT` line; `i` is where the metric
    /// name should be.
    fn om_meta(
        &mut self,
        meta: Meta,
        i: usize,
        entry_start: usize,
    ) -> Result<Entry<'a>, ParseError> {
        let b = self.buf;
        let (name, after) = match b.get(i) {
            Some(b'"') => {
                let rules = QuoteRules {
                    newline: true,
                    nul: false,
                };
                match scan_quoted(b, i, rules) {
                    Ok(q) => (
                        Span {
                            start: i + 1,
                            end: q.end - 1,
                        },
                        q.end,
                    ),
                    Err(_) => return Err(self.no_om_meta_name(meta, i, entry_start)),
                }
            }
            Some(&c) if is_metric_start(c) => {
                let end = metric_name_end(b, i);
                (Span { start: i, end }, end)
            }
            _ => return Err(self.no_om_meta_name(meta, i, entry_start)),
        };
        let eol = line_end(b, after);
        if b.get(after) != Some(&b' ') || eol == b.len() {
            return Err(self.error(after, format!("expected text in {}", meta.word())));
        }
        self.pos = eol + 1;
        let Ok(metric) = std::str::from_utf8(&b[name.start..name.end]) else {
            return Err(self.error(
                i,
                format!("invalid UTF-8 metric name: {}", self.quoted(i, after)),
            ));
        };
        let text = &b[after + 1..eol];
        match meta {
            Meta::Type => {
                let kind = match text {
                    b"counter" => MetricType::Counter,
                    b"gauge" => MetricType::Gauge,
                    b"histogram" => MetricType::Histogram,
                    b"gaugehistogram" => MetricType::GaugeHistogram,
                    b"summary" => MetricType::Summary,
                    b"info" => MetricType::Info,
                    b"stateset" => MetricType::StateSet,
                    b"unknown" => MetricType::Unknown,
                    _ => {
                        return Err(
                            self.error(after, format!("invalid metric type {}", quote(text)))
                        )
                    }
                };
                self.last_type = kind;
                Ok(Entry::Type { metric, kind })
            }
            Meta::Help => {
                let Ok(help) = std::str::from_utf8(text) else {
                    return Err(self.error(
                        after,
                        format!("help text {} is not a valid utf8 string", quote(text)),
                    ));
                };
                let help: Cow<'a, str> = unescape_label(help);
                Ok(Entry::Help { metric, help })
            }
            Meta::Unit => {
                let Ok(unit) = std::str::from_utf8(text) else {
                    return Err(self.error(
                        after,
                        format!("unit {} is not a valid utf8 string", quote(text)),
                    ));
                };
                let suffixed = metric.len() > unit.len()
                    && metric.ends_with(unit)
                    && metric.as_bytes()[metric.len() - unit.len() - 1] == b'_';
                if !unit.is_empty() && !suffixed {
                    return Err(self.error(
                        after,
                        format!("unit {unit:?} not a suffix of metric {metric:?}"),
                    ));
                }
                Ok(Entry::Unit { metric, unit })
            }
        }
    }

    #[cold]
    fn no_om_meta_name(&self, meta: Meta, at: usize, entry_start: usize) -> ParseError {
        let expected = format!("expected metric name after {}", meta.word());
        self.unexpected(&expected, at, entry_start, Context::Line)
    }

    /// A sample line whose series starts at `i`.
    #[inline]
    fn om_sample(&mut self, i: usize) -> Result<Entry<'a>, ParseError> {
        let b = self.buf;
        self.sample.start = i;
        self.sample.name = None;
        self.sample.labels.clear();
        self.sample.kind = self.last_type;

        let end = if b[i] == b'{' {
            self.om_labels(i + 1, i, Owner::Sample)?
        } else {
            let name_end = metric_name_end(b, i);
            self.sample.name = Some(Span {
                start: i,
                end: name_end,
            });
            if b.get(name_end) == Some(&b'{') {
                self.om_labels(name_end + 1, i, Owner::Sample)?
            } else {
                name_end
            }
        };
        let series = &b[i..end];

        let prev = if end > i && b[end - 1] == b'}' {
            end - 1
        } else {
            i
        };
        if self.sample.name.is_none() {
            // Upstream checks the name once it has read the value token.
            let e = if b.get(end) == Some(&b' ') {
                om_token_end(b, end + 1)
            } else {
                end
            };
            return Err(self.error(
                i,
                format!("metric name not set while parsing: {}", self.quoted(i, e)),
            ));
        }
        let (value, _, v_end) = self.om_number(end, prev, i, "expected value after metric")?;
        let mut j = v_end;
        let mut timestamp = None;
        match b.get(j) {
            None => return Err(self.error(j, NO_EOF)),
            Some(b'\n') => {}
            Some(_) if b[j..].starts_with(b" # {") => j = self.om_exemplar(j + 4, i)?,
            Some(_) => {
                let (ts, t, t_end) = self.om_number(j, j, i, "expected timestamp or comment")?;
                if !ts.is_finite() {
                    return Err(self.error(t, format!("invalid timestamp {}", format_float(ts))));
                }
                // Go's int64(ts*1000): truncation toward zero.
                timestamp = Some((ts * 1000.0) as i64);
                j = t_end;
                if b[j..].starts_with(b" # {") {
                    j = self.om_exemplar(j + 4, i)?;
                } else if b.get(j) != Some(&b'\n') {
                    return Err(self.after_timestamp(
                        "expected next entry after timestamp",
                        j,
                        t - 1,
                        i,
                    ));
                }
            }
        }
        self.pos = j + 1;
        Ok(Entry::Sample {
            series,
            value,
            timestamp,
        })
    }

    /// The number after the single space that should be at `at`: its
    /// value, start and end. `prev` is where the token before began, which
    /// upstream shows when the payload ends here.
    #[inline]
    fn om_number(
        &self,
        at: usize,
        prev: usize,
        entry_start: usize,
        expected: &str,
    ) -> Result<(f64, usize, usize), ParseError> {
        let b = self.buf;
        if at >= b.len() {
            return Err(self.at_eof(expected, prev, entry_start));
        }
        if b[at] != b' ' {
            return Err(self.unexpected(expected, at, entry_start, Context::Line));
        }
        let start = at + 1;
        if let Some((x, end)) = fast_decimal(b, start) {
            if matches!(b.get(end), None | Some(b' ' | b'\n' | 0)) {
                return Ok((x, start, end));
            }
        }
        let end = om_token_end(b, start);
        if end == start {
            return Err(self.invalid(expected, at, start, entry_start));
        }
        let x =
            parse_float(&b[start..end]).map_err(|e| self.bad_number(e, start, end, entry_start))?;
        Ok((x, start, end))
    }

    /// The payload ended where a token was expected; upstream names the
    /// token before (from `prev`) as what it got.
    #[cold]
    fn at_eof(&self, expected: &str, prev: usize, entry_start: usize) -> ParseError {
        let n = self.buf.len();
        self.error(
            n,
            format!(
                "{expected}, got {} (\"EOF\") while parsing: {}",
                self.quoted(prev, n),
                self.quoted(entry_start, n)
            ),
        )
    }

    /// Something other than a newline or exemplar after a timestamp at
    /// `at`; `prev` is where the timestamp token (with its space) began.
    /// Upstream's lexer reads ` x...` as another timestamp.
    #[cold]
    fn after_timestamp(
        &self,
        expected: &str,
        at: usize,
        prev: usize,
        entry_start: usize,
    ) -> ParseError {
        let b = self.buf;
        if at >= b.len() {
            return self.at_eof(expected, prev, entry_start);
        }
        let mut end = at + 1;
        if b[at] == b' ' {
            while end < b.len() && !matches!(b[end], b' ' | b'\n' | 0) {
                end += 1;
            }
        }
        let (kind, shown) = if b[at] == b' ' && end > at + 1 {
            ("TIMESTAMP", end + 1)
        } else if b[at] == b' ' {
            ("INVALID", at + 2)
        } else {
            ("INVALID", at + 1)
        };
        self.error(
            at,
            format!(
                "{expected}, got {} ({kind:?}) while parsing: {}",
                self.quoted(at, shown),
                self.quoted(entry_start, shown)
            ),
        )
    }

    /// An exemplar after a sample; `i` is just past its `{`. Exemplars are
    /// checked and dropped. Returns the index of the line's newline.
    fn om_exemplar(&mut self, i: usize, entry_start: usize) -> Result<usize, ParseError> {
        let b = self.buf;
        let end = self.om_labels(i, entry_start, Owner::Exemplar)?;
        let (_, v, v_end) = self.om_number(
            end,
            end - 1,
            entry_start,
            "expected value after exemplar labels",
        )?;
        match b.get(v_end) {
            None => Err(self.error(v_end, NO_EOF)),
            Some(b'\n') => Ok(v_end),
            Some(_) => {
                let (ts, t, t_end) =
                    self.om_number(v_end, v - 1, entry_start, "expected timestamp or comment")?;
                if !ts.is_finite() {
                    return Err(self.error(
                        t,
                        format!("invalid exemplar timestamp {}", format_float(ts)),
                    ));
                }
                if b.get(t_end) != Some(&b'\n') {
                    return Err(self.after_timestamp(
                        "expected next entry after exemplar timestamp",
                        t_end,
                        t - 1,
                        entry_start,
                    ));
                }
                Ok(t_end)
            }
        }
    }
}

/// End of the token starting at `i`: `[^ \n]` (and no NUL) make one up.
#[inline]
fn om_token_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && !matches!(b[i], b' ' | b'\n' | 0) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::*;
    use storage::Label;

    /// Every entry of an OpenMetrics payload, rendered for comparison.
    fn entries(body: &str) -> Result<Vec<String>, ParseError> {
        let mut p = Parser::new(body.as_bytes(), Format::OpenMetrics);
        let mut out = Vec::new();
        while let Some(e) = p.next()? {
            out.push(match e {
                Entry::Sample {
                    series,
                    value,
                    timestamp,
                } => {
                    let mut labels: Vec<Label> = Vec::new();
                    p.labels(&mut labels)?;
                    let ls: Vec<String> = labels
                        .iter()
                        .map(|l| format!("{}={:?}", l.name, l.value))
                        .collect();
                    format!(
                        "{} [{}] {value} {timestamp:?}",
                        String::from_utf8_lossy(series),
                        ls.join(",")
                    )
                }
                Entry::Type { metric, kind } => format!("TYPE {metric} {}", kind.as_str()),
                Entry::Help { metric, help } => format!("HELP {metric} {help:?}"),
                Entry::Unit { metric, unit } => format!("UNIT {metric} {unit:?}"),
            });
        }
        Ok(out)
    }

    fn err(body: &str) -> String {
        entries(body).expect_err(body).to_string()
    }

    #[test]
    fn a_full_payload() {
        let got = entries(concat!(
            "# TYPE rpc_seconds histogram\n",
            "# UNIT rpc_seconds seconds\n",
            "# HELP rpc_seconds RPC \\\"latency\\\" \\\\ \\n.\n",
            "rpc_seconds_bucket{le=\"1\"} 3 # {trace_id=\"ab\"} 0.5 1.25\n",
            "rpc_seconds_bucket{le=\"+Inf\"} 4 1520879607.789 # {} 2\n",
            "rpc_seconds_count 4\n",
            "rpc_seconds_created 1520430000.123\n",
            "# TYPE s stateset\n",
            "s{s=\"a\"} 1\n",
            "# TYPE i info\n",
            "i_info{v=\"1\"} 1\n",
            "# TYPE g gaugehistogram\n",
            "g_gcount 2\n",
            "# EOF\n",
        ))
        .unwrap();
        assert_eq!(
            got,
            [
                "TYPE rpc_seconds histogram",
                "UNIT rpc_seconds \"seconds\"",
                "HELP rpc_seconds \"RPC \\\"latency\\\" \\\\ \\n.\"",
                "rpc_seconds_bucket{le=\"1\"} [__name__=\"rpc_seconds_bucket\",le=\"1.0\"] 3 None",
                "rpc_seconds_bucket{le=\"+Inf\"} [__name__=\"rpc_seconds_bucket\",le=\"+Inf\"] 4 Some(1520879607789)",
                "rpc_seconds_count [__name__=\"rpc_seconds_count\"] 4 None",
                "rpc_seconds_created [__name__=\"rpc_seconds_created\"] 1520430000.123 None",
                "TYPE s stateset",
                "s{s=\"a\"} [__name__=\"s\",s=\"a\"] 1 None",
                "TYPE i info",
                "i_info{v=\"1\"} [__name__=\"i_info\",v=\"1\"] 1 None",
                "TYPE g gaugehistogram",
                "g_gcount [__name__=\"g_gcount\"] 2 None",
            ]
        );
    }

    #[test]
    fn eof_without_newline_and_quoted_names() {
        let got =
            entries("# TYPE \"a.b\" gauge\n{\"a.b\",\"c.d\"=\"x\",} 1 -1.5\n{\"x\"} 2 0\n# EOF")
                .unwrap();
        assert_eq!(
            got,
            [
                "TYPE a.b gauge",
                "{\"a.b\",\"c.d\"=\"x\",} [__name__=\"a.b\",c.d=\"x\"] 1 Some(-1500)",
                "{\"x\"} [__name__=\"x\"] 2 Some(0)",
            ]
        );
    }

    #[test]
    fn timestamps_truncate_like_go() {
        let got = entries("a 1 1.9999\na 1 -0.0015\na 1 1e3\n# EOF\n").unwrap();
        let ts: Vec<&str> = got.iter().map(|s| s.rsplit(' ').next().unwrap()).collect();
        assert_eq!(ts, ["Some(1999)", "Some(-1)", "Some(1000000)"]);
    }

    #[test]
    fn empty_unit_and_help() {
        let got = entries("# UNIT m \n# HELP m \n# EOF\n").unwrap();
        assert_eq!(got, ["UNIT m \"\"", "HELP m \"\""]);
    }

    #[test]
    fn errors() {
        let mut wrong = Vec::new();
        for (body, want) in [
            ("", "line 1: data does not end with # EOF"),
            ("a 1\n", "line 2: data does not end with # EOF"),
            ("a 1", "line 1: data does not end with # EOF"),
            ("a 1 2", "line 1: expected next entry after timestamp, got \" 2\" (\"EOF\") while parsing: \"a 1 2\""),
            ("# EOF\na 1\n", "line 2: unexpected data after # EOF"),
            ("# EOF\n\n", "line 2: unexpected data after # EOF"),
            ("a 1\n\n# EOF\n", "line 2: expected a valid start token, got \"\\n\" (\"INVALID\") while parsing: \"\\n\""),
            ("# comment\n# EOF\n", "line 1: expected a valid start token, got \"# c\" (\"INVALID\") while parsing: \"# c\""),
            ("# HELPx\n# EOF\n", "line 1: expected a valid start token, got \"# HELPx\" (\"INVALID\") while parsing: \"# HELPx\""),
            ("#HELP a b\n# EOF\n", "line 1: expected a valid start token, got \"#H\" (\"INVALID\") while parsing: \"#H\""),
            (" a 1\n# EOF\n", "line 1: expected a valid start token, got \" \" (\"INVALID\") while parsing: \" \""),
            ("a  1\n# EOF\n", "line 1: expected value after metric, got \"  \" (\"INVALID\") while parsing: \"a  \""),
            ("a\t1\n# EOF\n", "line 1: expected value after metric, got \"\\t\" (\"INVALID\") while parsing: \"a\\t\""),
            ("a{b=\"c\"}1\n# EOF\n", "line 1: expected value after metric, got \"1\" (\"INVALID\") while parsing: \"a{b=\\\"c\\\"}1\""),
            ("a{b=\"c\" ,d=\"e\"} 1\n# EOF\n", "line 1: expected comma or brace close, got \" \" (\"INVALID\") while parsing: \"a{b=\\\"c\\\" \""),
            ("a{b=\"c\",d=\"e\" } 1\n# EOF\n", "line 1: expected comma or brace close, got \" \" (\"INVALID\") while parsing: \"a{b=\\\"c\\\",d=\\\"e\\\" \""),
            ("a{b=\"c\" d=\"e\"} 1\n# EOF\n", "line 1: expected comma or brace close, got \" \" (\"INVALID\") while parsing: \"a{b=\\\"c\\\" \""),
            ("a{b =\"c\"} 1\n# EOF\n", "line 1: expected equal, got \" \" (\"INVALID\") while parsing: \"a{b \""),
            ("a{foo} 1\n# EOF\n", "line 1: expected equal, got \"} \" (\"BCLOSE\") while parsing: \"a{foo} \""),
            ("a{b=\"x\ny\"} 1\n# EOF\n", "line 1: expected label value, got \"\\\"x\\n\" (\"INVALID\") while parsing: \"a{b=\\\"x\\n\""),
            ("a 1 \n# EOF\n", "line 1: expected timestamp or comment, got \" \\n\" (\"INVALID\") while parsing: \"a 1 \\n\""),
            ("a 1 2 3\n# EOF\n", "line 1: expected next entry after timestamp, got \" 3\\n\" (\"TIMESTAMP\") while parsing: \"a 1 2 3\\n\""),
            ("a 1 NaN\n# EOF\n", "line 1: invalid timestamp NaN"),
            ("a 1 -Inf\n# EOF\n", "line 1: invalid timestamp -Inf"),
            ("a 1 x\n# EOF\n", "line 1: strconv.ParseFloat: parsing \"x\": invalid syntax while parsing: \"a 1 x\""),
            ("a x\n# EOF\n", "line 1: strconv.ParseFloat: parsing \"x\": invalid syntax while parsing: \"a x\""),
            ("a 1_0\n# EOF\n", "line 1: unsupported character in float while parsing: \"a 1_0\""),
            ("a 1 #{a=\"b\"} 1\n# EOF\n", "line 1: strconv.ParseFloat: parsing \"#{a=\\\"b\\\"}\": invalid syntax while parsing: \"a 1 #{a=\\\"b\\\"}\""),
            ("a 1 # {\"x\"} 1\n# EOF\n", "line 1: expected label name, got \"} \" (\"BCLOSE\") while parsing: \"a 1 # {\\\"x\\\"} \""),
            ("a 1 # {a=\"b\"}\n# EOF\n", "line 1: expected value after exemplar labels, got \"\\n\" (\"INVALID\") while parsing: \"a 1 # {a=\\\"b\\\"}\\n\""),
            ("a 1 # {a=\"b\"} 1 NaN\n# EOF\n", "line 1: invalid exemplar timestamp NaN"),
            ("a 1 # {a=\"b\"} 1 2 3\n# EOF\n", "line 1: expected next entry after exemplar timestamp, got \" 3\\n\" (\"TIMESTAMP\") while parsing: \"a 1 # {a=\\\"b\\\"} 1 2 3\\n\""),
            ("a 1 # {a=\"b\"} 1", "line 1: data does not end with # EOF"),
            ("# TYPE a untyped\n# EOF\n", "line 1: invalid metric type \"untyped\""),
            ("# TYPE a\n# EOF\n", "line 1: expected text in TYPE"),
            ("# HELP a", "line 1: expected text in HELP"),
            ("# UNIT a_seconds bytes\n# EOF\n", "line 1: unit \"bytes\" not a suffix of metric \"a_seconds\""),
            ("# UNIT seconds seconds\n# EOF\n", "line 1: unit \"seconds\" not a suffix of metric \"seconds\""),
            ("# UNIT aseconds seconds\n# EOF\n", "line 1: unit \"seconds\" not a suffix of metric \"aseconds\""),
            ("# TYPE 9 gauge\n# EOF\n", "line 1: expected metric name after TYPE, got \"9\" (\"INVALID\") while parsing: \"# TYPE 9\""),
            ("{a=\"b\"} 1\n# EOF\n", "line 1: metric name not set while parsing: \"{a=\\\"b\\\"} 1\""),
            ("a{\"b\",\"c\"} 1\n# EOF\n", "line 1: metric name already set while parsing: \"a{\\\"b\\\",\""),
            ("a{a=\"1\",a=\"2\"} 1\n# EOF\n", "line 1: label name \"a\" is not unique"),
        ] {
            let got = err(body);
            if got != want {
                wrong.push(format!("{body:?}\n   got: {got}\n  want: {want}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn invalid_utf8() {
        let e = Parser::new(b"a{b=\"\xc3\"} 1\n# EOF\n", Format::OpenMetrics)
            .next()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: invalid UTF-8 label value: \"\\\"\\xc3\\\"\""
        );
        let e = Parser::new(b"# HELP a \xff\n# EOF\n", Format::OpenMetrics)
            .next()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: help text \"\\xff\" is not a valid utf8 string"
        );
    }

    #[test]
    fn created_series_are_kept() {
        let got = entries(concat!(
            "# TYPE c counter\n",
            "c_total 1\n",
            "c_created 1700000000\n",
            "# EOF\n",
        ))
        .unwrap();
        assert_eq!(got.len(), 3);
        assert!(got[2].starts_with("c_created "));
    }

    /// Inputs and messages from Prometheus's own parser tests: our errors
    /// read the same.
    #[test]
    fn errors_read_like_upstream() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "data does not end with # EOF"),
            (
                b"\n",
                r##"expected a valid start token, got "\n" ("INVALID") while parsing: "\n""##,
            ),
            (
                b"metric",
                r##"expected value after metric, got "metric" ("EOF") while parsing: "metric""##,
            ),
            (b"metric 1", "data does not end with # EOF"),
            (b"metric 1\n", "data does not end with # EOF"),
            (
                b"metric_total 1 # {aa=\"bb\"} 4",
                "data does not end with # EOF",
            ),
            (
                b"a\n#EOF\n",
                r##"expected value after metric, got "\n" ("INVALID") while parsing: "a\n""##,
            ),
            (
                b"\n\n#EOF\n",
                r##"expected a valid start token, got "\n" ("INVALID") while parsing: "\n""##,
            ),
            (
                b" a 1\n#EOF\n",
                r##"expected a valid start token, got " " ("INVALID") while parsing: " ""##,
            ),
            (
                b"9\n#EOF\n",
                r##"expected a valid start token, got "9" ("INVALID") while parsing: "9""##,
            ),
            (
                b"# TYPE u untyped\n#EOF\n",
                r##"invalid metric type "untyped""##,
            ),
            (
                b"# TYPE c counter \n#EOF\n",
                r##"invalid metric type "counter ""##,
            ),
            (
                b"#  TYPE c counter\n#EOF\n",
                r##"expected a valid start token, got "#  " ("INVALID") while parsing: "#  ""##,
            ),
            (
                b"# TYPE \n#EOF\n",
                r##"expected metric name after TYPE, got "\n" ("INVALID") while parsing: "# TYPE \n""##,
            ),
            (b"# TYPE m\n#EOF\n", "expected text in TYPE"),
            (
                b"# UNIT metric suffix\n#EOF\n",
                r##"unit "suffix" not a suffix of metric "metric""##,
            ),
            (
                b"# UNIT metricsuffix suffix\n#EOF\n",
                r##"unit "suffix" not a suffix of metric "metricsuffix""##,
            ),
            (
                b"# UNIT m suffix\n#EOF\n",
                r##"unit "suffix" not a suffix of metric "m""##,
            ),
            (
                b"# UNIT \n#EOF\n",
                r##"expected metric name after UNIT, got "\n" ("INVALID") while parsing: "# UNIT \n""##,
            ),
            (b"# UNIT m\n#EOF\n", "expected text in UNIT"),
            (
                b"# HELP \n#EOF\n",
                r##"expected metric name after HELP, got "\n" ("INVALID") while parsing: "# HELP \n""##,
            ),
            (b"# HELP m\n#EOF\n", "expected text in HELP"),
            (
                b"a\t1\n#EOF\n",
                r##"expected value after metric, got "\t" ("INVALID") while parsing: "a\t""##,
            ),
            (
                b"a 1\t2\n#EOF\n",
                r##"strconv.ParseFloat: parsing "1\t2": invalid syntax while parsing: "a 1\t2""##,
            ),
            (
                b"a 1 2 \n#EOF\n",
                r##"expected next entry after timestamp, got " \n" ("INVALID") while parsing: "a 1 2 \n""##,
            ),
            (
                b"a 1 2 #\n#EOF\n",
                r##"expected next entry after timestamp, got " #\n" ("TIMESTAMP") while parsing: "a 1 2 #\n""##,
            ),
            (
                b"a 1 1z\n#EOF\n",
                r##"strconv.ParseFloat: parsing "1z": invalid syntax while parsing: "a 1 1z""##,
            ),
            (
                b" # EOF\n",
                r##"expected a valid start token, got " " ("INVALID") while parsing: " ""##,
            ),
            (b"# EOF\na 1", "unexpected data after # EOF"),
            (b"# EOF\n\n", "unexpected data after # EOF"),
            (b"# EOFa 1", "unexpected data after # EOF"),
            (
                b"#\tTYPE c counter\n",
                r##"expected a valid start token, got "#\t" ("INVALID") while parsing: "#\t""##,
            ),
            (
                b"# TYPE c  counter\n",
                r##"invalid metric type " counter""##,
            ),
            (
                b"a 1 1 1\n# EOF\n",
                r##"expected next entry after timestamp, got " 1\n" ("TIMESTAMP") while parsing: "a 1 1 1\n""##,
            ),
            (
                b"a{b='c'} 1\n# EOF\n",
                r##"expected label value, got "'" ("INVALID") while parsing: "a{b='""##,
            ),
            (
                b"a{,b=\"c\"} 1\n# EOF\n",
                r##"expected label name, got ",b" ("COMMA") while parsing: "a{,b""##,
            ),
            (
                b"a{b=\"c\"d=\"e\"} 1\n# EOF\n",
                r##"expected comma or brace close, got "d=" ("LNAME") while parsing: "a{b=\"c\"d=""##,
            ),
            (
                b"a{b=\"c\",,d=\"e\"} 1\n# EOF\n",
                r##"expected label name, got ",d" ("COMMA") while parsing: "a{b=\"c\",,d""##,
            ),
            (
                b"a{b=\n# EOF\n",
                r##"expected label value, got "\n" ("INVALID") while parsing: "a{b=\n""##,
            ),
            (
                b"a{\xff=\"foo\"} 1\n# EOF\n",
                r##"expected label name, got "\xff" ("INVALID") while parsing: "a{\xff""##,
            ),
            (
                b"a{b=\"\xff\"} 1\n# EOF\n",
                r##"invalid UTF-8 label value: "\"\xff\"""##,
            ),
            (
                b"{\"a\",\"b = \"c\"}\n# EOF\n",
                r##"expected equal, got "c\"" ("LNAME") while parsing: "{\"a\",\"b = \"c\"""##,
            ),
            (
                b"{\"a\",b\\nc=\"d\"} 1\n# EOF\n",
                r##"expected equal, got "\\" ("INVALID") while parsing: "{\"a\",b\\""##,
            ),
            (
                b"a true\n",
                r##"strconv.ParseFloat: parsing "true": invalid syntax while parsing: "a true""##,
            ),
            (
                b"something_weird{problem=\"\n# EOF\n",
                r##"expected label value, got "\"\n" ("INVALID") while parsing: "something_weird{problem=\"\n""##,
            ),
            (
                b"empty_label_name{=\"\"} 0\n# EOF\n",
                r##"expected label name, got "=\"" ("EQUAL") while parsing: "empty_label_name{=\"""##,
            ),
            (
                b"foo 1_2\n\n# EOF\n",
                r##"unsupported character in float while parsing: "foo 1_2""##,
            ),
            (
                b"foo 0x1p-3\n\n# EOF\n",
                r##"unsupported character in float while parsing: "foo 0x1p-3""##,
            ),
            (
                b"foo 0 1_2\n\n# EOF\n",
                r##"unsupported character in float while parsing: "foo 0 1_2""##,
            ),
            (
                b"custom_metric_total 1 # {aa=bb}\n# EOF\n",
                r##"expected label value, got "b" ("INVALID") while parsing: "custom_metric_total 1 # {aa=b""##,
            ),
            (
                b"custom_metric_total 1 # {aa=\"bb\"}\n# EOF\n",
                r##"expected value after exemplar labels, got "\n" ("INVALID") while parsing: "custom_metric_total 1 # {aa=\"bb\"}\n""##,
            ),
            (
                b"custom_metric_total 1 # {aa=\"bb\"}",
                r##"expected value after exemplar labels, got "}" ("EOF") while parsing: "custom_metric_total 1 # {aa=\"bb\"}""##,
            ),
            (
                b"custom_metric_total 1 # {bb}",
                r##"expected label name, got "}" ("BCLOSE") while parsing: "custom_metric_total 1 # {bb}""##,
            ),
            (
                b"custom_metric_total 1 # {bb, a=\"dd\"}",
                r##"expected label name, got ", " ("COMMA") while parsing: "custom_metric_total 1 # {bb, ""##,
            ),
            (
                b"custom_metric_total 1 # {aa=\"bb\",,cc=\"dd\"} 1",
                r##"expected label name, got ",c" ("COMMA") while parsing: "custom_metric_total 1 # {aa=\"bb\",,c""##,
            ),
            (
                b"custom_metric_total 1 # {aa=\"bb\"} 1_2",
                r##"unsupported character in float while parsing: "custom_metric_total 1 # {aa=\"bb\"} 1_2""##,
            ),
            (
                b"custom_metric_total 1 # {aa=\"bb\"} true",
                r##"strconv.ParseFloat: parsing "true": invalid syntax while parsing: "custom_metric_total 1 # {aa=\"bb\"} true""##,
            ),
            (
                b"custom_metric_total 1 # {aa=\"bb\",cc=}",
                r##"expected label value, got "}" ("INVALID") while parsing: "custom_metric_total 1 # {aa=\"bb\",cc=}""##,
            ),
            (
                b"custom_metric_total 1 # {aa=\\\"\xff\\\"} 9.0",
                r##"expected label value, got "\\" ("INVALID") while parsing: "custom_metric_total 1 # {aa=\\""##,
            ),
            (
                b"{b=\"c\",} 1",
                r##"metric name not set while parsing: "{b=\"c\",} 1""##,
            ),
            (b"a 1 NaN", "invalid timestamp NaN"),
            (b"a 1 -Inf", "invalid timestamp -Inf"),
            (b"a 1 Inf", "invalid timestamp +Inf"),
            (
                b"# TYPE hhh histogram\nhhh_bucket{le=\"+Inf\"} 1 # {aa=\"bb\"} 4 NaN",
                "invalid exemplar timestamp NaN",
            ),
            (
                b"# TYPE hhh histogram\nhhh_bucket{le=\"+Inf\"} 1 # {aa=\"bb\"} 4 -Inf",
                "invalid exemplar timestamp -Inf",
            ),
            (
                b"a{b=\x00\"ssss\"} 1\n# EOF\n",
                r##"expected label value, got "\x00" ("INVALID") while parsing: "a{b=\x00""##,
            ),
            (
                b"a{b=\"\x00",
                r##"expected label value, got "\"\x00" ("INVALID") while parsing: "a{b=\"\x00""##,
            ),
            (
                b"a{b\x00=\"hiih\"}\t1",
                r##"expected equal, got "\x00" ("INVALID") while parsing: "a{b\x00""##,
            ),
            (
                b"a\x00{b=\"ddd\"} 1",
                r##"expected value after metric, got "\x00" ("INVALID") while parsing: "a\x00""##,
            ),
            (
                b"#",
                r##"expected a valid start token, got "#" ("INVALID") while parsing: "#""##,
            ),
            (
                b"# H",
                r##"expected a valid start token, got "# H" ("INVALID") while parsing: "# H""##,
            ),
            (
                b"custom_metric_total 1 # {b=\x00\"ssss\"} 1\n",
                r##"expected label value, got "\x00" ("INVALID") while parsing: "custom_metric_total 1 # {b=\x00""##,
            ),
            (
                b"custom_metric_total 1 # {b=\"\x00ss\"} 1\n",
                r##"expected label value, got "\"\x00" ("INVALID") while parsing: "custom_metric_total 1 # {b=\"\x00""##,
            ),
        ];
        let mut wrong = Vec::new();
        for (body, want) in cases {
            let mut p = Parser::new(body, Format::OpenMetrics);
            let got = loop {
                match p.next() {
                    Ok(Some(_)) => continue,
                    Ok(None) => break "parsed".to_string(),
                    Err(e) => break e.msg,
                }
            };
            if got != *want {
                wrong.push(format!(
                    "{:?}\n   got: {got}\n  want: {want}",
                    String::from_utf8_lossy(body)
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn nul_bytes_where_upstream_allows_them() {
        for body in [
            &b"null_byte_metric{a=\"abc\x00\"} 1\n# EOF\n"[..],
            b"a{b=\"\x00ss\"} 1\n# EOF\n",
            b"a{b=\"\x00\"} 1\n# EOF",
        ] {
            let mut p = Parser::new(body, Format::OpenMetrics);
            assert!(matches!(p.next(), Ok(Some(Entry::Sample { .. }))));
            assert_eq!(p.next(), Ok(None));
        }
    }
}
