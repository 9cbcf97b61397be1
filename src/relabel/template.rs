//! `$1` / `${name}` templates in `replacement` and `target_label`, expanded
//! with Go's `regexp.Expand` rules so results match Prometheus byte for
//! byte: a reference is the longest run of letters, digits and `_` (so `$1x`
//! names group "1x", not group 1 then "x"), `$$` is a literal `$`, a
//! malformed reference is kept as text, and unknown or unmatched groups
//! expand to nothing.

use regex::{CaptureLocations, Regex};

/// Appends `template`, with references replaced by groups of `src` captured
/// in `locs`, to `out`.
pub(crate) fn expand(
    template: &str,
    src: &str,
    regex: &Regex,
    locs: &CaptureLocations,
    out: &mut String,
) {
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = reference(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let group = match group_number(name) {
            Some(n) => Some(n),
            None => regex.capture_names().position(|n| n == Some(name)),
        };
        if let Some((start, end)) = group.and_then(|g| locs.get(g)) {
            out.push_str(&src[start..end]);
        }
    }
    out.push_str(rest);
}

/// Splits `name` or `{name}` off the text after a `$`.
fn reference(s: &str) -> Option<(&str, &str)> {
    let (body, braced) = match s.strip_prefix('{') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let len: usize = body
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let after = &body[len..];
    if braced {
        let after = after.strip_prefix('}')?;
        return Some((name, after));
    }
    Some((name, after))
}

/// A group number as Go reads it: ASCII digits without a leading zero, below
/// 10^8; anything else is a group name.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || name.len() > 8 {
        return None;
    }
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(re: &str, src: &str, template: &str) -> String {
        let regex = Regex::new(re).unwrap();
        let mut locs = regex.capture_locations();
        regex.captures_read(&mut locs, src).unwrap();
        let mut out = String::new();
        expand(template, src, &regex, &locs, &mut out);
        out
    }

    #[test]
    fn go_expand_semantics() {
        let re = r"^(?s:(\w+)-(?P<second>\w+)(x)?)$";
        for (template, want) in [
            ("$1", "foo"),
            ("${1}", "foo"),
            ("$2", "bar"),
            ("${1}_${2}", "foo_bar"),
            ("$1_$2", "bar"), // "1_" is a name with no group
            ("$1x", ""),      // group "1x" does not exist
            ("${1}x", "foox"),
            ("$second", "bar"),
            ("${second}!", "bar!"),
            ("$3", ""), // unmatched optional group
            ("$9", ""), // out of range
            ("$$1", "$1"),
            ("a$", "a$"),
            ("$-", "$-"),
            ("${1", "${1"),
            ("${}", "${}"),
            ("$01", ""), // leading zero: a name, not group 1
            ("$0", "foo-bar"),
            ("plain", "plain"),
        ] {
            assert_eq!(run(re, "foo-bar", template), want, "{template}");
        }
    }
}
