//! Literal values: numbers, durations and quoted strings, read from token
//! text and written back in Prometheus's canonical spelling.

use nom::branch::alt;
use nom::bytes::complete::tag;
use nom::character::complete::{char, digit1, hex_digit1, one_of};
use nom::combinator::{opt, recognize};
use nom::multi::{many0, many1};
use nom::sequence::{pair, tuple};
use nom::IResult;

/// Duration units, largest first, with their length in milliseconds.
const UNITS: &[(&str, i64)] = &[
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// Recognizes the text of a duration: one or more `<digits><unit>` parts.
pub fn duration_text(i: &str) -> IResult<&str, &str> {
    recognize(many1(pair(
        digit1,
        alt((
            tag("ms"),
            tag("s"),
            tag("m"),
            tag("h"),
            tag("d"),
            tag("w"),
            tag("y"),
        )),
    )))(i)
}

/// Digits with single underscores between them: `1_000`.
fn digits(i: &str) -> IResult<&str, &str> {
    recognize(pair(digit1, many0(pair(char('_'), digit1))))(i)
}

/// Recognizes the text of a number: hex `0x1f` (also `0x_1f`) or decimal
/// `1`, `1.5`, `.5`, `5.` with an optional exponent; underscores may separate
/// digits, as in Prometheus 3.
pub fn number_text(i: &str) -> IResult<&str, &str> {
    alt((
        recognize(tuple((
            char('0'),
            one_of("xX"),
            opt(char('_')),
            hex_digit1,
            many0(pair(char('_'), hex_digit1)),
        ))),
        recognize(pair(
            alt((
                recognize(pair(digits, opt(pair(char('.'), opt(digits))))),
                recognize(pair(char('.'), digits)),
            )),
            opt(tuple((one_of("eE"), opt(one_of("+-")), digits))),
        )),
    ))(i)
}

/// Parses duration text such as `1h30m` into milliseconds. Units must appear
/// at most once each, largest first. `None` when invalid or overflowing.
pub fn parse_duration(s: &str) -> Option<i64> {
    let (rest, _) = duration_text(s).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut last_unit = None::<usize>;
    let mut i = s;
    while !i.is_empty() {
        let digits_end = i.find(|c: char| !c.is_ascii_digit()).unwrap_or(i.len());
        let n: i64 = i[..digits_end].parse().ok()?;
        let rest = &i[digits_end..];
        let unit_len = if rest.starts_with("ms") { 2 } else { 1 };
        let unit = &rest[..unit_len];
        let idx = UNITS.iter().position(|(u, _)| *u == unit)?;
        if last_unit.is_some_and(|l| l >= idx) {
            return None;
        }
        last_unit = Some(idx);
        total = total.checked_add(n.checked_mul(UNITS[idx].1)?)?;
        i = &rest[unit_len..];
    }
    Some(total)
}

/// Parses number text (as recognized by [`number_text`], or `Inf`/`NaN` in
/// any case) like Prometheus: as a Go integer literal first (so a leading
/// `0` means octal: `010` is 8), else as a float.
pub fn parse_number(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase().replace('_', "");
    match lower.as_str() {
        "inf" => return Some(f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        if let Ok(v) = i64::from_str_radix(hex, 16) {
            return Some(v as f64);
        }
        // Beyond 64 bits: still the nearest float.
        return Some(hex.chars().fold(0f64, |acc, c| {
            acc * 16.0 + c.to_digit(16).unwrap_or(0) as f64
        }));
    }
    if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = i64::from_str_radix(&lower[1..], 8) {
            return Some(v as f64);
        }
    }
    lower.parse::<f64>().ok()
}

/// Why a quoted string could not be read.
#[derive(Debug, PartialEq)]
pub enum UnquoteError {
    /// A bad escape sequence, worded like Prometheus's lexer.
    Escape(String),
}

/// Go's `%#U`: `U+0071 'q'`.
fn go_rune(c: char) -> String {
    format!("U+{:04X} '{c}'", c as u32)
}

/// Undoes Go-style escapes in the body of a quoted string (without the
/// quotes). Backtick strings are raw and are returned unchanged. `\x` and
/// octal escapes give bytes, which together must form valid UTF-8.
pub fn unquote(body: &str, quote: char) -> Result<String, UnquoteError> {
    if quote == '`' || !body.contains('\\') {
        return Ok(body.to_string());
    }
    let esc = |m: &str| UnquoteError::Escape(m.to_string());
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let push = |out: &mut Vec<u8>, c: char| {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            push(&mut out, c);
            continue;
        }
        let e = chars
            .next()
            .ok_or_else(|| esc("escape sequence not terminated"))?;
        let (n, base, max) = match e {
            'a' => {
                out.push(0x07);
                continue;
            }
            'b' => {
                out.push(0x08);
                continue;
            }
            'f' => {
                out.push(0x0c);
                continue;
            }
            'n' => {
                out.push(b'\n');
                continue;
            }
            'r' => {
                out.push(b'\r');
                continue;
            }
            't' => {
                out.push(b'\t');
                continue;
            }
            'v' => {
                out.push(0x0b);
                continue;
            }
            '\\' => {
                out.push(b'\\');
                continue;
            }
            // Like Go, a quote may be escaped only inside its own kind.
            '\'' | '"' if e == quote => {
                out.push(e as u8);
                continue;
            }
            '0'..='7' => (3, 8, 255),
            'x' => (2, 16, 255),
            'u' => (4, 16, 0x10ffff),
            'U' => (8, 16, 0x10ffff),
            _ => {
                return Err(UnquoteError::Escape(format!(
                    "unknown escape sequence {}",
                    go_rune(e)
                )))
            }
        };
        let mut v: u32 = 0;
        let mut first = matches!(e, '0'..='7').then_some(e);
        for _ in 0..n {
            // Running out of body means the closing quote came next.
            let d = first.take().or_else(|| chars.next()).unwrap_or(quote);
            let Some(x) = d.to_digit(base) else {
                return Err(UnquoteError::Escape(format!(
                    "illegal character {} in escape sequence",
                    go_rune(d)
                )));
            };
            v = v * base + x;
        }
        if v > max || (0xd800..0xe000).contains(&v) {
            return Err(esc("escape sequence is an invalid Unicode code point"));
        }
        if matches!(e, 'u' | 'U') {
            push(
                &mut out,
                char::from_u32(v)
                    .ok_or_else(|| esc("escape sequence is an invalid Unicode code point"))?,
            );
        } else {
            out.push(v as u8);
        }
    }
    Ok(decode_bytes(&out))
}

