//! Floats as scaled decimals: `v = k × 10^x` with an integer `k`, `|k| <=
//! 2^53`, and `-22 <= x <= 22` (`docs/formats/chunks.md`, *Decimal values*).
//!
//! Why this is lossless for exactly the values it accepts: `k` and `10^|x|`
//! are both exact doubles (every integer up to 2^53 is, and so is every
//! power of ten up to 10^22), so `k * 10^x` or `k / 10^-x` is one IEEE
//! operation, correctly rounded: the double nearest to the decimal
//! `k × 10^x`. That is also what parsing the decimal's text gives, so every
//! value written with at most 15 significant digits (a counter, `12.34`,
//! `0.005`) scales. Whether a particular value does is always checked on
//! its bits, so NaNs, infinities, `-0.0`, subnormals and values with more
//! digits simply do not scale and are kept some other way.

/// Largest exponent: `10^22` is the largest power of ten a double holds
/// exactly.
pub(crate) const MAX_EXP: i32 = 22;

/// Largest `|k|`: integers up to 2^53 are exact doubles.
const MAX_K: f64 = (1u64 << 53) as f64;

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `10^|x|` for `|x| <= MAX_EXP`.
#[inline(always)]
pub(crate) fn pow10(x: i32) -> f64 {
    POW10[x.unsigned_abs() as usize]
}

/// `k × 10^x`, correctly rounded (`|x| <= MAX_EXP`).
#[inline(always)]
pub(crate) fn unscale(k: i64, x: i32) -> f64 {
    if x >= 0 {
        k as f64 * pow10(x)
    } else {
        k as f64 / pow10(x)
    }
}

/// The `k` with `unscale(k, x)` bit-identical to `v`, if there is one with
/// `|k| <= 2^53`.
#[inline]
pub(crate) fn scale(v: f64, x: i32) -> Option<i64> {
    let k = if x >= 0 { v / pow10(x) } else { v * pow10(x) }.round();
    // NaN fails this too.
    if k.is_nan() || k.abs() > MAX_K {
        return None;
    }
    let k = k as i64;
    (unscale(k, x).to_bits() == v.to_bits()).then_some(k)
}

/// The largest `x` at which `v` scales (see [`scale`]); `None` if there is
/// none. Every smaller `x` down to where `|k|` outgrows 2^53 scales too (the
/// same decimal with a zero appended to `k`), so this is the one exponent a
/// chunk's encoder needs per value.
pub(crate) fn max_exponent(v: f64) -> Option<i32> {
    if v.to_bits() == 0 {
        // +0.0 is `0 × 10^x` for every `x`.
        return Some(MAX_EXP);
    }
    if !v.is_finite() {
        return None;
    }
    let a = v.abs();
    if a == 0.0 {
        // -0.0: `0 × 10^x` is +0.0.
        return None;
    }
    if a.fract() != 0.0 {
        // Fewest fraction digits first.
        for x in (-MAX_EXP..0).rev() {
            if a * pow10(x) > MAX_K {
                return None;
            }
            if scale(v, x).is_some() {
                return Some(x);
            }
        }
        return None;
    }
    if a <= MAX_K {
        // An exact integer: its trailing decimal zeros.
        let mut k = a as u64;
        let mut x = 0;
        while x < MAX_EXP && k != 0 && k.is_multiple_of(10) {
            k /= 10;
            x += 1;
        }
        return Some(x);
    }
    // A large integer: the exponents where `k` fits, largest that scales.
    (0..=MAX_EXP)
        .rev()
        .take_while(|&x| a / pow10(x) <= MAX_K * 10.0)
        .find(|&x| scale(v, x).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::testing::Rng;
    use proptest::prelude::*;

    fn check(v: f64) -> Option<i32> {
        let m = max_exponent(v);
        if let Some(m) = m {
            assert!(scale(v, m).is_some(), "{v:e} at {m}");
            if m < MAX_EXP {
                assert!(scale(v, m + 1).is_none(), "{v:e}: {m} is not the largest");
            }
            // Smaller exponents scale too while `k` stays small enough
            // (below 2^50) that computing it from `v` cannot round to a
            // neighbour.
            for x in (-MAX_EXP..m).rev() {
                let k = if x >= 0 { v / pow10(x) } else { v * pow10(x) };
                if k.abs() > MAX_K / 8.0 {
                    break;
                }
                assert!(scale(v, x).is_some(), "{v:e} at {x} (max {m})");
            }
        } else {
            for x in -MAX_EXP..=MAX_EXP {
                assert!(scale(v, x).is_none(), "{v:e} scales at {x}");
            }
        }
        m
    }

    #[test]
    fn typical_values() {
        assert_eq!(check(0.0), Some(22));
        assert_eq!(check(1.0), Some(0));
        assert_eq!(check(-7.0), Some(0));
        assert_eq!(check(1500.0), Some(2));
        assert_eq!(check(1e20), Some(20));
        assert_eq!(check(12.34), Some(-2));
        assert_eq!(check(-0.005), Some(-3));
        assert_eq!(check(0.1), Some(-1));
        assert_eq!(check(123456789.123456), Some(-6));
        assert_eq!(check(9007199254740992.0), Some(0));
        // Too many digits, or no decimal at all.
        assert_eq!(check(0.1 + 0.2), None);
        assert_eq!(check(1_795_639_571.409_115_6), None);
        assert_eq!(check(18446744073709551616.0), None);
        for v in [
            f64::NAN,
            -f64::NAN,
            crate::stale_nan(),
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(check(v), None);
        }
        assert_eq!(check(-0.0), None);
        assert_eq!(check(f64::MIN_POSITIVE), None);
        assert_eq!(check(5e-324), None);
        assert_eq!(check(f64::MAX), None);
    }

    #[test]
    fn exact_at_every_digit_count() {
        // Decimals with 0..=15 significant digits and any point position
        // parse to values that scale.
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for digits in 1..=15u32 {
            for _ in 0..2000 {
                let rng = rng.next();
                let k = (rng % 10u64.pow(digits)) as i64 * if rng & 1 == 0 { 1 } else { -1 };
                let point = (rng >> 40) as i32 % 23 - 11;
                let text = format!("{k}e{point}");
                let v: f64 = text.parse().unwrap();
                let m = check(v).unwrap_or_else(|| panic!("{text} = {v:e} does not scale"));
                assert!(m >= point, "{text}: max exponent {m}");
            }
        }
    }

    proptest! {
        #[test]
        fn any_bits(bits in any::<u64>()) {
            check(f64::from_bits(bits));
        }

        #[test]
        fn short_decimals(k in -999_999_999_999_999i64..=999_999_999_999_999, x in -MAX_EXP..=MAX_EXP) {
            // Up to 15 significant digits: what the spec promises.
            let v = unscale(k, x);
            let m = check(v);
            prop_assert!(m.is_some_and(|m| m >= x), "{}e{}: {:?}", k, x, m);
        }
    }
}
