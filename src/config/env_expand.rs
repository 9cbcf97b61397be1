//! Environment variables in `global.external_labels` values, as Prometheus
//! 3.x expands them on every load (2.x needed
//! `--enable-feature=expand-external-labels`). Replicas of an HA pair share
//! one `prometheus.yml` and still get labels of their own, such as
//! `replica: $(POD_NAME)` on Kubernetes, where the variable comes from the
//! downward API.
//!
//! The syntax is that of Go's `os.Expand`, which Prometheus calls:
//! `$NAME` (letters, digits and `_`), `${NAME}` (anything up to the first
//! `}`), and the one-character shell specials `$0`…`$9`, `$*`, `$#`, `$@`,
//! `$!`, `$?`, `$-` and `$$`, where `$$` stands for a literal `$`. A `$`
//! followed by none of these, or ending the text, stays as it is; a `${`
//! without a closing brace and an empty `${}` are dropped. A variable that
//! is unset or empty expands to nothing and is reported, as Prometheus logs
//! "Empty environment variable".

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ffi::OsString;

/// Expands every `$` reference in each value of `labels` with `env`
/// (`std::env::var_os` in the server). Each reference to an unset or
/// empty variable adds a line to `warnings`. Values that are not valid
/// UTF-8 are taken lossily: label values are UTF-8.
pub(super) fn expand_external_labels(
    labels: &mut BTreeMap<String, String>,
    env: impl Fn(&str) -> Option<OsString>,
    warnings: &mut Vec<String>,
) {
    for (name, value) in labels.iter_mut() {
        let expanded = expand(value, |var| {
            if var == "$" {
                return "$".to_string();
            }
            match env(var) {
                Some(v) if !v.is_empty() => v.to_string_lossy().into_owned(),
                _ => {
                    warnings.push(format!(
                        "global.external_labels.{name}: environment variable {var:?} is empty or unset, expanded to \"\""
                    ));
                    String::new()
                }
            }
        });
        if let Cow::Owned(v) = expanded {
            *value = v;
        }
    }
}

/// `text` with each reference replaced by `value_of(name)` (see the module
/// docs for the syntax); borrowed when `text` holds no `$` that is
/// followed by anything.
fn expand(text: &str, mut value_of: impl FnMut(&str) -> String) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    // Start of the text not yet copied to `out`.
    let mut copied = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let (reference, len) = reference_at(&text[i + 1..]);
        if reference == Reference::Literal {
            // Left in the part still to be copied.
            i += 1;
            continue;
        }
        out.push_str(&text[copied..i]);
        if let Reference::Name(name) = reference {
            out.push_str(&value_of(name));
        }
        // Every byte consumed is ASCII ('{', '}', a name byte) or ends at
        // a '}', so `i` stays on a char boundary.
        i += 1 + len;
        copied = i;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// What follows a `$`.
#[derive(Debug, PartialEq)]
enum Reference<'a> {
    /// A variable (or special) name to look up.
    Name(&'a str),
    /// Not a reference: the `$` is kept.
    Literal,
    /// Broken braces (`${}`, `${` without `}`): `$` and the braces go.
    Dropped,
}

/// The reference at the start of `rest` (the text after a `$`, not empty)
/// and how many bytes of `rest` it takes.
fn reference_at(rest: &str) -> (Reference<'_>, usize) {
    let b = rest.as_bytes();
    if b[0] == b'{' {
        if b.len() > 2 && is_special(b[1]) && b[2] == b'}' {
            return (Reference::Name(&rest[1..2]), 3);
        }
        return match rest.find('}') {
            Some(1) => (Reference::Dropped, 2),
            Some(end) => (Reference::Name(&rest[1..end]), end + 1),
            // Only the "${" goes; what follows is read again as text.
            None => (Reference::Dropped, 1),
        };
    }
    if is_special(b[0]) {
        return (Reference::Name(&rest[..1]), 1);
    }
    let len = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    if len == 0 {
        (Reference::Literal, 0)
    } else {
        (Reference::Name(&rest[..len]), len)
    }
}

