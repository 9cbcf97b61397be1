//! The `{...}` label set: reading it in either grammar, recording where its
//! names and values are, and turning those into storage labels.
//!
//! Inside the braces a quoted string followed by `,` or `}` is the metric
//! name (`{"my.metric", a="b"}`); names may be quoted to hold any UTF-8.
//! The text format allows blanks between tokens and pairs without commas;
//! OpenMetrics allows neither. Both allow a trailing comma.

use storage::{Label, METRIC_NAME};

use super::error::ParseError;
use super::escape::unescape_label;
use super::float::{format_openmetrics, parse_float};
use super::lex::{is_label_start, label_name_end, scan_quoted, skip_blanks, Context, QuoteRules};
use super::parser::{LabelSpans, Parser, Span};
use super::MetricType;

/// Quoted names, in both formats: may span lines, may not hold NUL.
const NAME: QuoteRules = QuoteRules {
    newline: true,
    nul: false,
};
/// Text-format label values: may span lines and hold NUL.
const TEXT_VALUE: QuoteRules = QuoteRules {
    newline: true,
    nul: true,
};
/// OpenMetrics sample label values: one line, NUL allowed.
const OM_VALUE: QuoteRules = QuoteRules {
    newline: false,
    nul: true,
};
/// OpenMetrics exemplar names and values: one line, no NUL.
const OM_EXEMPLAR: QuoteRules = QuoteRules {
    newline: false,
    nul: false,
};

/// Whose label set is being read: a sample's is recorded, an exemplar's is
/// only checked (and may not name a metric).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    Sample,
    Exemplar,
}

impl<'a> Parser<'a> {
    /// A text-format label set; `i` is just past the `{`. Returns the index
    /// just past the `}`.
    pub(super) fn text_labels(
        &mut self,
        mut i: usize,
        entry_start: usize,
    ) -> Result<usize, ParseError> {
        let b = self.buf;
        loop {
            // The usual spelling, `name="value"` then `,` or `}` without
            // blanks, on a short path; anything else goes the long way.
            if let Some(&c) = b.get(i) {
                if is_label_start(c) {
                    let end = label_name_end(b, i);
                    if b.get(end) == Some(&b'=') && b.get(end + 1) == Some(&b'"') {
                        let (value, after) = self.label_value(end + 1, TEXT_VALUE, entry_start)?;
                        let name = Span { start: i, end };
                        self.sample.labels.push(LabelSpans { name, value });
                        match b.get(after) {
                            Some(b',') => i = after + 1,
                            Some(b'}') => return Ok(after + 1),
                            _ => {
                                i = skip_blanks(b, after);
                                if b.get(i) == Some(&b',') {
                                    i += 1;
                                }
                            }
                        }
                        continue;
                    }
                }
            }
            i = skip_blanks(b, i);
            let (name, quoted, after) = match b.get(i) {
                Some(b'}') => return Ok(i + 1),
                Some(&c) if is_label_start(c) => {
                    let end = label_name_end(b, i);
                    (Span { start: i, end }, false, end)
                }
                Some(b'"') => {
                    let (span, end) = self.quoted_name(i, NAME, entry_start)?;
                    (span, true, end)
                }
                _ => {
                    return Err(self.unexpected(
                        "expected label name",
                        i,
                        entry_start,
                        Context::Labels,
                    ))
                }
            };
            i = skip_blanks(b, after);
            if quoted && matches!(b.get(i), Some(b',' | b'}')) {
                self.set_metric_name(name, i, entry_start)?;
                if b[i] == b'}' {
                    return Ok(i + 1);
                }
                i += 1;
                continue;
            }
            if b.get(i) != Some(&b'=') {
                return Err(self.unexpected("expected equal", i, entry_start, Context::Labels));
            }
            i = skip_blanks(b, i + 1);
            let (value, end) = self.label_value(i, TEXT_VALUE, entry_start)?;
            self.check_label_name(name, entry_start, end)?;
            self.sample.labels.push(LabelSpans { name, value });
            i = skip_blanks(b, end);
            if b.get(i) == Some(&b',') {
                i += 1;
            }
        }
    }

