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
}
