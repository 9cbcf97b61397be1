//! The unit-test file of `promtool test rules`: which rule files to load,
//! and test groups of input series with expected alerts and query results.
//! Keys are upstream's; unknown keys are errors (upstream decodes these
//! files strictly).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::series::{parse_input_series, SeriesError, SeriesValues};
use crate::config::PromDuration;
use crate::rules::rule_file::yaml;
use promql::Labels;

/// A whole unit-test file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UnitTestFile {
    /// Paths or patterns, relative to the test file's directory.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// Unset: one minute ([`UnitTestFile::evaluation_interval`]).
    #[serde(default)]
    pub evaluation_interval: Option<PromDuration>,
    /// Group names in evaluation order; a group not named here ranks
    /// with the first one named (as upstream), ties in file order.
    #[serde(default)]
    pub group_eval_order: Vec<String>,
    #[serde(default)]
    pub tests: Vec<TestGroup>,
    /// Compare floats with a tolerance instead of exactly.
    #[serde(default)]
    pub fuzzy_compare: bool,
}

/// One test: series loaded at `interval` steps, then checks.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    /// Unset: the file's evaluation interval.
    #[serde(default)]
    pub interval: Option<PromDuration>,
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    #[serde(default)]
    pub alert_rule_test: Vec<AlertTestCase>,
    #[serde(default)]
    pub promql_expr_test: Vec<PromqlTestCase>,
    #[serde(default, deserialize_with = "yaml::text_map")]
    pub external_labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "yaml::text")]
    pub external_url: String,
    /// Unset: reported as `unnamed#N`.
    #[serde(default, deserialize_with = "yaml::text")]
    pub name: String,
    /// The time of the first input sample; unset: the Unix epoch.
    #[serde(default)]
    pub start_timestamp: Option<StartTimestamp>,
}

/// An input series, in the expanding notation (see `super::series`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    #[serde(default, deserialize_with = "yaml::text")]
    pub series: String,
    #[serde(default, deserialize_with = "yaml::text")]
    pub values: String,
}

/// The alerts of one alerting rule expected at one time.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertTestCase {
    /// Since the start of the test.
    #[serde(default)]
    pub eval_time: PromDuration,
    #[serde(default, deserialize_with = "yaml::text")]
    pub alertname: String,
    #[serde(default)]
    pub exp_alerts: Vec<ExpectedAlert>,
}

/// One expected alert: its labels (without `alertname`, which the test
/// adds) and annotations.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAlert {
    #[serde(default, deserialize_with = "yaml::text_map")]
    pub exp_labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "yaml::text_map")]
    pub exp_annotations: BTreeMap<String, String>,
}

/// A query and the samples it should give at one time.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PromqlTestCase {
    #[serde(default, deserialize_with = "yaml::text")]
    pub expr: String,
    #[serde(default)]
    pub eval_time: PromDuration,
    #[serde(default)]
    pub exp_samples: Vec<ExpectedSample>,
}

/// An expected sample: a series description and a value.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSample {
    /// `metric{l="v"}`, parsed with `super::series::parse_series_labels`.
    #[serde(default, deserialize_with = "yaml::text")]
    pub labels: String,
    #[serde(default, deserialize_with = "float")]
    pub value: f64,
    /// A native-histogram value; when set, `value` is ignored.
    #[serde(default, deserialize_with = "yaml::text")]
    pub histogram: String,
}

/// `start_timestamp`: Unix seconds or an RFC 3339 time, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartTimestamp(pub i64);

impl<'de> Deserialize<'de> for StartTimestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = yaml::text(d)?;
        parse_time_ms(&text).map(StartTimestamp).ok_or_else(|| {
            serde::de::Error::custom(format!("cannot parse {text:?} to a valid timestamp"))
        })
    }
}