    /// An OpenMetrics label set; `i` is just past the `{`. Returns the
    /// index just past the `}`.
    pub(super) fn om_labels(
        &mut self,
        mut i: usize,
        entry_start: usize,
        owner: Owner,
    ) -> Result<usize, ParseError> {
        let b = self.buf;
        let (name_rules, value_rules) = match owner {
            Owner::Sample => (NAME, OM_VALUE),
            Owner::Exemplar => (OM_EXEMPLAR, OM_EXEMPLAR),
        };
        loop {
            let (name, quoted, after) = match b.get(i) {
                Some(b'}') => return Ok(i + 1),
                Some(&c) if is_label_start(c) => {
                    let end = label_name_end(b, i);
                    (Span { start: i, end }, false, end)
                }
                Some(b'"') => {
                    let (span, end) = self.quoted_name(i, name_rules, entry_start)?;
                    (span, true, end)
                }
                _ => {
                    return Err(self.unexpected(
                        "expected label name",
                        i,
                        entry_start,
                        Context::Labels,
                    ))
                }
            };
            i = after;
            // Upstream takes any name before `,`/`}` as the metric name; we
            // keep that to quoted ones (an unquoted one fails below) but, as
            // upstream, refuse both in exemplars.
            let bare = matches!(b.get(i), Some(b',' | b'}'));
            if bare && (quoted || owner == Owner::Exemplar) {
                if owner == Owner::Exemplar {
                    return Err(self.unexpected(
                        "expected label name",
                        i,
                        entry_start,
                        Context::Labels,
                    ));
                }
                self.set_metric_name(name, i, entry_start)?;
                if b[i] == b'}' {
                    return Ok(i + 1);
                }
                i += 1;
                continue;
            }
            if b.get(i) != Some(&b'=') {
                return Err(self.unexpected("expected equal", i, entry_start, Context::Labels));
            }
            let (value, end) = self.label_value(i + 1, value_rules, entry_start)?;
            if owner == Owner::Sample {
                self.check_label_name(name, entry_start, end)?;
                self.sample.labels.push(LabelSpans { name, value });
            }
            i = end;
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {}
                _ => {
                    return Err(self.unexpected(
                        "expected comma or brace close",
                        i,
                        entry_start,
                        Context::Labels,
                    ))
                }
            }
        }
    }

    /// The quoted name opening at `open`: its inside and the index past it.
    fn quoted_name(
        &self,
        open: usize,
        rules: QuoteRules,
        entry_start: usize,
    ) -> Result<(Span, usize), ParseError> {
        let q = scan_quoted(self.buf, open, rules)
            .map_err(|stop| self.invalid("expected label name", open, stop, entry_start))?;
        let span = Span {
            start: open + 1,
            end: q.end - 1,
        };
        if q.non_ascii && std::str::from_utf8(&self.buf[span.start..span.end]).is_err() {
            return Err(self.error(
                open,
                format!("invalid UTF-8 name: {}", self.quoted(open, q.end)),
            ));
        }
        Ok((span, q.end))
    }

    /// The label value whose opening quote should be at `open`: its inside
    /// and the index past it.
    #[inline(always)]
    fn label_value(
        &self,
        open: usize,
        rules: QuoteRules,
        entry_start: usize,
    ) -> Result<(Span, usize), ParseError> {
        if self.buf.get(open) != Some(&b'"') {
            return Err(self.unexpected("expected label value", open, entry_start, Context::Value));
        }
        let q = scan_quoted(self.buf, open, rules)
            .map_err(|stop| self.invalid("expected label value", open, stop, entry_start))?;
        let span = Span {
            start: open + 1,
            end: q.end - 1,
        };
        if q.non_ascii && std::str::from_utf8(&self.buf[span.start..span.end]).is_err() {
            return Err(self.error(
                open,
                format!("invalid UTF-8 label value: {}", self.quoted(open, q.end)),
            ));
        }
        Ok((span, q.end))
    }

    /// A quoted string inside braces turned out to be the metric name;
    /// `at` is the `,` or `}` after it.
    fn set_metric_name(
        &mut self,
        name: Span,
        at: usize,
        entry_start: usize,
    ) -> Result<(), ParseError> {
        if self.sample.name.is_some() {
            return Err(self.error(
                name.start,
                format!(
                    "metric name already set while parsing: {}",
                    self.quoted(entry_start, at + 1)
                ),
            ));
        }
        if name.start == name.end {
            return Err(self.error(
                name.start,
                format!(
                    "invalid metric name \"\" while parsing: {}",
                    self.quoted(entry_start, at + 1)
                ),
            ));
        }
        self.sample.name = Some(name);
        Ok(())
    }

    /// Only a quoted label name can be empty, and storage cannot hold one.
    #[inline]
    fn check_label_name(
        &self,
        name: Span,
        entry_start: usize,
        end: usize,
    ) -> Result<(), ParseError> {
        if name.start == name.end {
            return Err(self.error(
                name.start,
                format!(
                    "invalid label name \"\" while parsing: {}",
                    self.quoted(entry_start, end)
                ),
            ));
        }
        Ok(())
    }

    /// Storage labels for the sample just read; see [`Parser::labels`].
    pub(super) fn build_labels(&self, out: &mut Vec<Label>) -> Result<(), ParseError> {
        let b = self.buf;
        let s = &self.sample;
        // Names and values were checked as UTF-8 when they were read.
        let text = |span: Span| std::str::from_utf8(&b[span.start..span.end]).unwrap_or("");
        let Some(name) = s.name.map(text) else {
            return Err(self.error(self.pos, "no sample to take labels from"));
        };
        let base = out.len();
        out.push(Label::new(METRIC_NAME, unescape_label(name)));
        for l in &s.labels {
            if l.value.start == l.value.end {
                continue;
            }
            let name = unescape_label(text(l.name)).into_owned();
            let raw = unescape_label(text(l.value));
            let value = match (s.kind, name.as_str()) {
                (MetricType::Histogram, "le") | (MetricType::Summary, "quantile") => {
                    match parse_float(raw.as_bytes()) {
                        Ok(f) => format_openmetrics(f),
                        Err(_) => raw.into_owned(),
                    }
                }
                _ => raw.into_owned(),
            };
            out.push(Label { name, value });
        }
        let added = &mut out[base..];
        added.sort_unstable_by(|x, y| x.name.cmp(&y.name));
        if let Some(w) = added.windows(2).find(|w| w[0].name == w[1].name) {
            let msg = format!("label name {:?} is not unique", w[0].name);
            out.truncate(base);
            return Err(self.error(s.start, msg));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Entry, Format};
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// How a name or value is written inside quotes.
    fn escaped(s: &str) -> String {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    }

    fn name_token(name: &str) -> String {
        let legacy = name
            .bytes()
            .enumerate()
            .all(|(i, c)| c.is_ascii_alphabetic() || c == b'_' || (i > 0 && c.is_ascii_digit()));
        if legacy {
            name.to_string()
        } else {
            format!("\"{}\"", escaped(name))
        }
    }

    /// `name{labels}` as an exposition would spell it; `sep` goes after
    /// each comma (the text format allows blanks there).
    fn render(metric: &str, labels: &BTreeMap<String, String>, sep: &str) -> String {
        let mut pairs: Vec<String> = labels
            .iter()
            .map(|(n, v)| format!("{}=\"{}\"", name_token(n), escaped(v)))
            .collect();
        let legacy = !name_token(metric).starts_with('"');
        if legacy {
            format!("{metric}{{{}}}", pairs.join(&format!(",{sep}")))
        } else {
            pairs.insert(0, name_token(metric));
            format!("{{{}}}", pairs.join(&format!(",{sep}")))
        }
    }

    fn read(body: &[u8], format: Format) -> (Vec<u8>, f64, Vec<Label>) {
        let mut p = Parser::new(body, format);
        let Some(Entry::Sample { series, value, .. }) = p.next().unwrap() else {
            panic!("no sample in {:?}", String::from_utf8_lossy(body));
        };
        let mut labels = Vec::new();
        p.labels(&mut labels).unwrap();
        assert_eq!(p.next().unwrap(), None);
        (series.to_vec(), value, labels)
    }

    fn names() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
            "(?s).{1,6}".prop_filter("no NUL in names", |s| !s.contains('\0')),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn label_sets_round_trip(
            metric in names(),
            labels in prop::collection::btree_map(names(), "(?s).{0,8}", 0..6),
            value in -1e6f64..1e6,
            sep in prop_oneof![Just(""), Just(" "), Just("\t ")],
        ) {
            prop_assume!(!labels.contains_key(METRIC_NAME));
            let mut want = vec![Label::new(METRIC_NAME, metric.clone())];
            want.extend(
                labels
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(n, v)| Label::new(n.clone(), v.clone())),
            );
            want.sort();

            let series = render(&metric, &labels, sep);
            let text = format!("{series} {value}\n");
            let (got_series, got_value, got) = read(text.as_bytes(), Format::Text);
            prop_assert_eq!(got_series, series.as_bytes());
            prop_assert_eq!(got_value, value);
            prop_assert_eq!(&got, &want);

            let series = render(&metric, &labels, "");
            let om = format!("{series} {value}\n# EOF\n");
            let (got_series, got_value, got) = read(om.as_bytes(), Format::OpenMetrics);
            prop_assert_eq!(got_series, series.as_bytes());
            prop_assert_eq!(got_value, value);
            prop_assert_eq!(&got, &want);
        }
    }

    #[test]
    fn labels_append_after_existing_entries() {
        let mut p = Parser::new(b"m{b=\"2\",a=\"1\"} 1\n", Format::Text);
        p.next().unwrap();
        let mut out = vec![Label::new("zzz", "kept first")];
        p.labels(&mut out).unwrap();
        let names: Vec<&str> = out.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["zzz", "__name__", "a", "b"]);
    }

    #[test]
    fn labels_need_a_sample() {
        let mut p = Parser::new(b"# TYPE m gauge\n", Format::Text);
        let mut out = Vec::new();
        assert!(p.labels(&mut out).is_err());
        p.next().unwrap();
        assert!(p.labels(&mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn failed_labels_leave_the_output_as_it_was() {
        let mut p = Parser::new(b"m{a=\"1\",a=\"2\"} 1\n", Format::Text);
        p.next().unwrap();
        let mut out = vec![Label::new("x", "y")];
        assert!(p.labels(&mut out).is_err());
        assert_eq!(out, [Label::new("x", "y")]);
    }
}
