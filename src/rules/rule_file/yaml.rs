//! Reading the YAML of rule and unit-test files the way Prometheus's YAML
//! library does: only the first document of a multi-document file, merge
//! keys (`<<: *anchor`) expanded, and scalars that look like numbers or
//! booleans accepted where a string is expected (`expr: 1`, `values: 0x10`
//! keep their text).

use std::fmt;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_yaml_ng::Value;

use super::Position;

/// The first document of a file, parsed to a tree.
pub(crate) struct FirstDocument<'t> {
    /// `Value::Null` for an empty file.
    pub(crate) value: Value,
    /// Whether merge keys were expanded: the tree then no longer matches
    /// the text, so typed deserialising must start from the tree.
    pub(crate) merged: bool,
    /// Whether another document follows (upstream warns and ignores it).
    pub(crate) more_documents: bool,
    /// The text up to the second document, for finding lines of keys.
    pub(crate) text: &'t str,
}

/// A YAML error as message and position.
#[derive(Debug)]
pub(crate) struct YamlError {
    pub(crate) message: String,
    pub(crate) at: Option<Position>,
}

impl From<serde_yaml_ng::Error> for YamlError {
    fn from(e: serde_yaml_ng::Error) -> Self {
        let full = e.to_string();
        let Some(loc) = e.location() else {
            return YamlError {
                message: full,
                at: None,
            };
        };
        let suffix = format!(" at line {} column {}", loc.line(), loc.column());
        YamlError {
            message: full.strip_suffix(&suffix).unwrap_or(&full).to_string(),
            at: Some(Position {
                line: loc.line(),
                column: Some(loc.column()),
            }),
        }
    }
}

/// Parses the first document of `text` to a tree and expands merge keys.
pub(crate) fn first_document(text: &str) -> Result<FirstDocument<'_>, YamlError> {
    let mut docs = serde_yaml_ng::Deserializer::from_str(text);
    let Some(first) = docs.next() else {
        return Ok(FirstDocument {
            value: Value::Null,
            merged: false,
            more_documents: false,
            text,
        });
    };
    let mut value = Value::deserialize(first)?;
    let more_documents = docs.next().is_some();
    // Comparing before and after tells whether the text still describes
    // the tree; files without merge keys keep exact error positions.
    let before = value.clone();
    value.apply_merge()?;
    let merged = value != before;
    let text = if more_documents {
        first_document_text(text)
    } else {
        text
    };
    Ok(FirstDocument {
        value,
        merged,
        more_documents,
        text,
    })
}

impl FirstDocument<'_> {
    /// Deserialises the document into `T`: from the text when it still
    /// matches the tree (errors then carry their line and column), from the
    /// tree otherwise.
    pub(crate) fn deserialize<T: DeserializeOwned>(
        &self,
        tree_changed: bool,
    ) -> Result<T, YamlError> {
        // The tree is emitted again and read as text: only text gives
        // scalars as written (`expr: 1` into a string), and the positions
        // in its errors are dropped as they would point into the new text.
        let emitted;
        let text = if self.merged || tree_changed {
            emitted = serde_yaml_ng::to_string(&self.value)?;
            emitted.as_str()
        } else {
            self.text
        };
        let relocated = |mut e: YamlError| {
            if text != self.text {
                e.at = None;
            }
            e
        };
        let first = serde_yaml_ng::Deserializer::from_str(text).next();
        let result = match first {
            Some(doc) => T::deserialize(doc).map_err(|e| relocated(e.into())),
            None => serde_yaml_ng::from_value(Value::Null).map_err(YamlError::from),
        };
        result
    }
}

/// The text before the line that starts the second document (`---` after
/// some content), so position lookups parse one document only.
fn first_document_text(text: &str) -> &str {
    let mut seen_content = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        let is_marker = trimmed == "---" || trimmed.starts_with("--- ") || trimmed == "...";
        if is_marker && seen_content {
            return &text[..offset];
        }
        let t = trimmed.trim_start();
        if !is_marker && !t.is_empty() && !t.starts_with('#') && !t.starts_with('%') {
            seen_content = true;
        }
        offset += line.len();
    }
    text
}

/// A scalar read as its text: strings, numbers and booleans alike, and
/// null as the empty string (Go's YAML decoding into a `string` field).
struct ScalarText;

impl Visitor<'_> for ScalarText {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<String, E> {
        Ok(s.to_string())
    }
    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<String, E> {
        Ok(s)
    }
    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<String, E> {
        Ok(b.to_string())
    }
    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<String, E> {
        Ok(n.to_string())
    }
    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<String, E> {
        Ok(n.to_string())
    }
    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<String, E> {
        Ok(n.to_string())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
}

/// `deserialize_with` for a `String` that may be written as any scalar.
pub(crate) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_str(ScalarText)
}

/// `deserialize_with` for an optional name: absent, null and `""` are all
/// "not set", as upstream compares with the empty string.
pub(crate) fn name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Some(d.deserialize_str(ScalarText)?).filter(|s| !s.is_empty()))
}

/// `deserialize_with` for a map of names to scalar texts (labels,
/// annotations); null is the empty map.
pub(crate) fn text_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    struct M;
    impl<'de> Visitor<'de> for M {
        type Value = std::collections::BTreeMap<String, String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a mapping of names to strings")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = std::collections::BTreeMap::new();
            while let Some(k) = map.next_key_seed(Seed)? {
                let v = map.next_value_seed(Seed)?;
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    struct Seed;
    impl<'de> serde::de::DeserializeSeed<'de> for Seed {
        type Value = String;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_str(ScalarText)
        }
    }
    d.deserialize_any(M)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_document_text_stops_at_the_second_document() {
        let text = "# c\n---\ngroups: []\n---\ngroups: [x]\n";
        assert_eq!(first_document_text(text), "# c\n---\ngroups: []\n");
        assert_eq!(first_document_text("a: 1\n"), "a: 1\n");
        assert_eq!(first_document_text("a: 1\n...\n"), "a: 1\n");
    }

    #[test]
    fn scalars_keep_their_text() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "text")]
            a: String,
            #[serde(deserialize_with = "text")]
            b: String,
            #[serde(default, deserialize_with = "name")]
            c: Option<String>,
            #[serde(deserialize_with = "text_map")]
            m: std::collections::BTreeMap<String, String>,
        }
        let t: T = serde_yaml_ng::from_str("a: 0x10\nb: true\nc: ''\nm: {x: 1, y: z}\n").unwrap();
        assert_eq!(t.a, "0x10");
        assert_eq!(t.b, "true");
        assert_eq!(t.c, None);
        assert_eq!(t.m["x"], "1");
        assert_eq!(t.m["y"], "z");
    }

    #[test]
    fn reads_only_the_first_document() {
        let doc = first_document("a: 1\n---\na: 2\n").unwrap();
        assert!(doc.more_documents);
        assert_eq!(doc.value["a"], Value::from(1));
        let doc = first_document("").unwrap();
        assert!(!doc.more_documents);
        assert!(doc.value.is_null());
        let doc = first_document("x: &a {k: 1}\ny:\n  <<: *a\n").unwrap();
        assert!(doc.merged);
        assert_eq!(doc.value["y"]["k"], Value::from(1));
    }
}
