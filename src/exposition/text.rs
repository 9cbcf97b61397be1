//! The Prometheus text format, line by line.
//!
//! ```text
//! # HELP name text            # TYPE name counter|gauge|histogram|summary|untyped
//! # anything else             (a comment; so is `#` not followed by a blank)
//! name{labels} value [timestamp-ms]
//! ```
//! Blanks (spaces, tabs) may separate any two tokens and surround a line;
//! blank lines are skipped; the last line need not end in a newline. The
//! help text is what follows the name minus its first byte, as upstream
//! reads it.

use std::borrow::Cow;

use super::error::{quote, ParseError};
use super::escape::unescape_text_help;
use super::float::{fast_decimal, parse_float};
use super::lex::{
    is_metric_start, line_end, metric_name_end, scan_quoted, skip_blanks, Context, QuoteRules,
};
use super::parser::{Parser, Span};
use super::{Entry, MetricType};

#[derive(Clone, Copy)]
enum Meta {
    Help,
    Type,
}

impl Meta {
    fn word(self) -> &'static str {
        match self {
            Meta::Help => "HELP",
            Meta::Type => "TYPE",
        }
    }
}

impl<'a> Parser<'a> {
    #[inline]
    pub(super) fn next_text(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let b = self.buf;
        loop {
            let entry_start = self.pos;
            let i = skip_blanks(b, entry_start);
            let Some(&c) = b.get(i) else {
                self.pos = i;
                return Ok(None);
            };
            if is_metric_start(c) || c == b'{' {
                return self.text_sample(i, entry_start).map(Some);
            }
            match c {
                b'\n' => self.pos = i + 1,
                b'#' => {
                    if let Some(e) = self.text_comment(i, entry_start)? {
                        return Ok(Some(e));
                    }
                }
                _ => {
                    return Err(self.unexpected(
                        "expected a valid start token",
                        i,
                        entry_start,
                        Context::Line,
                    ))
                }
            }
        }
    }

