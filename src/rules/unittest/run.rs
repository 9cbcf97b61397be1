//! Runs a unit-test file as `promtool test rules` does. Per test group: a
//! fresh database fed with the input series, the rule files loaded with
//! the group's external labels and URL, every rule group evaluated at each
//! `evaluation_interval` from the start to the last time a test looks at
//! (firing alerts checked on the way), then the queries checked. The
//! failure texts are promtool's.
//!
//! Native histograms do not exist yet: input series written with `{{…}}`
//! are left out and query tests expecting a histogram are skipped, each
//! with a warning, so they do not fail a file that otherwise passes.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use promql::{Engine, EngineOptions, Value};
use regex::Regex;
use storage::Labels;

use super::compare::{
    alert_mismatch, go_duration, go_labels, sample_mismatch, samples_equal, AlertEntry, SampleEntry,
};
use super::file::{load_unit_test_file, TestGroup, UnitTestFile};
use super::input::TestStorage;
use super::series::{parse_input_series, parse_series_labels, SeriesError};
use crate::api::params::go_quote;
use crate::rules::alert::AlertState;
use crate::rules::context::{EvalContext, Settings};
use crate::rules::group::{Group, GroupDefaults};
use crate::rules::loader::load_groups_with;
use crate::rules::notify::{AlertSink, OutgoingAlert};
use crate::rules::rule::Rule;
use crate::rules::rule_file::ParseOptions;
use crate::rules::template::check_alert_template;
use crate::rules::RulesError;

/// How test files are run (promtool's `test rules` flags).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Only test groups whose `name` matches (`--run`).
    pub run: Option<Regex>,
    /// Say when each test group starts and ends, and dump its data.
    pub debug: bool,
    /// Print alert mismatches as a line diff.
    pub diff: bool,
    /// Drop unknown keys of rule files instead of failing.
    pub ignore_unknown_fields: bool,
}

/// Runs the unit-test file at `path`: promtool's failure texts, none when
/// every test passed. Warnings and debug output go to `log`.
pub fn run_file(path: &Path, opts: &RunOptions, log: &mut dyn Write) -> io::Result<Vec<String>> {
    let file = match load_unit_test_file(path) {
        Ok(f) => f,
        Err(e) => return Ok(vec![e.to_string()]),
    };
    let (rule_files, warnings) = file.resolve_rule_files(path.parent().unwrap_or(Path::new("")));
    for w in warnings {
        writeln!(log, "  WARNING: {w}")?;
    }
    let mut errors = Vec::new();
    for (i, tg) in file.tests.iter().enumerate() {
        if opts.run.as_ref().is_some_and(|re| !re.is_match(&tg.name)) {
            continue;
        }
        let name = match tg.name.as_str() {
            "" => format!("unnamed#{i}"),
            n => n.to_string(),
        };
        let started = Instant::now();
        if opts.debug {
            writeln!(log, "DEBUG: Starting test {name}")?;
        }
        let run = GroupRun {
            file: &file,
            tg,
            rule_files: &rule_files,
            opts,
        };
        errors.extend(run.run(log)?);
        if opts.debug {
            writeln!(
                log,
                "DEBUG: Test {name} finished, took {:?}",
                started.elapsed()
            )?;
        }
    }
    Ok(errors)
}

/// Drops alerts: tests look at the rules' alerts, not at notifications.
struct NoSink;

impl AlertSink for NoSink {
    fn send(&self, _alerts: Vec<OutgoingAlert>) {}
}

/// One test group of a file.
struct GroupRun<'a> {
    file: &'a UnitTestFile,
    tg: &'a TestGroup,
    rule_files: &'a [PathBuf],
    opts: &'a RunOptions,
}

