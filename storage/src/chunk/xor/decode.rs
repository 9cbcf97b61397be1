//! Bulk decoding of a whole chunk (`Chunk::read_into`): the query hot path.

use super::super::bstream::{BitCursor, PEEK_BITS};
use super::super::ChunkBytes;
use super::header::{parse_header, Header};
use super::iter::XorIter;
use super::{DOD_BUCKETS, DOD_ESCAPE_ONES};
use std::mem::MaybeUninit;

/// Chunks up to this many bytes are decoded from a padded copy on the stack.
const PADDED_CHUNK: usize = 1024;
/// Chunks up to this many bytes (most 120-sample chunks: ~1.5-2.5 bytes a
/// sample) get a smaller copy.
const SMALL_CHUNK: usize = 376;

/// Appends the samples with `mint <= t <= maxt` of the `Xor` chunk `b` to
/// `out`: the same samples as iterating it, stopping at `maxt`, at the end
/// or at corrupt data.
///
/// Decodes column by column: all timestamps first, written by index into
/// slots sized once per chunk, then the values into those slots. Each loop
/// keeps only its own column's state and reads each field with one load
/// ([`BitCursor`]); the common one-bit cases (delta-of-delta 0, value
/// unchanged) are tested first.
pub(crate) fn decode_into(b: &[u8], mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
    // Small chunks (nearly all) are copied next to zero padding so that the
    // 8-byte loads near the end of a column stay on the fast path; the
    // smaller the copy, the less there is to zero.
    if b.len() <= SMALL_CHUNK {
        decode_copied::<{ SMALL_CHUNK + 8 }>(b, mint, maxt, out);
    } else if b.len() <= PADDED_CHUNK {
        decode_copied::<{ PADDED_CHUNK + 8 }>(b, mint, maxt, out);
    } else {
        decode_padded(b, b, mint, maxt, out);
    }
}

/// [`decode_padded`] of `b` copied into `N` zeroed bytes (`b` is at least
/// 8 bytes shorter).
#[inline(always)]
fn decode_copied<const N: usize>(b: &[u8], mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
    let mut padded = [0u8; N];
    padded[..b.len()].copy_from_slice(b);
    decode_padded(b, &padded[..b.len() + 8], mint, maxt, out);
}

/// [`decode_into`] of the chunk `b`, read from `buf`: `b` followed by any
/// bytes.
#[inline(never)]
fn decode_padded(b: &[u8], buf: &[u8], mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
    let Ok(h) = parse_header(b) else {
        return;
    };
    let n = h.num_samples;
    let base = out.len();
    out.reserve(n);
    let Some((skipped, taken)) =
        decode_timestamps(buf, &h, mint, maxt, &mut out.spare_capacity_mut()[..n])
    else {
        // Timestamps going backwards (corrupt data): the selected samples
        // are not one run, let the sample-by-sample decoder sort it out.
        XorIter::new(ChunkBytes::from_vec(b.to_vec())).read_into(mint, maxt, out);
        return;
    };
    // SAFETY: `decode_timestamps` initialised the first `taken` slots of
    // the spare capacity, which starts at `base`.
    unsafe { out.set_len(base + taken) };
    let decoded = decode_values(buf, h.ts_end..b.len(), skipped, &mut out[base..]);
    out.truncate(base + decoded);
}

