//! Hash maps over label sets for the evaluator's per-series work (grouping,
//! duplicate checks). std's SipHash costs more than the rest of grouping a
//! wide query's series; FxHash is several times cheaper. It is seeded once
//! per process at random, so label values sent by a scrape target cannot be
//! chosen to collide in a known way.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;

use rustc_hash::FxSeededState;
use storage::Label;

/// A hash map with the evaluator's hasher.
pub(crate) type LabelMap<K, V> = HashMap<K, V, FxSeededState>;

/// The process's hasher state.
pub(crate) fn hasher() -> FxSeededState {
    static SEED: OnceLock<usize> = OnceLock::new();
    FxSeededState::with_seed(*SEED.get_or_init(|| RandomState::new().hash_one(0u64) as usize))
}

/// An empty [`LabelMap`] with room for `n` entries.
pub(crate) fn with_capacity<K, V>(n: usize) -> LabelMap<K, V> {
    HashMap::with_capacity_and_hasher(n, hasher())
}

/// Hash of the pairs `labels` yields, without building a label set.
pub(crate) fn hash_pairs<'a>(labels: impl Iterator<Item = &'a Label>) -> u64 {
    let mut h = hasher().build_hasher();
    for l in labels {
        h.write(l.name.as_bytes());
        h.write_u8(0xff);
        h.write(l.value.as_bytes());
        h.write_u8(0xfe);
    }
    h.finish()
}
