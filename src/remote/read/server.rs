//! Answering remote-read requests (`storage/remote/read_handler.go`):
//! each query's matchers select series over its time range, answered
//! either as one `ReadResponse` of raw samples or as a stream of framed
//! `ChunkedReadResponse`s holding XOR chunks, whichever the client
//! accepts first.
//!
//! External labels (`global.external_labels`) are part of every returned
//! series, and equality matchers on them are satisfied by definition, so
//! they are removed before selecting.

use std::collections::BTreeMap;

use prost::Message;
use storage::querier::{Queryable, SelectHints, Series};
use storage::{Db, MatchOp, Matcher};

use crate::remote::proto::{
    self, ChunkEncoding, ChunkedReadResponse, ChunkedSeries, MatcherType, QueryResult, ReadRequest,
    ReadResponse, ResponseType, Sample, TimeSeries,
};
use crate::remote::receive::write::MAX_BODY_BYTES;
use crate::remote::xor::{put_uvarint, XorEncoder, SAMPLES_PER_CHUNK};

/// Most samples one read request may return in a `Samples` response
/// (Prometheus's `--storage.remote.read-sample-limit` default).
pub const SAMPLE_LIMIT: usize = 50_000_000;

/// Target size of one streamed frame's payload (upstream's 1 MiB).
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// Content type of a streamed answer.
pub const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// Why a read request could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("snappy: {0}")]
    Snappy(#[from] snap::Error),
    #[error("decompressed body is {0} bytes, more than the limit of {MAX_BODY_BYTES}")]
    TooLarge(usize),
    #[error("protobuf: {0}")]
    Proto(#[from] prost::DecodeError),
    #[error("invalid matcher: {0}")]
    Matcher(String),
    #[error("server does not support any of the requested response types: {0:?}")]
    ResponseType(Vec<i32>),
    #[error("exceeded sample limit ({SAMPLE_LIMIT})")]
    SampleLimit,
    #[error("reading storage: {0}")]
    Storage(storage::Error),
}

impl ReadError {
    /// Whether the request itself was at fault (400) rather than the server
    /// (500).
    pub fn is_bad_request(&self) -> bool {
        !matches!(self, ReadError::Storage(_))
    }
}

/// Snappy block decompression then protobuf decoding, bounded like writes.
pub fn decode(body: &[u8]) -> Result<ReadRequest, ReadError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ReadError::TooLarge(body.len()));
    }
    let len = snap::raw::decompress_len(body)?;
    if len > MAX_BODY_BYTES {
        return Err(ReadError::TooLarge(len));
    }
    crate::remote::snappy::check_expansion(body, len)?;
    let raw = snap::raw::Decoder::new().decompress_vec(body)?;
    Ok(ReadRequest::decode(raw.as_slice())?)
}

/// The first accepted response type this server speaks; `Samples` when
/// the client names none (older clients).
pub fn negotiate(req: &ReadRequest) -> Result<ResponseType, ReadError> {
    if req.accepted_response_types.is_empty() {
        return Ok(ResponseType::Samples);
    }
    req.accepted_response_types
        .iter()
        .find_map(|&t| ResponseType::try_from(t).ok())
        .ok_or_else(|| ReadError::ResponseType(req.accepted_response_types.clone()))
}

/// One query ready to run: its range and the matchers left after removing
/// those the external labels satisfy.
pub struct PreparedQuery {
    pub start: i64,
    pub end: i64,
    pub matchers: Vec<Matcher>,
}

impl PreparedQuery {
    /// The local series of this query. Local storage raises no warnings,
    /// so there are none to pass on.
    fn select(&self, db: &Db) -> Result<Vec<Series>, ReadError> {
        let querier = db
            .querier(self.start, self.end)
            .map_err(ReadError::Storage)?;
        let hints = SelectHints {
            start: self.start,
            end: self.end,
            ..Default::default()
        };
        let set = querier.select(&hints, &self.matchers);
        Ok(set.map_err(ReadError::Storage)?.series)
    }
}

