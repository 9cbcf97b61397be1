//! Decoding a remote-read answer: one snappy-compressed `ReadResponse`
//! (`SAMPLES`), or a stream of frames (uvarint length, big-endian
//! CRC32-Castagnoli, `ChunkedReadResponse`) holding XOR chunks
//! (`STREAMED_XOR_CHUNKS`). Frames are taken apart as bytes arrive so a
//! large answer is never held twice.

use prost::Message;

use crate::remote::proto::{
    ChunkEncoding, ChunkedReadResponse, ChunkedSeries, Label, ReadResponse, TimeSeries,
};
use crate::remote::xor::{self, XorDecodeError};

/// Most bytes one streamed frame may claim (Prometheus's default
/// `chunked_read_limit`, 50 MB): a corrupt length cannot make us buffer
/// without end.
pub(crate) const MAX_FRAME_BYTES: u64 = 50_000_000;

/// Most bytes a `SAMPLES` answer may decompress to.
pub(crate) const MAX_SAMPLES_BYTES: usize = 1 << 30;

/// One series of an answer: labels as sent, samples ascending by time
/// with one per timestamp.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RemoteSeries {
    pub labels: Vec<Label>,
    pub samples: Vec<(i64, f64)>,
}

/// Why an answer could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("snappy: {0}")]
    Snappy(#[from] snap::Error),
    #[error("decompressed response is {0} bytes, more than the limit of {MAX_SAMPLES_BYTES}")]
    TooLarge(usize),
    #[error("protobuf: {0}")]
    Proto(#[from] prost::DecodeError),
    #[error("responses: want 1, got {0}")]
    ResultCount(usize),
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME_BYTES}")]
    FrameTooLarge(u64),
    #[error("invalid frame length")]
    FrameLength,
    #[error("frame checksum mismatch")]
    Checksum,
    #[error("stream ended inside a frame")]
    Truncated,
    #[error("streamed response answers query {0}, but only query 0 was sent")]
    QueryIndex(i64),
    #[error("{0}")]
    Chunk(#[from] XorDecodeError),
    #[error("unsupported chunk encoding {0}")]
    Encoding(i32),
}

/// The series of a `SAMPLES` answer to a one-query request.
pub fn samples_response(body: &[u8]) -> Result<Vec<RemoteSeries>, DecodeError> {
    let len = snap::raw::decompress_len(body)?;
    if len > MAX_SAMPLES_BYTES {
        return Err(DecodeError::TooLarge(len));
    }
    crate::remote::snappy::check_expansion(body, len)?;
    let raw = snap::raw::Decoder::new().decompress_vec(body)?;
    let resp = ReadResponse::decode(raw.as_slice())?;
    let [result] = <[_; 1]>::try_from(resp.results)
        .map_err(|results: Vec<_>| DecodeError::ResultCount(results.len()))?;
    Ok(result.timeseries.into_iter().map(from_samples).collect())
}

fn from_samples(ts: TimeSeries) -> RemoteSeries {
    let mut samples: Vec<(i64, f64)> = ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
    normalize(&mut samples);
    RemoteSeries {
        labels: ts.labels,
        samples,
    }
}

/// Sorts by time and keeps the first sample of each timestamp: the
/// protocol promises order, but storage chunks must not rely on a remote
/// keeping its promise.
fn normalize(samples: &mut Vec<(i64, f64)>) {
    if samples.windows(2).all(|w| w[0].0 < w[1].0) {
        return;
    }
    samples.sort_by_key(|s| s.0);
    samples.dedup_by_key(|s| s.0);
}

/// Takes a streamed answer apart frame by frame as its bytes arrive.
#[derive(Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    pos: usize,
    series: Vec<RemoteSeries>,
}

