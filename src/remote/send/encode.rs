//! Turning a batch of queued samples into a snappy-compressed protobuf
//! `WriteRequest`, reusing every buffer across batches so steady-state
//! sending allocates only the request body.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;
use storage::wal::WalPosition;

use crate::remote::proto::{self, TimeSeries, WriteRequest};

/// A series' labels as sent: external labels added, write relabeling
/// applied, sorted by name.
pub(crate) type SeriesLabels = Arc<[proto::Label]>;

/// One sample waiting in a shard, with the WAL position of the record it
/// came from (for the queue's progress).
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub(crate) series: SeriesLabels,
    pub(crate) t: i64,
    pub(crate) v: f64,
    pub(crate) at: WalPosition,
}

/// Encodes batches; keeps its buffers between calls.
pub(crate) struct Encoder {
    req: WriteRequest,
    /// Series entries of earlier batches, kept for their allocations.
    spare: Vec<TimeSeries>,
    /// Series (by label-slice address) to its index in `req.timeseries`.
    index: HashMap<usize, usize>,
    raw: Vec<u8>,
    compressed: Vec<u8>,
    snappy: snap::raw::Encoder,
}

impl Encoder {
    pub(crate) fn new() -> Self {
        Encoder {
            req: WriteRequest::default(),
            spare: Vec::new(),
            index: HashMap::new(),
            raw: Vec::new(),
            compressed: Vec::new(),
            snappy: snap::raw::Encoder::new(),
        }
    }

    /// The compressed request for `batch`. Samples of one series become
    /// one `TimeSeries` (in batch order, which is WAL order).
    pub(crate) fn encode(&mut self, batch: &[Pending]) -> Bytes {
        self.spare.append(&mut self.req.timeseries);
        self.index.clear();
        for p in batch {
            let key = p.series.as_ptr() as usize;
            let i = *self.index.entry(key).or_insert_with(|| {
                let mut ts = self.spare.pop().unwrap_or_default();
                ts.labels.truncate(p.series.len());
                for (dst, src) in ts.labels.iter_mut().zip(p.series.iter()) {
                    dst.name.clone_from(&src.name);
                    dst.value.clone_from(&src.value);
                }
                let have = ts.labels.len();
                ts.labels.extend(p.series[have..].iter().cloned());
                ts.samples.clear();
                ts.exemplars.clear();
                ts.histograms.clear();
                self.req.timeseries.push(ts);
                self.req.timeseries.len() - 1
            });
            self.req.timeseries[i].samples.push(proto::Sample {
                value: p.v,
                timestamp: p.t,
            });
        }
        self.raw.clear();
        self.req
            .encode(&mut self.raw)
            .expect("a Vec grows as needed");
        let need = snap::raw::max_compress_len(self.raw.len());
        if self.compressed.len() < need {
            self.compressed.resize(need, 0);
        }
        let n = self
            .snappy
            .compress(&self.raw, &mut self.compressed)
            .expect("output sized by max_compress_len");
        Bytes::copy_from_slice(&self.compressed[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(pairs: &[(&str, &str)]) -> SeriesLabels {
        pairs
            .iter()
            .map(|(n, v)| proto::Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect()
    }

    /// The request as a receiver sees it: snappy, then prost.
    fn decode(body: &[u8]) -> proto::WriteRequest {
        let raw = crate::remote::receive::write::decompress(body).unwrap();
        prost::Message::decode(&raw[..]).unwrap()
    }

    fn p(s: &SeriesLabels, t: i64, v: f64) -> Pending {
        Pending {
            series: Arc::clone(s),
            t,
            v,
            at: WalPosition::default(),
        }
    }

    #[test]
    fn groups_by_series_and_reuses_buffers() {
        let a = series(&[("__name__", "a"), ("job", "j")]);
        let b = series(&[("__name__", "b")]);
        let mut enc = Encoder::new();
        let body = enc.encode(&[p(&a, 1, 1.0), p(&b, 1, 2.0), p(&a, 2, 3.0)]);
        let req = decode(&body);
        assert_eq!(req.timeseries.len(), 2);
        assert_eq!(req.timeseries[0].labels, *a);
        let got: Vec<_> = req.timeseries[0]
            .samples
            .iter()
            .map(|s| (s.timestamp, s.value))
            .collect();
        assert_eq!(got, [(1, 1.0), (2, 3.0)]);
        assert_eq!(req.timeseries[1].labels, *b);

        // A second batch with fewer labels per series reuses entries
        // without leaking old labels or samples into it.
        let stale = storage::stale_nan();
        let body = enc.encode(&[p(&b, 5, stale)]);
        let req = decode(&body);
        assert_eq!(req.timeseries.len(), 1);
        assert_eq!(req.timeseries[0].labels, *b);
        assert_eq!(req.timeseries[0].samples.len(), 1);
        assert_eq!(
            req.timeseries[0].samples[0].value.to_bits(),
            storage::STALE_NAN_BITS
        );
        let body = enc.encode(&[p(&a, 9, 9.0)]);
        let req = decode(&body);
        assert_eq!(req.timeseries[0].labels, *a);
    }
}
