//! The integer column of an `Alp` chunk (`docs/formats/chunks.md`,
//! *Integer column*): `n` integers as a transform (frame of reference,
//! deltas, or residuals from a line) whose residuals are bit-packed or
//! indexes into a small dictionary. Timestamps are one such column, scaled
//! decimal values another.
//!
//! All arithmetic wraps, so any `i64` sequence has an exact encoding; the
//! encoder only declines when every transform needs more than
//! [`MAX_WIDTH`] bits per residual.

use super::pack::{self, packed_len, width, MAX_WIDTH};
use crate::encoding::{Decbuf, Encbuf};

/// Tag width value meaning "residuals are dictionary indexes".
const DICT_TAG: u8 = 63;
/// Most entries a dictionary may hold (its size is stored as one byte).
const MAX_DICT: usize = 256;

/// How residuals become values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transform {
    /// `v_k = base + r_k` (frame of reference): any value directly.
    For = 0,
    /// `v_0 = first`, `v_k = v_{k-1} + base + r_{k-1}`: counters with
    /// irregular increments.
    Delta = 1,
    /// `v_0 = first`, `v_k = first + k * slope + base + r_{k-1}`: scrape
    /// timestamps (a line plus jitter), steady counters; any value directly.
    Grid = 2,
}

impl Transform {
    fn from_tag(tag: u8) -> Option<Transform> {
        match tag >> 6 {
            0 => Some(Transform::For),
            1 => Some(Transform::Delta),
            2 => Some(Transform::Grid),
            _ => None,
        }
    }
}

/// A dictionary of residuals: `len` entries of `width` bits packed at
/// byte `at`.
#[derive(Clone, Copy, Debug)]
struct Dict {
    at: usize,
    width: u32,
    /// The last entry's index; larger (corrupt) indexes read it.
    last: u64,
}

/// A parsed integer column: its parameters and where its bytes are in the
/// chunk. Reading it never fails: [`IntColumn::parse`] checked that every
/// packed byte is there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IntColumn {
    transform: Transform,
    first: i64,
    slope: i64,
    base: i64,
    /// Byte offset of the packed residuals (or dictionary indexes).
    packed: usize,
    /// Bits per packed residual (or index).
    width: u32,
    dict: Option<Dict>,
    /// One past the column's last byte.
    end: usize,
}

impl IntColumn {
    /// Parses the column of `n >= 1` values starting at byte `at` of `b`.
    pub(crate) fn parse(b: &[u8], at: usize, n: usize) -> Result<IntColumn, String> {
        debug_assert!(n >= 1);
        let mut d = Decbuf::new(b.get(at..).unwrap_or_default());
        let err = |what: &str, e| format!("integer column {what}: {e}");
        let tag = d.u8().map_err(|e| err("tag", e))?;
        let transform = Transform::from_tag(tag)
            .ok_or_else(|| format!("integer column: unknown transform in tag {tag:#04x}"))?;
        let (mut first, mut slope) = (0, 0);
        if transform != Transform::For {
            first = d.varint().map_err(|e| err("first value", e))?;
        }
        if transform == Transform::Grid {
            slope = d.varint().map_err(|e| err("slope", e))?;
        }
        let base = d.varint().map_err(|e| err("base", e))?;
        let count = residuals(transform, n);
        let (width, dict) = if tag & 63 == DICT_TAG {
            let last = d.u8().map_err(|e| err("dictionary size", e))? as u64;
            let ew = d.u8().map_err(|e| err("dictionary width", e))? as u32;
            if ew > MAX_WIDTH {
                return Err(format!(
                    "integer column: dictionary width {ew} over {MAX_WIDTH}"
                ));
            }
            let at = b.len() - d.remaining();
            d.skip(packed_len(last as usize + 1, ew))
                .map_err(|e| err("dictionary", e))?;
            (
                width(last),
                Some(Dict {
                    at,
                    width: ew,
                    last,
                }),
            )
        } else {
            ((tag & 63) as u32, None)
        };
        let packed = b.len() - d.remaining();
        d.skip(packed_len(count, width))
            .map_err(|e| err("residuals", e))?;
        Ok(IntColumn {
            transform,
            first,
            slope,
            base,
            packed,
            width,
            dict,
            end: b.len() - d.remaining(),
        })
    }

