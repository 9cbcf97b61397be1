//! The `*_over_time` family and the other functions over the float samples
//! of a range: `changes`, `resets`, `deriv`, `predict_linear`,
//! `double_exponential_smoothing` and the `ts_of_*_over_time` functions.
//!
//! Every function takes the window's float samples `(timestamp ms, value)`
//! in ascending time order; unless documented otherwise the slice must not
//! be empty.

use super::kahan::{kahan_sum_inc, kahan_sums4};
use super::quantile::quantile;

/// Mean of the values: a compensated sum divided by the count while the sum
/// stays finite, switching to a compensated incremental mean once it would
/// overflow.
pub fn avg_over_time(s: &[(i64, f64)]) -> f64 {
    let mut sum = s[0].1;
    let mut count = 1.0;
    let mut c = 0.0;
    let mut mean = 0.0;
    let mut incremental = false;
    for (i, &(_, v)) in s.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (new_sum, new_c) = kahan_sum_inc(v, sum, c);
            if !new_sum.is_infinite() {
                (sum, c) = (new_sum, new_c);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_sum_inc(v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

/// Compensated sum of the values.
pub fn sum_over_time(s: &[(i64, f64)]) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for &(_, v) in s {
        (sum, c) = kahan_sum_inc(v, sum, c);
    }
    if sum.is_infinite() {
        sum
    } else {
        sum + c
    }
}

/// Number of samples.
pub fn count_over_time(s: &[(i64, f64)]) -> f64 {
    s.len() as f64
}

/// Index of the sample picked by `better(candidate, current)`, starting from
/// the first; a NaN current value is always replaced.
fn pick(s: &[(i64, f64)], better: impl Fn(f64, f64) -> bool) -> usize {
    let mut best = 0;
    for (i, &(_, v)) in s.iter().enumerate() {
        let cur = s[best].1;
        if better(v, cur) || cur.is_nan() {
            best = i;
        }
    }
    best
}

fn min_index(s: &[(i64, f64)]) -> usize {
    pick(s, |v, cur| v < cur)
}

fn max_index(s: &[(i64, f64)]) -> usize {
    pick(s, |v, cur| v > cur)
}

/// Like [`min_index`] but the last of equal minima wins.
fn last_min_index(s: &[(i64, f64)]) -> usize {
    pick(s, |v, cur| v <= cur)
}

/// Like [`max_index`] but the last of equal maxima wins.
fn last_max_index(s: &[(i64, f64)]) -> usize {
    pick(s, |v, cur| v >= cur)
}

/// Smallest value; NaN values are ignored unless all values are NaN.
pub fn min_over_time(s: &[(i64, f64)]) -> f64 {
    s[min_index(s)].1
}

/// Largest value; NaN values are ignored unless all values are NaN.
pub fn max_over_time(s: &[(i64, f64)]) -> f64 {
    s[max_index(s)].1
}

/// Most recent value.
pub fn last_over_time(s: &[(i64, f64)]) -> f64 {
    s[s.len() - 1].1
}

/// Oldest value.
pub fn first_over_time(s: &[(i64, f64)]) -> f64 {
    s[0].1
}

/// Always 1: the series has samples in the window.
pub fn present_over_time(_s: &[(i64, f64)]) -> f64 {
    1.0
}

/// Population variance by Welford's online algorithm, with the running mean
/// and the sum of squared deviations both compensated.
pub fn stdvar_over_time(s: &[(i64, f64)]) -> f64 {
    let mut count = 0.0;
    let (mut mean, mut c_mean) = (0.0, 0.0);
    let (mut aux, mut c_aux) = (0.0, 0.0);
    for &(_, v) in s {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Population standard deviation: the square root of [`stdvar_over_time`].
pub fn stddev_over_time(s: &[(i64, f64)]) -> f64 {
    stdvar_over_time(s).sqrt()
}

/// Median absolute deviation: the median of the absolute differences from
/// the median. Any NaN value makes the result NaN.
pub fn mad_over_time(s: &[(i64, f64)]) -> f64 {
    if s.iter().any(|&(_, v)| v.is_nan()) {
        return f64::NAN;
    }
    let mut values: Vec<f64> = s.iter().map(|&(_, v)| v).collect();
    let median = quantile(0.5, &mut values);
    let mut dev: Vec<f64> = s.iter().map(|&(_, v)| (v - median).abs()).collect();
    quantile(0.5, &mut dev)
}

/// The `q`-quantile of the values (see [`quantile`]): −Inf for `q < 0`, +Inf
/// for `q > 1`, NaN for a NaN `q`.
pub fn quantile_over_time(q: f64, s: &[(i64, f64)]) -> f64 {
    let mut values: Vec<f64> = s.iter().map(|&(_, v)| v).collect();
    quantile(q, &mut values)
}

/// How often the value changed from one sample to the next (NaN to NaN is
/// not a change).
pub fn changes(s: &[(i64, f64)]) -> f64 {
    s.windows(2)
        .filter(|w| w[0].1 != w[1].1 && !(w[0].1.is_nan() && w[1].1.is_nan()))
        .count() as f64
}

/// How often the value decreased from one sample to the next.
pub fn resets(s: &[(i64, f64)]) -> f64 {
    s.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64
}

/// Least-squares line through the samples, with time in seconds relative to
/// `intercept_time_ms`: returns `(slope per second, value at
/// intercept_time_ms)`. Constant values give slope 0 (or NaN, NaN when the
/// constant is infinite). Sums are compensated.
pub fn linear_regression(s: &[(i64, f64)], intercept_time_ms: i64) -> (f64, f64) {
    let init_y = s[0].1;
    // Constant values need no sums (and the first value that differs is
    // usually the second).
    if s[1..].iter().all(|&(_, v)| v == init_y) {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let [sum_x, sum_y, sum_xy, sum_x2] = kahan_sums4(s.len(), |i| {
        let (t, v) = s[i];
        let x = (t - intercept_time_ms) as f64 / 1e3;
        [x, v, x * v, x * x]
    });
    // As a float count, exact below 2^53 samples.
    let n = s.len() as f64;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// Per-second slope of the least-squares line; `None` for fewer than two
/// samples.
pub fn deriv(s: &[(i64, f64)]) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    // Relative to the first sample's time, which keeps x small.
    Some(linear_regression(s, s[0].0).0)
}

/// The least-squares line's value `duration_secs` after the evaluation time
/// `eval_t_ms`; `None` for fewer than two samples.
pub fn predict_linear(s: &[(i64, f64)], duration_secs: f64, eval_t_ms: i64) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(s, eval_t_ms);
    Some(slope * duration_secs + intercept)
}

/// Formats like Go's `%f`: six decimals, `NaN`, `+Inf`, `-Inf`.
fn go_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v:.6}")
    }
}

/// Checks `double_exponential_smoothing`'s factors: both must lie strictly
/// between 0 and 1 (a NaN factor passes, as in Prometheus). The error text
/// is Prometheus's.
pub fn validate_smoothing(sf: f64, tf: f64) -> Result<(), String> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
            go_f(sf)
        ));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {}",
            go_f(tf)
        ));
    }
    Ok(())
}