impl FrameDecoder {
    /// Adds received bytes and decodes every frame they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        self.buf.extend_from_slice(bytes);
        while let Some(msg) = self.next_frame()? {
            self.add(ChunkedReadResponse::decode(msg.as_slice())?)?;
        }
        // Compact once the consumed prefix dominates, so the buffer holds
        // about one frame, not the whole answer.
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        Ok(())
    }

    /// The series received, once the stream has ended.
    pub fn finish(self) -> Result<Vec<RemoteSeries>, DecodeError> {
        if self.pos != self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        Ok(self.series)
    }

    /// The next complete frame's message, checksum verified.
    fn next_frame(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        let data = &self.buf[self.pos..];
        let mut len = 0u64;
        let mut header = 0;
        loop {
            let Some(&b) = data.get(header) else {
                return Ok(None);
            };
            if header == 10 {
                return Err(DecodeError::FrameLength);
            }
            len |= u64::from(b & 0x7f) << (7 * header);
            header += 1;
            if b < 0x80 {
                break;
            }
        }
        if len > MAX_FRAME_BYTES {
            return Err(DecodeError::FrameTooLarge(len));
        }
        let len = len as usize;
        let Some(frame) = data.get(header..header + 4 + len) else {
            return Ok(None);
        };
        let crc = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let msg = &frame[4..];
        if crc32c::crc32c(msg) != crc {
            return Err(DecodeError::Checksum);
        }
        let msg = msg.to_vec();
        self.pos += header + 4 + len;
        Ok(Some(msg))
    }

    /// Adds a frame's series; a series split over consecutive frames (as
    /// servers split large ones) becomes one.
    fn add(&mut self, resp: ChunkedReadResponse) -> Result<(), DecodeError> {
        if resp.query_index != 0 {
            return Err(DecodeError::QueryIndex(resp.query_index));
        }
        for ChunkedSeries { labels, chunks } in resp.chunked_series {
            let continues = self.series.last().is_some_and(|s| s.labels == labels);
            if !continues {
                self.series.push(RemoteSeries {
                    labels,
                    samples: Vec::new(),
                });
            }
            let Some(series) = self.series.last_mut() else {
                continue;
            };
            let before = series.samples.len();
            for c in chunks {
                match ChunkEncoding::try_from(c.r#type) {
                    Ok(ChunkEncoding::Xor) => series.samples.extend(xor::decode(&c.data)?),
                    // Storage holds float samples only; native histograms
                    // are left out as the write receiver leaves them out.
                    Ok(ChunkEncoding::Histogram | ChunkEncoding::FloatHistogram) => {}
                    Ok(ChunkEncoding::Unknown) | Err(_) => {
                        return Err(DecodeError::Encoding(c.r#type))
                    }
                }
            }
            // Only the new part can be out of order unless it starts
            // before what came earlier.
            let joined = before == 0
                || series.samples.len() == before
                || series.samples[before - 1].0 < series.samples[before].0;
            if !joined || !series.samples[before..].windows(2).all(|w| w[0].0 < w[1].0) {
                normalize(&mut series.samples);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::proto::{Chunk, QueryResult, Sample};
    use crate::remote::xor::XorEncoder;

    fn label(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    fn frame(msg: &ChunkedReadResponse) -> Vec<u8> {
        let body = msg.encode_to_vec();
        let mut out = Vec::new();
        let mut len = body.len() as u64;
        loop {
            let b = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn xor_chunk(samples: &[(i64, f64)]) -> Chunk {
        let mut enc = XorEncoder::default();
        for &(t, v) in samples {
            enc.push(t, v);
        }
        Chunk {
            min_time_ms: samples[0].0,
            max_time_ms: samples[samples.len() - 1].0,
            r#type: ChunkEncoding::Xor as i32,
            data: enc.finish(),
        }
    }

    fn series_msg(name: &str, chunks: Vec<Chunk>) -> ChunkedReadResponse {
        ChunkedReadResponse {
            chunked_series: vec![ChunkedSeries {
                labels: vec![label("__name__", name)],
                chunks,
            }],
            query_index: 0,
        }
    }

    #[test]
    fn samples_answer_is_sorted_and_deduplicated() {
        let resp = ReadResponse {
            results: vec![QueryResult {
                timeseries: vec![TimeSeries {
                    labels: vec![label("__name__", "a")],
                    samples: [(20, 2.0), (10, 1.0), (20, 9.0), (30, 3.0)]
                        .iter()
                        .map(|&(timestamp, value)| Sample { value, timestamp })
                        .collect(),
                    ..Default::default()
                }],
            }],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&resp.encode_to_vec())
            .unwrap();
        let got = samples_response(&body).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].samples, vec![(10, 1.0), (20, 2.0), (30, 3.0)]);

        let two = ReadResponse {
            results: vec![QueryResult::default(), QueryResult::default()],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&two.encode_to_vec())
            .unwrap();
        assert!(matches!(
            samples_response(&body),
            Err(DecodeError::ResultCount(2))
        ));
        assert!(matches!(
            samples_response(b"not snappy at all"),
            Err(DecodeError::Snappy(_) | DecodeError::Proto(_))
        ));
    }

    /// Frames split at every byte boundary decode the same; a series split
    /// over frames is joined.
    #[test]
    fn frames_decode_across_arbitrary_splits() {
        let a1: Vec<(i64, f64)> = (0..120).map(|i| (i * 15_000, i as f64)).collect();
        let a2: Vec<(i64, f64)> = (120..200).map(|i| (i * 15_000, i as f64 / 3.0)).collect();
        let mut stream = frame(&series_msg("a", vec![xor_chunk(&a1)]));
        stream.extend(frame(&series_msg("a", vec![xor_chunk(&a2)])));
        stream.extend(frame(&series_msg("b", vec![xor_chunk(&[(5, f64::NAN)])])));
        for step in [1, 3, 7, 100, stream.len()] {
            let mut d = FrameDecoder::default();
            for part in stream.chunks(step) {
                d.push(part).unwrap();
            }
            let got = d.finish().unwrap();
            assert_eq!(got.len(), 2);
            assert_eq!(got[0].samples.len(), 200);
            assert_eq!(got[0].samples[..120], a1[..]);
            assert_eq!(got[0].samples[120..], a2[..]);
            assert_eq!(got[1].labels, vec![label("__name__", "b")]);
            assert!(got[1].samples[0].1.is_nan());
        }
    }

    #[test]
    fn bad_streams_are_errors() {
        let good = frame(&series_msg("a", vec![xor_chunk(&[(1, 1.0), (2, 2.0)])]));

        let mut d = FrameDecoder::default();
        d.push(&good[..good.len() - 1]).unwrap();
        assert!(matches!(d.finish(), Err(DecodeError::Truncated)));

        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        assert!(matches!(
            FrameDecoder::default().push(&bad),
            Err(DecodeError::Checksum)
        ));

        // A length claiming 2^62 bytes is refused before buffering.
        let huge = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40];
        assert!(matches!(
            FrameDecoder::default().push(&huge),
            Err(DecodeError::FrameTooLarge(_))
        ));
        assert!(matches!(
            FrameDecoder::default().push(&[0xff; 11]),
            Err(DecodeError::FrameLength)
        ));

        let mut other = series_msg("a", vec![xor_chunk(&[(1, 1.0)])]);
        other.query_index = 1;
        assert!(matches!(
            FrameDecoder::default().push(&frame(&other)),
            Err(DecodeError::QueryIndex(1))
        ));

        let mut c = xor_chunk(&[(1, 1.0)]);
        c.r#type = 9;
        assert!(matches!(
            FrameDecoder::default().push(&frame(&series_msg("a", vec![c]))),
            Err(DecodeError::Encoding(9))
        ));
        let mut c = xor_chunk(&[(1, 1.0), (2, 2.0)]);
        c.data.truncate(3);
        assert!(matches!(
            FrameDecoder::default().push(&frame(&series_msg("a", vec![c]))),
            Err(DecodeError::Chunk(_))
        ));
    }

    #[test]
    fn overlapping_chunks_of_one_series_are_merged() {
        let stream = frame(&series_msg(
            "a",
            vec![
                xor_chunk(&[(10, 1.0), (20, 2.0), (30, 3.0)]),
                xor_chunk(&[(20, 2.0), (40, 4.0)]),
            ],
        ));
        let mut d = FrameDecoder::default();
        d.push(&stream).unwrap();
        let got = d.finish().unwrap();
        assert_eq!(
            got[0].samples,
            vec![(10, 1.0), (20, 2.0), (30, 3.0), (40, 4.0)]
        );
    }
}
