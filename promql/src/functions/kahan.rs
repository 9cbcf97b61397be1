//! Compensated (Kahan–Babuška–Neumaier) summation, step by step as the
//! PromQL evaluator uses it.

/// Adds `inc` to the running `sum` with compensation term `c`, returning the
/// new `(sum, c)`. The final value is `sum + c`, except when `sum` is infinite
/// (then the compensation is meaningless and is reset to zero here).
pub fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        // The smaller term is `inc`: recover its lost low-order bits.
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Four compensated sums at once: lane `k` of the answer is the `sum + c`
/// that a [`kahan_sum_inc`] chain over `incs(0)[k]`, …, `incs(n - 1)[k]`
/// ends with, to the bit (the same IEEE operations in the same order; both
/// branches are computed and one picked). On x86_64 the four chains step in
/// one AVX register, or two SSE2 ones without AVX: a linear regression's
/// sums then cost one step per sample instead of four.
#[inline]
pub fn kahan_sums4<F: Fn(usize) -> [f64; 4]>(n: usize, incs: F) -> [f64; 4] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX.
            return unsafe { x86::sums4_avx(n, &incs) };
        }
        x86::sums4_sse2(n, &incs)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        sums4_scalar(n, &incs)
    }
}

/// [`kahan_sums4`] one chain after the other.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))] // the tests' reference there
fn sums4_scalar<F: Fn(usize) -> [f64; 4]>(n: usize, incs: &F) -> [f64; 4] {
    let mut acc = [(0.0, 0.0); 4];
    for i in 0..n {
        let inc = incs(i);
        for (a, x) in acc.iter_mut().zip(inc) {
            *a = kahan_sum_inc(x, a.0, a.1);
        }
    }
    acc.map(|(s, c)| s + c)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// With AVX: the four chains in one register.
    #[target_feature(enable = "avx")]
    pub unsafe fn sums4_avx<F: Fn(usize) -> [f64; 4]>(n: usize, incs: &F) -> [f64; 4] {
        let sign = _mm256_set1_pd(-0.0);
        let inf = _mm256_set1_pd(f64::INFINITY);
        let mut sum = _mm256_setzero_pd();
        let mut c = _mm256_setzero_pd();
        // The compensation is reset where a sum goes infinite. Rather than
        // on the compensation's dependency chain at every step, that is
        // only noted, and the rare run where it happened is summed again
        // the slow way.
        let mut went_inf = _mm256_setzero_pd();
        for i in 0..n {
            let a = incs(i);
            // SAFETY: four f64 read from an array of four.
            let inc = unsafe { _mm256_loadu_pd(a.as_ptr()) };
            let t = _mm256_add_pd(sum, inc);
            // |sum| >= |inc|, false when either is NaN (ordered), as the
            // scalar comparison.
            let sum_bigger = _mm256_cmp_pd::<_CMP_GE_OQ>(
                _mm256_andnot_pd(sign, sum),
                _mm256_andnot_pd(sign, inc),
            );
            let if_sum = _mm256_add_pd(_mm256_sub_pd(sum, t), inc);
            let if_inc = _mm256_add_pd(_mm256_sub_pd(inc, t), sum);
            c = _mm256_add_pd(c, _mm256_blendv_pd(if_inc, if_sum, sum_bigger));
            let t_inf = _mm256_cmp_pd::<_CMP_EQ_OQ>(_mm256_andnot_pd(sign, t), inf);
            went_inf = _mm256_or_pd(went_inf, t_inf);
            sum = t;
        }
        if _mm256_movemask_pd(went_inf) != 0 {
            return sums4_sse2(n, incs);
        }
        let total = _mm256_add_pd(sum, c);
        let mut out = [0.0; 4];
        // SAFETY: four f64 written to an array of four.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), total) };
        out
    }

    /// SSE2 only (the x86_64 baseline): two chains per register.
    pub fn sums4_sse2<F: Fn(usize) -> [f64; 4]>(n: usize, incs: &F) -> [f64; 4] {
        // SAFETY: SSE2 is part of the x86_64 baseline.
        unsafe {
            let sign = _mm_set1_pd(-0.0);
            let inf = _mm_set1_pd(f64::INFINITY);
            let step = |sum: &mut __m128d, c: &mut __m128d, inc: __m128d| {
                let t = _mm_add_pd(*sum, inc);
                let sum_bigger = _mm_cmpge_pd(_mm_andnot_pd(sign, *sum), _mm_andnot_pd(sign, inc));
                let if_sum = _mm_add_pd(_mm_sub_pd(*sum, t), inc);
                let if_inc = _mm_add_pd(_mm_sub_pd(inc, t), *sum);
                let lost = _mm_or_pd(
                    _mm_and_pd(sum_bigger, if_sum),
                    _mm_andnot_pd(sum_bigger, if_inc),
                );
                let t_inf = _mm_cmpeq_pd(_mm_andnot_pd(sign, t), inf);
                *c = _mm_andnot_pd(t_inf, _mm_add_pd(*c, lost));
                *sum = t;
            };
            let (mut lo, mut lo_c) = (_mm_setzero_pd(), _mm_setzero_pd());
            let (mut hi, mut hi_c) = (_mm_setzero_pd(), _mm_setzero_pd());
            for i in 0..n {
                let a = incs(i);
                step(&mut lo, &mut lo_c, _mm_loadu_pd(a.as_ptr()));
                step(&mut hi, &mut hi_c, _mm_loadu_pd(a.as_ptr().add(2)));
            }
            let mut out = [0.0; 4];
            _mm_storeu_pd(out.as_mut_ptr(), _mm_add_pd(lo, lo_c));
            _mm_storeu_pd(out.as_mut_ptr().add(2), _mm_add_pd(hi, hi_c));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ksum(xs: &[f64]) -> f64 {
        let (mut s, mut c) = (0.0, 0.0);
        for &x in xs {
            (s, c) = kahan_sum_inc(x, s, c);
        }
        s + c
    }

    #[test]
    fn compensates_lost_bits() {
        // Naive summation gives 0; compensated gives the exact 2.
        assert_eq!(ksum(&[1.0, 1e100, 1.0, -1e100]), 2.0);
        assert_eq!(ksum(&[0.1; 10]), 1.0);
    }

    #[test]
    fn infinity_resets_compensation() {
        assert_eq!(kahan_sum_inc(f64::INFINITY, 1.0, 0.5), (f64::INFINITY, 0.0));
        assert_eq!(kahan_sum_inc(f64::MAX, f64::MAX, 3.0).1, 0.0);
    }

    fn special() -> impl proptest::strategy::Strategy<Value = f64> {
        use proptest::prelude::*;
        prop_oneof![
            any::<f64>(),
            -1e6..1e6f64,
            Just(0.0),
            Just(-0.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE / 4.0),
            Just(1e100),
            Just(-1e100),
        ]
    }

    proptest::proptest! {
        /// Every path gives the four scalar chains' values, to the bit.
        #[test]
        fn four_at_once_as_four_chains(
            incs in proptest::collection::vec(proptest::array::uniform4(special()), 0..64)
        ) {
            let f = |i: usize| incs[i];
            // Bits, but any NaN as one: Rust leaves a NaN's sign and
            // payload to the compiler (it may swap the operands of an
            // addition), and PromQL prints every NaN alike.
            let bits = |a: [f64; 4]| a.map(|x| if x.is_nan() { u64::MAX } else { x.to_bits() });
            let want = bits(sums4_scalar(incs.len(), &f));
            proptest::prop_assert_eq!(bits(kahan_sums4(incs.len(), f)), want);
            #[cfg(target_arch = "x86_64")]
            {
                proptest::prop_assert_eq!(bits(x86::sums4_sse2(incs.len(), &f)), want);
                if std::arch::is_x86_feature_detected!("avx") {
                    // SAFETY: the CPU has AVX.
                    let avx = unsafe { x86::sums4_avx(incs.len(), &f) };
                    proptest::prop_assert_eq!(bits(avx), want);
                }
            }
        }
    }
}