/// Converts every query's matchers, so a bad one fails the request before
/// any answer is sent.
pub fn prepare(
    req: &ReadRequest,
    external: &BTreeMap<String, String>,
) -> Result<Vec<PreparedQuery>, ReadError> {
    req.queries
        .iter()
        .map(|q| {
            let mut matchers = Vec::with_capacity(q.matchers.len());
            for m in &q.matchers {
                let op = match MatcherType::try_from(m.r#type) {
                    Ok(MatcherType::Eq) => MatchOp::Equal,
                    Ok(MatcherType::Neq) => MatchOp::NotEqual,
                    Ok(MatcherType::Re) => MatchOp::RegexMatch,
                    Ok(MatcherType::Nre) => MatchOp::RegexNoMatch,
                    Err(_) => {
                        return Err(ReadError::Matcher(format!(
                            "unknown matcher type {}",
                            m.r#type
                        )))
                    }
                };
                // Upstream compares against a map lookup, which also drops
                // `name=""` for names that are not external labels; only
                // real external labels are dropped here.
                if op == MatchOp::Equal && external.get(&m.name) == Some(&m.value) {
                    continue;
                }
                matchers.push(
                    Matcher::new(op, m.name.as_str(), m.value.as_str())
                        .map_err(|e| ReadError::Matcher(e.to_string()))?,
                );
            }
            if matchers.is_empty() {
                return Err(ReadError::Matcher(
                    "a query needs at least one matcher besides external labels".into(),
                ));
            }
            Ok(PreparedQuery {
                start: q.start_timestamp_ms,
                end: q.end_timestamp_ms,
                matchers,
            })
        })
        .collect()
}

/// A series' labels with the external labels added; the series' own value
/// wins when a name is in both, as in Prometheus.
fn merged_labels(
    series: &storage::Labels,
    external: &BTreeMap<String, String>,
) -> Vec<proto::Label> {
    let mut out: Vec<proto::Label> = series
        .iter()
        .map(|l| proto::Label {
            name: l.name.clone(),
            value: l.value.clone(),
        })
        .collect();
    let own = out.len();
    for (name, value) in external {
        if series.get(name).is_empty() {
            out.push(proto::Label {
                name: name.clone(),
                value: value.clone(),
            });
        }
    }
    if out.len() > own {
        out.sort_by(|a, b| a.name.cmp(&b.name));
    }
    out
}

/// The `Samples` answer: a snappy-compressed `ReadResponse`, one result
/// per query in request order.
pub fn samples_response(
    db: &Db,
    queries: &[PreparedQuery],
    external: &BTreeMap<String, String>,
) -> Result<Vec<u8>, ReadError> {
    let mut resp = ReadResponse::default();
    let mut total = 0usize;
    let mut buf = Vec::new();
    for q in queries {
        let series = q.select(db)?;
        let mut result = QueryResult::default();
        for s in &series {
            buf.clear();
            s.read_into(&mut buf);
            total += buf.len();
            if total > SAMPLE_LIMIT {
                return Err(ReadError::SampleLimit);
            }
            result.timeseries.push(TimeSeries {
                labels: merged_labels(&s.labels, external),
                samples: buf
                    .iter()
                    .map(|&(timestamp, value)| Sample { value, timestamp })
                    .collect(),
                ..Default::default()
            });
        }
        resp.results.push(result);
    }
    let raw = resp.encode_to_vec();
    Ok(snap::raw::Encoder::new().compress_vec(&raw)?)
}

/// The `StreamedXorChunks` answer: calls `emit` with one frame at a time
/// (uvarint length, big-endian CRC32-Castagnoli of the message, message).
/// Each frame carries chunks of one series, at most about
/// [`MAX_FRAME_BYTES`]; a series without samples sends nothing. Stops
/// early, without error, when `emit` returns false (client gone).
pub fn stream_chunks(
    db: &Db,
    queries: &[PreparedQuery],
    external: &BTreeMap<String, String>,
    emit: &mut dyn FnMut(Vec<u8>) -> bool,
) -> Result<(), ReadError> {
    stream_with_limit(db, queries, external, MAX_FRAME_BYTES, emit)
}

