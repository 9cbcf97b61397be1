//! JSON for API payloads, written by hand into a byte buffer so that the
//! output matches Prometheus byte for byte and large matrices cost no
//! allocation per point.
//!
//! Prometheus writes its responses with two Go encoders that differ in
//! small ways: label sets (`metric`, `/series`) and `string`/`scalar`
//! results go through Go's `encoding/json`; everything else (`[]string`
//! data, error texts, warnings) through jsoniter's standard-library mode.
//! Both escape `<`, `>`, `&`, U+2028 and U+2029; they differ on `\b` and
//! `\f`, see [`Escaper`].
//!
//! Numbers: sample values are JSON strings (`"1e-07"`, `"+Inf"`),
//! timestamps JSON numbers of seconds with three decimals (`1.500`), and
//! other floats JSON numbers as `encoding/json` writes them (`1e-7`).

use std::io::Write as _;

use promql::{go_float, QueryStats, Series, Value};
use storage::{Labels, Workers};

/// Which Go encoder a string goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escaper {
    /// `encoding/json` (Go ≥ 1.22): `\b` and `\f` as short escapes.
    Std,
    /// jsoniter with HTML escaping: `\b` and `\f` as `\u0008`, `\u000c`.
    Jsoniter,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string literal.
pub fn push_string(out: &mut Vec<u8>, s: &str, esc: Escaper) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    push_escaped(out, s, esc);
    out.push(b'"');
}

/// Appends `s` escaped for the inside of a JSON string literal, without
/// the quotes: also what `api::json` applies to the text serde_json leaves
/// unescaped, so both writers escape alike.
pub(super) fn push_escaped(out: &mut Vec<u8>, s: &str, esc: Escaper) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let short: Option<u8> = match b {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'\n' => Some(b'n'),
            b'\r' => Some(b'r'),
            b'\t' => Some(b't'),
            0x08 if esc == Escaper::Std => Some(b'b'),
            0x0c if esc == Escaper::Std => Some(b'f'),
            _ => None,
        };
        let escape_u = b < 0x20 || matches!(b, b'<' | b'>' | b'&');
        // U+2028 and U+2029 are E2 80 A8 / E2 80 A9.
        let separator = b == 0xE2
            && bytes.get(i + 1) == Some(&0x80)
            && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9));
        if short.is_none() && !escape_u && !separator {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if let Some(c) = short {
            out.extend_from_slice(&[b'\\', c]);
            i += 1;
        } else if separator {
            out.extend_from_slice(b"\\u202");
            out.push(if bytes[i + 2] == 0xA8 { b'8' } else { b'9' });
            i += 3;
        } else {
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&[HEX[(b >> 4) as usize], HEX[(b & 0xF) as usize]]);
            i += 1;
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends finite `v` in the form Go's encoders choose: `'e'` (two-digit
/// exponent) below 1e-6 and from 1e21, shortest `'f'` otherwise. Returns
/// whether it took the `'e'` form.
#[inline]
fn write_finite(out: &mut Vec<u8>, v: f64) -> bool {
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        go_float::write_e(out, v);
        true
    } else {
        go_float::write_f(out, v);
        false
    }
}

/// Appends a float as a JSON number the way Go's encoders do: shortest
/// decimal form, exponent form (`1e-7`, `1e+21`) below 1e-6 and from 1e21.
/// Non-finite values, which Go refuses to encode, become `null`.
pub fn push_number(out: &mut Vec<u8>, f: f64) {
    if !f.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    if write_finite(out, f) {
        // encoding/json shortens `e-07` to `e-7` (not `e+21`).
        let n = out.len();
        if out[n - 4..n - 1] == *b"e-0" {
            out.remove(n - 2);
        }
    }
}

/// Appends `v` as a JSON string: `NaN`, `+Inf`, `-Inf`, or what `finite`
/// writes for a finite value.
#[inline]
fn push_quoted_float(out: &mut Vec<u8>, v: f64, finite: impl FnOnce(&mut Vec<u8>, f64)) {
    out.push(b'"');
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        finite(out, v);
    }
    out.push(b'"');
}

/// Appends a sample value the way Prometheus's JSON encoder does: a JSON
/// string, Go's shortest `'f'` form, `'e'` form (two-digit exponent) below
/// 1e-6 and from 1e21, and `NaN`, `+Inf`, `-Inf`.
pub fn push_value(out: &mut Vec<u8>, v: f64) {
    push_quoted_float(out, v, |out, v| {
        write_finite(out, v);
    });
}