    /// A line starting with `#` at `i`: `HELP`/`TYPE` after blanks, or a
    /// comment that is skipped.
    fn text_comment(
        &mut self,
        i: usize,
        entry_start: usize,
    ) -> Result<Option<Entry<'a>>, ParseError> {
        let b = self.buf;
        let after_hash = i + 1;
        let word = skip_blanks(b, after_hash);
        if word > after_hash {
            let meta = match b.get(word..word + 4) {
                Some(b"HELP") => Some(Meta::Help),
                Some(b"TYPE") => Some(Meta::Type),
                _ => None,
            };
            if let Some(meta) = meta {
                let name = skip_blanks(b, word + 4);
                if name > word + 4 {
                    return self.text_meta(meta, name, entry_start).map(Some);
                }
            }
        }
        self.pos = (line_end(b, i) + 1).min(b.len());
        Ok(None)
    }

    /// The rest of a `HELP`/`TYPE` line; `i` is where the metric name should be.
    fn text_meta(
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
                    Err(_) => return Err(self.no_meta_name(meta, i, entry_start)),
                }
            }
            Some(&c) if is_metric_start(c) => {
                let end = metric_name_end(b, i);
                (Span { start: i, end }, end)
            }
            _ => return Err(self.no_meta_name(meta, i, entry_start)),
        };
        let Ok(metric) = std::str::from_utf8(&b[name.start..name.end]) else {
            return Err(self.error(
                i,
                format!("invalid UTF-8 metric name: {}", self.quoted(i, after)),
            ));
        };
        let eol = line_end(b, after);
        self.pos = (eol + 1).min(b.len());
        let rest = &b[after..eol];
        // Upstream's lexer takes the text as everything after the name and
        // drops its first byte; blanks alone are no text.
        let text = if rest.len() > 1 && !rest.iter().all(|&c| c == b' ' || c == b'\t') {
            &rest[1..]
        } else {
            &[]
        };
        match meta {
            Meta::Type => {
                let kind = match text {
                    b"counter" => MetricType::Counter,
                    b"gauge" => MetricType::Gauge,
                    b"histogram" => MetricType::Histogram,
                    b"summary" => MetricType::Summary,
                    b"untyped" => MetricType::Unknown,
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
                let help: Cow<'a, str> = unescape_text_help(help);
                Ok(Entry::Help { metric, help })
            }
        }
    }

    #[cold]
    fn no_meta_name(&self, meta: Meta, at: usize, entry_start: usize) -> ParseError {
        let expected = format!("expected metric name after {}", meta.word());
        self.unexpected(&expected, at, entry_start, Context::Line)
    }

    /// A sample line whose series starts at `i`.
    #[inline]
    fn text_sample(&mut self, i: usize, entry_start: usize) -> Result<Entry<'a>, ParseError> {
        let b = self.buf;
        self.sample.start = i;
        self.sample.name = None;
        self.sample.labels.clear();
        self.sample.kind = self.last_type;

        let end = if b[i] == b'{' {
            self.text_labels(i + 1, entry_start)?
        } else {
            let name_end = metric_name_end(b, i);
            self.sample.name = Some(Span {
                start: i,
                end: name_end,
            });
            let brace = skip_blanks(b, name_end);
            if b.get(brace) == Some(&b'{') {
                self.text_labels(brace + 1, entry_start)?
            } else {
                name_end
            }
        };
        let series = &b[i..end];

        let v = skip_blanks(b, end);
        let fast = fast_decimal(b, v).filter(|&(_, e)| ends_text_value(b.get(e)));
        let v_end = match fast {
            Some((_, e)) => e,
            None => {
                let mut e = v;
                while !ends_text_value(b.get(e)) {
                    e += 1;
                }
                e
            }
        };
        // Upstream checks the name once it has read the value token.
        if self.sample.name.is_none() {
            return Err(self.error(
                i,
                format!(
                    "metric name not set while parsing: {}",
                    self.quoted(entry_start, v_end)
                ),
            ));
        }
        let value = match fast {
            Some((x, _)) => x,
            None if v_end == v => {
                return Err(self.unexpected(
                    "expected value after metric",
                    v,
                    entry_start,
                    Context::Line,
                ))
            }
            None => {
                parse_float(&b[v..v_end]).map_err(|e| self.bad_number(e, v, v_end, entry_start))?
            }
        };

        let mut j = skip_blanks(b, v_end);
        let mut timestamp = None;
        if j < b.len() && b[j] != b'\n' {
            if !b[j].is_ascii_digit() {
                return Err(self.unexpected(
                    "expected timestamp or new record",
                    j,
                    entry_start,
                    Context::Line,
                ));
            }
            let t = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            timestamp = Some(parse_millis(&b[t..j]).ok_or_else(|| {
                self.error(
                    t,
                    format!(
                        "strconv.ParseInt: parsing {}: value out of range while parsing: {}",
                        self.quoted(t, j),
                        self.quoted(entry_start, j)
                    ),
                )
            })?);
            j = skip_blanks(b, j);
            if j < b.len() && b[j] != b'\n' {
                return Err(self.unexpected(
                    "expected next entry after timestamp",
                    j,
                    entry_start,
                    Context::Line,
                ));
            }
        }
        self.pos = (j + 1).min(b.len());
        Ok(Entry::Sample {
            series,
            value,
            timestamp,
        })
    }
}

/// Whether a value token ends before `c`: `[^{ \t\n]` (and no NUL) make
/// up a value.
#[inline]
fn ends_text_value(c: Option<&u8>) -> bool {
    matches!(c, None | Some(b' ' | b'\t' | b'\n' | b'{' | 0))
}

