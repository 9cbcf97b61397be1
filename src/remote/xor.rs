//! Prometheus's XOR chunk encoding (`tsdb/chunkenc/xor.go`), which streamed
//! remote read sends. Storage keeps its own chunk format, so answers are
//! re-encoded here from decoded samples.
//!
//! Layout: a big-endian u16 sample count, then a bit stream. The first
//! sample is a signed varint timestamp and the raw 64 value bits; the second
//! an unsigned varint time delta and an XOR-coded value; later samples a
//! bucketed delta-of-delta and an XOR-coded value.

/// Most samples one chunk holds, as Prometheus cuts head chunks.
pub const SAMPLES_PER_CHUNK: usize = 120;

/// A bit writer, most significant bit first.
struct BitWriter {
    bytes: Vec<u8>,
    /// Free bits in the last byte (0 = need a new byte).
    free: u8,
}

impl BitWriter {
    fn bit(&mut self, one: bool) {
        if self.free == 0 {
            self.bytes.push(0);
            self.free = 8;
        }
        if one {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 1 << (self.free - 1);
        }
        self.free -= 1;
    }

    /// The low `n` bits of `v`, highest first.
    fn bits(&mut self, v: u64, n: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }

    fn byte(&mut self, b: u8) {
        self.bits(u64::from(b), 8);
    }
}

/// Encodes samples (ascending time) into XOR chunks of at most
/// [`SAMPLES_PER_CHUNK`]. Reused across series to keep its buffers.
pub struct XorEncoder {
    w: BitWriter,
    n: u16,
    t: i64,
    t_delta: u64,
    v: f64,
    leading: u8,
    trailing: u8,
}

impl Default for XorEncoder {
    fn default() -> Self {
        XorEncoder {
            w: BitWriter {
                bytes: vec![0, 0],
                free: 0,
            },
            n: 0,
            t: 0,
            t_delta: 0,
            v: 0.0,
            leading: 0xff,
            trailing: 0,
        }
    }
}

impl XorEncoder {
    /// Number of samples in the open chunk.
    pub fn len(&self) -> usize {
        usize::from(self.n)
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Adds a sample to the open chunk.
    pub fn push(&mut self, t: i64, v: f64) {
        match self.n {
            0 => {
                let mut buf = [0u8; 10];
                let len = put_uvarint(&mut buf, zigzag(t));
                for &b in &buf[..len] {
                    self.w.byte(b);
                }
                self.w.bits(v.to_bits(), 64);
            }
            1 => {
                let delta = t.wrapping_sub(self.t) as u64;
                let mut buf = [0u8; 10];
                let len = put_uvarint(&mut buf, delta);
                for &b in &buf[..len] {
                    self.w.byte(b);
                }
                self.t_delta = delta;
                self.write_value(v);
            }
            _ => {
                let delta = t.wrapping_sub(self.t) as u64;
                let dod = delta.wrapping_sub(self.t_delta) as i64;
                match dod {
                    0 => self.w.bit(false),
                    d if in_range(d, 14) => {
                        self.w.bits(0b10, 2);
                        self.w.bits(d as u64, 14);
                    }
                    d if in_range(d, 17) => {
                        self.w.bits(0b110, 3);
                        self.w.bits(d as u64, 17);
                    }
                    d if in_range(d, 20) => {
                        self.w.bits(0b1110, 4);
                        self.w.bits(d as u64, 20);
                    }
                    d => {
                        self.w.bits(0b1111, 4);
                        self.w.bits(d as u64, 64);
                    }
                }
                self.t_delta = delta;
                self.write_value(v);
            }
        }
        self.t = t;
        self.v = v;
        self.n += 1;
    }

    fn write_value(&mut self, v: f64) {
        let delta = v.to_bits() ^ self.v.to_bits();
        if delta == 0 {
            self.w.bit(false);
            return;
        }
        self.w.bit(true);
        // Clamped so the count fits the 5-bit field.
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.w.bit(false);
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            self.w.bits(delta >> self.trailing, sig);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        self.w.bit(true);
        self.w.bits(u64::from(leading), 5);
        let sig = 64 - u32::from(leading) - u32::from(trailing);
        // 64 significant bits are written as 0: the field is 6 bits wide.
        self.w.bits(u64::from(sig), 6);
        self.w.bits(delta >> trailing, sig);
    }

    /// Closes the open chunk and returns its bytes; the encoder starts a
    /// new chunk.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.w.bytes);
        bytes[..2].copy_from_slice(&self.n.to_be_bytes());
        *self = XorEncoder::default();
        bytes
    }
}

