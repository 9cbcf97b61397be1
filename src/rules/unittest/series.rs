//! Input series of rule unit tests: `series` is a series description
//! (`metric{l="v"}`), `values` the expanding notation PromQL test scripts
//! use. The items, separated by spaces:
//!
//! | item | values |
//! |---|---|
//! | `a` | `a` (a number, `Inf`, `NaN`, with `_` digit separators) |
//! | `a+bxn`, `a-bxn` | n+1 values: `a`, `a±b`, … `a±n·b` |
//! | `axn` | `a`, n+1 times |
//! | `_` | one missing sample |
//! | `_xn` | n missing samples |
//! | `stale` | a staleness marker (`stalexn` is one unknown word, an error) |
//!
//! Hexadecimal is not read: `0x5` is `0` six times, as upstream's series
//! lexer reads it. Native-histogram values (`{{…}}`) are not supported yet.

use promql::{Label, Labels, MatchOp};

/// One sample of an input series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SampleValue {
    Float(f64),
    /// A staleness marker.
    Stale,
}

/// The samples of a series at successive intervals; `None` where the
/// notation leaves a sample out (`_`).
pub type SeriesValues = Vec<Option<SampleValue>>;

/// A malformed `series` or `values`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SeriesError {
    #[error("invalid series {series:?}: {message}")]
    Labels { series: String, message: String },
    #[error("invalid series values {item:?}: {message}")]
    Values { item: String, message: String },
    #[error("native histogram series values are not supported: {0:?}")]
    Histogram(String),
}

/// More values than this from one item is taken for a typo (a test
/// interval of 1s over a year is 31.5M samples).
const MAX_REPEAT: u64 = 100_000_000;

/// Parses one input series: its labels and its expanded values.
pub fn parse_input_series(
    series: &str,
    values: &str,
) -> Result<(Labels, SeriesValues), SeriesError> {
    Ok((parse_series_labels(series)?, parse_values(values)?))
}

/// Parses a series description such as `up{job="a"}` (PromQL selector
/// syntax, `=` matchers only) into its label set.
pub fn parse_series_labels(series: &str) -> Result<Labels, SeriesError> {
    let err = |message: String| SeriesError::Labels {
        series: series.to_string(),
        message,
    };
    let matchers = promql::parse_metric_selector(series.trim()).map_err(|e| err(e.to_string()))?;
    let mut labels = Vec::with_capacity(matchers.len());
    for m in matchers {
        if m.op != MatchOp::Equal {
            return Err(err(format!("label {:?} must be matched with '='", m.name)));
        }
        labels.push(Label::new(m.name, m.value));
    }
    Ok(Labels::new(labels))
}

/// Expands the values notation.
pub fn parse_values(text: &str) -> Result<SeriesValues, SeriesError> {
    if text.contains("{{") {
        return Err(SeriesError::Histogram(text.to_string()));
    }
    let mut out = Vec::new();
    for item in text.split_whitespace() {
        expand_item(item, &mut out).map_err(|message| SeriesError::Values {
            item: item.to_string(),
            message,
        })?;
    }
    Ok(out)
}

/// Appends the values of one space-free item.
fn expand_item(item: &str, out: &mut SeriesValues) -> Result<(), String> {
    let mut cur = Cursor(item);
    if cur.eat('_') {
        let n = if cur.eat('x') { cur.repeat()? } else { 1 };
        cur.end()?;
        out.extend((0..n).map(|_| None));
        return Ok(());
    }
    let start = cur.value()?;
    let step = match cur.peek() {
        Some(sign @ ('+' | '-')) => {
            cur.0 = &cur.0[1..];
            let b = cur.number()?;
            Some(if sign == '-' { -b } else { b })
        }
        _ => None,
    };
    let n = if cur.eat('x') {
        cur.repeat()?
    } else if step.is_some() {
        return Err("expected 'x' and a count after the increment".into());
    } else {
        0
    };
    cur.end()?;
    // `axn` and `a+bxn` give n+1 values: the first is the start.
    out.reserve(n as usize + 1);
    match start {
        SampleValue::Stale => out.extend((0..=n).map(|_| Some(SampleValue::Stale))),
        SampleValue::Float(a) => {
            let b = step.unwrap_or(0.0);
            // Accumulated, not multiplied, so the values match upstream's
            // float rounding exactly.
            let mut v = a;
            for _ in 0..=n {
                out.push(Some(SampleValue::Float(v)));
                v += b;
            }
        }
    }
    Ok(())
}