/// ASCII digits as an `i64`; `None` on overflow.
#[inline]
fn parse_millis(digits: &[u8]) -> Option<i64> {
    let mut v: i64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::*;
    use storage::Label;

    /// Every entry of a text payload, rendered for comparison; samples show
    /// their parsed labels.
    fn entries(body: &str) -> Result<Vec<String>, ParseError> {
        let mut p = Parser::new(body.as_bytes(), Format::Text);
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
                Entry::Unit { metric, unit } => format!("UNIT {metric} {unit}"),
            });
        }
        Ok(out)
    }

    fn err(body: &str) -> String {
        entries(body).expect_err(body).to_string()
    }

    #[test]
    fn samples_with_and_without_labels() {
        assert_eq!(
            entries("up 1\nup{job=\"a\",instance=\"b\"} 0.5 1700000000000\n").unwrap(),
            [
                "up [__name__=\"up\"] 1 None",
                "up{job=\"a\",instance=\"b\"} [__name__=\"up\",instance=\"b\",job=\"a\"] 0.5 Some(1700000000000)",
            ]
        );
    }

    #[test]
    fn lenient_spacing_and_commas() {
        let got = entries("  up  {  a = \"1\"  b=\"2\" , } \t 3 \t 42 \n\n\t\nx{}4\nfoo-1\nlast 7")
            .unwrap();
        assert_eq!(
            got,
            [
                "up  {  a = \"1\"  b=\"2\" , } [__name__=\"up\",a=\"1\",b=\"2\"] 3 Some(42)",
                "x{} [__name__=\"x\"] 4 None",
                "foo [__name__=\"foo\"] -1 None",
                "last [__name__=\"last\"] 7 None",
            ]
        );
    }

    #[test]
    fn quoted_utf8_names() {
        let got = entries(
            "# TYPE \"my.metric\" gauge\n{\"my.metric\", \"a.b\"=\"x\"} 1\n{a=\"1\",\"ünï\"} 2\n",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                "TYPE my.metric gauge",
                "{\"my.metric\", \"a.b\"=\"x\"} [__name__=\"my.metric\",a.b=\"x\"] 1 None",
                "{a=\"1\",\"ünï\"} [__name__=\"ünï\",a=\"1\"] 2 None",
            ]
        );
    }

    #[test]
    fn label_value_escapes() {
        let got = entries("m{a=\"x\\\"y\\\\z\\nw\\t\"} 1\nm{a=\"two\nlines\"} 2\n").unwrap();
        assert_eq!(
            got[0],
            "m{a=\"x\\\"y\\\\z\\nw\\t\"} [__name__=\"m\",a=\"x\\\"y\\\\z\\nw\\\\t\"] 1 None"
        );
        assert_eq!(
            got[1],
            "m{a=\"two\nlines\"} [__name__=\"m\",a=\"two\\nlines\"] 2 None"
        );
    }

    #[test]
    fn values() {
        let got = entries("a 1e3\na +Inf\na -Inf\na NaN\na Nan\na -0.5e-3\na .5\n").unwrap();
        let values: Vec<&str> = got.iter().map(|s| s.split(' ').nth(2).unwrap()).collect();
        assert_eq!(
            values,
            ["1000", "inf", "-inf", "NaN", "NaN", "-0.0005", "0.5"]
        );
    }

    #[test]
    fn help_and_type() {
        let got = entries(concat!(
            "# HELP a Some \\\\ \"help\" \\n here\n",
            "# HELP b\n",
            "# HELP c  two spaces\n",
            "#\tTYPE   a\tcounter\n",
            "# TYPE u untyped\n",
            "# HELP\n",
            "#HELP x y\n",
            "# some comment\n",
            "# TYPE s summary",
        ))
        .unwrap();
        assert_eq!(
            got,
            [
                "HELP a \"Some \\\\ \\\"help\\\" \\n here\"",
                "HELP b \"\"",
                "HELP c \" two spaces\"",
                "TYPE a counter",
                "TYPE u unknown",
                "TYPE s summary",
            ]
        );
    }

    #[test]
    fn le_and_quantile_are_normalised_under_their_type() {
        let got = entries(concat!(
            "h_bucket{le=\"1\"} 1\n",
            "# TYPE h histogram\n",
            "h_bucket{le=\"1\"} 1\n",
            "h_bucket{le=\"+inf\"} 1\n",
            "h_bucket{le=\"1e-05\"} 1\n",
            "h_bucket{le=\"oops\"} 1\n",
            "h_bucket{quantile=\"1\"} 1\n",
            "# TYPE s summary\n",
            "s{quantile=\"0.50\"} 1\n",
            "s{le=\"1\"} 1\n",
        ))
        .unwrap();
        let labels: Vec<&str> = got
            .iter()
            .filter(|s| !s.starts_with("TYPE"))
            .map(|s| s.split(['[', ']']).nth(1).unwrap())
            .collect();
        assert_eq!(
            labels,
            [
                "__name__=\"h_bucket\",le=\"1\"",
                "__name__=\"h_bucket\",le=\"1.0\"",
                "__name__=\"h_bucket\",le=\"+Inf\"",
                "__name__=\"h_bucket\",le=\"1e-05\"",
                "__name__=\"h_bucket\",le=\"oops\"",
                "__name__=\"h_bucket\",quantile=\"1\"",
                "__name__=\"s\",quantile=\"0.5\"",
                "__name__=\"s\",le=\"1\"",
            ]
        );
    }

    #[test]
    fn empty_values_are_dropped_and_duplicates_rejected() {
        assert_eq!(
            entries("m{a=\"\",b=\"1\"} 1\nm{a=\"\",a=\"x\"} 2\n").unwrap(),
            [
                "m{a=\"\",b=\"1\"} [__name__=\"m\",b=\"1\"] 1 None",
                "m{a=\"\",a=\"x\"} [__name__=\"m\",a=\"x\"] 2 None",
            ]
        );
        assert_eq!(
            err("ok 1\nm{a=\"1\",a=\"2\"} 1\n"),
            "line 2: label name \"a\" is not unique"
        );
        assert_eq!(
            err("m{__name__=\"n\"} 1\n"),
            "line 1: label name \"__name__\" is not unique"
        );
    }

    #[test]
    fn errors() {
        let mut wrong = Vec::new();
        for (body, want) in [
            (
                "metric{a x\n",
                "line 1: expected equal, got \"x\\n\" (\"LNAME\") while parsing: \"metric{a x\\n\"",
            ),
            (
                "ok 1\n!bad 1\n",
                "line 2: expected a valid start token, got \"!\" (\"INVALID\") while parsing: \"!\"",
            ),
            (
                "m{a=\"1\",,} 1\n",
                "line 1: expected label name, got \",}\" (\"COMMA\") while parsing: \"m{a=\\\"1\\\",,}\"",
            ),
            (
                "m{a=1} 1\n",
                "line 1: expected label value, got \"1\" (\"INVALID\") while parsing: \"m{a=1\"",
            ),
            (
                "m{a=\"1} 1\n",
                "line 2: expected label value, got \"\\\"1} 1\\n\\n\" (\"INVALID\") while parsing: \"m{a=\\\"1} 1\\n\\n\"",
            ),
            ("m\n", "line 1: expected value after metric, got \"\\n\" (\"INVALID\") while parsing: \"m\\n\""),
            ("m", "line 1: expected value after metric, got \"\\n\" (\"INVALID\") while parsing: \"m\\n\""),
            (
                "m abc\n",
                "line 1: strconv.ParseFloat: parsing \"abc\": invalid syntax while parsing: \"m abc\"",
            ),
            ("m 0x1p3\n", "line 1: unsupported character in float while parsing: \"m 0x1p3\""),
            ("m 1e999\n", "line 1: strconv.ParseFloat: parsing \"1e999\": value out of range while parsing: \"m 1e999\""),
            ("m +nan\n", "line 1: strconv.ParseFloat: parsing \"+nan\": invalid syntax while parsing: \"m +nan\""),
            (
                "m 1 -5\n",
                "line 1: expected timestamp or new record, got \"-\" (\"INVALID\") while parsing: \"m 1 -\"",
            ),
            (
                "m 1 1.5\n",
                "line 1: expected next entry after timestamp, got \".\" (\"INVALID\") while parsing: \"m 1 1.\"",
            ),
            (
                "m 1 99999999999999999999\n",
                "line 1: strconv.ParseInt: parsing \"99999999999999999999\": value out of range while parsing: \"m 1 99999999999999999999\"",
            ),
            ("m{a=\"1\"}{b=\"2\"} 1\n", "line 1: expected value after metric, got \"{b\" (\"BOPEN\") while parsing: \"m{a=\\\"1\\\"}{b\""),
            ("{a=\"1\"} 1\n", "line 1: metric name not set while parsing: \"{a=\\\"1\\\"} 1\""),
            ("m{\"x\"} 1\n", "line 1: metric name already set while parsing: \"m{\\\"x\\\"}\""),
            ("{\"\"} 1\n", "line 1: invalid metric name \"\" while parsing: \"{\\\"\\\"}\""),
            ("m{\"\"=\"v\"} 1\n", "line 1: invalid label name \"\" while parsing: \"m{\\\"\\\"=\\\"v\\\"\""),
            ("# TYPE m gauge2\n", "line 1: invalid metric type \"gauge2\""),
            ("# TYPE m  gauge\n", "line 1: invalid metric type \" gauge\""),
            ("# TYPE m\n", "line 1: invalid metric type \"\""),
            ("# TYPE m info\n", "line 1: invalid metric type \"info\""),
            ("# TYPE m unknown\n", "line 1: invalid metric type \"unknown\""),
            ("# HELP 1m x\n", "line 1: expected metric name after HELP, got \"1\" (\"INVALID\") while parsing: \"# HELP 1\""),
            ("# TYPE \n", "line 1: expected metric name after TYPE, got \"\\n\" (\"INVALID\") while parsing: \"# TYPE \\n\""),
            ("m 1\r\n", "line 1: strconv.ParseFloat: parsing \"1\\r\": invalid syntax while parsing: \"m 1\\r\""),
            ("\0m 1\n", "line 1: expected a valid start token, got \"\\x00\" (\"INVALID\") while parsing: \"\\x00\""),
        ] {
            let got = err(body);
            if got != want {
                wrong.push(format!("{body:?}\n   got: {got}\n  want: {want}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn invalid_utf8_help_and_names() {
        let body = b"# HELP m bad \xff help\n";
        let e = Parser::new(body, Format::Text).next().unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: help text \"bad \\xff help\" is not a valid utf8 string"
        );
        let body = b"m{\"\xff\"=\"v\"} 1\n";
        let e = Parser::new(body, Format::Text).next().unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: invalid UTF-8 name: \"\\\"\\xff\\\"\""
        );
        let body = b"m{a=\"x\xff\"} 1\n";
        let e = Parser::new(body, Format::Text).next().unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: invalid UTF-8 label value: \"\\\"x\\xff\\\"\""
        );
    }

    #[test]
    fn comments_may_hold_anything() {
        let body = b"# \xff\xfe not utf8\n#\0\nup 1\n";
        let mut p = Parser::new(body, Format::Text);
        assert!(matches!(p.next(), Ok(Some(Entry::Sample { .. }))));
        assert_eq!(p.next(), Ok(None));
    }

    #[test]
    fn nul_in_label_values_and_help() {
        let got = entries("# HELP m a\0b\nm{a=\"x\0y\"} 1\n").unwrap();
        assert_eq!(got[0], "HELP m \"a\\0b\"");
        assert!(got[1].contains("a=\"x\\0y\""));
    }

    #[test]
    fn metric_name_accessor() {
        let mut p = Parser::new(b"a_total{x=\"1\"} 1\n{\"b.c\"} 2\n", Format::Text);
        p.next().unwrap();
        assert_eq!(p.metric_name(), "a_total");
        p.next().unwrap();
        assert_eq!(p.metric_name(), "b.c");
    }

    /// Inputs and messages from Prometheus's own parser tests: our errors
    /// read the same.
    #[test]
    fn errors_read_like_upstream() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"a",
                r##"expected value after metric, got "\n" ("INVALID") while parsing: "a\n""##,
            ),
            (
                b"a{b='c'} 1\n",
                r##"expected label value, got "'" ("INVALID") while parsing: "a{b='""##,
            ),
            (
                b"a{b=\n",
                r##"expected label value, got "\n" ("INVALID") while parsing: "a{b=\n""##,
            ),
            (
                b"a{\xff=\"foo\"} 1\n",
                r##"expected label name, got "\xff" ("INVALID") while parsing: "a{\xff""##,
            ),
            (
                b"a{b=\"\xff\"} 1\n",
                r##"invalid UTF-8 label value: "\"\xff\"""##,
            ),
            (
                br#"{"a", "b = "c"}"#,
                r##"expected equal, got "c\"" ("LNAME") while parsing: "{\"a\", \"b = \"c\"""##,
            ),
            (
                br#"{"a",b\nc="d"} 1"#,
                r##"expected equal, got "\\" ("INVALID") while parsing: "{\"a\",b\\""##,
            ),
            (
                b"a true\n",
                r##"strconv.ParseFloat: parsing "true": invalid syntax while parsing: "a true""##,
            ),
            (
                b"something_weird{problem=\"",
                r##"expected label value, got "\"\n" ("INVALID") while parsing: "something_weird{problem=\"\n""##,
            ),
            (
                b"empty_label_name{=\"\"} 0",
                r##"expected label name, got "=\"" ("EQUAL") while parsing: "empty_label_name{=\"""##,
            ),
            (
                b"foo 1_2\n",
                r##"unsupported character in float while parsing: "foo 1_2""##,
            ),
            (
                b"foo 0x1p-3\n",
                r##"unsupported character in float while parsing: "foo 0x1p-3""##,
            ),
            (
                b"foo 0x1P-3\n",
                r##"unsupported character in float while parsing: "foo 0x1P-3""##,
            ),
            (
                b"foo 0 1_2\n",
                r##"expected next entry after timestamp, got "_" ("INVALID") while parsing: "foo 0 1_""##,
            ),
            (
                br#"{a="ok"} 1"#,
                r##"metric name not set while parsing: "{a=\"ok\"} 1""##,
            ),
            (
                b"# TYPE #\n#EOF\n",
                r##"expected metric name after TYPE, got "#" ("INVALID") while parsing: "# TYPE #""##,
            ),
            (
                b"# HELP #\n#EOF\n",
                r##"expected metric name after HELP, got "#" ("INVALID") while parsing: "# HELP #""##,
            ),
            (
                b"a{b=\x00\"ssss\"} 1\n",
                r##"expected label value, got "\x00" ("INVALID") while parsing: "a{b=\x00""##,
            ),
            (
                b"a{b=\"\x00",
                r##"expected label value, got "\"\x00\n" ("INVALID") while parsing: "a{b=\"\x00\n""##,
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
                b"a 0 1\x00",
                r##"expected next entry after timestamp, got "\x00" ("INVALID") while parsing: "a 0 1\x00""##,
            ),
        ];
        let mut wrong = Vec::new();
        for (body, want) in cases {
            let mut p = Parser::new(body, Format::Text);
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
            &b"null_byte_metric{a=\"abc\x00\"} 1"[..],
            b"a{b=\"\x00ss\"} 1\n",
            b"a{b=\"\x00\"} 1\n",
        ] {
            let mut p = Parser::new(body, Format::Text);
            assert!(matches!(p.next(), Ok(Some(Entry::Sample { .. }))));
            assert_eq!(p.next(), Ok(None));
        }
    }
}
