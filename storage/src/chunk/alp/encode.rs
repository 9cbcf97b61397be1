//! Encoding a whole run of samples as an `Alp` chunk. Unlike the `Xor`
//! builder this is not incremental: the encoder looks at every sample to
//! pick each column's transform, packing and (for values) decimal
//! exponent, so it runs where chunks are final (block writing).

use super::decimal::{max_exponent, scale, MAX_EXP};
use super::header::{KIND_EXCEPTIONS, KIND_XOR};
use super::ints::{self, Plan, Scratch};
use crate::chunk::xor::encode_values;
use crate::encoding::Encbuf;

/// Encodes `samples` (ascending timestamps) as an `Alp` chunk; `None` when
/// there are more than `u16::MAX` of them or the timestamps need residuals
/// wider than the format allows (only for spans near the whole `i64`
/// range).
pub fn encode(samples: &[(i64, f64)]) -> Option<Vec<u8>> {
    let n = u16::try_from(samples.len()).ok()?;
    let mut e = Encbuf::with_capacity(16 + samples.len());
    e.put_u16(n);
    let mut out = e.buf;
    if n == 0 {
        return Some(out);
    }
    let mut s = Scratch::default();
    let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
    let p = ints::plan(&ts, &[], &mut s)?;
    ints::write(&p, &ts, &[], &mut out);
    let vals: Vec<f64> = samples.iter().map(|s| s.1).collect();
    write_values(&vals, &mut s, &mut out);
    Some(out)
}

/// A decimal value column as planned: exponent, scaled integers (0 in the
/// exceptions' slots, which the integer column fills), exceptions (their
/// positions also in `holes`), the integer column's plan and the size.
struct DecimalPlan {
    exp: i32,
    ks: Vec<i64>,
    exceptions: Vec<(usize, u64)>,
    holes: Vec<usize>,
    plan: Plan,
    bytes: usize,
}

/// Appends the smallest value column for `vals` (at least one): decimal at
/// the best exponent, or XOR.
fn write_values(vals: &[f64], s: &mut Scratch, out: &mut Vec<u8>) {
    let xor = encode_values(vals.iter().map(|v| v.to_bits()));
    match plan_decimal(vals, s) {
        // Ties go to decimals, which decode faster.
        Some(d) if d.bytes <= 1 + xor.len() => {
            let mut kind = (d.exp + MAX_EXP) as u8;
            if !d.exceptions.is_empty() {
                kind |= KIND_EXCEPTIONS;
            }
            out.push(kind);
            ints::write(&d.plan, &d.ks, &d.holes, out);
            if !d.exceptions.is_empty() {
                let mut e = Encbuf {
                    buf: std::mem::take(out),
                };
                e.put_uvarint(d.exceptions.len() as u64);
                let mut next = 0;
                for &(pos, bits) in &d.exceptions {
                    e.put_uvarint((pos - next) as u64);
                    e.put_u64(bits);
                    next = pos + 1;
                }
                *out = e.buf;
            }
        }
        _ => {
            out.push(KIND_XOR);
            out.extend_from_slice(&xor);
        }
    }
}

