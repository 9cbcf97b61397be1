//! Why rules could not be loaded.

use super::rule_file::RuleFileErrors;

/// A rule-file set that cannot be run; the running rules stay as they were.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// Problems in the files (file, line and problem, one per line).
    #[error("loading rule files: {0}")]
    Files(#[from] RuleFileErrors),
    /// A `rule_files:` entry naming a file that does not exist.
    #[error("loading rule files: {0}")]
    Patterns(String),
    /// An expression the rule-file checks passed but the engine rejects.
    #[error("{file}: group {group:?}, rule {rule:?}: {msg}")]
    Expr {
        file: String,
        group: String,
        rule: String,
        msg: String,
    },
}