/// The unread rest of an item.
struct Cursor<'a>(&'a str);

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.0.chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        match self.0.strip_prefix(c) {
            Some(rest) => {
                self.0 = rest;
                true
            }
            None => false,
        }
    }

    fn end(&self) -> Result<(), String> {
        match self.0 {
            "" => Ok(()),
            rest => Err(format!("unexpected {rest:?}")),
        }
    }

    /// A start value: `stale`, or a number with an optional sign.
    fn value(&mut self) -> Result<SampleValue, String> {
        let negative = match self.peek() {
            Some('-') => true,
            Some('+') => false,
            _ => {
                if self.peek().is_some_and(|c| c.is_ascii_alphabetic()) && self.word() == "stale" {
                    self.0 = &self.0["stale".len()..];
                    return Ok(SampleValue::Stale);
                }
                return self.number().map(SampleValue::Float);
            }
        };
        self.0 = &self.0[1..];
        let n = self.number()?;
        Ok(SampleValue::Float(if negative { -n } else { n }))
    }

    /// The identifier at the cursor (letters, digits, `_`, `:`), which the
    /// lexer reads whole: `stalex2` is one unknown word, not `stale x2`.
    fn word(&self) -> &str {
        let end = self
            .0
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(self.0.len());
        &self.0[..end]
    }

    /// An unsigned number: decimal with optional fraction and exponent and
    /// `_` separators, or `Inf` / `NaN` in any case.
    fn number(&mut self) -> Result<f64, String> {
        if self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            let word = self.word();
            let v = match word.to_ascii_lowercase().as_str() {
                "inf" => f64::INFINITY,
                "nan" => f64::NAN,
                _ => {
                    return Err(format!(
                        "unexpected {word:?}, expected a number or \"stale\""
                    ))
                }
            };
            self.0 = &self.0[word.len()..];
            return Ok(v);
        }
        let bytes = self.0.as_bytes();
        let mut end = 0;
        while end < bytes.len() {
            match bytes[end] {
                b'0'..=b'9' | b'.' | b'_' => end += 1,
                b'e' | b'E' => {
                    end += 1;
                    if matches!(bytes.get(end), Some(b'+' | b'-')) {
                        end += 1;
                    }
                }
                _ => break,
            }
        }
        let token = &self.0[..end];
        // A number runs up to a non-word character or the `x` of a count.
        if bytes
            .get(end)
            .is_some_and(|&b| b != b'x' && (b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(format!("bad number syntax in {:?}", self.0));
        }
        let v = parse_decimal(token).ok_or_else(|| format!("bad number syntax: {token:?}"))?;
        self.0 = &self.0[end..];
        Ok(v)
    }

    /// The count after `x`: decimal digits.
    fn repeat(&mut self) -> Result<u64, String> {
        let end = self
            .0
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.0.len());
        let n: u64 = self.0[..end]
            .parse()
            .map_err(|_| format!("invalid repetition in series values: {:?}", self.0))?;
        if n > MAX_REPEAT {
            return Err(format!("repetition {n} larger than {MAX_REPEAT}"));
        }
        self.0 = &self.0[end..];
        Ok(n)
    }
}

