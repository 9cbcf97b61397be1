//! Bit streams: most-significant bit first, padded with zero bits to a byte.

use crate::encoding::be_u64;

/// Appends bits to a growable byte vector.
#[derive(Clone, Debug, Default)]
pub(crate) struct BitWriter {
    buf: Vec<u8>,
    /// Free low-order bits in the last byte of `buf` (0 when `buf` is empty or
    /// its last byte is full).
    free: u32,
}

impl BitWriter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The bytes written so far; the last byte is zero-padded.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes written, the last one zero-padded.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }

    pub(crate) fn write_bit(&mut self, bit: bool) {
        self.write_bits(bit as u64, 1);
    }

    /// Writes the low `n` bits of `v` (`n <= 64`), most significant first.
    pub(crate) fn write_bits(&mut self, v: u64, mut n: u32) {
        debug_assert!(n <= 64);
        while n > 0 {
            if self.free == 0 {
                self.buf.push(0);
                self.free = 8;
            }
            let take = self.free.min(n);
            let bits = ((v >> (n - take)) as u8) & ((1u16 << take) - 1) as u8;
            let last = self.buf.last_mut().expect("pushed above");
            *last |= bits << (self.free - take);
            self.free -= take;
            n -= take;
        }
    }

    /// Writes a whole byte (fast path when the stream is byte-aligned).
    pub(crate) fn write_byte(&mut self, b: u8) {
        if self.free == 0 {
            self.buf.push(b);
        } else {
            self.write_bits(b as u64, 8);
        }
    }

    pub(crate) fn write_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.write_byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.write_byte(v as u8);
    }

    pub(crate) fn write_varint(&mut self, v: i64) {
        self.write_uvarint(((v << 1) ^ (v >> 63)) as u64);
    }
}

/// Reads bits from `buf[pos..end]`; the buffer is passed to every call so the
/// reader can live next to the bytes it reads (e.g. in a `'static` iterator).
///
/// Every read returns `None` once the stream runs out: callers end iteration
/// instead of panicking on corrupt input.
#[derive(Clone, Debug)]
pub(crate) struct BitReader {
    pos: usize,
    end: usize,
    /// Buffered bits, left-aligned (the next bit is bit 63).
    acc: u64,
    nbits: u32,
}

impl BitReader {
    /// A reader over `range` of the buffer later passed to the read calls.
    pub(crate) fn new(start: usize, end: usize) -> Self {
        BitReader {
            pos: start,
            end,
            acc: 0,
            nbits: 0,
        }
    }

    #[inline(always)]
    fn refill(&mut self, buf: &[u8]) {
        let end = self.end.min(buf.len());
        if self.pos + 8 <= end {
            // Load 8 bytes at once and keep as many whole bytes as fit.
            let w = be_u64(buf[self.pos..self.pos + 8].try_into().unwrap());
            let take = (64 - self.nbits) / 8; // whole bytes that fit
            if take == 0 {
                return;
            }
            let bits = take * 8;
            let v = if bits == 64 { w } else { w >> (64 - bits) };
            // Place below the buffered bits.
            self.acc |= if bits == 64 {
                v
            } else {
                v << (64 - self.nbits - bits)
            };
            self.nbits += bits;
            self.pos += take as usize;
        } else {
            while self.nbits <= 56 && self.pos < end {
                self.acc |= (buf[self.pos] as u64) << (56 - self.nbits);
                self.nbits += 8;
                self.pos += 1;
            }
        }
    }

    /// Reads `n <= 64` bits as the low bits of the result.
    #[inline(always)]
    pub(crate) fn read_bits(&mut self, buf: &[u8], n: u32) -> Option<u64> {
        debug_assert!(n <= 64);
        if n == 0 {
            return Some(0);
        }
        if self.nbits < n {
            self.refill(buf);
        }
        if self.nbits >= n {
            let v = if n == 64 {
                self.acc
            } else {
                self.acc >> (64 - n)
            };
            self.acc = if n == 64 { 0 } else { self.acc << n };
            self.nbits -= n;
            return Some(v);
        }
        self.read_bits_split(buf, n)
    }

    /// [`BitReader::read_bits`] when the accumulator could not hold all of
    /// `n` bits after a refill.
    #[cold]
    #[inline(never)]
    fn read_bits_split(&mut self, buf: &[u8], n: u32) -> Option<u64> {
        if self.pos >= self.end.min(buf.len()) || n <= 32 {
            return None; // the stream ran out
        }
        // n > 56 and the accumulator could not hold all of it: split.
        let hi_n = n - 32;
        let hi = self.read_bits(buf, hi_n)?;
        let lo = self.read_bits(buf, 32)?;
        Some((hi << 32) | lo)
    }

