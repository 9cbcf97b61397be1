//! `relabel_configs:` / `metric_relabel_configs:` rules as written in the
//! file. Applying them to a label set is `crate::relabel`.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// What a rule does; names as in Prometheus's YAML, matched without regard
/// to case (`Keep` and `keep` are the same action, as in Prometheus).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RelabelAction {
    #[default]
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

const ACTIONS: [RelabelAction; 11] = [
    RelabelAction::Replace,
    RelabelAction::Keep,
    RelabelAction::Drop,
    RelabelAction::KeepEqual,
    RelabelAction::DropEqual,
    RelabelAction::HashMod,
    RelabelAction::LabelMap,
    RelabelAction::LabelDrop,
    RelabelAction::LabelKeep,
    RelabelAction::Lowercase,
    RelabelAction::Uppercase,
];

impl RelabelAction {
    /// The action's name as written in YAML (lowercase).
    pub fn as_str(self) -> &'static str {
        match self {
            RelabelAction::Replace => "replace",
            RelabelAction::Keep => "keep",
            RelabelAction::Drop => "drop",
            RelabelAction::KeepEqual => "keepequal",
            RelabelAction::DropEqual => "dropequal",
            RelabelAction::HashMod => "hashmod",
            RelabelAction::LabelMap => "labelmap",
            RelabelAction::LabelDrop => "labeldrop",
            RelabelAction::LabelKeep => "labelkeep",
            RelabelAction::Lowercase => "lowercase",
            RelabelAction::Uppercase => "uppercase",
        }
    }
}

impl fmt::Display for RelabelAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RelabelAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Checked inside the visitor so errors carry the key's own line.
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RelabelAction;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a relabel action")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RelabelAction, E> {
                ACTIONS
                    .into_iter()
                    .find(|a| a.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| E::custom(format!("unknown relabel action {s:?}")))
            }
        }
        d.deserialize_str(V)
    }
}

/// One rule. Defaults as Prometheus: separator `;`, regex `(.*)`,
/// replacement `$1`, action `replace`. `regex` is the unanchored source;
/// [`crate::relabel`] validates the rule and anchors the regex as
/// `^(?s:...)$`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    #[serde(default)]
    pub source_labels: Vec<String>,
    #[serde(default = "semicolon")]
    pub separator: String,
    #[serde(default = "match_all")]
    pub regex: String,
    #[serde(default)]
    pub modulus: u64,
    #[serde(default)]
    pub target_label: Option<String>,
    #[serde(default = "dollar_one")]
    pub replacement: String,
    #[serde(default)]
    pub action: RelabelAction,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: semicolon(),
            regex: match_all(),
            modulus: 0,
            target_label: None,
            replacement: dollar_one(),
            action: RelabelAction::Replace,
        }
    }
}

/// The default `separator`.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The default `regex`.
pub const DEFAULT_REGEX: &str = "(.*)";
/// The default `replacement`.
pub const DEFAULT_REPLACEMENT: &str = "$1";

fn semicolon() -> String {
    DEFAULT_SEPARATOR.to_string()
}

fn match_all() -> String {
    DEFAULT_REGEX.to_string()
}

fn dollar_one() -> String {
    DEFAULT_REPLACEMENT.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_case_insensitively() {
        for a in ACTIONS {
            let upper: RelabelAction = serde_yaml_ng::from_str(&a.as_str().to_uppercase()).unwrap();
            assert_eq!(upper, a);
        }
        let r: RelabelConfig = serde_yaml_ng::from_str("action: LabelMap").unwrap();
        assert_eq!(r.action, RelabelAction::LabelMap);
        let e = serde_yaml_ng::from_str::<RelabelConfig>("action: rename").unwrap_err();
        assert!(
            e.to_string().contains("unknown relabel action \"rename\""),
            "{e}"
        );
    }

    #[test]
    fn defaults_match_prometheus() {
        let r: RelabelConfig = serde_yaml_ng::from_str("target_label: x").unwrap();
        assert_eq!(
            r,
            RelabelConfig {
                target_label: Some("x".into()),
                ..RelabelConfig::default()
            }
        );
    }
}
