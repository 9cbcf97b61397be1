//! Numbers as Prometheus reads them, and the OpenMetrics float spelling
//! (written by [`crate::text_format`]).
//!
//! Prometheus parses values with Go's `strconv.ParseFloat` after refusing
//! `p`, `P` and `_`; what remains is `[+-]?` decimal digits with at most one
//! dot and an optional exponent, or `inf`/`infinity` (any case, optional
//! sign), or `nan` (any case, no sign). Overflow is an error, underflow is
//! zero. Short decimals, nearly every value in real payloads, are converted
//! exactly here; longer ones go through the standard library, which rounds
//! correctly as Go does.

use super::lex::{first_marked, in_range, word_at, HIGHS};

/// Prometheus's ordinary NaN. Payload NaNs all become this, so a scraped
/// value can never carry the staleness marker's bit pattern.
pub(super) const NORMAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// Why a number was refused, in Go's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FloatError {
    Syntax,
    Range,
    /// `p`, `P` or `_`, which Prometheus refuses before Go sees them.
    Unsupported,
}

impl FloatError {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            FloatError::Syntax => "invalid syntax",
            FloatError::Range => "value out of range",
            FloatError::Unsupported => "unsupported character in float",
        }
    }
}

/// Powers of ten that are exact in an f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Largest integer below which every integer is exact in an f64.
const MAX_EXACT: u64 = 1 << 53;

/// Parses a value or OpenMetrics timestamp token.
pub(super) fn parse_float(s: &[u8]) -> Result<f64, FloatError> {
    parse(s).map_err(|e| {
        if s.iter().any(|&c| matches!(c, b'p' | b'P' | b'_')) {
            FloatError::Unsupported
        } else {
            e
        }
    })
}