fn stream_with_limit(
    db: &Db,
    queries: &[PreparedQuery],
    external: &BTreeMap<String, String>,
    frame_limit: usize,
    emit: &mut dyn FnMut(Vec<u8>) -> bool,
) -> Result<(), ReadError> {
    let mut buf = Vec::new();
    let mut enc = XorEncoder::default();
    for (index, q) in queries.iter().enumerate() {
        let series = q.select(db)?;
        for s in &series {
            buf.clear();
            s.read_into(&mut buf);
            if buf.is_empty() {
                continue;
            }
            let labels = merged_labels(&s.labels, external);
            let label_bytes: usize = labels.iter().map(|l| l.encoded_len() + 2).sum();
            let budget = frame_limit.saturating_sub(label_bytes).max(1);
            let mut chunks = Vec::new();
            let mut used = 0usize;
            let mut groups = buf.chunks(SAMPLES_PER_CHUNK).peekable();
            while let Some(group) = groups.next() {
                for &(t, v) in group {
                    enc.push(t, v);
                }
                let chunk = proto::Chunk {
                    min_time_ms: group[0].0,
                    max_time_ms: group[group.len() - 1].0,
                    r#type: ChunkEncoding::Xor as i32,
                    data: enc.finish(),
                };
                used += chunk.encoded_len() + 3;
                chunks.push(chunk);
                if used < budget && groups.peek().is_some() {
                    continue;
                }
                let msg = ChunkedReadResponse {
                    chunked_series: vec![ChunkedSeries {
                        labels: labels.clone(),
                        chunks: std::mem::take(&mut chunks),
                    }],
                    query_index: index as i64,
                };
                if !emit(frame(&msg.encode_to_vec())) {
                    return Ok(());
                }
                used = 0;
            }
        }
    }
    Ok(())
}

/// Prefixes a message with its uvarint length and CRC32-Castagnoli.
fn frame(msg: &[u8]) -> Vec<u8> {
    let mut len = [0u8; 10];
    let n = put_uvarint(&mut len, msg.len() as u64);
    let mut out = Vec::with_capacity(n + 4 + msg.len());
    out.extend_from_slice(&len[..n]);
    out.extend_from_slice(&crc32c::crc32c(msg).to_be_bytes());
    out.extend_from_slice(msg);
    out
}

/// Why a streamed answer did not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("truncated frame")]
    Truncated,
    #[error("frame checksum mismatch")]
    Checksum,
    #[error("frame message: {0}")]
    Proto(String),
}

