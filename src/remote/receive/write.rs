//! The remote-write receiver's core: decompress a snappy-compressed
//! `WriteRequest`, decode it without copying its strings
//! ([`WriteBatch`]), validate its series and append its samples, with the
//! outcome classified the way Prometheus's `write_handler.go` answers it.

use std::collections::HashSet;

use storage::{Db, METRIC_NAME};

use super::decode::{DecodeError, SeriesView, WriteBatch};
use super::limits::{shorten, LabelLimits};
use super::ref_cache::SeriesRefCache;
use crate::config::NameValidationScheme;
use crate::remote::proto::Sample;

/// Largest body accepted, compressed and again after decompression:
/// 32 MiB. Prometheus's sender caps a request far below this
/// (`max_samples_per_send` defaults to 2000), so only a broken or hostile
/// client reaches it.
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// Most rejection messages kept per request; the rest are only counted.
const MAX_MESSAGES: usize = 10;

/// Why a write request failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("snappy: {0}")]
    Snappy(#[from] snap::Error),
    #[error("decompressed body is {0} bytes, more than the limit of {MAX_BODY_BYTES}")]
    TooLarge(usize),
    #[error("protobuf: {0}")]
    Proto(#[from] DecodeError),
    /// Storage could not take the batch (I/O); the sender should retry.
    #[error("appending: {0}")]
    Storage(storage::Error),
}

impl WriteError {
    /// Whether a sender may retry the same request (5xx) rather than drop
    /// it (4xx).
    pub fn is_retryable(&self) -> bool {
        matches!(self, WriteError::Storage(_))
    }
}

/// What happened to one request's data.
#[derive(Debug, Default)]
pub struct WriteOutcome {
    /// Samples written.
    pub appended: usize,
    /// Samples of series skipped for invalid labels or labels over the
    /// [`LabelLimits`]; the request is still applied but answered 400 (as
    /// Prometheus 3 does for remote write 2.0) so the sender sees why.
    pub invalid: usize,
    /// Samples refused by storage (out of order, duplicate, out of bounds,
    /// too far in the future) or not representable (native histograms).
    pub rejected: usize,
    /// The first rejection messages, `<error> for series <labels>`.
    pub messages: Vec<String>,
}

/// Snappy block decompression, bounded by [`MAX_BODY_BYTES`] before and
/// after.
pub fn decompress(body: &[u8]) -> Result<Vec<u8>, WriteError> {
    let mut out = Vec::new();
    let n = decompress_into(body, &mut out)?.len();
    out.truncate(n);
    Ok(out)
}

/// [`decompress`] into `buf`, a buffer reused across requests (see
/// [`super::BodyPool`]): it only grows, so a reused buffer is neither
/// reallocated nor zeroed again. Returns the decompressed bytes, a prefix
/// of `buf`.
pub fn decompress_into<'b>(body: &[u8], buf: &'b mut Vec<u8>) -> Result<&'b [u8], WriteError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(WriteError::TooLarge(body.len()));
    }
    let len = snap::raw::decompress_len(body)?;
    if len > MAX_BODY_BYTES {
        return Err(WriteError::TooLarge(len));
    }
    crate::remote::snappy::check_expansion(body, len)?;
    if buf.len() < len {
        buf.resize(len, 0);
    }
    let n = snap::raw::Decoder::new().decompress(body, &mut buf[..len])?;
    Ok(&buf[..n])
}

/// Decodes a decompressed `WriteRequest`, looking each series' label bytes
/// up in `refs` (stamping hits with `generation`, from
/// [`SeriesRefCache::begin`]): known series are not decoded again.
pub fn decode<'a>(
    raw: &'a [u8],
    scheme: NameValidationScheme,
    refs: &SeriesRefCache,
    generation: u64,
) -> Result<WriteBatch<'a>, WriteError> {
    Ok(WriteBatch::decode_with(raw, |raws, found| {
        refs.get_many(raws, scheme, generation, found)
    })?)
}