fn parse(s: &[u8]) -> Result<f64, FloatError> {
    let n = s.len();
    let mut i = 0;
    let neg = match s.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        Some(_) => false,
        None => return Err(FloatError::Syntax),
    };
    if i < n && matches!(s[i], b'i' | b'I' | b'n' | b'N') {
        return special(&s[i..], i > 0, neg);
    }

    // Mantissa: up to 19 significant digits fit in a u64; further digits
    // only move the decimal exponent (and send us to the exact slow path).
    let mut mant: u64 = 0;
    let mut digits = 0u32;
    let mut truncated = false;
    let mut exp10: i64 = 0;
    let mut saw_digit = false;
    let mut saw_dot = false;
    while i < n {
        let c = s[i];
        if c.is_ascii_digit() {
            saw_digit = true;
            if mant == 0 && c == b'0' {
                if saw_dot {
                    exp10 -= 1;
                }
            } else if digits < 19 {
                mant = mant * 10 + u64::from(c - b'0');
                digits += 1;
                if saw_dot {
                    exp10 -= 1;
                }
            } else {
                truncated = true;
                if !saw_dot {
                    exp10 += 1;
                }
            }
        } else if c == b'.' && !saw_dot {
            saw_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if !saw_digit {
        return Err(FloatError::Syntax);
    }
    if i < n && (s[i] | 0x20) == b'e' {
        i += 1;
        let eneg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i64 = 0;
        while i < n && s[i].is_ascii_digit() {
            // Saturate: anything this large over- or underflows anyway.
            if e < 1_000_000 {
                e = e * 10 + i64::from(s[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err(FloatError::Syntax);
        }
        exp10 += if eneg { -e } else { e };
    }
    if i != n {
        return Err(FloatError::Syntax);
    }

    if mant == 0 {
        return Ok(if neg { -0.0 } else { 0.0 });
    }
    if !truncated && mant < MAX_EXACT && (-22..=22).contains(&exp10) {
        // Both operands exact, so the one rounding of mul/div is correct.
        let m = mant as f64;
        let v = if exp10 >= 0 {
            m * POW10[exp10 as usize]
        } else {
            m / POW10[(-exp10) as usize]
        };
        return Ok(if neg { -v } else { v });
    }
    // The grammar above is a subset of what the standard library accepts,
    // and `s` is ASCII here.
    let text = std::str::from_utf8(s).map_err(|_| FloatError::Syntax)?;
    let v: f64 = text.parse().map_err(|_| FloatError::Syntax)?;
    if v.is_infinite() {
        return Err(FloatError::Range);
    }
    Ok(v)
}

/// A plain decimal (`[+-]?digits[.digits][(e|E)[+-]digits]`) starting at
/// `i`, when its conversion is exact and cheap: the value and the index
/// just past it. `None` for anything else (specials, long mantissas, large
/// exponents); callers then find the token's end and use [`parse_float`].
/// This is the hot path: it reads the token once, eight digits at a time.
#[inline(always)]
pub(super) fn fast_decimal(b: &[u8], mut i: usize) -> Option<(f64, usize)> {
    let neg = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut mant: u64 = 0;
    let int_start = i;
    i = digits(b, i, &mut mant);
    let mut count = i - int_start;
    let mut exp: i64 = 0;
    if b.get(i) == Some(&b'.') {
        let frac_start = i + 1;
        i = digits(b, frac_start, &mut mant);
        count += i - frac_start;
        exp = -((i - frac_start) as i64);
    }
    // More than 19 digits may have wrapped the mantissa.
    if count == 0 || count > 19 {
        return None;
    }
    if b.get(i).is_some_and(|&c| c | 0x20 == b'e') {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i64 = 0;
        while let Some(&d) = b.get(i) {
            if !d.is_ascii_digit() || i - start == 4 {
                break;
            }
            e = e * 10 + i64::from(d - b'0');
            i += 1;
        }
        if i == start || b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        exp += if eneg { -e } else { e };
    }
    if mant == 0 {
        return Some((if neg { -0.0 } else { 0.0 }, i));
    }
    if mant >= MAX_EXACT || !(-22..=22).contains(&exp) {
        return None;
    }
    let m = mant as f64;
    let v = if exp >= 0 {
        m * POW10[exp as usize]
    } else {
        m / POW10[(-exp) as usize]
    };
    Some((if neg { -v } else { v }, i))
}

/// Accumulates the digits from `i` into `mant` (wrapping; callers refuse
/// more than 19 digits) and returns the index after them. A word at a
/// time: a run of digits that ends inside the word is moved to its top,
/// zero-filled below, and converted in one go.
#[inline(always)]
fn digits(b: &[u8], mut i: usize, mant: &mut u64) -> usize {
    while let Some(x) = word_at(b, i) {
        let others = (!in_range(x & !HIGHS, b'0', b'9') | x) & HIGHS;
        if others == 0 {
            *mant = mant.wrapping_mul(100_000_000).wrapping_add(eight_digits(x));
            i += 8;
            continue;
        }
        let k = first_marked(others);
        if k > 0 {
            let top = (x << (8 * (8 - k))) | (ZEROS >> (8 * k));
            *mant = mant
                .wrapping_mul(POW10_INT[k])
                .wrapping_add(eight_digits(top));
        }
        return i + k;
    }
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        *mant = mant.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    i
}

const POW10_INT: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

const ZEROS: u64 = 0x3030_3030_3030_3030;

/// The number eight ASCII digits spell, first digit in the lowest byte:
/// neighbouring digits are merged into pairs, pairs into fours, fours into
/// the result, each step one multiply.
#[inline]
fn eight_digits(x: u64) -> u64 {
    let x = x.wrapping_sub(ZEROS);
    let pairs = x.wrapping_mul(10).wrapping_add(x >> 8);
    const LOW: u64 = 0x0000_00FF_0000_00FF;
    let fours_and_all = (pairs & LOW)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((pairs >> 16) & LOW).wrapping_mul(1 + (10_000 << 32)));
    fours_and_all >> 32
}

/// `inf`, `infinity` and `nan` in any case; Go allows a sign only on the
/// infinities.
fn special(s: &[u8], signed: bool, neg: bool) -> Result<f64, FloatError> {
    if s.eq_ignore_ascii_case(b"inf") || s.eq_ignore_ascii_case(b"infinity") {
        return Ok(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if !signed && s.eq_ignore_ascii_case(b"nan") {
        return Ok(f64::from_bits(NORMAL_NAN_BITS));
    }
    Err(FloatError::Syntax)
}

/// The OpenMetrics spelling of a float, as Prometheus normalises `le` and
/// `quantile` label values: the text format's spelling (Go's shortest `%g`
/// form; `NaN`, `+Inf`, `-Inf`), with `.0` added to a finite value that has
/// neither a dot nor an exponent.
pub(super) fn format_openmetrics(f: f64) -> String {
    let mut out = crate::text_format::format_float(f);
    if f.is_finite() && !out.contains(['.', 'e']) {
        out.push_str(".0");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(s: &str) -> f64 {
        parse_float(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn err(s: &str) -> FloatError {
        parse_float(s.as_bytes()).expect_err(s)
    }

    #[test]
    fn accepts_what_go_accepts() {
        assert_eq!(ok("0"), 0.0);
        assert_eq!(ok("190932"), 190932.0);
        assert_eq!(ok("-1"), -1.0);
        assert_eq!(ok("+1.5"), 1.5);
        assert_eq!(ok("1e3"), 1000.0);
        assert_eq!(ok("1E+3"), 1000.0);
        assert_eq!(ok("2.5e-3"), 0.0025);
        assert_eq!(ok(".5"), 0.5);
        assert_eq!(ok("5."), 5.0);
        assert_eq!(ok("007"), 7.0);
        assert_eq!(ok("9.03676723e+08"), 903676723.0);
        assert_eq!(ok("1.726839813016397e+09"), 1.726839813016397e9);
        assert_eq!(ok("+Inf"), f64::INFINITY);
        assert_eq!(ok("-Inf"), f64::NEG_INFINITY);
        assert_eq!(ok("inf"), f64::INFINITY);
        assert_eq!(ok("-infinity"), f64::NEG_INFINITY);
        assert_eq!(ok("INFINITY"), f64::INFINITY);
        assert!(ok("NaN").is_nan());
        assert!(ok("Nan").is_nan());
        assert!(ok("nan").is_nan());
        assert!(ok("-0").is_sign_negative());
        assert_eq!(ok("1e-400"), 0.0);
        assert_eq!(ok("0e999999999999"), 0.0);
    }

    #[test]
    fn nan_is_prometheus_normal_nan() {
        assert_eq!(ok("NaN").to_bits(), NORMAL_NAN_BITS);
        assert!(!storage::is_stale_nan(ok("nan")));
    }

    #[test]
    fn refuses_what_prometheus_refuses() {
        for s in [
            "", "-", "+", ".", "e5", "1e", "1e+", "1.2.3", "1,5", "abc", "0x10", "1 ", " 1",
            "+nan", "-NaN", "infin", "nann", "1f", "--1", "1e5.0",
        ] {
            assert_eq!(err(s), FloatError::Syntax, "{s:?}");
        }
        for s in ["0x1p-2", "1_000", "1P5"] {
            assert_eq!(err(s), FloatError::Unsupported, "{s:?}");
        }
        assert_eq!(err("1e400"), FloatError::Range);
        assert_eq!(err("-1e309"), FloatError::Range);
        assert_eq!(
            err("179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792"),
            FloatError::Range
        );
    }

    #[test]
    fn long_mantissas_round_correctly() {
        for s in [
            "0.1",
            "8.999999999999998",
            "-0.0007899999999999999",
            "1.7268398142239082e+09",
            "123456789012345678901234567890",
            "0.000000000000000000000000000001234",
            "2.2250738585072011e-308",
            "4.9406564584124654e-324",
            "1.7976931348623157e308",
        ] {
            assert_eq!(ok(s), s.parse::<f64>().unwrap(), "{s}");
        }
    }

    #[test]
    fn eight_digit_words() {
        for s in ["00000000", "12345678", "99999999", "10000001", "00000042"] {
            let x = u64::from_le_bytes(s.as_bytes().try_into().unwrap());
            assert_eq!(eight_digits(x), s.parse::<u64>().unwrap());
        }
    }

    #[test]
    fn digit_runs_of_every_length_and_alignment() {
        for len in 0..=19 {
            for pad in 0..10 {
                let num: String = (0..len).map(|k| char::from(b'1' + (k % 9) as u8)).collect();
                let text = format!("{}{num} tail", "x".repeat(pad));
                let mut mant = 0;
                let end = digits(text.as_bytes(), pad, &mut mant);
                assert_eq!(end, pad + len, "{text}");
                assert_eq!(mant, num.parse::<u64>().unwrap_or(0), "{text}");
            }
        }
    }

    #[test]
    fn fast_decimal_stops_at_the_token_end() {
        let f = |s: &str| fast_decimal(s.as_bytes(), 0);
        assert_eq!(f("1795639579.792 x"), Some((1795639579.792, 14)));
        assert_eq!(f("-0.000135819\n"), Some((-0.000135819, 12)));
        assert_eq!(f("9.03676723e+08}"), Some((903676723.0, 14)));
        assert_eq!(f("12345678901234567"), None);
        assert_eq!(f("1e5"), Some((1e5, 3)));
        assert_eq!(f(".5 "), Some((0.5, 2)));
        assert_eq!(f("5."), Some((5.0, 2)));
        assert_eq!(f("0e400"), Some((0.0, 5)));
        assert_eq!(f("1e12345"), None);
        assert_eq!(f("1e"), None);
        assert_eq!(f("1e+"), None);
        assert_eq!(f("."), None);
        assert_eq!(f("+Inf"), None);
        assert_eq!(f("NaN"), None);
        assert_eq!(f("12345678901234567890"), None);
        assert_eq!(f("1e23"), None);
    }

    #[test]
    fn openmetrics_spelling() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.005, "0.005"),
            (0.25, "0.25"),
            (10.0, "10.0"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.00099, "-0.00099"),
            (8.999999999999998, "8.999999999999998"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(format_openmetrics(f), want, "{f}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_std_on_decimals(v in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
            for s in [format!("{v}"), format!("{v:e}"), format!("{v:.3}"), format!("{v:.17e}")] {
                prop_assert_eq!(ok(&s).to_bits(), s.parse::<f64>().unwrap().to_bits(), "{}", s);
            }
        }

        #[test]
        fn fast_path_agrees_with_the_full_parser(v in any::<f64>().prop_filter("finite", |v| v.is_finite()), prec in 0usize..12) {
            for s in [format!("{v}"), format!("{v:e}"), format!("{v:.prec$}"), format!("{v:.prec$e}")] {
                if let Some((x, end)) = fast_decimal(s.as_bytes(), 0) {
                    prop_assert_eq!(end, s.len(), "{}", s);
                    prop_assert_eq!(x.to_bits(), ok(&s).to_bits(), "{}", s);
                }
            }
        }

        #[test]
        fn openmetrics_spelling_round_trips(v in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
            let s = format_openmetrics(v);
            prop_assert_eq!(ok(&s).to_bits(), v.to_bits(), "{}", s);
        }
    }
}
