//! A scraped series' final label set: the target's labels merged in
//! (`honor_labels`), then checked against the label limits. Runs only on
//! scrape-cache misses, so clarity beats micro-optimisation here.

use storage::{Label, METRIC_NAME};

use super::error::{truncate, ScrapeError};
use crate::config::NameValidationScheme;

const EXPORTED_PREFIX: &str = "exported_";

/// The job's label limits; 0 means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelLimits {
    pub label_limit: usize,
    pub label_name_length_limit: usize,
    pub label_value_length_limit: usize,
}

/// Index of `name` in the sorted `set`.
fn find(set: &[Label], name: &str) -> Result<usize, usize> {
    set.binary_search_by(|l| l.name.as_str().cmp(name))
}

fn value<'a>(set: &'a [Label], name: &str) -> &'a str {
    find(set, name).map_or("", |i| set[i].value.as_str())
}

fn set_label(set: &mut Vec<Label>, name: &str, value: &str) {
    match find(set, name) {
        Ok(i) => set[i].value = value.to_string(),
        Err(i) => set.insert(i, Label::new(name, value)),
    }
}

/// The first label name that occurs twice in the sorted `set`.
pub(crate) fn duplicate_name(set: &[Label]) -> Option<&str> {
    set.windows(2)
        .find(|w| w[0].name == w[1].name)
        .map(|w| w[0].name.as_str())
}

/// Merges the target's labels into the scraped, name-sorted `set`.
///
/// With `honor_labels` the scraped value wins and target labels only fill
/// names the payload does not have. Without it the target's value wins and
/// a scraped value it displaces is kept as `exported_<name>` (prefixed again
/// while that name is taken), shortest names first, as Prometheus does.
/// Labels with empty values are removed at the end: an empty value means
/// "no such label".
pub(crate) fn merge_target_labels(set: &mut Vec<Label>, target: &[Label], honor_labels: bool) {
    if honor_labels {
        for l in target {
            if let Err(i) = find(set, &l.name) {
                set.insert(i, l.clone());
            }
        }
    } else {
        let mut conflicts: Vec<Label> = Vec::new();
        for l in target {
            let existing = value(set, &l.name);
            // Even an equal value is kept as exported_: Prometheus does so.
            if !existing.is_empty() {
                conflicts.push(Label::new(l.name.clone(), existing));
            }
            set_label(set, &l.name, &l.value);
        }
        conflicts.sort_by_key(|l| l.name.len());
        for c in conflicts {
            let mut name = c.name;
            loop {
                name.insert_str(0, EXPORTED_PREFIX);
                if value(set, &name).is_empty() {
                    set_label(set, &name, &c.value);
                    break;
                }
            }
        }
    }
    set.retain(|l| !l.value.is_empty());
}

/// Fails when the final label set breaks one of the limits, with
/// Prometheus's messages.
pub(crate) fn check_limits(set: &[Label], limits: &LabelLimits) -> Result<(), ScrapeError> {
    let metric = || truncate(value(set, METRIC_NAME), 50);
    if limits.label_limit > 0 && set.len() > limits.label_limit {
        return Err(ScrapeError::LabelLimit {
            metric: metric(),
            count: set.len(),
            limit: limits.label_limit,
        });
    }
    for l in set {
        let n = l.name.len();
        if limits.label_name_length_limit > 0 && n > limits.label_name_length_limit {
            return Err(ScrapeError::LabelNameLengthLimit {
                metric: metric(),
                name: truncate(&l.name, 50),
                length: n,
                limit: limits.label_name_length_limit,
            });
        }
        let v = l.value.len();
        if limits.label_value_length_limit > 0 && v > limits.label_value_length_limit {
            return Err(ScrapeError::LabelValueLengthLimit {
                metric: metric(),
                name: truncate(&l.name, 50),
                value: truncate(&l.value, 50),
                length: v,
                limit: limits.label_value_length_limit,
            });
        }
    }
    Ok(())
}