    /// One past the column's last byte.
    pub(crate) fn end(&self) -> usize {
        self.end
    }

    /// Whether any value can be read without the one before it.
    pub(crate) fn random_access(&self) -> bool {
        self.transform != Transform::Delta
    }

    /// Residual `j`.
    #[inline(always)]
    fn residual(&self, b: &[u8], j: usize) -> u64 {
        let r = pack::get(b, self.packed, self.width, j);
        match self.dict {
            None => r,
            Some(d) => pack::get(b, d.at, d.width, r.min(d.last) as usize),
        }
    }

    /// Value `k`; `prev` is value `k - 1`, used by [`Transform::Delta`]
    /// only (any value for `k == 0` or the other transforms).
    #[inline(always)]
    pub(crate) fn value(&self, b: &[u8], k: usize, prev: i64) -> i64 {
        match self.transform {
            Transform::For => self.base.wrapping_add(self.residual(b, k) as i64),
            _ if k == 0 => self.first,
            Transform::Delta => prev
                .wrapping_add(self.base)
                .wrapping_add(self.residual(b, k - 1) as i64),
            Transform::Grid => self
                .first
                .wrapping_add((k as i64).wrapping_mul(self.slope))
                .wrapping_add(self.base)
                .wrapping_add(self.residual(b, k - 1) as i64),
        }
    }

    /// Calls `sink(k, value k)` for `k` in `0..n`, in order.
    #[inline(always)]
    pub(crate) fn decode(&self, b: &[u8], n: usize, sink: impl FnMut(usize, i64)) {
        // One loop per shape (transform × residual source), so that each is
        // a tight loop without per-value dispatch. Width 0 (regular
        // timestamps, constant or steadily growing values) is the most
        // common shape of all and needs no reads.
        let direct = |j| pack::get(b, self.packed, self.width, j);
        match self.dict {
            None if self.width == 0 => self.run(n, sink, |_| 0),
            None => self.run(n, sink, direct),
            Some(d) => self.run(n, sink, |j| {
                pack::get(b, d.at, d.width, direct(j).min(d.last) as usize)
            }),
        }
    }

    /// [`IntColumn::decode`] with residual `j` given by `residual(j)`.
    #[inline(always)]
    fn run(&self, n: usize, mut sink: impl FnMut(usize, i64), residual: impl Fn(usize) -> u64) {
        match self.transform {
            Transform::For => {
                for k in 0..n {
                    sink(k, self.base.wrapping_add(residual(k) as i64));
                }
            }
            Transform::Grid => {
                sink(0, self.first);
                let mut line = self.first.wrapping_add(self.base);
                for k in 1..n {
                    line = line.wrapping_add(self.slope);
                    sink(k, line.wrapping_add(residual(k - 1) as i64));
                }
            }
            Transform::Delta => {
                sink(0, self.first);
                let mut v = self.first;
                for k in 1..n {
                    v = v
                        .wrapping_add(self.base)
                        .wrapping_add(residual(k - 1) as i64);
                    sink(k, v);
                }
            }
        }
    }
}

/// Residuals stored for `n` values.
fn residuals(t: Transform, n: usize) -> usize {
    match t {
        Transform::For => n,
        _ => n.saturating_sub(1),
    }
}

/// The cheapest encoding of one column, as [`plan`] chose it.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    transform: Transform,
    first: i64,
    slope: i64,
    base: i64,
    width: u32,
    /// Sorted distinct residuals when they are stored as a dictionary.
    dict: Option<Vec<u64>>,
    /// Encoded size in bytes.
    pub(crate) bytes: usize,
}

/// Reusable buffers of [`plan`], so that planning many chunks allocates
/// once.
#[derive(Default)]
pub(crate) struct Scratch {
    filled: Vec<i64>,
    residuals: Vec<u64>,
    sorted: Vec<u64>,
}

