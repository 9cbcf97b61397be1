//! The XOR value column on its own: written by [`XorBuilder`](super::XorBuilder)
//! and, as the fallback for values that are not short decimals, by the
//! `Alp` chunk (`chunk/alp/`), which is why it is not inlined in the builder
//! and the iterator.

use super::super::bstream::{BitReader, BitWriter};

/// The XOR window of a value column writer: leading and trailing zero bits
/// of the last window written; `leading == 0xff` when there is none (at the
/// start, and after the first value, whose window says nothing about the
/// deltas that follow).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub(crate) leading: u8,
    pub(crate) trailing: u8,
}

impl Window {
    pub(crate) const NONE: Window = Window {
        leading: 0xff,
        trailing: 0,
    };
}

/// Appends `x`, a value's bits XORed with the previous value's (0.0's for
/// the first), to an XOR value column (layout in `docs/formats/chunks.md`,
/// *Value column*), updating the window.
#[inline]
pub(crate) fn write_xor(col: &mut BitWriter, w: &mut Window, x: u64) {
    if x == 0 {
        col.write_bit(false);
        return;
    }
    let lead = (x.leading_zeros() as u8).min(31);
    let trail = x.trailing_zeros() as u8;
    if w.leading != 0xff && lead >= w.leading && trail >= w.trailing {
        col.write_bits(0b10, 2);
        let m = 64 - w.leading as u32 - w.trailing as u32;
        col.write_bits(x >> w.trailing, m);
    } else {
        let m = 64 - lead as u32 - trail as u32;
        col.write_bits(0b11, 2);
        col.write_bits(lead as u64, 5);
        // 64 meaningful bits is stored as 0 (only possible with lead == 0).
        col.write_bits((m & 63) as u64, 6);
        col.write_bits(x >> trail, m);
        *w = Window {
            leading: lead,
            trailing: trail,
        };
    }
}

/// A whole XOR value column of `values` (their bits), padded to a byte.
pub(crate) fn encode_values(values: impl IntoIterator<Item = u64>) -> Vec<u8> {
    let mut col = BitWriter::new();
    let mut w = Window::NONE;
    let mut prev = None;
    for vb in values {
        write_xor(&mut col, &mut w, vb ^ prev.unwrap_or(0));
        if prev.is_none() {
            w = Window::NONE;
        }
        prev = Some(vb);
    }
    col.into_bytes()
}

/// Reads an XOR value column value by value (the seekable iterators'
/// decoder; the bulk decoder is `decode::decode_values`).
#[derive(Clone, Debug)]
pub(crate) struct ValueReader {
    r: BitReader,
    /// Values read so far.
    count: usize,
    v: u64,
    leading: u32,
    trailing: u32,
}

impl ValueReader {
    /// A reader of the column at `start..end` of the buffer later passed to
    /// [`ValueReader::next`].
    pub(crate) fn new(start: usize, end: usize) -> Self {
        ValueReader {
            r: BitReader::new(start, end),
            count: 0,
            v: 0,
            leading: 0,
            trailing: 0,
        }
    }

    /// Values read so far.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// The last value read (0.0's bits before the first).
    #[inline]
    pub(crate) fn last(&self) -> u64 {
        self.v
    }

    /// Decodes the next value's bits; `None` on corrupt data or past the end.
    #[inline]
    pub(crate) fn next(&mut self, buf: &[u8]) -> Option<u64> {
        let r = &mut self.r;
        let ones = r.read_prefix(buf, 2)?;
        if ones != 0 {
            if ones == 1 && self.count == 0 {
                return None; // corrupt: no window to reuse yet
            }
            if ones == 2 {
                let lead = r.read_bits(buf, 5)? as u32;
                let mut m = r.read_bits(buf, 6)? as u32;
                if m == 0 {
                    m = 64;
                }
                if lead + m > 64 {
                    return None; // corrupt
                }
                self.leading = lead;
                self.trailing = 64 - lead - m;
            }
            let m = 64 - self.leading - self.trailing;
            let bits = r.read_bits(buf, m)?;
            self.v ^= bits << self.trailing;
        }
        self.count += 1;
        Some(self.v)
    }
}
