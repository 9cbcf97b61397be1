//! The WAL frame codec: `(type, body)` pairs to the bytes of a segment and
//! back (layout in `docs/formats/wal.md`, "Segment file" and "Frame").
//!
//! It works on byte slices only and knows neither files nor record bodies,
//! so the writer, the checkpoint, replay and the live watcher share one
//! definition of a valid segment. The decoder tells bytes that merely stop
//! early ([`FrameError::is_incomplete`]: a torn tail after a crash, or a
//! write still in progress for a reader following the writer) from bytes
//! that are wrong; what either means is the caller's policy.

use crate::encoding::{be_u32, u32_be};

/// Segment header magic, "FPWL".
pub const SEGMENT_MAGIC: u32 = 0x4650_574C;
/// The only segment format version this code reads and writes.
pub const SEGMENT_VERSION: u8 = 1;
/// Bytes in the segment header: magic u32, version u8, 3 reserved bytes.
pub const SEGMENT_HEADER_LEN: u64 = 8;
/// Bytes in a frame header: type u8, flags u8, length u32, crc32c u32.
pub const FRAME_HEADER_LEN: usize = 10;
/// Frame flag: payload is Snappy (raw block format) compressed.
pub const FLAG_SNAPPY: u8 = 0x01;

/// The segment header bytes.
pub fn segment_header() -> [u8; SEGMENT_HEADER_LEN as usize] {
    let m = u32_be(SEGMENT_MAGIC);
    [m[0], m[1], m[2], m[3], SEGMENT_VERSION, 0, 0, 0]
}

/// Encodes frames, reusing its scratch buffers across calls.
pub struct FrameEncoder {
    body: Vec<u8>,
    comp: Vec<u8>,
    snappy: snap::raw::Encoder,
}

impl std::fmt::Debug for FrameEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameEncoder").finish_non_exhaustive()
    }
}

impl Default for FrameEncoder {
    fn default() -> Self {
        FrameEncoder {
            body: Vec::new(),
            comp: Vec::new(),
            snappy: snap::raw::Encoder::new(),
        }
    }
}

impl FrameEncoder {
    /// An encoder with empty scratch buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one compressed frame of type `typ` (never 0) to `out`. Its
    /// body is whatever `write_body` appends to the empty vector it is
    /// handed: a scratch buffer kept across calls, so a warm encoder
    /// allocates nothing per frame.
    pub fn append(
        &mut self,
        typ: u8,
        out: &mut Vec<u8>,
        write_body: impl FnOnce(&mut Vec<u8>),
    ) -> std::io::Result<()> {
        self.body.clear();
        write_body(&mut self.body);
        let need = snap::raw::max_compress_len(self.body.len());
        if self.comp.len() < need {
            self.comp.resize(need, 0);
        }
        let n = self
            .snappy
            .compress(&self.body, &mut self.comp)
            .map_err(std::io::Error::other)?;
        let len = u32::try_from(n).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "WAL record larger than 4 GiB",
            )
        })?;
        let start = out.len();
        out.push(typ);
        out.push(FLAG_SNAPPY);
        out.extend_from_slice(&u32_be(len));
        let crc = frame_crc(&out[start..start + 6], &self.comp[..n]);
        out.extend_from_slice(&u32_be(crc));
        out.extend_from_slice(&self.comp[..n]);
        // Do not keep a huge scratch buffer around after one giant batch.
        if self.comp.capacity() > 64 << 20 {
            self.comp = Vec::new();
            self.body = Vec::new();
        }
        Ok(())
    }
}

/// The CRC a frame header + payload must carry.
fn frame_crc(header6: &[u8], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(header6), payload)
}

/// Why bytes are not a valid segment header or frame. The messages are the
/// `detail` replay reports.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("incomplete segment header")]
    IncompleteSegmentHeader,
    #[error("incomplete frame header ({0} bytes)")]
    IncompleteFrameHeader(usize),
    #[error("incomplete frame: length {len} but only {avail} bytes left")]
    IncompleteFrame { len: u32, avail: usize },
    #[error("bad segment magic {0:#010x}")]
    BadMagic(u32),
    /// Possibly a valid newer format: never to be repaired.
    #[error("unsupported WAL segment version {0}")]
    UnsupportedVersion(u8),
    #[error("nonzero reserved header bytes")]
    ReservedHeaderBytes,
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum { stored: u32, computed: u32 },
    #[error("record type 0")]
    TypeZero,
    #[error("unknown frame flags {0:#04x}")]
    UnknownFlags(u8),
    #[error("snappy: {0}")]
    Snappy(snap::Error),
    #[error("snappy: implausible decompressed length {0}")]
    ImplausibleLength(usize),
}

