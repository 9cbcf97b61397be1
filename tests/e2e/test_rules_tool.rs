//! `ferroprom test rules`, the real binary on upstream's unit-test files
//! (`../shared/conformance/rules/promtool`, or under
//! `$FERROPROM_SHARED_DIR`): the exit status the fixtures' README gives for
//! each, promtool's failure texts, and the verdicts of Prometheus 2.42's
//! `promtool` on the files it can run.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The upstream fixtures, or `None` (the tests skip) when absent.
fn fixtures() -> Option<PathBuf> {
    let dir = common::shared_file("conformance/rules/promtool");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: {} not found", dir.display());
        None
    }
}

/// Runs `bin test rules ARGS...` in `dir`: exit status, stdout, stderr.
fn run(bin: &Path, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .current_dir(dir)
        .args(["test", "rules"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn ferroprom() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ferroprom"))
}

/// The README's table, and upstream's `--run` / flag cases for the
/// `rules_run*` files.
const CASES: &[(&[&str], i32)] = &[
    (&["unittest.yml"], 0),
    (&["long-period.yml"], 0),
    (&["no-test-group-interval.yml"], 0),
    (&["start-time-test.yml"], 0),
    (&["at-modifier-test.yml"], 0),
    (&["negative-offset-test.yml"], 0),
    (&["bad-input-series.yml"], 1),
    (&["bad-promql.yml"], 1),
    (&["bad-rules-syntax-test.yml"], 1),
    (&["bad-rules-error-test.yml"], 1),
    (&["failing.yml"], 1),
    (&["rules_run.yml"], 1),
    (&["--run", "correct", "--run", "wrong", "rules_run.yml"], 1),
    (&["--run", "correct", "rules_run.yml"], 0),
    (&["--run", "wrong", "rules_run.yml"], 1),
    (&["--ignore-unknown-fields", "rules_run_extrafields.yml"], 0),
    (&["rules_run_extrafields.yml"], 1),
    (&["rules_run_no_fuzzy.yml"], 1),
    (&["--run", "correct", "rules_run_fuzzy.yml"], 0),
    (&["--run", "wrong", "rules_run_fuzzy.yml"], 1),
];

#[test]
fn every_upstream_file_gives_its_exit_status() {
    let Some(dir) = fixtures() else { return };
    for (args, want) in CASES {
        let (code, out, err) = run(ferroprom(), &dir, args);
        assert_eq!(code, *want, "{args:?}\nstdout:\n{out}\nstderr:\n{err}");
        let verdict = if *want == 0 {
            "  SUCCESS\n"
        } else {
            "  FAILED:\n"
        };
        let stream = if *want == 0 { &out } else { &err };
        assert!(stream.contains(verdict), "{args:?}: {stream}");
    }
    // Several files: one verdict each, failed when any failed.
    let (code, out, err) = run(
        ferroprom(),
        &dir,
        &["at-modifier-test.yml", "failing.yml", "long-period.yml"],
    );
    assert_eq!(code, 1);
    assert_eq!(out.matches("  SUCCESS\n").count(), 2, "{out}");
    assert_eq!(err.matches("  FAILED:\n").count(), 1, "{err}");
}

#[test]
fn native_histogram_cases_are_counted_apart() {
    let Some(dir) = fixtures() else { return };
    let (code, out, err) = run(ferroprom(), &dir, &["unittest.yml"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "  SUCCESS\n\n");
    assert_eq!(
        err,
        "  WARNING: native histograms are not supported: 3 input series left out, 3 promql_expr_test case(s) skipped\n"
    );
}

#[test]
fn failures_print_as_promtool() {
    let Some(dir) = fixtures() else { return };
    let (code, out, err) = run(ferroprom(), &dir, &["failing.yml"]);
    assert_eq!(code, 1);
    // Each failure is followed by an empty line on stdout, as promtool's.
    assert_eq!(out, "\n\n\n\n\n");
    let want = r#"  FAILED:
    name: Failing test,
    alertname: Test, time: 0s, 
        exp:[
            0:
              Labels:{alertname="Test"}
              Annotations:{}
            ], 
        got:[]
    expr: "test", time: 0s,
        exp: {__name__="test"} 1E+00
        got: {__name__="test"} 0E+00
    name: Failing alert test,
    alertname: InstanceDown, time: 5m, 
        exp:[], 
        got:[
            0:
              Labels:{alertname="InstanceDown", job="test", severity="page"}
              Annotations:{description=" of job test has been down for more than 5 minutes.", summary="Instance  down"}
            ]
    name: Failing alert test,
    alertname: AlwaysFiring, time: 5m, 
        exp:[], 
        got:[
            0:
              Labels:{alertname="AlwaysFiring"}
              Annotations:{}
            ]
"#;
    assert_eq!(err, want);

    let (_, _, err) = run(ferroprom(), &dir, &["bad-rules-error-test.yml"]);
    assert!(
        err.starts_with("  FAILED:\n    rule: joined, time: 0s, err: found duplicate series"),
        "{err}"
    );
    let (_, _, err) = run(ferroprom(), &dir, &["bad-rules-syntax-test.yml"]);
    assert!(
        err.starts_with("  FAILED:\nbad-rules-syntax.yml: 7")
            && err.contains(r#"group "bad-syntax", rule 1, "x": could not parse expression"#),
        "{err}"
    );
}

#[test]
fn debug_and_diff() {
    let Some(dir) = fixtures() else { return };
    let (code, _, err) = run(
        ferroprom(),
        &dir,
        &["--debug", "--run", "^correct test$", "rules_run.yml"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.starts_with("DEBUG: Starting test correct test\n"),
        "{err}"
    );
    assert!(err.contains("DEBUG: Dump of all data (input_series and rules) at 1s:\n"));
    assert!(err.contains("DEBUG: Test correct test finished, took "));

    let (code, _, err) = run(ferroprom(), &dir, &["--diff", "failing.yml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "    alertname: AlwaysFiring, time: 5m, \n        diff: - []\n            + [\n"
        ),
        "{err}"
    );
}

/// Files Prometheus 2.42's promtool cannot run as 3.x does, and why.
const NOT_FOR_2_42: &[(&str, &str)] = &[
    (
        "unittest.yml",
        "expected native histograms (`histogram:`) are 3.x",
    ),
    ("start-time-test.yml", "`start_timestamp` is 3.x"),
    ("rules_run_fuzzy.yml", "`fuzzy_compare` is 3.x"),
    ("rules_run_no_fuzzy.yml", "`fuzzy_compare` is 3.x"),
    (
        "no-test-group-interval.yml",
        "2.42 does not default a test group's interval to evaluation_interval",
    ),
];

/// Exit codes against `/usr/bin/promtool`; for the files whose failures
/// come from the test runner itself (not from engine or parser messages,
/// which differ in wording), the failure texts too. 2.42 also prints a
/// `Unit Testing:` line on stdout that 3.x dropped, so stdout is not
/// compared.
#[test]
fn differential_against_promtool() {
    let Some(dir) = fixtures() else { return };
    let Some(promtool) = common::peers::require("promtool") else {
        return;
    };
    let mut compared = 0;
    for (args, _) in CASES {
        let file = args.last().unwrap();
        if args.len() > 1 {
            println!("skipped for promtool 2.42: {args:?}: its `test rules` has no flags");
            continue;
        }
        if let Some((_, why)) = NOT_FOR_2_42.iter().find(|(f, _)| f == file) {
            println!("skipped for promtool 2.42: {file}: {why}");
            continue;
        }
        let (want, _, want_err) = run(&promtool, &dir, args);
        let (got, _, got_err) = run(ferroprom(), &dir, args);
        assert_eq!(
            got, want,
            "{args:?}\npromtool:\n{want_err}\nferroprom:\n{got_err}"
        );
        if matches!(*file, "failing.yml" | "rules_run.yml") {
            assert_eq!(got_err, want_err, "{args:?}");
        }
        compared += 1;
    }
    assert!(compared >= 10, "{compared}");
}