/// Chooses the smallest encoding of `vals` (at least one value) whose
/// values at the positions `holes` (ascending, not all of them) are free to
/// choose: each transform fills them where they cost least ([`fill`]).
/// `None` when every transform needs residuals wider than [`MAX_WIDTH`].
pub(crate) fn plan(vals: &[i64], holes: &[usize], s: &mut Scratch) -> Option<Plan> {
    debug_assert!(!vals.is_empty() && holes.len() < vals.len());
    let n = vals.len();
    let Scratch {
        filled,
        residuals,
        sorted,
    } = s;
    let mut best: Option<Plan> = None;
    let mut consider = |p: Option<Plan>| {
        if let Some(p) = p {
            if best.as_ref().is_none_or(|b| p.bytes < b.bytes) {
                best = Some(p);
            }
        }
    };
    // Ties go to the transforms with random access, then to fewer
    // parameters.
    let f = fill(Transform::For, 0, vals, holes, filled);
    consider(candidate(
        Transform::For,
        0,
        0,
        f.iter().copied(),
        residuals,
        sorted,
    ));
    if n > 1 {
        let slope = line_slope(vals, holes);
        let f = fill(Transform::Grid, slope, vals, holes, filled);
        let first = f[0];
        let line = (1..n).map(|k| {
            f[k].wrapping_sub(first)
                .wrapping_sub((k as i64).wrapping_mul(slope))
        });
        consider(candidate(
            Transform::Grid,
            first,
            slope,
            line,
            residuals,
            sorted,
        ));
        let f = fill(Transform::Delta, 0, vals, holes, filled);
        let deltas = f.windows(2).map(|w| w[1].wrapping_sub(w[0]));
        consider(candidate(
            Transform::Delta,
            f[0],
            0,
            deltas,
            residuals,
            sorted,
        ));
    }
    best
}

/// The slope of the line through the first and the last value that are
/// not holes, rounded to the nearest integer.
fn line_slope(vals: &[i64], holes: &[usize]) -> i64 {
    let mut valid = (0..vals.len()).filter(|k| holes.binary_search(k).is_err());
    let Some(p) = valid.next() else { return 0 };
    let q = valid.next_back().unwrap_or(p);
    if q == p {
        return 0;
    }
    let span = vals[q] as i128 - vals[p] as i128;
    let steps = (q - p) as i128;
    // Wraps for spans near the whole `i64` range, where residuals wrap too.
    ((span + span.signum() * steps / 2) / steps) as i64
}

/// `vals` with the values at `holes` chosen so that their residuals under
/// `t` stay within the others' range: a frame of reference repeats the
/// value before (after, for leading holes), a line continues its residual,
/// deltas interpolate between the values around the holes (or repeat the
/// nearest delta at the ends). Exceptions are mostly a staleness marker at
/// the end of a series, where all three cost nothing.
fn fill<'a>(
    t: Transform,
    slope: i64,
    vals: &'a [i64],
    holes: &[usize],
    into: &'a mut Vec<i64>,
) -> &'a [i64] {
    if holes.is_empty() {
        return vals;
    }
    into.clear();
    into.extend_from_slice(vals);
    let n = vals.len();
    let v = into;
    // Runs of consecutive holes `a..b`.
    let mut i = 0;
    while i < holes.len() {
        let a = holes[i];
        let mut b = a + 1;
        i += 1;
        while i < holes.len() && holes[i] == b {
            b += 1;
            i += 1;
        }
        let (before, after) = (a.checked_sub(1), (b < n).then_some(b));
        match (t, before, after) {
            (_, None, None) => unreachable!("not every value is a hole"),
            (Transform::For, Some(p), _) => {
                let x = v[p];
                v[a..b].fill(x);
            }
            (Transform::For, None, Some(q)) => {
                let x = v[q];
                v[a..b].fill(x);
            }
            (Transform::Grid, Some(p), _) => {
                for j in a..b {
                    v[j] = v[p].wrapping_add(((j - p) as i64).wrapping_mul(slope));
                }
            }
            (Transform::Grid, None, Some(q)) => {
                for j in a..b {
                    v[j] = v[q].wrapping_sub(((q - j) as i64).wrapping_mul(slope));
                }
            }
            (Transform::Delta, Some(p), Some(q)) => {
                let span = v[q].wrapping_sub(v[p]) as i128;
                for j in a..b {
                    let step = span * (j - p) as i128 / (q - p) as i128;
                    v[j] = v[p].wrapping_add(step as i64);
                }
            }
            (Transform::Delta, Some(p), None) => {
                let d = p.checked_sub(1).map_or(0, |pp| v[p].wrapping_sub(v[pp]));
                for j in a..b {
                    v[j] = v[j - 1].wrapping_add(d);
                }
            }
            (Transform::Delta, None, Some(q)) => {
                let d = if q + 1 < n {
                    v[q + 1].wrapping_sub(v[q])
                } else {
                    0
                };
                for j in (a..b).rev() {
                    v[j] = v[j + 1].wrapping_sub(d);
                }
            }
        }
    }
    v
}

