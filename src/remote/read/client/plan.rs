//! What one endpoint is asked for a selector, following Prometheus's
//! remote querier (`storage/remote/read.go`): whether to ask at all
//! (`read_recent`, `required_matchers`), over which range, and with the
//! external labels added as matchers and later removed from the answer.

use std::collections::BTreeMap;

use storage::{MatchOp, Matcher};

use crate::remote::proto::{LabelMatcher, MatcherType, Query, ReadHints};

/// An endpoint's query settings, taken from its config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    pub read_recent: bool,
    pub required_matchers: BTreeMap<String, String>,
    /// `global.external_labels` when `filter_external_labels` is set,
    /// empty otherwise.
    pub external_labels: BTreeMap<String, String>,
}

/// The request for one selector, and the labels to strip from its answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub query: Query,
    /// External labels added as matchers: the endpoint's series carry
    /// them, local ones do not, so they are removed to line the two up.
    pub strip: Vec<String>,
}

impl Policy {
    /// The time range to ask for over a query of `[mint, maxt]`, or `None`
    /// when the endpoint is skipped. Without `read_recent`, only what is
    /// older than the local storage's oldest sample (`local_start`) is
    /// asked for, as with Prometheus's `PreferLocalStorageFilter`.
    pub fn range(&self, mint: i64, maxt: i64, local_start: i64) -> Option<(i64, i64)> {
        if self.read_recent {
            return Some((mint, maxt));
        }
        if mint > local_start {
            return None;
        }
        Some((mint, maxt.min(local_start)))
    }

    /// The query for `matchers` over `[mint, maxt]`, or `None` when a
    /// required matcher is missing from them.
    pub fn plan(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Option<Plan> {
        let satisfied = self.required_matchers.iter().all(|(name, value)| {
            matchers
                .iter()
                .any(|m| m.op == MatchOp::Equal && &m.name == name && &m.value == value)
        });
        if !satisfied {
            return None;
        }
        let mut wire: Vec<LabelMatcher> = matchers.iter().map(to_proto).collect();
        // A selector that already constrains an external label's name
        // keeps its own matcher; the rest are pinned to our value.
        let mut strip = Vec::new();
        for (name, value) in &self.external_labels {
            if matchers.iter().any(|m| &m.name == name) {
                continue;
            }
            wire.push(LabelMatcher {
                r#type: MatcherType::Eq as i32,
                name: name.clone(),
                value: value.clone(),
            });
            strip.push(name.clone());
        }
        Some(Plan {
            query: Query {
                start_timestamp_ms: mint,
                end_timestamp_ms: maxt,
                matchers: wire,
                hints: Some(ReadHints {
                    start_ms: mint,
                    end_ms: maxt,
                    ..Default::default()
                }),
            },
            strip,
        })
    }
}

fn to_proto(m: &Matcher) -> LabelMatcher {
    let t = match m.op {
        MatchOp::Equal => MatcherType::Eq,
        MatchOp::NotEqual => MatcherType::Neq,
        MatchOp::RegexMatch => MatcherType::Re,
        MatchOp::RegexNoMatch => MatcherType::Nre,
    };
    LabelMatcher {
        r#type: t as i32,
        name: m.name.clone(),
        value: m.value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(read_recent: bool, required: &[(&str, &str)], ext: &[(&str, &str)]) -> Policy {
        let map = |p: &[(&str, &str)]| {
            p.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        Policy {
            read_recent,
            required_matchers: map(required),
            external_labels: map(ext),
        }
    }

    fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
        Matcher::new(op, n, v).unwrap()
    }

    #[test]
    fn read_recent_false_asks_only_for_what_local_storage_lacks() {
        let p = policy(false, &[], &[]);
        // Entirely after the oldest local sample: not asked.
        assert_eq!(p.range(1001, 5000, 1000), None);
        // Straddling: cut at the local start.
        assert_eq!(p.range(500, 5000, 1000), Some((500, 1000)));
        assert_eq!(p.range(1000, 5000, 1000), Some((1000, 1000)));
        assert_eq!(p.range(0, 200, 1000), Some((0, 200)));
        // Empty local storage (oldest = i64::MAX): everything is asked.
        assert_eq!(p.range(10, 20, i64::MAX), Some((10, 20)));
        let p = policy(true, &[], &[]);
        assert_eq!(p.range(1001, 5000, 1000), Some((1001, 5000)));
    }

    #[test]
    fn required_matchers_must_all_be_equalities_in_the_selector() {
        let p = policy(true, &[("env", "prod"), ("team", "a")], &[]);
        let both = [
            m(MatchOp::Equal, "__name__", "up"),
            m(MatchOp::Equal, "team", "a"),
            m(MatchOp::Equal, "env", "prod"),
        ];
        let plan = p.plan(0, 10, &both).unwrap();
        assert_eq!(plan.query.matchers.len(), 3);
        assert!(p.plan(0, 10, &both[..2]).is_none());
        let regex = [
            m(MatchOp::Equal, "team", "a"),
            m(MatchOp::RegexMatch, "env", "prod"),
        ];
        assert!(p.plan(0, 10, &regex).is_none());
        let other_value = [
            m(MatchOp::Equal, "team", "a"),
            m(MatchOp::Equal, "env", "dev"),
        ];
        assert!(p.plan(0, 10, &other_value).is_none());
        assert!(policy(true, &[], &[]).plan(0, 10, &regex).is_some());
    }

    #[test]
    fn external_labels_become_matchers_unless_the_selector_names_them() {
        let p = policy(true, &[], &[("region", "eu"), ("replica", "1")]);
        let plan = p
            .plan(
                5,
                9,
                &[
                    m(MatchOp::Equal, "__name__", "up"),
                    m(MatchOp::RegexMatch, "replica", ".*"),
                ],
            )
            .unwrap();
        let wire: Vec<(i32, &str, &str)> = plan
            .query
            .matchers
            .iter()
            .map(|m| (m.r#type, m.name.as_str(), m.value.as_str()))
            .collect();
        assert_eq!(
            wire,
            [
                (MatcherType::Eq as i32, "__name__", "up"),
                (MatcherType::Re as i32, "replica", ".*"),
                (MatcherType::Eq as i32, "region", "eu"),
            ]
        );
        assert_eq!(plan.strip, ["region"]);
        assert_eq!(
            (plan.query.start_timestamp_ms, plan.query.end_timestamp_ms),
            (5, 9)
        );
        let all_ops = [
            m(MatchOp::NotEqual, "a", "1"),
            m(MatchOp::RegexNoMatch, "b", "2"),
        ];
        let plan = policy(true, &[], &[]).plan(0, 1, &all_ops).unwrap();
        assert_eq!(plan.query.matchers[0].r#type, MatcherType::Neq as i32);
        assert_eq!(plan.query.matchers[1].r#type, MatcherType::Nre as i32);
        assert!(plan.strip.is_empty());
    }
}
