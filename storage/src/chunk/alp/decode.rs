//! Bulk decoding of an `Alp` chunk (`Chunk::read_into`): the query hot
//! path. Each column is one tight loop over its packed values, written by
//! index into slots sized once per chunk.

use super::decimal::pow10;
use super::header::{parse_header, Values};
use crate::chunk::xor::decode_values;

/// Chunks up to this many bytes (nearly all: tens of bytes) are decoded
/// from a zero-padded copy on the stack, so that the 8-byte loads of the
/// last packed values stay on the fast path.
const PADDED_CHUNK: usize = 512;

/// Appends the samples with `mint <= t <= maxt` of the `Alp` chunk `b` to
/// `out`: the same samples as iterating it (stopping at the first sample
/// after `maxt`), nothing for a chunk that does not parse.
pub(crate) fn decode_into(b: &[u8], mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
    if b.len() <= PADDED_CHUNK {
        let mut padded = [0u8; PADDED_CHUNK + 16];
        padded[..b.len()].copy_from_slice(b);
        decode_padded(b, &padded, mint, maxt, out);
    } else {
        decode_padded(b, b, mint, maxt, out);
    }
}

/// [`decode_into`] of the chunk `b`, read from `buf`: `b` followed by any
/// zero bytes (packed values read past a region's end as zero bits either
/// way).
#[inline(never)]
fn decode_padded(b: &[u8], buf: &[u8], mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
    let Ok(h) = parse_header(b) else {
        return;
    };
    let Some(cols) = h.columns else {
        return;
    };
    let n = h.num_samples;
    let base = out.len();
    out.reserve(n);
    let slots = &mut out.spare_capacity_mut()[..n];
    cols.ts.decode(buf, n, |k, t| {
        slots[k].write((t, 0.0));
    });
    // SAFETY: the timestamp column wrote every one of the `n` slots (its
    // `decode` calls the sink for each `k` in `0..n`).
    unsafe { out.set_len(base + n) };
    let samples = &mut out[base..];
    let mut decoded = n;
    match cols.values {
        Values::Decimal {
            exp,
            ints,
            exceptions,
        } => {
            // One loop per direction of the exponent, each one IEEE
            // operation per value.
            let p = pow10(exp);
            if exp >= 0 {
                ints.decode(buf, n, |k, i| samples[k].1 = i as f64 * p);
            } else {
                ints.decode(buf, n, |k, i| samples[k].1 = i as f64 / p);
            }
            let mut c = exceptions.cursor();
            while let Some((pos, bits)) = c.next(b) {
                if let Some(s) = samples.get_mut(pos) {
                    s.1 = f64::from_bits(bits);
                }
            }
        }
        Values::Xor { start, end } => decoded = decode_values(buf, start..end, 0, samples),
    }
    // Usually the whole chunk is in range: one branch-free pass over the
    // timestamps says so, and nothing needs to move.
    let inside = samples[..decoded]
        .iter()
        .fold(true, |ok, s| ok & (s.0 >= mint) & (s.0 <= maxt));
    if inside {
        out.truncate(base + decoded);
        return;
    }
    // Keep the range in place, as iteration would yield it.
    let mut kept = 0;
    for r in 0..decoded {
        let s = samples[r];
        if s.0 > maxt {
            break;
        }
        if s.0 >= mint {
            samples[kept] = s;
            kept += 1;
        }
    }
    out.truncate(base + kept);
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bits, samples};
    use super::super::{encode, AlpIter};
    use super::*;
    use crate::chunk::testing;
    use crate::chunk::{ChunkBytes, Encoding};
    use proptest::prelude::*;

    /// `decode_into` (through `Chunk::read_into`) against the iterator,
    /// which stops at the first sample after the range; see
    /// [`testing::matches_reference`].
    fn matches_reference(
        data: &[u8],
        flips: &[(prop::sample::Index, u8)],
        cut: prop::sample::Index,
        ranges: &[(i64, i64)],
    ) -> Result<(), TestCaseError> {
        let prefix = [(7, 7.0)];
        testing::matches_reference(
            Encoding::Alp,
            data,
            flips,
            cut,
            ranges,
            &prefix,
            |d, lo, hi, out| {
                out.extend(
                    AlpIter::new(d)
                        .take_while(|s| s.0 <= hi)
                        .filter(|s| s.0 >= lo),
                )
            },
        )
    }

    proptest! {
        #[test]
        fn decode_into_matches_iterator(s in samples(), a in any::<prop::sample::Index>(), z in any::<prop::sample::Index>(), off in -1i64..2, flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4), cut in any::<prop::sample::Index>()) {
            let data = encode(&s).unwrap();
            let mint = s[a.index(s.len())].0.saturating_add(off);
            let maxt = s[z.index(s.len())].0.saturating_add(off);
            let ranges = [(i64::MIN, i64::MAX), (mint, maxt), (mint, i64::MAX)];
            matches_reference(&data, &flips, cut, &ranges)?;
        }

        #[test]
        fn random_bytes_never_panic(d in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut got = Vec::new();
            decode_into(&d, i64::MIN, i64::MAX, &mut got);
            let want: Vec<(i64, f64)> = AlpIter::new(ChunkBytes::from_vec(d)).collect();
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
