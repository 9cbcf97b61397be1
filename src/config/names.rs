//! Which label names are valid: Prometheus 3 accepts any non-empty UTF-8
//! name by default and the classic `[a-zA-Z_][a-zA-Z0-9_]*` under the
//! `legacy` scheme (`metric_name_validation_scheme`, global or per job).

use serde::{Deserialize, Deserializer};

/// `metric_name_validation_scheme:`; also governs label names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NameValidationScheme {
    /// Any non-empty UTF-8 name (Prometheus 3's default).
    #[default]
    Utf8,
    /// `[a-zA-Z_][a-zA-Z0-9_]*` only.
    Legacy,
}

impl NameValidationScheme {
    /// Whether `name` may be used as a label name under this scheme.
    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            NameValidationScheme::Utf8 => !name.is_empty(),
            NameValidationScheme::Legacy => is_legacy_name(name),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NameValidationScheme::Utf8 => "utf8",
            NameValidationScheme::Legacy => "legacy",
        }
    }
}

impl<'de> Deserialize<'de> for NameValidationScheme {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Checked inside the visitor so errors carry the key's own line.
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = NameValidationScheme;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("'utf8' or 'legacy'")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                match s {
                    // Prometheus treats an empty value as "unset".
                    "utf8" | "" => Ok(NameValidationScheme::Utf8),
                    "legacy" => Ok(NameValidationScheme::Legacy),
                    other => Err(E::custom(format!(
                        "unknown name validation method specified, must be either '', 'legacy' or 'utf8', got {other:?}"
                    ))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_legacy_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_utf8_names() {
        for good in ["a", "_", "__name__", "job_1", "A9"] {
            assert!(
                NameValidationScheme::Legacy.is_valid_label_name(good),
                "{good}"
            );
        }
        for bad in ["", "1a", "a-b", "a.b", "é", "a b"] {
            assert!(
                !NameValidationScheme::Legacy.is_valid_label_name(bad),
                "{bad}"
            );
        }
        for good in ["a.b", "é", "a b", "1a"] {
            assert!(
                NameValidationScheme::Utf8.is_valid_label_name(good),
                "{good}"
            );
        }
        assert!(!NameValidationScheme::Utf8.is_valid_label_name(""));
    }

    #[test]
    fn parses_scheme_names() {
        let s: NameValidationScheme = serde_yaml_ng::from_str("legacy").unwrap();
        assert_eq!(s, NameValidationScheme::Legacy);
        let s: NameValidationScheme = serde_yaml_ng::from_str("utf8").unwrap();
        assert_eq!(s, NameValidationScheme::Utf8);
        let e = serde_yaml_ng::from_str::<NameValidationScheme>("UTF-8").unwrap_err();
        assert!(
            e.to_string().contains("unknown name validation method"),
            "{e}"
        );
    }
}