/// The timestamp column of [`decode_into`]: initialises the first `slots`,
/// in order, with the timestamps in `[mint, maxt]` and a placeholder
/// value; `slots` has room for every sample of the chunk. Returns how many
/// samples were skipped before `mint` and how many slots were initialised,
/// or `None` if a timestamp before `mint` follows one that was taken.
#[inline(always)]
fn decode_timestamps(
    buf: &[u8],
    h: &Header,
    mint: i64,
    maxt: i64,
    slots: &mut [MaybeUninit<(i64, f64)>],
) -> Option<(usize, usize)> {
    let n = h.num_samples;
    // Samples before `mint`: decoded for the column state, not returned.
    let mut skipped = 0usize;
    // Slots written; never more than the `n` there are.
    let mut k = 0usize;
    let mut ts = BitCursor::within(buf, h.ts_start, h.ts_end);
    macro_rules! take {
        ($t:expr) => {{
            let t: i64 = $t;
            if t > maxt {
                return Some((skipped, k));
            } else if t >= mint {
                slots[k].write((t, 0.0));
                k += 1;
            } else if k == 0 {
                skipped += 1;
            } else {
                return None;
            }
        }};
    }
    if n == 0 {
        return Some((0, 0));
    }
    let Some(mut t) = ts.read_varint() else {
        return Some((0, 0));
    };
    take!(t);
    if n == 1 {
        return Some((skipped, k));
    }
    let Some(d) = ts.read_uvarint() else {
        return Some((skipped, k));
    };
    let mut delta = d as i64;
    t = t.wrapping_add(delta);
    take!(t);
    let mut i = 2;
    while i < n {
        let w = ts.peek();
        if (w as i64) >= 0 {
            // Each leading zero bit is a delta-of-delta of 0: a run of
            // samples at the same interval, taken with one load.
            let run = (w.leading_zeros().min(PEEK_BITS) as usize)
                .min(n - i)
                .min(ts.left());
            if run == 0 {
                break; // the column ran out
            }
            ts.skip(run as u32);
            i += run;
            // A run of increasing timestamps wholly inside the range (every
            // run but those at the range's edges) is written without
            // per-sample range checks.
            let last = delta.checked_mul(run as i64).and_then(|d| t.checked_add(d));
            if let Some(last) = last {
                if delta > 0 && t + delta >= mint && last <= maxt {
                    // `k + run <= i <= n`: one bounds check for the run.
                    for slot in &mut slots[k..k + run] {
                        t += delta;
                        slot.write((t, 0.0));
                    }
                    k += run;
                    continue;
                }
            }
            for _ in 0..run {
                t = t.wrapping_add(delta);
                take!(t);
            }
        } else {
            let ones = w.leading_ones().min(DOD_ESCAPE_ONES);
            let dod = if ones < DOD_ESCAPE_ONES {
                let bits = DOD_BUCKETS[ones as usize - 1].1;
                // Payload right after the prefix and its zero; at most
                // 5 + 24 bits, within one peek.
                let raw = ((w << (ones + 1)) as i64) >> (64 - bits);
                ts.skip(ones + 1 + bits);
                raw
            } else {
                ts.skip(DOD_ESCAPE_ONES);
                ts.read(64) as i64
            };
            if ts.overrun() {
                break;
            }
            delta = delta.wrapping_add(dod);
            t = t.wrapping_add(delta);
            take!(t);
            i += 1;
        }
    }
    Some((skipped, k))
}

/// The value column `buf[col]` of [`decode_into`]: decodes the values of
/// `skipped` samples, then one into each of `slots`. Returns how many slots
/// got their value before the column ended or turned out corrupt.
#[inline(always)]
pub(crate) fn decode_values(
    buf: &[u8],
    col: std::ops::Range<usize>,
    skipped: usize,
    slots: &mut [(i64, f64)],
) -> usize {
    if skipped + slots.len() == 0 {
        return 0;
    }
    let mut vals = ValueDecoder {
        cur: BitCursor::within(buf, col.start, col.end),
        v: 0,
        trailing: 0,
        m: 64,
    };
    let Some(v0) = vals.next(true) else {
        return 0;
    };
    if skipped == 0 {
        slots[0].1 = f64::from_bits(v0);
        return 1 + vals.fill(&mut slots[1..]);
    }
    for _ in 1..skipped {
        if vals.next(false).is_none() {
            return 0;
        }
    }
    vals.fill(slots)
}

/// The value column's state in [`decode_into`].
#[derive(Clone, Copy)]
struct ValueDecoder<'a> {
    cur: BitCursor<'a>,
    /// The last value's bits.
    v: u64,
    /// The current XOR window: trailing zeros and meaningful bits.
    trailing: u32,
    m: u32,
}