/// A decimal literal; `_` only between digits.
fn parse_decimal(token: &str) -> Option<f64> {
    if token.is_empty() || token.starts_with('_') || token.ends_with('_') || token.contains("__") {
        return None;
    }
    let bytes = token.as_bytes();
    let separators_ok = bytes
        .windows(3)
        .all(|w| w[1] != b'_' || (w[0].is_ascii_digit() && w[2].is_ascii_digit()));
    if !separators_ok {
        return None;
    }
    token.replace('_', "").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(text: &str) -> Vec<Option<f64>> {
        parse_values(text)
            .unwrap()
            .into_iter()
            .map(|v| match v {
                None => None,
                Some(SampleValue::Float(f)) => Some(f),
                Some(SampleValue::Stale) => Some(-12345.0),
            })
            .collect()
    }

    #[test]
    fn every_form_expands() {
        let f = |v: f64| Some(v);
        assert_eq!(floats("1 2 3"), [f(1.0), f(2.0), f(3.0)]);
        assert_eq!(floats("0+10x3"), [f(0.0), f(10.0), f(20.0), f(30.0)]);
        assert_eq!(floats("1-2x2"), [f(1.0), f(-1.0), f(-3.0)]);
        assert_eq!(floats("-1+1x1"), [f(-1.0), f(0.0)]);
        assert_eq!(floats("+5"), [f(5.0)]);
        assert_eq!(floats("5x2"), [f(5.0), f(5.0), f(5.0)]);
        assert_eq!(floats("_ _x2 1"), [None, None, None, f(1.0)]);
        assert_eq!(floats("_x0"), []);
        assert_eq!(
            floats("1.5e3 .5 1_000 2."),
            [f(1500.0), f(0.5), f(1000.0), f(2.0)]
        );
        assert_eq!(floats("1e-1+1e1x1"), [f(0.1), f(10.1)]);
        assert_eq!(floats("  1\t 2 "), [f(1.0), f(2.0)]);
        assert_eq!(floats(""), []);
        // Hexadecimal is not read: `0x5` is zero, six times.
        assert_eq!(floats("0x5"), vec![f(0.0); 6]);
        assert_eq!(
            floats("0.5+0.1x2"),
            [f(0.5), f(0.5 + 0.1), f(0.5 + 0.1 + 0.1)]
        );
    }

    #[test]
    fn special_values() {
        let v = parse_values("stale Inf -Inf +inf NaN").unwrap();
        assert_eq!(v[0], Some(SampleValue::Stale));
        assert_eq!(v[1], Some(SampleValue::Float(f64::INFINITY)));
        assert_eq!(v[2], Some(SampleValue::Float(f64::NEG_INFINITY)));
        assert_eq!(v[3], Some(SampleValue::Float(f64::INFINITY)));
        assert!(matches!(v[4], Some(SampleValue::Float(n)) if n.is_nan()));
        assert_eq!(
            parse_values("stale+1x2").unwrap(),
            vec![Some(SampleValue::Stale); 3]
        );
    }

    #[test]
    fn malformed_items_are_errors() {
        for bad in [
            "a", "1+2", "1x", "x3", "1xx3", "1x3.5", "_x", "_y", "1..2", "1e", "1_", "_1", "1__0",
            "1ee3", "stalex2", "Infx2", "1+", "1+x2", "--1", "1,2", "1x-3", "12abc", "stale1",
        ] {
            assert!(
                matches!(parse_values(bad), Err(SeriesError::Values { .. })),
                "{bad}: {:?}",
                parse_values(bad)
            );
        }
        assert!(matches!(
            parse_values("{{sum:3 count:2 buckets:[2]}}x2"),
            Err(SeriesError::Histogram(_))
        ));
        assert!(parse_values("1x1000000000").is_err());
    }

    #[test]
    fn series_labels() {
        let l = parse_series_labels(r#"up{job="a", instance="b:1"}"#).unwrap();
        assert_eq!(
            l,
            Labels::from_pairs([("__name__", "up"), ("instance", "b:1"), ("job", "a")])
        );
        assert_eq!(
            parse_series_labels("test").unwrap(),
            Labels::from_pairs([("__name__", "test")])
        );
        for bad in [r#"up{job="a""#, r#"up{job=~"a"}"#, "", "1up"] {
            assert!(
                matches!(parse_series_labels(bad), Err(SeriesError::Labels { .. })),
                "{bad}"
            );
        }
        let (labels, values) = parse_input_series("a", "1 _").unwrap();
        assert_eq!(labels.get("__name__"), "a");
        assert_eq!(values, [Some(SampleValue::Float(1.0)), None]);
    }
}
