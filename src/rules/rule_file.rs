//! Rule files (`rule_files:` in `prometheus.yml`): the Prometheus 3.x format,
//! read and validated as Prometheus's rule-file parser does, with every
//! problem of a file reported (file, line, group and rule) rather than the
//! first one only.
//!
//! - [`parse_rule_file`] reads one file's text, [`load_rule_files`] reads
//!   files from disk;
//! - `validate` holds the checks run after deserialising;
//! - [`check`] is `promtool check rules`: counts, duplicate-rule lint,
//!   promtool's output and exit codes.
//!
//! Only the first YAML document of a file is read (with a warning when more
//! follow), as upstream does; merge keys and aliases work. Unknown keys are
//! errors unless [`ParseOptions::ignore_unknown_fields`] is set (promtool's
//! `--ignore-unknown-fields`).

pub mod check;
mod validate;
pub(crate) mod yaml;

// The config loader's key-path line finder, shared rather than copied:
// `crate::config::locate` is private to `config`, so the file is included
// here by path until `config` exports it as `pub(crate)`.
#[allow(dead_code)]
#[path = "../config/locate.rs"]
mod locate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::config::{NameValidationScheme, PromDuration};
use locate::KeyPath;

pub use check::{check_rule_files, CheckOptions, CheckReport};

/// A rule file: its groups, in file order.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub groups: Vec<RuleGroup>,
    /// Accepted-but-ignored findings (a second YAML document), for the
    /// caller to log.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// A group: rules evaluated in order, on one timer.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    #[serde(default, deserialize_with = "yaml::text")]
    pub name: String,
    /// Unset: the global `evaluation_interval`.
    #[serde(default)]
    pub interval: Option<PromDuration>,
    /// Most alerts (or series) one rule may produce; 0 for no limit.
    #[serde(default)]
    pub limit: u64,
    /// Unset: the global `rule_query_offset`.
    #[serde(default)]
    pub query_offset: Option<PromDuration>,
    /// Added to every rule's output (rule labels win on a clash).
    #[serde(default, deserialize_with = "yaml::text_map")]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// A recording rule (`record`) or an alerting rule (`alert`); after
/// validation exactly one of the two is set.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, deserialize_with = "yaml::name")]
    pub record: Option<String>,
    #[serde(default, deserialize_with = "yaml::name")]
    pub alert: Option<String>,
    #[serde(default, deserialize_with = "yaml::text")]
    pub expr: String,
    /// Alerts only: how long a condition must hold before firing.
    #[serde(default, rename = "for")]
    pub for_: Option<PromDuration>,
    /// Alerts only: how long an alert keeps firing after its condition
    /// cleared.
    #[serde(default)]
    pub keep_firing_for: Option<PromDuration>,
    #[serde(default, deserialize_with = "yaml::text_map")]
    pub labels: BTreeMap<String, String>,
    /// Alerts only.
    #[serde(default, deserialize_with = "yaml::text_map")]
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    /// The alert name, else the recorded metric name ("" when neither).
    pub fn name(&self) -> &str {
        self.alert
            .as_deref()
            .or(self.record.as_deref())
            .unwrap_or("")
    }
}

/// The keys each level of a rule file may hold.
const FILE_KEYS: &[&str] = &["groups"];
const GROUP_KEYS: &[&str] = &[
    "name",
    "interval",
    "limit",
    "query_offset",
    "labels",
    "rules",
];
const RULE_KEYS: &[&str] = &[
    "record",
    "alert",
    "expr",
    "for",
    "keep_firing_for",
    "labels",
    "annotations",
];

/// Checks that one label or annotation template of an alerting rule
/// parses: given the alert's name (upstream names the template
/// `__alert_<name>`) and the template text, returns the template engine's
/// error text. This is the seam the template engine is wired into.
pub type TemplateCheck<'a> = &'a dyn Fn(&str, &str) -> Result<(), String>;

/// Accepts every template; for callers without a template engine.
pub fn no_template_check(_alert: &str, _template: &str) -> Result<(), String> {
    Ok(())
}

