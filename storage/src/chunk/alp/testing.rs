//! Helpers shared by the tests of the `Alp` codec's modules: sample runs
//! shaped like monitoring data (counters, short decimals, constants) with
//! every kind of float that must survive bit-exactly mixed in.

use super::super::xor::testing::delta;
use super::super::{Chunk, ChunkBytes, Encoding};
use super::encode;
use proptest::prelude::*;

pub(crate) use super::super::testing::bits;

/// The `Alp` chunk of `samples`, which must be encodable.
pub(crate) fn build(samples: &[(i64, f64)]) -> Chunk {
    let b = encode(samples).expect("encodable");
    let c = Chunk::new(Encoding::Alp, ChunkBytes::from_vec(b));
    assert_eq!(c.num_samples(), samples.len());
    c
}

/// Floats that only bit-exact storage keeps: NaNs with any payload and
/// sign (the staleness marker among them), infinities, both zeros,
/// subnormals, extremes.
pub(crate) fn special() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(-f64::NAN),
        Just(crate::stale_nan()),
        any::<u64>().prop_map(|b| f64::from_bits(b | 0x7ff0_0000_0000_0001)),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        (1u64..1 << 52).prop_map(f64::from_bits),
        (1u64..1 << 52).prop_map(|m| -f64::from_bits(m)),
        Just(f64::MIN_POSITIVE),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::EPSILON),
    ]
}

/// A decimal with `0..=15` significant digits and its point anywhere, as
/// parsed from text.
pub(crate) fn decimal() -> impl Strategy<Value = f64> {
    (0u32..=15, any::<u64>(), -20i32..=20).prop_map(|(digits, r, point)| {
        let k = r % 10u64.pow(digits).max(1);
        let sign = if r >> 63 == 1 { "-" } else { "" };
        format!("{sign}{k}e{point}").parse().expect("a float")
    })
}

/// The values of one chunk: mostly of one shape, some specials mixed in.
fn values(n: usize) -> impl Strategy<Value = Vec<f64>> {
    let shape = prop_oneof![
        // A counter: irregular non-negative increments.
        (0u64..1 << 40, proptest::collection::vec(0u64..1000, n)).prop_map(|(start, inc)| {
            let mut c = start;
            inc.iter()
                .map(|i| {
                    c += i;
                    c as f64
                })
                .collect::<Vec<f64>>()
        }),
        // A gauge of decimals with one number of fraction digits.
        (0i32..=6, proptest::collection::vec(-100_000i64..100_000, n)).prop_map(|(d, ks)| ks
            .iter()
            .map(|k| format!("{k}e-{d}").parse().unwrap())
            .collect()),
        // Few distinct levels.
        (
            proptest::collection::vec(decimal(), 1..4),
            proptest::collection::vec(any::<prop::sample::Index>(), n)
        )
            .prop_map(|(levels, pick)| pick.iter().map(|i| *i.get(&levels)).collect()),
        proptest::collection::vec(decimal(), n),
        proptest::collection::vec(any::<f64>(), n),
        proptest::collection::vec(special(), n),
    ];
    (
        shape,
        proptest::collection::vec((any::<prop::sample::Index>(), special()), 0..4),
    )
        .prop_map(|(mut vals, specials)| {
            for (i, v) in specials {
                if !vals.is_empty() {
                    let i = i.index(vals.len());
                    vals[i] = v;
                }
            }
            vals
        })
}

/// Strictly increasing timestamps starting anywhere (regular with jitter,
/// irregular, huge steps), with [`values`].
pub(crate) fn samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
    (
        (i64::MIN / 2)..(i64::MAX / 2),
        proptest::collection::vec(delta(), 0..200),
    )
        .prop_flat_map(|(start, deltas)| {
            let mut t = start;
            let mut ts = vec![t];
            for d in deltas {
                match t.checked_add(d) {
                    Some(n) => t = n,
                    None => break,
                }
                ts.push(t);
            }
            let n = ts.len();
            values(n).prop_map(move |v| ts.iter().copied().zip(v).collect::<Vec<_>>())
        })
}
