//! The parser: state shared by both grammars, the public entry points, and
//! error construction. The grammars live in `text.rs` and `openmetrics.rs`,
//! the `{...}` label set in `labels.rs`.

use storage::Label;

use super::error::{quote, ParseError};
use super::float::FloatError;
use super::lex::{describe, Context};
use super::{Entry, Format, MetricType};

/// Reads one payload. See the module documentation for what is accepted.
///
/// ```
/// use ferroprom::exposition::{Entry, Format, Parser};
///
/// let mut p = Parser::new(b"up{job=\"node\"} 1\n", Format::Text);
/// let Some(Entry::Sample { series, value, .. }) = p.next().unwrap() else { panic!() };
/// assert_eq!((series, value), (&b"up{job=\"node\"}"[..], 1.0));
/// let mut labels = Vec::new();
/// p.labels(&mut labels).unwrap();
/// assert_eq!(labels[0].name, "__name__");
/// assert!(p.next().unwrap().is_none());
/// ```
pub struct Parser<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
    format: Format,
    done: bool,
    /// Type from the latest `TYPE` line: decides `le`/`quantile` spelling.
    pub(super) last_type: MetricType,
    /// Where the parts of the sample just returned are.
    pub(super) sample: SampleSpans,
}

/// A byte range of the payload.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Span {
    pub start: usize,
    pub end: usize,
}

/// One `name="value"` pair, both without their quotes.
#[derive(Clone, Copy, Debug)]
pub(super) struct LabelSpans {
    pub name: Span,
    pub value: Span,
}

/// The sample just returned, as offsets into the payload; the vector is
/// reused so a sample costs no allocation.
#[derive(Debug, Default)]
pub(super) struct SampleSpans {
    /// First byte of the series (for error positions).
    pub start: usize,
    /// Metric name without quotes, escapes unresolved.
    pub name: Option<Span>,
    pub labels: Vec<LabelSpans>,
    /// `last_type` when the sample was read.
    pub kind: MetricType,
}

impl<'a> Parser<'a> {
    pub fn new(body: &'a [u8], format: Format) -> Self {
        Parser {
            buf: body,
            pos: 0,
            format,
            done: false,
            last_type: MetricType::Unknown,
            sample: SampleSpans::default(),
        }
    }

