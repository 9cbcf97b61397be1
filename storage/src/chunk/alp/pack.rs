//! Bit packing: unsigned integers of one width back to back, least
//! significant bit first (`docs/formats/chunks.md`, *Packed values*), so
//! that any value is one unaligned load, a shift and a mask: random access
//! for seeking, and a branch-free loop for bulk decoding.

use crate::encoding::le_u64;

/// Widest packed value. A value then spans at most one 8-byte load plus
/// one byte, and the column tag's width field keeps 63 free to mean
/// "dictionary".
pub(crate) const MAX_WIDTH: u32 = 62;

/// Bits needed to hold `v` (0 for 0).
#[inline]
pub(crate) fn width(v: u64) -> u32 {
    64 - v.leading_zeros()
}

/// Bytes taken by `count` values of `w` bits.
#[inline]
pub(crate) fn packed_len(count: usize, w: u32) -> usize {
    (count * w as usize).div_ceil(8)
}

/// Appends `vals`, each below `2^w` (`w <= MAX_WIDTH`), packed and padded
/// with zero bits to a byte.
pub(crate) fn pack(vals: impl IntoIterator<Item = u64>, w: u32, out: &mut Vec<u8>) {
    debug_assert!(w <= MAX_WIDTH);
    if w == 0 {
        return;
    }
    let mut acc: u128 = 0;
    let mut bits = 0u32;
    for v in vals {
        debug_assert!(v >> w == 0, "{v} does not fit {w} bits");
        acc |= (v as u128) << bits;
        bits += w;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}

/// Value `j` of width `w` (`<= MAX_WIDTH`) of the values packed from byte
/// `at` of `buf`. Bits past the end of `buf` read as zero, so a corrupt
/// index cannot fail.
#[inline(always)]
pub(crate) fn get(buf: &[u8], at: usize, w: u32, j: usize) -> u64 {
    if w == 0 {
        // Constant columns (regular timestamps, repeated values) are common;
        // their region is empty, often at the very end of the chunk.
        return 0;
    }
    let bit = j * w as usize;
    let byte = at + (bit >> 3);
    let shift = (bit & 7) as u32;
    let mut v = load(buf, byte) >> shift;
    if w + shift > 64 {
        // Only widths over 57 spill into a ninth byte.
        v |= (buf.get(byte + 8).copied().unwrap_or(0) as u64) << (64 - shift);
    }
    v & mask(w)
}

/// The low `w` bits set (`w < 64`).
#[inline(always)]
pub(crate) fn mask(w: u32) -> u64 {
    (1u64 << w) - 1
}

/// The 8 bytes at `byte` as a little-endian `u64`, zero-filled past the end.
#[inline(always)]
fn load(buf: &[u8], byte: usize) -> u64 {
    match buf.get(byte..byte + 8) {
        Some(b) => le_u64(b.try_into().expect("8 bytes")),
        None => load_tail(buf, byte),
    }
}

#[cold]
#[inline(never)]
fn load_tail(buf: &[u8], byte: usize) -> u64 {
    let mut b = [0u8; 8];
    if byte < buf.len() {
        let rest = &buf[byte..];
        b[..rest.len()].copy_from_slice(rest);
    }
    le_u64(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pack_then_get(w in 0u32..=MAX_WIDTH, raw in proptest::collection::vec(any::<u64>(), 0..300), lead in 0usize..9) {
            let vals: Vec<u64> = raw.iter().map(|v| v & mask(w)).collect();
            // Packed after `lead` unrelated bytes, as in a chunk.
            let mut buf = vec![0xa5; lead];
            pack(vals.iter().copied(), w, &mut buf);
            prop_assert_eq!(buf.len(), lead + packed_len(vals.len(), w));
            for (j, &v) in vals.iter().enumerate() {
                prop_assert_eq!(get(&buf, lead, w, j), v);
            }
        }
    }

    #[test]
    fn widths() {
        assert_eq!(width(0), 0);
        assert_eq!(width(1), 1);
        assert_eq!(width(7), 3);
        assert_eq!(width(8), 4);
        assert_eq!(width(u64::MAX), 64);
        assert_eq!(packed_len(120, 3), 45);
        assert_eq!(packed_len(0, 62), 0);
        assert_eq!(packed_len(1, 1), 1);
    }

    #[test]
    fn reads_past_the_end_are_zero() {
        let mut buf = Vec::new();
        pack([u64::MAX >> 2; 3], 62, &mut buf);
        assert_eq!(get(&buf, 0, 62, 2), u64::MAX >> 2);
        assert_eq!(get(&buf, 0, 62, 3), 0);
        assert_eq!(get(&buf, 0, 62, 1 << 40), 0);
        assert_eq!(get(&[], 5, 9, 0), 0);
    }
}
