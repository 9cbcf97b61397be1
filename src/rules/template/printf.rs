//! Go's `fmt` as templates reach it: `printf` (`Sprintf`), `print`
//! (`Sprint`) and `println` (`Sprintln`), over [`Value`]s. Only what Go
//! does for the types templates hold is reproduced, including its in-band
//! error spellings such as `%!d(string=x)`.

use promql::go_float;

use super::value::Value;

/// `strconv.FormatFloat(v, verb, prec, 64)` for verbs `e E f F g G`, with
/// `None` for the shortest precision, and Go's `+Inf`, `-Inf`, `NaN`.
pub fn format_float(v: f64, verb: char, prec: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let lower = verb.to_ascii_lowercase();
    let mut out = match (lower, prec) {
        ('f', None) | ('e', None) | ('g', None) => {
            let mut buf = Vec::new();
            match lower {
                'f' => go_float::write_f(&mut buf, v),
                'e' => go_float::write_e(&mut buf, v),
                _ => go_float::write_g(&mut buf, v),
            }
            String::from_utf8(buf).unwrap_or_default()
        }
        ('f', Some(p)) => format!("{v:.p$}"),
        ('e', Some(p)) => {
            let (digits, exp) = rounded_digits(v, p + 1);
            let mut s = sign(v);
            push_e(&mut s, &digits, p, exp);
            s
        }
        (_, Some(p)) => format_g(v, p.max(1)),
        _ => unreachable!("verb is one of e, f, g"),
    };
    if verb.is_ascii_uppercase() {
        out = out.replace('e', "E");
    }
    out
}

fn sign(v: f64) -> String {
    if v.is_sign_negative() {
        "-".into()
    } else {
        String::new()
    }
}