/// `{__name__="up", job="x"}`, for error messages.
pub(crate) fn format_labels(set: &[Label]) -> String {
    let inner: Vec<String> = set
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, the legacy metric name syntax.
fn is_legacy_metric_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

/// Checks a series' names: a metric name is required, and names must be
/// valid under the job's scheme (UTF-8: non-empty, which Rust strings
/// otherwise guarantee; legacy: the classic character sets).
pub(crate) fn check_valid(set: &[Label], scheme: NameValidationScheme) -> Result<(), ScrapeError> {
    let name = value(set, METRIC_NAME);
    if name.is_empty() {
        return Err(ScrapeError::MissingMetricName);
    }
    let legacy_name_ok = scheme != NameValidationScheme::Legacy || is_legacy_metric_name(name);
    if !legacy_name_ok || set.iter().any(|l| !scheme.is_valid_label_name(&l.name)) {
        return Err(ScrapeError::InvalidLabels(format_labels(set)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(pairs: &[(&str, &str)]) -> Vec<Label> {
        let mut v: Vec<Label> = pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect();
        v.sort();
        v
    }

    #[test]
    fn target_labels_win_and_displaced_values_are_exported() {
        let mut s = ls(&[
            ("__name__", "m"),
            ("job", "scraped"),
            ("instance", "i"),
            ("exported_job", "taken"),
            ("a", ""),
        ]);
        // Sorted by length first: `job` is resolved before `instance`.
        let target = ls(&[("job", "j"), ("instance", "t:1")]);
        merge_target_labels(&mut s, &target, false);
        assert_eq!(
            s,
            ls(&[
                ("__name__", "m"),
                ("exported_exported_job", "scraped"),
                ("exported_instance", "i"),
                ("exported_job", "taken"),
                ("instance", "t:1"),
                ("job", "j"),
            ])
        );
    }

    #[test]
    fn honor_labels_keeps_scraped_values() {
        let mut s = ls(&[("__name__", "m"), ("job", "scraped"), ("instance", "")]);
        let target = ls(&[("job", "j"), ("instance", "t:1"), ("zone", "z")]);
        merge_target_labels(&mut s, &target, true);
        // An empty scraped value still counts as "set", then goes.
        assert_eq!(
            s,
            ls(&[("__name__", "m"), ("job", "scraped"), ("zone", "z")])
        );
    }

    #[test]
    fn limits_use_prometheus_messages() {
        let s = ls(&[("__name__", "m"), ("abc", "vvvv")]);
        let lim = |a, b, c| LabelLimits {
            label_limit: a,
            label_name_length_limit: b,
            label_value_length_limit: c,
        };
        assert!(check_limits(&s, &lim(2, 8, 4)).is_ok());
        assert_eq!(
            check_limits(&s, &lim(1, 0, 0)).unwrap_err().to_string(),
            "label_limit exceeded (metric: m, number of labels: 2, limit: 1)"
        );
        assert_eq!(
            check_limits(&s, &lim(0, 3, 0)).unwrap_err().to_string(),
            "label_name_length_limit exceeded (metric: m, label name: __name__, length: 8, limit: 3)"
        );
        assert_eq!(
            check_limits(&s, &lim(0, 0, 3)).unwrap_err().to_string(),
            "label_value_length_limit exceeded (metric: m, label name: abc, value: \"vvvv\", length: 4, limit: 3)"
        );
    }

    #[test]
    fn validity_and_duplicates() {
        let utf8 = NameValidationScheme::Utf8;
        let legacy = NameValidationScheme::Legacy;
        assert_eq!(
            check_valid(&ls(&[("a", "1")]), utf8),
            Err(ScrapeError::MissingMetricName)
        );
        assert!(check_valid(&ls(&[("__name__", "x")]), utf8).is_ok());
        assert!(check_valid(&ls(&[("__name__", "a:b"), ("l.x", "1")]), utf8).is_ok());
        assert!(check_valid(&ls(&[("__name__", "a:b"), ("l_x", "1")]), legacy).is_ok());
        assert!(check_valid(&ls(&[("__name__", "a.b")]), legacy).is_err());
        assert!(check_valid(&ls(&[("__name__", "ab"), ("l.x", "1")]), legacy).is_err());
        assert_eq!(duplicate_name(&ls(&[("a", "1"), ("a", "2")])), Some("a"));
        assert_eq!(duplicate_name(&ls(&[("a", "1"), ("b", "2")])), None);
        assert_eq!(
            format_labels(&ls(&[("__name__", "x"), ("a", "b")])),
            "{__name__=\"x\", a=\"b\"}"
        );
    }
}
