//! Sample-by-sample decoding of an `Alp` chunk, with seeking; also the
//! reference the bulk decoder is tested against.

use super::decimal::unscale;
use super::header::{parse_header, Columns, ExceptionCursor, Values};
use super::ints::IntColumn;
use crate::chunk::xor::ValueReader;
use crate::chunk::ChunkBytes;

/// Iterator over `(t, v)` pairs of one `Alp` chunk, ascending `t`.
///
/// `seek` reads timestamps alone up to its target and then only the value
/// there: packed values (other than deltas) are read directly by position,
/// so skipping costs nothing on the value side.
pub struct AlpIter {
    data: ChunkBytes,
    n: usize,
    ts: Option<IntColumn>,
    values: ValueState,
    /// Samples whose timestamp was read; the last one is `t`.
    i: usize,
    t: i64,
    /// The value of sample `i - 1` once read.
    v: f64,
    has_current: bool,
    done: bool,
}

/// Where the value column is.
enum ValueState {
    Decimal {
        exp: i32,
        ints: IntColumn,
        /// Integers read so far (deltas are read in order); the last is `k`.
        read: usize,
        k: i64,
        exceptions: ExceptionCursor,
    },
    Xor(ValueReader),
    /// No samples, or a chunk that does not parse.
    None,
}

impl AlpIter {
    pub(crate) fn new(data: ChunkBytes) -> AlpIter {
        let (n, ts, values) = match parse_header(data.as_slice()) {
            Ok(h) => match h.columns {
                Some(Columns { ts, values }) => (h.num_samples, Some(ts), values.into()),
                None => (0, None, ValueState::None),
            },
            Err(_) => (0, None, ValueState::None),
        };
        AlpIter {
            data,
            n,
            ts,
            values,
            i: 0,
            t: 0,
            v: 0.0,
            has_current: false,
            done: n == 0,
        }
    }

    /// Reads the next timestamp; `None` after the last.
    #[inline]
    fn next_ts(&mut self) -> Option<i64> {
        let ts = self.ts.as_ref()?;
        if self.i >= self.n {
            return None;
        }
        self.t = ts.value(self.data.as_slice(), self.i, self.t);
        self.i += 1;
        Some(self.t)
    }

    /// Reads the value of sample `i - 1` into `v`; `false` on corrupt data
    /// (an XOR value column that ends early).
    #[inline]
    fn read_value(&mut self) -> bool {
        let b = self.data.as_slice();
        let j = self.i - 1;
        self.v = match &mut self.values {
            ValueState::Decimal {
                exp,
                ints,
                read,
                k,
                exceptions,
            } => match exceptions.at(b, j) {
                Some(bits) => f64::from_bits(bits),
                None => {
                    if ints.random_access() {
                        *k = ints.value(b, j, 0);
                    } else {
                        while *read <= j {
                            *k = ints.value(b, *read, *k);
                            *read += 1;
                        }
                    }
                    unscale(*k, *exp)
                }
            },
            ValueState::Xor(r) => {
                while r.count() <= j {
                    if r.next(b).is_none() {
                        return false;
                    }
                }
                f64::from_bits(r.last())
            }
            ValueState::None => return false,
        };
        true
    }

    /// Advances to the first sample with timestamp >= `t` (never moves
    /// backwards; if the current sample already has ts >= `t` it is
    /// returned again). Returns it, or `None` if exhausted.
    pub fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if self.done {
            return None;
        }
        if self.has_current && self.t >= t {
            return Some((self.t, self.v));
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
        if !self.read_value() {
            self.done = true;
            return None;
        }
        self.has_current = true;
        Some((self.t, self.v))
    }
}

impl From<Values> for ValueState {
    fn from(v: Values) -> ValueState {
        match v {
            Values::Decimal {
                exp,
                ints,
                exceptions,
            } => ValueState::Decimal {
                exp,
                ints,
                read: 0,
                k: 0,
                exceptions: exceptions.cursor(),
            },
            Values::Xor { start, end } => ValueState::Xor(ValueReader::new(start, end)),
        }
    }
}

impl Iterator for AlpIter {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.done {
            return None;
        }
        if self.next_ts().is_none() || !self.read_value() {
            self.done = true;
            return None;
        }
        self.has_current = true;
        Some((self.t, self.v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (0, Some(self.n - self.i))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::encode;
    use super::super::testing::{build, samples};
    use crate::chunk::testing::{check_mutated, check_seek};
    use crate::chunk::Encoding;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn seek_matches_scan(s in samples(), targets in proptest::collection::vec(any::<prop::sample::Index>(), 1..6), off in -2i64..3) {
            check_seek(&build(&s), &s, &targets, off)?;
        }

        #[test]
        fn mutated_never_panics(s in samples(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
            check_mutated(Encoding::Alp, &encode(&s).unwrap(), &flips, cut, s[0].0)?;
        }
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
