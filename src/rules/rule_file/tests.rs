use std::path::{Path, PathBuf};
use std::process::Command;

use super::check::{check_rule_files, FileVerdict, EXIT_FAILURE, EXIT_LINT, EXIT_SUCCESS};
use super::*;
use crate::rules::conformance_dir;

/// A stand-in for the template engine: rejects variables other than the
/// ones upstream defines for alert templates.
fn stub_template_check(alert: &str, template: &str) -> Result<(), String> {
    const KNOWN: &[&str] = &["labels", "value", "externalLabels", "externalURL"];
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        let var: String = rest[i + 1..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !var.is_empty() && !KNOWN.contains(&var.as_str()) {
            return Err(format!(
                "template: __alert_{alert}:1: undefined variable \"${var}\""
            ));
        }
        rest = &rest[i + 1..];
    }
    Ok(())
}

fn opts() -> ParseOptions<'static> {
    ParseOptions {
        template_check: &stub_template_check,
        ..ParseOptions::default()
    }
}

fn errors(text: &str) -> Vec<String> {
    parse_rule_file(text, &opts())
        .expect_err("expected errors")
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn rulefmt_cases_give_the_verdict_their_names_say() {
    let Some(dir) = conformance_dir() else { return };
    let expected_problem = |name: &str| {
        match name {
        "bad_expr.bad.yaml" => "parse error",
        "bad_field.bad.yaml" => "field annotation not found",
        "duplicate_grp.bad.yaml" => "groupname: \"yolo\" is repeated in the same file",
        "invalid_label_name.bad.yaml" => "invalid label name: __name__",
        "invalid_record_name.bad.yaml" => {
            "braces present in the recording rule name; should it be in expr?: strawberry{flavor=\"sweet\"}"
        }
        "legacy_validation_annotation.bad.yaml" => "invalid annotation name: ins-tance",
        "no_rec_alert.bad.yaml" => "one of 'record' or 'alert' must be set",
        "noexpr.bad.yaml" => "field 'expr' must be set in rule",
        "record_and_alert.bad.yaml" => "only one of 'record' and 'alert' must be set",
        "record_and_for.bad.yaml" => "invalid field 'for' in recording rule",
        "record_and_keep_firing_for.bad.yaml" => "invalid field 'keep_firing_for' in recording rule",
        other => panic!("no expectation for {other}"),
    }
    };
    let files = files_in(&dir.join("rulefmt"));
    assert!(files.len() >= 16, "{files:?}");
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap();
        // The legacy cases are about the legacy scheme; the same annotation
        // name is valid under UTF-8 (utf-8_annotation.good.yaml).
        let scheme = if name.starts_with("legacy_") {
            NameValidationScheme::Legacy
        } else {
            NameValidationScheme::Utf8
        };
        let o = ParseOptions {
            name_validation: scheme,
            ..opts()
        };
        let result = load_rule_file(&path, &o);
        if name.ends_with(".bad.yaml") {
            let errs = result.expect_err(name);
            let first = errs[0].to_string();
            assert!(first.contains(expected_problem(name)), "{name}: {first}");
            assert!(first.starts_with(path.to_str().unwrap()), "{first}");
        } else {
            let file = result.unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert!(!file.groups.is_empty(), "{name}");
        }
    }
}

#[test]
fn errors_carry_lines_and_rules_as_upstream() {
    let Some(dir) = conformance_dir() else { return };
    let first = |name: &str| {
        load_rule_file(&dir.join("rulefmt").join(name), &opts()).unwrap_err()[0].clone()
    };
    let e = first("bad_expr.bad.yaml");
    assert_eq!(e.at.map(|p| p.line), Some(5));
    assert_eq!(
        e.rule,
        Some(RuleRef {
            group: "yolo".into(),
            index: 1,
            name: "yolo".into()
        })
    );
    // The position inside the expression is the PromQL parser's own.
    let text = e.to_string();
    let (_, rest) = text.split_once(": 5: ").unwrap();
    assert!(
        rest.starts_with("group \"yolo\", rule 1, \"yolo\": could not parse expression: 1:")
            && rest.ends_with(": parse error: expected type range vector in call to function \"rate\", got instant vector"),
        "{e}"
    );
    assert_eq!(first("duplicate_grp.bad.yaml").at.map(|p| p.line), Some(3));
    let e = first("record_and_alert.bad.yaml");
    assert_eq!(
        (e.at.map(|p| p.line), e.at_alt.map(|p| p.line)),
        (Some(4), Some(5))
    );
    assert_eq!(e.rule.as_ref().unwrap().name, "Hello");
    let e = first("bad_field.bad.yaml");
    assert_eq!(e.at.map(|p| p.line), Some(8));
    assert_eq!(
        e.to_string().rsplit(": ").next().unwrap(),
        "field annotation not found in rule"
    );
    // An absent node is reported at its rule.
    assert_eq!(first("noexpr.bad.yaml").at.map(|p| p.line), Some(4));
    // Label problems carry no position, as upstream.
    assert_eq!(first("invalid_label_name.bad.yaml").at, None);
}

