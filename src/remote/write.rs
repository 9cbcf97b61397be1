//! The remote-write receiver's core: decode a snappy-compressed
//! `WriteRequest`, validate its series and append its samples, with the
//! outcome classified the way Prometheus's `write_handler.go` answers it.

use std::collections::HashMap;

use prost::Message;
use storage::{Db, Labels, METRIC_NAME};

use super::proto::{self, WriteRequest};
use crate::config::NameValidationScheme;

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
    Proto(#[from] prost::DecodeError),
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
    /// Samples of series skipped for invalid labels (upstream logs and
    /// drops these without failing the request).
    pub invalid: usize,
    /// Samples refused by storage (out of order, duplicate, out of bounds)
    /// or not representable (native histograms).
    pub rejected: usize,
    /// The first rejection messages, `<error> for series <labels>`.
    pub messages: Vec<String>,
}

/// Snappy block decompression then protobuf decoding, both bounded by
/// [`MAX_BODY_BYTES`].
pub fn decode(body: &[u8]) -> Result<WriteRequest, WriteError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(WriteError::TooLarge(body.len()));
    }
    let len = snap::raw::decompress_len(body)?;
    if len > MAX_BODY_BYTES {
        return Err(WriteError::TooLarge(len));
    }
    let raw = snap::raw::Decoder::new().decompress_vec(body)?;
    Ok(WriteRequest::decode(raw.as_slice())?)
}

/// Appends every valid sample of `req` in one storage batch.
///
/// Like Prometheus 3, a rejected sample stops only its own series: the
/// other series are still written and the rejections are reported in the
/// outcome (the HTTP layer answers 400 with them, so senders do not retry).
/// Invalid label sets are skipped and counted. Only a storage failure fails
/// the whole request, with nothing written.
pub fn append(
    db: &Db,
    req: &WriteRequest,
    scheme: NameValidationScheme,
) -> Result<WriteOutcome, WriteError> {
    let mut out = WriteOutcome::default();
    let mut app = db.appender();
    // Prometheus's sender puts one sample per TimeSeries, so a request
    // repeats each series many times: resolve each label set once. `None`
    // remembers a label set that failed validation.
    let mut refs: HashMap<&[proto::Label], Option<u64>> =
        HashMap::with_capacity(req.timeseries.len().min(4096));
    for ts in &req.timeseries {
        if !ts.histograms.is_empty() {
            out.rejected += ts.histograms.len();
            note(
                &mut out,
                || "native histograms are not supported".to_string(),
                &ts.labels,
            );
        }
        if ts.samples.is_empty() {
            continue;
        }
        let mut target = match refs.get(ts.labels.as_slice()) {
            Some(None) => {
                out.invalid += ts.samples.len();
                continue;
            }
            Some(Some(r)) => Target::Ref(*r),
            None => match to_labels(&ts.labels, scheme) {
                Ok(l) => Target::New(l),
                Err(why) => {
                    tracing::warn!(series = %fmt_labels(&ts.labels), %why, "remote write: invalid series dropped");
                    refs.insert(&ts.labels, None);
                    out.invalid += ts.samples.len();
                    continue;
                }
            },
        };
        for (i, s) in ts.samples.iter().enumerate() {
            let res = match &target {
                Target::Ref(r) => app.append_ref(*r, s.timestamp, s.value).map(|()| None),
                Target::New(l) => app.append(l, s.timestamp, s.value).map(Some),
            };
            match res {
                Ok(new_ref) => {
                    if let Some(r) = new_ref {
                        refs.insert(&ts.labels, Some(r));
                        target = Target::Ref(r);
                    }
                    out.appended += 1;
                }
                Err(
                    e @ (storage::Error::OutOfOrderSample
                    | storage::Error::DuplicateSample
                    | storage::Error::OutOfBounds),
                ) => {
                    out.rejected += ts.samples.len() - i;
                    note(&mut out, || e.to_string(), &ts.labels);
                    break;
                }
                Err(storage::Error::InvalidLabels(why)) => {
                    out.invalid += ts.samples.len() - i;
                    tracing::warn!(series = %fmt_labels(&ts.labels), %why, "remote write: invalid series dropped");
                    break;
                }
                Err(e) => return Err(WriteError::Storage(e)),
            }
        }
    }
    app.commit().map_err(WriteError::Storage)?;
    Ok(out)
}

/// A series of the request: known to storage, or not yet appended.
enum Target {
    Ref(u64),
    New(Labels),
}

