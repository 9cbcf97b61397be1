//! Label sets and label matchers: the data model every other module speaks.

use std::cmp::Ordering;
use std::fmt;

use regex::Regex;

use crate::error::{Error, Result};

/// The label holding the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One `name="value"` pair.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A series identity: label pairs sorted by name, names unique, no empty values.
///
/// Ordering compares pair by pair (name, then value), the order Prometheus
/// returns series in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Builds a label set from pairs in any order. Empty values are dropped, as
    /// Prometheus treats `l=""` as "no label l".
    pub fn new(mut pairs: Vec<Label>) -> Self {
        pairs.retain(|l| !l.value.is_empty());
        pairs.sort_by(|a, b| a.name.cmp(&b.name));
        pairs.dedup_by(|b, a| a.name == b.name);
        Labels(pairs)
    }

    /// Builds from `(name, value)` string pairs; handy in tests.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        Labels::new(pairs.into_iter().map(|(n, v)| Label::new(n, v)).collect())
    }

    /// Wraps pairs that are already sorted and unique (checked in debug builds).
    pub fn from_sorted(pairs: Vec<Label>) -> Self {
        debug_assert!(pairs.windows(2).all(|w| w[0].name < w[1].name));
        Labels(pairs)
    }

    /// The value of `name`, or `""` when absent (Prometheus semantics).
    pub fn get(&self, name: &str) -> &str {
        match self.0.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) => &self.0[i].value,
            Err(_) => "",
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// Rejects label sets the storage must never hold: empty, or with an
    /// empty or duplicated name.
    pub fn validate(&self) -> Result<()> {
        if self.0.is_empty() {
            return Err(Error::InvalidLabels("empty label set".into()));
        }
        for w in self.0.windows(2) {
            if w[0].name >= w[1].name {
                return Err(Error::InvalidLabels(format!(
                    "label names not sorted and unique at {:?}",
                    w[1].name
                )));
            }
        }
        if self.0.iter().any(|l| l.name.is_empty()) {
            return Err(Error::InvalidLabels("empty label name".into()));
        }
        Ok(())
    }

    /// A 64-bit hash of the label set, stable across processes (FNV-1a over
    /// names and values with separators), used to shard and look up series.
    pub fn stable_hash(&self) -> u64 {
        stable_hash_pairs(self.0.iter().map(|l| (l.name.as_str(), l.value.as_str())))
    }
}

/// [`Labels::stable_hash`] of a label set given as `(name, value)` pairs in
/// `Labels` order, so that a series can be found without building `Labels`.
pub(crate) fn stable_hash_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, value) in pairs {
        for &b in name.as_bytes() {
            h = (h ^ b as u64).wrapping_mul(PRIME);
        }
        h = (h ^ 0xff).wrapping_mul(PRIME);
        for &b in value.as_bytes() {
            h = (h ^ b as u64).wrapping_mul(PRIME);
        }
        h = (h ^ 0xfe).wrapping_mul(PRIME);
    }
    h
}

/// [`Labels::validate`] for `(name, value)` pairs, with the same errors.
pub(crate) fn validate_pairs(pairs: &[(&str, &str)]) -> Result<()> {
    if pairs.is_empty() {
        return Err(Error::InvalidLabels("empty label set".into()));
    }
    for w in pairs.windows(2) {
        if w[0].0 >= w[1].0 {
            return Err(Error::InvalidLabels(format!(
                "label names not sorted and unique at {:?}",
                w[1].0
            )));
        }
    }
    if pairs.iter().any(|l| l.0.is_empty()) {
        return Err(Error::InvalidLabels("empty label name".into()));
    }
    Ok(())
}

impl Ord for Labels {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            match a.name.cmp(&b.name).then_with(|| a.value.cmp(&b.value)) {
                Ordering::Equal => continue,
                o => return o,
            }
        }
        self.0.len().cmp(&other.0.len())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

/// The four PromQL matcher operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    RegexMatch,
    RegexNoMatch,
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        })
    }
}