#[test]
fn all_problems_of_a_file_are_reported() {
    let errs = errors(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up ===== 0\n  - alert: B\n    expr: up ===== 1\n- name: g\n",
    );
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(
        errs[0].starts_with("5: group \"g\", rule 1, \"A\": could not parse"),
        "{errs:?}"
    );
    assert!(
        errs[1].starts_with("7: group \"g\", rule 2, \"B\": could not parse"),
        "{errs:?}"
    );
    assert_eq!(errs[2], "8: groupname: \"g\" is repeated in the same file");
    let errs = errors("groups:\n- name: g\n  extra: 1\n  rules:\n  - record: r\n    expr: 1\n    more: 2\nother: 3\n");
    assert_eq!(
        errs,
        [
            "8: field other not found in rule file",
            "3: field extra not found in rule group",
            "7: field more not found in rule",
        ]
    );
}

#[test]
fn aliases_and_merge_keys_expand() {
    let Some(dir) = conformance_dir() else { return };
    let file = load_rule_file(&dir.join("rulefmt/test_aliases.yaml"), &opts()).unwrap();
    let expr = "sum without(instance) (rate(errors_total[5m]))\n/\nsum without(instance) (rate(requests_total[5m]))\n";
    for g in &file.groups {
        let r = &g.rules;
        assert_eq!(r[0].alert.as_deref(), Some("HighAlert"));
        assert_eq!(r[0].labels["severity"], "critical");
        assert_eq!(
            r[0].annotations["description"],
            "stuff's happening with {{ $.labels.service }}"
        );
        assert_eq!(r[1].record.as_deref(), Some("new_metric"));
        assert_eq!(r[2].alert.as_deref(), Some("HighAlert"));
        assert_eq!(r[3].alert.as_deref(), Some("HighAlert2"));
        assert_eq!(r[3].labels["severity"], "critical");
        assert!(r.iter().all(|r| r.expr == expr));
    }
}

#[test]
fn reads_the_first_document_only_with_a_warning() {
    let one = "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up == 0\n";
    let f = parse_rule_file(one, &opts()).unwrap();
    assert!(f.warnings.is_empty());
    for text in [
        format!("{one}---\ngroups:\n- name: b\n  rules: []\n"),
        format!("{one}---\n"),
    ] {
        let f = parse_rule_file(&text, &opts()).unwrap();
        assert_eq!(f.groups.len(), 1);
        assert_eq!(f.warnings.len(), 1, "{text}");
    }
    // Problems of the first document keep their lines.
    let errs = errors("groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up ==\n---\nx: 1\n");
    assert!(errs[0].starts_with("5: group \"a\""), "{errs:?}");
    // An empty file has no groups.
    assert_eq!(parse_rule_file("", &opts()).unwrap().groups, []);
    assert_eq!(parse_rule_file("# nothing\n", &opts()).unwrap().groups, []);
}

#[test]
fn fields_are_read() {
    let f = parse_rule_file(
        "groups:\n- name: g\n  interval: 30s\n  limit: 10\n  query_offset: 1m\n  labels: {team: a}\n  rules:\n  - alert: A\n    expr: 1\n    for: 5m\n    keep_firing_for: 1m\n    labels: {n: 1}\n    annotations: {s: x}\n  - record: r\n    expr: 1\n    for: 0s\n",
        &opts(),
    )
    .unwrap();
    let g = &f.groups[0];
    assert_eq!(g.interval, Some(PromDuration::from_secs(30)));
    assert_eq!(
        (g.limit, g.query_offset),
        (10, Some(PromDuration::from_secs(60)))
    );
    assert_eq!(g.labels["team"], "a");
    let a = &g.rules[0];
    assert_eq!((a.name(), a.expr.as_str()), ("A", "1"));
    assert_eq!(a.for_, Some(PromDuration::from_secs(300)));
    assert_eq!(a.keep_firing_for, Some(PromDuration::from_secs(60)));
    assert_eq!(
        (a.labels["n"].as_str(), a.annotations["s"].as_str()),
        ("1", "x")
    );
    // `for: 0s` on a recording rule is what leaving it out means.
    assert_eq!(g.rules[1].name(), "r");
    let errs = errors("groups:\n- name: g\n  rules:\n  - record: r\n    expr: 1\n    for: soon\n");
    assert!(errs[0].contains("6:"), "{errs:?}");
}