impl ValueDecoder<'_> {
    /// Decodes a value into each slot after the first value of the chunk;
    /// returns how many were decoded before the column ended or turned out
    /// corrupt (the rest of the slots then hold garbage).
    ///
    /// Optimistic: the loop does not check for the end of the column per
    /// value, only once after it; reads past the end are harmless (see
    /// [`BitCursor`]). If it did run past the end, or met an invalid
    /// window, (truncated or corrupt data, rare) the values are decoded
    /// again from the start with a check per value, for exactly the
    /// reference's result.
    fn fill(&mut self, slots: &mut [(i64, f64)]) -> usize {
        let start = *self;
        if self.fill_unchecked(slots) && !self.cur.overrun() {
            return slots.len();
        }
        *self = start;
        for (j, slot) in slots.iter_mut().enumerate() {
            match self.next(false) {
                Some(v) => slot.1 = f64::from_bits(v),
                None => return j,
            }
        }
        slots.len()
    }

    /// The loop of [`ValueDecoder::fill`], without the checks for the end
    /// of the column; `false` if it met an invalid window (the state is
    /// then unspecified).
    #[inline(always)]
    fn fill_unchecked(&mut self, slots: &mut [(i64, f64)]) -> bool {
        let done = self.fill_narrow(slots);
        for slot in &mut slots[done..] {
            match self.step(false) {
                Some(v) => slot.1 = f64::from_bits(v),
                None => return false,
            }
        }
        true
    }

    /// The start of [`ValueDecoder::fill_unchecked`] while the XOR windows
    /// are narrow enough (at most 44 bits: nearly always) that a value's
    /// control bits and payload come with one peek; returns how many slots
    /// it filled. Stops before a wider window (or an invalid one), which
    /// the general loop then decodes.
    ///
    /// The state is kept in locals (registers) with the window in the form
    /// its use wants: a value XORs in `((w << control) >> lead) & mask`, the
    /// payload moved from after the control bits straight to its place.
    #[inline(always)]
    fn fill_narrow(&mut self, slots: &mut [(i64, f64)]) -> usize {
        /// Widest window whose payload comes with its `11` control bits
        /// in one peek: `13 + m <= PEEK_BITS`.
        const NARROW: u32 = PEEK_BITS - 13;
        if self.m > NARROW {
            return 0;
        }
        let mut cur = self.cur;
        let mut v = self.v;
        // The window as `m` and `trailing` is restored after the loop.
        let mut lead = 64 - self.m - self.trailing;
        let mut mask = window_mask(self.m, self.trailing);
        let mut advance = 2 + self.m as usize;
        let mut done = slots.len();
        let mut left = slots.iter_mut();
        while let Some(slot) = left.next() {
            let w = cur.peek();
            if (w as i64) >= 0 {
                // `0`: the value repeats.
                cur.skip(1);
            } else if (w << 1) as i64 >= 0 {
                // `10`: XOR in the current window.
                cur.skip_wide(advance);
                v ^= ((w << 2) >> lead) & mask;
            } else {
                // `11`: 5 bits leading zeros, 6 bits length (0 means 64).
                let l = (w << 2 >> 59) as u32;
                let len = (w << 7 >> 58) as u32;
                if len == 0 || len > NARROW || l + len > 64 {
                    // This slot and those after it are left.
                    done -= left.len() + 1;
                    break;
                }
                lead = l;
                mask = window_mask(len, 64 - l - len);
                advance = 2 + len as usize;
                cur.skip(13 + len);
                v ^= ((w << 13) >> lead) & mask;
            }
            slot.1 = f64::from_bits(v);
        }
        self.cur = cur;
        self.v = v;
        self.m = advance as u32 - 2;
        self.trailing = 64 - lead - self.m;
        done
    }

    /// The next value's bits; `None` on corrupt data or past the end.
    /// `first`: the chunk's first value, which has no window to reuse.
    #[inline(always)]
    fn next(&mut self, first: bool) -> Option<u64> {
        let v = self.step(first)?;
        if self.cur.overrun() {
            return None;
        }
        Some(v)
    }

    /// [`ValueDecoder::next`] without the check for the end of the column.
    #[inline(always)]
    fn step(&mut self, first: bool) -> Option<u64> {
        let w = self.cur.peek();
        if (w as i64) >= 0 {
            // `0`: the value repeats.
            self.cur.skip(1);
        } else {
            let (rest, control) = if (w << 1) as i64 >= 0 {
                // `10`: XOR in the current window.
                if first {
                    return None;
                }
                (w << 2, 2)
            } else {
                // `11`: 5 bits leading zeros, 6 bits length (0 means 64).
                let lead = (w << 2 >> 59) as u32;
                let m = match (w << 7 >> 58) as u32 {
                    0 => 64,
                    m => m,
                };
                if lead + m > 64 {
                    return None;
                }
                self.trailing = 64 - lead - m;
                self.m = m;
                (w << 13, 13)
            };
            let m = self.m;
            let bits = if control + m <= PEEK_BITS {
                // The payload came with the control bits.
                self.cur.skip(control + m);
                rest >> (64 - m)
            } else {
                self.cur.skip(control);
                self.cur.read(m)
            };
            self.v ^= bits << self.trailing;
        }
        Some(self.v)
    }
}

/// The bits of an XOR window of `m >= 1` bits above `trailing` zeros.
#[inline(always)]
fn window_mask(m: u32, trailing: u32) -> u64 {
    (u64::MAX >> (64 - m)) << trailing
}

#[cfg(test)]
mod tests {
    use super::super::testing::samples;
    use super::*;
    use crate::chunk::testing::{self, bits, Rng};
    use crate::chunk::{Chunk, Encoding, XorBuilder};
    use proptest::prelude::*;

