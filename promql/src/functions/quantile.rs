//! The φ-quantile of a set of floats, as the `quantile` aggregation and
//! `quantile_over_time` compute it.

use std::cmp::Ordering;

/// Orders floats ascending with NaN before every other value.
pub(crate) fn nan_first(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(b).unwrap(),
    }
}

/// The `q`-quantile of `values` by linear interpolation between the two
/// closest ranks (rank `q·(n−1)`). NaN for no values or a NaN `q`; −Inf for
/// `q < 0`; +Inf for `q > 1`. NaN values sort below all others. `values` is
/// left sorted.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(nan_first);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(q_: f64, v: &[f64]) -> f64 {
        quantile(q_, &mut v.to_vec())
    }

    #[test]
    fn edges() {
        assert!(q(0.5, &[]).is_nan());
        assert!(q(f64::NAN, &[1.0]).is_nan());
        assert_eq!(q(-0.1, &[1.0]), f64::NEG_INFINITY);
        assert_eq!(q(1.1, &[1.0]), f64::INFINITY);
        assert_eq!(q(0.0, &[3.0, 1.0, 2.0]), 1.0);
        assert_eq!(q(1.0, &[3.0, 1.0, 2.0]), 3.0);
        assert_eq!(q(0.7, &[5.0]), 5.0);
    }

    #[test]
    fn interpolates() {
        assert_eq!(q(0.5, &[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(q(0.25, &[0.0, 10.0]), 2.5);
        // aggregators.test: quantile(0.3, ...) of 100..800 in steps of 100, per group of 4.
        assert!((q(0.3, &[100.0, 200.0, 300.0, 400.0]) - 190.0).abs() < 1e-12);
    }

    #[test]
    fn nan_sorts_first() {
        assert!(q(0.0, &[1.0, f64::NAN, 2.0]).is_nan());
        assert_eq!(q(1.0, &[1.0, f64::NAN, 2.0]), 2.0);
        assert_eq!(q(0.5, &[2.0, f64::NAN, 1.0]), 1.0);
    }
}