impl FrameError {
    /// Whether the bytes only stop early, so more bytes may complete them:
    /// a torn tail, or a write still in progress. Everything else is damage.
    pub fn is_incomplete(&self) -> bool {
        matches!(
            self,
            FrameError::IncompleteSegmentHeader
                | FrameError::IncompleteFrameHeader(_)
                | FrameError::IncompleteFrame { .. }
        )
    }
}

/// One checked frame, borrowing its payload from the decoded bytes. Its
/// body (the payload decompressed) comes from [`Decompressor::body`], so a
/// caller that skips a frame does not pay for decompressing it.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Where the frame starts in the bytes given to [`Frames`].
    pub offset: usize,
    /// The record type byte; never 0.
    pub typ: u8,
    flags: u8,
    payload: &'a [u8],
}

impl Frame<'_> {
    /// Where the frame ends (the next one starts) in the bytes given to
    /// [`Frames`].
    pub fn end(&self) -> usize {
        self.offset + FRAME_HEADER_LEN + self.payload.len()
    }
}

/// Turns frame payloads into bodies, reusing one buffer across frames.
#[derive(Default)]
pub struct Decompressor {
    snappy: snap::raw::Decoder,
    body: Vec<u8>,
}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressor").finish_non_exhaustive()
    }
}

impl Decompressor {
    /// A decompressor with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The body of `frame`: its payload, decompressed into this buffer when
    /// the frame says it is compressed.
    pub fn body<'s>(&'s mut self, frame: &Frame<'s>) -> Result<&'s [u8], FrameError> {
        if frame.flags & FLAG_SNAPPY == 0 {
            return Ok(frame.payload);
        }
        let n = snap::raw::decompress_len(frame.payload).map_err(FrameError::Snappy)?;
        // Snappy expands at most ~64x; reject absurd lengths before allocating.
        if n > frame.payload.len().saturating_mul(64) + 64 {
            return Err(FrameError::ImplausibleLength(n));
        }
        self.body.resize(n, 0);
        self.snappy
            .decompress(frame.payload, &mut self.body)
            .map_err(FrameError::Snappy)?;
        Ok(&self.body)
    }
}

/// The frames in a run of a segment's bytes, in order. Ends at the end of
/// the bytes or after the first error; [`Frames::offset`] then says where
/// the bad (or missing) bytes start.
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    bytes: &'a [u8],
    offset: usize,
    header_pending: bool,
    failed: bool,
}

impl<'a> Frames<'a> {
    /// The frames of `bytes`, which begin with a segment's first byte: the
    /// header is checked first. No bytes at all are a valid empty segment.
    pub fn segment(bytes: &'a [u8]) -> Self {
        Frames {
            bytes,
            offset: 0,
            header_pending: true,
            failed: false,
        }
    }

    /// The frames of `bytes`, which begin at a frame boundary past the
    /// segment header.
    pub fn after_header(bytes: &'a [u8]) -> Self {
        Frames {
            header_pending: false,
            ..Frames::segment(bytes)
        }
    }

    /// Bytes decoded so far: the end of the last good frame (or header).
    /// After an error, where the bad bytes start, so where a torn segment
    /// is cut.
    pub fn offset(&self) -> usize {
        self.offset
    }

    fn step(&mut self) -> Option<Result<Frame<'a>, FrameError>> {
        if self.header_pending {
            if self.bytes.is_empty() {
                return None;
            }
            if let Err(e) = check_segment_header(self.bytes) {
                return Some(Err(e));
            }
            self.header_pending = false;
            self.offset = SEGMENT_HEADER_LEN as usize;
        }
        let b = &self.bytes[self.offset..];
        if b.is_empty() {
            return None;
        }
        Some(decode_frame(b).map(|(typ, flags, payload)| {
            let frame = Frame {
                offset: self.offset,
                typ,
                flags,
                payload,
            };
            self.offset = frame.end();
            frame
        }))
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.step();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}

