//! The relabeling engine: `relabel_configs` rules compiled once, then
//! applied to label sets (targets before scraping, samples after it).
//!
//! Semantics follow Prometheus's `model/relabel` exactly: source labels
//! missing from the set read as `""`; regexes are anchored as `^(?s:re)$`;
//! setting a label to `""` removes it; `hashmod` takes the last 8 bytes of
//! the MD5 of the joined value as a big-endian integer.

mod md5;
mod template;

use std::fmt::Write as _;
use std::sync::OnceLock;

use regex::Regex;
use storage::Label;

use crate::config::relabel::{DEFAULT_REGEX, DEFAULT_REPLACEMENT, DEFAULT_SEPARATOR};
use crate::config::{NameValidationScheme, RelabelAction, RelabelConfig};

/// Why a rule cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum RelabelError {
    #[error("invalid regex {regex:?}: {reason}")]
    Regex { regex: String, reason: String },
    /// The rule breaks one of Prometheus's rules for its action; `field` is
    /// the offending key when there is one.
    #[error("{message}")]
    Rule {
        field: Option<&'static str>,
        message: String,
    },
}

impl RelabelError {
    /// The YAML key the error is about, if it is about one key.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            RelabelError::Regex { .. } => Some("regex"),
            RelabelError::Rule { field, .. } => *field,
        }
    }
}

/// A rule that failed to compile, with its position in the list.
#[derive(Debug, thiserror::Error)]
#[error("relabel rule {index}: {error}")]
pub struct CompileError {
    pub index: usize,
    #[source]
    pub error: RelabelError,
}

/// A validated rule with its regex compiled, ready for [`process`].
#[derive(Clone, Debug)]
pub struct CompiledRule {
    action: RelabelAction,
    source_labels: Vec<String>,
    separator: String,
    regex: Regex,
    /// `regex` left at its default, which allows the replace fast path.
    default_regex: bool,
    modulus: u64,
    target_label: String,
    replacement: String,
    target_has_ref: bool,
    replacement_has_ref: bool,
    scheme: NameValidationScheme,
}

/// Compiles rules under Prometheus 3's default (UTF-8) name validation.
pub fn compile(rules: &[RelabelConfig]) -> Result<Vec<CompiledRule>, CompileError> {
    compile_with_scheme(rules, NameValidationScheme::Utf8)
}

/// Compiles rules, checking label names under `scheme` (the job's
/// `metric_name_validation_scheme`).
pub fn compile_with_scheme(
    rules: &[RelabelConfig],
    scheme: NameValidationScheme,
) -> Result<Vec<CompiledRule>, CompileError> {
    rules
        .iter()
        .enumerate()
        .map(|(index, rule)| {
            CompiledRule::new(rule, scheme).map_err(|error| CompileError { index, error })
        })
        .collect()
}

impl CompiledRule {
    /// Validates one rule as Prometheus's `relabel.Config.Validate` does and
    /// compiles its regex.
    pub fn new(rule: &RelabelConfig, scheme: NameValidationScheme) -> Result<Self, RelabelError> {
        validate(rule, scheme)?;
        let regex =
            Regex::new(&format!("^(?s:{})$", rule.regex)).map_err(|e| RelabelError::Regex {
                regex: rule.regex.clone(),
                reason: regex_reason(&e),
            })?;
        let target_label = rule.target_label.clone().unwrap_or_default();
        Ok(CompiledRule {
            action: rule.action,
            source_labels: rule.source_labels.clone(),
            separator: rule.separator.clone(),
            regex,
            default_regex: rule.regex == DEFAULT_REGEX,
            modulus: rule.modulus,
            target_has_ref: target_label.contains('$'),
            replacement_has_ref: rule.replacement.contains('$'),
            target_label,
            replacement: rule.replacement.clone(),
            scheme,
        })
    }

    pub fn action(&self) -> RelabelAction {
        self.action
    }
}

/// The one-line reason from the regex crate's multi-line report.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn rule_error(field: Option<&'static str>, message: String) -> RelabelError {
    RelabelError::Rule { field, message }
}