    #[inline]
    pub(crate) fn read_bit(&mut self, buf: &[u8]) -> Option<bool> {
        self.read_bits(buf, 1).map(|b| b == 1)
    }

    /// Reads consecutive 1 bits, at most `max`, consuming the terminating 0 if
    /// fewer than `max` ones were read. Returns the count of ones.
    #[inline(always)]
    pub(crate) fn read_prefix(&mut self, buf: &[u8], max: u32) -> Option<u32> {
        debug_assert!(max < 32);
        if self.nbits <= max {
            self.refill(buf);
        }
        if self.nbits > max {
            // Fast path: the whole prefix is buffered.
            let ones = self.acc.leading_ones().min(max);
            let used = if ones < max { ones + 1 } else { ones };
            self.acc <<= used;
            self.nbits -= used;
            return Some(ones);
        }
        let mut n = 0;
        while n < max {
            if !self.read_bit(buf)? {
                break;
            }
            n += 1;
        }
        Some(n)
    }

    pub(crate) fn read_uvarint(&mut self, buf: &[u8]) -> Option<u64> {
        let mut x: u64 = 0;
        for i in 0..10 {
            let b = self.read_bits(buf, 8)? as u8;
            if i == 9 && b > 1 {
                return None;
            }
            x |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                return Some(x);
            }
        }
        None
    }

    pub(crate) fn read_varint(&mut self, buf: &[u8]) -> Option<i64> {
        let u = self.read_uvarint(buf)?;
        Some(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
}

/// Bits a [`BitCursor::peek`] always holds: 64 minus the at most 7 bits
/// of the current byte already consumed.
pub(crate) const PEEK_BITS: u32 = 57;

/// Bulk reader over one column: a bit position into a byte slice, read with
/// one unaligned 8-byte load per field instead of a refilled accumulator.
///
/// The column is `buf[start_bit / 8 ..]` up to `end_bit`; the loads may
/// read the bytes after it (the next column, or padding the caller adds so
/// that loads near the end stay on the fast path). Reads never fail: the
/// position moves on regardless, so a decoder checks
/// [`BitCursor::overrun`] once per sample instead of once per field. A
/// field that needed bits past the end leaves the position past the end, so
/// "the stream ran out within this sample" is exactly what `overrun`
/// reports, whatever the bits read past the end were.
#[derive(Clone, Copy)]
pub(crate) struct BitCursor<'a> {
    buf: &'a [u8],
    bit: usize,
    end_bit: usize,
}

