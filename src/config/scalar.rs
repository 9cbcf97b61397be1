//! String keys that take any YAML scalar, as Go's YAML decoder fills a
//! string field: to Prometheus `username: 123` is the string `"123"`,
//! where serde would refuse a number for a `String`. Used for credentials
//! (user names, passwords, tokens), which are often all digits. A number
//! is written back in its shortest form (`1.50` becomes `"1.5"`, where Go
//! keeps the text as written).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// A scalar as a string; null (`key:` with no value) is the empty string.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_string(d)?.unwrap_or_default())
}

/// A scalar as a string; null is `None`.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(ScalarVisitor)
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Keys {
        #[serde(default, deserialize_with = "super::string")]
        s: String,
        #[serde(default, deserialize_with = "super::opt_string")]
        o: Option<String>,
    }

    fn parse(text: &str) -> Result<(String, Option<String>), String> {
        serde_yaml_ng::from_str::<Keys>(text)
            .map(|k| (k.s, k.o))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn any_scalar_becomes_a_string() {
        assert_eq!(
            parse("s: 123\no: 1234").unwrap(),
            ("123".into(), Some("1234".into()))
        );
        assert_eq!(
            parse("s: -7\no: 2.5").unwrap(),
            ("-7".into(), Some("2.5".into()))
        );
        assert_eq!(
            parse("s: true\no: 'x y'").unwrap(),
            ("true".into(), Some("x y".into()))
        );
        assert_eq!(parse("s:\no:").unwrap(), (String::new(), None));
        assert_eq!(parse("{}").unwrap(), (String::new(), None));
    }

    #[test]
    fn collections_are_refused() {
        for text in ["s: [a]", "o: {a: b}"] {
            let e = parse(text).unwrap_err();
            assert!(e.contains("expected a string"), "{text}: {e}");
        }
    }
}