fn note(out: &mut WriteOutcome, msg: impl FnOnce() -> String, labels: &[proto::Label]) {
    if out.messages.len() < MAX_MESSAGES {
        out.messages
            .push(format!("{} for series {}", msg(), fmt_labels(labels)));
    }
}

/// Labels as Prometheus prints them: `{a="x", b="y"}`.
fn fmt_labels(labels: &[proto::Label]) -> String {
    let mut s = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&l.name);
        s.push('=');
        s.push_str(&format!("{:?}", l.value));
    }
    s.push('}');
    s
}

/// Validates a sent label set and converts it: a non-empty `__name__`,
/// names valid under `scheme`, no name twice. Senders send labels sorted,
/// but order is not trusted; empty values mean "no such label", as in
/// Prometheus.
pub fn to_labels(labels: &[proto::Label], scheme: NameValidationScheme) -> Result<Labels, String> {
    let mut pairs: Vec<storage::Label> = Vec::with_capacity(labels.len());
    for l in labels {
        if !scheme.is_valid_label_name(&l.name) {
            return Err(format!("invalid label name {:?}", l.name));
        }
        if l.value.is_empty() {
            continue;
        }
        pairs.push(storage::Label::new(l.name.as_str(), l.value.as_str()));
    }
    pairs.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = pairs.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(format!("duplicate label name {:?}", w[0].name));
    }
    let labels = Labels::from_sorted(pairs);
    let name = labels.get(METRIC_NAME);
    if name.is_empty() {
        return Err("missing metric name".into());
    }
    if scheme == NameValidationScheme::Legacy && !is_legacy_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    Ok(labels)
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
    use proto::{Sample, TimeSeries};

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

    #[test]
    fn label_validation() {
        let u = NameValidationScheme::Utf8;
        let ok = to_labels(&[l("b", "2"), l("__name__", "m"), l("e", "")], u).unwrap();
        assert_eq!(ok, Labels::from_pairs([("__name__", "m"), ("b", "2")]));
        assert!(to_labels(&[l("a", "1")], u)
            .unwrap_err()
            .contains("metric name"));
        assert!(
            to_labels(&[l("__name__", "m"), l("a", "1"), l("a", "2")], u)
                .unwrap_err()
                .contains("duplicate")
        );
        assert!(to_labels(&[l("__name__", "m"), l("", "1")], u).is_err());
        let leg = NameValidationScheme::Legacy;
        assert!(to_labels(&[l("__name__", "m"), l("a.b", "1")], u).is_ok());
        assert!(to_labels(&[l("__name__", "m"), l("a.b", "1")], leg).is_err());
        assert!(to_labels(&[l("__name__", "a:b")], leg).is_ok());
        assert!(to_labels(&[l("__name__", "a-b")], leg).is_err());
    }

    #[test]
    fn decode_errors_are_typed_and_bounded() {
        assert!(matches!(
            decode(b"\xff\xff\xff"),
            Err(WriteError::Snappy(_))
        ));
        let junk = snap::raw::Encoder::new().compress_vec(b"\xff\xff").unwrap();
        assert!(matches!(decode(&junk), Err(WriteError::Proto(_))));
        // A header claiming 64 MiB is refused before allocating.
        let mut huge = Vec::new();
        let mut buf = [0u8; 10];
        let n = super::super::xor::put_uvarint(&mut buf, 64 << 20);
        huge.extend_from_slice(&buf[..n]);
        assert!(matches!(decode(&huge), Err(WriteError::TooLarge(_))));
        assert!(!WriteError::TooLarge(1).is_retryable());
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
                // One sample per entry, as Prometheus sends: uses the cache.
                ts(name("a"), &[(30, 3.0)]),
                ts(vec![l("x", "1")], &[(20, 1.0)]),
            ],
            metadata: vec![],
        };
        let out = append(&db, &req, NameValidationScheme::Utf8).unwrap();
        assert_eq!(out.appended, 4);
        assert_eq!(out.rejected, 2);
        assert_eq!(out.invalid, 2);
        assert_eq!(
            out.messages,
            vec!["out of order sample for series {__name__=\"b\"}".to_string()]
        );
        use storage::querier::Queryable;
        let q = db.head().querier(0, 100).unwrap();
        let s = q
            .select(&[storage::Matcher::equal("__name__", "a")])
            .unwrap();
        let mut got = Vec::new();
        s[0].read_into(&mut got);
        assert_eq!(got, vec![(10, 1.0), (20, 2.0), (30, 3.0)]);
    }
}
