//! `histogram_quantile` and `histogram_fraction` over classic histograms:
//! a set of cumulative bucket counts, each with an inclusive upper bound.

/// One classic-histogram bucket: the cumulative `count` of observations at
/// or below `upper`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    pub upper: f64,
    pub count: f64,
}

/// A [`bucket_quantile`] result with what had to be corrected in the input,
/// so the caller can emit Prometheus's info annotations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantileResult {
    pub value: f64,
    /// Some bucket count was below its predecessor and was raised to it
    /// ("input to histogram_quantile needed to be fixed for monotonicity").
    pub forced_monotonic: bool,
    /// Some tiny (relative 1e-12) count difference, presumably a floating
    /// point artifact, was ignored.
    pub fixed_precision: bool,
}

/// Relative difference below which two adjacent bucket counts are taken as
/// equal.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Whether `a` and `b` are equal within relative tolerance `epsilon` (the
/// comparison Prometheus uses; NaN equals NaN).
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    let min_normal = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < epsilon * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Sorts by upper bound, then merges buckets with equal bounds by adding
/// their counts. Returns false (leaving the buckets sorted) when there is no
/// +Inf bucket.
fn sort_and_coalesce(buckets: &mut Vec<Bucket>) -> bool {
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    match buckets.last() {
        Some(b) if b.upper == f64::INFINITY => {}
        _ => return false,
    }
    let mut out = 0;
    for i in 1..buckets.len() {
        if buckets[i].upper == buckets[out].upper {
            buckets[out].count += buckets[i].count;
        } else {
            out += 1;
            buckets[out] = buckets[i];
        }
    }
    buckets.truncate(out + 1);
    true
}

/// Makes counts non-decreasing: a count within the tolerance of the last
/// accepted count is set to it (fixed precision), a smaller one is raised
/// to it (forced monotonic). Returns `(forced_monotonic, fixed_precision)`.
fn ensure_monotonic(buckets: &mut [Bucket]) -> (bool, bool) {
    let (mut forced, mut fixed) = (false, false);
    let Some(first) = buckets.first() else {
        return (false, false);
    };
    let mut prev = first.count;
    for b in &mut buckets[1..] {
        let cur = b.count;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            fixed = true;
        } else if cur < prev {
            b.count = prev;
            forced = true;
        } else {
            prev = cur;
        }
    }
    (forced, fixed)
}

/// The `q`-quantile of a classic histogram, interpolating linearly within
/// the bucket holding rank `q × total count`.
///
/// NaN for a NaN `q`; −Inf / +Inf for `q` below 0 / above 1. The buckets are
/// sorted by upper bound (in place); without a +Inf bucket, with fewer than
/// two buckets, or with no observations the result is NaN. Buckets with the
/// same bound are merged and counts made monotonic (reported in the flags).
/// A quantile in the +Inf bucket is the second-highest bound; the lowest
/// bucket's lower bound is 0 if its upper bound is positive, otherwise the
/// quantile is that upper bound.
pub fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> QuantileResult {
    let plain = |value| QuantileResult {
        value,
        forced_monotonic: false,
        fixed_precision: false,
    };
    if q.is_nan() {
        return plain(f64::NAN);
    }
    if q < 0.0 {
        return plain(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return plain(f64::INFINITY);
    }
    if !sort_and_coalesce(buckets) {
        return plain(f64::NAN);
    }
    let (forced_monotonic, fixed_precision) = ensure_monotonic(buckets);
    let result = |value| QuantileResult {
        value,
        forced_monotonic,
        fixed_precision,
    };
    let n = buckets.len();
    if n < 2 {
        return plain(f64::NAN);
    }
    let observations = buckets[n - 1].count;
    if observations == 0.0 {
        return plain(f64::NAN);
    }
    let mut rank = q * observations;
    // First bucket (excluding +Inf) whose count reaches the rank.
    let b = buckets[..n - 1].partition_point(|b| b.count < rank);
    if b == n - 1 {
        return result(buckets[n - 2].upper);
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return result(buckets[0].upper);
    }
    let mut start = 0.0;
    let end = buckets[b].upper;
    let mut count = buckets[b].count;
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    result(start + (end - start) * (rank / count))
}

/// `histogram_fraction(lower, upper)` of a classic histogram: the estimated
/// share of observations in `[lower, upper]`, interpolating linearly inside
/// buckets.
///
/// The buckets are sorted (in place) and equal bounds merged. NaN without a
/// +Inf bucket, with no observations or with a NaN bound; 0 when
/// `lower >= upper`. The lowest bucket starts at 0 if its upper bound is
/// positive, otherwise at −Inf. A bound inside a bucket of infinite width
/// is not interpolated: it counts as the bucket's finite edge, so such a
/// bucket contributes only when the range covers it entirely.
pub fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if !sort_and_coalesce(buckets) {
        return f64::NAN;
    }
    let total = buckets[buckets.len() - 1].count;
    if total == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    (rank_at(upper, buckets).min(total) - rank_at(lower, buckets).min(total)) / total
}

