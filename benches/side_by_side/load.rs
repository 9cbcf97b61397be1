//! Remote-write request bodies prepared before any server starts, so every
//! server gets byte-identical requests and building them costs nothing
//! during the timed upload.

use ferroprom::remote::proto::{Label, Sample, TimeSeries, WriteRequest};
use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message;

/// Per connection, its compressed request bodies in sending order.
pub struct Load {
    pub per_conn: Vec<Vec<Vec<u8>>>,
    pub samples: u64,
    /// Compressed bytes over all requests.
    pub bytes: u64,
    pub min_t: i64,
    pub max_t: i64,
}

impl Load {
    pub fn requests(&self) -> usize {
        self.per_conn.iter().map(Vec::len).sum()
    }
}

/// Builds the requests for `series` series of up to `rounds` samples each.
/// Each connection owns the series `c, c + conns, ...` (as a sender shard
/// does, so every series arrives in order) and sends them round by round,
/// one sample per `TimeSeries` entry and `per_request` entries per request,
/// as Prometheus's sender does when it keeps up (`max_samples_per_send`).
/// `sample(i, r)` is called for each series in increasing `r`.
pub fn build(
    series: usize,
    rounds: usize,
    conns: usize,
    per_request: usize,
    labels: impl Fn(usize) -> Vec<Label>,
    mut sample: impl FnMut(usize, usize) -> Option<Sample>,
) -> Load {
    // Each series' labels are encoded once: cloning label strings for every
    // one of millions of entries would make building the load take minutes.
    let encoded: Vec<Vec<u8>> = (0..series)
        .map(|i| {
            TimeSeries {
                labels: labels(i),
                ..Default::default()
            }
            .encode_to_vec()
        })
        .collect();
    let mut load = Load {
        per_conn: Vec::with_capacity(conns),
        samples: 0,
        bytes: 0,
        min_t: i64::MAX,
        max_t: i64::MIN,
    };
    let mut enc = snap::raw::Encoder::new();
    let mut raw = Vec::new();
    let mut entries = 0;
    let mut sample_buf = Vec::with_capacity(24);
    for c in 0..conns {
        let mut bodies = Vec::new();
        for r in 0..rounds {
            for i in (c..series).step_by(conns) {
                let Some(s) = sample(i, r) else { continue };
                load.min_t = load.min_t.min(s.timestamp);
                load.max_t = load.max_t.max(s.timestamp);
                sample_buf.clear();
                s.encode(&mut sample_buf).expect("vec grows");
                // WriteRequest.timeseries (1) holding the labels and
                // TimeSeries.samples (2).
                let sample_field = 1 + 1 + sample_buf.len();
                encode_key(1, WireType::LengthDelimited, &mut raw);
                encode_varint((encoded[i].len() + sample_field) as u64, &mut raw);
                raw.extend_from_slice(&encoded[i]);
                encode_key(2, WireType::LengthDelimited, &mut raw);
                encode_varint(sample_buf.len() as u64, &mut raw);
                raw.extend_from_slice(&sample_buf);
                load.samples += 1;
                entries += 1;
                if entries == per_request {
                    load.bytes += flush(&mut enc, &mut raw, &mut bodies);
                    entries = 0;
                }
            }
        }
        if entries > 0 {
            load.bytes += flush(&mut enc, &mut raw, &mut bodies);
            entries = 0;
        }
        load.per_conn.push(bodies);
    }
    check_first(&load, per_request);
    load
}

fn flush(enc: &mut snap::raw::Encoder, raw: &mut Vec<u8>, bodies: &mut Vec<Vec<u8>>) -> u64 {
    let body = enc.compress_vec(raw).expect("snappy");
    raw.clear();
    let n = body.len() as u64;
    bodies.push(body);
    n
}

/// The hand-framed bodies must decode as the `WriteRequest` they stand for.
fn check_first(load: &Load, per_request: usize) {
    let Some(first) = load.per_conn.iter().find_map(|b| b.first()) else {
        return;
    };
    let raw = snap::raw::Decoder::new()
        .decompress_vec(first)
        .expect("snappy");
    let req = WriteRequest::decode(&raw[..]).expect("a valid WriteRequest");
    let n = req.timeseries.len();
    assert!(n > 0 && n <= per_request, "first request holds {n} entries");
    assert!(req
        .timeseries
        .iter()
        .all(|t| t.samples.len() == 1 && !t.labels.is_empty()));
}

/// A label as the proto wants it.
pub fn label(name: &str, value: impl Into<String>) -> Label {
    Label {
        name: name.into(),
        value: value.into(),
    }
}