/// A label matcher with Prometheus semantics: regexes are fully anchored, use
/// RE2 syntax, and `.` matches newlines (Prometheus 3.x). A missing label has
/// the value `""`, so a matcher that matches `""` also selects series that lack
/// the label.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    re: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Matcher {
    /// Builds a matcher; fails only on a regex that does not compile.
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let value = value.into();
        let re = match op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => Some(
                Regex::new(&format!("^(?s:{value})$"))
                    .map_err(|e| Error::InvalidMatcher(format!("{name}{op}{value:?}: {e}")))?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name,
            op,
            value,
            re,
        })
    }

    /// Shorthand for an equality matcher, which cannot fail.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            name: name.into(),
            op: MatchOp::Equal,
            value: value.into(),
            re: None,
        }
    }

    /// Whether a label value (`""` for an absent label) satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => v == self.value,
            MatchOp::NotEqual => v != self.value,
            MatchOp::RegexMatch => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::RegexNoMatch => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// Whether the matcher selects every series regardless of label values
    /// other than `""`, i.e. it matches the empty string.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// Whether a whole label set satisfies the matcher.
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name))
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_of_pairs_is_the_label_hash() {
        // The definition the hash had before it took pairs: a changed hash
        // would move series to other shards and change `limit_ratio` picks.
        fn reference(l: &Labels) -> u64 {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for l in l.iter() {
                let bytes = l.name.bytes().chain([0xff]).chain(l.value.bytes());
                for b in bytes.chain([0xfe]) {
                    h ^= b as u64;
                    h = h.wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
            h
        }
        let l = Labels::from_pairs([("__name__", "up"), ("job", "nöde"), ("a", "")]);
        let pairs = [("__name__", "up"), ("job", "nöde")];
        assert_eq!(l.stable_hash(), reference(&l));
        assert_eq!(stable_hash_pairs(pairs), l.stable_hash());
        assert_ne!(stable_hash_pairs([("__name__", "upjob")]), l.stable_hash());
    }

    #[test]
    fn pair_validation_matches_labels() {
        let cases: [&[(&str, &str)]; 5] = [
            &[],
            &[("b", "1"), ("a", "1")],
            &[("a", "1"), ("a", "2")],
            &[("", "1"), ("a", "1")],
            &[("__name__", "x"), ("a", "1")],
        ];
        for c in cases {
            let l = Labels(c.iter().map(|&(n, v)| Label::new(n, v)).collect());
            assert_eq!(
                validate_pairs(c).map_err(|e| e.to_string()),
                l.validate().map_err(|e| e.to_string()),
                "{c:?}"
            );
        }
    }

    #[test]
    fn labels_sorted_deduped_and_empty_values_dropped() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("a", "x")]);
        assert_eq!(l.len(), 2);
        assert_eq!(l.get("a"), "1");
        assert_eq!(l.get("c"), "");
        assert!(l.validate().is_ok());
    }

    #[test]
    fn labels_order_is_pairwise() {
        let a = Labels::from_pairs([("a", "1")]);
        let b = Labels::from_pairs([("a", "1"), ("b", "1")]);
        let c = Labels::from_pairs([("a", "2")]);
        assert!(a < b && b < c);
    }

    #[test]
    fn regex_is_anchored_and_dot_matches_newline() {
        let m = Matcher::new(MatchOp::RegexMatch, "a", "fo.").unwrap();
        assert!(m.matches("foo"));
        assert!(m.matches("fo\n"));
        assert!(!m.matches("xfoo"));
        assert!(!m.matches("fooo"));
        let alt = Matcher::new(MatchOp::RegexMatch, "a", "a|b").unwrap();
        assert!(alt.matches("a") && !alt.matches("ab"));
    }

    #[test]
    fn empty_matching() {
        assert!(Matcher::equal("a", "").matches_empty());
        assert!(Matcher::new(MatchOp::RegexMatch, "a", ".*")
            .unwrap()
            .matches_empty());
        assert!(!Matcher::new(MatchOp::RegexMatch, "a", ".+")
            .unwrap()
            .matches_empty());
        assert!(Matcher::new(MatchOp::NotEqual, "a", "x")
            .unwrap()
            .matches_empty());
        assert!(!Matcher::new(MatchOp::RegexNoMatch, "a", "")
            .unwrap()
            .matches_empty());
    }

    #[test]
    fn bad_regex_is_an_error() {
        let e = Matcher::new(MatchOp::RegexMatch, "a", "(").unwrap_err();
        assert!(e.to_string().contains("invalid matcher"));
    }
}