impl GroupRun<'_> {
    fn run(&self, log: &mut dyn Write) -> io::Result<Vec<String>> {
        let tg = self.tg;
        let eval_interval = self.file.evaluation_interval().ms();
        let interval = tg.interval_or(self.file.evaluation_interval()).ms();
        let mint = tg.start_timestamp.map_or(0, |s| s.0);

        let mut series = Vec::with_capacity(tg.input_series.len());
        let mut histogram_series = 0;
        for s in &tg.input_series {
            match parse_input_series(&s.series, &s.values) {
                Ok(parsed) => series.push(parsed),
                Err(SeriesError::Histogram(_)) => histogram_series += 1,
                Err(e) => return Ok(vec![e.to_string()]),
            }
        }
        let storage = match TestStorage::open(series, mint, interval) {
            Ok(s) => s,
            Err(e) => return Ok(vec![format!("opening the test storage: {e}")]),
        };
        let engine = Engine::new(EngineOptions {
            // promtool's test engine limits.
            max_samples: 10_000,
            timeout: Duration::from_secs(100),
            default_subquery_step: eval_interval,
            ..EngineOptions::default()
        });
        let mut groups = match self.load_groups(interval) {
            Ok(g) => g,
            Err(errors) => return Ok(errors),
        };
        if let Some(a) = tg.alert_rule_test.iter().find(|a| a.alertname.is_empty()) {
            let in_group = match tg.name.as_str() {
                "" => String::new(),
                n => format!(" (in TestGroup {n})"),
            };
            return Ok(vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                a.eval_time
            )]);
        }
        let mut alert_times: Vec<i64> = tg
            .alert_rule_test
            .iter()
            .map(|a| a.eval_time.ms())
            .collect();
        alert_times.sort_unstable();
        alert_times.dedup();

        let settings = Settings {
            external_labels: tg.external_labels.clone(),
            external_url: tg.external_url.clone(),
            ..Settings::default()
        };
        let cancel = AtomicBool::new(false);
        let ctx = EvalContext {
            engine: &engine,
            queryable: &storage.db,
            db: &storage.db,
            sink: &NoSink,
            settings: &settings,
            metrics: None,
            cancel: &cancel,
        };

        let max_eval = self.max_eval_time();
        let maxt = mint.saturating_add(max_eval);
        let mut errors = Vec::new();
        let mut next_alert_time = 0;
        let mut ts = mint;
        while ts <= maxt {
            match storage.append_till(ts) {
                Err(e) => errors.push(e),
                Ok(()) => {
                    let mut eval_errors = Vec::new();
                    for g in &mut groups {
                        g.eval(ts, &ctx);
                        for r in g.rules() {
                            if let Some(e) = &r.status().last_error {
                                eval_errors.push(format!(
                                    "    rule: {}, time: {}, err: {e}",
                                    r.name(),
                                    go_duration(ts)
                                ));
                            }
                        }
                    }
                    if !eval_errors.is_empty() {
                        // Evaluation errors end the group; test failures so
                        // far are reported with them.
                        errors.extend(eval_errors);
                        return Ok(errors);
                    }
                }
            }
            // An alert test at `eval_time` looks at the evaluation at or
            // just before it.
            let rel = ts - mint;
            while let Some(&t) = alert_times.get(next_alert_time) {
                if !(rel <= t && t < rel + eval_interval) {
                    break;
                }
                self.check_alerts(t, &groups, &mut errors);
                next_alert_time += 1;
            }
            let Some(next) = ts.checked_add(eval_interval) else {
                break;
            };
            ts = next;
        }

        let mut histogram_tests = 0;
        for case in &tg.promql_expr_test {
            if case.exp_samples.iter().any(|s| !s.histogram.is_empty()) {
                histogram_tests += 1;
                continue;
            }
            let at = mint + case.eval_time.ms();
            let time = case.eval_time.to_string();
            let expr_error = |e: &str| {
                format!(
                    "    expr: {}, time: {time}, err: {e}",
                    go_quote(case.expr.as_bytes())
                )
            };
            let got = match query(&ctx, &case.expr, at) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(expr_error(&e));
                    continue;
                }
            };
            let exp: Result<Vec<SampleEntry>, String> = case
                .exp_samples
                .iter()
                .map(|s| {
                    expected_labels(&s.labels)
                        .map(|labels| SampleEntry {
                            labels,
                            value: s.value,
                        })
                        .map_err(|e| format!("labels {}: {e}", go_quote(s.labels.as_bytes())))
                })
                .collect();
            let mut exp = match exp {
                Ok(exp) => exp,
                Err(e) => {
                    errors.push(expr_error(&e));
                    continue;
                }
            };
            let mut got = got;
            exp.sort_by(|a, b| a.labels.cmp(&b.labels));
            got.sort_by(|a, b| a.labels.cmp(&b.labels));
            if !samples_equal(&exp, &got, self.file.fuzzy_compare) {
                errors.push(sample_mismatch(&case.expr, &time, &exp, &got));
            }
        }

        if histogram_series + histogram_tests > 0 {
            writeln!(
                log,
                "  WARNING: native histograms are not supported: {histogram_series} input series left out, {histogram_tests} promql_expr_test case(s) skipped"
            )?;
        }
        if self.opts.debug {
            dump(&ctx, mint, max_eval, log)?;
        }
        Ok(errors)
    }

    /// The rule groups, in `group_eval_order`. As upstream, a group not
    /// named there ranks with the first one named; ties keep file order.
    fn load_groups(&self, interval: i64) -> Result<Vec<Group>, Vec<String>> {
        let parse = ParseOptions {
            template_check: &check_alert_template,
            ignore_unknown_fields: self.opts.ignore_unknown_fields,
            ..ParseOptions::default()
        };
        let defaults = GroupDefaults {
            interval_ms: interval,
            query_offset_ms: 0,
        };
        let paths: Vec<String> = self
            .rule_files
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        // `restore = false`: alerts write `ALERTS` series from the start.
        let mut groups =
            load_groups_with(&paths, defaults, false, &parse).map_err(|e| match e {
                RulesError::Files(files) => files.0.iter().map(ToString::to_string).collect(),
                other => vec![other.to_string()],
            })?;
        let order: HashMap<&str, usize> = self
            .file
            .group_eval_order
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        groups.sort_by_key(|g| order.get(g.name()).copied().unwrap_or(0));
        Ok(groups)
    }

    /// The latest `eval_time` of any test (ms since the start).
    fn max_eval_time(&self) -> i64 {
        let alerts = self.tg.alert_rule_test.iter().map(|a| a.eval_time.ms());
        let exprs = self.tg.promql_expr_test.iter().map(|p| p.eval_time.ms());
        alerts.chain(exprs).max().unwrap_or(0).max(0)
    }

    /// Checks the alert tests at `eval_time` `t` against the firing alerts
    /// of the rules they name (in every group: a name may repeat).
    fn check_alerts(&self, t: i64, groups: &[Group], errors: &mut Vec<String>) {
        let cases: Vec<_> = self
            .tg
            .alert_rule_test
            .iter()
            .filter(|a| a.eval_time.ms() == t)
            .collect();
        let mut got: HashMap<&str, Vec<AlertEntry>> = HashMap::new();
        for rule in groups.iter().flat_map(|g| g.rules()) {
            let Rule::Alerting(ar) = rule else { continue };
            if !cases.iter().any(|c| c.alertname == ar.name) {
                continue;
            }
            got.entry(ar.name.as_str()).or_default().extend(
                ar.alerts()
                    .into_iter()
                    .filter(|a| a.state == AlertState::Firing)
                    .map(|a| AlertEntry {
                        labels: a.labels.clone(),
                        annotations: Labels::from_pairs(a.annotations.iter()),
                    }),
            );
        }
        for case in cases {
            let mut got = got
                .get(case.alertname.as_str())
                .cloned()
                .unwrap_or_default();
            let mut exp: Vec<AlertEntry> = case
                .exp_alerts
                .iter()
                .map(|a| {
                    let mut labels = a.exp_labels.clone();
                    // Users leave out the name; the rule adds it.
                    labels.insert("alertname".to_string(), case.alertname.clone());
                    AlertEntry {
                        labels: Labels::from_pairs(labels),
                        annotations: Labels::from_pairs(a.exp_annotations.iter()),
                    }
                })
                .collect();
            got.sort();
            exp.sort();
            if exp != got {
                errors.push(alert_mismatch(
                    &self.tg.name,
                    &case.alertname,
                    &case.eval_time.to_string(),
                    (&exp, &got),
                    self.opts.diff,
                ));
            }
        }
    }
}

