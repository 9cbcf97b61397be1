//! `ferroprom check config FILE...` and `ferroprom check rules FILE...`:
//! `promtool check config` / `check rules` with their output and exit
//! status (0 valid, 1 invalid, 3 lint findings with `--lint-fatal`).
//! Progress goes to `out`, problems to `err`, as promtool splits them.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::config;
use crate::flags::{Lint, LintArgs};
use crate::rules::rule_file::check::{EXIT_FAILURE, EXIT_SUCCESS};
use crate::rules::rule_file::{self, check_rule_files, CheckOptions, ParseOptions};
use crate::rules::template::check_alert_template;

/// How rule files are read by both checks: templates must parse.
fn parse_options() -> ParseOptions<'static> {
    ParseOptions {
        template_check: &check_alert_template,
        ..ParseOptions::default()
    }
}

fn check_options(lint: &LintArgs) -> CheckOptions<'static> {
    CheckOptions {
        parse: parse_options(),
        lint_duplicates: matches!(lint.lint, Lint::All | Lint::DuplicateRules),
        lint_fatal: lint.lint_fatal,
    }
}

/// `check rules`: the exit status.
pub fn rules(
    files: &[PathBuf],
    lint: &LintArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let report = check_rule_files(files, &check_options(lint));
    report.write(out, err)?;
    Ok(report.exit_code)
}

/// `check config`: each configuration file, then (unless `syntax_only`)
/// the rule files it names; the exit status is the worst of all.
pub fn config(
    files: &[PathBuf],
    syntax_only: bool,
    lint: &LintArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let mut status = EXIT_SUCCESS;
    for file in files {
        writeln!(out, "Checking {}", file.display())?;
        match rule_files_of(file, syntax_only) {
            Err(problem) => {
                writeln!(err, "  FAILED: {problem}")?;
                writeln!(out)?;
                status = status.max(EXIT_FAILURE);
            }
            Ok(rule_files) => {
                if !syntax_only {
                    writeln!(out, "  SUCCESS: {} rule files found", rule_files.len())?;
                }
                writeln!(
                    out,
                    " SUCCESS: {} is valid prometheus config file syntax",
                    file.display()
                )?;
                writeln!(out)?;
                if !rule_files.is_empty() {
                    status = status.max(rules(&rule_files, lint, out, err)?);
                }
            }
        }
    }
    Ok(status)
}

/// Loads one configuration file and lists the rule files it names (none
/// when only the syntax is checked).
fn rule_files_of(file: &Path, syntax_only: bool) -> Result<Vec<PathBuf>, String> {
    let cfg = config::load_file(file).map_err(|e| e.to_string())?;
    if syntax_only {
        return Ok(Vec::new());
    }
    rule_file::expand_patterns(&cfg.rule_files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(lint: Lint, lint_fatal: bool) -> LintArgs {
        LintArgs { lint, lint_fatal }
    }

    fn run_config(files: &[PathBuf], syntax_only: bool) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = config(
            files,
            syntax_only,
            &lint(Lint::DuplicateRules, false),
            &mut out,
            &mut err,
        )
        .unwrap();
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    const RULES: &str = r#"groups:
- name: g
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
  - alert: Down
    expr: up == 0
    for: 1m
    annotations:
      summary: "{{ $labels.instance }} is down"
"#;

    fn write_config(dir: &Path, rule_files: &str) -> PathBuf {
        let cfg = dir.join("prometheus.yml");
        std::fs::write(
            &cfg,
            format!("rule_files:\n{rule_files}scrape_configs:\n  - job_name: x\n    static_configs: [{{targets: [\"localhost:9090\"]}}]\n"),
        )
        .unwrap();
        cfg
    }

    #[test]
    fn config_with_its_rule_files_is_checked_as_promtool_does() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
        let cfg = write_config(dir.path(), "  - rules.yml\n  - \"none/*.yml\"\n");
        let (code, out, err) = run_config(std::slice::from_ref(&cfg), false);
        assert_eq!(code, 0, "{err}");
        let want = format!(
            "Checking {c}\n  SUCCESS: 1 rule files found\n SUCCESS: {c} is valid prometheus config file syntax\n\nChecking {r}\n  SUCCESS: 2 rules found\n\n",
            c = cfg.display(),
            r = dir.path().join("rules.yml").display()
        );
        assert_eq!(out, want);
        assert_eq!(err, "");

        let (code, out, _) = run_config(std::slice::from_ref(&cfg), true);
        assert_eq!(code, 0);
        assert!(!out.contains("rule files found"), "{out}");
    }

    #[test]
    fn a_missing_named_rule_file_fails_but_an_empty_glob_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write_config(dir.path(), "  - gone.yml\n");
        let (code, _, err) = run_config(std::slice::from_ref(&cfg), false);
        assert_eq!(code, 1);
        assert!(
            err.starts_with("  FAILED: \"")
                && err.contains("gone.yml\" does not point to an existing file"),
            "{err}"
        );
        let cfg = write_config(dir.path(), "  - \"none/*.yml\"\n");
        assert_eq!(run_config(&[cfg], false).0, 0);
    }

    #[test]
    fn bad_rules_and_bad_templates_fail_the_config_check() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write_config(dir.path(), "  - rules.yml\n");
        std::fs::write(
            dir.path().join("rules.yml"),
            RULES.replace("sum by (job) (up)", "sum by (job) (up"),
        )
        .unwrap();
        let (code, _, err) = run_config(std::slice::from_ref(&cfg), false);
        assert_eq!(code, 1);
        assert!(err.contains("could not parse expression"), "{err}");

        std::fs::write(
            dir.path().join("rules.yml"),
            RULES.replace("{{ $labels.instance }}", "{{ $labels.instance "),
        )
        .unwrap();
        let (code, _, err) = run_config(&[cfg], false);
        assert_eq!(code, 1);
        assert!(err.contains("template"), "{err}");
    }

    #[test]
    fn a_broken_config_fails() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("bad.yml");
        std::fs::write(&cfg, "scrape_configs: [").unwrap();
        let (code, out, err) = run_config(std::slice::from_ref(&cfg), false);
        assert_eq!(code, 1);
        assert_eq!(out, format!("Checking {}\n\n", cfg.display()));
        assert!(err.starts_with("  FAILED: "), "{err}");
    }

    #[test]
    fn duplicate_rules_are_a_lint_finding_fatal_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dup.yml");
        std::fs::write(
            &file,
            "groups:\n- name: g\n  rules:\n  - record: a\n    expr: up\n  - record: a\n    expr: up\n",
        )
        .unwrap();
        let files = [file];
        let run = |l: LintArgs| {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let code = rules(&files, &l, &mut out, &mut err).unwrap();
            (code, String::from_utf8(err).unwrap())
        };
        let (code, err) = run(lint(Lint::DuplicateRules, false));
        assert_eq!(code, 0);
        assert!(err.contains("1 duplicate rule(s) found"), "{err}");
        assert_eq!(run(lint(Lint::DuplicateRules, true)).0, 3);
        let (code, err) = run(lint(Lint::None, true));
        assert_eq!((code, err.as_str()), (0, ""));
    }
}
