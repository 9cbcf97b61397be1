//! From `rule_files:` patterns to groups ready to run: expand the
//! patterns, read and check the files (templates included), build the
//! groups.

use std::path::PathBuf;

use super::error::RulesError;
use super::group::{Group, GroupDefaults};
use super::rule_file::{load_rule_files, ParseOptions};
use super::template::{AlertData, AlertValue, Expander, QueryFn, QuerySample};

/// The files `patterns` name: a pattern with wildcards names the files it
/// matches (possibly none); a plain path names itself, so a missing file
/// is an error when it is read.
pub fn rule_paths(patterns: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in patterns {
        if p.contains(['*', '?', '[']) {
            out.extend(crate::config::glob::expand(p));
        } else {
            out.push(PathBuf::from(p));
        }
    }
    out
}

/// Checks that an alert's label or annotation template parses, with the
/// real template engine.
pub fn check_template(alert: &str, text: &str) -> Result<(), String> {
    let data = AlertData {
        labels: Default::default(),
        external_labels: Default::default(),
        external_url: String::new(),
        value: AlertValue::Float(0.0),
    };
    Expander::for_alert(alert, text, data, 0, &NoQuery, "", "")
        .parse_check()
        .map_err(|e| e.to_string())
}

/// Parsing runs no queries.
struct NoQuery;

impl QueryFn for NoQuery {
    fn query(&self, _q: &str, _at_ms: i64) -> Result<Vec<QuerySample>, String> {
        Err("queries are not run while checking templates".into())
    }
}

/// Reads the rule files `patterns` name and builds their groups, in file
/// order then group order. Any problem in any file fails the whole load.
pub fn load_groups(
    patterns: &[String],
    defaults: GroupDefaults,
    should_restore: bool,
) -> Result<Vec<Group>, RulesError> {
    let opts = ParseOptions {
        template_check: &check_template,
        ..ParseOptions::default()
    };
    let files = load_rule_files(&rule_paths(patterns), &opts)?;
    let mut groups = Vec::new();
    for (path, file) in files {
        for w in &file.warnings {
            tracing::warn!(file = %path.display(), "{w}");
        }
        let name = path.to_string_lossy();
        for g in &file.groups {
            groups.push(Group::new(&name, g, defaults, should_restore)?);
        }
    }
    Ok(groups)
}
