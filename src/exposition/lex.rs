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
pub(super) fn metric_name_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() && CLASS[b[i] as usize] & METRIC_CHAR != 0 {
        i += 1;
    }
    i
}

/// End of the label name starting at `i` (checked with [`is_label_start`]).
#[inline]
pub(super) fn label_name_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() && CLASS[b[i] as usize] & LABEL_CHAR != 0 {
        i += 1;
    }
    i
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
pub(super) fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| i + p)
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
#[inline]
pub(super) fn scan_quoted(b: &[u8], open: usize, rules: QuoteRules) -> Result<Quoted, usize> {
    let mut i = open + 1;
    let mut non_ascii = false;
    loop {
        while i < b.len() && CLASS[b[i] as usize] & QUOTED_STOP == 0 {
            i += 1;
        }
        let Some(&c) = b.get(i) else {
            return Err(i);
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
            _ => {
                non_ascii = true;
                i += 1;
            }
        }
    }
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