/// How rule files are read.
#[derive(Clone, Copy)]
pub struct ParseOptions<'a> {
    /// Which record, label and annotation names are valid.
    pub name_validation: NameValidationScheme,
    /// Drop unknown keys instead of failing (promtool's
    /// `--ignore-unknown-fields`).
    pub ignore_unknown_fields: bool,
    pub template_check: TemplateCheck<'a>,
}

impl Default for ParseOptions<'_> {
    fn default() -> Self {
        ParseOptions {
            name_validation: NameValidationScheme::Utf8,
            ignore_unknown_fields: false,
            template_check: &no_template_check,
        }
    }
}

/// A line (1-based) and, where the YAML parser gives it, a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: Option<usize>,
}

impl fmt::Display for Position {
    /// `line:column` as upstream prints positions, or `line` alone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "{}:{c}", self.line),
            None => write!(f, "{}", self.line),
        }
    }
}

/// Which rule a problem belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub group: String,
    /// 1-based, as upstream counts.
    pub index: usize,
    /// The rule's alert or record name ("" when neither is set).
    pub name: String,
}

/// What is wrong; the texts are upstream's.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("{0}")]
    Read(String),
    /// YAML syntax or a value of the wrong type.
    #[error("{0}")]
    Yaml(String),
    #[error("field {key} not found in {level}")]
    UnknownField { key: String, level: &'static str },
    #[error("Groupname must not be empty")]
    EmptyGroupName,
    #[error("groupname: {0:?} is repeated in the same file")]
    RepeatedGroupName(String),
    #[error("invalid label name: {0}")]
    InvalidLabelName(String),
    #[error("only one of 'record' and 'alert' must be set")]
    RecordAndAlert,
    #[error("one of 'record' or 'alert' must be set")]
    NoRecordOrAlert,
    #[error("field 'expr' must be set in rule")]
    NoExpr,
    #[error("could not parse expression: {0}")]
    BadExpr(String),
    /// `annotations`, `for` or `keep_firing_for` on a recording rule.
    #[error("invalid field '{0}' in recording rule")]
    AlertFieldInRecordingRule(&'static str),
    #[error("invalid recording rule name: {0}")]
    InvalidRecordName(String),
    #[error("braces present in the recording rule name; should it be in expr?: {0}")]
    BracesInRecordName(String),
    #[error("invalid annotation name: {0}")]
    InvalidAnnotationName(String),
    #[error("label {0:?}: {1}")]
    LabelTemplate(String, String),
    #[error("annotation {0:?}: {1}")]
    AnnotationTemplate(String, String),
}

/// One problem of a rule file, with where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleFileError {
    /// Set by [`load_rule_files`]; `None` for text parsed directly.
    pub file: Option<PathBuf>,
    pub at: Option<Position>,
    /// The second node of a two-node problem (`record` and `alert`).
    pub at_alt: Option<Position>,
    pub rule: Option<RuleRef>,
    pub problem: Problem,
}

impl RuleFileError {
    fn new(problem: Problem) -> Self {
        RuleFileError {
            file: None,
            at: None,
            at_alt: None,
            rule: None,
            problem,
        }
    }
}

impl fmt::Display for RuleFileError {
    /// Upstream's layout: `FILE: LINE:COL: group "g", rule 2, "name": problem`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(at) = self.at {
            write!(f, "{at}: ")?;
        }
        if let Some(alt) = self.at_alt {
            write!(f, "{alt}: ")?;
        }
        if let Some(r) = &self.rule {
            write!(f, "group {:?}, rule {}, {:?}: ", r.group, r.index, r.name)?;
        }
        write!(f, "{}", self.problem)
    }
}

impl std::error::Error for RuleFileError {}

/// Every problem found in a set of rule files.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}", lines(.0))]
pub struct RuleFileErrors(pub Vec<RuleFileError>);

