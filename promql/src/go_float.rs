//! Floats spelled as Go's `strconv.FormatFloat(v, 'f' | 'e', -1, 64)`.
//!
//! Rust's `{}` also prints the shortest digits that read back to the same
//! float, but when two such digit strings are equally close to the exact
//! binary value it takes the upper one, where Go rounds half to even:
//! 957.17535400390625 is `957.1753540039062` in Go and `957.1753540039063`
//! in Rust. Prometheus's answers carry Go's spelling, so ours must too.
//! Everything here writes into stack buffers: JSON encoding calls it once
//! per sample.

use std::io::Write as _;

/// Room for any `{:e}` spelling of an f64 (17 digits, point, exponent).
const BUF: usize = 40;

/// The shortest round-trip decimal digits of a finite float, chosen as Go
/// chooses them: `|v| = d₁.d₂…dₙ × 10^exp`.
pub struct Digits {
    buf: [u8; BUF],
    len: usize,
    exp: i32,
    negative: bool,
}

impl Digits {
    /// Digits of `v`, which must be finite.
    pub fn of(v: f64) -> Digits {
        let a = v.abs();
        let mut d = Digits::parse(&spell(format_args!("{a:e}")), v.is_sign_negative());
        // Only a tie can make Rust and Go differ, and Rust resolves a tie
        // upwards: an even last digit is what Go would pick as well.
        let last = d.buf[d.len - 1];
        if (last - b'0') % 2 == 1 {
            // Correctly rounded to the same length; Rust's fixed-precision
            // formatting rounds exact ties to even, as Go does.
            let exact = spell(format_args!("{a:.*e}", d.len - 1));
            let text = std::str::from_utf8(&exact.0[..exact.1]).unwrap_or("");
            if text.parse::<f64>() == Ok(a) {
                d = Digits::parse(&exact, d.negative);
            }
        }
        d
    }

    fn parse(spelled: &([u8; BUF], usize), negative: bool) -> Digits {
        let s = &spelled.0[..spelled.1];
        let e = s.iter().position(|&c| c == b'e').unwrap_or(s.len());
        let mut d = Digits {
            buf: [0; BUF],
            len: 0,
            exp: 0,
            negative,
        };
        for &c in s[..e].iter().filter(|c| c.is_ascii_digit()) {
            d.buf[d.len] = c;
            d.len += 1;
        }
        let exp = std::str::from_utf8(s.get(e + 1..).unwrap_or(b"0")).unwrap_or("0");
        d.exp = exp.parse().unwrap_or(0);
        d
    }

    /// The significant digits, ASCII, `0` alone for zero.
    pub fn digits(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The decimal exponent of the first digit.
    pub fn exp(&self) -> i32 {
        self.exp
    }
}

fn spell(args: std::fmt::Arguments<'_>) -> ([u8; BUF], usize) {
    let mut buf = [0u8; BUF];
    let mut w = &mut buf[..];
    let _ = w.write_fmt(args);
    let len = BUF - w.len();
    (buf, len)
}

/// Appends finite `v` in Go's `'f'` form: no exponent, shortest digits.
pub fn write_f(out: &mut Vec<u8>, v: f64) {
    let d = Digits::of(v);
    if d.negative {
        out.push(b'-');
    }
    let digits = d.digits();
    let n = digits.len() as i32;
    if d.exp < 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-d.exp - 1) as usize));
        out.extend_from_slice(digits);
    } else if d.exp >= n - 1 {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', (d.exp - (n - 1)) as usize));
    } else {
        let point = (d.exp + 1) as usize;
        out.extend_from_slice(&digits[..point]);
        out.push(b'.');
        out.extend_from_slice(&digits[point..]);
    }
}

/// Appends finite `v` in Go's `'e'` form: `d.ddde±XX`, at least two
/// exponent digits.
pub fn write_e(out: &mut Vec<u8>, v: f64) {
    let d = Digits::of(v);
    if d.negative {
        out.push(b'-');
    }
    let digits = d.digits();
    out.push(digits[0]);
    if digits.len() > 1 {
        out.push(b'.');
        out.extend_from_slice(&digits[1..]);
    }
    out.push(b'e');
    out.push(if d.exp < 0 { b'-' } else { b'+' });
    let _ = write!(out, "{:02}", d.exp.unsigned_abs());
}

