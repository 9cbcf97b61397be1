//! Resolving backslash escapes in quoted names, label values and help text.
//!
//! Both formats resolve only a few pairs and keep any other backslash pair
//! as written (`\t` stays two characters), scanning left to right so `\\n`
//! is a backslash followed by `n`.

use std::borrow::Cow;

/// Label values, quoted names and OpenMetrics help text: `\\`, `\"`, `\n`.
pub(super) fn unescape_label(s: &str) -> Cow<'_, str> {
    unescape(s, true)
}

/// Text-format help: only `\\` and `\n`; `\"` stays as written.
pub(super) fn unescape_text_help(s: &str) -> Cow<'_, str> {
    unescape(s, false)
}

fn unescape(s: &str, quote: bool) -> Cow<'_, str> {
    let Some(first) = s.find('\\') else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..first]);
    let mut rest = &s[first..];
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match after.as_bytes().first() {
            Some(b'\\') => out.push('\\'),
            Some(b'n') => out.push('\n'),
            Some(b'"') if quote => out.push('"'),
            _ => {
                out.push('\\');
                rest = after;
                continue;
            }
        }
        rest = &after[1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_are_borrowed() {
        assert!(matches!(unescape_label("plain"), Cow::Borrowed("plain")));
        assert!(matches!(
            unescape_text_help("plain"),
            Cow::Borrowed("plain")
        ));
    }

    #[test]
    fn label_escapes() {
        assert_eq!(unescape_label(r#"a\"b"#), "a\"b");
        assert_eq!(unescape_label(r"a\\b"), "a\\b");
        assert_eq!(unescape_label(r"a\nb"), "a\nb");
        assert_eq!(unescape_label(r"\\n"), "\\n");
        assert_eq!(unescape_label(r"\t\x"), r"\t\x");
        assert_eq!(unescape_label(r"end\"), r"end\");
        assert_eq!(unescape_label(r"é\né"), "é\né");
    }

    #[test]
    fn help_keeps_escaped_quotes() {
        assert_eq!(unescape_text_help(r#"say \"hi\"\n"#), "say \\\"hi\\\"\n");
        assert_eq!(unescape_text_help(r"c:\\dir"), "c:\\dir");
    }
}
