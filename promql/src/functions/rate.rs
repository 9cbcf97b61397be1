//! `rate`, `increase`, `delta`, `irate` and `idelta` over float samples.

/// Seconds in a millisecond duration, computed as Go's `time.Duration.Seconds`
/// does (whole seconds plus the fractional part), so results match bit for bit.
#[inline]
pub(crate) fn duration_seconds(ms: i64) -> f64 {
    (ms / 1000) as f64 + (ms % 1000) as f64 / 1000.0
}

/// `rate` (`is_counter && is_rate`), `increase` (`is_counter`) and `delta`
/// (neither) with Prometheus 3 extrapolation.
///
/// `samples` are the float samples in the left-open window
/// `(range_start, range_end]`, in ascending time order. The difference
/// between last and first value (plus, for counters, the value before each
/// reset) is extrapolated towards the window edges: all the way when the
/// first/last sample lies within 1.1 average sample intervals of the edge,
/// otherwise by half an average interval. Counters are never extrapolated
/// below zero. `rate` then divides by the window length in seconds.
///
/// Returns `None` for fewer than two samples.
#[inline]
pub fn extrapolated_rate(
    samples: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let (first_t, first_v) = samples[0];
    let (last_t, last_v) = samples[samples.len() - 1];
    let intervals = (samples.len() - 1) as f64;

    let mut result = last_v - first_v;
    if is_counter {
        let mut prev = first_v;
        for &(_, v) in &samples[1..] {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }

    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg_interval = sampled / intervals;
    let threshold = avg_interval * 1.1;

    if to_start >= threshold {
        to_start = avg_interval / 2.0;
    }
    if is_counter && result > 0.0 && first_v >= 0.0 {
        // Where a straight line through the samples would reach zero: do not
        // extrapolate the counter back beyond that point.
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg_interval / 2.0;
    }
    let extrapolate_to = sampled + to_start + to_end;

    let mut factor = extrapolate_to / sampled;
    if is_rate {
        factor /= duration_seconds(range_end - range_start);
    }
    Some(result * factor)
}

/// The integers the extrapolation of a window depends on besides its
/// values and the window length (all ms): distance of the first sample to
/// the window start, the sampled span and the sample count. The distance of
/// the last sample to the window end follows from them.
#[derive(Clone, Copy)]
struct WindowShape {
    to_start: i64,
    sampled: i64,
    n: usize,
}

impl WindowShape {
    /// Never equal to a window's shape (those have `n >= 2`).
    const NONE: WindowShape = WindowShape {
        to_start: 0,
        sampled: 0,
        n: 0,
    };

    /// Equality without a branch per field.
    #[inline(always)]
    fn same(&self, o: &WindowShape) -> bool {
        ((self.to_start ^ o.to_start) | (self.sampled ^ o.sampled) | (self.n ^ o.n) as i64) == 0
    }
}

/// [`extrapolated_rate`] over many windows, bit for bit, with the part that
/// does not depend on the values memoised.
///
/// On regularly scraped data consecutive windows (and series) have the same
/// [`WindowShape`], so the six divisions that only depend on it are done
/// once per shape instead of once per window. Per window remain the
/// counter-reset sum (skipped for series without a decrease, see
/// [`Extrapolation::start_series`]), the zero-point clamp check and one
/// multiplication. The same IEEE operations run on the same inputs in the
/// same order as in [`extrapolated_rate`], so the results are identical
/// (tested below).
#[derive(Clone, Copy)]
pub struct Extrapolation {
    is_counter: bool,
    is_rate: bool,
    /// The window length (ms).
    range: i64,
    /// Whether no sample of the current series is below the one before.
    monotonic: bool,
    memo: Memo,
}

/// The value-independent part of [`extrapolated_rate`] for one
/// [`WindowShape`], as `extrapolated_rate` computes it. Rebuilt as a whole
/// value by [`Memo::new`] (its address never escapes the window loop), so
/// the compiler can keep it in registers.
#[derive(Clone, Copy)]
struct Memo {
    shape: WindowShape,
    /// `to_start` after the threshold, before the zero-point clamp.
    to_start: f64,
    to_end: f64,
    sampled: f64,
    /// The window length in seconds (for `rate`).
    duration: f64,
    /// `factor` without the zero-point clamp.
    factor: f64,
    /// `sampled >= to_start`, see [`Memo::never_clamps`].
    clamp_free: bool,
}

impl Memo {
    const NONE: Memo = Memo {
        shape: WindowShape::NONE,
        to_start: 0.0,
        to_end: 0.0,
        sampled: 0.0,
        duration: 0.0,
        factor: 0.0,
        clamp_free: false,
    };

    /// Computes the value-independent part for `shape` in a window of
    /// `range` ms (`to_end`: distance of the last sample to the window
    /// end). The fields come one by one so that they are passed in
    /// registers, not stored on the stack for a call that rarely happens.
    #[inline(never)]
    fn new(to_start: i64, sampled: i64, n: usize, range: i64, to_end: i64, is_rate: bool) -> Memo {
        let shape = WindowShape {
            to_start,
            sampled,
            n,
        };
        let intervals = (shape.n - 1) as f64;
        let mut to_start = shape.to_start as f64 / 1000.0;
        let mut to_end = to_end as f64 / 1000.0;
        let sampled = shape.sampled as f64 / 1000.0;
        let avg_interval = sampled / intervals;
        let threshold = avg_interval * 1.1;
        if to_start >= threshold {
            to_start = avg_interval / 2.0;
        }
        if to_end >= threshold {
            to_end = avg_interval / 2.0;
        }
        let mut m = Memo {
            shape,
            to_start,
            to_end,
            sampled,
            duration: duration_seconds(range),
            factor: 0.0,
            clamp_free: sampled >= to_start,
        };
        m.factor = m.factor_for(to_start, is_rate);
        m
    }

    /// The factor with the start distance clamped to `to_start`, as
    /// [`extrapolated_rate`] computes it.
    #[inline(always)]
    fn factor_for(&self, to_start: f64, is_rate: bool) -> f64 {
        let extrapolate_to = self.sampled + to_start + self.to_end;
        let mut factor = extrapolate_to / self.sampled;
        if is_rate {
            factor /= self.duration;
        }
        factor
    }

    /// Whether the zero-point clamp provably does not apply, without the
    /// division: with `first_v >= result > 0` the quotient
    /// `first_v / result` is at least 1 (rounding is monotonic and 1 is
    /// exact) or NaN (∞/∞), so `to_zero = sampled * quotient` is at least
    /// `sampled` or NaN, and neither is `< to_start` when
    /// `sampled >= to_start`.
    #[inline(always)]
    fn never_clamps(&self, first_v: f64, result: f64) -> bool {
        first_v >= result && self.clamp_free
    }
}

impl Extrapolation {
    /// `rate` (`is_counter && is_rate`), `increase` (`is_counter`) or
    /// `delta` (neither) over windows `range` ms long.
    pub fn new(is_counter: bool, is_rate: bool, range: i64) -> Self {
        Extrapolation {
            is_counter,
            is_rate,
            range,
            monotonic: false,
            memo: Memo::NONE,
        }
    }

    /// Announces the samples of the series whose windows follow (optional:
    /// without it every window sums its resets). A counter series that
    /// never decreases has no reset in any window, and there the reset sum
    /// would only add `-0.0`, which changes no value.
    #[inline]
    pub fn start_series(&mut self, samples: &[(i64, f64)]) {
        // No early exit, so that the scan vectorises.
        self.monotonic = self.is_counter
            && samples
                .windows(2)
                .fold(true, |mono, w| mono & !w[1].1.lt(&w[0].1));
    }

    /// [`extrapolated_rate`]`(samples, range_end - range, range_end, ..)`,
    /// for windows of the series last given to
    /// [`Extrapolation::start_series`] if it was called.
    pub fn eval(&mut self, samples: &[(i64, f64)], range_end: i64) -> Option<f64> {
        match (self.is_counter, self.is_rate) {
            (true, true) => self.eval_as::<true, true>(samples, range_end),
            (true, false) => self.eval_as::<true, false>(samples, range_end),
            (false, true) => self.eval_as::<false, true>(samples, range_end),
            (false, false) => self.eval_as::<false, false>(samples, range_end),
        }
    }

    /// [`Extrapolation::eval`] with `is_counter` and `is_rate` known when
    /// compiling (they must be the ones given to [`Extrapolation::new`]),
    /// for a window loop with no test of them per window.
    #[inline(always)]
    pub fn eval_as<const COUNTER: bool, const RATE: bool>(
        &mut self,
        samples: &[(i64, f64)],
        range_end: i64,
    ) -> Option<f64> {
        debug_assert!(self.is_counter == COUNTER && self.is_rate == RATE);
        let range_start = range_end.wrapping_sub(self.range);
        let [(first_t, first_v), .., (last_t, last_v)] = *samples else {
            return None;
        };
        let mut result = last_v - first_v;
        if COUNTER && !self.monotonic {
            let mut prev = first_v;
            for &(_, v) in &samples[1..] {
                // `x + -0.0` is `x` for every `x` (also -0.0 and NaN), so
                // adding it where there is no reset changes nothing and
                // keeps the loop free of branches.
                result += if v < prev { prev } else { -0.0 };
                prev = v;
            }
        }
        let shape = WindowShape {
            to_start: first_t - range_start,
            sampled: last_t - first_t,
            n: samples.len(),
        };
        if !self.memo.shape.same(&shape) {
            self.memo = Memo::new(
                shape.to_start,
                shape.sampled,
                shape.n,
                self.range,
                range_end - last_t,
                RATE,
            );
        }
        let m = &self.memo;
        let mut factor = m.factor;
        if COUNTER && result > 0.0 && first_v >= 0.0 && !m.never_clamps(first_v, result) {
            let to_zero = m.sampled * (first_v / result);
            if to_zero < m.to_start {
                factor = m.factor_for(to_zero, RATE);
            }
        }
        Some(result * factor)
    }
}

/// `irate` (`is_rate`) and `idelta` over the last two samples. `irate` treats
/// a decrease as a counter reset (the result is the last value) and divides
/// by the seconds between the two samples. `None` for fewer than two samples
/// or two samples at the same time.
pub fn instant_value(samples: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let (prev_t, prev_v) = samples[samples.len() - 2];
    let (last_t, last_v) = samples[samples.len() - 1];
    let mut result = if is_rate && last_v < prev_v {
        last_v
    } else {
        last_v - prev_v
    };
    let interval = last_t - prev_t;
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// Linear interpolation between `p1` and `p2` at time `t`. For counters a
/// decrease between the two is a reset: at the left window edge the first
/// value counts as 0, at the right edge the second value is raised by the
/// first.
fn interpolate(p1: (i64, f64), p2: (i64, f64), t: i64, is_counter: bool, left_edge: bool) -> f64 {
    let (mut y1, mut y2) = (p1.1, p2.1);
    if is_counter && y2 < y1 {
        if left_edge {
            y1 = 0.0;
        } else {
            y2 += y1;
        }
    }
    y1 + (y2 - y1) * (t - p1.0) as f64 / (p2.0 - p1.0) as f64
}

/// `rate` / `increase` / `delta` over an `anchored` or `smoothed` range
/// selector (Prometheus's experimental extended range selectors); an
/// addition to the API, used instead of [`extrapolated_rate`] for them.
///
/// `samples` are ascending and hold the window's samples `(range_start,
/// range_end]` plus, before them, samples at or before `range_start` (only
/// the last of these is used: the value at the window start) and, only when
/// `smoothed`, samples after `range_end` (only the first is used).
///
/// Anchored: the result is the last value minus the value at or before the
/// window start (or the first in-window value if there is none). Smoothed:
/// both edge values are linearly interpolated at `range_start` and
/// `range_end` from the neighbouring samples (for counters, a reset between
/// them makes the left edge interpolate up from 0 and the right edge
/// continue from the value before the reset). For counters, each decrease
/// between the edge values and the samples strictly inside the window adds
/// the value before it. `rate` divides by the window length in seconds. No
/// extrapolation. `None` without samples or when the last used sample is at
/// or before `range_start`.
pub fn extended_rate(
    samples: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
    smoothed: bool,
) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let f = samples;
    let mut last = f.len() - 1;
    let mut first = f[..last]
        .partition_point(|p| p.0 <= range_start)
        .saturating_sub(1);
    if smoothed {
        last = f[..last].partition_point(|p| p.0 < range_end);
    }
    if f[last].0 <= range_start {
        return None;
    }
    let left = if smoothed && f[first].0 < range_start {
        interpolate(f[first], f[first + 1], range_start, is_counter, true)
    } else {
        f[first].1
    };
    let right = if smoothed && last > 0 && f[last].0 > range_end {
        interpolate(f[last - 1], f[last], range_end, is_counter, false)
    } else {
        f[last].1
    };
    let mut result = right - left;
    if is_counter {
        // Resets strictly inside the window; the edges were handled above.
        if f[first].0 <= range_start {
            first += 1;
        }
        let end = if f[last].0 >= range_end {
            last
        } else {
            last + 1
        };
        let inner = if first < end { &f[first..end] } else { &[][..] };
        let mut prev = left;
        for &(_, v) in inner {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
        if right < prev {
            result += prev;
        }
    }
    if is_rate {
        result /= duration_seconds(range_end - range_start);
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(start: i64, step: i64, vals: &[f64]) -> Vec<(i64, f64)> {
        vals.iter()
            .enumerate()
            .map(|(i, &v)| (start + i as i64 * step, v))
            .collect()
    }

    #[test]
    fn too_few_samples() {
        assert_eq!(
            extrapolated_rate(&[(1000, 1.0)], 0, 60_000, true, true),
            None
        );
        assert_eq!(extrapolated_rate(&[], 0, 60_000, false, false), None);
        assert_eq!(instant_value(&[(1000, 1.0)], true), None);
    }

    #[test]
    fn full_window_extrapolates_to_edges() {
        // Samples at 10s..60s every 10s, window (0, 60s]: 10s to start, 0 to end.
        let s = series(10_000, 10_000, &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0]);
        // Increase 50 over 50s, extrapolated to 60s: but the zero point is
        // 10s before the first sample, equal to the start distance.
        assert_eq!(extrapolated_rate(&s, 0, 60_000, true, false), Some(60.0));
        assert_eq!(extrapolated_rate(&s, 0, 60_000, true, true), Some(1.0));
        assert_eq!(extrapolated_rate(&s, 0, 60_000, false, false), Some(60.0));
    }

    #[test]
    fn counter_not_extrapolated_below_zero() {
        // First value 1 after an increase of 50 over 50s: zero is 1s before.
        let s = series(10_000, 10_000, &[1.0, 11.0, 21.0, 31.0, 41.0, 51.0]);
        let inc = extrapolated_rate(&s, 0, 60_000, true, false).unwrap();
        assert_eq!(inc, 50.0 * (51.0 / 50.0));
        // delta (not a counter) extrapolates the whole way.
        assert_eq!(extrapolated_rate(&s, 0, 60_000, false, false), Some(60.0));
    }

    #[test]
    fn extrapolation_limited_to_half_interval() {
        // Samples at 30s and 40s in window (0, 60s]: gaps of 30s and 20s are
        // beyond 1.1 × 10s, so extend by 5s each side.
        let s = vec![(30_000, 100.0), (40_000, 110.0)];
        assert_eq!(extrapolated_rate(&s, 0, 60_000, false, false), Some(20.0));
        assert_eq!(
            extrapolated_rate(&s, 0, 60_000, true, true),
            Some(20.0 / 60.0)
        );
        // Within threshold: 10.5s is below 11s, extrapolate fully.
        let s = vec![
            (10_500, 0.0),
            (20_500, 10.0),
            (30_500, 20.0),
            (40_500, 30.0),
            (49_500, 40.0),
        ];
        let d = extrapolated_rate(&s, 0, 60_000, false, false).unwrap();
        assert_eq!(d, 40.0 * (60.0 / 39.0));
    }

    #[test]
    fn counter_resets() {
        // 0 10 20 | 5 15: increase = 15 - 0 + 20 = 35 over 40s.
        let s = series(10_000, 10_000, &[0.0, 10.0, 20.0, 5.0, 15.0]);
        let r = extrapolated_rate(&s, 0, 50_000, true, false).unwrap();
        // Zero point coincides with the first sample, so no start extension.
        assert_eq!(r, 35.0 * (50.0 - 10.0) / 40.0);
        // delta ignores resets.
        assert_eq!(
            extrapolated_rate(&s, 0, 50_000, false, false),
            Some(15.0 * 50.0 / 40.0)
        );
    }

    #[test]
    fn functions_test_rate_values() {
        // functions.test: http_requests 0+10x10 at 5m steps; rate over [50m] at 50m.
        let s: Vec<_> = (1..=10).map(|i| (i * 300_000, i as f64 * 10.0)).collect();
        let r = extrapolated_rate(&s, 0, 3_000_000, true, true).unwrap();
        assert!((r - 100.0 / 3000.0).abs() < 1e-15, "{r}");
    }

    #[test]
    fn irate_idelta() {
        let s = vec![(0, 5.0), (10_000, 10.0), (20_000, 30.0)];
        assert_eq!(instant_value(&s, true), Some(2.0));
        assert_eq!(instant_value(&s, false), Some(20.0));
        let reset = vec![(0, 50.0), (10_000, 10.0)];
        assert_eq!(instant_value(&reset, true), Some(1.0));
        assert_eq!(instant_value(&reset, false), Some(-40.0));
        assert_eq!(instant_value(&[(5, 1.0), (5, 2.0)], false), None);
    }

    #[test]
    fn go_duration_seconds() {
        assert_eq!(duration_seconds(60_000), 60.0);
        assert_eq!(duration_seconds(1_500), 1.5);
        assert_eq!(duration_seconds(123), 0.123);
    }
}

/// [`Extrapolation`] against [`extrapolated_rate`], bit for bit.
#[cfg(test)]
mod memoised {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-0.0),
            Just(f64::MIN_POSITIVE),
            Just(5e-324),
            Just(f64::MAX),
            Just(-f64::MAX),
            (0u32..1000).prop_map(|c| c as f64),
            (0u32..1000).prop_map(|c| c as f64 * 1e-310),
            (0u32..1000).prop_map(|c| c as f64 * 1e300),
            any::<f64>(),
            any::<u64>().prop_map(f64::from_bits),
        ]
    }

    /// A series: strictly increasing timestamps, mostly regular with
    /// jitter and gaps; values a counter with resets or arbitrary.
    fn series() -> impl Strategy<Value = Vec<(i64, f64)>> {
        let gap = prop_oneof![
            6 => Just(10_000i64),
            2 => 9_990i64..10_010,
            1 => 1i64..100_000,
            1 => 1i64..3,
        ];
        let step = prop_oneof![
            4 => (0u32..40).prop_map(|c| c as f64),
            1 => value(),
            1 => Just(-1e3),
        ];
        (
            -100_000i64..100_000,
            value(),
            proptest::collection::vec((gap, step, any::<bool>()), 1..60),
        )
            .prop_map(|(t0, v0, rest)| {
                let mut out = vec![(t0, v0)];
                let (mut t, mut v) = (t0, v0);
                for (g, s, absolute) in rest {
                    t += g;
                    v = if absolute { s } else { v + s };
                    out.push((t, v));
                }
                out
            })
    }

    fn same(a: Option<f64>, b: Option<f64>) -> bool {
        a.map(f64::to_bits) == b.map(f64::to_bits)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_plain(s in series(), range in prop_oneof![Just(60_000i64), 1i64..200_000, Just(1), Just(1_000)], step in prop_oneof![Just(10_000i64), 1i64..50_000], announce in any::<bool>()) {
            for (counter, is_rate) in [(true, true), (true, false), (false, false), (false, true)] {
                let mut memo = Extrapolation::new(counter, is_rate, range);
                if announce {
                    memo.start_series(&s);
                }
                // Every window of a range query over the series, sliding.
                let mut te = s[0].0;
                // At most a few hundred windows per case.
                let step = step.max((s[s.len() - 1].0 - te + range) / 300 + 1);
                while te <= s[s.len() - 1].0 + range {
                    let start = te - range;
                    let w: Vec<(i64, f64)> = s.iter().copied().filter(|p| p.0 > start && p.0 <= te).collect();
                    let want = extrapolated_rate(&w, start, te, counter, is_rate);
                    let got = memo.eval(&w, te);
                    prop_assert!(same(got, want), "{counter} {is_rate} {w:?} ({start}, {te}]: {got:?} vs {want:?}");
                    te += step;
                }
            }
        }
    }

    #[test]
    fn clamp_and_signed_zero() {
        let mut m = Extrapolation::new(true, false, 30_000);
        // Zero point within the start distance: clamped (first_v < result).
        let s = [(10_000, 1.0), (20_000, 11.0), (30_000, 21.0)];
        assert!(same(
            m.eval(&s, 30_000),
            extrapolated_rate(&s, 0, 30_000, true, false)
        ));
        // Same shape, no clamp: the memoised factor.
        let s2 = [(10_000, 100.0), (20_000, 110.0), (30_000, 120.0)];
        assert!(same(
            m.eval(&s2, 30_000),
            extrapolated_rate(&s2, 0, 30_000, true, false)
        ));
        // -0.0 - 0.0 keeps its sign through the reset loop, with or without
        // the series announced as monotonic.
        let z = [(10_000, 0.0), (20_000, 0.0), (30_000, -0.0)];
        for announce in [false, true] {
            if announce {
                m.start_series(&z);
            }
            let got = m.eval(&z, 30_000).unwrap();
            assert!(same(
                Some(got),
                extrapolated_rate(&z, 0, 30_000, true, false)
            ));
            assert!(got.is_sign_negative());
        }
        // A series with a reset: windows without it take the short path
        // only when the whole series is monotonic; both give the same.
        let r = [(10_000, 5.0), (20_000, 7.0), (30_000, 1.0), (40_000, 4.0)];
        for (lo, hi) in [(0, 2), (1, 3), (2, 4), (0, 4)] {
            let w = &r[lo..hi];
            let (start, end) = (w[0].0 - 5_000, w[w.len() - 1].0 + 1_000);
            let mut m = Extrapolation::new(true, false, end - start);
            m.start_series(&r);
            assert!(same(
                m.eval(w, end),
                extrapolated_rate(w, start, end, true, false)
            ));
        }
    }
}

