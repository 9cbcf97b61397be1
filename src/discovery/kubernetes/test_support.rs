//! Helpers for the role tests: objects are written as the API server's JSON,
//! expected groups as literal label lists.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use super::objects::Namespace;
use crate::discovery::TargetGroup;

/// Decodes an API object from its JSON form; panics on a malformed fixture.
pub(crate) fn object<T: DeserializeOwned>(json: serde_json::Value) -> T {
    serde_json::from_value(json).expect("fixture object decodes")
}

/// A label set from `(name, value)` pairs.
pub(crate) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The group `source` with the given targets and group labels.
pub(crate) fn group(
    source: &str,
    targets: &[&[(&str, &str)]],
    group_labels: &[(&str, &str)],
) -> TargetGroup {
    TargetGroup {
        source: source.to_string(),
        targets: targets.iter().map(|t| labels(t)).collect(),
        labels: labels(group_labels),
    }
}

/// Namespace `test-ns` with the given labels and annotations.
pub(crate) fn namespace(labels: serde_json::Value, annotations: serde_json::Value) -> Namespace {
    object(serde_json::json!({
        "metadata": {"name": "test-ns", "labels": labels, "annotations": annotations},
    }))
}

/// `g` with `extra` added to its group labels.
pub(crate) fn with_labels(mut g: TargetGroup, extra: &[(&str, &str)]) -> TargetGroup {
    g.labels
        .extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    g
}