/// Splits a whole streamed answer into its messages, checking each frame's
/// checksum: the client side of [`stream_chunks`].
pub fn parse_frames(mut data: &[u8]) -> Result<Vec<ChunkedReadResponse>, FrameError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let mut len = 0u64;
        let mut i = 0;
        loop {
            let b = *data.get(i).ok_or(FrameError::Truncated)?;
            if i >= 9 {
                return Err(FrameError::Truncated);
            }
            len |= u64::from(b & 0x7f) << (7 * i);
            i += 1;
            if b < 0x80 {
                break;
            }
        }
        let len = usize::try_from(len).map_err(|_| FrameError::Truncated)?;
        let rest = &data[i..];
        if rest.len() < 4 || rest.len() - 4 < len {
            return Err(FrameError::Truncated);
        }
        let crc = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let msg = &rest[4..4 + len];
        if crc32c::crc32c(msg) != crc {
            return Err(FrameError::Checksum);
        }
        out.push(ChunkedReadResponse::decode(msg).map_err(|e| FrameError::Proto(e.to_string()))?);
        data = &rest[4 + len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{LabelMatcher, Query};

    fn m(t: MatcherType, n: &str, v: &str) -> LabelMatcher {
        LabelMatcher {
            r#type: t as i32,
            name: n.into(),
            value: v.into(),
        }
    }

    fn ext() -> BTreeMap<String, String> {
        BTreeMap::from([("region".to_string(), "eu".to_string())])
    }

    fn req(matchers: Vec<LabelMatcher>) -> ReadRequest {
        ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: 0,
                end_timestamp_ms: 100_000_000,
                matchers,
                hints: None,
            }],
            accepted_response_types: vec![],
        }
    }

    fn db_with(series: &[(&str, &str, usize)]) -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), storage::Options::default()).unwrap();
        let mut app = db.appender();
        for &(name, region, n) in series {
            let l = storage::Labels::from_pairs([("__name__", name), ("region", region)]);
            for i in 0..n {
                app.append(&l, i as i64 * 1000, i as f64).unwrap();
            }
        }
        app.commit().unwrap();
        (dir, db)
    }

    #[test]
    fn negotiation() {
        let mut r = req(vec![]);
        assert_eq!(negotiate(&r).unwrap(), ResponseType::Samples);
        r.accepted_response_types = vec![7, 1, 0];
        assert_eq!(negotiate(&r).unwrap(), ResponseType::StreamedXorChunks);
        r.accepted_response_types = vec![7];
        assert!(negotiate(&r).unwrap_err().is_bad_request());
    }

    #[test]
    fn external_label_matchers_are_dropped() {
        let q = prepare(
            &req(vec![
                m(MatcherType::Eq, "__name__", "up"),
                m(MatcherType::Eq, "region", "eu"),
                m(MatcherType::Eq, "job", ""),
            ]),
            &ext(),
        )
        .unwrap();
        let names: Vec<_> = q[0].matchers.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["__name__", "job"]);
        // Only external-label matchers: nothing to select by.
        assert!(prepare(&req(vec![m(MatcherType::Eq, "region", "eu")]), &ext()).is_err());
        assert!(prepare(&req(vec![m(MatcherType::Re, "a", "(")]), &ext()).is_err());
        let mut bad = m(MatcherType::Eq, "a", "b");
        bad.r#type = 9;
        assert!(prepare(&req(vec![bad]), &ext()).is_err());
    }

    #[test]
    fn series_labels_win_over_external_ones() {
        let s = storage::Labels::from_pairs([("__name__", "x"), ("region", "us")]);
        let ext = BTreeMap::from([
            ("region".to_string(), "eu".to_string()),
            ("a".to_string(), "1".to_string()),
        ]);
        let got: Vec<_> = merged_labels(&s, &ext)
            .into_iter()
            .map(|l| (l.name, l.value))
            .collect();
        assert_eq!(
            got,
            [("__name__", "x"), ("a", "1"), ("region", "us")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn streamed_frames_split_large_series_and_round_trip() {
        // 30k samples make 250 chunks; a 4 KiB frame limit splits them
        // over many frames.
        let (_d, db) = db_with(&[("big", "x", 30_000), ("small", "y", 3)]);
        let q = prepare(&req(vec![m(MatcherType::Re, "__name__", ".+")]), &ext()).unwrap();
        let mut frames = Vec::new();
        stream_with_limit(&db, &q, &ext(), 4096, &mut |f| {
            frames.push(f);
            true
        })
        .unwrap();
        let all: Vec<u8> = frames.concat();
        let msgs = parse_frames(&all).unwrap();
        assert_eq!(msgs.len(), frames.len());
        let n: usize = msgs.iter().map(|m| m.chunked_series[0].chunks.len()).sum();
        assert!(
            msgs.len() > 10,
            "{} frames {n} chunks {:?}",
            msgs.len(),
            frames.iter().map(Vec::len).collect::<Vec<_>>()
        );
        assert!(frames.iter().all(|f| f.len() < 8192));
        let mut samples: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
        for msg in &msgs {
            assert_eq!(msg.query_index, 0);
            for cs in &msg.chunked_series {
                let name = cs.labels[0].value.clone();
                for c in &cs.chunks {
                    let d = crate::remote::xor::decode(&c.data).unwrap();
                    assert!(d.len() <= SAMPLES_PER_CHUNK);
                    assert_eq!((c.min_time_ms, c.max_time_ms), (d[0].0, d[d.len() - 1].0));
                    samples.entry(name.clone()).or_default().extend(d);
                }
            }
        }
        assert_eq!(samples["big"].len(), 30_000);
        assert_eq!(samples["big"][29_999], (29_999_000, 29_999.0));
        assert_eq!(samples["small"], vec![(0, 0.0), (1000, 1.0), (2000, 2.0)]);
        // Corruption is detected.
        let mut bad = all.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(parse_frames(&bad).is_err());
        assert_eq!(
            parse_frames(&all[..all.len() - 1]),
            Err(FrameError::Truncated)
        );
    }
}