/// Cases from the PromQL conformance suite (functions.test), evaluated by
/// hand: window `(t - range, t]`, series loaded as `start+step×n` at a
/// fixed interval from time 0.
#[cfg(test)]
mod conformance {
    use super::*;

    const MIN: i64 = 60_000;

    /// Loads `vals` at `interval_ms` from time 0 and selects `(t-range, t]`.
    fn window(vals: &[f64], interval_ms: i64, t: i64, range: i64) -> Vec<(i64, f64)> {
        vals.iter()
            .enumerate()
            .map(|(i, &v)| (i as i64 * interval_ms, v))
            .filter(|&(ts, _)| ts > t - range && ts <= t)
            .collect()
    }

    fn series(start: f64, step: f64, n: usize) -> Vec<f64> {
        (0..=n).map(|i| start + step * i as f64).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        a == b || (a - b).abs() / a.abs().max(b.abs()) < 1e-12
    }

    fn increase(v: &[f64], interval: i64, t: i64, range: i64) -> f64 {
        extrapolated_rate(&window(v, interval, t, range), t - range, t, true, false).unwrap()
    }

    fn rate(v: &[f64], interval: i64, t: i64, range: i64) -> f64 {
        extrapolated_rate(&window(v, interval, t, range), t - range, t, true, true).unwrap()
    }