/// A float in Go's `strconv.FormatFloat(v, 'f', -1, 64)` form, as a JSON
/// string: no exponent ever, `+Inf`, `-Inf`, `NaN`.
fn push_plain_value(out: &mut Vec<u8>, v: f64) {
    push_quoted_float(out, v, go_float::write_f);
}

/// Appends a millisecond timestamp as Prometheus does: a JSON number of
/// seconds, with exactly three decimals when not whole (`1.500`).
pub fn push_timestamp(out: &mut Vec<u8>, t_ms: i64) {
    let secs = t_ms.div_euclid(1000);
    let frac = t_ms.rem_euclid(1000);
    if frac == 0 {
        let _ = write!(out, "{secs}");
    } else if t_ms < 0 && secs < 0 {
        // Go prints -1.500 for -1500 ms: sign, then |t| split.
        let a = t_ms.unsigned_abs();
        let _ = write!(out, "-{}.{:03}", a / 1000, a % 1000);
    } else {
        let _ = write!(out, "{secs}.{frac:03}");
    }
}

/// Appends a label set as a JSON object, `{}` when empty.
pub fn push_labels(out: &mut Vec<u8>, labels: &Labels) {
    out.push(b'{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_string(out, &l.name, Escaper::Std);
        out.push(b':');
        push_string(out, &l.value, Escaper::Std);
    }
    out.push(b'}');
}

/// A JSON array of strings (label names or values).
pub fn strings(items: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + items.iter().map(|s| s.len() + 3).sum::<usize>());
    out.push(b'[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_string(&mut out, s, Escaper::Jsoniter);
    }
    out.push(b']');
    out
}

/// A JSON array of label sets (the `/series` result).
pub fn label_sets(sets: &[Labels]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + sets.len() * 96);
    out.push(b'[');
    for (i, ls) in sets.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_labels(&mut out, ls);
    }
    out.push(b']');
    out
}

/// Where time went while a query ran, in seconds (Prometheus's
/// `stats.timings`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timings {
    pub eval_total: f64,
    pub result_sort: f64,
    pub query_preparation: f64,
    pub inner_eval: f64,
    pub exec_queue: f64,
    pub exec_total: f64,
}

/// The `stats` object of a query answer. `samples_per_step` of `samples`
/// is written when filled, the step `i` at `start + i * step` ms.
pub struct Stats<'a> {
    pub timings: Timings,
    pub samples: &'a QueryStats,
    pub start: i64,
    pub step: i64,
}

fn push_stats(out: &mut Vec<u8>, s: &Stats<'_>) {
    let t = &s.timings;
    out.extend_from_slice(b"{\"timings\":{");
    for (i, (key, v)) in [
        ("evalTotalTime", t.eval_total),
        ("resultSortTime", t.result_sort),
        ("queryPreparationTime", t.query_preparation),
        ("innerEvalTime", t.inner_eval),
        ("execQueueTime", t.exec_queue),
        ("execTotalTime", t.exec_total),
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(out, "\"{key}\":");
        push_number(out, v);
    }
    out.extend_from_slice(b"},\"samples\":{");
    if !s.samples.samples_per_step.is_empty() {
        out.extend_from_slice(b"\"totalQueryableSamplesPerStep\":[");
        for (i, n) in s.samples.samples_per_step.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'[');
            let t = s.start + i as i64 * s.step;
            push_number(out, t as f64 / 1000.0);
            let _ = write!(out, ",{n}]");
        }
        out.extend_from_slice(b"],");
    }
    let _ = write!(
        out,
        "\"totalQueryableSamples\":{},\"peakSamples\":{}}}}}",
        s.samples.total_samples, s.samples.peak_samples
    );
}

/// Rough size of a value's JSON, to allocate the buffer once.
/// Bytes a matrix series takes, about.
fn series_hint(s: &Series) -> usize {
    label_set_hint(&s.metric) + 24 + s.points.len() * 28
}

/// Bytes a label set takes as a JSON object, about.
fn label_set_hint(m: &Labels) -> usize {
    4 + m
        .iter()
        .map(|l| l.name.len() + l.value.len() + 6)
        .sum::<usize>()
}

fn size_hint(v: &Value) -> usize {
    let metric = label_set_hint;
    match v {
        Value::Scalar { .. } => 48,
        Value::String { s, .. } => 48 + s.len(),
        Value::Vector(samples) => samples.iter().map(|s| metric(&s.metric) + 48).sum(),
        Value::Matrix(series) => series.iter().map(series_hint).sum(),
    }
}