/// Estimated number of observations at or below `v`.
fn rank_at(v: f64, buckets: &[Bucket]) -> f64 {
    let mut prev = 0.0;
    for (i, b) in buckets.iter().enumerate() {
        let lo = match i {
            0 if b.upper > 0.0 => 0.0,
            0 => f64::NEG_INFINITY,
            _ => buckets[i - 1].upper,
        };
        if v <= lo {
            return prev;
        }
        if v >= b.upper {
            prev = b.count;
            continue;
        }
        // lo < v < upper
        if lo == f64::NEG_INFINITY {
            return b.count;
        }
        if b.upper == f64::INFINITY {
            return prev;
        }
        return prev + (b.count - prev) * (v - lo) / (b.upper - lo);
    }
    prev
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bk(v: &[(f64, f64)]) -> Vec<Bucket> {
        v.iter()
            .map(|&(upper, count)| Bucket { upper, count })
            .collect()
    }

    const INF: f64 = f64::INFINITY;

    fn hq(q: f64, v: &[(f64, f64)]) -> f64 {
        bucket_quantile(q, &mut bk(v)).value
    }

    #[test]
    fn quantile_basic() {
        // histograms.test testhistogram2 at 50m: 0:0 2:10 4:20 6:30 +Inf:30.
        let h = [
            (0.0, 0.0),
            (2.0, 10.0),
            (4.0, 20.0),
            (6.0, 30.0),
            (INF, 30.0),
        ];
        assert_eq!(hq(1.0 / 6.0, &h), 1.0);
        assert_eq!(hq(0.5, &h), 3.0);
        assert_eq!(hq(5.0 / 6.0, &h), 5.0);
        assert_eq!(hq(0.0, &h), 0.0);
        assert_eq!(hq(1.0, &h), 6.0);
        // Unsorted input gives the same.
        let mut u = h;
        u.reverse();
        assert_eq!(hq(0.5, &u), 3.0);
    }

    #[test]
    fn quantile_edges() {
        let h = [(1.0, 5.0), (INF, 10.0)];
        assert!(hq(f64::NAN, &h).is_nan());
        assert_eq!(hq(-0.1, &h), f64::NEG_INFINITY);
        assert_eq!(hq(1.01, &h), INF);
        // Missing +Inf bucket.
        assert!(hq(0.5, &[(1.0, 5.0), (2.0, 10.0)]).is_nan());
        // Only the +Inf bucket.
        assert!(hq(0.5, &[(INF, 10.0)]).is_nan());
        // No observations.
        assert!(hq(0.5, &[(1.0, 0.0), (INF, 0.0)]).is_nan());
        // In the +Inf bucket: the second highest bound.
        assert_eq!(hq(0.9, &h), 1.0);
        // At a bucket boundary: the bucket's upper bound.
        let h = [(1.0, 5.0), (2.0, 10.0), (INF, 10.0)];
        assert_eq!(hq(0.5, &h), 1.0);
        assert_eq!(hq(0.25, &h), 0.5);
        assert_eq!(hq(0.75, &h), 1.5);
    }

    #[test]
    fn quantile_negative_lowest_bucket() {
        // testhistogram negative at 50m: -.2:10 -0.1:20 0.3:20 +Inf:30.
        let h = [(-0.2, 10.0), (-0.1, 20.0), (0.3, 20.0), (INF, 30.0)];
        assert_eq!(hq(0.2, &h), -0.2); // rank 6 in the lowest bucket
        assert!((hq(0.5, &h) - -0.15).abs() < 1e-15);
        assert_eq!(hq(0.8, &h), 0.3);
    }

    #[test]
    fn duplicates_coalesced() {
        // mixed_bucket ins1: 0.1:10, 0.2 ×3 (10 each → 30), +Inf 40.
        let mut b = bk(&[
            (0.1, 10.0),
            (0.2, 10.0),
            (0.2, 10.0),
            (0.2, 10.0),
            (INF, 40.0),
        ]);
        let r = bucket_quantile(0.5, &mut b);
        assert_eq!(b.len(), 3);
        assert!((r.value - 0.15).abs() < 1e-15, "{}", r.value);
        assert!(!r.forced_monotonic);
    }

    #[test]
    fn non_monotonic() {
        // histograms.test nonmonotonic_bucket at 50m.
        let h = [
            (0.1, 20.0),
            (1.0, 10.0),
            (10.0, 50.0),
            (100.0, 40.0),
            (1000.0, 90.0),
            (INF, 80.0),
        ];
        let r = bucket_quantile(0.01, &mut bk(&h));
        assert!(r.forced_monotonic && !r.fixed_precision);
        assert_eq!(r.value, 0.0045);
        let r = bucket_quantile(0.5, &mut bk(&h));
        assert!((r.value - 8.5).abs() < 1e-12, "{}", r.value);
        // 100 + 900·(39.1/40), one ulp below 979.75 in floating point.
        assert!((bucket_quantile(0.99, &mut bk(&h)).value - 979.75).abs() < 1e-12);
    }

    #[test]
    fn tiny_deltas_ignored() {
        let h = [
            (1.0, 10.0),
            (2.0, 10.000000000000002),
            (3.0, 10.0),
            (INF, 10.0),
        ];
        let r = bucket_quantile(1.0, &mut bk(&h));
        assert!(r.fixed_precision && !r.forced_monotonic);
        assert_eq!(r.value, 1.0);
    }

    fn hf(lo: f64, up: f64, v: &[(f64, f64)]) -> f64 {
        bucket_fraction(lo, up, &mut bk(v))
    }

    #[test]
    fn fraction_histograms_test() {
        let h2 = [
            (0.0, 0.0),
            (2.0, 10.0),
            (4.0, 20.0),
            (6.0, 30.0),
            (INF, 30.0),
        ];
        assert_eq!(hf(0.0, 4.0, &h2), 0.6666666666666666);
        assert_eq!(hf(0.0, 6.0, &h2), 1.0);
        assert_eq!(hf(0.0, 3.5, &h2), 0.5833333333333334);
        let pos = [(1.0, 1.0), (2.0, 3.0), (3.0, 6.0), (INF, 100.0)];
        let neg = [(-3.0, 10.0), (-2.0, 12.0), (-1.0, 15.0), (INF, 100.0)];
        assert_eq!(hf(0.0, 1.5, &pos), 0.02);
        assert_eq!(hf(-4.0, -2.0, &neg), 0.02);
        assert_eq!(hf(f64::NEG_INFINITY, -1.5, &neg), 0.135);
        assert_eq!(hf(f64::NEG_INFINITY, INF, &pos), 1.0);
        assert_eq!(hf(f64::NEG_INFINITY, INF, &neg), 1.0);
        assert_eq!(hf(4.0, 5.0, &pos), 0.0);
        assert_eq!(hf(0.0, 1.0, &neg), 0.0);
        assert_eq!(hf(2.0, 5.0, &pos), 0.03);
        assert_eq!(hf(400.0, INF, &pos), 0.94);
        assert_eq!(hf(2.0, 2.0, &pos), 0.0);
        assert_eq!(hf(3.0, 2.0, &pos), 0.0);
        assert_eq!(hf(0.0, 1.0, &[(INF, 100.0)]), 0.0);
        assert!(hf(0.0, 5.0, &[(1.0, 0.0), (INF, 0.0)]).is_nan());
        assert_eq!(hf(2.0, 3.5, &pos), 0.03);
        assert_eq!(hf(0.5, 2.0, &pos), 0.025);
        assert!(hf(f64::NAN, 1.0, &pos).is_nan());
        assert!(hf(0.0, f64::NAN, &pos).is_nan());
        assert!(hf(0.0, 1.0, &[(1.0, 5.0)]).is_nan());
    }
}

