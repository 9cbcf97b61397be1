//! Sample-by-sample decoding, with seeking; also the reference that the
//! bulk decoder is tested against and falls back to.

use super::super::bstream::BitReader;
use super::super::ChunkBytes;
use super::header::parse_header;
use super::values::ValueReader;
use super::{DOD_BUCKETS, DOD_ESCAPE_ONES};

/// Iterator over `(t, v)` pairs of one `Xor` chunk, ascending `t`.
///
/// Timestamps and values decode independently: `seek` scans the timestamp
/// column alone to find its target, then catches the values up.
pub struct XorIter {
    data: ChunkBytes,
    n: usize,
    // Timestamp column state: `ts_i` timestamps decoded, the last is `t`.
    ts: BitReader,
    ts_i: usize,
    t: i64,
    delta: i64,
    /// Value column state: how many values were decoded, the last one.
    vals: ValueReader,
    /// Whether the sample at `ts_i - 1` was returned (is "current").
    has_current: bool,
    done: bool,
}

impl XorIter {
    pub(crate) fn new(data: ChunkBytes) -> XorIter {
        let (n, ts, vals, done) = match parse_header(data.as_slice()) {
            Ok(h) => (
                h.num_samples,
                BitReader::new(h.ts_start, h.ts_end),
                ValueReader::new(h.ts_end, data.len()),
                false,
            ),
            Err(_) => (0, BitReader::new(0, 0), ValueReader::new(0, 0), true),
        };
        XorIter {
            data,
            n,
            ts,
            ts_i: 0,
            t: 0,
            delta: 0,
            vals,
            has_current: false,
            done,
        }
    }

    /// Decodes the next timestamp; `None` at the end or on corrupt data.
    #[inline]
    fn next_ts(&mut self) -> Option<i64> {
        if self.ts_i >= self.n {
            return None;
        }
        let buf = self.data.as_slice();
        let r = &mut self.ts;
        match self.ts_i {
            0 => self.t = r.read_varint(buf)?,
            1 => {
                self.delta = r.read_uvarint(buf)? as i64;
                self.t = self.t.wrapping_add(self.delta);
            }
            _ => {
                let ones = r.read_prefix(buf, DOD_ESCAPE_ONES)?;
                let dod = match ones {
                    0 => 0,
                    1..=4 => {
                        let bits = DOD_BUCKETS[ones as usize - 1].1;
                        let raw = r.read_bits(buf, bits)?;
                        // Sign-extend the `bits`-wide two's complement payload.
                        ((raw << (64 - bits)) as i64) >> (64 - bits)
                    }
                    _ => r.read_bits(buf, 64)? as i64,
                };
                self.delta = self.delta.wrapping_add(dod);
                self.t = self.t.wrapping_add(self.delta);
            }
        }
        self.ts_i += 1;
        Some(self.t)
    }

    /// Decodes the next value; `None` on corrupt data.
    #[inline]
    fn next_val(&mut self) -> Option<u64> {
        self.vals.next(self.data.as_slice())
    }

    /// Appends the samples with `mint <= t <= maxt` of a fresh iterator to
    /// `out`, sample by sample. Stops at `maxt`, at the end of the chunk or
    /// at corrupt data, as iteration does. [`decode_into`](super::decode_into)
    /// is the fast path; this one is its reference and its fallback for
    /// timestamps that go backwards.
    pub(crate) fn read_into(mut self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
        debug_assert!(self.ts_i == 0 && self.vals.count() == 0);
        if self.done {
            return;
        }
        out.reserve(self.n);
        while let Some(t) = self.next_ts() {
            let Some(v) = self.next_val() else {
                return;
            };
            if t > maxt {
                return;
            }
            if t >= mint {
                out.push((t, f64::from_bits(v)));
            }
        }
    }

    /// Advances to the first sample with timestamp >= `t` (never moves
    /// backwards; if the current sample already has ts >= `t` it is returned
    /// again). Returns it, or `None` if exhausted.
    pub fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if self.done {
            return None;
        }
        if self.has_current && self.t >= t {
            return Some((self.t, f64::from_bits(self.vals.last())));
        }
        loop {
            match self.next_ts() {
                Some(ts) if ts >= t => break,
                Some(_) => {}
                None => {
                    self.done = true;
                    return None;
                }
            }
        }
        while self.vals.count() < self.ts_i {
            if self.next_val().is_none() {
                self.done = true;
                return None;
            }
        }
        self.has_current = true;
        Some((self.t, f64::from_bits(self.vals.last())))
    }
}

impl Iterator for XorIter {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.done {
            return None;
        }
        let item = self.next_ts().and_then(|t| {
            // Values may lag only after a seek, which always catches them up.
            self.next_val().map(|v| (t, f64::from_bits(v)))
        });
        match item {
            Some(_) => self.has_current = true,
            None => self.done = true,
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (0, Some(self.n - self.ts_i))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{build, samples};
    use crate::chunk::testing::{check_mutated, check_seek};
    use crate::chunk::{Encoding, XorBuilder};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn seek_matches_scan(s in samples(), targets in proptest::collection::vec(any::<prop::sample::Index>(), 1..6), off in -2i64..3) {
            check_seek(&build(&s), &s, &targets, off)?;
        }

        #[test]
        fn mutated_never_panics(s in samples(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
            let mut b = XorBuilder::new();
            for &(t, v) in &s {
                b.append(t, v);
            }
            check_mutated(Encoding::Xor, &b.encode(), &flips, cut, s[0].0)?;
        }
    }

    #[test]
    fn empty_chunk() {
        let c = build(&[]);
        assert!(c.validate().is_ok());
        assert_eq!(c.num_samples(), 0);
        assert_eq!(c.iter().next(), None);
        assert_eq!(c.iter().seek(0), None);
    }

    #[test]
    fn seek_returns_current_again() {
        let s: Vec<(i64, f64)> = (0..10).map(|i| (i * 10, i as f64)).collect();
        let c = build(&s);
        let mut it = c.iter();
        assert_eq!(it.seek(25), Some((30, 3.0)));
        assert_eq!(it.seek(25), Some((30, 3.0)));
        assert_eq!(it.seek(0), Some((30, 3.0)));
        assert_eq!(it.next(), Some((40, 4.0)));
        assert_eq!(it.seek(95), None);
        assert_eq!(it.next(), None);
    }
}