/// Unix seconds (fractions allowed) or RFC 3339, as promtool reads times.
fn parse_time_ms(text: &str) -> Option<i64> {
    if let Ok(secs) = text.parse::<f64>() {
        return secs.is_finite().then(|| (secs * 1000.0).round() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A float written as a YAML number or as text (`Inf`, `NaN`, `.inf`).
fn float<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<f64, E> {
            let t = s.trim_start_matches(['+', '-']);
            let sign = if s.starts_with('-') { -1.0 } else { 1.0 };
            match t.to_ascii_lowercase().as_str() {
                ".inf" | "inf" => Ok(sign * f64::INFINITY),
                ".nan" | "nan" => Ok(f64::NAN),
                _ => s
                    .parse()
                    .map_err(|_| E::custom(format!("invalid number {s:?}"))),
            }
        }
    }
    d.deserialize_any(V)
}

/// Why a unit-test file cannot be used.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum UnitTestFileError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    /// YAML syntax, an unknown key or a value of the wrong type, with
    /// `line:column` where known.
    #[error("{0}")]
    Yaml(String),
    #[error("group name repeated in evaluation order: {0}")]
    RepeatedGroupInOrder(String),
}

/// Parses a unit-test file's text (its first YAML document).
pub fn parse_unit_test_file(text: &str) -> Result<UnitTestFile, UnitTestFileError> {
    let yaml_error = |e: yaml::YamlError| match e.at {
        Some(at) => UnitTestFileError::Yaml(format!("{at}: {}", e.message)),
        None => UnitTestFileError::Yaml(e.message),
    };
    let doc = yaml::first_document(text).map_err(yaml_error)?;
    let file: UnitTestFile = doc.deserialize(false).map_err(yaml_error)?;
    let mut seen = HashSet::new();
    for name in &file.group_eval_order {
        if !seen.insert(name) {
            return Err(UnitTestFileError::RepeatedGroupInOrder(name.clone()));
        }
    }
    Ok(file)
}

/// Reads and parses a unit-test file.
pub fn load_unit_test_file(path: &Path) -> Result<UnitTestFile, UnitTestFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| UnitTestFileError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    parse_unit_test_file(&text).map_err(|e| match e {
        UnitTestFileError::Yaml(m) => UnitTestFileError::Read {
            path: path.to_path_buf(),
            message: m,
        },
        other => other,
    })
}

impl UnitTestFile {
    /// `evaluation_interval`, one minute when unset (or zero).
    pub fn evaluation_interval(&self) -> PromDuration {
        self.evaluation_interval
            .filter(|d| d.ms() != 0)
            .unwrap_or(PromDuration::from_secs(60))
    }

    /// The rule files, relative paths taken from `base_dir` (the test
    /// file's directory) and patterns expanded; with a warning for each
    /// pattern that matches nothing (upstream goes on without it).
    pub fn resolve_rule_files(&self, base_dir: &Path) -> (Vec<PathBuf>, Vec<String>) {
        let mut files = Vec::new();
        let mut warnings = Vec::new();
        for pattern in &self.rule_files {
            let full = if pattern.is_empty() || Path::new(pattern).is_absolute() {
                PathBuf::from(pattern)
            } else {
                base_dir.join(pattern)
            };
            let matched = crate::config::glob::expand(&full.to_string_lossy());
            if matched.is_empty() {
                warnings.push(format!("no file match pattern {}", full.display()));
            }
            files.extend(matched);
        }
        (files, warnings)
    }
}

impl TestGroup {
    /// `interval`, or `default` (the file's evaluation interval) when unset
    /// or zero.
    pub fn interval_or(&self, default: PromDuration) -> PromDuration {
        self.interval.filter(|d| d.ms() != 0).unwrap_or(default)
    }

