//! A borrowing decoder for remote-write 1.0 `WriteRequest` bodies.
//!
//! prost allocates a `String` per label name and value and a `Vec` per
//! series; at the shape Prometheus's sender posts (2000 series × 1 sample
//! per request) those allocations, not the append, bounded the receiver.
//! This decoder walks the wire bytes once and keeps label names and values
//! as `&str` into the request body, with every series' labels and samples in
//! two flat vectors shared by the whole request.
//!
//! It accepts and rejects what decoding into the prost structs of
//! [`crate::remote::proto`] does: wire types are checked per known field, strings
//! must be UTF-8, unknown fields are skipped, exemplars and native
//! histograms are checked for well-formedness and then dropped (only the
//! number of histograms is kept, to be reported as rejected).

use std::ops::Range;

use prost::Message;

use crate::remote::proto::{MetricMetadata, Sample};

/// Nesting depth of groups inside unknown fields at which decoding gives
/// up, as prost's recursion limit does.
const MAX_GROUP_DEPTH: u32 = 100;

/// Why a body is not a well-formed `WriteRequest`.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("failed to decode Protobuf message: {field}: {problem}")]
    Wire {
        /// The message or field being read, e.g. `Label.name`.
        field: &'static str,
        problem: &'static str,
    },
    #[error(transparent)]
    Metadata(#[from] prost::DecodeError),
}

/// One series of a decoded request, borrowing from it.
#[derive(Debug, Clone, Copy)]
pub struct SeriesView<'r, 'a> {
    /// As sent: not yet checked for order, duplicates or empty values.
    /// Empty when `known` is set: the labels were not decoded.
    pub labels: &'r [(&'a str, &'a str)],
    pub samples: &'r [Sample],
    /// Native histogram samples sent for the series (not storable).
    pub histograms: usize,
    /// The wire bytes of all the series' `Label` fields when they are sent
    /// together (as every known sender does), before any other field:
    /// equal bytes mean equal labels in the same order.
    pub raw_labels: Option<&'a [u8]>,
    /// What the caller's lookup of `raw_labels` returned; its labels were
    /// then skipped, not decoded (see [`WriteBatch::decode_with`]).
    pub known: Option<u64>,
}

impl<'a> SeriesView<'_, 'a> {
    /// The series' labels, decoding them from `raw_labels` when they were
    /// skipped; for the rare paths (error messages, a stale lookup).
    pub fn decoded_labels(&self) -> Result<Vec<(&'a str, &'a str)>, DecodeError> {
        match (self.known, self.raw_labels) {
            (Some(_), Some(raw)) => {
                let mut out = Vec::new();
                label_run(raw, &mut out)?;
                Ok(out)
            }
            _ => Ok(self.labels.to_vec()),
        }
    }
}

struct Entry<'a> {
    labels: Range<usize>,
    samples: Range<usize>,
    histograms: usize,
    raw_labels: Option<&'a [u8]>,
    known: Option<u64>,
}

/// A decoded `WriteRequest` whose strings point into the decompressed body.
#[derive(Default)]
pub struct WriteBatch<'a> {
    labels: Vec<(&'a str, &'a str)>,
    samples: Vec<Sample>,
    series: Vec<Entry<'a>>,
    /// Metric metadata sent along (rare and small, so decoded with prost).
    pub metadata: Vec<MetricMetadata>,
}

impl<'a> WriteBatch<'a> {
    /// Decodes an uncompressed `WriteRequest`.
    pub fn decode(buf: &'a [u8]) -> Result<Self, DecodeError> {
        Self::decode_with(buf, |_, _| {})
    }

