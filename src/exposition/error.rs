//! The parse error, and quoting payload bytes for its message.

use std::fmt::Write;

/// A payload the parser rejects: the 1-based line where the problem is, and
/// a message in Prometheus's words (e.g. `expected equal, got "x"
/// ("INVALID") while parsing: "up{a x"`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

/// Longest stretch of payload quoted in a message; a runaway label value
/// must not turn one error into megabytes of log.
const QUOTE_LIMIT: usize = 256;

/// `bytes` in double quotes with escapes, like Go's `%q`: valid UTF-8 shown
/// as is, control characters and invalid bytes escaped.
pub(super) fn quote(bytes: &[u8]) -> String {
    let (shown, cut) = if bytes.len() > QUOTE_LIMIT {
        (&bytes[..QUOTE_LIMIT], true)
    } else {
        (bytes, false)
    };
    let mut s = String::with_capacity(shown.len() + 2);
    s.push('"');
    for chunk in shown.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                '\t' => s.push_str("\\t"),
                '\r' => s.push_str("\\r"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    let _ = write!(s, "\\x{:02x}", c as u32);
                }
                c if c.is_control() => {
                    let _ = write!(s, "\\u{:04x}", c as u32);
                }
                c => s.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s.push('"');
    if cut {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote(b"up"), r#""up""#);
        assert_eq!(quote(b"a\"b\\c\nd\te"), r#""a\"b\\c\nd\te""#);
        assert_eq!(quote(b"\x00\x7f"), r#""\x00\x7f""#);
        assert_eq!(quote("héllo".as_bytes()), "\"héllo\"");
        assert_eq!(quote(b"a\xffb"), r#""a\xffb""#);
    }

    #[test]
    fn long_input_is_cut() {
        let long = vec![b'x'; 1000];
        let q = quote(&long);
        assert!(q.len() < 300);
        assert!(q.ends_with("\"..."));
    }

    #[test]
    fn display_has_the_line() {
        let e = ParseError {
            line: 12,
            msg: "expected equal".into(),
        };
        assert_eq!(e.to_string(), "line 12: expected equal");
    }
}
