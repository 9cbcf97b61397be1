//! Sample-by-sample decoding, with seeking; also the reference that the
//! bulk decoder is tested against and falls back to.

use super::super::bstream::BitReader;
use super::super::ChunkBytes;
use super::header::parse_header;
use super::{DOD_BUCKETS, DOD_ESCAPE_ONES};

/// Iterator over `(t, v)` pairs of one chunk, ascending `t`.
///
/// Timestamps and values decode independently: `seek` scans the timestamp
/// column alone to find its target, then catches the values up.
pub struct ChunkIter {
    data: ChunkBytes,
    n: usize,
    // Timestamp column state: `ts_i` timestamps decoded, the last is `t`.
    ts: BitReader,
    ts_i: usize,
    t: i64,
    delta: i64,
    // Value column state: `val_i` values decoded, the last is `v`.
    vals: BitReader,
    val_i: usize,
    v: u64,
    leading: u32,
    trailing: u32,
    /// Whether the sample at `ts_i - 1` was returned (is "current").
    has_current: bool,
    done: bool,
}

impl ChunkIter {
    pub(crate) fn new(data: ChunkBytes) -> ChunkIter {
        let (n, ts, vals, done) = match parse_header(data.as_slice()) {
            Ok(h) => (
                h.num_samples,
                BitReader::new(h.ts_start, h.ts_end),
                BitReader::new(h.ts_end, data.len()),
                false,
            ),
            Err(_) => (0, BitReader::new(0, 0), BitReader::new(0, 0), true),
        };
        ChunkIter {
            data,
            n,
            ts,
            ts_i: 0,
            t: 0,
            delta: 0,
            vals,
            val_i: 0,
            v: 0,
            leading: 0,
            trailing: 0,
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
        let buf = self.data.as_slice();
        let r = &mut self.vals;
        {
            let ones = r.read_prefix(buf, 2)?;
            if ones == 0 {
                self.val_i += 1;
                return Some(self.v);
            }
            if ones == 1 && self.val_i == 0 {
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
        self.val_i += 1;
        Some(self.v)
    }

    /// Appends the samples with `mint <= t <= maxt` of a fresh iterator to
    /// `out`, sample by sample (the same decoding as `next`, without a call
    /// per sample). Stops at `maxt`, at the end of the chunk or at corrupt
    /// data, as iteration does. [`decode_into`](super::decode_into) is the fast path; this one
    /// is its reference and its fallback for timestamps that go backwards.
    pub(crate) fn read_into(mut self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
        debug_assert!(self.ts_i == 0 && self.val_i == 0);
        if self.done {
            return;
        }
        let buf = self.data.as_slice();
        out.reserve(self.n);
        while self.ts_i < self.n {
            let r = &mut self.ts;
            match self.ts_i {
                0 => match r.read_varint(buf) {
                    Some(t) => self.t = t,
                    None => return,
                },
                1 => match r.read_uvarint(buf) {
                    Some(d) => {
                        self.delta = d as i64;
                        self.t = self.t.wrapping_add(self.delta);
                    }
                    None => return,
                },
                _ => {
                    let Some(ones) = r.read_prefix(buf, DOD_ESCAPE_ONES) else {
                        return;
                    };
                    let dod = match ones {
                        0 => 0,
                        1..=4 => {
                            let bits = DOD_BUCKETS[ones as usize - 1].1;
                            let Some(raw) = r.read_bits(buf, bits) else {
                                return;
                            };
                            ((raw << (64 - bits)) as i64) >> (64 - bits)
                        }
                        _ => match r.read_bits(buf, 64) {
                            Some(b) => b as i64,
                            None => return,
                        },
                    };
                    self.delta = self.delta.wrapping_add(dod);
                    self.t = self.t.wrapping_add(self.delta);
                }
            }
            self.ts_i += 1;
            // The value, as `next_val`.
            let r = &mut self.vals;
            let Some(ones) = r.read_prefix(buf, 2) else {
                return;
            };
            if ones != 0 {
                if ones == 1 && self.val_i == 0 {
                    return;
                }
                if ones == 2 {
                    let (Some(lead), Some(m)) = (r.read_bits(buf, 5), r.read_bits(buf, 6)) else {
                        return;
                    };
                    let (lead, mut m) = (lead as u32, m as u32);
                    if m == 0 {
                        m = 64;
                    }
                    if lead + m > 64 {
                        return;
                    }
                    self.leading = lead;
                    self.trailing = 64 - lead - m;
                }
                let m = 64 - self.leading - self.trailing;
                let Some(bits) = r.read_bits(buf, m) else {
                    return;
                };
                self.v ^= bits << self.trailing;
            }
            self.val_i += 1;
            if self.t > maxt {
                return;
            }
            if self.t >= mint {
                out.push((self.t, f64::from_bits(self.v)));
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
            return Some((self.t, f64::from_bits(self.v)));
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
        while self.val_i < self.ts_i {
            if self.next_val().is_none() {
                self.done = true;
                return None;
            }
        }
        self.has_current = true;
        Some((self.t, f64::from_bits(self.v)))
    }
}

impl Iterator for ChunkIter {
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
    use super::super::testing::{bits, build, samples};
    use super::*;
    use crate::chunk::{Chunk, Encoding, XorBuilder};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn seek_matches_scan(s in samples(), targets in proptest::collection::vec(any::<prop::sample::Index>(), 1..6), off in -2i64..3) {
            let c = build(&s);
            // Ascending targets drawn around sample timestamps.
            let mut ts: Vec<i64> = targets.iter().map(|i| s[i.index(s.len())].0.saturating_add(off)).collect();
            ts.sort();
            let mut it = c.iter();
            let mut floor = i64::MIN; // the iterator never moves backwards
            let mut exhausted = false;
            for t in ts {
                let got = it.seek(t);
                let want = s.iter().find(|&&(st, _)| st >= t.max(floor)).copied();
                prop_assert_eq!(got.map(|(t, v)| (t, v.to_bits())), want.map(|(t, v)| (t, v.to_bits())));
                match got {
                    Some((gt, _)) => floor = gt,
                    None => {
                        exhausted = true;
                        break;
                    }
                }
            }
            // After seeking, plain iteration continues from the next sample.
            let rest: Vec<(i64, f64)> = it.collect();
            let want: Vec<(i64, f64)> = if exhausted {
                vec![]
            } else {
                s.iter().filter(|&&(st, _)| st > floor).copied().collect()
            };
            prop_assert_eq!(bits(&rest), bits(&want));
        }

        #[test]
        fn mutated_never_panics(s in samples(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
            let mut b = XorBuilder::new();
            for &(t, v) in &s {
                b.append(t, v);
            }
            let mut data = b.encode();
            for (i, x) in flips {
                let i = i.index(data.len());
                data[i] ^= x;
            }
            let keep = cut.index(data.len() + 1);
            for d in [data.clone(), data[..keep].to_vec()] {
                let c = Chunk::new(Encoding::Xor, ChunkBytes::from_vec(d));
                let _ = c.validate();
                let _ = c.num_samples();
                let n = c.iter().count();
                prop_assert!(n <= c.num_samples());
                let mut it = c.iter();
                let _ = it.seek(s[0].0);
                let _ = it.seek(i64::MAX);
            }
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