/// Prometheus's checks, in its order so the first error reported matches.
fn validate(rule: &RelabelConfig, scheme: NameValidationScheme) -> Result<(), RelabelError> {
    use RelabelAction::*;
    let action = rule.action;
    let target = rule.target_label.as_deref().unwrap_or("");
    let valid_name = |n: &str| scheme.is_valid_label_name(n);
    let valid_template = |t: &str| match scheme {
        NameValidationScheme::Utf8 => !t.is_empty(),
        NameValidationScheme::Legacy => legacy_template().is_match(t),
    };
    let bad_target = || {
        rule_error(
            Some("target_label"),
            format!("{target:?} is invalid 'target_label' for {action} action"),
        )
    };
    for name in &rule.source_labels {
        if !valid_name(name) {
            return Err(rule_error(
                Some("source_labels"),
                format!("{name:?} is not a valid label name"),
            ));
        }
    }
    if action == HashMod && rule.modulus == 0 {
        return Err(rule_error(
            Some("modulus"),
            "relabel configuration for hashmod requires non-zero modulus".into(),
        ));
    }
    let needs_target = matches!(
        action,
        Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
    );
    if needs_target && target.is_empty() {
        return Err(rule_error(
            Some("target_label"),
            format!("relabel configuration for {action} action requires 'target_label' value"),
        ));
    }
    if action == Replace {
        let ok = if target.contains('$') {
            valid_template(target)
        } else {
            valid_name(target)
        };
        if !ok {
            return Err(bad_target());
        }
    }
    let simple = matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual);
    if simple && !valid_name(target) {
        return Err(bad_target());
    }
    if simple && rule.replacement != DEFAULT_REPLACEMENT {
        return Err(rule_error(
            Some("replacement"),
            format!("'replacement' can not be set for {action} action"),
        ));
    }
    if action == LabelMap && !valid_template(&rule.replacement) {
        return Err(rule_error(
            Some("replacement"),
            format!(
                "{:?} is invalid 'replacement' for {action} action",
                rule.replacement
            ),
        ));
    }
    if action == HashMod && !valid_name(target) {
        return Err(bad_target());
    }
    if matches!(action, KeepEqual | DropEqual)
        && (rule.regex != DEFAULT_REGEX
            || rule.modulus != 0
            || rule.separator != DEFAULT_SEPARATOR
            || rule.replacement != DEFAULT_REPLACEMENT)
    {
        return Err(rule_error(
            None,
            format!(
                "{action} action requires only 'source_labels' and `target_label`, and no other fields"
            ),
        ));
    }
    if matches!(action, LabelDrop | LabelKeep)
        && (!rule.source_labels.is_empty()
            || !target.is_empty()
            || rule.modulus != 0
            || rule.separator != DEFAULT_SEPARATOR
            || rule.replacement != DEFAULT_REPLACEMENT)
    {
        return Err(rule_error(
            None,
            format!("{action} action requires only 'regex', and no other fields"),
        ));
    }
    Ok(())
}

/// A legacy label name in which `$name` / `${name}` references may stand
/// for letters (Prometheus's `relabelTarget`).
fn legacy_template() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{[0-9A-Za-z_]+\}|[0-9A-Za-z_]+))+[0-9A-Za-z_]*)+$")
            .expect("static regex")
    })
}

/// Applies `rules` in order to `labels`. Returns false when a rule drops
/// the set (`keep`, `drop`, `keepequal`, `dropequal`); the labels are then
/// partly relabeled and should be discarded. Otherwise the labels are left
/// sorted by name with no empty values.
///
/// `labels` need not be sorted on entry but names must be unique.
pub fn process(rules: &[CompiledRule], labels: &mut Vec<Label>) -> bool {
    if !labels.windows(2).all(|w| w[0].name <= w[1].name) {
        labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    }
    labels.retain(|l| !l.value.is_empty());
    // Scratch buffers shared by all rules so a pass allocates at most once
    // per buffer rather than once per rule.
    let mut scratch = Scratch::default();
    rules.iter().all(|rule| apply(rule, labels, &mut scratch))
}

#[derive(Default)]
struct Scratch {
    joined: String,
    target: String,
    value: String,
}

