//! `check rules`: what `promtool check rules FILE...` reports — per file its
//! problems or its rule count, the duplicate-rule lint — with promtool's
//! output text and exit codes.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{load_rule_file, ParseOptions, RuleFile};

/// Exit codes, as promtool's.
pub const EXIT_SUCCESS: i32 = 0;
pub const EXIT_FAILURE: i32 = 1;
/// Lint findings with `--lint-fatal`.
pub const EXIT_LINT: i32 = 3;

/// `check rules` flags.
#[derive(Clone, Copy, Default)]
pub struct CheckOptions<'a> {
    pub parse: ParseOptions<'a>,
    /// `--lint=duplicate-rules` (promtool's default) or `all`; off for
    /// `--lint=none`.
    pub lint_duplicates: bool,
    /// `--lint-fatal`: lint findings fail with [`EXIT_LINT`].
    pub lint_fatal: bool,
}

/// What checking one file found.
#[derive(Clone, Debug, PartialEq)]
pub enum FileVerdict {
    /// Valid, with this many rules.
    Ok(usize),
    /// Problems, one line each as promtool prints them.
    Failed(Vec<String>),
    /// Valid but with lint findings (promtool's message).
    Lint(String),
}

/// The result of checking files.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckReport {
    pub files: Vec<(PathBuf, FileVerdict)>,
    pub exit_code: i32,
}

/// One rule's identity for the duplicate lint: its name and its labels
/// (group labels overridden by rule labels).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleIdentity {
    pub metric: String,
    pub labels: BTreeMap<String, String>,
}

/// Checks `paths` as `promtool check rules` does.
pub fn check_rule_files<P: AsRef<Path>>(paths: &[P], opts: &CheckOptions) -> CheckReport {
    let mut files = Vec::with_capacity(paths.len());
    let (mut failed, mut has_errors) = (false, false);
    for path in paths {
        let path = path.as_ref();
        let verdict = match load_rule_file(path, &opts.parse) {
            Err(errors) => {
                has_errors = true;
                FileVerdict::Failed(errors.iter().map(ToString::to_string).collect())
            }
            Ok(file) => check_file(&file, opts),
        };
        failed |= !matches!(verdict, FileVerdict::Ok(_));
        files.push((path.to_path_buf(), verdict));
    }
    let exit_code = if failed && has_errors {
        EXIT_FAILURE
    } else if failed && opts.lint_fatal {
        EXIT_LINT
    } else {
        EXIT_SUCCESS
    };
    CheckReport { files, exit_code }
}

/// The lint of one valid file.
fn check_file(file: &RuleFile, opts: &CheckOptions) -> FileVerdict {
    if opts.lint_duplicates {
        let dups = duplicate_rules(file);
        if !dups.is_empty() {
            return FileVerdict::Lint(duplicates_message(&dups));
        }
    }
    FileVerdict::Ok(file.groups.iter().map(|g| g.rules.len()).sum())
}

/// Rules of a file (across its groups) sharing a name and label set, each
/// listed once, in name-then-labels order.
pub fn duplicate_rules(file: &RuleFile) -> Vec<RuleIdentity> {
    let mut all: Vec<RuleIdentity> = file
        .groups
        .iter()
        .flat_map(|g| {
            g.rules.iter().map(|r| {
                let mut labels = g.labels.clone();
                labels.extend(r.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                RuleIdentity {
                    metric: r.name().to_string(),
                    labels,
                }
            })
        })
        .collect();
    all.sort();
    let mut dups: Vec<RuleIdentity> = Vec::new();
    for pair in all.windows(2) {
        if pair[0] == pair[1] && dups.last() != Some(&pair[1]) {
            dups.push(pair[1].clone());
        }
    }
    dups
}

/// promtool's lint text for duplicates.
fn duplicates_message(dups: &[RuleIdentity]) -> String {
    let mut msg = format!("lint error {} duplicate rule(s) found.\n", dups.len());
    for d in dups {
        msg.push_str(&format!("Metric: {}\nLabel(s):\n", d.metric));
        for (k, v) in &d.labels {
            msg.push_str(&format!("\t{k}: {v}\n"));
        }
    }
    msg.push_str("Might cause inconsistency while recording expressions");
    msg
}

impl CheckReport {
    /// Writes promtool's output: `Checking FILE` and the success lines to
    /// `out`, `  FAILED:` and the problems to `err`.
    pub fn write(&self, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
        for (path, verdict) in &self.files {
            writeln!(out, "Checking {}", path.display())?;
            match verdict {
                FileVerdict::Ok(n) => {
                    writeln!(out, "  SUCCESS: {n} rules found")?;
                }
                FileVerdict::Failed(errors) => {
                    writeln!(err, "  FAILED:")?;
                    for e in errors {
                        writeln!(err, "{e}")?;
                    }
                    // promtool skips the blank line after a file's errors.
                    continue;
                }
                FileVerdict::Lint(msg) => {
                    writeln!(err, "  FAILED:")?;
                    writeln!(err, "{msg}")?;
                }
            }
            writeln!(out)?;
        }
        Ok(())
    }
}