    /// `decode_into` (through `Chunk::read_into`) against the reference
    /// decoder; see [`testing::matches_reference`].
    fn matches_reference(
        data: &[u8],
        flips: &[(prop::sample::Index, u8)],
        cut: prop::sample::Index,
        ranges: &[(i64, i64)],
        prefix: &[(i64, f64)],
    ) -> Result<(), TestCaseError> {
        testing::matches_reference(
            Encoding::Xor,
            data,
            flips,
            cut,
            ranges,
            prefix,
            |d, lo, hi, out| XorIter::new(d).read_into(lo, hi, out),
        )
    }

    proptest! {
        #[test]
        fn decode_into_matches_reference(s in samples(), a in any::<prop::sample::Index>(), z in any::<prop::sample::Index>(), off in -1i64..2, flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4), cut in any::<prop::sample::Index>()) {
            let mut b = XorBuilder::new();
            for &(t, v) in &s {
                b.append(t, v);
            }
            let data = b.encode();
            let mint = s[a.index(s.len())].0.saturating_add(off);
            let maxt = s[z.index(s.len())].0.saturating_add(off);
            let ranges = [(i64::MIN, i64::MAX), (mint, maxt), (mint, i64::MAX)];
            matches_reference(&data, &flips, cut, &ranges, &[(7, 7.0)])?;
        }

        #[test]
        fn decode_into_regular_runs(n in 1usize..400, jitter in proptest::collection::vec((any::<prop::sample::Index>(), -5i64..5), 0..4), inc in prop_oneof![Just(0.0), Just(1.0), 0.0f64..1e6], a in any::<prop::sample::Index>(), z in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
            // Long runs of zero delta-of-delta, as regular scrapes give.
            let mut s: Vec<(i64, f64)> = (0..n as i64).map(|i| (1_000 + i * 10_000, i as f64 * inc)).collect();
            for (i, j) in jitter {
                let i = i.index(n);
                s[i].0 += j;
            }
            let mut b = XorBuilder::new();
            for &(t, v) in &s {
                b.append(t, v);
            }
            let data = b.encode();
            let (mint, maxt) = (s[a.index(n)].0, s[z.index(n)].0);
            let ranges = [(i64::MIN, i64::MAX), (mint, maxt), (mint + 1, maxt - 1)];
            matches_reference(&data, &[], cut, &ranges, &[])?;
        }

        #[test]
        fn decode_into_window_widths(
            n in 1usize..900,
            wide in proptest::collection::vec((any::<prop::sample::Index>(), any::<u64>()), 0..6),
            kind in 0u8..3,
            inc in 1u32..40,
            step in 0.0f64..1e6,
            a in any::<prop::sample::Index>(),
            z in any::<prop::sample::Index>(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
            cut in any::<prop::sample::Index>(),
        ) {
            // Integer counters (narrow XOR windows), fractional steps
            // (windows of ~40-55 bits, around the narrow loop's limit) or
            // noise, broken by values with wide windows, so that decoding
            // moves between the narrow loop and the general one at any
            // point, including the first value; many samples or noisy values
            // make chunks of every padding class (small copy, large copy,
            // none).
            let mut rng = Rng((inc as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut s: Vec<(i64, f64)> = (0..n)
                .map(|i| {
                    let r = rng.next();
                    let v = match kind {
                        0 => (i as u32 * inc) as f64,
                        1 => i as f64 * step,
                        _ => f64::from_bits(r),
                    };
                    (i as i64 * 15_000, v)
                })
                .collect();
            for (i, bits) in wide {
                s[i.index(n)].1 = f64::from_bits(bits);
            }
            let mut b = XorBuilder::new();
            for &(t, v) in &s {
                b.append(t, v);
            }
            let data = b.encode();
            let (mint, maxt) = (s[a.index(n)].0, s[z.index(n)].0);
            let ranges = [(i64::MIN, i64::MAX), (mint, maxt), (mint + 1, i64::MAX)];
            matches_reference(&data, &flips, cut, &ranges, &[(3, 3.0)])?;
        }

        #[test]
        fn random_bytes_never_panic(d in proptest::collection::vec(any::<u8>(), 0..300)) {
            let c = Chunk::new(Encoding::Xor, ChunkBytes::from_vec(d));
            let _ = c.validate();
            let _ = c.iter().count();
            let _ = c.iter().seek(0);
            let mut want = Vec::new();
            XorIter::new(c.data.clone()).read_into(i64::MIN, i64::MAX, &mut want);
            let mut got = Vec::new();
            decode_into(c.data.as_slice(), i64::MIN, i64::MAX, &mut got);
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