/// Points per thread below which a matrix is written on one thread: a
/// point takes ~100 ns to write, a thread ~30 µs to start.
const PARALLEL_POINTS: usize = 16_384;

/// Appends the series of a matrix, comma-separated, split between the
/// threads of `workers` when they have enough points. Each thread writes
/// its run into a buffer of its own; the buffers are joined in order, so
/// the bytes are those of one thread.
fn push_matrix(out: &mut Vec<u8>, series: &[Series], workers: &Workers) {
    let points: usize = series.iter().map(|s| s.points.len()).sum();
    if workers.threads() > 1 && points >= 2 * PARALLEL_POINTS {
        let min_len = (series.len() * PARALLEL_POINTS / points).max(1);
        let parts = workers.map_ranges(series.len(), min_len, |r| {
            let part = &series[r];
            let mut buf = Vec::with_capacity(part.iter().map(series_hint).sum());
            push_series_list(&mut buf, part);
            buf
        });
        // A helper thread that panicked leaves the whole to this one.
        if let Ok(parts) = parts {
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(p);
            }
            return;
        }
    }
    push_series_list(out, series);
}

/// Appends series as the comma-separated members of a matrix.
fn push_series_list(out: &mut Vec<u8>, series: &[Series]) {
    for (i, s) in series.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"metric\":");
        push_labels(out, &s.metric);
        // Upstream leaves the key out for a series without points.
        if !s.points.is_empty() {
            out.extend_from_slice(b",\"values\":[");
            for (j, &(t, v)) in s.points.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                out.push(b'[');
                push_timestamp(out, t);
                out.push(b',');
                push_value(out, v);
                out.push(b']');
            }
            out.push(b']');
        }
        out.push(b'}');
    }
}

