//! Finding the line of a key in the YAML text, for errors found after
//! deserialising (duplicate job names, timeouts, relabel rules...).
//!
//! The text is walked again with the real YAML parser, skipping everything
//! off the path, and made to fail at the node the path names: the YAML
//! deserialiser stamps that failure with the node's position. This follows
//! anchors, flow style and odd indentation exactly as the first parse did,
//! which searching the text for the key could not.

use std::fmt;

use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

/// One step of a path into the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path such as `scrape_configs[1].relabel_configs[0].regex`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(pub(crate) Vec<Seg>);

impl KeyPath {
    pub(crate) fn key(&self, k: &str) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    pub(crate) fn index(&self, i: usize) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The 1-based line of the node at `path`, or of the deepest node on the
/// way there when the rest of the path is absent (a key left to its
/// default is reported at its parent).
pub(crate) fn line_of(text: &str, path: &KeyPath) -> Option<usize> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    match (Probe { path: &path.0 }).deserialize(de) {
        Ok(()) => None,
        Err(e) => e.location().map(|l| l.line()),
    }
}

struct Probe<'p> {
    path: &'p [Seg],
}

/// Rejects whatever node it is given, so the error carries its position.
struct Here;

impl<'de> Visitor<'de> for Here {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the probed node")
    }
}

/// Reads a mapping key, failing (so the error carries the key's position)
/// when it is the one sought.
struct KeyProbe<'p>(&'p str);

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyProbe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<(), E> {
        if s == self.0 {
            Err(E::custom("found"))
        } else {
            Ok(())
        }
    }

    // Non-string keys (numbers, booleans...) are never the one sought.
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.path.first() {
            None => d.deserialize_any(Here),
            Some(Seg::Key(_)) => d.deserialize_map(self),
            Some(Seg::Index(_)) => d.deserialize_seq(self),
        }
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping or sequence on the probed path")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some(Seg::Key(want)) = self.path.first() else {
            return Err(A::Error::custom("path mismatch"));
        };
        if self.path.len() == 1 {
            // The last key: report the key's own line, which for a block
            // mapping or list value is above the value's first line.
            while map.next_key_seed(KeyProbe(want))?.is_some() {
                map.next_value::<IgnoredAny>()?;
            }
            return Err(A::Error::custom("key not found"));
        }
        while let Some(key) = map.next_key::<serde_yaml_ng::Value>()? {
            if key.as_str() == Some(want.as_str()) {
                return map.next_value_seed(Probe {
                    path: &self.path[1..],
                });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(A::Error::custom("key not found"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some(Seg::Index(want)) = self.path.first() else {
            return Err(A::Error::custom("path mismatch"));
        };
        for _ in 0..*want {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(A::Error::custom("index out of range"));
            }
        }
        match seq.next_element_seed(Probe {
            path: &self.path[1..],
        })? {
            Some(()) => Ok(()),
            None => Err(A::Error::custom("index out of range")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segs: &[&str]) -> KeyPath {
        KeyPath(
            segs.iter()
                .map(|s| match s.parse() {
                    Ok(n) => Seg::Index(n),
                    Err(_) => Seg::Key(s.to_string()),
                })
                .collect(),
        )
    }

    const TEXT: &str = "\
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: a
    static_configs:
      - targets: [x]
  # a comment
  - job_name: b
    relabel_configs:
      - source_labels: [a]
        regex: '('
  - {job_name: c, scrape_timeout: 5s}
";

    #[test]
    fn finds_lines_of_nodes() {
        for (p, line) in [
            (&["global"][..], 1),
            (&["global", "scrape_interval"], 2),
            (&["scrape_configs"], 3),
            (&["scrape_configs", "0"], 4),
            (&["scrape_configs", "1", "job_name"], 8),
            (
                &["scrape_configs", "1", "relabel_configs", "0", "regex"],
                11,
            ),
            (&["scrape_configs", "2", "scrape_timeout"], 12),
            // Absent keys fall back to the enclosing node.
            (&["scrape_configs", "1", "scrape_timeout"], 8),
            (&["scrape_configs", "0", "static_configs", "0", "labels"], 6),
        ] {
            assert_eq!(line_of(TEXT, &path(p)), Some(line), "{p:?}");
        }
        assert_eq!(
            path(&["scrape_configs", "1", "relabel_configs", "0", "regex"]).to_string(),
            "scrape_configs[1].relabel_configs[0].regex"
        );
    }

    #[test]
    fn follows_aliases() {
        let text = "x: &a\n  k: 1\ny: *a\n";
        assert_eq!(line_of(text, &path(&["x", "k"])), Some(2));
        assert!(line_of(text, &path(&["y", "k"])).is_some());
    }
}
