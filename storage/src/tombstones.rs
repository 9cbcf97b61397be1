//! Deletion intervals per series, and the block's `tombstones` file.
//! Format: `docs/formats/tombstones.md`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::encoding::{be_u32, crc32c, Decbuf, DecodeError, Encbuf};
use crate::error::{Error, Result};
use crate::vfs::Fs;

/// Magic number opening a tombstones file ("TOMB").
pub const TOMBSTONES_MAGIC: u32 = 0x544F_4D42;
/// Current tombstones file version.
pub const TOMBSTONES_VERSION: u8 = 1;

/// A deleted time range, inclusive at both ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub mint: i64,
    pub maxt: i64,
}

impl Interval {
    pub fn new(mint: i64, maxt: i64) -> Self {
        Interval { mint, maxt }
    }

    /// Whether `t` lies in `[mint, maxt]`.
    pub fn contains(&self, t: i64) -> bool {
        self.mint <= t && t <= self.maxt
    }
}

/// Sorted, non-overlapping, merged intervals. Timestamps are integers, so
/// touching intervals merge too: adding `[1,5]` and `[6,9]` yields `[1,9]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Intervals(Vec<Interval>);

impl Intervals {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an interval, merging it with every interval it overlaps or
    /// touches. An interval with `mint > maxt` is empty and ignored.
    pub fn add(&mut self, iv: Interval) {
        if iv.mint > iv.maxt {
            return;
        }
        let v = &mut self.0;
        // First interval that could merge: its end reaches iv.mint - 1.
        let lo = v.partition_point(|x| x.maxt < iv.mint.saturating_sub(1));
        // One past the last interval that could merge: starts at or before
        // iv.maxt + 1.
        let hi = v.partition_point(|x| x.mint <= iv.maxt.saturating_add(1));
        if lo >= hi {
            v.insert(lo, iv);
            return;
        }
        let merged = Interval {
            mint: iv.mint.min(v[lo].mint),
            maxt: iv.maxt.max(v[hi - 1].maxt),
        };
        v[lo] = merged;
        v.drain(lo + 1..hi);
    }

    /// Whether `t` is deleted.
    pub fn contains(&self, t: i64) -> bool {
        let i = self.0.partition_point(|x| x.maxt < t);
        self.0.get(i).is_some_and(|x| x.mint <= t)
    }

    /// Whether every timestamp in `[mint, maxt]` is deleted (true for an
    /// empty range `mint > maxt`).
    pub fn covers(&self, mint: i64, maxt: i64) -> bool {
        if mint > maxt {
            return true;
        }
        let i = self.0.partition_point(|x| x.maxt < mint);
        self.0
            .get(i)
            .is_some_and(|x| x.mint <= mint && maxt <= x.maxt)
    }

    /// Whether any timestamp in `[mint, maxt]` is deleted.
    pub fn intersects(&self, mint: i64, maxt: i64) -> bool {
        if mint > maxt {
            return false;
        }
        let i = self.0.partition_point(|x| x.maxt < mint);
        self.0.get(i).is_some_and(|x| x.mint <= maxt)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Interval> {
        self.0.iter()
    }

    pub fn as_slice(&self) -> &[Interval] {
        &self.0
    }

    /// Number of (merged) intervals.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Intervals {
    type Item = &'a Interval;
    type IntoIter = std::slice::Iter<'a, Interval>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<Interval> for Intervals {
    fn from_iter<T: IntoIterator<Item = Interval>>(iter: T) -> Self {
        let mut out = Intervals::new();
        for iv in iter {
            out.add(iv);
        }
        out
    }
}

/// Deletion intervals keyed by series reference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tombstones {
    map: BTreeMap<u64, Intervals>,
}

impl Tombstones {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `iv` is deleted for `series_ref`. Empty intervals
    /// (`mint > maxt`) are ignored.
    pub fn add(&mut self, series_ref: u64, iv: Interval) {
        if iv.mint > iv.maxt {
            return;
        }
        self.map.entry(series_ref).or_default().add(iv);
    }

    /// Adds every interval of `other`.
    pub fn merge(&mut self, other: &Tombstones) {
        for (r, ivs) in other.iter() {
            for iv in ivs {
                self.add(r, *iv);
            }
        }
    }