#[test]
fn names_follow_the_validation_scheme() {
    let text = "groups:\n- name: g\n  labels: {a-b: x}\n  rules:\n  - record: a.b\n    expr: 1\n";
    assert!(parse_rule_file(text, &opts()).is_ok());
    let legacy = ParseOptions {
        name_validation: NameValidationScheme::Legacy,
        ..opts()
    };
    let errs: Vec<String> = parse_rule_file(text, &legacy)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        [
            "3: invalid label name: a-b",
            "5: group \"g\", rule 1, \"a.b\": invalid recording rule name: a.b",
        ]
    );
    let errs = errors(
        "groups:\n- name: ''\n  rules:\n  - record: r\n    expr: 1\n    annotations: {a: b}\n",
    );
    assert_eq!(
        errs,
        [
            "2: Groupname must not be empty",
            "4: group \"\", rule 1, \"r\": invalid field 'annotations' in recording rule",
        ]
    );
}

#[test]
fn templates_are_checked_through_the_seam() {
    let text = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: 1\n    labels: {s: '{{ $this_is_wrong }}'}\n    annotations: {d: '{{ $label.x }}', ok: '{{ $labels.x }} {{ $value }}'}\n  - record: r\n    expr: 1\n    labels: {s: '{{ $nope }}'}\n";
    assert_eq!(
        errors(text),
        [
            "group \"g\", rule 1, \"A\": label \"s\": template: __alert_A:1: undefined variable \"$this_is_wrong\"",
            "group \"g\", rule 1, \"A\": annotation \"d\": template: __alert_A:1: undefined variable \"$label\"",
        ]
    );
    // Without an engine every template passes.
    assert!(parse_rule_file(text, &ParseOptions::default()).is_ok());
}

#[test]
fn unknown_fields_can_be_ignored() {
    let Some(dir) = conformance_dir() else { return };
    let path = dir.join("promtool/rules_extrafields.yml");
    let errs = load_rule_file(&path, &opts()).unwrap_err();
    let lines: Vec<String> = errs.iter().map(|e| e.problem.to_string()).collect();
    assert_eq!(
        lines,
        [
            "field namespace not found in rule group",
            "field ownership not found in rule group"
        ]
    );
    assert_eq!(errs[0].at.map(|p| p.line), Some(7));
    let o = ParseOptions {
        ignore_unknown_fields: true,
        ..opts()
    };
    let f = load_rule_file(&path, &o).unwrap();
    assert_eq!(f.groups.len(), 2);
}

#[test]
fn fixture_rule_files_load() {
    let Some(dir) = conformance_dir() else { return };
    let files: Vec<PathBuf> = files_in(&dir.join("fixtures"));
    let (bad, good): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|p| p.ends_with("invalid_rules.yaml"));
    let loaded = load_rule_files(&good, &opts()).unwrap();
    assert_eq!(loaded.len(), good.len());
    let multi = loaded
        .iter()
        .find(|(p, _)| p.ends_with("rules_multi_doc.yaml"))
        .unwrap();
    assert_eq!(multi.1.groups.len(), 1);
    assert_eq!(multi.1.warnings.len(), 1);
    let err = load_rule_files(&bad, &opts()).unwrap_err();
    assert!(
        err.to_string()
            .contains("field unexpected_field not found in rule"),
        "{err}"
    );
    // Errors of several files are all collected.
    let both = [bad[0].clone(), bad[0].clone()];
    assert_eq!(load_rule_files(&both, &opts()).unwrap_err().0.len(), 2);
}

fn check(files: &[&str], lint_fatal: bool) -> super::check::CheckReport {
    let dir = conformance_dir().unwrap();
    let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
    check_rule_files(
        &paths,
        &CheckOptions {
            parse: opts(),
            lint_duplicates: true,
            lint_fatal,
        },
    )
}