impl<'a> BitCursor<'a> {
    /// A cursor over the whole of `buf`.
    #[cfg(test)]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self::within(buf, 0, buf.len())
    }

    /// A cursor over the column `buf[start..end]` (bytes).
    pub(crate) fn within(buf: &'a [u8], start: usize, end: usize) -> Self {
        BitCursor {
            buf,
            bit: start * 8,
            end_bit: end * 8,
        }
    }

    /// The next 64 bits, most significant first; at least [`PEEK_BITS`] of
    /// them are the cursor's (bits past the end of `buf` read as zero).
    #[inline(always)]
    pub(crate) fn peek(&self) -> u64 {
        let byte = self.bit >> 3;
        let w = match self.buf.get(byte..byte + 8) {
            Some(b) => be_u64(b.try_into().expect("8 bytes")),
            None => peek_tail(self.buf, byte),
        };
        w << (self.bit & 7)
    }

    #[inline(always)]
    pub(crate) fn skip(&mut self, n: u32) {
        self.bit += n as usize;
    }

    /// [`BitCursor::skip`] by a `usize`, saving a widening in hot loops.
    #[inline(always)]
    pub(crate) fn skip_wide(&mut self, n: usize) {
        self.bit += n;
    }

    /// Reads `1 <= n <= 64` bits as the low bits of the result.
    #[inline(always)]
    pub(crate) fn read(&mut self, n: u32) -> u64 {
        debug_assert!((1..=64).contains(&n));
        let v = if n <= PEEK_BITS {
            self.peek() >> (64 - n)
        } else {
            read_long(self.buf, self.bit, n)
        };
        self.skip(n);
        v
    }

    /// Bits left in the column.
    #[inline(always)]
    pub(crate) fn left(&self) -> usize {
        self.end_bit.saturating_sub(self.bit)
    }

    /// Whether a read went past the end of the column.
    #[inline(always)]
    pub(crate) fn overrun(&self) -> bool {
        self.bit > self.end_bit
    }

    /// An unsigned LEB128 varint, as [`BitReader::read_uvarint`]; `None` on
    /// an overlong encoding or past the end.
    pub(crate) fn read_uvarint(&mut self) -> Option<u64> {
        let mut x: u64 = 0;
        for i in 0..10 {
            let b = self.read(8) as u8;
            if self.overrun() || (i == 9 && b > 1) {
                return None;
            }
            x |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                return Some(x);
            }
        }
        None
    }

    pub(crate) fn read_varint(&mut self) -> Option<i64> {
        let u = self.read_uvarint()?;
        Some(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
}

// The cold paths of `BitCursor` take its fields, not a reference to it, so
// that a decoding loop can keep its cursor in registers.

/// [`BitCursor::peek`]'s load within 8 bytes of the end, zero-filled.
#[cold]
#[inline(never)]
fn peek_tail(buf: &[u8], byte: usize) -> u64 {
    let mut b = [0u8; 8];
    if byte < buf.len() {
        let rest = &buf[byte..];
        b[..rest.len()].copy_from_slice(rest);
    }
    be_u64(b)
}

/// [`BitCursor::read`] of more bits than one peek holds (without moving
/// the cursor): two peeks.
#[inline(never)]
fn read_long(buf: &[u8], bit: usize, n: u32) -> u64 {
    let mut c = BitCursor {
        buf,
        bit,
        end_bit: 0,
    };
    let hi = c.peek() >> 32;
    c.skip(32);
    let lo_n = n - 32;
    let lo = c.peek() >> (64 - lo_n);
    (hi << lo_n) | lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_bits() {
        let mut w = BitWriter::new();
        let items: Vec<(u64, u32)> = (0..500u64)
            .map(|i| {
                let n = (i * 7 % 64) as u32 + 1;
                let v = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let v = if n == 64 { v } else { v & ((1 << n) - 1) };
                (v, n)
            })
            .collect();
        for &(v, n) in &items {
            w.write_bits(v, n);
        }
        w.write_uvarint(u64::MAX);
        w.write_varint(i64::MIN);
        let buf = w.bytes().to_vec();
        let mut r = BitReader::new(0, buf.len());
        for &(v, n) in &items {
            assert_eq!(r.read_bits(&buf, n), Some(v), "n={n}");
        }
        assert_eq!(r.read_uvarint(&buf), Some(u64::MAX));
        assert_eq!(r.read_varint(&buf), Some(i64::MIN));
        // Only padding remains (< 8 bits), then underflow.
        assert_eq!(r.read_bits(&buf, 8), None);
    }

    #[test]
    fn cursor_matches_reader() {
        let mut w = BitWriter::new();
        let items: Vec<(u64, u32)> = (0..700u64)
            .map(|i| {
                let n = (i * 13 % 64) as u32 + 1;
                let v = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - n);
                (v, n)
            })
            .collect();
        for &(v, n) in &items {
            w.write_bits(v, n);
        }
        w.write_uvarint(300);
        w.write_varint(-5);
        let buf = w.bytes().to_vec();
        let mut c = BitCursor::new(&buf);
        for &(v, n) in &items {
            assert_eq!(c.read(n), v, "n={n}");
            assert!(!c.overrun());
        }
        assert_eq!(c.read_uvarint(), Some(300));
        assert_eq!(c.read_varint(), Some(-5));
        // Padding reads as zero; past it the cursor reports the overrun.
        let pad = (c.end_bit - c.bit) as u32;
        if pad > 0 {
            assert_eq!(c.read(pad), 0);
        }
        assert!(!c.overrun());
        assert_eq!(c.read(1), 0);
        assert!(c.overrun());
        assert_eq!(c.read_uvarint(), None);
        assert_eq!(BitCursor::new(&[]).read_uvarint(), None);
        // A column followed by other bytes reads the same and overruns at
        // the same point.
        let mut more = buf.clone();
        more.extend([0xff; 9]);
        let mut c = BitCursor::within(&more, 0, buf.len());
        for &(v, n) in &items {
            assert_eq!(c.read(n), v, "n={n}");
        }
        assert_eq!(c.read_uvarint(), Some(300));
        assert_eq!(c.read_varint(), Some(-5));
        let pad = (c.end_bit - c.bit) as u32;
        if pad > 0 {
            c.read(pad);
        }
        assert!(!c.overrun());
        c.read(1);
        assert!(c.overrun());
    }
}