/// Whether `x` fits the signed `nbits` bucket as upstream defines it:
/// `-(2^(n-1) - 1) <= x <= 2^(n-1)`.
fn in_range(x: i64, nbits: u32) -> bool {
    -((1i64 << (nbits - 1)) - 1) <= x && x <= 1i64 << (nbits - 1)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Go's `binary.PutUvarint`.
pub(crate) fn put_uvarint(buf: &mut [u8; 10], mut v: u64) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        buf[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    buf[i] = v as u8;
    i + 1
}

/// Why an XOR chunk did not decode.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid XOR chunk: {0}")]
pub struct XorDecodeError(&'static str);

/// Decodes an XOR chunk into `(t, v)` pairs; written from the upstream
/// layout to check the encoder and to read what remote read returns.
pub fn decode(data: &[u8]) -> Result<Vec<(i64, f64)>, XorDecodeError> {
    if data.len() < 2 {
        return Err(XorDecodeError("shorter than its header"));
    }
    let n = usize::from(u16::from_be_bytes([data[0], data[1]]));
    let mut r = BitReader { data, pos: 16 };
    let mut out = Vec::with_capacity(n);
    let (mut t, mut delta, mut v) = (0i64, 0u64, 0u64);
    let (mut leading, mut trailing) = (0u32, 0u32);
    for i in 0..n {
        match i {
            0 => {
                let z = r.uvarint()?;
                t = ((z >> 1) as i64) ^ -((z & 1) as i64);
                v = r.bits(64)?;
            }
            1 => {
                delta = r.uvarint()?;
                t = t.wrapping_add(delta as i64);
            }
            _ => {
                let mut prefix = 0;
                while prefix < 4 && r.bits(1)? == 1 {
                    prefix += 1;
                }
                let width = [0, 14, 17, 20, 64][prefix];
                let dod = if width == 0 {
                    0
                } else {
                    let raw = r.bits(width)?;
                    if width == 64 {
                        raw as i64
                    } else if raw > 1 << (width - 1) {
                        // Upstream's sign rule: values above 2^(n-1) are negative.
                        raw as i64 - (1i64 << width)
                    } else {
                        raw as i64
                    }
                };
                delta = (delta as i64).wrapping_add(dod) as u64;
                t = t.wrapping_add(delta as i64);
            }
        }
        if i > 0 && r.bits(1)? == 1 {
            if r.bits(1)? == 1 {
                leading = r.bits(5)? as u32;
                let mut sig = r.bits(6)? as u32;
                if sig == 0 {
                    sig = 64;
                }
                trailing = 64 - leading - sig;
            }
            let sig = 64 - leading - trailing;
            v ^= r.bits(sig)? << trailing;
        }
        out.push((t, f64::from_bits(v)));
    }
    Ok(out)
}

struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits.
    pos: usize,
}

impl BitReader<'_> {
    fn bits(&mut self, n: u32) -> Result<u64, XorDecodeError> {
        let mut v = 0u64;
        for _ in 0..n {
            let byte = *self
                .data
                .get(self.pos / 8)
                .ok_or(XorDecodeError("bit stream ends early"))?;
            v = (v << 1) | u64::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Ok(v)
    }

    fn uvarint(&mut self) -> Result<u64, XorDecodeError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.bits(8)?;
            if shift == 63 && b > 1 {
                return Err(XorDecodeError("varint overflows 64 bits"));
            }
            v |= (b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(XorDecodeError("varint overflows 64 bits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
        let mut e = XorEncoder::default();
        for &(t, v) in samples {
            e.push(t, v);
        }
        e.finish()
    }

    #[test]
    fn known_bytes() {
        // Worked by hand from the upstream layout: count 2; t=1 -> zigzag 2;
        // v=1.0 raw; delta 10 -> 0x0a; value unchanged -> one 0 bit.
        let got = encode(&[(1, 1.0), (11, 1.0)]);
        let mut want = vec![0x00, 0x02, 0x02];
        want.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
        want.push(0x0a);
        want.push(0x00);
        assert_eq!(got, want);
    }

    #[test]
    fn matches_a_chunk_written_by_prometheus() {
        // One sample (t=7200000, v=12000) as Prometheus's chunk writer
        // stores it (after prometheus/prometheus#14854 dropped a stray
        // trailing zero byte).
        let upstream = b"\x00\x01\x80\xF4\xEE\x06\x40\xC7\x70\x00\x00\x00\x00\x00";
        assert_eq!(encode(&[(7_200_000, 12_000.0)]), upstream.to_vec());
        assert_eq!(decode(upstream).unwrap(), vec![(7_200_000, 12_000.0)]);
    }

    #[test]
    fn dod_buckets_and_value_windows() {
        let samples = vec![
            (-5, 0.0),
            (10, 1.5),
            (25, 1.5),       // dod 0
            (1000, -2.25),   // 14-bit
            (50_000, 1e300), // 17-bit
            (600_000, f64::NAN),
            (i64::MAX / 4, 3.0), // 64-bit
            (i64::MAX / 4 + 1, storage::stale_nan()),
            (i64::MAX / 4 + 2, 3.0),
        ];
        let got = decode(&encode(&samples)).unwrap();
        assert_eq!(got.len(), samples.len());
        for (a, b) in got.iter().zip(&samples) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1.to_bits(), b.1.to_bits());
        }
    }

    #[test]
    fn bucket_edges_match_upstream_ranges() {
        assert!(in_range(8192, 14) && !in_range(8193, 14));
        assert!(in_range(-8191, 14) && !in_range(-8192, 14));
        // The edges round-trip.
        let mut s = vec![(0, 1.0), (100, 1.0)];
        let mut t = 100i64;
        let mut d = 100i64;
        for dod in [
            8192, -8191, 8193, -8192, 65536, -65535, 524288, -524287, 524289,
        ] {
            d += dod;
            t += d;
            s.push((t, 1.0));
        }
        let got = decode(&encode(&s)).unwrap();
        assert_eq!(got, s);
    }

    #[test]
    fn encoder_is_reusable() {
        let mut e = XorEncoder::default();
        e.push(1, 1.0);
        e.push(2, 2.0);
        let a = e.finish();
        assert!(e.is_empty());
        e.push(1, 1.0);
        e.push(2, 2.0);
        assert_eq!(e.finish(), a);
    }

    #[test]
    fn truncated_chunk_is_an_error() {
        let bytes = encode(&[(1, 1.0), (2, 2.0), (3, 7.0)]);
        assert!(decode(&bytes[..bytes.len() - 2]).is_err());
        assert!(decode(&[0]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(start in -1_000_000_000i64..1_000_000_000, steps in proptest::collection::vec((1i64..10_000_000, any::<u64>()), 1..120)) {
            let mut t = start;
            let mut s = Vec::new();
            for (dt, bits) in steps {
                s.push((t, f64::from_bits(bits)));
                t += dt;
            }
            let got = decode(&encode(&s)).unwrap();
            prop_assert_eq!(got.len(), s.len());
            for (a, b) in got.iter().zip(&s) {
                prop_assert_eq!(a.0, b.0);
                prop_assert_eq!(a.1.to_bits(), b.1.to_bits());
            }
        }
    }
}