#[cfg(test)]
mod more_fraction_tests {
    use super::*;

    fn hf(lo: f64, up: f64, v: &[(f64, f64)]) -> f64 {
        let mut b: Vec<Bucket> = v
            .iter()
            .map(|&(upper, count)| Bucket { upper, count })
            .collect();
        bucket_fraction(lo, up, &mut b)
    }

    const INF: f64 = f64::INFINITY;

    #[test]
    fn boundaries_and_outside_ranges() {
        let pos = [(1.0, 1.0), (2.0, 3.0), (3.0, 6.0), (INF, 100.0)];
        assert_eq!(hf(1.0, 3.0, &pos), 0.05);
        assert_eq!(
            hf(0.1, 0.75, &[(0.5, 2.5), (1.0, 7.5), (INF, 100.0)]),
            0.045
        );
        let cross = [
            (-2.0, 5.0),
            (-1.0, 10.0),
            (0.0, 15.0),
            (1.0, 20.0),
            (INF, 100.0),
        ];
        assert_eq!(hf(-1.0, 1.0, &cross), 0.1);
        let small = [(1.0, 1.0), (2.0, 3.0), (INF, 10.0)];
        assert_eq!(hf(-10.0, -5.0, &small), 0.0);
        assert_eq!(hf(5.0, 10.0, &small), 0.0);
        // testhistogram3 at 50m.
        let p3 = [
            (0.0, 0.0),
            (0.1, 50.0),
            (0.2, 70.0),
            (1.0, 110.0),
            (INF, 110.0),
        ];
        assert_eq!(hf(0.0, 0.2, &p3), 0.6363636363636364);
        let n3 = [
            (-0.25, 0.0),
            (-0.2, 10.0),
            (-0.1, 20.0),
            (0.3, 20.0),
            (INF, 20.0),
        ];
        assert_eq!(hf(0.0, 0.2, &n3), 0.0);
    }
}