/// Appends every valid sample of `batch` in one storage batch.
///
/// Like Prometheus 3, a rejected sample stops only its own series: the
/// other series are still written and the rejections are reported in the
/// outcome (the HTTP layer answers 400 with them, so senders do not retry).
/// Invalid label sets, and those over `limits`, are skipped, counted and
/// reported the same way. Only a storage failure fails the whole request,
/// with nothing written.
///
/// Series `decode` found in `refs` (sent before with the same label bytes
/// and validated then) go straight to storage by ref; series appended by
/// labels are added to it, stamped with `generation`.
pub fn append(
    db: &Db,
    batch: &WriteBatch<'_>,
    scheme: NameValidationScheme,
    limits: &LabelLimits,
    refs: &SeriesRefCache,
    generation: u64,
) -> Result<WriteOutcome, WriteError> {
    let mut out = WriteOutcome::default();
    let mut app = db.appender();
    let mut by_labels = ByLabels {
        scheme,
        limits,
        refs,
        generation,
        checked: Vec::with_capacity(16),
        reported: HashSet::new(),
    };
    let series: Vec<SeriesView<'_, '_>> = batch.series().collect();
    let mut results = Vec::new();
    let mut rest = &series[..];
    while !rest.is_empty() {
        // A run of known series goes to storage at once (it then locks each
        // of its shards once); runs end at unknown series so that a series
        // sent under two label orders keeps its samples in sent order.
        let run = rest.iter().take_while(|ts| ts.known.is_some()).count();
        let (known, after) = rest.split_at(run);
        let by_ref: Vec<(u64, &[Sample])> = known
            .iter()
            .map(|ts| (ts.known.expect("known run"), ts.samples))
            .collect();
        app.append_refs(&by_ref, |s| (s.timestamp, s.value), &mut results);
        for (ts, result) in known.iter().zip(results.drain(..)) {
            histograms(&mut out, ts);
            match result {
                Ok(()) => out.appended += ts.samples.len(),
                // The series was dropped from the head since: look it up
                // (or create it) by labels as if never seen.
                Err((0, storage::Error::InvalidLabels(_))) => {
                    let raw = ts.raw_labels.expect("known by its label bytes");
                    refs.forget(&refs.key(raw, scheme));
                    // The bytes decoded before they were cached.
                    let labels = ts.decoded_labels().unwrap_or_default();
                    by_labels.append(&mut app, &mut out, ts, &labels)?;
                }
                Err((i, e)) => {
                    out.appended += i;
                    rejected(&mut out, e, ts, i)?;
                }
            }
        }
        if let Some((ts, tail)) = after.split_first() {
            histograms(&mut out, ts);
            by_labels.append(&mut app, &mut out, ts, ts.labels)?;
            rest = tail;
        } else {
            rest = after;
        }
    }
    app.commit().map_err(WriteError::Storage)?;
    Ok(out)
}

/// Counts and reports a series' native histograms (not storable).
fn histograms(out: &mut WriteOutcome, ts: &SeriesView<'_, '_>) {
    if ts.histograms > 0 {
        out.rejected += ts.histograms;
        note(
            out,
            || "native histograms are not supported".to_string(),
            ts,
        );
    }
}

/// The path of series not known by ref: labels validated, appended by
/// labels (creating the series if new), then cached.
struct ByLabels<'c, 'a> {
    scheme: NameValidationScheme,
    limits: &'c LabelLimits,
    refs: &'c SeriesRefCache,
    generation: u64,
    /// One buffer for every series' checked labels: no allocation per
    /// series; storage builds owned labels only for series it has not seen.
    checked: Vec<(&'a str, &'a str)>,
    /// Prometheus's sender repeats a series once per sample in a request:
    /// an invalid one is logged once.
    reported: HashSet<Vec<(&'a str, &'a str)>>,
}

