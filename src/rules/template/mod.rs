//! Alert label and annotation templates: a Go `text/template` interpreter
//! with Prometheus's template functions, so rule files written for
//! Prometheus expand to the same text here.
//!
//! [`Expander`] is the entry point; the other modules are its parts:
//! lexing ([`lex`]), parsing ([`parse`]), running ([`exec`]) over dynamic
//! [`value`]s, Go's builtins ([`funcs`]) and `fmt` ([`printf`]), and
//! Prometheus's functions ([`prom_funcs`], [`humanize`]).

mod error;
mod exec;
mod funcs;
mod gotime;
mod humanize;
mod lex;
mod parse;
mod printf;
mod prom_funcs;
mod value;

use std::collections::BTreeMap;
use std::rc::Rc;

pub use error::{ExecError, ParseError, TemplateError};

/// One sample of a PromQL instant query's result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuerySample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Runs the PromQL instant queries templates make with `query`.
pub trait QueryFn {
    /// Evaluates `q` at `at_ms` (milliseconds since the epoch).
    fn query(&self, q: &str, at_ms: i64) -> Result<Vec<QuerySample>, String>;
}

/// The sample value an alert carries into its templates.
#[derive(Clone, Debug, PartialEq)]
pub enum AlertValue {
    Float(f64),
    /// A value already rendered as text (native histograms, for instance).
    Text(String),
}

/// The data alert templates see as `.` (Prometheus's `AlertTemplateData`).
#[derive(Clone, Debug, PartialEq)]
pub struct AlertData {
    pub labels: BTreeMap<String, String>,
    pub external_labels: BTreeMap<String, String>,
    pub external_url: String,
    pub value: AlertValue,
}

/// The variables Prometheus defines ahead of every alert template, so
/// `$labels.instance` and `$value` work.
const ALERT_DEFS: &str =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// Expands one template, as Prometheus's `template.Expander` does.
pub struct Expander<'a> {
    name: String,
    text: String,
    data: AlertData,
    time_ms: i64,
    query: &'a dyn QueryFn,
    external_url: String,
    path_prefix: String,
}

impl<'a> Expander<'a> {
    /// A template `text` named `name` over `data`, evaluated at `time_ms`.
    pub fn new(
        name: &str,
        text: &str,
        data: AlertData,
        time_ms: i64,
        query: &'a dyn QueryFn,
        external_url: &str,
        path_prefix: &str,
    ) -> Self {
        Expander {
            name: name.to_string(),
            text: text.to_string(),
            data,
            time_ms,
            query,
            external_url: external_url.to_string(),
            path_prefix: path_prefix.to_string(),
        }
    }

    /// An alerting rule's label or annotation template: named
    /// `__alert_<rule>` with `$labels`, `$externalLabels`, `$externalURL`
    /// and `$value` defined, exactly as Prometheus prepares them (so error
    /// positions match too).
    pub fn for_alert(
        rule_name: &str,
        text: &str,
        data: AlertData,
        time_ms: i64,
        query: &'a dyn QueryFn,
        external_url: &str,
        path_prefix: &str,
    ) -> Self {
        let text = format!("{ALERT_DEFS}{text}");
        let name = format!("__alert_{rule_name}");
        Self::new(
            &name,
            &text,
            data,
            time_ms,
            query,
            external_url,
            path_prefix,
        )
    }

    /// Parses the template without running it.
    pub fn parse_check(&self) -> Result<(), TemplateError> {
        self.parse().map(|_| ())
    }

    fn parse(&self) -> Result<parse::Templates, TemplateError> {
        parse::parse(&self.name, &self.text, &prom_funcs::is_func).map_err(|source| {
            TemplateError::Parse {
                name: self.name.clone(),
                source,
            }
        })
    }

    /// Runs the template and returns its text.
    pub fn expand(&self) -> Result<String, TemplateError> {
        let templates = self.parse()?;
        let funcs = prom_funcs::PromFuncs {
            query: self.query,
            time_ms: self.time_ms,
            external_url: &self.external_url,
            path_prefix: &self.path_prefix,
        };
        exec::Exec::new(&templates, &funcs, &self.name, &self.text)
            .run(&self.name, self.data_value())
            .map_err(|source| TemplateError::Exec {
                name: self.name.clone(),
                source,
            })
    }

    fn data_value(&self) -> value::Value {
        use value::Value;
        let d = &self.data;
        Value::Record(Rc::new(vec![
            ("Labels", Value::Labels(Rc::new(d.labels.clone()))),
            (
                "ExternalLabels",
                Value::Labels(Rc::new(d.external_labels.clone())),
            ),
            ("ExternalURL", Value::str(d.external_url.as_str())),
            (
                "Value",
                match &d.value {
                    AlertValue::Float(f) => Value::Float(*f),
                    AlertValue::Text(s) => Value::str(s.as_str()),
                },
            ),
        ]))
    }
}

/// Parses `text` as the label or annotation template of alert `rule_name`
/// (with the same variable header [`Expander::for_alert`] adds) without
/// running it: what rule-file loading checks, as Prometheus rejects a rule
/// whose templates do not parse.
pub fn check_alert_template(rule_name: &str, text: &str) -> Result<(), String> {
    let name = format!("__alert_{rule_name}");
    let text = format!("{ALERT_DEFS}{text}");
    parse::parse(&name, &text, &prom_funcs::is_func)
        .map(|_| ())
        .map_err(|source| TemplateError::Parse { name, source }.to_string())
}

/// The annotation text Prometheus substitutes for a template that failed.
pub fn error_annotation(err: &TemplateError) -> String {
    format!("<error expanding template: {err}>")
}

#[cfg(test)]
mod tests;