/// `n` significant digits of |v|, correctly rounded, and the decimal
/// exponent of the first one.
fn rounded_digits(v: f64, n: usize) -> (Vec<u8>, i32) {
    let s = format!("{:.*e}", n - 1, v.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits = mant.bytes().filter(u8::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// `d.ddd` (exactly `prec` digits after the point) then `e±XX`.
fn push_e(out: &mut String, digits: &[u8], prec: usize, exp: i32) {
    let digit = |i: usize| *digits.get(i).unwrap_or(&b'0') as char;
    out.push(digit(0));
    if prec > 0 {
        out.push('.');
        (1..=prec).for_each(|i| out.push(digit(i)));
    }
    let e = if digits.iter().all(|&d| d == b'0') {
        0
    } else {
        exp
    };
    out.push_str(&format!(
        "e{}{:02}",
        if e < 0 { '-' } else { '+' },
        e.unsigned_abs()
    ));
}

/// `%.Ng`: round to N significant digits, drop trailing zeros, then pick
/// the exponent form when the exponent is below -4 or at least N, as Go's
/// strconv decides it.
fn format_g(v: f64, p: usize) -> String {
    let (mut digits, exp) = rounded_digits(v, p);
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    let zero = digits == [b'0'];
    let nd = if zero { 0 } else { digits.len() as i32 };
    let dp = if zero { 0 } else { exp + 1 };
    let mut eprec = p as i32;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    let x = dp - 1;
    let mut out = sign(v);
    if x < -4 || x >= eprec {
        let shown = (p as i32).min(nd).max(1);
        push_e(&mut out, &digits, (shown - 1) as usize, exp);
        return out;
    }
    let prec = if p as i32 > dp { nd } else { p as i32 };
    let frac = (prec - dp).max(0);
    let digit = |i: i32| {
        if i >= 0 && i < nd {
            digits[i as usize] as char
        } else {
            '0'
        }
    };
    if dp <= 0 {
        out.push('0');
    } else {
        (0..dp).for_each(|i| out.push(digit(i)));
    }
    if frac > 0 {
        out.push('.');
        (0..frac).for_each(|i| out.push(digit(dp + i)));
    }
    out
}

/// One conversion's flags, width and precision.
#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

impl Spec {
    /// Pads `s` to the width: spaces on the left (or right with `-`),
    /// zeros on the left with `0`.
    fn pad(&self, out: &mut String, s: &str) {
        let len = s.chars().count();
        let fill = self.width.unwrap_or(0).saturating_sub(len);
        if self.minus {
            out.push_str(s);
            out.extend(std::iter::repeat_n(' ', fill));
        } else {
            let c = if self.zero { '0' } else { ' ' };
            out.extend(std::iter::repeat_n(c, fill));
            out.push_str(s);
        }
    }

    fn pad_spaces(&mut self, out: &mut String, s: &str) {
        let zero = std::mem::replace(&mut self.zero, false);
        self.pad(out, s);
        self.zero = zero;
    }
}

/// `fmt.Sprintf(format, args...)`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(format.len());
    let mut next = 0;
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '#' => spec.sharp = true,
                '0' => spec.zero = !spec.minus,
                '+' => spec.plus = true,
                '-' => {
                    spec.minus = true;
                    spec.zero = false;
                }
                ' ' => spec.space = true,
                _ => break,
            }
            chars.next();
        }
        // Width and precision, either digits or `*` taking an int argument.
        let mut number = |chars: &mut std::iter::Peekable<std::str::CharIndices>,
                          out: &mut String,
                          what: &str|
         -> Option<usize> {
            if chars.peek().map(|&(_, c)| c) == Some('*') {
                chars.next();
                let arg = args.get(next);
                next += 1;
                return match arg {
                    Some(Value::Int(n)) if (0..1_000_000).contains(n) => Some(*n as usize),
                    _ => {
                        out.push_str(&format!("%!({what})"));
                        None
                    }
                };
            }
            let mut n: Option<usize> = None;
            while let Some(&(_, d)) = chars.peek() {
                let Some(d) = d.to_digit(10) else { break };
                n = Some(
                    n.unwrap_or(0)
                        .saturating_mul(10)
                        .saturating_add(d as usize)
                        .min(1_000_000),
                );
                chars.next();
            }
            n
        };
        spec.width = number(&mut chars, &mut out, "BADWIDTH");
        if chars.peek().map(|&(_, c)| c) == Some('.') {
            chars.next();
            spec.prec = Some(number(&mut chars, &mut out, "BADPREC").unwrap_or(0));
        }
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(arg) => format_arg(&mut out, &mut spec, verb, arg),
        }
        next += 1;
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, arg) in args[next..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if matches!(arg, Value::Nil) {
                out.push_str("<nil>");
            } else {
                out.push_str(&arg.type_name());
                out.push('=');
                arg.write_v(&mut out);
            }
        }
        out.push(')');
    }
    out
}

/// `fmt.Sprint`: operands' `%v`, with a space between two operands when
/// neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        arg.write_v(&mut out);
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: operands' `%v` separated by spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        arg.write_v(&mut out);
    }
    out.push('\n');
    out
}

fn bad_verb(out: &mut String, verb: char, arg: &Value) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if matches!(arg, Value::Nil) {
        out.push_str("<nil>");
    } else {
        out.push_str(&arg.type_name());
        out.push('=');
        arg.write_v(out);
    }
    out.push(')');
}