/// The one-character names of shell specials Go's `os.Expand` accepts.
fn is_special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment of `pairs`.
    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: BTreeMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn expand_one(value: &str, env: &[(&str, &str)]) -> (String, Vec<String>) {
        let mut labels = BTreeMap::from([("l".to_string(), value.to_string())]);
        let mut warnings = Vec::new();
        expand_external_labels(&mut labels, env_of(env), &mut warnings);
        (labels.remove("l").unwrap(), warnings)
    }

    #[test]
    fn references_expand_as_go_os_expand_does() {
        let env = [
            ("POD_NAME", "ferroprom-1"),
            ("A", "x"),
            ("A_1", "y"),
            ("1", "one"),
            ("a b", "spaced"),
            ("é", "accent"),
            ("-", "dash"),
        ];
        for (input, want) in [
            ("$POD_NAME", "ferroprom-1"),
            ("${POD_NAME}", "ferroprom-1"),
            ("replica-$POD_NAME-end", "replica-ferroprom-1-end"),
            ("${A}_1", "x_1"),
            ("$A_1", "y"),
            ("$A.$A", "x.x"),
            ("$A$A", "xx"),
            // `$$` is a literal dollar, in both spellings.
            ("$$", "$"),
            ("$$A", "$A"),
            ("cost: $$5", "cost: $5"),
            ("${$}", "$"),
            // Digits and specials are one-character names.
            ("$1", "one"),
            ("$12", "one2"),
            ("${1}", "one"),
            ("$-x", "dashx"),
            // Braces take anything up to the first `}`.
            ("${a b}", "spaced"),
            ("${é}", "accent"),
            ("${A}}", "x}"),
            // Not a reference: the `$` stays.
            ("$", "$"),
            ("a$", "a$"),
            ("$ A", "$ A"),
            ("$.", "$."),
            ("$é", "$é"),
            ("100%$", "100%$"),
            // Broken braces are dropped, the rest read again.
            ("${}", ""),
            ("a${}b", "ab"),
            ("${A", "A"),
            ("${", ""),
            ("no dollar", "no dollar"),
            ("", ""),
        ] {
            assert_eq!(expand_one(input, &env).0, want, "{input:?}");
        }
    }

    #[test]
    fn unset_and_empty_variables_expand_to_nothing_with_a_warning() {
        let (v, w) = expand_one("r-$MISSING-${EMPTY}", &[("EMPTY", "")]);
        assert_eq!(v, "r--");
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("global.external_labels.l:"), "{w:?}");
        assert!(w[0].contains("\"MISSING\""), "{w:?}");
        assert!(w[1].contains("\"EMPTY\""), "{w:?}");
        // Specials are looked up like names; `$$` never warns.
        let (v, w) = expand_one("$?$$", &[]);
        assert_eq!((v.as_str(), w.len()), ("$", 1));
    }

    #[test]
    fn text_without_references_is_borrowed() {
        for text in ["plain", "a$", "$", "x $ y"] {
            assert!(
                matches!(expand(text, |_| unreachable!()), Cow::Borrowed(_)),
                "{text:?}"
            );
        }
        assert!(matches!(expand("$A", |_| String::new()), Cow::Owned(_)));
    }

    #[test]
    fn values_are_not_expanded_twice_and_names_are_left_alone() {
        let mut labels = BTreeMap::from([
            ("$A".to_string(), "$B".to_string()),
            ("other".to_string(), "${A}".to_string()),
        ]);
        let mut warnings = Vec::new();
        expand_external_labels(
            &mut labels,
            env_of(&[("A", "$B"), ("B", "b")]),
            &mut warnings,
        );
        assert_eq!(labels["$A"], "b");
        // A value that itself holds `$` is not read again.
        assert_eq!(labels["other"], "$B");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn hostile_text_never_panics() {
        let env = env_of(&[("A", "é")]);
        let mut seeds = vec![String::new()];
        for c in ["$", "{", "}", "A", "é", "1", " "] {
            let next: Vec<String> = seeds.iter().map(|s| format!("{s}{c}")).collect();
            seeds.extend(next);
        }
        for s in seeds.iter().chain([&"$".repeat(1000), &"${".repeat(500)]) {
            let mut labels = BTreeMap::from([("l".to_string(), s.clone())]);
            expand_external_labels(&mut labels, &env, &mut Vec::new());
            assert!(labels["l"].len() <= s.len() * 2 + 2, "{s:?}");
        }
    }
}