fn apply(rule: &CompiledRule, labels: &mut Vec<Label>, s: &mut Scratch) -> bool {
    use RelabelAction::*;
    let val = source_value(rule, labels, &mut s.joined);
    match rule.action {
        Keep => return rule.regex.is_match(val),
        Drop => return !rule.regex.is_match(val),
        KeepEqual => return get(labels, &rule.target_label) == val,
        DropEqual => return get(labels, &rule.target_label) != val,
        Replace => {
            if val.is_empty()
                && rule.default_regex
                && !rule.target_has_ref
                && !rule.replacement_has_ref
            {
                set(labels, &rule.target_label, &rule.replacement);
                return true;
            }
            s.target.clear();
            s.value.clear();
            if rule.target_has_ref || rule.replacement_has_ref {
                let mut locs = rule.regex.capture_locations();
                if rule.regex.captures_read(&mut locs, val).is_none() {
                    return true;
                }
                template::expand(&rule.target_label, val, &rule.regex, &locs, &mut s.target);
                template::expand(&rule.replacement, val, &rule.regex, &locs, &mut s.value);
            } else {
                if !rule.regex.is_match(val) {
                    return true;
                }
                s.target.push_str(&rule.target_label);
                s.value.push_str(&rule.replacement);
            }
            if !rule.scheme.is_valid_label_name(&s.target) {
                return true;
            }
            set(labels, &s.target, &s.value);
        }
        Lowercase | Uppercase => {
            s.value.clear();
            let upper = rule.action == Uppercase;
            s.value.extend(val.chars().map(|c| simple_case(c, upper)));
            set(labels, &rule.target_label, &s.value);
        }
        HashMod => {
            let digest = md5::digest(val.as_bytes());
            let mut tail = [0u8; 8];
            tail.copy_from_slice(&digest[8..]);
            let m = u64::from_be_bytes(tail) % rule.modulus;
            s.value.clear();
            let _ = write!(s.value, "{m}");
            set(labels, &rule.target_label, &s.value);
        }
        LabelMap => {
            let mut locs = rule.regex.capture_locations();
            let mut renamed = Vec::new();
            for l in labels.iter() {
                if rule.regex.captures_read(&mut locs, &l.name).is_none() {
                    continue;
                }
                let mut name = String::new();
                template::expand(&rule.replacement, &l.name, &rule.regex, &locs, &mut name);
                if rule.scheme.is_valid_label_name(&name) {
                    renamed.push(Label {
                        name,
                        value: l.value.clone(),
                    });
                }
            }
            for l in renamed {
                set(labels, &l.name, &l.value);
            }
        }
        LabelDrop => labels.retain(|l| !rule.regex.is_match(&l.name)),
        LabelKeep => labels.retain(|l| rule.regex.is_match(&l.name)),
    }
    true
}

/// The source labels' values joined by the separator, borrowed straight
/// from the set when there is a single source label.
fn source_value<'a>(rule: &CompiledRule, labels: &'a [Label], buf: &'a mut String) -> &'a str {
    match rule.source_labels.as_slice() {
        [] => "",
        [one] => get(labels, one),
        many => {
            buf.clear();
            for (i, name) in many.iter().enumerate() {
                if i > 0 {
                    buf.push_str(&rule.separator);
                }
                buf.push_str(get(labels, name));
            }
            buf
        }
    }
}

/// Go's `unicode.ToLower`/`ToUpper`: one rune maps to one rune, so a
/// character whose full case mapping is longer (`ß` → `SS`) is kept.
fn simple_case(c: char, upper: bool) -> char {
    fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
        let first = it.next()?;
        it.next().is_none().then_some(first)
    }
    let mapped = if upper {
        single(c.to_uppercase())
    } else {
        single(c.to_lowercase())
    };
    mapped.unwrap_or(c)
}

fn find(labels: &[Label], name: &str) -> Result<usize, usize> {
    labels.binary_search_by(|l| l.name.as_str().cmp(name))
}

fn get<'a>(labels: &'a [Label], name: &str) -> &'a str {
    match find(labels, name) {
        Ok(i) => &labels[i].value,
        Err(_) => "",
    }
}