/// The plan for one transform whose raw residuals (before subtracting their
/// minimum) are `raw`.
fn candidate(
    transform: Transform,
    first: i64,
    slope: i64,
    raw: impl Iterator<Item = i64>,
    residuals: &mut Vec<u64>,
    sorted: &mut Vec<u64>,
) -> Option<Plan> {
    residuals.clear();
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for r in raw {
        lo = lo.min(r);
        hi = hi.max(r);
        residuals.push(r as u64);
    }
    let base = if residuals.is_empty() { 0 } else { lo };
    let range = hi.wrapping_sub(lo) as u64;
    let w = if residuals.is_empty() {
        0
    } else {
        width(range)
    };
    if w > MAX_WIDTH {
        return None;
    }
    for r in residuals.iter_mut() {
        *r = r.wrapping_sub(base as u64);
    }
    let mut head = Encbuf::new();
    head.put_u8(0);
    if transform != Transform::For {
        head.put_varint(first);
    }
    if transform == Transform::Grid {
        head.put_varint(slope);
    }
    head.put_varint(base);
    let count = residuals.len();
    let direct = head.len() + packed_len(count, w);
    let mut plan = Plan {
        transform,
        first,
        slope,
        base,
        width: w,
        dict: None,
        bytes: direct,
    };
    // A dictionary pays when few distinct residuals need indexes narrower
    // than the residuals themselves (jitter of a few milliseconds, gauges
    // with a few levels).
    if w >= 2 && count > 2 {
        sorted.clear();
        sorted.extend_from_slice(residuals);
        sorted.sort_unstable();
        sorted.dedup();
        let m = sorted.len();
        let iw = width(m as u64 - 1);
        if m <= MAX_DICT && iw < w {
            let bytes = head.len() + 2 + packed_len(m, w) + packed_len(count, iw);
            if bytes < direct {
                plan.dict = Some(sorted.clone());
                plan.bytes = bytes;
            }
        }
    }
    Some(plan)
}