    /// The input series, parsed and expanded.
    pub fn parse_input_series(&self) -> Result<Vec<(Labels, SeriesValues)>, SeriesError> {
        self.input_series
            .iter()
            .map(|s| parse_input_series(&s.series, &s.values))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::conformance_dir;
    use crate::rules::unittest::series::SampleValue;

    fn upstream_files() -> Option<Vec<PathBuf>> {
        let dir = conformance_dir()?.join("promtool");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_str().unwrap();
                name.contains("test")
                    || name.starts_with("rules_run")
                    || [
                        "unittest.yml",
                        "long-period.yml",
                        "failing.yml",
                        "bad-input-series.yml",
                    ]
                    .contains(&name)
            })
            .collect();
        files.sort();
        Some(files)
    }

    #[test]
    fn upstream_unit_test_files_parse() {
        let Some(files) = upstream_files() else {
            return;
        };
        assert!(files.len() >= 14, "{files:?}");
        for path in files {
            let name = path.file_name().unwrap().to_str().unwrap();
            let file = load_unit_test_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!file.tests.is_empty(), "{name}");
            let (rule_files, warnings) = file.resolve_rule_files(path.parent().unwrap());
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
            assert_eq!(rule_files.len(), file.rule_files.len(), "{name}");
            for (i, group) in file.tests.iter().enumerate() {
                match (name, group.parse_input_series()) {
                    ("bad-input-series.yml", r) => {
                        assert!(matches!(r, Err(SeriesError::Labels { .. })), "{r:?}")
                    }
                    // Native-histogram series are counted apart until
                    // native histograms exist.
                    ("unittest.yml", Err(SeriesError::Histogram(_))) => {}
                    (_, r) => {
                        r.unwrap_or_else(|e| panic!("{name} test {i}: {e}"));
                    }
                }
            }
        }
    }

    #[test]
    fn keys_are_read() {
        let f = parse_unit_test_file(
            "rule_files: [a.yml]\nevaluation_interval: 30s\ngroup_eval_order: [g1, g2]\nfuzzy_compare: true\ntests:\n- interval: 1m\n  name: t\n  external_labels: {dc: x}\n  external_url: http://h/\n  start_timestamp: '2024-01-01T00:00:00Z'\n  input_series:\n  - series: 'up{job=\"a\"}'\n    values: 0x10\n  - series: b\n    values: 1\n  alert_rule_test:\n  - eval_time: 5m\n    alertname: A\n    exp_alerts:\n    - exp_labels: {severity: page}\n      exp_annotations: {summary: s}\n  promql_expr_test:\n  - expr: up\n    eval_time: 0\n    exp_samples:\n    - labels: 'up{job=\"a\"}'\n      value: 1.5\n    - labels: x\n      value: Inf\n- start_timestamp: 1609459200\n",
        )
        .unwrap();
        assert_eq!(f.rule_files, ["a.yml"]);
        assert_eq!(f.evaluation_interval(), PromDuration::from_secs(30));
        assert_eq!(f.group_eval_order, ["g1", "g2"]);
        assert!(f.fuzzy_compare);
        let t = &f.tests[0];
        assert_eq!(
            t.interval_or(f.evaluation_interval()),
            PromDuration::from_secs(60)
        );
        assert_eq!(t.name, "t");
        assert_eq!(t.external_labels["dc"], "x");
        assert_eq!(t.external_url, "http://h/");
        assert_eq!(t.start_timestamp, Some(StartTimestamp(1_704_067_200_000)));
        // `0x10` keeps its text: zero, eleven times.
        let series = t.parse_input_series().unwrap();
        assert_eq!(series[0].1, vec![Some(SampleValue::Float(0.0)); 11]);
        assert_eq!(series[1].1, [Some(SampleValue::Float(1.0))]);
        let a = &t.alert_rule_test[0];
        assert_eq!(
            (a.eval_time, a.alertname.as_str()),
            (PromDuration::from_secs(300), "A")
        );
        assert_eq!(a.exp_alerts[0].exp_labels["severity"], "page");
        assert_eq!(a.exp_alerts[0].exp_annotations["summary"], "s");
        let p = &t.promql_expr_test[0];
        assert_eq!((p.expr.as_str(), p.eval_time.ms()), ("up", 0));
        assert_eq!(p.exp_samples[0].value, 1.5);
        assert_eq!(p.exp_samples[1].value, f64::INFINITY);
        assert_eq!(
            f.tests[1].start_timestamp,
            Some(StartTimestamp(1_609_459_200_000))
        );
        assert_eq!(
            f.tests[1].interval_or(f.evaluation_interval()),
            PromDuration::from_secs(30)
        );
        assert_eq!(
            parse_unit_test_file("tests: []\n")
                .unwrap()
                .evaluation_interval(),
            PromDuration::from_secs(60)
        );
    }

    #[test]
    fn bad_files_are_errors() {
        let e = parse_unit_test_file("tests:\n- intervall: 1m\n").unwrap_err();
        assert!(
            matches!(&e, UnitTestFileError::Yaml(m) if m.starts_with("2:") && m.contains("intervall")),
            "{e}"
        );
        let e = parse_unit_test_file("group_eval_order: [a, b, a]\n").unwrap_err();
        assert_eq!(e.to_string(), "group name repeated in evaluation order: a");
        assert!(parse_unit_test_file("tests:\n- start_timestamp: soon\n").is_err());
        assert!(parse_unit_test_file("tests: [\n").is_err());
    }
}
