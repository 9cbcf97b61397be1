//! The checks run on a deserialised rule file, in upstream's order so the
//! problems come out in the same order as `promtool check rules` prints
//! them.

use std::collections::HashSet;

use super::locate::KeyPath;
use super::{position, ParseOptions, Problem, Rule, RuleFile, RuleFileError, RuleRef};
use crate::config::NameValidationScheme;

/// Every problem of `file`, whose text is `text` (for positions).
pub(super) fn validate(file: &RuleFile, text: &str, opts: &ParseOptions) -> Vec<RuleFileError> {
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    for (j, group) in file.groups.iter().enumerate() {
        let gpath = KeyPath::default().key("groups").index(j);
        let at = || position(text, &gpath);
        if group.name.is_empty() {
            errors.push(RuleFileError {
                at: at(),
                ..RuleFileError::new(Problem::EmptyGroupName)
            });
        }
        if !names.insert(group.name.as_str()) {
            errors.push(RuleFileError {
                at: at(),
                ..RuleFileError::new(Problem::RepeatedGroupName(group.name.clone()))
            });
        }
        for name in group.labels.keys() {
            if !valid_label_name(name, opts.name_validation) {
                errors.push(RuleFileError {
                    at: position(text, &gpath.key("labels").key(name)),
                    ..RuleFileError::new(Problem::InvalidLabelName(name.clone()))
                });
            }
        }
        for (i, rule) in group.rules.iter().enumerate() {
            let rpath = gpath.key("rules").index(i);
            let rule_ref = RuleRef {
                group: group.name.clone(),
                index: i + 1,
                name: rule.name().to_string(),
            };
            for (problem, nodes) in rule_problems(rule, opts) {
                let mut at = nodes.iter().map(|k| position(text, &rpath.key(k)));
                errors.push(RuleFileError {
                    at: at.next().flatten(),
                    at_alt: at.next().flatten(),
                    rule: Some(rule_ref.clone()),
                    ..RuleFileError::new(problem)
                });
            }
        }
    }
    errors
}

/// A rule's problems, each with the keys whose positions locate it (none
/// where upstream gives no position either).
fn rule_problems(rule: &Rule, opts: &ParseOptions) -> Vec<(Problem, &'static [&'static str])> {
    const BOTH: &[&str] = &["record", "alert"];
    let mut out: Vec<(Problem, &'static [&'static str])> = Vec::new();
    match (&rule.record, &rule.alert) {
        (Some(_), Some(_)) => out.push((Problem::RecordAndAlert, BOTH)),
        (None, None) => out.push((Problem::NoRecordOrAlert, BOTH)),
        _ => {}
    }
    if rule.expr.is_empty() {
        out.push((Problem::NoExpr, &["expr"]));
    } else if let Err(e) = promql::parse(&rule.expr) {
        out.push((Problem::BadExpr(e.to_string()), &["expr"]));
    }
    if let Some(record) = &rule.record {
        let at: &'static [&'static str] = &["record"];
        if !rule.annotations.is_empty() {
            out.push((Problem::AlertFieldInRecordingRule("annotations"), at));
        }
        // Upstream rejects only a non-zero `for` / `keep_firing_for`.
        if rule.for_.is_some_and(|d| d.ms() != 0) {
            out.push((Problem::AlertFieldInRecordingRule("for"), at));
        }
        if rule.keep_firing_for.is_some_and(|d| d.ms() != 0) {
            out.push((Problem::AlertFieldInRecordingRule("keep_firing_for"), at));
        }
        if !valid_metric_name(record, opts.name_validation) {
            out.push((Problem::InvalidRecordName(record.clone()), at));
        }
        // Valid UTF-8 names, but most likely a selector pasted into `record`.
        if record.contains(['{', '}']) {
            out.push((Problem::BracesInRecordName(record.clone()), at));
        }
    }
    for name in rule.labels.keys() {
        if !valid_label_name(name, opts.name_validation) {
            out.push((Problem::InvalidLabelName(name.clone()), &[]));
        }
    }
    for name in rule.annotations.keys() {
        if !opts.name_validation.is_valid_label_name(name) {
            out.push((Problem::InvalidAnnotationName(name.clone()), &[]));
        }
    }
    if let Some(alert) = &rule.alert {
        for (name, template) in &rule.labels {
            if let Err(e) = (opts.template_check)(alert, template) {
                out.push((Problem::LabelTemplate(name.clone(), e), &[]));
            }
        }
        for (name, template) in &rule.annotations {
            if let Err(e) = (opts.template_check)(alert, template) {
                out.push((Problem::AnnotationTemplate(name.clone(), e), &[]));
            }
        }
    }
    out
}

/// Label names in rules: valid under the scheme, and never `__name__`
/// (a rule cannot rename its output through labels).
fn valid_label_name(name: &str, scheme: NameValidationScheme) -> bool {
    scheme.is_valid_label_name(name) && name != "__name__"
}

/// Metric names: label-name rules plus `:` under the legacy scheme.
fn valid_metric_name(name: &str, scheme: NameValidationScheme) -> bool {
    match scheme {
        NameValidationScheme::Utf8 => scheme.is_valid_label_name(name),
        // A colon is the one character a metric name may have beyond a
        // label name's; `_` stands in for it (load time, not a hot path).
        NameValidationScheme::Legacy => scheme.is_valid_label_name(&name.replace(':', "_")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_allow_colons_under_legacy() {
        let legacy = NameValidationScheme::Legacy;
        assert!(valid_metric_name("job:rate5m", legacy));
        assert!(valid_metric_name(":a", legacy));
        assert!(!valid_metric_name("a-b", legacy));
        assert!(!valid_metric_name("1a", legacy));
        assert!(!valid_metric_name("", legacy));
        assert!(valid_metric_name("a-b", NameValidationScheme::Utf8));
        assert!(!valid_metric_name("", NameValidationScheme::Utf8));
    }

    #[test]
    fn label_names_exclude_the_metric_name() {
        assert!(!valid_label_name("__name__", NameValidationScheme::Utf8));
        assert!(valid_label_name("ins-tance", NameValidationScheme::Utf8));
        assert!(!valid_label_name("ins-tance", NameValidationScheme::Legacy));
    }
}