#[test]
fn check_rules_verdicts_and_exit_codes() {
    if conformance_dir().is_none() {
        return;
    }
    let r = check(&["promtool/rules.yml"], false);
    assert_eq!(r.files[0].1, FileVerdict::Ok(5));
    assert_eq!(r.exit_code, EXIT_SUCCESS);
    let r = check(&["promtool/rules-bad.yml"], false);
    assert!(
        matches!(&r.files[0].1, FileVerdict::Failed(e) if e[0].contains("undefined variable \"$label\""))
    );
    assert_eq!(r.exit_code, EXIT_FAILURE);
    for f in [
        "promtool/rules_duplicates.yml",
        "promtool/prometheus-rules.lint.yml",
    ] {
        assert_eq!(check(&[f], false).exit_code, EXIT_SUCCESS, "{f}");
        assert_eq!(check(&[f], true).exit_code, EXIT_LINT, "{f}");
    }
    let r = check(&["promtool/rules_duplicates.yml"], false);
    assert_eq!(
        r.files[0].1,
        FileVerdict::Lint(
            "lint error 1 duplicate rule(s) found.\nMetric: job:test:count_over_time1m\nLabel(s):\nMight cause inconsistency while recording expressions".into()
        )
    );
    let r = check(&["promtool/rules_large.yml"], false);
    assert_eq!(r.exit_code, EXIT_SUCCESS);
    assert!(
        matches!(&r.files[0].1, FileVerdict::Lint(m) if m.starts_with("lint error 2 duplicate rule(s) found.\nMetric: job:http_inprogress_requests:sum:1\nLabel(s):\n\tjob: job1\n"))
    );
    // A failure anywhere outweighs lint.
    let r = check(
        &["promtool/rules_duplicates.yml", "promtool/rules-bad.yml"],
        true,
    );
    assert_eq!(r.exit_code, EXIT_FAILURE);
    // The unit-test files are not rule files.
    assert_eq!(
        check(&["promtool/rules_run.yml"], false).exit_code,
        EXIT_FAILURE
    );
}

#[test]
fn check_rules_output_reads_like_promtool() {
    if conformance_dir().is_none() {
        return;
    }
    let r = check(
        &["promtool/rules.yml", "promtool/rules_duplicates.yml"],
        false,
    );
    let (mut out, mut err) = (Vec::new(), Vec::new());
    r.write(&mut out, &mut err).unwrap();
    let dir = conformance_dir().unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            "Checking {0}/promtool/rules.yml\n  SUCCESS: 5 rules found\n\nChecking {0}/promtool/rules_duplicates.yml\n\n",
            dir.display()
        )
    );
    assert!(String::from_utf8(err)
        .unwrap()
        .starts_with("  FAILED:\nlint error 1 duplicate rule(s) found.\n"));
}

#[test]
fn duplicates_count_group_labels() {
    let f = parse_rule_file(
        "groups:\n- name: a\n  labels: {t: x}\n  rules:\n  - record: r\n    expr: 1\n- name: b\n  rules:\n  - record: r\n    expr: 1\n    labels: {t: x}\n  - record: r\n    expr: 1\n",
        &opts(),
    )
    .unwrap();
    let d = super::check::duplicate_rules(&f);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].metric, "r");
    assert_eq!(d[0].labels["t"], "x");
}

/// Our verdicts against the installed promtool (2.42 in CI) on the files
/// whose features it has; skipped when it is not installed.
#[test]
fn check_rules_agrees_with_promtool() {
    let Some(dir) = conformance_dir() else { return };
    let promtool = Path::new("/usr/bin/promtool");
    if !promtool.exists() {
        println!("skipped: {} not installed", promtool.display());
        return;
    }
    // 2.42 knows no experimental PromQL.
    const NEWER: &[&str] = &["features.yml"];
    let mut files = files_in(&dir.join("rulefmt"));
    files.extend(files_in(&dir.join("fixtures")));
    files.extend(files_in(&dir.join("promtool")));
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap();
        if NEWER.contains(&name) {
            continue;
        }
        for lint_fatal in [false, true] {
            let mut cmd = Command::new(promtool);
            cmd.args(["check", "rules"]).arg(&path);
            if lint_fatal {
                cmd.arg("--lint-fatal");
            }
            let theirs = cmd.output().unwrap().status.code();
            // 2.42 validates names the legacy way.
            let parse = ParseOptions {
                name_validation: NameValidationScheme::Legacy,
                ..opts()
            };
            let ours = check_rule_files(
                &[&path],
                &CheckOptions {
                    parse,
                    lint_duplicates: true,
                    lint_fatal,
                },
            );
            assert_eq!(
                Some(ours.exit_code),
                theirs,
                "{name} lint_fatal={lint_fatal}: {ours:?}"
            );
        }
    }
}