/// Checks the segment header at the start of non-empty `b`.
fn check_segment_header(b: &[u8]) -> Result<(), FrameError> {
    if b.len() < SEGMENT_HEADER_LEN as usize {
        return Err(FrameError::IncompleteSegmentHeader);
    }
    let magic = be_u32(b[..4].try_into().expect("4 bytes"));
    if magic != SEGMENT_MAGIC {
        return Err(FrameError::BadMagic(magic));
    }
    if b[4] != SEGMENT_VERSION {
        return Err(FrameError::UnsupportedVersion(b[4]));
    }
    if b[5..8] != [0, 0, 0] {
        return Err(FrameError::ReservedHeaderBytes);
    }
    Ok(())
}

/// Checks the frame at the start of non-empty `b`; returns its type, flags
/// and payload. The length is checked before the CRC, so a frame cut short
/// is reported as incomplete, not as a checksum mismatch.
fn decode_frame(b: &[u8]) -> Result<(u8, u8, &[u8]), FrameError> {
    if b.len() < FRAME_HEADER_LEN {
        return Err(FrameError::IncompleteFrameHeader(b.len()));
    }
    let (typ, flags) = (b[0], b[1]);
    let len = be_u32(b[2..6].try_into().expect("4 bytes"));
    let stored = be_u32(b[6..10].try_into().expect("4 bytes"));
    let avail = b.len() - FRAME_HEADER_LEN;
    if len as u64 > avail as u64 {
        return Err(FrameError::IncompleteFrame { len, avail });
    }
    let payload = &b[FRAME_HEADER_LEN..FRAME_HEADER_LEN + len as usize];
    let computed = frame_crc(&b[..6], payload);
    if computed != stored {
        return Err(FrameError::Checksum { stored, computed });
    }
    if typ == 0 {
        return Err(FrameError::TypeZero);
    }
    if flags & !FLAG_SNAPPY != 0 {
        return Err(FrameError::UnknownFlags(flags));
    }
    Ok((typ, flags, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment holding frames of the given types and bodies.
    fn segment(frames: &[(u8, &[u8])]) -> Vec<u8> {
        let mut out = segment_header().to_vec();
        let mut enc = FrameEncoder::new();
        for (typ, body) in frames {
            enc.append(*typ, &mut out, |b| b.extend_from_slice(body))
                .unwrap();
        }
        out
    }

    fn bodies(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut dec = Decompressor::new();
        Frames::segment(bytes)
            .map(|f| {
                let f = f.unwrap();
                (f.typ, dec.body(&f).unwrap().to_vec())
            })
            .collect()
    }

    #[test]
    fn roundtrip_and_offsets() {
        let want: Vec<(u8, &[u8])> = vec![(1, b"series"), (2, b""), (3, &[7; 300])];
        let bytes = segment(&want);
        let got = bodies(&bytes);
        assert_eq!(got.len(), 3);
        for ((t, b), (gt, gb)) in want.iter().zip(&got) {
            assert_eq!((t, *b), (gt, gb.as_slice()));
        }
        let mut frames = Frames::segment(&bytes);
        let first = frames.next().unwrap().unwrap();
        assert_eq!(first.offset, SEGMENT_HEADER_LEN as usize);
        assert_eq!(frames.offset(), first.end());
        // Resuming at a frame boundary reads the rest.
        let rest: Vec<_> = Frames::after_header(&bytes[first.end()..])
            .map(|f| f.unwrap().typ)
            .collect();
        assert_eq!(rest, [2, 3]);
        assert!(Frames::segment(&[]).next().is_none());
        assert!(Frames::segment(&segment_header()).next().is_none());
    }

    /// The bytes of `docs/formats/wal.md`, spelled out.
    #[test]
    fn bytes_as_specified() {
        assert_eq!(segment_header(), *b"FPWL\x01\0\0\0");
        let mut out = Vec::new();
        FrameEncoder::new()
            .append(1, &mut out, |b| b.extend_from_slice(b"abc"))
            .unwrap();
        // Snappy raw block of "abc": length 3, one literal of 3 bytes.
        let payload = [3, 0x08, b'a', b'b', b'c'];
        let crc = crc32c::crc32c(&[&[1u8, FLAG_SNAPPY, 0, 0, 0, 5][..], &payload].concat());
        let mut want = vec![1, FLAG_SNAPPY, 0, 0, 0, 5];
        want.extend_from_slice(&u32_be(crc));
        want.extend_from_slice(&payload);
        assert_eq!(out, want);
    }

    #[test]
    fn uncompressed_payload_is_accepted() {
        let mut bytes = segment_header().to_vec();
        let body = b"plain";
        let mut head = vec![2, 0];
        head.extend_from_slice(&u32_be(body.len() as u32));
        let crc = frame_crc(&head, body);
        bytes.extend_from_slice(&head);
        bytes.extend_from_slice(&u32_be(crc));
        bytes.extend_from_slice(body);
        assert_eq!(bodies(&bytes), [(2, body.to_vec())]);
    }

    #[test]
    fn every_cut_is_incomplete_not_damage() {
        let bytes = segment(&[(1, b"abc"), (2, &[9; 100])]);
        let first_end = Frames::segment(&bytes).next().unwrap().unwrap().end();
        for cut in 1..bytes.len() {
            let mut frames = Frames::segment(&bytes[..cut]);
            let err = frames.by_ref().find_map(|f| f.err());
            let good = if cut < SEGMENT_HEADER_LEN as usize {
                0
            } else if cut < first_end {
                SEGMENT_HEADER_LEN as usize
            } else {
                first_end
            };
            match err {
                Some(e) => assert!(e.is_incomplete(), "cut at {cut}: {e}"),
                None => assert!(cut == SEGMENT_HEADER_LEN as usize || cut == first_end),
            }
            assert_eq!(frames.offset(), good, "cut at {cut}");
            assert!(frames.next().is_none(), "ends after an error");
        }
    }

    #[test]
    fn damage_is_not_incomplete() {
        let bytes = segment(&[(1, b"abc")]);
        let h = SEGMENT_HEADER_LEN as usize;
        let check = |at: usize, xor: u8, want: &str| {
            let mut b = bytes.clone();
            b[at] ^= xor;
            let mut frames = Frames::segment(&b);
            let e = frames.next().unwrap().unwrap_err();
            assert!(!e.is_incomplete());
            assert!(e.to_string().starts_with(want), "{e}");
            e
        };
        check(0, 1, "bad segment magic");
        assert!(matches!(
            check(4, 2, "unsupported"),
            FrameError::UnsupportedVersion(3)
        ));
        check(6, 1, "nonzero reserved");
        check(h, 1, "checksum mismatch");
        check(h + FRAME_HEADER_LEN, 0x10, "checksum mismatch");
        // A longer length than the bytes hold reads as a torn frame.
        let mut b = bytes.clone();
        b[h + 2] = 0x7f;
        assert!(Frames::segment(&b)
            .next()
            .unwrap()
            .unwrap_err()
            .is_incomplete());
    }

    #[test]
    fn bad_type_flags_and_snappy_with_valid_crc() {
        let frame = |typ: u8, flags: u8, payload: &[u8]| {
            let mut b = segment_header().to_vec();
            let mut head = vec![typ, flags];
            head.extend_from_slice(&u32_be(payload.len() as u32));
            let crc = frame_crc(&head, payload);
            b.extend_from_slice(&head);
            b.extend_from_slice(&u32_be(crc));
            b.extend_from_slice(payload);
            b
        };
        let b = frame(0, FLAG_SNAPPY, b"x");
        let e = Frames::segment(&b).next().unwrap().unwrap_err();
        assert_eq!(e.to_string(), "record type 0");
        let b = frame(1, 0x02, b"x");
        let e = Frames::segment(&b).next().unwrap().unwrap_err();
        assert_eq!(e.to_string(), "unknown frame flags 0x02");
        let b = frame(1, FLAG_SNAPPY, &[0xff, 0xff, 0xff, 0xff, 0x0f]);
        let f = Frames::segment(&b).next().unwrap().unwrap();
        let e = Decompressor::new().body(&f).unwrap_err();
        assert!(e.to_string().starts_with("snappy"), "{e}");
    }
}
