//! Helpers shared by the tests of the `Xor` codec's modules.

use super::super::{Chunk, ChunkBytes, Encoding};
use super::XorBuilder;
use proptest::prelude::*;

pub(crate) fn build(samples: &[(i64, f64)]) -> Chunk {
    let mut b = XorBuilder::new();
    for &(t, v) in samples {
        b.append(t, v);
    }
    assert_eq!(b.num_samples(), samples.len());
    if let (Some(f), Some(l)) = (samples.first(), samples.last()) {
        assert_eq!(b.min_time(), f.0);
        assert_eq!(b.max_time(), l.0);
        assert_eq!(b.last_value().to_bits(), l.1.to_bits());
    }
    Chunk::new(Encoding::Xor, ChunkBytes::from_vec(b.encode()))
}

pub(crate) use super::super::testing::bits;

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(crate::stale_nan()),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        (0u64..1_000_000).prop_map(|c| c as f64),
        any::<u64>().prop_map(f64::from_bits),
        any::<f64>(),
    ]
}

pub(crate) fn delta() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => (-3i64..=3).prop_map(|j| 15_000 + j),
        1 => 1i64..100,
        1 => 1i64..10_000_000,
        1 => 1i64..(1 << 40),
        1 => 1i64..(i64::MAX / 4),
    ]
}

/// Strictly increasing timestamps starting anywhere, with irregular and
/// huge deltas; values from a mix including NaNs and counters.
pub(crate) fn samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
    (
        (i64::MIN / 2)..(i64::MAX / 2),
        proptest::collection::vec((delta(), value()), 0..200),
        value(),
    )
        .prop_map(|(start, rest, v0)| {
            let mut t = start;
            let mut out = vec![(t, v0)];
            for (d, v) in rest {
                match t.checked_add(d) {
                    Some(n) => t = n,
                    None => break,
                }
                out.push((t, v));
            }
            out
        })
}