    /// Keeps only the series for which `f` returns true.
    pub fn retain(&mut self, mut f: impl FnMut(u64, &Intervals) -> bool) {
        self.map.retain(|r, iv| f(*r, iv));
    }

    pub fn get(&self, series_ref: u64) -> Option<&Intervals> {
        self.map.get(&series_ref)
    }

    /// Number of series with at least one deletion interval.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Total number of intervals over all series (`numTombstones` in
    /// `meta.json`).
    pub fn num_intervals(&self) -> u64 {
        self.map.values().map(|v| v.len() as u64).sum()
    }

    /// Series in ascending reference order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Intervals)> + '_ {
        self.map.iter().map(|(r, v)| (*r, v))
    }

    /// Encodes the whole file, checksum included.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encbuf::with_capacity(16 + self.map.len() * 8);
        e.put_u32(TOMBSTONES_MAGIC);
        e.put_u8(TOMBSTONES_VERSION);
        e.put_uvarint(self.map.len() as u64);
        for (r, ivs) in &self.map {
            e.put_uvarint(*r);
            e.put_uvarint(ivs.len() as u64);
            for iv in ivs {
                e.put_varint(iv.mint);
                e.put_uvarint(iv.maxt.wrapping_sub(iv.mint) as u64);
            }
        }
        e.put_crc32c_of(0);
        e.buf
    }

    /// Decodes a whole file; the error is a description for a corruption
    /// report.
    pub fn decode(b: &[u8]) -> Result<Tombstones, String> {
        if b.len() < 9 {
            return Err(format!("file too short ({} bytes)", b.len()));
        }
        let (body, crc) = b.split_at(b.len() - 4);
        let want = be_u32(crc.try_into().expect("4 bytes"));
        let got = crc32c(body);
        if want != got {
            return Err(format!(
                "checksum mismatch: stored {want:#010x}, computed {got:#010x}"
            ));
        }
        let mut d = Decbuf::new(body);
        let de = |e: DecodeError| e.to_string();
        let magic = d.u32().map_err(de)?;
        if magic != TOMBSTONES_MAGIC {
            return Err(format!("bad magic {magic:#010x}"));
        }
        let version = d.u8().map_err(de)?;
        if version != TOMBSTONES_VERSION {
            return Err(format!("unsupported version {version}"));
        }
        let n = d.uvarint().map_err(de)?;
        let mut out = Tombstones::new();
        let mut prev: Option<u64> = None;
        for _ in 0..n {
            let r = d.uvarint().map_err(de)?;
            if prev.is_some_and(|p| r <= p) {
                return Err(format!("series ref {r} not ascending"));
            }
            prev = Some(r);
            let k = d.uvarint().map_err(de)?;
            if k == 0 {
                return Err(format!("series ref {r} has no intervals"));
            }
            for _ in 0..k {
                let mint = d.varint().map_err(de)?;
                let len = d.uvarint().map_err(de)?;
                let maxt = i64::try_from(mint as i128 + len as i128)
                    .map_err(|_| format!("interval end overflows for series ref {r}"))?;
                out.add(r, Interval { mint, maxt });
            }
        }
        if !d.is_empty() {
            return Err(format!("{} trailing bytes", d.remaining()));
        }
        Ok(out)
    }

    /// Writes the tombstones file at `path` atomically.
    pub fn write(&self, fs: Fs, path: &Path) -> Result<()> {
        fs.write_atomic(path, &self.encode())
    }

    /// Reads the tombstones file at `path`; a missing file means no
    /// deletions.
    pub fn read(path: &Path) -> Result<Tombstones> {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tombstones::new()),
            Err(e) => return Err(Error::io(path, e)),
        };
        Self::decode(&data).map_err(|detail| Error::corruption(path, detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn ivs(v: &[(i64, i64)]) -> Intervals {
        v.iter().map(|&(a, b)| Interval::new(a, b)).collect()
    }

    fn pairs(i: &Intervals) -> Vec<(i64, i64)> {
        i.iter().map(|x| (x.mint, x.maxt)).collect()
    }

    #[test]
    fn merge_cases() {
        assert_eq!(pairs(&ivs(&[(1, 5), (6, 9)])), vec![(1, 9)]);
        assert_eq!(pairs(&ivs(&[(6, 9), (1, 5)])), vec![(1, 9)]);
        assert_eq!(pairs(&ivs(&[(1, 5), (7, 9)])), vec![(1, 5), (7, 9)]);
        assert_eq!(pairs(&ivs(&[(1, 5), (7, 9), (6, 6)])), vec![(1, 9)]);
        assert_eq!(
            pairs(&ivs(&[(1, 2), (4, 5), (7, 8), (0, 10)])),
            vec![(0, 10)]
        );
        assert_eq!(
            pairs(&ivs(&[(1, 2), (10, 20), (3, 4)])),
            vec![(1, 4), (10, 20)]
        );
        assert_eq!(pairs(&ivs(&[(10, 20), (12, 15)])), vec![(10, 20)]);
        assert_eq!(pairs(&ivs(&[(10, 20), (5, 5)])), vec![(5, 5), (10, 20)]);
        assert_eq!(pairs(&ivs(&[(10, 20), (21, 21)])), vec![(10, 21)]);
        assert_eq!(pairs(&ivs(&[(5, 4)])), vec![]);
        assert_eq!(
            pairs(&ivs(&[(i64::MIN, 0), (1, i64::MAX)])),
            vec![(i64::MIN, i64::MAX)]
        );
        assert_eq!(
            pairs(&ivs(&[(i64::MAX, i64::MAX), (i64::MIN, i64::MIN)])),
            vec![(i64::MIN, i64::MIN), (i64::MAX, i64::MAX)]
        );
    }

    #[test]
    fn queries() {
        let i = ivs(&[(1, 5), (10, 20)]);
        assert!(i.contains(1) && i.contains(5) && i.contains(15));
        assert!(!i.contains(0) && !i.contains(6) && !i.contains(21));
        assert!(i.covers(10, 20) && i.covers(2, 4));
        assert!(!i.covers(4, 11) && !i.covers(0, 1) && !i.covers(19, 21));
        assert!(i.intersects(0, 1) && i.intersects(6, 10) && !i.intersects(6, 9));
        assert!(Intervals::new().covers(3, 2));
        assert!(!Intervals::new().covers(3, 3));
    }

    proptest! {
        #[test]
        fn intervals_match_model(adds in prop::collection::vec((-20i64..20, 0i64..8), 0..12),
                                 q in (-25i64..25, 0i64..10)) {
            let mut model = BTreeSet::new();
            let mut i = Intervals::new();
            for &(a, len) in &adds {
                i.add(Interval::new(a, a + len));
                model.extend(a..=a + len);
            }
            // invariant: sorted, non-overlapping, non-touching
            for w in i.as_slice().windows(2) {
                prop_assert!(w[0].maxt + 1 < w[1].mint);
            }
            for x in i.iter() {
                prop_assert!(x.mint <= x.maxt);
            }
            for t in -30..35 {
                prop_assert_eq!(i.contains(t), model.contains(&t), "t={}", t);
            }
            let (a, len) = q;
            prop_assert_eq!(i.covers(a, a + len), (a..=a + len).all(|t| model.contains(&t)));
            prop_assert_eq!(i.intersects(a, a + len), (a..=a + len).any(|t| model.contains(&t)));
            // the set of intervals is exactly the maximal runs of the model
            let mut runs: Vec<(i64, i64)> = Vec::new();
            for &t in &model {
                match runs.last_mut() {
                    Some(r) if r.1 + 1 == t => r.1 = t,
                    _ => runs.push((t, t)),
                }
            }
            prop_assert_eq!(pairs(&i), runs);
        }

        #[test]
        fn file_roundtrip_prop(entries in prop::collection::vec(
            (0u64..1000, any::<i64>(), 0i64..1_000_000), 0..50)) {
            let mut t = Tombstones::new();
            for (r, a, len) in entries {
                t.add(r, Interval::new(a, a.saturating_add(len)));
            }
            prop_assert_eq!(Tombstones::decode(&t.encode()).unwrap(), t);
        }
    }

    fn sample() -> Tombstones {
        let mut t = Tombstones::new();
        t.add(7, Interval::new(100, 200));
        t.add(7, Interval::new(201, 300));
        t.add(3, Interval::new(-50, -10));
        t.add(3, Interval::new(0, 0));
        t.add(u64::MAX, Interval::new(i64::MIN, i64::MAX));
        t.add(9, Interval::new(5, 1)); // empty: ignored
        t
    }

    #[test]
    fn tombstones_basics() {
        let t = sample();
        assert_eq!(t.len(), 3);
        assert_eq!(t.num_intervals(), 4);
        assert_eq!(pairs(t.get(7).unwrap()), vec![(100, 300)]);
        assert!(t.get(9).is_none());
        let refs: Vec<u64> = t.iter().map(|(r, _)| r).collect();
        assert_eq!(refs, vec![3, 7, u64::MAX]);
        let mut u = Tombstones::new();
        u.add(7, Interval::new(301, 400));
        u.merge(&t);
        assert_eq!(pairs(u.get(7).unwrap()), vec![(100, 400)]);
    }

    #[test]
    fn file_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tombstones");
        assert!(
            Tombstones::read(&path).unwrap().is_empty(),
            "missing = empty"
        );
        let t = sample();
        t.write(Fs::os(), &path).unwrap();
        assert_eq!(Tombstones::read(&path).unwrap(), t);
        Tombstones::new().write(Fs::os(), &path).unwrap();
        assert!(Tombstones::read(&path).unwrap().is_empty());
        assert!(!dir.path().join("tombstones.tmp").exists());
    }

    #[test]
    fn flipped_byte_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tombstones");
        let good = sample().encode();
        for i in 0..good.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = good.clone();
                bad[i] ^= bit;
                std::fs::write(&path, &bad).unwrap();
                match Tombstones::read(&path) {
                    Err(e @ Error::Corruption { .. }) => {
                        assert!(e.to_string().contains("tombstones"), "{e}");
                    }
                    other => panic!("byte {i}: expected corruption, got {other:?}"),
                }
            }
        }
        for n in [0, 3, 8, good.len() - 1] {
            std::fs::write(&path, &good[..n]).unwrap();
            assert!(matches!(
                Tombstones::read(&path),
                Err(Error::Corruption { .. })
            ));
        }
    }

    #[test]
    fn structural_errors_with_valid_crc() {
        let with_crc = |body: Vec<u8>| {
            let mut e = Encbuf { buf: body };
            e.put_crc32c_of(0);
            e.buf
        };
        let header = || {
            let mut e = Encbuf::new();
            e.put_u32(TOMBSTONES_MAGIC);
            e.put_u8(TOMBSTONES_VERSION);
            e
        };
        // wrong version
        let mut e = Encbuf::new();
        e.put_u32(TOMBSTONES_MAGIC);
        e.put_u8(2);
        e.put_uvarint(0);
        assert!(Tombstones::decode(&with_crc(e.buf))
            .unwrap_err()
            .contains("version"));
        // refs not ascending
        let mut e = header();
        e.put_uvarint(2);
        for r in [5u64, 5] {
            e.put_uvarint(r);
            e.put_uvarint(1);
            e.put_varint(0);
            e.put_uvarint(1);
        }
        assert!(Tombstones::decode(&with_crc(e.buf))
            .unwrap_err()
            .contains("ascending"));
        // zero intervals
        let mut e = header();
        e.put_uvarint(1);
        e.put_uvarint(1);
        e.put_uvarint(0);
        assert!(Tombstones::decode(&with_crc(e.buf)).is_err());
        // overflowing interval end
        let mut e = header();
        e.put_uvarint(1);
        e.put_uvarint(1);
        e.put_uvarint(1);
        e.put_varint(i64::MAX);
        e.put_uvarint(1);
        assert!(Tombstones::decode(&with_crc(e.buf))
            .unwrap_err()
            .contains("overflow"));
        // trailing bytes
        let mut e = header();
        e.put_uvarint(0);
        e.put_u8(0);
        assert!(Tombstones::decode(&with_crc(e.buf))
            .unwrap_err()
            .contains("trailing"));
        // truncated entry
        let mut e = header();
        e.put_uvarint(3);
        assert!(Tombstones::decode(&with_crc(e.buf)).is_err());
    }
}