/// Holt's linear (double exponential) smoothing with smoothing factor `sf`
/// and trend factor `tf`: the last smoothed value. `None` for fewer than two
/// samples. Factors are not checked here (see [`validate_smoothing`]).
pub fn double_exponential_smoothing(s: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, s[0].1);
    let mut trend = s[1].1 - s[0].1;
    for (i, &(_, v)) in s.iter().enumerate().skip(1) {
        let x = sf * v;
        if i > 1 {
            trend = tf * (s1 - s0) + (1.0 - tf) * trend;
        }
        let y = (1.0 - sf) * (s1 + trend);
        (s0, s1) = (s1, x + y);
    }
    Some(s1)
}

fn seconds(t_ms: i64) -> f64 {
    t_ms as f64 / 1000.0
}

/// Time in seconds of the smallest value (the latest one on ties; NaN
/// values ignored unless all are NaN, then the last sample's).
pub fn ts_of_min_over_time(s: &[(i64, f64)]) -> f64 {
    seconds(s[last_min_index(s)].0)
}

/// Time in seconds of the largest value (the latest one on ties; NaN
/// values ignored unless all are NaN, then the last sample's).
pub fn ts_of_max_over_time(s: &[(i64, f64)]) -> f64 {
    seconds(s[last_max_index(s)].0)
}

/// Time in seconds of the last sample.
pub fn ts_of_last_over_time(s: &[(i64, f64)]) -> f64 {
    seconds(s[s.len() - 1].0)
}