/// First of 256 private-use code points that stand for bytes which are not
/// valid UTF-8 (`"\xff"`): PromQL strings, like Go's, may hold any bytes,
/// and such a string must survive printing and fail where Prometheus fails
/// (an invalid label name), not at parse time.
const RAW_BYTE_BASE: u32 = 0x10_ff00;

/// Decodes bytes as UTF-8, keeping each invalid byte as a raw-byte char.
fn decode_bytes(mut b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    loop {
        match std::str::from_utf8(b) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, rest) = b.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).expect("checked valid"));
                let n = e.error_len().unwrap_or(rest.len());
                for &byte in &rest[..n] {
                    out.push(raw_byte_char(byte));
                }
                b = &rest[n..];
            }
        }
    }
}

fn raw_byte_char(b: u8) -> char {
    char::from_u32(RAW_BYTE_BASE + b as u32).expect("plane 16 private use is valid")
}

/// The byte a raw-byte char stands for.
fn raw_byte(c: char) -> Option<u8> {
    let v = c as u32;
    (RAW_BYTE_BASE..RAW_BYTE_BASE + 256)
        .contains(&v)
        .then(|| (v - RAW_BYTE_BASE) as u8)
}

/// Whether `s` holds bytes that are not valid UTF-8 (see [`RAW_BYTE_BASE`]).
pub(crate) fn has_raw_bytes(s: &str) -> bool {
    s.chars().any(|c| raw_byte(c).is_some())
}