    /// [`decode`](Self::decode), asking `known` about the series' raw
    /// label bytes (one call for the whole request, one entry per series,
    /// `None` where a series has no [`SeriesView::raw_labels`]); it fills
    /// one answer per entry. Where it answers `Some`, the series' labels
    /// are only delimited, not decoded or checked for UTF-8, and the answer
    /// is kept in [`SeriesView::known`]. The caller vouches that bytes it
    /// knows decoded correctly before (the remote-write receiver's ref
    /// cache only holds label bytes it validated and appended).
    pub fn decode_with(
        buf: &'a [u8],
        known: impl FnOnce(&[Option<&'a [u8]>], &mut Vec<Option<u64>>),
    ) -> Result<Self, DecodeError> {
        let mut batch = WriteBatch {
            // A typical series entry is 80–150 bytes with 5–10 labels and
            // one sample: reserve so that growth is rare, not exact.
            labels: Vec::with_capacity(buf.len() / 16),
            samples: Vec::with_capacity(buf.len() / 64),
            series: Vec::with_capacity(buf.len() / 64),
            metadata: Vec::new(),
        };
        let mut r = Reader::new(buf, "WriteRequest");
        while let Some((tag, wire)) = r.key()? {
            match tag {
                1 => {
                    let msg = r.message(wire, "WriteRequest.timeseries")?;
                    batch.time_series(msg)?;
                }
                3 => {
                    let msg = r.message(wire, "WriteRequest.metadata")?;
                    batch.metadata.push(MetricMetadata::decode(msg)?);
                }
                _ => r.skip(tag, wire)?,
            }
        }
        // Look the label runs up all at once (the cache can then take each
        // of its locks once), and decode only those it does not know.
        let raws: Vec<Option<&'a [u8]>> = batch.series.iter().map(|e| e.raw_labels).collect();
        let mut found = Vec::with_capacity(raws.len());
        known(&raws, &mut found);
        found.resize(raws.len(), None);
        for (e, found) in batch.series.iter_mut().zip(found) {
            let Some(raw) = e.raw_labels else { continue };
            match found {
                Some(v) => e.known = Some(v),
                None => {
                    let start = batch.labels.len();
                    label_run(raw, &mut batch.labels)?;
                    e.labels = start..batch.labels.len();
                }
            }
        }
        Ok(batch)
    }

    /// Number of `TimeSeries` entries.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The series in the order they were sent.
    pub fn series(&self) -> impl Iterator<Item = SeriesView<'_, 'a>> + '_ {
        self.series.iter().map(|e| SeriesView {
            labels: &self.labels[e.labels.clone()],
            samples: &self.samples[e.samples.clone()],
            histograms: e.histograms,
            raw_labels: e.raw_labels,
            known: e.known,
        })
    }

    fn time_series(&mut self, buf: &'a [u8]) -> Result<(), DecodeError> {
        let (labels_start, samples_start) = (self.labels.len(), self.samples.len());
        let mut histograms = 0;
        let mut r = Reader::new(buf, "TimeSeries");
        // The leading run of `Label` fields, only delimited here: decoded
        // in `decode_with` unless known.
        while r.buf.get(r.pos) == Some(&LABEL_KEY) {
            r.pos += 1;
            r.message(LEN, "TimeSeries.labels")?;
        }
        let mut raw_labels = (r.pos > 0).then(|| &buf[..r.pos]);
        while let Some((tag, wire)) = r.key()? {
            match tag {
                1 => {
                    let msg = r.message(wire, "TimeSeries.labels")?;
                    if let Some(raw) = raw_labels.take() {
                        // Labels after other fields: the leading run is not
                        // the whole label set, so it identifies nothing.
                        label_run(raw, &mut self.labels)?;
                    }
                    self.labels.push(label(msg)?);
                }
                2 => {
                    let msg = r.message(wire, "TimeSeries.samples")?;
                    self.samples.push(sample(msg)?);
                }
                3 => exemplar(r.message(wire, "TimeSeries.exemplars")?)?,
                4 => {
                    let msg = r.message(wire, "TimeSeries.histograms")?;
                    // Only counted; its fields must still be well-formed.
                    let mut h = Reader::new(msg, "Histogram");
                    while let Some((tag, wire)) = h.key()? {
                        h.skip(tag, wire)?;
                    }
                    histograms += 1;
                }
                _ => r.skip(tag, wire)?,
            }
        }
        self.series.push(Entry {
            labels: labels_start..self.labels.len(),
            samples: samples_start..self.samples.len(),
            histograms,
            raw_labels,
            known: None,
        });
        Ok(())
    }
}

/// The key byte of `TimeSeries.labels` (field 1, length-delimited).
const LABEL_KEY: u8 = (1 << 3) | LEN;

/// Decodes a run of `TimeSeries.labels` fields (as delimited by
/// `time_series`) into `out`.
fn label_run<'a>(raw: &'a [u8], out: &mut Vec<(&'a str, &'a str)>) -> Result<(), DecodeError> {
    let mut r = Reader::new(raw, "TimeSeries");
    while let Some((_, wire)) = r.key()? {
        out.push(label(r.message(wire, "TimeSeries.labels")?)?);
    }
    Ok(())
}

