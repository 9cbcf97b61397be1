//! The `*_over_time` family and the other functions over the float samples
//! of a range: `changes`, `resets`, `deriv`, `predict_linear`,
//! `double_exponential_smoothing` and the `ts_of_*_over_time` functions.
//!
//! Every function takes the window's float samples `(timestamp ms, value)`
//! in ascending time order; unless documented otherwise the slice must not
//! be empty.

use super::kahan::kahan_sum_inc;
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
/// the median.
pub fn mad_over_time(s: &[(i64, f64)]) -> f64 {
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
    let mut n = 0.0;
    let (mut sum_x, mut c_x) = (0.0, 0.0);
    let (mut sum_y, mut c_y) = (0.0, 0.0);
    let (mut sum_xy, mut c_xy) = (0.0, 0.0);
    let (mut sum_x2, mut c_x2) = (0.0, 0.0);
    let init_y = s[0].1;
    let mut const_y = true;
    for (i, &(t, v)) in s.iter().enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_time_ms) as f64 / 1e3;
        (sum_x, c_x) = kahan_sum_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_sum_inc(v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_sum_inc(x * v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_sum_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;
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
        return Err(format!("invalid smoothing factor. Expected: 0 < sf < 1, got: {}", go_f(sf)));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(format!("invalid trend factor. Expected: 0 < tf < 1, got: {}", go_f(tf)));
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

/// Time in seconds of the smallest value (the earliest one on ties; NaN
/// values ignored unless all are NaN).
pub fn ts_of_min_over_time(s: &[(i64, f64)]) -> f64 {
    seconds(s[min_index(s)].0)
}

/// Time in seconds of the largest value (the earliest one on ties; NaN
/// values ignored unless all are NaN).
pub fn ts_of_max_over_time(s: &[(i64, f64)]) -> f64 {
    seconds(s[max_index(s)].0)
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
        v.iter().enumerate().map(|(i, &x)| (i as i64 * 10_000, x)).collect()
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
        // Ties: the earliest sample.
        assert_eq!(ts_of_max_over_time(&vals(&[2.0, 2.0, 1.0])), 0.0);
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
        assert_eq!(stdvar_over_time(&vals(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])), 4.0);
        assert_eq!(stddev_over_time(&vals(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])), 2.0);
        assert_eq!(stdvar_over_time(&vals(&[3.0])), 0.0);
        assert!(stddev_over_time(&vals(&[1.0, NAN])).is_nan());
    }

    #[test]
    fn mad_and_quantile() {
        // Median 2, deviations 1 1 0 0 2 4 7 → median 1.
        assert_eq!(mad_over_time(&vals(&[1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0])), 1.0);
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