/// Double-quotes a string with Go's `strconv.Quote` escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if raw_byte(c).is_some() => {
                out.push_str(&format!("\\x{:02x}", raw_byte(c).unwrap_or(0)))
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Formats milliseconds like Prometheus's `model.Duration`: `1h30m`, `5m`,
/// `90d`; years and weeks only when they divide evenly; `0s` for zero.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms.unsigned_abs();
    if ms < 0 {
        out.push('-');
    }
    for (unit, len) in UNITS {
        let len = *len as u64;
        let exact_only = *unit == "y" || *unit == "w";
        if exact_only && !rest.is_multiple_of(len) {
            continue;
        }
        let v = rest / len;
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
            rest -= v * len;
        }
    }
    out
}

/// Formats a float like Go's `%v`: shortest round-trip digits, exponent form
/// below 1e-4 and from 1e6 up (Go's `%g` rule for
/// shortest precision), `Inf`, `-Inf`, `NaN`.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        // Prometheus writes `+Inf`, but our tree keeps a leading sign as a
        // unary operator, so plain `Inf` is what parses back to this value.
        return if f > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // `{:e}` gives the shortest digits that round-trip: `d.ddddde<exp>`.
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{m}e{esign}{:02}", exp.abs());
    }
    let n = digits.len() as i32;
    let body = if exp < 0 {
        format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
    } else if exp + 1 >= n {
        format!("{}{}", digits, "0".repeat((exp + 1 - n) as usize))
    } else {
        let (a, b) = digits.split_at((exp + 1) as usize);
        format!("{a}.{b}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(300_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("1m0s"), Some(60_000));
        assert_eq!(parse_duration("10ms"), Some(10));
        assert_eq!(parse_duration("1y"), Some(365 * 86_400_000));
        assert_eq!(parse_duration("1m1h"), None);
        assert_eq!(parse_duration("1s1s"), None);
        assert_eq!(parse_duration("5"), None);
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(300_000), "5m");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(-300_000), "-5m");
        assert_eq!(format_duration(90 * 86_400_000), "90d");
        assert_eq!(format_duration(14 * 86_400_000), "2w");
        assert_eq!(format_duration(1500), "1s500ms");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x1F"), Some(31.0));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        assert_eq!(parse_number(".5"), Some(0.5));
        assert_eq!(parse_number("5."), Some(5.0));
        assert_eq!(parse_number("1_000"), Some(1000.0));
        assert_eq!(parse_number("0x_1_f"), Some(31.0));
        assert_eq!(parse_number("1_0.2_5e1_0"), Some(10.25e10));
        assert_eq!(parse_number("010"), Some(8.0));
        assert_eq!(parse_number("09"), Some(9.0));
        assert_eq!(parse_number("0.5"), Some(0.5));
        for t in ["1_000", "0x_1f", "1_0.2_5e1_0", "1.", "1e+5"] {
            assert_eq!(number_text(t), Ok(("", t)));
        }
        assert_eq!(number_text("1__0"), Ok(("__0", "1")));
        assert_eq!(parse_number("iNf"), Some(f64::INFINITY));
        assert!(parse_number("NaN").unwrap().is_nan());
        for (f, s) in [
            (1.0, "1"),
            (0.5, "0.5"),
            (100000.0, "100000"),
            (1e21, "1e+21"),
            (123456789.0, "1.23456789e+08"),
            (1e6, "1e+06"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-2.5, "-2.5"),
            (f64::INFINITY, "Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(format_float(f), s);
        }
    }

    #[test]
    fn strings() {
        assert_eq!(unquote(r#"a\n\t\\\""#, '"').unwrap(), "a\n\t\\\"");
        assert_eq!(unquote(r"\'", '\'').unwrap(), "'");
        assert!(unquote(r"\'", '"').is_err());
        assert_eq!(unquote(r"\x41\u00e9\U0001F600\101", '\'').unwrap(), "Aé😀A");
        assert_eq!(unquote(r"\n", '`').unwrap(), "\\n");
        assert!(unquote(r"\q", '"').is_err());
        assert!(unquote(r"\x4", '"').is_err());
        assert_eq!(unquote(r"\xc3\xa9\303\251", '"').unwrap(), "éé");
        let raw = unquote(r"a\xc5z", '"').unwrap();
        assert!(has_raw_bytes(&raw));
        assert_eq!(quote(&raw), r#""a\xc5z""#);
        assert_eq!(quote("a\"b\\c\n\x01é"), r#""a\"b\\c\n\x01é""#);
    }
}
