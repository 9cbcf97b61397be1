//! From `rule_files:` patterns to groups ready to run: expand the
//! patterns, read and check the files (templates included), build the
//! groups.

use super::error::RulesError;
use super::group::{Group, GroupDefaults};
use super::rule_file::{expand_patterns, load_rule_files, ParseOptions};
use super::template::check_alert_template;

/// Reads the rule files `patterns` name and builds their groups, in file
/// order then group order. Any problem in any file fails the whole load.
pub fn load_groups(
    patterns: &[String],
    defaults: GroupDefaults,
    should_restore: bool,
) -> Result<Vec<Group>, RulesError> {
    let opts = ParseOptions {
        template_check: &check_alert_template,
        ..ParseOptions::default()
    };
    load_groups_with(patterns, defaults, should_restore, &opts)
}

/// [`load_groups`] with the files read as `opts` says (`promtool test
/// rules --ignore-unknown-fields`).
pub fn load_groups_with(
    patterns: &[String],
    defaults: GroupDefaults,
    should_restore: bool,
    opts: &ParseOptions,
) -> Result<Vec<Group>, RulesError> {
    let paths = expand_patterns(patterns).map_err(RulesError::Patterns)?;
    let files = load_rule_files(&paths, opts)?;
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