fn format_arg(out: &mut String, spec: &mut Spec, verb: char, arg: &Value) {
    if verb == 'T' {
        spec.pad(out, &arg.type_name());
        return;
    }
    match arg {
        Value::Nil if verb == 'v' => spec.pad(out, "<nil>"),
        Value::Bool(b) if matches!(verb, 't' | 'v') => {
            spec.pad(out, if *b { "true" } else { "false" })
        }
        Value::Int(i) => format_int(out, spec, verb, *i, arg),
        Value::Float(f) => match verb {
            'v' => format_number(out, spec, *f, 'g', None),
            'e' | 'E' | 'f' | 'F' => format_number(out, spec, *f, verb, Some(6)),
            'g' | 'G' => format_number(out, spec, *f, verb, None),
            _ => bad_verb(out, verb, arg),
        },
        Value::Str(s) => format_str(out, spec, verb, s, arg),
        Value::Time(_) | Value::Duration(_) if matches!(verb, 'v' | 's' | 'q' | 'x' | 'X') => {
            format_str(out, spec, verb, &arg.to_v(), arg)
        }
        Value::Labels(_)
        | Value::Map(_)
        | Value::Samples(_)
        | Value::Sample(_)
        | Value::Record(_)
            if matches!(verb, 'v' | 's') =>
        {
            spec.pad(out, &arg.to_v())
        }
        _ => bad_verb(out, verb, arg),
    }
}

fn format_number(
    out: &mut String,
    spec: &mut Spec,
    v: f64,
    verb: char,
    default_prec: Option<usize>,
) {
    let verb = if verb == 'F' { 'f' } else { verb };
    let num = format_float(v, verb, spec.prec.or(default_prec));
    let (sign, body) = match num.strip_prefix('-') {
        Some(rest) => ('-', rest),
        None => ('+', num.strip_prefix('+').unwrap_or(&num)),
    };
    let sign = if spec.space && sign == '+' && !spec.plus {
        ' '
    } else {
        sign
    };
    if v.is_nan() || v.is_infinite() {
        let text = if v.is_nan() && !spec.space && !spec.plus {
            body.to_string()
        } else {
            format!("{sign}{body}")
        };
        spec.pad_spaces(out, &text);
        return;
    }
    if spec.plus || sign != '+' {
        let len = body.chars().count() + 1;
        if spec.zero && !spec.minus && spec.width.is_some_and(|w| w > len) {
            out.push(sign);
            out.extend(std::iter::repeat_n('0', spec.width.unwrap_or(0) - len));
            out.push_str(body);
        } else {
            spec.pad(out, &format!("{sign}{body}"));
        }
        return;
    }
    spec.pad(out, body);
}

fn format_int(out: &mut String, spec: &mut Spec, verb: char, v: i64, arg: &Value) {
    let (base, upper) = match verb {
        'd' | 'v' => (10, false),
        'b' => (2, false),
        'o' | 'O' => (8, false),
        'x' => (16, false),
        'X' => (16, true),
        'c' => {
            let c = char::from_u32(v as u32).unwrap_or('\u{FFFD}');
            spec.pad(out, &c.to_string());
            return;
        }
        'q' => {
            let c = char::from_u32(v as u32).unwrap_or('\u{FFFD}');
            spec.pad(out, &format!("'{}'", quote_char(c, '\'')));
            return;
        }
        'U' => {
            spec.pad(out, &format!("U+{:04X}", v));
            return;
        }
        _ => return bad_verb(out, verb, arg),
    };
    let neg = v < 0;
    let u = v.unsigned_abs();
    let mut min_digits = 0;
    if let Some(p) = spec.prec {
        if p == 0 && u == 0 {
            spec.pad_spaces(out, "");
            return;
        }
        min_digits = p;
    } else if spec.zero && !spec.minus {
        if let Some(w) = spec.width {
            min_digits = w;
            if neg || spec.plus || spec.space {
                min_digits = min_digits.saturating_sub(1);
            }
        }
    }
    let mut digits = match base {
        2 => format!("{u:b}"),
        8 => format!("{u:o}"),
        16 if upper => format!("{u:X}"),
        16 => format!("{u:x}"),
        _ => u.to_string(),
    };
    if digits.len() < min_digits {
        digits = "0".repeat(min_digits - digits.len()) + &digits;
    }
    let mut prefix = String::new();
    if neg {
        prefix.push('-');
    } else if spec.plus {
        prefix.push('+');
    } else if spec.space {
        prefix.push(' ');
    }
    if spec.sharp || verb == 'O' {
        match (base, verb) {
            (16, _) => prefix.push_str(if upper { "0X" } else { "0x" }),
            (8, 'O') => prefix.push_str("0o"),
            (8, _) if !digits.starts_with('0') => prefix.push('0'),
            (2, _) => prefix.push_str("0b"),
            _ => {}
        }
    }
    spec.pad_spaces(out, &(prefix + &digits));
}