    #[test]
    fn increase_cases() {
        let foo = series(0.0, 10.0, 10);
        let mut bar = series(0.0, 18.0, 5);
        bar.extend(series(0.0, 18.0, 5));
        let dings = series(10.0, 10.0, 10);
        let bumms = series(1.0, 10.0, 10);
        for (s, e50, e100) in [
            (&foo, 100.0, 100.0),
            (&bar, 160.0, 162.0),
            (&dings, 100.0, 105.0),
            (&bumms, 100.0, 101.0),
        ] {
            assert!(
                close(increase(s, 5 * MIN, 50 * MIN, 50 * MIN), e50),
                "{s:?}"
            );
            assert!(
                close(increase(s, 5 * MIN, 50 * MIN, 100 * MIN), e100),
                "{s:?}"
            );
        }
        let reset = [0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 4.0];
        assert!(close(increase(&reset, 5 * MIN, 30 * MIN, 30 * MIN), 7.0));
    }

    #[test]
    fn rate_cases() {
        let mut middle = series(0.0, 27.0, 4);
        middle.extend(series(0.0, 27.0, 5));
        assert!(close(rate(&middle, 5 * MIN, 50 * MIN, 50 * MIN), 0.08));
        let mut end = series(0.0, 10.0, 9);
        end.extend([0.0, 10.0]);
        assert!(extrapolated_rate(
            &window(&end, 5 * MIN, 50 * MIN, 5 * MIN),
            45 * MIN,
            50 * MIN,
            true,
            true
        )
        .is_none());
        assert_eq!(rate(&end, 5 * MIN, 50 * MIN, 6 * MIN), 0.0);
        let w = series(0.0, 80.0, 10);
        assert!(close(
            rate(&w, 5 * MIN, 50 * MIN, 50 * MIN),
            0.26666666666666666
        ));
        // offset 5m: evaluation at 45m.
        assert!(close(
            rate(&series(0.0, 10.0, 10), 5 * MIN, 45 * MIN, 10 * MIN),
            0.03333333333333333
        ));
        assert!(close(
            rate(&series(0.0, 20.0, 10), 5 * MIN, 45 * MIN, 10 * MIN),
            0.06666666666666667
        ));
    }