/// Time in seconds of the first sample.
pub fn ts_of_first_over_time(s: &[(i64, f64)]) -> f64 {
    seconds(s[0].0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(v: &[f64]) -> Vec<(i64, f64)> {
        v.iter()
            .enumerate()
            .map(|(i, &x)| (i as i64 * 10_000, x))
            .collect()
    }

    const NAN: f64 = f64::NAN;
    const INF: f64 = f64::INFINITY;

    #[test]
    fn sum_count_avg() {
        let s = vals(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(sum_over_time(&s), 10.0);
        assert_eq!(count_over_time(&s), 4.0);
        assert_eq!(avg_over_time(&s), 2.5);
        assert_eq!(avg_over_time(&vals(&[7.0])), 7.0);
        assert_eq!(sum_over_time(&vals(&[1.0, 1e100, 1.0, -1e100])), 2.0);
        assert_eq!(avg_over_time(&vals(&[1.0, 1e100, 1.0, -1e100])), 0.5);
    }

    #[test]
    fn avg_overflow_safe() {
        assert_eq!(avg_over_time(&vals(&[1e308, 1e308, 1e308])), 1e308);
        let a = avg_over_time(&vals(&[1e308, 1e308, -1e308, -1e308]));
        assert_eq!(a, 0.0);
        assert_eq!(avg_over_time(&vals(&[INF, 1.0])), INF);
        assert!(avg_over_time(&vals(&[INF, -INF])).is_nan());
        assert!(avg_over_time(&vals(&[1.0, NAN])).is_nan());
        assert_eq!(sum_over_time(&vals(&[1e308, 1e308])), INF);
    }

    #[test]
    fn min_max_nan() {
        let s = vals(&[NAN, 3.0, NAN, 1.0, 5.0]);
        assert_eq!(min_over_time(&s), 1.0);
        assert_eq!(max_over_time(&s), 5.0);
        assert!(min_over_time(&vals(&[NAN, NAN])).is_nan());
        assert!(max_over_time(&vals(&[NAN])).is_nan());
        assert_eq!(max_over_time(&vals(&[1.0, NAN])), 1.0);
        assert_eq!(min_over_time(&vals(&[-INF, 0.0])), -INF);
        assert_eq!(ts_of_min_over_time(&s), 30.0);
        assert_eq!(ts_of_max_over_time(&s), 40.0);
        // Ties: the latest sample.
        assert_eq!(ts_of_max_over_time(&vals(&[2.0, 2.0, 1.0])), 10.0);
        assert_eq!(ts_of_min_over_time(&vals(&[1.0, 3.0, 1.0, 2.0])), 20.0);
        assert_eq!(ts_of_min_over_time(&vals(&[NAN, NAN])), 10.0);
        assert_eq!(ts_of_max_over_time(&vals(&[NAN, 4.0, NAN])), 10.0);
    }

    #[test]
    fn first_last_present() {
        let s = vec![(1_500, 1.0), (2_001, 2.0)];
        assert_eq!(first_over_time(&s), 1.0);
        assert_eq!(last_over_time(&s), 2.0);
        assert_eq!(present_over_time(&s), 1.0);
        assert_eq!(ts_of_first_over_time(&s), 1.5);
        assert_eq!(ts_of_last_over_time(&s), 2.001);
        assert_eq!(ts_of_last_over_time(&[(-1_500, 0.0)]), -1.5);
    }

    #[test]
    fn variance() {
        assert_eq!(stddev_over_time(&vals(&[5.0; 10])), 0.0);
        assert_eq!(stdvar_over_time(&vals(&[0.1; 7])), 0.0);
        assert_eq!(
            stdvar_over_time(&vals(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])),
            4.0
        );
        assert_eq!(
            stddev_over_time(&vals(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])),
            2.0
        );
        assert_eq!(stdvar_over_time(&vals(&[3.0])), 0.0);
        assert!(stddev_over_time(&vals(&[1.0, NAN])).is_nan());
    }

    #[test]
    fn mad_and_quantile() {
        // Median 2, deviations 1 1 0 0 2 4 7 → median 1.
        assert_eq!(
            mad_over_time(&vals(&[1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0])),
            1.0
        );
        let s = vals(&[0.0, 10.0, 20.0, 30.0]);
        assert_eq!(quantile_over_time(0.5, &s), 15.0);
        assert_eq!(quantile_over_time(-1.0, &s), -INF);
        assert_eq!(quantile_over_time(2.0, &s), INF);
        assert!(quantile_over_time(NAN, &s).is_nan());
    }

    #[test]
    fn changes_resets() {
        let s = vals(&[1.0, 1.0, 2.0, NAN, NAN, 3.0, 1.0]);
        assert_eq!(changes(&s), 4.0);
        assert_eq!(resets(&s), 1.0);
        assert_eq!(changes(&vals(&[1.0])), 0.0);
        assert_eq!(resets(&vals(&[3.0, 2.0, 1.0])), 2.0);
    }

    #[test]
    fn regression() {
        // y = 2 + 0.5·t(s)
        let s: Vec<_> = (0..5).map(|i| (i * 10_000, 2.0 + 5.0 * i as f64)).collect();
        assert_eq!(deriv(&s), Some(0.5));
        assert_eq!(linear_regression(&s, 0), (0.5, 2.0));
        assert_eq!(predict_linear(&s, 60.0, 40_000), Some(22.0 + 30.0));
        assert_eq!(deriv(&s[..1]), None);
        assert_eq!(predict_linear(&s[..1], 1.0, 0), None);
        assert_eq!(deriv(&vals(&[3.0, 3.0])), Some(0.0));
        assert_eq!(linear_regression(&vals(&[3.0, 3.0]), 0), (0.0, 3.0));
        let (a, b) = linear_regression(&vals(&[INF, INF]), 0);
        assert!(a.is_nan() && b.is_nan());
    }

    #[test]
    fn smoothing() {
        assert_eq!(double_exponential_smoothing(&vals(&[1.0]), 0.5, 0.5), None);
        // Linear data is followed exactly.
        let s = vals(&[0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(double_exponential_smoothing(&s, 0.5, 0.5), Some(4.0));
        // Hand computed: s1=0,b=2; i=1: x=1, y=0.5·(0+2)=1 → s1=2;
        // i=2: b=0.5·(2−0)+0.5·2=2, x=0, y=0.5·(2+2)=2 → 2.
        let s = vals(&[0.0, 2.0, 0.0]);
        assert_eq!(double_exponential_smoothing(&s, 0.5, 0.5), Some(2.0));
        assert_eq!(validate_smoothing(0.5, 0.1), Ok(()));
        assert_eq!(
            validate_smoothing(1.0, 0.1).unwrap_err(),
            "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000"
        );
        assert_eq!(
            validate_smoothing(0.2, 0.0).unwrap_err(),
            "invalid trend factor. Expected: 0 < tf < 1, got: 0.000000"
        );
        assert!(validate_smoothing(NAN, 0.5).is_ok());
    }
}

/// Cases from the PromQL conformance suite (functions.test).
#[cfg(test)]
mod conformance {
    use super::*;

    const INF: f64 = f64::INFINITY;

    fn s(v: &[f64]) -> Vec<(i64, f64)> {
        v.iter()
            .enumerate()
            .map(|(i, &x)| (i as i64 * 5_000, x))
            .collect()
    }

    /// promqltest's comparison: relative tolerance 1e-6, NaN equals NaN.
    fn close(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() / a.abs().max(b.abs()) < 1e-6
    }

    #[test]
    fn avg_infinities() {
        let cases: &[(&[f64], f64)] = &[
            (&[1.0, 2.0, 3.0, 4.0, 5.0], 3.0),
            (&[1.0, 2.0, 3.0, 4.0, INF], INF),
            (&[1.0, 2.0, 3.0, 4.0, -INF], -INF),
            (&[1.0, 2.0, 3.0, INF, -INF], f64::NAN),
            (&[INF, 0.0, INF], INF),
            (&[INF, INF, INF, -INF], f64::NAN),
            (&[1.0, 2.0, 3.0, -INF, -INF], -INF),
            (&[-INF, 0.0, -INF], -INF),
            (&[-INF, -INF, -INF, INF], f64::NAN),
            (&[1.0, 2.0, -INF, -INF, INF], f64::NAN),
            (
                &[9.988_465_674_311_58e307, 9.988_465_674_311_58e307],
                9.988_465_674_311_58e307,
            ),
            (&[-9.988_465_674_311_58e307; 3], -9.988_465_674_311_58e307),
            (&[-9.988_465_674_311_58e307, 9.988_465_674_311_58e307], 0.0),
            (&[1.0, 2.0, 3.0, f64::NAN, f64::NAN], f64::NAN),
            (&[1.0, 2.0, 3.0], 2.0),
        ];
        for (v, e) in cases {
            let a = avg_over_time(&s(v));
            assert!(close(a, *e), "{v:?}: {a}");
            // sum/count agrees except where the sum overflows.
        }
        assert_eq!(sum_over_time(&s(&[9.988_465_674_311_58e307; 2])) / 2.0, INF);
    }

    #[test]
    fn avg_extreme_magnitudes() {
        let cases: &[(&[f64], f64)] = &[
            (
                &[1e10, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6],
                1.6666666666666675e+09,
            ),
            (
                &[
                    5.30921651659898,
                    0.961118537914768,
                    1.62091361305318,
                    0.865089463758091,
                    0.323055185914577,
                    0.951811357687154,
                ],
                1.67186744582113,
            ),
            (
                &[1.78264e50, 0.76342771, 1.9592258, 7.69805412, 458.90154],
                3.56528E+49,
            ),
            (
                &[0.76342771, 1.9592258, 7.69805412, 1.78264e50, 458.90154],
                3.56528E+49,
            ),
            (
                &[
                    1.78264E+50,
                    0.76342771,
                    1.9592258,
                    2.258E+220,
                    7.69805412,
                    458.90154,
                ],
                3.76333333333333E+219,
            ),
            (
                &[
                    -1.78264E+50,
                    0.76342771,
                    1.9592258,
                    2.258E+220,
                    7.69805412,
                    -458.90154,
                ],
                3.76333333333333E+219,
            ),
            (
                &[
                    -1.78264E+50,
                    0.76342771,
                    1.9592258,
                    -2.258E+220,
                    7.69805412,
                    -458.90154,
                ],
                -3.76333333333333E+219,
            ),
            (
                &[
                    -1.78264E+215,
                    0.76342771,
                    1.9592258,
                    2.258E+220,
                    7.69805412,
                    -458.90154,
                ],
                3.76330362266667E+219,
            ),
            (
                &[
                    -1.78264E+215,
                    0.76342771,
                    1.9592258,
                    2.258E+220,
                    7.69805412,
                    1.78264E+215,
                    -458.90154,
                ],
                3.225714285714286e+219,
            ),
            (
                &[
                    -1.78264E+219,
                    0.76342771,
                    1.9592258,
                    2.3757689E+217,
                    -2.3757689E+217,
                    2.258E+220,
                    7.69805412,
                    1.78264E+219,
                    -458.90154,
                ],
                2.5088888888888888e+219,
            ),
            (
                &[
                    -2.258E+220,
                    -1.78264E+219,
                    0.76342771,
                    1.9592258,
                    2.3757689E+217,
                    -2.3757689E+217,
                    2.258E+220,
                    7.69805412,
                    1.78264E+219,
                    -458.90154,
                ],
                0.0,
            ),
            (&[1.0, 1e100, 1.0, -1e100], 0.5),
        ];
        for (v, e) in cases {
            let a = avg_over_time(&s(v));
            assert!(close(a, *e), "{v:?}: {a}");
        }
        assert_eq!(
            avg_over_time(&s(&[1e10, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6])),
            1.6666666666666675e+09
        );
    }

    #[test]
    fn avg_exact_for_constant_series() {
        for n in 1..=200 {
            assert_eq!(avg_over_time(&s(&vec![52.0; n])), 52.0, "n={n}");
        }
    }

    #[test]
    fn dense_sums() {
        for n in [1000, 1001, 1002, 1003, 2000, 3003] {
            assert_eq!(sum_over_time(&s(&vec![1.0; n])), n as f64);
        }
    }

    #[test]
    fn variance_cases() {
        let v = s(&[0.0, 8.0, 8.0, 2.0, 3.0]);
        assert!(close(stdvar_over_time(&v), 10.56));
        assert!(close(stddev_over_time(&v), 3.249615));
        assert_eq!(stdvar_over_time(&s(&[1.5990505637277868; 3])), 0.0);
        assert_eq!(stddev_over_time(&s(&[1.5990505637277868; 3])), 0.0);
    }

    #[test]
    fn mad_cases() {
        assert_eq!(
            mad_over_time(&s(&[4.0, 6.0, 2.0, 1.0, 999.0, 1.0, 2.0])),
            1.0
        );
        assert_eq!(mad_over_time(&s(&[1.0, 2.0, 3.0, 4.0, 5.0])), 1.0);
        assert_eq!(mad_over_time(&s(&[7.0; 5])), 0.0);
        assert_eq!(mad_over_time(&s(&[5.0])), 0.0);
        assert!(mad_over_time(&s(&[1.0, 2.0, f64::NAN, 4.0])).is_nan());
    }

    #[test]
    fn quantile_cases() {
        let two = s(&[0.0, 1.0]);
        let three = s(&[0.0, 1.0, 2.0]);
        let uneven = s(&[0.0, 1.0, 4.0]);
        for (q, e) in [
            (0.0, [0.0, 0.0, 0.0]),
            (0.5, [0.5, 1.0, 1.0]),
            (0.75, [0.75, 1.5, 2.5]),
            (0.8, [0.8, 1.6, 2.8]),
            (1.0, [1.0, 2.0, 4.0]),
        ] {
            for (v, e) in [&two, &three, &uneven].iter().zip(e) {
                assert!(close(quantile_over_time(q, v), e), "q={q} {v:?}");
            }
        }
    }

    #[test]
    fn ts_of_min_max() {
        // load 10s53ms: metric 1 2 3 0 5 6 2 1 4, window (0, 90s].
        let v: Vec<_> = [1.0, 2.0, 3.0, 0.0, 5.0, 6.0, 2.0, 1.0, 4.0]
            .iter()
            .enumerate()
            .map(|(i, &x)| (i as i64 * 10_053, x))
            .filter(|&(t, _)| t > 0)
            .collect();
        assert_eq!(ts_of_min_over_time(&v), 30.159);
        assert_eq!(ts_of_max_over_time(&v), 50.265);
    }

    #[test]
    fn deriv_predict_cases() {
        let m = 60_000;
        // 0+80x10 every 5m; window (0, 50m].
        let total: Vec<_> = (1..=10).map(|i| (i * 5 * m, 80.0 * i as f64)).collect();
        assert!(close(deriv(&total).unwrap(), 0.26666666666666666));
        // predict_linear emulated with deriv: exact.
        let p = predict_linear(&total, 3600.0, 50 * m).unwrap();
        assert!(
            (p - (800.0 + deriv(&total).unwrap() * 3600.0)).abs() < 1e-9,
            "{p}"
        );
        // testcounter_reset_middle_total: 0+10x4 0+10x5 at 0..50m.
        let y = [
            0.0, 10.0, 20.0, 30.0, 40.0, 0.0, 10.0, 20.0, 30.0, 40.0, 50.0,
        ];
        let all: Vec<_> = y
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i64 * 5 * m, v))
            .collect();
        assert!(close(deriv(&all).unwrap(), 0.010606060606060607));
        let last50: Vec<_> = all[1..].to_vec();
        assert!(close(
            predict_linear(&last50, 3600.0, 50 * m).unwrap(),
            70.0
        ));
        assert!(close(
            predict_linear(&all, 3600.0, 50 * m).unwrap(),
            76.81818181818181
        ));
        assert!(close(
            predict_linear(&all, 3600.0, 10 * m).unwrap(),
            51.36363636363637
        ));
        assert!(close(
            predict_linear(&all, 3600.0, 70 * m).unwrap(),
            89.54545454545455
        ));
        // -Inf 0+80x10 Inf at 0..55m... window (0, 100m] holds 0..800 and Inf.
        let mut inf: Vec<_> = (1..=11)
            .map(|i| (i * 5 * m, 80.0 * (i - 1) as f64))
            .collect();
        inf.push((60 * m, INF));
        assert!(deriv(&inf).unwrap().is_nan());
        assert!(predict_linear(&inf, 6000.0, 100 * m).unwrap().is_nan());
    }

    #[test]
    fn smoothing_cases() {
        // 0+10x1000 100+30x1000 at 10s; at 8000s over [1m]: (7940s, 8000s].
        let mk = |f: &dyn Fn(i64) -> f64| -> Vec<(i64, f64)> {
            (795..=800).map(|i| (i * 10_000, f(i))).collect()
        };
        let cases: [(&dyn Fn(i64) -> f64, f64); 8] = [
            (&|i| 10.0 * i as f64, 8000.0),
            (&|i| 20.0 * i as f64, 16000.0),
            (&|i| 30.0 * i as f64, 24000.0),
            (&|i| 40.0 * i as f64, 32000.0),
            (&|i| 8000.0 - 10.0 * i as f64, 0.0),
            (&|i| -20.0 * i as f64, -16000.0),
            (&|i| 30.0 * i as f64, 24000.0),
            (&|i| -40.0 * i as f64, -32000.0),
        ];
        for (f, e) in cases {
            let v = double_exponential_smoothing(&mk(f), 0.01, 0.1).unwrap();
            assert!((v - e).abs() < 1e-6 * e.abs().max(1.0), "{v} vs {e}");
        }
    }
}