fn format_str(out: &mut String, spec: &mut Spec, verb: char, s: &str, arg: &Value) {
    let s = match spec.prec {
        Some(p) if matches!(verb, 's' | 'v' | 'q') => {
            let end = s.char_indices().nth(p).map_or(s.len(), |(i, _)| i);
            &s[..end]
        }
        _ => s,
    };
    match verb {
        's' | 'v' => spec.pad(out, s),
        'q' => {
            if spec.sharp && !s.contains('`') && s.chars().all(|c| c == '\t' || !c.is_control()) {
                spec.pad(out, &format!("`{s}`"));
            } else {
                spec.pad(out, &quote(s));
            }
        }
        'x' | 'X' => {
            let mut hex = String::new();
            for (i, b) in s.bytes().enumerate() {
                if spec.space && i > 0 {
                    hex.push(' ');
                }
                if spec.sharp && (spec.space || i == 0) {
                    hex.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    hex.push_str(&format!("{b:02x}"));
                } else {
                    hex.push_str(&format!("{b:02X}"));
                }
            }
            spec.pad(out, &hex);
        }
        _ => bad_verb(out, verb, arg),
    }
}

/// `strconv.Quote`: a double-quoted Go string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        out.push_str(&quote_char(c, '"'));
    }
    out.push('"');
    out
}