    #[test]
    fn zero_cutoff() {
        let expect10 = [0.5, 0.55, 0.6, 0.6, 0.6, 0.6];
        for (i, e) in expect10.iter().enumerate() {
            let s = series(60.0 * i as f64, 240.0, 10);
            assert!(
                close(rate(&s, 4 * MIN, 10 * MIN, 20 * MIN), *e),
                "start {i}m"
            );
            assert!(
                close(rate(&s, 4 * MIN, 50 * MIN, 20 * MIN), 0.6),
                "start {i}m"
            );
        }
    }

    #[test]
    fn irate_and_delta_cases() {
        let foo = series(0.0, 10.0, 10);
        let mut bar = series(0.0, 10.0, 5);
        bar.extend(series(0.0, 10.0, 5));
        let irate = |v: &[f64], t, r| instant_value(&window(v, 5 * MIN, t, r), true).unwrap();
        assert!(close(irate(&foo, 50 * MIN, 50 * MIN), 1.0 / 30.0));
        assert!(close(irate(&bar, 50 * MIN, 50 * MIN), 1.0 / 30.0));
        assert!(close(irate(&foo, 30 * MIN, 50 * MIN), 1.0 / 30.0));
        assert_eq!(irate(&bar, 30 * MIN, 50 * MIN), 0.0);
        let nan = [1.0, f64::NAN, f64::NAN, 5.0, 11.0];
        let r = 15 * MIN + 1000;
        assert!(irate(&nan, 5 * MIN, r).is_nan());
        assert!(irate(&nan, 10 * MIN, r).is_nan());
        assert!(irate(&nan, 15 * MIN, r).is_nan());
        assert!(close(irate(&nan, 20 * MIN, r), 0.02));
        let delta = |v: &[f64]| {
            extrapolated_rate(
                &window(v, 5 * MIN, 20 * MIN, 20 * MIN),
                0,
                20 * MIN,
                false,
                false,
            )
            .unwrap()
        };
        assert_eq!(delta(&[0.0, 50.0, 100.0, 150.0, 200.0]), 200.0);
        assert_eq!(delta(&[200.0, 150.0, 100.0, 50.0, 0.0]), -200.0);
    }
}

