//! Byte-level scanning shared by both formats: character classes, names,
//! quoted strings, and naming what was found where something else was
//! expected (for error messages).

/// `[a-zA-Z_:]`: may start a metric name.
const METRIC_START: u8 = 1;
/// `[a-zA-Z0-9_:]`: may continue a metric name.
const METRIC_CHAR: u8 = 2;
/// `[a-zA-Z_]`: may start a label name.
const LABEL_START: u8 = 4;
/// `[a-zA-Z0-9_]`: may continue a label name.
const LABEL_CHAR: u8 = 8;
/// Bytes the quoted-string loop must stop at: `"`, `\`, newline, NUL and
/// every non-ASCII byte (so UTF-8 is only validated where it occurs).
const QUOTED_STOP: u8 = 16;

static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        let digit = b.is_ascii_digit();
        if alpha || b == b':' {
            t[c] |= METRIC_START | METRIC_CHAR;
        }
        if digit {
            t[c] |= METRIC_CHAR | LABEL_CHAR;
        }
        if alpha {
            t[c] |= LABEL_START | LABEL_CHAR;
        }
        if b == b'"' || b == b'\\' || b == b'\n' || b == 0 || b >= 0x80 {
            t[c] |= QUOTED_STOP;
        }
        c += 1;
    }
    t
}

#[inline]
pub(super) fn is_metric_start(b: u8) -> bool {
    CLASS[b as usize] & METRIC_START != 0
}

#[inline]
pub(super) fn is_label_start(b: u8) -> bool {
    CLASS[b as usize] & LABEL_START != 0
}

/// End of the metric name starting at `i` (whose first byte the caller
/// checked with [`is_metric_start`]).
#[inline]
pub(super) fn metric_name_end(b: &[u8], i: usize) -> usize {
    run_end(b, i + 1, METRIC_CHAR)
}

/// End of the label name starting at `i` (checked with [`is_label_start`]).
#[inline]
pub(super) fn label_name_end(b: &[u8], i: usize) -> usize {
    run_end(b, i + 1, LABEL_CHAR)
}