/// Appends finite `v` in Go's `'g'` form at shortest precision
/// (`strconv.FormatFloat(v, 'g', -1, 64)`): the `'e'` form when the decimal
/// exponent is below -4 or at least 6 (Go's fixed limit for shortest
/// precision), the `'f'` form otherwise. The text exposition format uses it.
pub fn write_g(out: &mut Vec<u8>, v: f64) {
    if v != 0.0 && !(-4..6).contains(&Digits::of(v).exp()) {
        write_e(out, v);
    } else {
        write_f(out, v);
    }
}

/// `strconv.FormatFloat(v, 'f', -1, 64)` with Prometheus's spellings of
/// the non-finite values: `NaN`, `+Inf`, `-Inf`.
pub fn format_f(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let mut out = Vec::with_capacity(24);
    write_f(&mut out, v);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // The exact binary value is written out on purpose: Go's shortest
    // spelling of it is what is checked.
    #[allow(clippy::excessive_precision)]
    fn g_form_switches_to_exponents_as_go_does() {
        for (v, want) in [
            (1.0, "1"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (957.17535400390625, "957.1753540039062"),
            (1.726839813016397e9, "1.726839813016397e+09"),
            (0.0, "0"),
            (-0.0, "-0"),
        ] {
            let mut out = Vec::new();
            write_g(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{v}");
        }
    }

    fn f(v: f64) -> String {
        let mut o = Vec::new();
        write_f(&mut o, v);
        String::from_utf8(o).unwrap()
    }

    fn e(v: f64) -> String {
        let mut o = Vec::new();
        write_e(&mut o, v);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn ties_round_half_to_even_as_go() {
        // Exact binary values halfway between two shortest spellings, with
        // what Go's strconv prints for them.
        assert_eq!(f(957.0 + 0.175_354_003_906_25), "957.1753540039062");
        assert_eq!(f(1_420_804_989_621_824.0 + 0.25), "1420804989621824.2");
        assert_eq!(f(9_077_798_465_891.0 + 0.0625), "9077798465891.062");
        assert_eq!(f(118_128_015_431_064.0 + 0.125), "118128015431064.12");
        assert_eq!(f(-(957.0 + 0.175_354_003_906_25)), "-957.1753540039062");
    }

    #[test]
    fn f_form_as_go() {
        for (v, s) in [
            (0.0, "0".to_string()),
            (-0.0, "-0".to_string()),
            (1.0, "1".to_string()),
            (0.1, "0.1".to_string()),
            (-2.5, "-2.5".to_string()),
            (100.0, "100".to_string()),
            (1e21, "1000000000000000000000".to_string()),
            (1e-7, "0.0000001".to_string()),
            (123.456, "123.456".to_string()),
            (0.30000000000000004, "0.30000000000000004".to_string()),
            (5e-324, format!("0.{}5", "0".repeat(323))),
            (f64::MAX, format!("17976931348623157{}", "0".repeat(292))),
        ] {
            assert_eq!(f(v), s, "{v:e}");
            assert_eq!(f(v).parse::<f64>().unwrap().to_bits(), v.to_bits());
        }
    }

    #[test]
    fn e_form_as_go() {
        for (v, s) in [
            (1e-7, "1e-07"),
            (1.5e21, "1.5e+21"),
            (-2.5e22, "-2.5e+22"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (1.2345e-300, "1.2345e-300"),
            (0.0, "0e+00"),
            (2.4184526966585414e22, "2.4184526966585414e+22"),
        ] {
            assert_eq!(e(v), s);
        }
    }

    #[test]
    fn non_finite_spellings() {
        assert_eq!(format_f(f64::NAN), "NaN");
        assert_eq!(format_f(f64::INFINITY), "+Inf");
        assert_eq!(format_f(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn every_spelling_reads_back() {
        // A spread of magnitudes and bit patterns, incl. many ties.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = if i % 2 == 0 {
                f64::from_bits(x)
            } else {
                // Dyadic rationals: the values where ties happen.
                (x % 1_000_000_007) as f64 / (1u64 << (x % 40)) as f64
            };
            if !v.is_finite() {
                continue;
            }
            let s = f(v);
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
            // Never longer than Rust's own shortest spelling.
            let d = Digits::of(v);
            let rust = format!("{:e}", v.abs());
            let rust_len = rust
                .split('e')
                .next()
                .unwrap()
                .bytes()
                .filter(u8::is_ascii_digit)
                .count();
            assert_eq!(d.digits().len(), rust_len, "{v:e}");
        }
    }
}