/// Cases from extended_vectors.test (anchored / smoothed selectors).
#[cfg(test)]
mod extended {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    /// Samples `vals` (None = gap) every `step_s` seconds from 0; selects what
    /// the engine would pass for a window `(t - range, t]`: in-window
    /// samples, the last one at or before the start and, if smoothed, the
    /// first one after the end.
    fn inc(
        vals: &[Option<f64>],
        step_s: i64,
        t_s: i64,
        range_s: i64,
        smoothed: bool,
    ) -> Option<f64> {
        let all: Vec<(i64, f64)> = vals
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i as i64 * step_s * 1000, v)))
            .collect();
        let (start, end) = ((t_s - range_s) * 1000, t_s * 1000);
        let mut sel: Vec<(i64, f64)> = Vec::new();
        if let Some(p) = all.iter().rfind(|p| p.0 <= start) {
            sel.push(*p);
        }
        sel.extend(all.iter().filter(|p| p.0 > start && p.0 <= end));
        if smoothed {
            if let Some(p) = all.iter().find(|p| p.0 > end) {
                sel.push(*p);
            }
        }
        extended_rate(&sel, start, end, true, false, smoothed)
    }

    fn complete() -> Vec<Option<f64>> {
        // metric 1+1x4 9+1x4
        [1.0, 2.0, 3.0, 4.0, 5.0, 9.0, 10.0, 11.0, 12.0, 13.0]
            .iter()
            .map(|&v| Some(v))
            .collect()
    }

    fn partial() -> Vec<Option<f64>> {
        // metric 1+1x2 _ _ 9+1x4
        vec![
            Some(1.0),
            Some(2.0),
            Some(3.0),
            None,
            None,
            Some(9.0),
            Some(10.0),
            Some(11.0),
            Some(12.0),
            Some(13.0),
        ]
    }

    #[test]
    fn anchored_and_smoothed_increase() {
        let ts = [5, 20, 35, 50, 65, 80, 95, 110, 125];
        let cases: [(Vec<Option<f64>>, bool, [f64; 9]); 4] = [
            (
                complete(),
                false,
                [0.0, 1.0, 2.0, 3.0, 4.0, 7.0, 7.0, 7.0, 7.0],
            ),
            (
                complete(),
                true,
                [
                    1.0 / 3.0,
                    4.0 / 3.0,
                    7.0 / 3.0,
                    10.0 / 3.0,
                    5.0,
                    7.0,
                    7.0,
                    7.0,
                    6.0,
                ],
            ),
            (
                partial(),
                false,
                [0.0, 1.0, 2.0, 2.0, 2.0, 7.0, 7.0, 8.0, 9.0],
            ),
            (
                partial(),
                true,
                [
                    1.0 / 3.0,
                    4.0 / 3.0,
                    8.0 / 3.0,
                    14.0 / 3.0,
                    19.0 / 3.0,
                    7.0,
                    20.0 / 3.0,
                    17.0 / 3.0,
                    14.0 / 3.0,
                ],
            ),
        ];
        for (vals, smoothed, expect) in cases {
            for (t, e) in ts.iter().zip(expect) {
                let got = inc(&vals, 15, *t, 60, smoothed).unwrap();
                assert!(close(got, e), "smoothed={smoothed} t={t}: {got} vs {e}");
            }
        }
    }

    #[test]
    fn left_open_and_resets() {
        let v = vec![Some(1.0), Some(2.0), None, Some(4.0), Some(5.0)];
        assert_eq!(inc(&v, 60, 120, 60, true), Some(1.0));
        assert_eq!(inc(&v, 60, 120, 60, false), None);
        // metric{id="2"} 3 2+2x9 at 1m: increase over [1m] at 1m30s is 2.
        let mut v = vec![Some(3.0)];
        v.extend((0..=9).map(|i| Some(2.0 + 2.0 * i as f64)));
        assert!(close(inc(&v, 60, 90, 60, true).unwrap(), 2.0));
        assert!(close(inc(&v, 60, 90, 60, false).unwrap(), 2.0));
        // rate divides by the range.
        let s = [(0, 1.0), (30_000, 4.0)];
        assert_eq!(
            extended_rate(&s, 0, 60_000, true, true, false),
            Some(3.0 / 60.0)
        );
        assert_eq!(extended_rate(&[], 0, 60_000, true, true, false), None);
    }
}