/// An instant query as tests run it: a vector, or a scalar as one sample
/// without labels.
fn query(ctx: &EvalContext, expr: &str, t: i64) -> Result<Vec<SampleEntry>, String> {
    let parsed = promql::parse(expr).map_err(|e| e.to_string())?;
    Ok(ctx
        .query(&parsed, t)?
        .into_iter()
        .map(|s| SampleEntry {
            labels: s.metric,
            value: s.v,
        })
        .collect())
}

/// The labels of an expected sample; empty text is a sample without
/// labels (what a scalar or `timestamp()` gives).
fn expected_labels(text: &str) -> Result<Labels, String> {
    match text.trim() {
        "" | "{}" => Ok(Labels::default()),
        t => parse_series_labels(t).map_err(|e| e.to_string()),
    }
}

/// `--debug`'s dump of all data, input series and rule output, up to the
/// last evaluation (rounded up to whole seconds).
fn dump(ctx: &EvalContext, mint: i64, max_eval: i64, log: &mut dyn Write) -> io::Result<()> {
    let secs = max_eval / 1000 + 1;
    let expr = format!("{{__name__=~\".+\"}}[{secs}s]");
    let result = promql::parse(&expr)
        .map_err(|e| e.to_string())
        .and_then(|e| {
            ctx.engine
                .instant(ctx.queryable, &e, mint + secs * 1000)
                .map_err(|e| e.to_string())
        });
    let value = match result {
        Ok(r) => r.value,
        Err(e) => {
            return writeln!(
                log,
                "DEBUG: Failed query exec, expr: {}, err: {e}",
                go_quote(expr.as_bytes())
            )
        }
    };
    let Value::Matrix(matrix) = value else {
        return writeln!(log, "DEBUG: Got unexpected type {value:?}");
    };
    writeln!(
        log,
        "DEBUG: Dump of all data (input_series and rules) at {}:",
        go_duration(secs * 1000)
    )?;
    let text: Vec<String> = matrix
        .iter()
        .map(|s| {
            let points: Vec<String> = s
                .points
                .iter()
                .map(|(t, v)| format!("{} @[{t}]", promql::go_float::format_f(*v)))
                .collect();
            format!("{} =>\n{}", go_labels(&s.metric), points.join("\n"))
        })
        .collect();
    writeln!(log, "{}", text.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a unit-test file `test` next to rule file `rules.yml`.
    fn run_texts(test: &str, rules: &str, opts: &RunOptions) -> (Vec<String>, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
        let path = dir.path().join("test.yml");
        std::fs::write(&path, test).unwrap();
        let mut log = Vec::new();
        let errors = run_file(&path, opts, &mut log).unwrap();
        (errors, String::from_utf8(log).unwrap())
    }

    const RULES: &str = r#"groups:
- name: second
  rules:
  - record: doubled
    expr: base * 2
- name: first
  rules:
  - record: base
    expr: vector(1)
  - alert: Up
    expr: up == 1
    for: 2m
    labels: {dc: '{{ $externalLabels.dc }}'}
    annotations: {link: '{{ $externalURL }}/x', value: '{{ $value }}'}
"#;

    #[test]
    fn alerts_fire_after_for_with_external_labels_and_url() {
        let test = r#"rule_files: [rules.yml]
group_eval_order: [first, second]
tests:
- interval: 1m
  external_labels: {dc: eu}
  external_url: http://prom.example
  input_series:
  - series: up{job="a"}
    values: 1x10
  alert_rule_test:
  - eval_time: 1m
    alertname: Up
  - eval_time: 2m30s
    alertname: Up
    exp_alerts:
    - exp_labels: {job: a, dc: eu}
      exp_annotations: {link: http://prom.example/x, value: '1'}
  promql_expr_test:
  - expr: doubled
    eval_time: 0s
    exp_samples:
    - labels: doubled
      value: 2
"#;
        let (errors, log) = run_texts(test, RULES, &RunOptions::default());
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(log, "");

        // File order evaluates `doubled` before `base` exists.
        let (errors, _) = run_texts(
            &test.replace("group_eval_order: [first, second]\n", ""),
            RULES,
            &RunOptions::default(),
        );
        assert_eq!(
            errors,
            ["    expr: \"doubled\", time: 0s,\n        exp: {__name__=\"doubled\"} 2E+00\n        got: nil"]
        );
    }

    #[test]
    fn bad_tests_are_reported() {
        let (errors, _) = run_texts(
            "rule_files: [rules.yml]\ntests:\n- name: t\n  alert_rule_test:\n  - eval_time: 1m\n",
            RULES,
            &RunOptions::default(),
        );
        assert_eq!(
            errors,
            ["an item under alert_rule_test misses required attribute alertname at eval_time 1m (in TestGroup t)"]
        );
        let (errors, _) = run_texts(
            "tests:\n- promql_expr_test:\n  - expr: vector(1)\n    exp_samples: [{labels: 'a{b=~\"c\"}', value: 1}]\n",
            RULES,
            &RunOptions::default(),
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with(
                "    expr: \"vector(1)\", time: 0s, err: labels \"a{b=~\\\"c\\\"}\": "
            ),
            "{errors:?}"
        );
        let (errors, log) = run_texts(
            "rule_files: [none*.yml]\ntests:\n- name: skipped\n  promql_expr_test: [{expr: nope(, eval_time: 0s}]\n",
            RULES,
            &RunOptions {
                run: Some(Regex::new("other").unwrap()),
                ..RunOptions::default()
            },
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(
            log.starts_with("  WARNING: no file match pattern "),
            "{log}"
        );
    }
}
