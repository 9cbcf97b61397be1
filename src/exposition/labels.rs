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
        let base = out.len();
        let name = s.name.map(text).unwrap_or("");
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