/// The smallest decimal value column for `vals`, over the exponents at
/// which some value scales; `None` if none does.
fn plan_decimal(vals: &[f64], s: &mut Scratch) -> Option<DecimalPlan> {
    // Each value's largest exponent; runs of one value (most chunks hold
    // few distinct values) are computed once.
    let mut exps = Vec::with_capacity(vals.len());
    let mut last: Option<(u64, Option<i32>)> = None;
    for v in vals {
        let x = match last {
            Some((bits, x)) if bits == v.to_bits() => x,
            _ => max_exponent(*v),
        };
        last = Some((v.to_bits(), x));
        exps.push(x);
    }
    let mut candidates: Vec<i32> = exps.iter().flatten().copied().collect();
    candidates.sort_unstable();
    candidates.dedup();
    let mut best: Option<DecimalPlan> = None;
    // From the smallest exponent up, values that need a smaller one become
    // exceptions, so exceptions only grow: stop once they alone cost more
    // than the best so far.
    for x in candidates {
        let mut ks = Vec::with_capacity(vals.len());
        let mut exceptions = Vec::new();
        for (i, (v, m)) in vals.iter().zip(&exps).enumerate() {
            match m.filter(|&m| m >= x).and_then(|_| scale(*v, x)) {
                Some(k) => ks.push(k),
                None => {
                    exceptions.push((i, v.to_bits()));
                    ks.push(0);
                }
            }
        }
        let exception_bytes = exceptions_len(&exceptions);
        if best
            .as_ref()
            .is_some_and(|b| 1 + exception_bytes >= b.bytes)
            || exceptions.len() == vals.len()
        {
            break;
        }
        let holes: Vec<usize> = exceptions.iter().map(|e| e.0).collect();
        let Some(plan) = ints::plan(&ks, &holes, s) else {
            continue;
        };
        let bytes = 1 + plan.bytes + exception_bytes;
        if best.as_ref().is_none_or(|b| bytes < b.bytes) {
            best = Some(DecimalPlan {
                exp: x,
                ks,
                exceptions,
                holes,
                plan,
                bytes,
            });
        }
    }
    best
}