fn quote_char(c: char, delim: char) -> String {
    match c {
        _ if c == delim || c == '\\' => format!("\\{c}"),
        '\x07' => "\\a".into(),
        '\x08' => "\\b".into(),
        '\x0c' => "\\f".into(),
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\t' => "\\t".into(),
        '\x0b' => "\\v".into(),
        c if (c as u32) < 0x20 || c == '\x7f' => format!("\\x{:02x}", c as u32),
        c if c.is_control() => {
            if (c as u32) < 0x10000 {
                format!("\\u{:04x}", c as u32)
            } else {
                format!("\\U{:08x}", c as u32)
            }
        }
        c => c.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::str(v)
    }

    #[test]
    fn float_verbs_match_go() {
        for (fmt, v, want) in [
            ("%v", 1e6, "1e+06"),
            ("%v", 100000.0, "100000"),
            ("%v", 0.1, "0.1"),
            ("%f", 1.5, "1.500000"),
            ("%.2f", 1.005, "1.00"),
            ("%.1f", 0.25, "0.2"),
            ("%8.3f", -3.14259, "  -3.143"),
            ("%-8.2f|", 3.14259, "3.14    |"),
            ("%08.2f", -3.14259, "-0003.14"),
            ("%+.2f", 3.0, "+3.00"),
            ("% .1f", 3.0, " 3.0"),
            ("%e", 1234.5678, "1.234568e+03"),
            ("%.2e", 0.000123, "1.23e-04"),
            ("%E", 1e-10, "1.000000E-10"),
            ("%g", 1234567.0, "1.234567e+06"),
            ("%g", 0.00001, "1e-05"),
            ("%.4g", 1234.5678, "1235"),
            ("%.4g", 1234567.0, "1.235e+06"),
            ("%.4g", 0.0, "0"),
            ("%.4g", 10.0, "10"),
            ("%.4g", 0.0001234, "0.0001234"),
            ("%.4g", 0.00001234, "1.234e-05"),
            ("%.3g", 100.0, "100"),
            ("%.2g", 100.0, "1e+02"),
            ("%.4g", 999.99, "1000"),
            ("%.4g", 99999.0, "1e+05"),
            ("%f", f64::INFINITY, "+Inf"),
            ("%v", f64::NEG_INFINITY, "-Inf"),
            ("%.4g", f64::NAN, "NaN"),
            ("%05.1f", f64::INFINITY, " +Inf"),
            ("%+v", f64::NAN, "+NaN"),
            ("%.0f", 2.5, "2"),
            ("%.3v", 3.14259, "3.14"),
        ] {
            assert_eq!(sprintf(fmt, &[Value::Float(v)]), want, "{fmt} {v}");
        }
    }

    #[test]
    fn int_string_and_bool_verbs_match_go() {
        let i = Value::Int;
        for (fmt, arg, want) in [
            ("%d", i(42), "42"),
            ("%5d|", i(42), "   42|"),
            ("%-5d|", i(42), "42   |"),
            ("%05d", i(-42), "-0042"),
            ("%+d", i(42), "+42"),
            ("%.3d", i(7), "007"),
            ("%x", i(255), "ff"),
            ("%#x", i(255), "0xff"),
            ("%X", i(255), "FF"),
            ("%o", i(8), "10"),
            ("%#o", i(8), "010"),
            ("%b", i(5), "101"),
            ("%c", i(65), "A"),
            ("%q", i(65), "'A'"),
            ("%U", i(65), "U+0041"),
            ("%v", i(-3), "-3"),
            ("%s", s("hi"), "hi"),
            ("%6s|", s("hi"), "    hi|"),
            ("%-6s|", s("hi"), "hi    |"),
            ("%.2s", s("héllo"), "hé"),
            ("%q", s("a\"b\n"), "\"a\\\"b\\n\""),
            ("%#q", s("ab"), "`ab`"),
            ("%x", s("hi"), "6869"),
            ("% X", s("hi"), "68 69"),
            ("%v", s("x"), "x"),
            ("%t", Value::Bool(true), "true"),
            ("%v", Value::Bool(false), "false"),
            ("%v", Value::Nil, "<nil>"),
            ("%T", Value::Float(1.0), "float64"),
        ] {
            assert_eq!(sprintf(fmt, &[arg]), want, "{fmt}");
        }
    }

    #[test]
    fn bad_verbs_and_arg_counts_read_as_go() {
        assert_eq!(sprintf("%d", &[s("x")]), "%!d(string=x)");
        assert_eq!(sprintf("%s", &[Value::Float(1.5)]), "%!s(float64=1.5)");
        assert_eq!(sprintf("%d", &[Value::Float(2.0)]), "%!d(float64=2)");
        assert_eq!(sprintf("%f", &[Value::Int(2)]), "%!f(int=2)");
        assert_eq!(sprintf("%d", &[Value::Nil]), "%!d(<nil>)");
        assert_eq!(sprintf("%t", &[Value::Int(1)]), "%!t(int=1)");
        assert_eq!(sprintf("%d %d", &[Value::Int(1)]), "1 %!d(MISSING)");
        assert_eq!(
            sprintf("%d", &[Value::Int(1), s("a"), Value::Nil]),
            "1%!(EXTRA string=a, <nil>)"
        );
        assert_eq!(sprintf("100%%", &[]), "100%");
        assert_eq!(sprintf("%", &[]), "%!(NOVERB)");
        assert_eq!(sprintf("%*d", &[Value::Int(4), Value::Int(7)]), "   7");
    }

    #[test]
    fn print_and_println_space_as_go() {
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2)]), "1 2");
        assert_eq!(sprint(&[s("a"), Value::Int(1), s("b")]), "a1b");
        assert_eq!(sprint(&[s("a"), s("b")]), "ab");
        assert_eq!(sprint(&[Value::Float(1.5), Value::Bool(true)]), "1.5 true");
        assert_eq!(sprintln(&[s("a"), s("b")]), "a b\n");
    }
}