/// The `data` of a query answer:
/// `{"resultType":…,"result":…[,"stats":…]}`. A matrix of many points is
/// written on the query's threads (`workers`), each a run of its series.
pub fn query_data(value: &Value, stats: Option<&Stats<'_>>, workers: &Workers) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + size_hint(value));
    let kind = match value {
        Value::Scalar { .. } => "scalar",
        Value::String { .. } => "string",
        Value::Vector(_) => "vector",
        Value::Matrix(_) => "matrix",
    };
    let _ = write!(out, "{{\"resultType\":\"{kind}\",\"result\":");
    match value {
        Value::Scalar { t, v } => {
            out.push(b'[');
            push_number(&mut out, *t as f64 / 1000.0);
            out.push(b',');
            push_plain_value(&mut out, *v);
            out.push(b']');
        }
        Value::String { t, s } => {
            out.push(b'[');
            push_number(&mut out, *t as f64 / 1000.0);
            out.push(b',');
            push_string(&mut out, s, Escaper::Std);
            out.push(b']');
        }
        Value::Vector(samples) => {
            out.push(b'[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"metric\":");
                push_labels(&mut out, &s.metric);
                out.extend_from_slice(b",\"value\":[");
                push_timestamp(&mut out, s.t);
                out.push(b',');
                push_value(&mut out, s.v);
                out.extend_from_slice(b"]}");
            }
            out.push(b']');
        }
        Value::Matrix(series) => {
            out.push(b'[');
            push_matrix(&mut out, series, workers);
            out.push(b']');
        }
    }
    if let Some(s) = stats {
        out.extend_from_slice(b",\"stats\":");
        push_stats(&mut out, s);
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql::{Sample, Series};

    /// What `write` appends to an empty buffer, as text.
    fn written(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut o = Vec::new();
        write(&mut o);
        String::from_utf8(o).unwrap()
    }

    fn string(s: &str, esc: Escaper) -> String {
        written(|o| push_string(o, s, esc))
    }

    fn number(f: f64) -> String {
        written(|o| push_number(o, f))
    }

    fn v(x: f64) -> String {
        written(|o| push_value(o, x))
    }

    fn ts(t: i64) -> String {
        written(|o| push_timestamp(o, t))
    }

    #[test]
    fn strings_are_escaped_like_go() {
        assert_eq!(string("plain", Escaper::Std), "\"plain\"");
        assert_eq!(
            string("a\"b\\c\nd\re\tf", Escaper::Std),
            r#""a\"b\\c\nd\re\tf""#
        );
        assert_eq!(
            string("<a href='x'>&</a>", Escaper::Std),
            r#""\u003ca href='x'\u003e\u0026\u003c/a\u003e""#
        );
        assert_eq!(
            string("\u{8}\u{c}\u{1}\u{1f}", Escaper::Std),
            r#""\b\f\u0001\u001f""#
        );
        assert_eq!(
            string("\u{8}\u{c}\u{1}", Escaper::Jsoniter),
            r#""\u0008\u000c\u0001""#
        );
        assert_eq!(
            string("x\u{2028}y\u{2029}z\u{7f}é日本", Escaper::Std),
            "\"x\\u2028y\\u2029z\u{7f}é日本\""
        );
        // Other characters starting with E2 80 stay as they are.
        assert_eq!(string("a\u{2026}b", Escaper::Jsoniter), "\"a\u{2026}b\"");
    }

    #[test]
    fn escaped_strings_read_back() {
        for s in ["", "x", "<&>\u{2028}\u{0}\u{8}\"\\/", "ünïcödé \u{1F600}"] {
            for esc in [Escaper::Std, Escaper::Jsoniter] {
                let json = string(s, esc);
                let back: String = serde_json::from_str(&json).unwrap();
                assert_eq!(back, s);
            }
        }
    }

    #[test]
    fn numbers_are_spelled_like_go() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(4.0), "4");
        assert_eq!(number(1_795_635_765.5), "1795635765.5");
        assert_eq!(number(0.000_123), "0.000123");
        assert_eq!(number(1e-6), "0.000001");
        assert_eq!(number(1.5e-7), "1.5e-7");
        assert_eq!(number(1e-10), "1e-10");
        assert_eq!(number(1e21), "1e+21");
        assert_eq!(number(-2.5e22), "-2.5e+22");
        assert_eq!(number(1e20), "100000000000000000000");
        // A tie between two shortest spellings rounds to even, as Go.
        assert_eq!(number(957.0 + 0.175_354_003_906_25), "957.1753540039062");
        assert_eq!(number(1.5e-300), "1.5e-300");
        assert_eq!(number(f64::NAN), "null");
    }

    #[test]
    fn values_are_spelled_like_prometheus() {
        assert_eq!(v(2.0), "\"2\"");
        assert_eq!(v(0.1), "\"0.1\"");
        assert_eq!(v(-0.0), "\"-0\"");
        assert_eq!(v(1e-7), "\"1e-07\"");
        assert_eq!(v(1.5e21), "\"1.5e+21\"");
        assert_eq!(v(1e20), "\"100000000000000000000\"");
        assert_eq!(v(1.234e-300), "\"1.234e-300\"");
        assert_eq!(v(f64::NAN), "\"NaN\"");
        assert_eq!(v(f64::INFINITY), "\"+Inf\"");
        assert_eq!(v(f64::NEG_INFINITY), "\"-Inf\"");
        // Halfway between two shortest spellings: Go rounds to even
        // (Rust's own `{}` would end in 3). Found by tests/e2e/differential.rs.
        assert_eq!(v(957.0 + 0.175_354_003_906_25), "\"957.1753540039062\"");
        assert_eq!(v(1_420_804_989_621_824.0 + 0.25), "\"1420804989621824.2\"");
    }

    #[test]
    fn timestamps_keep_three_decimals() {
        assert_eq!(ts(1_795_635_765_500), "1795635765.500");
        assert_eq!(ts(1_795_635_765_000), "1795635765");
        assert_eq!(ts(4_000), "4");
        assert_eq!(ts(1), "0.001");
        assert_eq!(ts(-1_500), "-1.500");
    }

    fn data(v: &Value) -> String {
        String::from_utf8(query_data(v, None, &Workers::default())).unwrap()
    }

    #[test]
    fn every_result_type() {
        assert_eq!(
            data(&Value::Scalar { t: 4000, v: 2.0 }),
            r#"{"resultType":"scalar","result":[4,"2"]}"#
        );
        // Scalars are not written in exponent form, unlike samples.
        assert_eq!(
            data(&Value::Scalar { t: 1500, v: 1e-7 }),
            r#"{"resultType":"scalar","result":[1.5,"0.0000001"]}"#
        );
        assert_eq!(
            data(&Value::Scalar {
                t: 0,
                v: f64::NEG_INFINITY
            }),
            r#"{"resultType":"scalar","result":[0,"-Inf"]}"#
        );
        assert_eq!(
            data(&Value::String {
                t: 1_000_500,
                s: "a<b".into()
            }),
            r#"{"resultType":"string","result":[1000.5,"a\u003cb"]}"#
        );
        assert_eq!(
            data(&Value::Vector(vec![])),
            r#"{"resultType":"vector","result":[]}"#
        );
        assert_eq!(
            data(&Value::Matrix(vec![])),
            r#"{"resultType":"matrix","result":[]}"#
        );
        let m = Labels::from_pairs([("__name__", "up"), ("job", "a&b")]);
        assert_eq!(
            data(&Value::Vector(vec![
                Sample {
                    metric: m.clone(),
                    t: 1_500,
                    v: 1e-7
                },
                Sample {
                    metric: Labels::default(),
                    t: 2_000,
                    v: f64::NAN
                },
            ])),
            r#"{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\u0026b"},"value":[1.500,"1e-07"]},{"metric":{},"value":[2,"NaN"]}]}"#
        );
        assert_eq!(
            data(&Value::Matrix(vec![
                Series {
                    metric: m,
                    points: vec![(1_000, 1.0), (16_000, 0.5)]
                },
                Series {
                    metric: Labels::default(),
                    points: vec![]
                },
            ])),
            r#"{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a\u0026b"},"values":[[1,"1"],[16,"0.5"]]},{"metric":{}}]}"#
        );
    }

    #[test]
    fn stats_object() {
        let samples = QueryStats {
            total_samples: 12,
            samples_per_step: vec![3, 4, 5],
            peak_samples: 7,
            ..QueryStats::default()
        };
        let stats = Stats {
            timings: Timings {
                eval_total: 0.25,
                result_sort: 0.0,
                query_preparation: 1e-7,
                inner_eval: 0.125,
                exec_queue: 0.5,
                exec_total: 1.0,
            },
            samples: &samples,
            start: 1_500,
            step: 1_000,
        };
        let out = String::from_utf8(query_data(
            &Value::Matrix(vec![]),
            Some(&stats),
            &Workers::default(),
        ))
        .unwrap();
        assert_eq!(
            out,
            concat!(
                r#"{"resultType":"matrix","result":[],"stats":{"timings":{"evalTotalTime":0.25,"#,
                r#""resultSortTime":0,"queryPreparationTime":1e-7,"innerEvalTime":0.125,"#,
                r#""execQueueTime":0.5,"execTotalTime":1},"samples":{"totalQueryableSamplesPerStep":"#,
                r#"[[1.5,3],[2.5,4],[3.5,5]],"totalQueryableSamples":12,"peakSamples":7}}}"#
            )
        );
        let plain = QueryStats::default();
        let stats = Stats {
            samples: &plain,
            ..stats
        };
        let out = String::from_utf8(query_data(
            &Value::Vector(vec![]),
            Some(&stats),
            &Workers::default(),
        ))
        .unwrap();
        assert!(
            out.ends_with(r#""samples":{"totalQueryableSamples":0,"peakSamples":0}}}"#),
            "{out}"
        );
    }

    #[test]
    fn a_matrix_written_on_threads_is_the_same_bytes() {
        let series: Vec<Series> = (0..300)
            .map(|i| Series {
                metric: Labels::from_pairs([("job", "a"), ("i", &*i.to_string())]),
                // Some series without points, which have no "values" key.
                points: (0..if i % 7 == 3 { 0 } else { 200 })
                    .map(|k| (k * 15_000 + i, (k as f64).sqrt() * i as f64))
                    .collect(),
            })
            .collect();
        let m = Value::Matrix(series);
        let one = query_data(&m, None, &Workers::default());
        for threads in [2, 3, 8] {
            assert_eq!(
                query_data(&m, None, &Workers::new(threads)),
                one,
                "{threads}"
            );
        }
        serde_json::from_slice::<serde_json::Value>(&one).unwrap();
    }

    #[test]
    fn lists() {
        assert_eq!(
            String::from_utf8(strings(&["a".into(), "<b>".into()])).unwrap(),
            r#"["a","\u003cb\u003e"]"#
        );
        assert_eq!(String::from_utf8(strings(&[])).unwrap(), "[]");
        assert_eq!(
            String::from_utf8(label_sets(&[
                Labels::from_pairs([("__name__", "up"), ("a", "1")]),
                Labels::default()
            ]))
            .unwrap(),
            r#"[{"__name__":"up","a":"1"},{}]"#
        );
    }
}