/// Bytes of the exception list (none when empty).
fn exceptions_len(exceptions: &[(usize, u64)]) -> usize {
    if exceptions.is_empty() {
        return 0;
    }
    let mut e = Encbuf::new();
    e.put_uvarint(exceptions.len() as u64);
    let mut next = 0;
    for &(pos, _) in exceptions {
        e.put_uvarint((pos - next) as u64);
        next = pos + 1;
    }
    e.len() + 8 * exceptions.len()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bits, build, samples, special};
    use super::*;
    use crate::chunk::testing::Rng;
    use crate::chunk::xor::testing::build as build_xor;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn roundtrip(s in samples()) {
            let c = build(&s);
            prop_assert!(c.validate().is_ok(), "{:?}", c.validate());
            let got: Vec<(i64, f64)> = c.iter().collect();
            prop_assert_eq!(bits(&got), bits(&s));
            let mut bulk = Vec::new();
            c.read_into(i64::MIN, i64::MAX, &mut bulk);
            prop_assert_eq!(bits(&bulk), bits(&s));
        }

        #[test]
        fn any_bits_roundtrip(vals in proptest::collection::vec(any::<u64>(), 1..130), t0 in any::<i64>()) {
            let s: Vec<(i64, f64)> = vals
                .iter()
                .enumerate()
                .map(|(i, &b)| (t0.wrapping_add(i as i64 * 15_000), f64::from_bits(b)))
                .collect();
            let c = build(&s);
            let got: Vec<(i64, f64)> = c.iter().collect();
            prop_assert_eq!(bits(&got), bits(&s));
        }

        #[test]
        fn decimals_with_specials(
            ks in proptest::collection::vec(-1_000_000i64..1_000_000, 1..130),
            exp in -22i32..=22,
            specials in proptest::collection::vec((any::<prop::sample::Index>(), special()), 0..6),
        ) {
            // Scaled decimals stay decimal with the specials as exceptions,
            // unless XOR is smaller.
            let mut s: Vec<(i64, f64)> = ks
                .iter()
                .enumerate()
                .map(|(i, &k)| (i as i64 * 15_000, super::super::decimal::unscale(k, exp)))
                .collect();
            for (i, v) in specials {
                let i = i.index(s.len());
                s[i].1 = v;
            }
            let c = build(&s);
            let got: Vec<(i64, f64)> = c.iter().collect();
            prop_assert_eq!(bits(&got), bits(&s));
        }
    }

    fn xor_len(s: &[(i64, f64)]) -> usize {
        build_xor(s).data.len()
    }

    /// 120 scrapes 15 s apart with a few ms of jitter.
    fn scrape_times() -> Vec<i64> {
        let jitter = [0, 3, 4, 3, 0, 4, 4, 0, 3, 3, 4];
        (0..120)
            .map(|k| 1_795_639_579_792 + k * 15_000 + jitter[k as usize % 11])
            .collect()
    }

    #[test]
    fn monitoring_shapes_are_small() {
        let ts = scrape_times();
        let with = |f: &dyn Fn(usize) -> f64| -> Vec<(i64, f64)> {
            ts.iter().enumerate().map(|(k, &t)| (t, f(k))).collect()
        };
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.next();
        let incs: Vec<u64> = (0..120).map(|_| next() % 40).collect();
        let temps: Vec<u64> = (0..120).map(|_| next() % 300).collect();
        // (name, samples, most bytes the chunk may take)
        type Case = (&'static str, Vec<(i64, f64)>, usize);
        let cases: [Case; 4] = [
            // Timestamps: 2-bit dictionary indexes (30 bytes) plus ~15
            // bytes of header; the value: kind, tag, base.
            ("constant", with(&|_| 1.0), 50),
            // Deltas of 0..40: 6 bits each.
            (
                "counter",
                with(&|k| 1e6 + incs[..=k].iter().sum::<u64>() as f64),
                50 + 95,
            ),
            // Two fraction digits, a range of 300: 9 bits each.
            (
                "gauge",
                with(&|k| {
                    format!("2{}.{:02}", temps[k] / 100, temps[k] % 100)
                        .parse()
                        .unwrap()
                }),
                50 + 140,
            ),
            // A stale marker ends a counter: one exception.
            (
                "stale",
                with(&|k| {
                    if k == 119 {
                        crate::stale_nan()
                    } else {
                        7.0 + k as f64
                    }
                }),
                50 + 12,
            ),
        ];
        for (name, s, max) in cases {
            let c = build(&s);
            let got: Vec<(i64, f64)> = c.iter().collect();
            assert_eq!(bits(&got), bits(&s), "{name}");
            let (alp, xor) = (c.data.len(), xor_len(&s));
            eprintln!("{name}: alp {alp} bytes, xor {xor} bytes");
            assert!(alp <= max, "{name}: {alp} bytes, want <= {max}");
            assert!(alp < xor, "{name}: {alp} bytes, xor {xor}");
        }
    }

    #[test]
    fn values_that_are_not_decimals_fall_back_to_xor() {
        let ts = scrape_times();
        // Irrational values and a repeated NaN.
        let roots: Vec<(i64, f64)> = ts
            .iter()
            .enumerate()
            .map(|(k, &t)| (t, (k as f64 + 2.0).sqrt()))
            .collect();
        let nans: Vec<(i64, f64)> = ts.iter().map(|&t| (t, f64::NAN)).collect();
        for s in [roots, nans] {
            let c = build(&s);
            let b = c.data.as_slice();
            let h = super::super::header::parse_header(b).unwrap();
            let cols = h.columns.unwrap();
            assert_eq!(b[cols.ts.end()], KIND_XOR);
            let got: Vec<(i64, f64)> = c.iter().collect();
            assert_eq!(bits(&got), bits(&s));
        }
    }

    #[test]
    fn empty_and_single() {
        let c = build(&[]);
        assert_eq!(c.data.as_slice(), &[0, 0]);
        assert!(c.validate().is_ok());
        assert_eq!(c.iter().next(), None);
        assert_eq!(c.iter().seek(i64::MIN), None);
        for v in [1.0, -0.0, f64::NAN, 0.25, 1e300] {
            let s = [(i64::MIN, v)];
            let got: Vec<_> = build(&s).iter().collect();
            assert_eq!(bits(&got), bits(&s));
        }
    }

    #[test]
    fn declined_beyond_the_sample_count_field() {
        // Timestamps spanning the whole `i64` range still encode (deltas
        // wrap); more samples than the count field holds do not.
        assert!(encode(&[(i64::MIN, 1.0), (0, 1.0), (i64::MAX, 1.0)]).is_some());
        let many: Vec<(i64, f64)> = (0..=u16::MAX as i64).map(|i| (i, 0.0)).collect();
        assert!(encode(&many).is_none());
        assert!(encode(&many[1..]).is_some());
    }
}