/// Sets `name` to `value` keeping the set sorted; an empty value removes
/// the label. An existing value's buffer is reused.
fn set(labels: &mut Vec<Label>, name: &str, value: &str) {
    match find(labels, name) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => {
            let v = &mut labels[i].value;
            v.clear();
            v.push_str(value);
        }
        Err(_) if value.is_empty() => {}
        Err(i) => labels.insert(i, Label::new(name, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
        pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect()
    }

    fn rules(yaml: &str) -> Vec<CompiledRule> {
        let cfgs: Vec<RelabelConfig> = serde_yaml_ng::from_str(yaml).unwrap();
        compile(&cfgs).unwrap()
    }

    /// Runs `yaml` rules on `input`; `None` when the set is dropped.
    fn run(yaml: &str, input: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        let mut ls = labels(input);
        process(&rules(yaml), &mut ls).then(|| {
            ls.into_iter()
                .map(|l| (l.name, l.value))
                .collect::<Vec<_>>()
        })
    }

    fn owned(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn compile_err(yaml: &str) -> String {
        let cfgs: Vec<RelabelConfig> = serde_yaml_ng::from_str(yaml).unwrap();
        compile(&cfgs).unwrap_err().error.to_string()
    }

    #[test]
    fn replace_with_groups_and_templates() {
        let out = run(
            "- {source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch${1}'}",
            &[("a", "foo"), ("b", "bar")],
        );
        assert_eq!(
            out,
            owned(&[("a", "foo"), ("b", "bar"), ("d", "choo-choo")])
        );
        // Several sources joined by the separator; named groups.
        let out = run(
            "- {source_labels: [a, b], separator: '|', regex: '(?P<x>[a-z]+)\\|(.*)', target_label: 'c', replacement: '$x/$2'}",
            &[("a", "foo"), ("b", "bar")],
        );
        assert_eq!(out, owned(&[("a", "foo"), ("b", "bar"), ("c", "foo/bar")]));
        // Target label from a template.
        let out = run(
            "- {source_labels: [a], regex: '(\\w+)=(\\w+)', target_label: 'x_${1}', replacement: '$2'}",
            &[("a", "color=red")],
        );
        assert_eq!(out, owned(&[("a", "color=red"), ("x_color", "red")]));
    }

    #[test]
    fn replace_not_matching_changes_nothing() {
        let out = run(
            "- {source_labels: [a], regex: f, target_label: b, replacement: bar}",
            &[("a", "boo")],
        );
        assert_eq!(out, owned(&[("a", "boo")]));
    }

    #[test]
    fn replace_with_empty_result_removes_the_label() {
        let out = run(
            "- {source_labels: [a], regex: '(f).*', target_label: b, replacement: '$2'}",
            &[("a", "foo"), ("b", "x")],
        );
        assert_eq!(out, owned(&[("a", "foo")]));
        // A target expanding to an invalid (empty) name is a no-op.
        let out = run(
            "- {source_labels: [a], regex: '(f).*', target_label: '$2', replacement: '$1'}",
            &[("a", "foo")],
        );
        assert_eq!(out, owned(&[("a", "foo")]));
    }

    #[test]
    fn missing_source_labels_read_as_empty() {
        // The fast path: default regex, empty value, literal replacement.
        let out = run(
            "- {source_labels: [missing], target_label: env, replacement: prod}",
            &[("a", "1")],
        );
        assert_eq!(out, owned(&[("a", "1"), ("env", "prod")]));
        let out = run(
            "- {source_labels: [missing, a], regex: ';(.*)', target_label: b}",
            &[("a", "1")],
        );
        assert_eq!(out, owned(&[("a", "1"), ("b", "1")]));
        // `$1` of an empty match removes the target.
        let out = run(
            "- {source_labels: [missing], target_label: a}",
            &[("a", "1")],
        );
        assert_eq!(out, owned(&[]));
    }

    #[test]
    fn regex_is_anchored_and_dot_matches_newline() {
        assert_eq!(
            run(
                "- {source_labels: [a], regex: oo, action: keep}",
                &[("a", "foo")]
            ),
            None
        );
        assert!(run(
            "- {source_labels: [a], regex: 'f.*', action: keep}",
            &[("a", "foo\nbar")]
        )
        .is_some());
        assert!(run(
            "- {source_labels: [a], regex: 'a|b', action: keep}",
            &[("a", "ab")]
        )
        .is_none());
    }

    #[test]
    fn keep_and_drop() {
        let keep = "- {source_labels: [job], regex: 'node|api', action: keep}";
        assert!(run(keep, &[("job", "node")]).is_some());
        assert!(run(keep, &[("job", "db")]).is_none());
        assert!(run(keep, &[]).is_none());
        let drop = "- {source_labels: [__name__], regex: 'go_.*', action: drop}";
        assert!(run(drop, &[("__name__", "go_goroutines")]).is_none());
        assert!(run(drop, &[("__name__", "up")]).is_some());
    }

    #[test]
    fn keepequal_and_dropequal() {
        let keep = "- {source_labels: [__tmp_port], target_label: port, action: keepequal}";
        assert!(run(keep, &[("__tmp_port", "80"), ("port", "80")]).is_some());
        assert!(run(keep, &[("__tmp_port", "80"), ("port", "81")]).is_none());
        // Both missing: "" == "".
        assert!(run(keep, &[("x", "1")]).is_some());
        let drop = "- {source_labels: [a], target_label: b, action: dropequal}";
        assert!(run(drop, &[("a", "1"), ("b", "1")]).is_none());
        assert!(run(drop, &[("a", "1"), ("b", "2")]).is_some());
    }

    #[test]
    fn hashmod_matches_prometheus() {
        let out = run(
            "- {source_labels: [c], target_label: d, modulus: 1000, action: hashmod}",
            &[("a", "foo"), ("b", "bar"), ("c", "baz")],
        );
        assert_eq!(
            out,
            owned(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")])
        );
        let out = run(
            "- {source_labels: [a], target_label: b, modulus: 1000, action: hashmod}",
            &[("a", "foo\nbar")],
        );
        assert_eq!(out, owned(&[("a", "foo\nbar"), ("b", "734")]));
        // The full 64-bit value, checked against an independent MD5.
        let out = run(
            "- {source_labels: [a], target_label: h, modulus: 18446744073709551615, action: hashmod}",
            &[("a", "baz")],
        );
        assert_eq!(out, owned(&[("a", "baz"), ("h", "16450797887570275976")]));
    }

    #[test]
    fn labelmap_copies_matching_labels() {
        let out = run(
            "- {regex: '(b.*)', replacement: 'bar_${1}', action: labelmap}",
            &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        );
        assert_eq!(
            out,
            owned(&[
                ("a", "foo"),
                ("b1", "bar"),
                ("b2", "baz"),
                ("bar_b1", "bar"),
                ("bar_b2", "baz"),
            ])
        );
        let out = run(
            "- {regex: '__meta_(my.*)', action: labelmap}",
            &[
                ("__meta_my_bar", "aaa"),
                ("__meta_other", "x"),
                ("a", "foo"),
            ],
        );
        assert_eq!(
            out,
            owned(&[
                ("__meta_my_bar", "aaa"),
                ("__meta_other", "x"),
                ("a", "foo"),
                ("my_bar", "aaa"),
            ])
        );
    }

    #[test]
    fn labeldrop_and_labelkeep() {
        let input = [("a", "foo"), ("b1", "bar"), ("b2", "baz")];
        assert_eq!(
            run("- {regex: 'b.*', action: labeldrop}", &input),
            owned(&[("a", "foo")])
        );
        assert_eq!(
            run("- {regex: 'b.*', action: labelkeep}", &input),
            owned(&[("b1", "bar"), ("b2", "baz")])
        );
    }

    #[test]
    fn lowercase_and_uppercase() {
        let out = run(
            "- {source_labels: [a], target_label: low, action: lowercase}\n- {source_labels: [a], target_label: up, action: uppercase}",
            &[("a", "AbCd-Éé-ß")],
        );
        assert_eq!(
            out,
            owned(&[
                ("a", "AbCd-Éé-ß"),
                ("low", "abcd-éé-ß"),
                ("up", "ABCD-ÉÉ-ß")
            ])
        );
    }

    #[test]
    fn tmp_labels_carry_values_between_rules() {
        let yaml = "
- {source_labels: [__address__], regex: '(.*):\\d+', target_label: __tmp_host}
- {source_labels: [__tmp_host], target_label: host}
- {regex: '__tmp_.*', action: labeldrop}";
        assert_eq!(
            run(yaml, &[("__address__", "db1:9100")]),
            owned(&[("__address__", "db1:9100"), ("host", "db1")])
        );
    }

    #[test]
    fn rules_stop_at_the_first_drop_and_output_is_sorted() {
        let yaml = "
- {target_label: zz, replacement: last}
- {target_label: aa, replacement: first}
- {source_labels: [aa], regex: first, action: drop}
- {target_label: never, replacement: x}";
        assert_eq!(run(yaml, &[("m", "1")]), None);
        let mut ls = labels(&[("z", "1"), ("a", "2"), ("e", "")]);
        assert!(process(
            &rules("- {target_label: m, replacement: x}"),
            &mut ls
        ));
        assert_eq!(ls, labels(&[("a", "2"), ("m", "x"), ("z", "1")]));
    }

    #[test]
    fn validation_matches_prometheus() {
        for (yaml, want) in [
            (
                "- {action: hashmod, target_label: a}",
                "requires non-zero modulus",
            ),
            (
                "- {action: replace}",
                "replace action requires 'target_label' value",
            ),
            (
                "- {action: uppercase, source_labels: [a]}",
                "requires 'target_label'",
            ),
            (
                "- {action: keepequal, source_labels: [a]}",
                "requires 'target_label'",
            ),
            (
                "- {action: lowercase, source_labels: [a], target_label: b, replacement: x}",
                "'replacement' can not be set for lowercase action",
            ),
            (
                "- {action: keepequal, source_labels: [a], target_label: b, regex: x}",
                "keepequal action requires only 'source_labels' and `target_label`",
            ),
            (
                "- {action: labeldrop, regex: a, source_labels: [b]}",
                "labeldrop action requires only 'regex', and no other fields",
            ),
            (
                "- {action: labelkeep, regex: a, target_label: b}",
                "labelkeep action requires only 'regex'",
            ),
            (
                "- {action: labelmap, replacement: ''}",
                "\"\" is invalid 'replacement' for labelmap action",
            ),
            (
                "- {source_labels: [a], regex: '(', action: keep}",
                "invalid regex \"(\"",
            ),
            (
                "- {source_labels: [''], action: keep}",
                "\"\" is not a valid label name",
            ),
        ] {
            let e = compile_err(yaml);
            assert!(e.contains(want), "{yaml}: {e}");
        }
        let e = compile(&[]).map(|r| r.len()).unwrap();
        assert_eq!(e, 0);
    }

    #[test]
    fn legacy_scheme_restricts_names() {
        let parse = |y: &str| serde_yaml_ng::from_str::<Vec<RelabelConfig>>(y).unwrap();
        let legacy = NameValidationScheme::Legacy;
        for ok in [
            "- {target_label: 'a_${1}', source_labels: [x]}",
            "- {target_label: '${1}', source_labels: [x]}",
            "- {action: labelmap, regex: 'x_(.*)', replacement: 'y_$1'}",
        ] {
            assert!(compile_with_scheme(&parse(ok), legacy).is_ok(), "{ok}");
        }
        for bad in [
            "- {target_label: 'a.b', source_labels: [x]}",
            "- {target_label: '1a'}",
            "- {target_label: 'a-${1}'}",
            "- {action: hashmod, target_label: 'a-b', modulus: 2}",
            "- {source_labels: ['a.b'], action: keep}",
        ] {
            assert!(compile_with_scheme(&parse(bad), legacy).is_err(), "{bad}");
        }
        // Under UTF-8 any non-empty target is accepted.
        assert!(compile(&parse("- {target_label: 'a.b', source_labels: [x]}")).is_ok());
        // A relabeled target that is not a valid legacy name is skipped.
        let rs = compile_with_scheme(
            &parse("- {source_labels: [x], regex: '(.*)', target_label: 'l_${1}', replacement: v}"),
            legacy,
        )
        .unwrap();
        let mut ls = labels(&[("x", "a.b")]);
        assert!(process(&rs, &mut ls));
        assert_eq!(ls, labels(&[("x", "a.b")]));
    }

    proptest::proptest! {
        /// Whatever the rules do, a kept set comes back sorted by name,
        /// with unique names and no empty values.
        #[test]
        fn output_is_always_a_valid_label_set(
            input in proptest::collection::btree_map("[a-c_]{1,3}", "[a-c]{0,2}", 0..6),
            picks in proptest::collection::vec(0usize..10, 0..6),
        ) {
            const RULES: [&str; 10] = [
                "{source_labels: [a], target_label: b}",
                "{source_labels: [a, b], regex: '(.*);(.*)', target_label: '${2}x', replacement: '$1'}",
                "{regex: '(.)(.*)', replacement: 'm_$2', action: labelmap}",
                "{regex: 'a.*', action: labeldrop}",
                "{regex: '[bc_].*', action: labelkeep}",
                "{source_labels: [c], target_label: h, modulus: 3, action: hashmod}",
                "{source_labels: [a], target_label: a, action: uppercase}",
                "{source_labels: [missing], target_label: c}",
                "{source_labels: [b], regex: 'c+', action: drop}",
                "{target_label: z, replacement: ''}",
            ];
            let yaml: String = picks.iter().map(|&i| format!("- {}\n", RULES[i])).collect();
            let rules = if yaml.is_empty() { Vec::new() } else { rules(&yaml) };
            let mut ls: Vec<Label> = input.iter().rev().map(|(n, v)| Label::new(n.clone(), v.clone())).collect();
            if process(&rules, &mut ls) {
                proptest::prop_assert!(ls.windows(2).all(|w| w[0].name < w[1].name), "{:?}", ls);
                proptest::prop_assert!(ls.iter().all(|l| !l.value.is_empty() && !l.name.is_empty()), "{:?}", ls);
            }
        }
    }
}