impl<'a> ByLabels<'_, 'a> {
    fn append(
        &mut self,
        app: &mut storage::head::Appender<'_>,
        out: &mut WriteOutcome,
        ts: &SeriesView<'_, 'a>,
        labels: &[(&'a str, &'a str)],
    ) -> Result<(), WriteError> {
        if ts.samples.is_empty() {
            return Ok(());
        }
        // Limits first: a huge label set is refused before it is sorted,
        // copied or formatted in full, and is not remembered below.
        let (invalid, remember) = match self.limits.check(labels) {
            Some(why) => (
                Some(format!(
                    "invalid labels for series {}: {why}",
                    fmt_short(labels)
                )),
                false,
            ),
            None => (
                check_labels(labels, self.scheme, &mut self.checked)
                    .err()
                    .map(|problem| problem.message(labels)),
                true,
            ),
        };
        if let Some(msg) = invalid {
            out.invalid += ts.samples.len();
            // Prometheus's sender repeats a series once per sample: each
            // distinct invalid series is logged and reported once.
            if !remember || self.reported.insert(labels.to_vec()) {
                tracing::warn!(%msg, "remote write: invalid series dropped");
                if out.messages.len() < MAX_MESSAGES {
                    out.messages.push(msg);
                }
            }
            return Ok(());
        }
        let mut series_ref = None;
        for (i, s) in ts.samples.iter().enumerate() {
            let res = match series_ref {
                Some(r) => app.append_ref(r, s.timestamp, s.value),
                None => app
                    .append_pairs(&self.checked, s.timestamp, s.value)
                    .map(|r| {
                        if let Some(raw) = ts.raw_labels {
                            self.refs
                                .insert(&self.refs.key(raw, self.scheme), r, self.generation);
                        }
                        series_ref = Some(r);
                    }),
            };
            match res {
                Ok(()) => out.appended += 1,
                Err(e) => {
                    rejected(out, e, ts, i)?;
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Accounts for a series stopped at its sample `i` by `e`; a storage
/// failure fails the request.
fn rejected(
    out: &mut WriteOutcome,
    e: storage::Error,
    ts: &SeriesView<'_, '_>,
    i: usize,
) -> Result<(), WriteError> {
    let rest = ts.samples.len() - i;
    match e {
        storage::Error::OutOfOrderSample
        | storage::Error::DuplicateSample
        | storage::Error::OutOfBounds
        | storage::Error::TooFarInFuture => {
            out.rejected += rest;
            note(out, || e.to_string(), ts);
        }
        storage::Error::InvalidLabels(why) => {
            out.invalid += rest;
            // A known series' labels were not decoded: decode them here.
            let labels = ts.decoded_labels().unwrap_or_default();
            tracing::warn!(series = %fmt_labels(&labels), %why, "remote write: invalid series dropped");
        }
        e => return Err(WriteError::Storage(e)),
    }
    Ok(())
}

fn note(out: &mut WriteOutcome, msg: impl FnOnce() -> String, ts: &SeriesView<'_, '_>) {
    if out.messages.len() < MAX_MESSAGES {
        let labels = ts.decoded_labels().unwrap_or_default();
        out.messages
            .push(format!("{} for series {}", msg(), fmt_labels(&labels)));
    }
}

/// At most this many labels of an invalid series go into its message.
const SHOWN_LABELS: usize = 8;

/// [`fmt_labels`] bounded for messages about invalid series, which may be
/// huge: the first labels only, names and values shortened.
fn fmt_short(labels: &[(&str, &str)]) -> String {
    let cut: Vec<(String, String)> = labels
        .iter()
        .take(SHOWN_LABELS)
        .map(|&(n, v)| (shorten(n), shorten(v)))
        .collect();
    let pairs: Vec<(&str, &str)> = cut.iter().map(|(n, v)| (&n[..], &v[..])).collect();
    let mut s = fmt_labels(&pairs);
    if labels.len() > SHOWN_LABELS {
        s.insert_str(
            s.len() - 1,
            &format!(", … {} more", labels.len() - SHOWN_LABELS),
        );
    }
    s
}

/// Labels as Prometheus prints them: `{a="x", b="y"}`.
fn fmt_labels(labels: &[(&str, &str)]) -> String {
    let mut s = String::from("{");
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(name);
        s.push('=');
        s.push_str(&format!("{value:?}"));
    }
    s.push('}');
    s
}

/// Validates a sent label set into `out` in storage's form (sorted by
/// name, no empty value): a non-empty `__name__`, names valid under
/// `scheme`, no name twice. Senders send labels sorted, but order is not
/// trusted; empty values mean "no such label", as in Prometheus.
fn check_labels<'a>(
    labels: &[(&'a str, &'a str)],
    scheme: NameValidationScheme,
    out: &mut Vec<(&'a str, &'a str)>,
) -> Result<(), LabelProblem> {
    use LabelProblem::{Duplicate, Invalid};
    out.clear();
    for &(name, value) in labels {
        if !scheme.is_valid_label_name(name) {
            return Err(Invalid(format!("invalid label name {name:?}")));
        }
        if !value.is_empty() {
            out.push((name, value));
        }
    }
    // Senders sort labels: one pass proves sorted and unique; only
    // others pay for sorting and the duplicate search.
    if !out.windows(2).all(|w| w[0].0 < w[1].0) {
        out.sort_by(|a, b| a.0.cmp(b.0));
        if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Duplicate(w[0].0.to_string()));
        }
    }
    let name = match out.binary_search_by(|l| l.0.cmp(METRIC_NAME)) {
        Ok(i) => out[i].1,
        Err(_) => return Err(Invalid("missing metric name".into())),
    };
    if scheme == NameValidationScheme::Legacy && !is_legacy_metric_name(name) {
        return Err(Invalid(format!("invalid metric name {name:?}")));
    }
    Ok(())
}