fn label(buf: &[u8]) -> Result<(&str, &str), DecodeError> {
    let (mut name, mut value) = ("", "");
    let mut r = Reader::new(buf, "Label");
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => name = r.string(wire, "Label.name")?,
            2 => value = r.string(wire, "Label.value")?,
            _ => r.skip(tag, wire)?,
        }
    }
    Ok((name, value))
}

fn sample(buf: &[u8]) -> Result<Sample, DecodeError> {
    let mut s = Sample {
        value: 0.0,
        timestamp: 0,
    };
    let mut r = Reader::new(buf, "Sample");
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => s.value = r.double(wire, "Sample.value")?,
            2 => s.timestamp = r.int64(wire, "Sample.timestamp")?,
            _ => r.skip(tag, wire)?,
        }
    }
    Ok(s)
}

/// Checks an exemplar's encoding; exemplars are not stored.
fn exemplar(buf: &[u8]) -> Result<(), DecodeError> {
    let mut r = Reader::new(buf, "Exemplar");
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => {
                label(r.message(wire, "Exemplar.labels")?)?;
            }
            2 => {
                r.double(wire, "Exemplar.value")?;
            }
            3 => {
                r.int64(wire, "Exemplar.timestamp")?;
            }
            _ => r.skip(tag, wire)?,
        }
    }
    Ok(())
}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// A cursor over one message's bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The message being read, for errors.
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    fn err(field: &'static str, problem: &'static str) -> DecodeError {
        DecodeError::Wire { field, problem }
    }

    /// The next field's tag and wire type, or `None` at the end.
    #[inline(always)]
    fn key(&mut self) -> Result<Option<(u32, u8)>, DecodeError> {
        let Some(&b) = self.buf.get(self.pos) else {
            return Ok(None);
        };
        // Fields 1–15 with a valid wire type: one byte, the common case.
        if b < 0x80 && b & 7 <= FIXED32 && b >= 8 {
            self.pos += 1;
            return Ok(Some(((b >> 3) as u32, b & 7)));
        }
        self.key_slow()
    }

    #[cold]
    fn key_slow(&mut self) -> Result<Option<(u32, u8)>, DecodeError> {
        let key = self.varint(self.what)?;
        if key > u64::from(u32::MAX) {
            return Err(Self::err(self.what, "invalid key value"));
        }
        let wire = (key & 7) as u8;
        if wire > FIXED32 {
            return Err(Self::err(self.what, "invalid wire type value"));
        }
        let tag = (key >> 3) as u32;
        if tag == 0 {
            return Err(Self::err(self.what, "invalid tag value: 0"));
        }
        Ok(Some((tag, wire)))
    }

    /// A base-128 varint of at most 10 bytes that fits in 64 bits.
    #[inline(always)]
    fn varint(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        // Lengths of labels and small messages: one byte.
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.varint_slow(field)
    }

    fn varint_slow(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(Self::err(field, "invalid varint"));
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(Self::err(field, "invalid varint"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Self::err(field, "invalid varint"))
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() - self.pos {
            return Err(Self::err(field, "buffer underflow"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn expect(wire: u8, want: u8, field: &'static str) -> Result<(), DecodeError> {
        if wire == want {
            Ok(())
        } else {
            Err(Self::err(field, "invalid wire type"))
        }
    }

    /// A length-delimited field's bytes.
    #[inline]
    fn message(&mut self, wire: u8, field: &'static str) -> Result<&'a [u8], DecodeError> {
        Self::expect(wire, LEN, field)?;
        let len = self.varint(field)?;
        let len = usize::try_from(len).map_err(|_| Self::err(field, "buffer underflow"))?;
        self.take(len, field)
    }

    #[inline]
    fn string(&mut self, wire: u8, field: &'static str) -> Result<&'a str, DecodeError> {
        let bytes = self.message(wire, field)?;
        std::str::from_utf8(bytes)
            .map_err(|_| Self::err(field, "invalid string value: data is not UTF-8 encoded"))
    }

    #[inline]
    fn double(&mut self, wire: u8, field: &'static str) -> Result<f64, DecodeError> {
        Self::expect(wire, FIXED64, field)?;
        let b = self.take(8, field)?;
        Ok(f64::from_le_bytes(b.try_into().expect("8 bytes taken")))
    }

    #[inline]
    fn int64(&mut self, wire: u8, field: &'static str) -> Result<i64, DecodeError> {
        Self::expect(wire, VARINT, field)?;
        // Two's complement in 64 bits, as protobuf encodes negative int64.
        Ok(self.varint(field)? as i64)
    }

    /// Skips an unknown field.
    fn skip(&mut self, tag: u32, wire: u8) -> Result<(), DecodeError> {
        self.skip_nested(tag, wire, 0)
    }

    fn skip_nested(&mut self, tag: u32, wire: u8, depth: u32) -> Result<(), DecodeError> {
        let what = self.what;
        match wire {
            VARINT => {
                self.varint(what)?;
            }
            FIXED64 => {
                self.take(8, what)?;
            }
            LEN => {
                self.message(wire, what)?;
            }
            FIXED32 => {
                self.take(4, what)?;
            }
            START_GROUP => {
                if depth >= MAX_GROUP_DEPTH {
                    return Err(Self::err(what, "recursion limit reached"));
                }
                loop {
                    let Some((t, w)) = self.key()? else {
                        return Err(Self::err(what, "unexpected end of group"));
                    };
                    if w == END_GROUP {
                        if t != tag {
                            return Err(Self::err(what, "unexpected end group tag"));
                        }
                        break;
                    }
                    self.skip_nested(t, w, depth + 1)?;
                }
            }
            _ => return Err(Self::err(what, "unexpected end group tag")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::proto::{self, Exemplar, Histogram, Label, TimeSeries, WriteRequest};
    use proptest::prelude::*;

    fn l(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    /// Samples as bits, so that NaNs compare equal.
    type Flat = Vec<(Vec<Label>, Vec<(u64, i64)>, usize)>;

    fn bits(s: &[Sample]) -> Vec<(u64, i64)> {
        s.iter().map(|s| (s.value.to_bits(), s.timestamp)).collect()
    }

    fn as_prost(b: &WriteBatch<'_>) -> Flat {
        b.series()
            .map(|s| {
                (
                    s.labels.iter().map(|&(n, v)| l(n, v)).collect(),
                    bits(s.samples),
                    s.histograms,
                )
            })
            .collect()
    }

    fn expected(req: &WriteRequest) -> Flat {
        req.timeseries
            .iter()
            .map(|t| (t.labels.clone(), bits(&t.samples), t.histograms.len()))
            .collect()
    }

    #[test]
    fn decodes_what_prost_encodes() {
        let req = WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: vec![l("__name__", "up"), l("job", "ä-ü")],
                    samples: vec![
                        Sample {
                            value: 1.5,
                            timestamp: -3,
                        },
                        Sample {
                            value: f64::NAN,
                            timestamp: i64::MAX,
                        },
                    ],
                    exemplars: vec![Exemplar {
                        labels: vec![l("trace_id", "abc")],
                        value: 2.0,
                        timestamp: 7,
                    }],
                    histograms: vec![Histogram {}, Histogram {}],
                },
                TimeSeries::default(),
            ],
            metadata: vec![MetricMetadata {
                r#type: proto::MetricType::Counter as i32,
                metric_family_name: "up".into(),
                help: "h".into(),
                unit: String::new(),
            }],
        };
        let raw = req.encode_to_vec();
        let b = WriteBatch::decode(&raw).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(as_prost(&b), expected(&req));
        assert_eq!(as_prost(&b)[0].2, 2);
        assert_eq!(b.metadata, req.metadata);
    }

    #[test]
    fn skips_unknown_fields_of_every_wire_type() {
        // Label{name: "a", unknown 9: varint 5, unknown 10: fixed32,
        // unknown 11: group holding a fixed64, value: "b"}.
        let mut label = vec![0x0a, 1, b'a'];
        label.extend_from_slice(&[9 << 3, 5]);
        label.extend_from_slice(&[(10 << 3) | 5, 1, 2, 3, 4]);
        label.extend_from_slice(&[(11 << 3) | 3, (1 << 3) | 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        label.extend_from_slice(&[(11 << 3) | 4]);
        label.extend_from_slice(&[0x12, 1, b'b']);
        let mut ts = vec![0x0a, label.len() as u8];
        ts.extend_from_slice(&label);
        let mut req = vec![(7 << 3) | 2, 2, 0xff, 0xff, 0x0a, ts.len() as u8];
        req.extend_from_slice(&ts);
        let prost_view = WriteRequest::decode(req.as_slice()).unwrap();
        let b = WriteBatch::decode(&req).unwrap();
        assert_eq!(as_prost(&b), expected(&prost_view));
        assert_eq!(as_prost(&b)[0].0, vec![l("a", "b")]);
    }

    #[test]
    fn rejects_malformed_input_like_prost() {
        let cases: &[&[u8]] = &[
            b"\x0a\xff\xff",                                 // length past the end
            b"\x0a\x03\x0a\x01",                             // truncated label
            b"\x0a\x05\x0a\x03\x0a\x01\xff",                 // label name not UTF-8
            b"\x0a\x04\x12\x02\x08\x01",                     // sample value with varint wire type
            b"\x0a\x03\x12\x01\x09",                         // truncated double
            b"\x08",                                         // truncated varint
            b"\x00",                                         // tag 0
            b"\x0e",                                         // wire type 6
            b"\x0c",                                         // end group without start
            b"\x0b\x08\x01",                                 // group never closed
            b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", // varint over 64 bits
            b"\x09\x00",                                     // timeseries as fixed64
        ];
        for c in cases {
            assert!(WriteRequest::decode(*c).is_err(), "prost accepts {c:?}");
            let e = WriteBatch::decode(c).err();
            assert!(e.is_some(), "accepted {c:?}");
            assert!(e.unwrap().to_string().starts_with("failed to decode"));
        }
    }

    #[test]
    fn known_label_bytes_are_not_decoded() {
        let req = WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: vec![l("__name__", "a"), l("job", "j")],
                    samples: vec![Sample {
                        value: 1.0,
                        timestamp: 5,
                    }],
                    ..Default::default()
                },
                TimeSeries {
                    labels: vec![l("__name__", "b")],
                    ..Default::default()
                },
            ],
            metadata: vec![],
        };
        let raw = req.encode_to_vec();
        let first = TimeSeries {
            labels: req.timeseries[0].labels.clone(),
            ..Default::default()
        }
        .encode_to_vec();
        let mut asked = 0;
        let b = WriteBatch::decode_with(&raw, |raws, out| {
            asked = raws.len();
            out.extend(
                raws.iter()
                    .map(|r| (*r == Some(first.as_slice())).then_some(7)),
            );
        })
        .unwrap();
        assert_eq!(asked, 2);
        let views: Vec<_> = b.series().collect();
        assert_eq!(views[0].known, Some(7));
        assert!(views[0].labels.is_empty());
        assert_eq!(views[0].raw_labels, Some(first.as_slice()));
        assert_eq!(
            views[0].decoded_labels().unwrap(),
            vec![("__name__", "a"), ("job", "j")]
        );
        assert_eq!(bits(views[0].samples), vec![(1.0f64.to_bits(), 5)]);
        assert_eq!(views[1].known, None);
        assert_eq!(views[1].labels, &[("__name__", "b")]);
        assert_eq!(views[1].decoded_labels().unwrap(), vec![("__name__", "b")]);
    }

    #[test]
    fn labels_split_by_other_fields_identify_nothing() {
        // TimeSeries{label a=1, sample, label b=2}: the leading run is only
        // part of the label set.
        let label = |n: &str, v: &str| {
            let mut f = vec![0x0a];
            f.extend(l(n, v).encode_length_delimited_to_vec());
            f
        };
        let mut ts = label("a", "1");
        ts.extend([0x12, 0]);
        ts.extend(label("b", "2"));
        let mut req = vec![0x0a, ts.len() as u8];
        req.extend_from_slice(&ts);
        let all = |raws: &[Option<&[u8]>], out: &mut Vec<Option<u64>>| {
            out.extend(raws.iter().map(|r| r.map(|_| 1)))
        };
        let b = WriteBatch::decode_with(&req, all).unwrap();
        let v = b.series().next().unwrap();
        assert_eq!((v.known, v.raw_labels), (None, None));
        assert_eq!(v.labels, &[("a", "1"), ("b", "2")]);
        assert_eq!(
            as_prost(&b),
            expected(&WriteRequest::decode(req.as_slice()).unwrap())
        );
        // Samples first: no leading run, nothing asked.
        let mut ts = vec![0x12, 0];
        ts.extend(label("a", "1"));
        let mut req = vec![0x0a, ts.len() as u8];
        req.extend_from_slice(&ts);
        let b = WriteBatch::decode_with(&req, |raws, _| assert_eq!(raws, &[None])).unwrap();
        let v = b.series().next().unwrap();
        assert_eq!((v.known, v.raw_labels), (None, None));
        assert_eq!(v.labels, &[("a", "1")]);
    }

    proptest! {
        /// Any bytes: accepted exactly when prost accepts them, with the
        /// same series.
        #[test]
        fn agrees_with_prost_on_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            match (WriteRequest::decode(raw.as_slice()), WriteBatch::decode(&raw)) {
                (Ok(p), Ok(b)) => prop_assert_eq!(as_prost(&b), expected(&p)),
                (Err(_), Err(_)) => {}
                (p, b) => prop_assert!(false, "prost {:?} vs ours {:?}", p.is_ok(), b.is_ok()),
            }
        }

        /// Encoded requests decode as prost decodes them.
        #[test]
        fn round_trips(series in proptest::collection::vec(
            (proptest::collection::vec(("[a-z_]{0,6}", "\\PC{0,6}"), 0..5),
             proptest::collection::vec((any::<f64>(), any::<i64>()), 0..4)), 0..6)) {
            let req = WriteRequest {
                timeseries: series.iter().map(|(ls, ss)| TimeSeries {
                    labels: ls.iter().map(|(n, v)| l(n, v)).collect(),
                    samples: ss.iter().map(|&(value, timestamp)| Sample { value, timestamp }).collect(),
                    ..Default::default()
                }).collect(),
                metadata: vec![],
            };
            let raw = req.encode_to_vec();
            let b = WriteBatch::decode(&raw).unwrap();
            // Against prost's decoding, not `req`: proto3 does not encode a
            // -0.0 value, so it comes back as 0.0 from both decoders.
            let back = WriteRequest::decode(raw.as_slice()).unwrap();
            prop_assert_eq!(as_prost(&b), expected(&back));
            prop_assert_eq!(b.len(), req.timeseries.len());
            // Every label set known: skipped, and its bytes decode to the
            // same labels later.
            let k = WriteBatch::decode_with(&raw, |raws, out| {
                out.extend(raws.iter().map(|r| r.map(|_| 3)))
            })
            .unwrap();
            let skipped: Flat = k
                .series()
                .map(|s| {
                    let labels = s.decoded_labels().unwrap();
                    (labels.iter().map(|&(n, v)| l(n, v)).collect(), bits(s.samples), s.histograms)
                })
                .collect();
            prop_assert_eq!(skipped, expected(&back));
        }
    }
}
