//! Scrape payloads: the Prometheus text format (0.0.4, and 1.0.0 with quoted
//! UTF-8 names) and OpenMetrics 1.0, read without copying.
//!
//! [`Parser::next`] walks a response body entry by entry. A sample hands out
//! its series exactly as the payload spells it (`name{labels}`), which the
//! scrape loop uses as a cache key; only on a cache miss does it ask for the
//! parsed, sorted label set with [`Parser::labels`]. Nothing is allocated per
//! sample on the hit path.
//!
//! What is accepted and rejected follows Prometheus's own parsers
//! (`model/textparse/promparse.go` and `openmetricsparse.go`), including
//! their leniencies: the text format allows whitespace between tokens, label
//! sets without commas and a value glued to the series (`up{a="1"}1`);
//! neither format checks that `TYPE`/`HELP` precede their samples or that a
//! counter's samples end in `_total`. Choices worth knowing:
//!
//! - OpenMetrics `_created` samples are returned as ordinary samples, as
//!   Prometheus does unless its created-timestamp feature flag is on.
//! - Exemplars are checked for syntax and then dropped.
//! - `le` labels after a histogram `TYPE` and `quantile` labels after a
//!   summary `TYPE` get the OpenMetrics float spelling (`le="1"` becomes
//!   `le="1.0"`), as in Prometheus 3, so both formats name the same series.
//! - Labels with an empty value are left out of [`Parser::labels`]
//!   (Prometheus treats `l=""` as no label), and a label name repeated with
//!   values is an error there, where Prometheus rejects it at append time.
//! - Every NaN in a payload becomes Prometheus's ordinary NaN, so a scraped
//!   value is never the staleness marker.
//!
//! Deliberate differences from upstream, all on inputs nobody produces: an
//! unquoted bare name inside OpenMetrics braces (`{foo}`) is an error rather
//! than a mangled metric name; a NUL byte at the start of a text-format line
//! is an error rather than a silent end of input; hexadecimal floats in `le`
//! labels are left as written.

mod error;
mod escape;
mod float;
mod labels;
mod lex;
mod openmetrics;
mod parser;
mod text;

#[cfg(test)]
mod conformance;

use std::borrow::Cow;

pub use error::ParseError;
pub use parser::Parser;

/// The `Accept` header the scraper sends: OpenMetrics 1.0 first, then the
/// text formats, exactly as Prometheus 3 words it with its default scrape
/// protocols and UTF-8 names allowed.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// Which grammar a payload is in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format.
    #[default]
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format a response's `Content-Type` announces:
    /// `application/openmetrics-text` (any parameters) is OpenMetrics;
    /// anything else, including an empty or missing header, is read as text.
    pub fn from_content_type(ct: &str) -> Format {
        let media_type = ct.split(';').next().unwrap_or("").trim();
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }
}

/// A metric family's type as declared by a `# TYPE` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// No `TYPE` line, `unknown` (OpenMetrics) or `untyped` (text).
    #[default]
    Unknown,
}

impl MetricType {
    /// The spelling the Prometheus metadata API uses.
    pub fn as_str(&self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// One entry of a payload. Comments, blank lines and `# EOF` are consumed
/// by the parser and never show up here.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry<'a> {
    /// A sample. `series` is `name{labels}` exactly as in the payload, a
    /// stable key for the scrape loop's series cache; `timestamp` is in
    /// milliseconds when the payload gives one (OpenMetrics seconds are
    /// converted, truncating as Prometheus does); `value` is never the
    /// staleness marker.
    Sample {
        series: &'a [u8],
        value: f64,
        timestamp: Option<i64>,
    },
    /// `# TYPE metric kind`. Metric names in metadata are as written: a
    /// quoted name without its quotes, any escapes in it left alone.
    Type { metric: &'a str, kind: MetricType },
    /// `# HELP metric text`, escapes in the text resolved.
    Help { metric: &'a str, help: Cow<'a, str> },
    /// `# UNIT metric unit` (OpenMetrics only; the unit is empty or a
    /// suffix of the name).
    Unit { metric: &'a str, unit: &'a str },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_selects_the_format() {
        for (ct, want) in [
            (
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                Format::OpenMetrics,
            ),
            ("application/openmetrics-text", Format::OpenMetrics),
            (
                "Application/OpenMetrics-Text;version=0.0.1",
                Format::OpenMetrics,
            ),
            ("text/plain; version=0.0.4", Format::Text),
            (
                "text/plain;version=1.0.0;escaping=allow-utf-8",
                Format::Text,
            ),
            ("application/json", Format::Text),
            ("", Format::Text),
        ] {
            assert_eq!(Format::from_content_type(ct), want, "{ct}");
        }
    }

    #[test]
    fn accept_header_prefers_openmetrics_then_text() {
        let parts: Vec<&str> = ACCEPT_HEADER.split(',').collect();
        assert_eq!(parts.len(), 5);
        assert!(parts[0].starts_with("application/openmetrics-text;version=1.0.0"));
        assert!(parts[3].starts_with("text/plain;version=0.0.4"));
        assert_eq!(parts[4], "*/*;q=0.2");
    }

    #[test]
    fn metric_type_spellings() {
        let all = [
            (MetricType::Counter, "counter"),
            (MetricType::Gauge, "gauge"),
            (MetricType::Histogram, "histogram"),
            (MetricType::GaugeHistogram, "gaugehistogram"),
            (MetricType::Summary, "summary"),
            (MetricType::Info, "info"),
            (MetricType::StateSet, "stateset"),
            (MetricType::Unknown, "unknown"),
        ];
        for (t, s) in all {
            assert_eq!(t.as_str(), s);
        }
    }
}