/// End of the run of name bytes of `class` from `i`. Names are long
/// (`go_gc_heap_allocs_by_size_bytes_bucket`), so they are classified
/// eight bytes per step.
#[inline]
fn run_end(b: &[u8], mut i: usize, class: u8) -> usize {
    let colon = class == METRIC_CHAR;
    while let Some(x) = word_at(b, i) {
        let stop = non_name_bytes(x, colon);
        if stop != 0 {
            return i + first_marked(stop);
        }
        i += 8;
    }
    while i < b.len() && CLASS[b[i] as usize] & class != 0 {
        i += 1;
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
pub(super) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` that lies in `lo..=hi`. Only for bytes
/// below 0x80 (callers mask), where the sums cannot carry between bytes.
#[inline]
pub(super) fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let at_least_lo = x.wrapping_add(ONES * u64::from(0x80 - lo));
    let above_hi = x.wrapping_add(ONES * u64::from(0x7f - hi));
    at_least_lo & !above_hi & HIGHS
}

/// High bit set in each byte of `x` that cannot be in a name: not a
/// letter, digit or `_` (or `:` when `colon`).
#[inline]
fn non_name_bytes(x: u64, colon: bool) -> u64 {
    let low7 = x & !HIGHS;
    // Setting bit 5 folds upper case into lower and leaves digits alone.
    let letter = in_range(low7 | (ONES * 0x20), b'a', b'z');
    let digit = in_range(low7, b'0', if colon { b':' } else { b'9' });
    let underscore = has_byte(low7, b'_');
    (!(letter | digit | underscore) & HIGHS) | (x & HIGHS)
}

/// Index of the first byte whose high bit is set in `mask` (non-zero).
#[inline]
pub(super) fn first_marked(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// High bit set in exactly the bytes of `x` equal to `byte`. (Adding 0x7f
/// to the low seven bits sets the high bit of every non-zero byte without
/// carrying into the next.)
#[inline]
fn has_byte(x: u64, byte: u8) -> u64 {
    let v = x ^ (ONES * u64::from(byte));
    !(((v & !HIGHS).wrapping_add(!HIGHS)) | v) & HIGHS
}

/// The eight bytes at `i` as a word, if there are eight.
#[inline(always)]
pub(super) fn word_at(b: &[u8], i: usize) -> Option<u64> {
    b.get(i..)
        .and_then(|r| r.first_chunk::<8>())
        .map(|c| u64::from_le_bytes(*c))
}

/// Skips spaces and tabs, the text format's token separators.
#[inline]
pub(super) fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// End of the line containing `i`: the index of its `\n`, or `b.len()`.
#[inline]
pub(super) fn line_end(b: &[u8], mut i: usize) -> usize {
    while let Some(x) = word_at(b, i) {
        let nl = has_byte(x, b'\n');
        if nl != 0 {
            return i + first_marked(nl);
        }
        i += 8;
    }
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

/// Which raw bytes a quoted string may hold; the formats and positions
/// differ (e.g. OpenMetrics label values may not span lines).
#[derive(Clone, Copy)]
pub(super) struct QuoteRules {
    pub newline: bool,
    pub nul: bool,
}

/// A scanned quoted string.
pub(super) struct Quoted {
    /// Index just past the closing quote.
    pub end: usize,
    /// Whether any byte was non-ASCII, i.e. UTF-8 must be checked.
    pub non_ascii: bool,
}

/// Scans the string whose opening `"` is at `open`. Escapes are a
/// backslash and any byte but newline and NUL. On failure returns where the
/// string stopped being valid (possibly `b.len()`).
#[inline(always)]
pub(super) fn scan_quoted(b: &[u8], open: usize, rules: QuoteRules) -> Result<Quoted, usize> {
    let mut i = open + 1;
    let mut non_ascii = false;
    loop {
        // The next byte that may need a look: found a word at a time.
        let c = loop {
            if let Some(x) = word_at(b, i) {
                let m = maybe_special(x);
                if m != 0 {
                    i += first_marked(m);
                    break b[i];
                }
                i += 8;
            } else {
                while i < b.len() && CLASS[b[i] as usize] & QUOTED_STOP == 0 {
                    i += 1;
                }
                match b.get(i) {
                    Some(&c) => break c,
                    None => return Err(i),
                }
            }
        };
        match c {
            b'"' => {
                return Ok(Quoted {
                    end: i + 1,
                    non_ascii,
                })
            }
            b'\\' => match b.get(i + 1) {
                None | Some(b'\n') | Some(0) => return Err(i + 1),
                Some(&e) => {
                    non_ascii |= e >= 0x80;
                    i += 2;
                }
            },
            b'\n' if rules.newline => i += 1,
            0 if rules.nul => i += 1,
            b'\n' | 0 => return Err(i),
            c => {
                non_ascii |= c >= 0x80;
                i += 1;
            }
        }
    }
}

/// High bit set in the bytes of `x` a quoted string must look at: `"`,
/// `\`, control characters (newline and NUL among them) and non-ASCII.
#[inline(always)]
fn maybe_special(x: u64) -> u64 {
    let below_space = !((x & !HIGHS).wrapping_add(ONES * 0x60)) & HIGHS;
    has_byte(x, b'"') | has_byte(x, b'\\') | below_space | (x & HIGHS)
}

/// Where the position being described is: inside braces names and
/// punctuation are tokens; where a label value is due only a quoted string
/// is; elsewhere (after a metric name or value) only `{` is, everything
/// else being part of a value or invalid.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Context {
    Line,
    Labels,
    Value,
}

/// The token found at `at` as Prometheus's lexer would see it: its length
/// and kind name, for "expected X, got Y" messages. An invalid token is one
/// byte, as the byte-wise lexer stops there.
pub(super) fn describe(b: &[u8], at: usize, ctx: Context) -> (usize, &'static str) {
    let Some(&c) = b.get(at) else {
        return (0, "EOF");
    };
    match (ctx, c) {
        (Context::Value, _) => (1, "INVALID"),
        (_, b'{') => (1, "BOPEN"),
        (Context::Line, _) => (1, "INVALID"),
        (Context::Labels, b'}') => (1, "BCLOSE"),
        (Context::Labels, b',') => (1, "COMMA"),
        (Context::Labels, b'=') => (1, "EQUAL"),
        (Context::Labels, b'"') => {
            let lenient = QuoteRules {
                newline: true,
                nul: true,
            };
            match scan_quoted(b, at, lenient) {
                Ok(q) => (q.end - at, "QSTRING"),
                Err(_) => (1, "INVALID"),
            }
        }
        (Context::Labels, c) if is_label_start(c) => (label_name_end(b, at) - at, "LNAME"),
        _ => (1, "INVALID"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT_VALUE: QuoteRules = QuoteRules {
        newline: true,
        nul: true,
    };
    const OM_VALUE: QuoteRules = QuoteRules {
        newline: false,
        nul: true,
    };
    const NAME: QuoteRules = QuoteRules {
        newline: true,
        nul: false,
    };

    #[test]
    fn word_helpers() {
        let x = u64::from_le_bytes(*b"abcdefg\n");
        assert_ne!(has_byte(x, b'\n'), 0);
        assert_eq!(has_byte(x, b'"'), 0);
        assert_ne!(has_byte(u64::from_le_bytes(*b"\0bcdefgh"), 0), 0);
        assert_eq!(has_byte(u64::from_le_bytes([0x80; 8]), 0), 0);
        let long = b"0123456789abcdef\nrest";
        for i in 0..long.len() {
            assert_eq!(line_end(long, i), if i <= 16 { 16 } else { long.len() });
        }
        let name = b"go_gc_heap_allocs_by_size_bytes_bucket{le";
        assert_eq!(metric_name_end(name, 0), 38);
        assert_eq!(label_name_end(b"abcdefghijklmnop:", 0), 16);
    }

    #[test]
    fn long_quoted_strings() {
        let s = "\"0123456789abcdefghij\\\"klmnopqrstuvwxyzé0123456789\"".as_bytes();
        let q = scan_quoted(s, 0, TEXT_VALUE).unwrap();
        assert_eq!(q.end, s.len());
        assert!(q.non_ascii);
        let s = b"\"0123456789abcdefghij\nxx\"";
        assert_eq!(scan_quoted(s, 0, OM_VALUE).err(), Some(21));
    }

    #[test]
    fn special_bytes_in_quoted_strings() {
        for c in 0..=255u8 {
            let x = u64::from_le_bytes([b'a', b'a', b'a', c, b'a', b'a', b'a', b'a']);
            let m = maybe_special(x);
            let want = c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c);
            assert_eq!(m != 0, want, "{c}");
            if want {
                assert_eq!(first_marked(m), 3);
            }
        }
        let s = b"\"tab\there\rand more text\" x";
        assert_eq!(scan_quoted(s, 0, OM_VALUE).unwrap().end, s.len() - 2);
    }

    #[test]
    fn byte_matches_are_exact_everywhere() {
        let x = u64::from_le_bytes(*b"_^_^__^_");
        assert_eq!(has_byte(x, b'_'), 0x8000_8080_0080_0080);
        assert_eq!(non_name_bytes(x, false), 0x0080_0000_8000_8000);
    }

    #[test]
    fn word_classification_matches_the_table() {
        for c in 0..=255u8 {
            let x = u64::from_le_bytes([b'a', c, b'a', b'a', b'a', b'a', b'a', b'a']);
            let metric = non_name_bytes(x, true);
            let label = non_name_bytes(x, false);
            let want_metric = CLASS[c as usize] & METRIC_CHAR == 0;
            let want_label = CLASS[c as usize] & LABEL_CHAR == 0;
            assert_eq!(metric != 0 && first_marked(metric) == 1, want_metric, "{c}");
            assert_eq!(label != 0 && first_marked(label) == 1, want_label, "{c}");
            for q in [b'"', b'\\', b'\n', 0u8] {
                let y = u64::from_le_bytes([b'x', b'x', c, b'x', b'x', b'x', b'x', b'x']);
                let hit = has_byte(y, q);
                assert_eq!(hit != 0, c == q, "{c} {q}");
                if hit != 0 {
                    assert_eq!(first_marked(hit), 2);
                }
            }
        }
    }

    #[test]
    fn names() {
        assert_eq!(metric_name_end(b"a:b_1{", 0), 5);
        assert_eq!(label_name_end(b"a_1:b", 0), 3);
        assert!(is_metric_start(b':'));
        assert!(!is_label_start(b':'));
        assert!(!is_metric_start(b'1'));
    }

    #[test]
    fn quoted_strings() {
        let q = scan_quoted(br#""a\"b" x"#, 0, OM_VALUE).unwrap();
        assert_eq!(q.end, 6);
        assert!(!q.non_ascii);
        assert!(
            scan_quoted("\"é\"".as_bytes(), 0, OM_VALUE)
                .unwrap()
                .non_ascii
        );
        assert_eq!(scan_quoted(b"\"a\nb\"", 0, OM_VALUE).err(), Some(2));
        assert_eq!(scan_quoted(b"\"a\nb\"", 0, TEXT_VALUE).unwrap().end, 5);
        assert_eq!(scan_quoted(b"\"a\0b\"", 0, NAME).err(), Some(2));
        assert_eq!(scan_quoted(b"\"a\0b\"", 0, TEXT_VALUE).unwrap().end, 5);
        assert_eq!(scan_quoted(b"\"abc", 0, TEXT_VALUE).err(), Some(4));
        assert_eq!(scan_quoted(b"\"a\\", 0, TEXT_VALUE).err(), Some(3));
        assert_eq!(scan_quoted(b"\"a\\\nb\"", 0, TEXT_VALUE).err(), Some(3));
    }

    #[test]
    fn describes_tokens() {
        assert_eq!(describe(b"x", 1, Context::Line), (0, "EOF"));
        assert_eq!(describe(b"a\n", 1, Context::Labels), (1, "INVALID"));
        assert_eq!(describe(b"a{", 1, Context::Line), (1, "BOPEN"));
        assert_eq!(describe(b"a b", 2, Context::Line), (1, "INVALID"));
        assert_eq!(describe(b"{ab=", 1, Context::Labels), (2, "LNAME"));
        assert_eq!(describe(b"\"q\" x", 0, Context::Labels), (3, "QSTRING"));
        assert_eq!(describe(b"\"q", 0, Context::Labels), (1, "INVALID"));
        assert_eq!(describe(b",=}", 1, Context::Labels), (1, "EQUAL"));
        assert_eq!(describe("é".as_bytes(), 0, Context::Labels), (1, "INVALID"));
        assert_eq!(describe(b"b}", 0, Context::Value), (1, "INVALID"));
    }
}