    /// The next entry, or `Ok(None)` at the end. An OpenMetrics payload
    /// without its final `# EOF` fails at the end, as in Prometheus. After
    /// an error the parser is exhausted.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        if self.done {
            return Ok(None);
        }
        let r = match self.format {
            Format::Text => self.next_text(),
            Format::OpenMetrics => self.next_openmetrics(),
        };
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r
    }

    /// Appends the labels of the sample [`Parser::next`] just returned,
    /// `__name__` included, sorted by name, escapes resolved. Meant for
    /// cache misses only: it allocates. Fails when a label name repeats.
    pub fn labels(&self, out: &mut Vec<Label>) -> Result<(), ParseError> {
        self.build_labels(out)
    }

    /// The metric name of the sample just returned, without quotes; escapes
    /// in a quoted name are left as written. Cheap, for metadata lookups.
    pub fn metric_name(&self) -> &'a str {
        let b = self.buf;
        self.sample
            .name
            .and_then(|s| std::str::from_utf8(&b[s.start..s.end]).ok())
            .unwrap_or("")
    }

    /// 1-based line number of byte `at`.
    pub(super) fn line_at(&self, at: usize) -> usize {
        let at = at.min(self.buf.len());
        1 + self.buf[..at].iter().filter(|&&c| c == b'\n').count()
    }

    /// An error at byte `at`.
    #[cold]
    pub(super) fn error(&self, at: usize, msg: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line_at(at),
            msg: msg.into(),
        }
    }

    /// "expected X, got Y" for the token at `at`, worded as Prometheus
    /// words it: the token plus the byte after it (just the byte for an
    /// invalid token), then the entry from `entry_start` up to there.
    #[cold]
    pub(super) fn unexpected(
        &self,
        expected: &str,
        at: usize,
        entry_start: usize,
        ctx: Context,
    ) -> ParseError {
        let (len, mut kind) = describe(self.buf, at, ctx);
        let end = match kind {
            // The text format's virtual final newline, which upstream appends.
            "EOF" if self.format == Format::Text => {
                kind = "INVALID";
                at + 1
            }
            "EOF" => at,
            "INVALID" => at + 1,
            _ => at + len + 1,
        };
        self.error(
            at,
            format!(
                "{expected}, got {} ({kind:?}) while parsing: {}",
                self.quoted(at, end),
                self.quoted(entry_start, end)
            ),
        )
    }

    /// A token the lexer gave up on: it began at `start` and broke at
    /// `stop`, which Prometheus includes in what it shows.
    #[cold]
    pub(super) fn invalid(
        &self,
        expected: &str,
        start: usize,
        stop: usize,
        entry_start: usize,
    ) -> ParseError {
        let end = stop + 1;
        self.error(
            stop,
            format!(
                "{expected}, got {} (\"INVALID\") while parsing: {}",
                self.quoted(start, end),
                self.quoted(entry_start, end)
            ),
        )
    }

    /// A value or timestamp token from `start` to `end` that is not a
    /// number, in Prometheus's words (which are Go's).
    #[cold]
    pub(super) fn bad_number(
        &self,
        e: FloatError,
        start: usize,
        end: usize,
        entry_start: usize,
    ) -> ParseError {
        let msg = match e {
            FloatError::Unsupported => format!(
                "{} while parsing: {}",
                e.as_str(),
                self.quoted(entry_start, end)
            ),
            _ => format!(
                "strconv.ParseFloat: parsing {}: {} while parsing: {}",
                self.quoted(start, end),
                e.as_str(),
                self.quoted(entry_start, end)
            ),
        };
        self.error(start, msg)
    }

    /// Quotes the payload from `start` to `end` for a message; past the end
    /// of a text payload is its virtual final newline.
    pub(super) fn quoted(&self, start: usize, end: usize) -> String {
        let n = self.buf.len();
        if end > n && self.format == Format::Text {
            let mut v = self.buf[start.min(n)..].to_vec();
            v.push(b'\n');
            return quote(&v);
        }
        let end = end.min(n);
        quote(&self.buf[start.min(end)..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain(body: &[u8], format: Format) -> Result<usize, ParseError> {
        let mut p = Parser::new(body, format);
        let mut n = 0;
        let mut labels = Vec::new();
        while let Some(e) = p.next()? {
            if let Entry::Sample { .. } = e {
                labels.clear();
                let _ = p.labels(&mut labels);
                let _ = p.metric_name();
                n += 1;
            }
        }
        Ok(n)
    }

    #[test]
    fn exhausted_after_error() {
        let mut p = Parser::new(b"up 1\n!\nup 2\n", Format::Text);
        assert!(matches!(p.next(), Ok(Some(_))));
        assert!(p.next().is_err());
        assert_eq!(p.next(), Ok(None));
    }

    #[test]
    fn line_numbers_count_newlines() {
        let p = Parser::new(b"a\nb\n\nc", Format::Text);
        assert_eq!(p.line_at(0), 1);
        assert_eq!(p.line_at(1), 1);
        assert_eq!(p.line_at(2), 2);
        assert_eq!(p.line_at(5), 4);
        assert_eq!(p.line_at(100), 4);
    }

    /// Pieces that, glued together at random, reach the parsers' corners.
    const PIECES: &[&str] = &[
        "# HELP ",
        "# TYPE ",
        "# UNIT ",
        "# EOF",
        "# ",
        "#",
        "\n",
        " ",
        "\t",
        "{",
        "}",
        ",",
        "=",
        "\"",
        "\\",
        "\\n",
        "\\\"",
        "metric",
        "_total",
        "le",
        "quantile",
        "a",
        "1",
        "1.5e3",
        "-Inf",
        "NaN",
        " # {",
        "\"a.b\"",
        "é",
        "\u{0}",
        "\u{ff}",
        "counter",
        "histogram",
        "summary",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = drain(&body, Format::Text);
            let _ = drain(&body, Format::OpenMetrics);
        }

        #[test]
        fn glued_pieces_never_panic(parts in proptest::collection::vec(0..PIECES.len(), 0..60)) {
            let body: String = parts.iter().map(|&i| PIECES[i]).collect();
            let _ = drain(body.as_bytes(), Format::Text);
            let _ = drain(body.as_bytes(), Format::OpenMetrics);
            let om = format!("{body}\n# EOF\n");
            let _ = drain(om.as_bytes(), Format::OpenMetrics);
        }

        #[test]
        fn mutated_payloads_never_panic(
            at in 0usize..200,
            byte in any::<u8>(),
            cut in 0usize..220,
        ) {
            let good = concat!(
                "# HELP m_total Help \\\\ with \\n escapes.\n",
                "# TYPE m_total counter\n",
                "m_total{a=\"x\",\"b.c\"=\"y\\\"z\"} 1.5 1700000000\n",
                "h_bucket{le=\"1\"} 3\n",
            ).as_bytes();
            let om = concat!(
                "# TYPE h histogram\n",
                "# UNIT h_seconds seconds\n",
                "h_bucket{le=\"1\"} 3 1.5 # {trace=\"ab\"} 0.5 1.25\n",
                "{\"h.x\",a=\"b\"} 1\n",
                "# EOF\n",
            ).as_bytes();
            for src in [good, om] {
                let mut body = src.to_vec();
                let i = at % body.len();
                body[i] = byte;
                body.truncate(cut.min(body.len()));
                let _ = drain(&body, Format::Text);
                let _ = drain(&body, Format::OpenMetrics);
            }
        }
    }
}
