//! Test helpers shared by both chunk encodings: the checks every reader
//! must pass whatever its encoding (seeking, corrupt bytes, bulk decoding
//! against a reference), and a small deterministic random source.

use super::{Chunk, ChunkBytes, Encoding};
use proptest::prelude::*;

/// Samples as `(t, bits of v)`, so that comparisons are bit-exact (NaN
/// payloads, -0.0).
pub(crate) fn bits(s: &[(i64, f64)]) -> Vec<(i64, u64)> {
    s.iter().map(|&(t, v)| (t, v.to_bits())).collect()
}

/// Xorshift64: reproducible test data without a dependency.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Seeks `c` (holding `s`) to ascending targets near the timestamps picked
/// by `targets` (shifted by `off`), then iterates the rest: every answer
/// must be what a scan of `s` gives.
pub(crate) fn check_seek(
    c: &Chunk,
    s: &[(i64, f64)],
    targets: &[prop::sample::Index],
    off: i64,
) -> Result<(), TestCaseError> {
    let mut ts: Vec<i64> = targets
        .iter()
        .map(|i| s[i.index(s.len())].0.saturating_add(off))
        .collect();
    ts.sort();
    let mut it = c.iter();
    let mut floor = i64::MIN; // the iterator never moves backwards
    let mut exhausted = false;
    for t in ts {
        let got = it.seek(t);
        let want = s.iter().find(|&&(st, _)| st >= t.max(floor)).copied();
        prop_assert_eq!(
            got.map(|(t, v)| (t, v.to_bits())),
            want.map(|(t, v)| (t, v.to_bits()))
        );
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
    Ok(())
}

/// `data` with the `flips` applied, and that cut to its first `cut` bytes.
pub(crate) fn corrupted(
    data: &[u8],
    flips: &[(prop::sample::Index, u8)],
    cut: prop::sample::Index,
) -> [Vec<u8>; 2] {
    let mut d = data.to_vec();
    for &(i, x) in flips {
        let i = i.index(d.len());
        d[i] ^= x;
    }
    let keep = cut.index(d.len() + 1);
    let short = d[..keep].to_vec();
    [d, short]
}

/// Reading corrupted copies of the chunk `data` (see [`corrupted`]) never
/// panics and never yields more samples than the header claims.
pub(crate) fn check_mutated(
    encoding: Encoding,
    data: &[u8],
    flips: &[(prop::sample::Index, u8)],
    cut: prop::sample::Index,
    seek_to: i64,
) -> Result<(), TestCaseError> {
    for d in corrupted(data, flips, cut) {
        let c = Chunk::new(encoding, ChunkBytes::from_vec(d));
        let _ = c.validate();
        let n = c.iter().count();
        prop_assert!(n <= c.num_samples());
        let mut it = c.iter();
        let _ = it.seek(seek_to);
        let _ = it.seek(i64::MAX);
    }
    Ok(())
}

/// `Chunk::read_into` against `reference` (the same contract, decoded
/// sample by sample), both appending after `prefix`: on `data`, on a copy
/// with the `flips` applied (if any) and on its first `cut` bytes, over
/// each of `ranges`.
pub(crate) fn matches_reference(
    encoding: Encoding,
    data: &[u8],
    flips: &[(prop::sample::Index, u8)],
    cut: prop::sample::Index,
    ranges: &[(i64, i64)],
    prefix: &[(i64, f64)],
    reference: impl Fn(ChunkBytes, i64, i64, &mut Vec<(i64, f64)>),
) -> Result<(), TestCaseError> {
    let [corrupt, short] = corrupted(data, flips, cut);
    let mut variants = vec![data.to_vec(), short];
    if !flips.is_empty() {
        variants.push(corrupt);
    }
    for d in variants {
        for &(lo, hi) in ranges {
            let mut want = prefix.to_vec();
            reference(ChunkBytes::from_vec(d.clone()), lo, hi, &mut want);
            let mut got = prefix.to_vec();
            Chunk::new(encoding, ChunkBytes::from_vec(d.clone())).read_into(lo, hi, &mut got);
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
    Ok(())
}