fn lines(errors: &[RuleFileError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and validates one rule file's text. All problems are returned;
/// a file with none is returned with its groups.
pub fn parse_rule_file(text: &str, opts: &ParseOptions) -> Result<RuleFile, Vec<RuleFileError>> {
    let yaml_error = |e: yaml::YamlError| RuleFileError {
        at: e.at,
        ..RuleFileError::new(Problem::Yaml(e.message))
    };
    let mut doc = yaml::first_document(text).map_err(|e| vec![yaml_error(e)])?;
    let unknown = unknown_fields(&mut doc.value, opts.ignore_unknown_fields);
    if !opts.ignore_unknown_fields && !unknown.is_empty() {
        return Err(unknown
            .into_iter()
            .map(|(path, key, level)| RuleFileError {
                at: position(doc.text, &path.key(&key)),
                ..RuleFileError::new(Problem::UnknownField { key, level })
            })
            .collect());
    }
    let mut file: RuleFile = doc
        .deserialize(!unknown.is_empty())
        .map_err(|e| vec![yaml_error(e)])?;
    let errors = validate::validate(&file, doc.text, opts);
    if !errors.is_empty() {
        return Err(errors);
    }
    if doc.more_documents {
        file.warnings.push(
            "multiple document YAML rule files are not supported, only the first document is processed"
                .to_string(),
        );
    }
    Ok(file)
}

/// Reads and validates rule files, collecting the problems of all of them.
pub fn load_rule_files<P: AsRef<Path>>(
    paths: &[P],
    opts: &ParseOptions,
) -> Result<Vec<(PathBuf, RuleFile)>, RuleFileErrors> {
    let mut files = Vec::with_capacity(paths.len());
    let mut errors = Vec::new();
    for path in paths {
        match load_rule_file(path.as_ref(), opts) {
            Ok(f) => files.push((path.as_ref().to_path_buf(), f)),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(RuleFileErrors(errors))
    }
}

/// One file from disk; errors name the file.
pub fn load_rule_file(path: &Path, opts: &ParseOptions) -> Result<RuleFile, Vec<RuleFileError>> {
    let named = |mut e: RuleFileError| {
        e.file = Some(path.to_path_buf());
        e
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![named(RuleFileError::new(Problem::Read(e.to_string())))])?;
    parse_rule_file(&text, opts).map_err(|errs| errs.into_iter().map(named).collect())
}

/// The position of the node at `path`, or of its nearest present parent.
fn position(text: &str, path: &KeyPath) -> Option<Position> {
    locate::line_of(text, path).map(|line| Position { line, column: None })
}

/// Keys not in the format at the file, group and rule levels (all of them,
/// as upstream lists every unknown field), removed when `strip` is set.
fn unknown_fields(root: &mut Value, strip: bool) -> Vec<(KeyPath, String, &'static str)> {
    let mut found = Vec::new();
    let root_path = KeyPath::default();
    check_keys(root, &root_path, FILE_KEYS, "rule file", strip, &mut found);
    let Some(Value::Sequence(groups)) = root.get_mut("groups") else {
        return found;
    };
    for (i, group) in groups.iter_mut().enumerate() {
        let gpath = root_path.key("groups").index(i);
        check_keys(group, &gpath, GROUP_KEYS, "rule group", strip, &mut found);
        let Some(Value::Sequence(rules)) = group.get_mut("rules") else {
            continue;
        };
        for (j, rule) in rules.iter_mut().enumerate() {
            let rpath = gpath.key("rules").index(j);
            check_keys(rule, &rpath, RULE_KEYS, "rule", strip, &mut found);
        }
    }
    found
}

fn check_keys(
    node: &mut Value,
    path: &KeyPath,
    known: &[&str],
    level: &'static str,
    strip: bool,
    found: &mut Vec<(KeyPath, String, &'static str)>,
) {
    let Value::Mapping(map) = node else {
        return;
    };
    let unknown: Vec<Value> = map
        .keys()
        .filter(|k| !k.as_str().is_some_and(|k| known.contains(&k)))
        .cloned()
        .collect();
    for key in unknown {
        let text = match &key {
            Value::String(s) => s.clone(),
            other => serde_yaml_ng::to_string(other)
                .unwrap_or_default()
                .trim_end()
                .to_string(),
        };
        found.push((path.clone(), text, level));
        if strip {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests;