/// Why [`check_labels`] refused a label set.
#[derive(Debug, PartialEq, thiserror::Error)]
enum LabelProblem {
    /// A name or the metric name is missing or not valid.
    #[error("{0}")]
    Invalid(String),
    /// The name is sent twice.
    #[error("duplicate label name {0:?}")]
    Duplicate(String),
}

impl LabelProblem {
    /// The 400 message, worded as Prometheus 3's remote-write 2.0 handler
    /// words it (1.0 there drops such series silently; the issue asked for
    /// the sender to be told).
    fn message(&self, labels: &[(&str, &str)]) -> String {
        match self {
            LabelProblem::Invalid(_) => {
                format!("invalid metric name or labels, got {}", fmt_short(labels))
            }
            LabelProblem::Duplicate(name) => format!(
                "invalid labels for series, labels {}, duplicated label {name}",
                fmt_short(labels)
            ),
        }
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_legacy_metric_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::proto::{self, Sample, TimeSeries, WriteRequest};
    use prost::Message;

    fn l(n: &str, v: &str) -> proto::Label {
        proto::Label {
            name: n.into(),
            value: v.into(),
        }
    }

    fn ts(labels: Vec<proto::Label>, samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels,
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            ..Default::default()
        }
    }

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), storage::Options::default()).unwrap();
        (dir, db)
    }

    fn check<'a>(
        labels: &[(&'a str, &'a str)],
        scheme: NameValidationScheme,
    ) -> Result<Vec<(&'a str, &'a str)>, String> {
        let mut out = vec![("stale", "content")];
        check_labels(labels, scheme, &mut out)
            .map(|()| out)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn label_validation() {
        let u = NameValidationScheme::Utf8;
        let ok = check(&[("b", "2"), ("__name__", "m"), ("e", "")], u).unwrap();
        assert_eq!(ok, vec![("__name__", "m"), ("b", "2")]);
        assert_eq!(check(&[("a", "1")], u).unwrap_err(), "missing metric name");
        assert_eq!(
            check(&[("__name__", "")], u).unwrap_err(),
            "missing metric name"
        );
        assert_eq!(
            check(&[("__name__", "m"), ("a", "1"), ("a", "2")], u).unwrap_err(),
            "duplicate label name \"a\""
        );
        // Unsorted duplicates are found too.
        assert!(check(&[("a", "1"), ("__name__", "m"), ("a", "2")], u).is_err());
        assert_eq!(
            check(&[("__name__", "m"), ("", "1")], u).unwrap_err(),
            "invalid label name \"\""
        );
        let leg = NameValidationScheme::Legacy;
        assert!(check(&[("__name__", "m"), ("a.b", "1")], u).is_ok());
        assert!(check(&[("__name__", "m"), ("a.b", "1")], leg).is_err());
        assert!(check(&[("__name__", "a:b")], leg).is_ok());
        assert_eq!(
            check(&[("__name__", "a-b")], leg).unwrap_err(),
            "invalid metric name \"a-b\""
        );
    }

    #[test]
    fn decode_errors_are_typed_and_bounded() {
        assert!(matches!(
            decompress(b"\xff\xff\xff"),
            Err(WriteError::Snappy(_))
        ));
        let refs = SeriesRefCache::default();
        let u = NameValidationScheme::Utf8;
        assert!(matches!(
            decode(b"\xff\xff", u, &refs, 1),
            Err(WriteError::Proto(_))
        ));
        // A header claiming 64 MiB is refused before allocating.
        let mut huge = Vec::new();
        let mut buf = [0u8; 10];
        let n = crate::remote::xor::put_uvarint(&mut buf, 64 << 20);
        huge.extend_from_slice(&buf[..n]);
        assert!(matches!(decompress(&huge), Err(WriteError::TooLarge(_))));
        assert!(!WriteError::TooLarge(1).is_retryable());
    }

    #[test]
    fn decompress_into_reuses_a_longer_buffer() {
        let mut buf = vec![0xaa; 100];
        let ptr = buf.as_ptr();
        let body = snap::raw::Encoder::new().compress_vec(b"hello").unwrap();
        assert_eq!(decompress_into(&body, &mut buf).unwrap(), b"hello");
        assert_eq!((buf.as_ptr(), buf.len()), (ptr, 100));
        // Longer than the buffer: it grows and holds only this body.
        let long = b"0123456789".repeat(20);
        let body = snap::raw::Encoder::new().compress_vec(&long).unwrap();
        assert_eq!(decompress_into(&body, &mut buf).unwrap(), &long[..]);
        assert!(matches!(
            decompress_into(b"\x05\xff", &mut buf),
            Err(WriteError::Snappy(_))
        ));
        assert_eq!(decompress(&body).unwrap(), long);
    }

    fn write(db: &Db, req: &WriteRequest) -> WriteOutcome {
        write_cached(
            db,
            &SeriesRefCache::default(),
            req,
            NameValidationScheme::Utf8,
        )
    }

    fn write_cached(
        db: &Db,
        refs: &SeriesRefCache,
        req: &WriteRequest,
        scheme: NameValidationScheme,
    ) -> WriteOutcome {
        let raw = decompress(
            &snap::raw::Encoder::new()
                .compress_vec(&req.encode_to_vec())
                .unwrap(),
        )
        .unwrap();
        let g = refs.begin();
        let limits = LabelLimits::default();
        append(
            db,
            &decode(&raw, scheme, refs, g).unwrap(),
            scheme,
            &limits,
            refs,
            g,
        )
        .unwrap()
    }

    fn read(db: &Db, name: &str) -> Vec<(i64, f64)> {
        use storage::querier::Queryable;
        let q = db.head().querier(0, i64::MAX).unwrap();
        let s = q
            .select(
                &storage::querier::SelectHints::default(),
                &[storage::Matcher::equal("__name__", name)],
            )
            .unwrap()
            .series;
        let mut got = Vec::new();
        s[0].read_into(&mut got);
        got
    }

    #[test]
    fn appends_rest_and_reports_rejections() {
        let (_d, db) = db();
        let name = |n: &str| vec![l("__name__", n)];
        let req = WriteRequest {
            timeseries: vec![
                ts(name("a"), &[(10, 1.0), (20, 2.0)]),
                // Out of order within the series: stops this series only.
                ts(name("b"), &[(20, 1.0), (10, 2.0), (30, 3.0)]),
                ts(vec![l("x", "1")], &[(10, 1.0)]),
                // One sample per entry, as Prometheus sends.
                ts(name("a"), &[(30, 3.0)]),
                ts(vec![l("x", "1")], &[(20, 1.0)]),
            ],
            metadata: vec![],
        };
        let out = write(&db, &req);
        assert_eq!(out.appended, 4);
        assert_eq!(out.rejected, 2);
        assert_eq!(out.invalid, 2);
        // The invalid series is reported once, though sent twice.
        assert_eq!(
            out.messages,
            vec![
                "out of order sample for series {__name__=\"b\"}".to_string(),
                "invalid metric name or labels, got {x=\"1\"}".to_string(),
            ]
        );
        assert_eq!(read(&db, "a"), vec![(10, 1.0), (20, 2.0), (30, 3.0)]);
    }

    #[test]
    fn known_series_in_any_label_order_reach_one_series() {
        let (_d, db) = db();
        let sorted = vec![l("__name__", "m"), l("job", "j"), l("zone", "")];
        let shuffled = vec![l("job", "j"), l("__name__", "m")];
        let refs = SeriesRefCache::default();
        let u = NameValidationScheme::Utf8;
        let first = WriteRequest {
            timeseries: vec![ts(sorted.clone(), &[(10, 1.0)])],
            metadata: vec![],
        };
        assert_eq!(write_cached(&db, &refs, &first, u).appended, 1);
        // Later requests find the series by its labels without creating it
        // again, whatever order and empty labels it is sent with.
        let later = WriteRequest {
            timeseries: vec![
                ts(shuffled, &[(20, 2.0)]),
                ts(sorted, &[(30, 3.0), (40, 4.0)]),
                ts(vec![l("__name__", "m"), l("job", "j")], &[(40, 4.0)]),
            ],
            metadata: vec![],
        };
        let out = write_cached(&db, &refs, &later, u);
        assert_eq!((out.appended, out.rejected), (4, 0), "{:?}", out.messages);
        // Each distinct sent form is cached once, all with the one ref.
        assert_eq!(refs.len(), 3);
        assert_eq!(db.head().num_series(), 1);
        assert_eq!(
            read(&db, "m"),
            vec![(10, 1.0), (20, 2.0), (30, 3.0), (40, 4.0)]
        );
    }

    #[test]
    fn histograms_are_rejected_and_reported() {
        let (_d, db) = db();
        let mut t = ts(vec![l("__name__", "h")], &[(10, 1.0)]);
        t.histograms = vec![proto::Histogram {}; 3];
        let out = write(
            &db,
            &WriteRequest {
                timeseries: vec![t],
                metadata: vec![],
            },
        );
        assert_eq!((out.appended, out.rejected), (1, 3));
        assert_eq!(
            out.messages,
            vec!["native histograms are not supported for series {__name__=\"h\"}".to_string()]
        );
    }

    #[test]
    fn cached_series_report_rejections_as_before() {
        let (_d, db) = db();
        let refs = SeriesRefCache::default();
        let u = NameValidationScheme::Utf8;
        let req = |samples: &[(i64, f64)]| WriteRequest {
            timeseries: vec![ts(vec![l("__name__", "c"), l("job", "j")], samples)],
            metadata: vec![],
        };
        assert_eq!(write_cached(&db, &refs, &req(&[(10, 1.0)]), u).appended, 1);
        assert_eq!(refs.len(), 1);
        // A hit whose first sample is out of order stops the series with
        // the same message as the by-labels path.
        let out = write_cached(&db, &refs, &req(&[(5, 1.0), (20, 2.0)]), u);
        assert_eq!((out.appended, out.rejected), (0, 2));
        assert_eq!(
            out.messages,
            vec!["out of order sample for series {__name__=\"c\", job=\"j\"}".to_string()]
        );
        let out = write_cached(&db, &refs, &req(&[(20, 2.0), (30, 3.0)]), u);
        assert_eq!((out.appended, out.rejected), (2, 0));
        assert_eq!(read(&db, "c"), vec![(10, 1.0), (20, 2.0), (30, 3.0)]);
    }

    #[test]
    fn invalid_series_are_never_cached() {
        let (_d, db) = db();
        let refs = SeriesRefCache::default();
        let req = WriteRequest {
            timeseries: vec![
                ts(vec![l("x", "1")], &[(10, 1.0)]),
                ts(vec![l("__name__", "a.b")], &[(10, 1.0)]),
                ts(
                    vec![l("__name__", "m"), l("a", "1"), l("a", "2")],
                    &[(10, 1.0)],
                ),
            ],
            metadata: vec![],
        };
        let leg = NameValidationScheme::Legacy;
        let out = write_cached(&db, &refs, &req, leg);
        assert_eq!((out.appended, out.invalid), (0, 3));
        assert!(refs.is_empty());
        // Valid under UTF-8, cached for UTF-8 only: a later switch to the
        // legacy scheme validates it again and drops it.
        let utf8 = write_cached(&db, &refs, &req, NameValidationScheme::Utf8);
        assert_eq!((utf8.appended, utf8.invalid), (1, 2));
        assert_eq!(refs.len(), 1);
        let mut later = req.clone();
        later.timeseries[1].samples[0].timestamp = 20;
        let out = write_cached(&db, &refs, &later, leg);
        assert_eq!((out.appended, out.invalid), (0, 3));
        assert_eq!(refs.len(), 1);
    }

    #[test]
    fn series_gone_from_the_head_is_found_again() {
        let (_d, db) = db();
        let refs = SeriesRefCache::default();
        let u = NameValidationScheme::Utf8;
        let req = |t: i64| WriteRequest {
            timeseries: vec![ts(vec![l("__name__", "g")], &[(t, t as f64)])],
            metadata: vec![],
        };
        assert_eq!(write_cached(&db, &refs, &req(10), u).appended, 1);
        // Garbage-collect the series: its cached ref is now unknown.
        db.head().truncate(100).unwrap();
        assert_eq!(db.head().num_series(), 0);
        let out = write_cached(&db, &refs, &req(200), u);
        assert_eq!((out.appended, out.invalid), (1, 0), "{:?}", out.messages);
        assert_eq!(db.head().num_series(), 1);
        assert_eq!(read(&db, "g"), vec![(200, 200.0)]);
        // The entry now holds the new ref: the next request hits it.
        assert_eq!(write_cached(&db, &refs, &req(300), u).appended, 1);
        assert_eq!(read(&db, "g"), vec![(200, 200.0), (300, 300.0)]);
        assert_eq!(refs.len(), 1);
    }
}
