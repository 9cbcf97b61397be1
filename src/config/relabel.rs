//! `relabel_configs:` / `metric_relabel_configs:` rules as written in the
//! file. Applying them to a label set is `crate::relabel`.

use serde::Deserialize;

/// What a rule does; names as in Prometheus's YAML.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
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

/// One rule. Defaults as Prometheus: separator `;`, regex `(.*)`,
/// replacement `$1`, action `replace`. `regex` is the unanchored source; the
/// loader validates it and [`crate::relabel`] anchors it as `^(?s:...)$`.
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

fn semicolon() -> String {
    ";".to_string()
}

fn match_all() -> String {
    "(.*)".to_string()
}

fn dollar_one() -> String {
    "$1".to_string()
}