/// Appends the column for `vals` with free `holes` as `p` (planned for
/// exactly these).
pub(crate) fn write(p: &Plan, vals: &[i64], holes: &[usize], dst: &mut Vec<u8>) {
    let mut filled = Vec::new();
    let vals = fill(p.transform, p.slope, vals, holes, &mut filled);
    let start = dst.len();
    let mut e = Encbuf {
        buf: std::mem::take(dst),
    };
    let w_field = if p.dict.is_some() {
        DICT_TAG
    } else {
        p.width as u8
    };
    e.put_u8(((p.transform as u8) << 6) | w_field);
    if p.transform != Transform::For {
        e.put_varint(p.first);
    }
    if p.transform == Transform::Grid {
        e.put_varint(p.slope);
    }
    e.put_varint(p.base);
    let mut out = e.buf;
    let n = vals.len();
    let base = p.base as u64;
    let residual = |k: usize| -> u64 {
        let raw = match p.transform {
            Transform::For => vals[k],
            Transform::Delta => vals[k + 1].wrapping_sub(vals[k]),
            Transform::Grid => vals[k + 1]
                .wrapping_sub(p.first)
                .wrapping_sub(((k + 1) as i64).wrapping_mul(p.slope)),
        };
        (raw as u64).wrapping_sub(base)
    };
    let count = residuals(p.transform, n);
    match &p.dict {
        None => pack::pack((0..count).map(residual), p.width, &mut out),
        Some(entries) => {
            out.push((entries.len() - 1) as u8);
            out.push(p.width as u8);
            pack::pack(entries.iter().copied(), p.width, &mut out);
            let iw = width(entries.len() as u64 - 1);
            let index = |k| {
                entries
                    .binary_search(&residual(k))
                    .expect("planned dictionary holds every residual") as u64
            };
            pack::pack((0..count).map(index), iw, &mut out);
        }
    }
    debug_assert_eq!(out.len() - start, p.bytes);
    *dst = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::testing::Rng;
    use proptest::prelude::*;

    fn roundtrip(vals: &[i64]) -> Option<(Transform, bool, usize)> {
        let p = plan(vals, &[], &mut Scratch::default())?;
        let mut b = vec![0xee; 3];
        write(&p, vals, &[], &mut b);
        b.extend([0x77; 2]); // whatever follows the column
        let c = IntColumn::parse(&b, 3, vals.len()).expect("parses");
        assert_eq!(c.end(), b.len() - 2);
        let mut got = vec![0; vals.len()];
        c.decode(&b, vals.len(), |k, v| got[k] = v);
        assert_eq!(got, vals);
        // Value by value, as the iterator reads them.
        let mut prev = 0;
        for (k, &want) in vals.iter().enumerate() {
            prev = c.value(&b, k, prev);
            assert_eq!(prev, want, "value {k}");
        }
        // Truncated: rejected, never a panic.
        for cut in 3..b.len() - 2 {
            assert!(IntColumn::parse(&b[..cut], 3, vals.len()).is_err());
        }
        Some((p.transform, p.dict.is_some(), p.bytes))
    }

    fn ints() -> impl Strategy<Value = Vec<i64>> {
        let jittered =
            (any::<i64>(), 1i64..100_000, 0i64..16, 1usize..200).prop_map(|(t0, step, j, n)| {
                (0..n as i64)
                    .map(|k| {
                        t0.wrapping_add(k.wrapping_mul(step))
                            .wrapping_add((k * 7919) % (j + 1))
                    })
                    .collect()
            });
        prop_oneof![
            proptest::collection::vec(any::<i64>(), 1..200),
            proptest::collection::vec(-1000i64..1000, 1..200),
            proptest::collection::vec(prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0)], 1..50),
            jittered,
        ]
    }

    proptest! {
        #[test]
        fn any_ints_roundtrip(vals in ints()) {
            // Only residual ranges over 62 bits may be declined.
            if roundtrip(&vals).is_none() {
                let lo = vals.iter().min().unwrap();
                let hi = vals.iter().max().unwrap();
                prop_assert!(width(hi.wrapping_sub(*lo) as u64) > MAX_WIDTH);
            }
        }

        #[test]
        fn hostile_columns_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64), n in 1usize..300) {
            if let Ok(c) = IntColumn::parse(&b, 0, n) {
                prop_assert!(c.end() <= b.len());
                let mut prev = 0;
                c.decode(&b, n, |k, v| {
                    prev = c.value(&b, k, prev);
                    assert_eq!(prev, v);
                });
            }
        }
    }

    #[test]
    fn transforms_chosen_by_shape() {
        let t0 = 1_795_639_579_792i64;
        // A line: deltas and residuals are all one value.
        let line: Vec<i64> = (0..120).map(|k| t0 + k * 15_000).collect();
        let (t, _, bytes) = roundtrip(&line).unwrap();
        // Tag, first (6 bytes), the step 15 000 (3 bytes as a varint).
        assert_eq!((t, bytes), (Transform::Delta, 1 + 6 + 3));
        // Scrape jitter of a few ms around a line: residuals from the line,
        // few distinct ones, so a dictionary of 2-bit indexes.
        let jitter = [0, 3, 4, 3, 0, 4, 4, 0];
        let ts: Vec<i64> = (0..120)
            .map(|k| t0 + k * 15_000 + jitter[k as usize % 8])
            .collect();
        let (t, dict, bytes) = roundtrip(&ts).unwrap();
        assert_eq!((t, dict), (Transform::Grid, true));
        // Tag, first, slope, base 0, dictionary of 3 entries of 3 bits,
        // 119 indexes of 2 bits.
        assert_eq!(bytes, 1 + 6 + 3 + 1 + 2 + 2 + 30);
        // A counter with irregular increments: deltas.
        let (mut c, mut rng) = (1_000_000i64, Rng(0x2545_f491_4f6c_dd1d));
        let counter: Vec<i64> = (0..120)
            .map(|_| {
                c += (rng.next() % 11) as i64;
                c
            })
            .collect();
        assert_eq!(roundtrip(&counter).unwrap().0, Transform::Delta);
        // A gauge: frame of reference.
        let gauge: Vec<i64> = (0..120).map(|_| 500 + (rng.next() % 301) as i64).collect();
        assert_eq!(roundtrip(&gauge).unwrap().0, Transform::For);
        // One value: a tag and the value.
        assert_eq!(roundtrip(&[42]).unwrap(), (Transform::For, false, 2));
    }

    /// Encodes `vals` with free `holes`; returns the decoded values and the
    /// plan's transform and size.
    fn with_holes(vals: &[i64], holes: &[usize]) -> (Vec<i64>, Transform, usize) {
        let p = plan(vals, holes, &mut Scratch::default()).expect("encodable");
        let mut b = Vec::new();
        write(&p, vals, holes, &mut b);
        let c = IntColumn::parse(&b, 0, vals.len()).expect("parses");
        let mut got = vec![0; vals.len()];
        c.decode(&b, vals.len(), |k, v| got[k] = v);
        for (k, (g, v)) in got.iter().zip(vals).enumerate() {
            if holes.binary_search(&k).is_err() {
                assert_eq!(g, v, "value {k}");
            }
        }
        (got, p.transform, p.bytes)
    }

    proptest! {
        #[test]
        fn holes_keep_the_other_values(vals in ints(), picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
            let mut holes: Vec<usize> = picks.iter().map(|i| i.index(vals.len())).collect();
            holes.sort_unstable();
            holes.dedup();
            if holes.len() < vals.len() && plan(&vals, &holes, &mut Scratch::default()).is_some() {
                with_holes(&vals, &holes);
            }
        }
    }

    #[test]
    fn holes_cost_nothing_where_they_usually_are() {
        // A steady counter ending in a staleness marker, a constant with a
        // gap, a line with leading holes: all still need no residual bits.
        let counter: Vec<i64> = (0..120).map(|k| 7 + 3 * k).collect();
        let (got, t, bytes) = with_holes(&counter, &[119]);
        assert_eq!((got[119], bytes), (7 + 3 * 119, 1 + 1 + 1));
        assert_eq!(t, Transform::Delta);
        let flat = vec![5; 120];
        assert_eq!(with_holes(&flat, &[3, 4, 60]).2, 2);
        let (got, _, bytes) = with_holes(&counter, &[0, 1, 2, 50, 51]);
        assert_eq!(got, counter);
        assert_eq!(bytes, 3);
        // Irregular deltas around a hole: interpolated.
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut c = 0;
        let irregular: Vec<i64> = (0..120)
            .map(|_| {
                c += 1 + (rng.next() % 8) as i64;
                c
            })
            .collect();
        let without = with_holes(&irregular, &[]).2;
        assert!(with_holes(&irregular, &[40, 119]).2 <= without);
    }

    #[test]
    fn extreme_ranges() {
        // Deltas wrap: -1 and 1.
        assert!(roundtrip(&[i64::MIN, i64::MAX, i64::MIN]).is_some());
        assert!(
            roundtrip(&[0, 1 << 61, -(1 << 61)]).is_some(),
            "the line's residuals fit"
        );
        assert!(roundtrip(&[0, 1 << 62, -(1 << 62)]).is_none());
        assert!(roundtrip(&[0, (1 << 62) - 1]).is_some());
    }
}
