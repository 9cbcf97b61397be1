//! The dynamic values a template computes with, standing in for the Go
//! types Prometheus's templates see (`map[string]string` labels, float64
//! sample values, query results, `*time.Time`, ...).

use std::collections::BTreeMap;
use std::rc::Rc;

use super::gotime;

/// One sample of a `query` result, as templates see it (`.Labels`, `.Value`).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A template value. The variants mirror the Go types the upstream engine
/// meets, because printing, comparison and error messages depend on them.
#[derive(Clone, Debug)]
pub enum Value {
    /// Go's untyped nil (a missing `interface{}` value).
    Nil,
    Bool(bool),
    /// Go `int`: integer constants, `len`, loop indexes.
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    /// `map[string]string`: label sets. Missing keys read as "".
    Labels(Rc<BTreeMap<String, String>>),
    /// `map[string]interface{}` (what `args` builds). Missing keys read as nil.
    Map(Rc<BTreeMap<String, Value>>),
    /// A `query` result (`[]*sample`).
    Samples(Rc<Vec<Rc<Sample>>>),
    Sample(Rc<Sample>),
    /// The alert template data: a Go struct with named fields.
    Record(Rc<Vec<(&'static str, Value)>>),
    /// `*time.Time`, nanoseconds since the epoch, UTC.
    Time(i64),
    /// `*time.Duration`, nanoseconds.
    Duration(i64),
}

impl Value {
    pub fn str(s: impl Into<Rc<str>>) -> Value {
        Value::Str(s.into())
    }

    /// Go's notion of truth for `if`, `with`, `and`, `or`, `not`: the zero
    /// value and empty collections are false; pointers and structs are true.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Labels(m) => !m.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Samples(v) => !v.is_empty(),
            Value::Sample(_) | Value::Record(_) | Value::Time(_) | Value::Duration(_) => true,
        }
    }

    /// The Go type name, as Go's error messages and `%!v(type=...)` show it.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::Labels(_) => "map[string]string".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Samples(_) => "template.queryResult".into(),
            Value::Sample(_) => "*template.sample".into(),
            Value::Time(_) => "*time.Time".into(),
            Value::Duration(_) => "*time.Duration".into(),
            Value::Record(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(name, v)| {
                        let t = match v {
                            // The struct's Value field is declared `interface {}`.
                            _ if *name == "Value" => "interface {}".to_string(),
                            other => other.type_name(),
                        };
                        format!("{name} {t}")
                    })
                    .collect();
                format!("struct {{ {} }}", parts.join("; "))
            }
        }
    }

    /// Go's `%v` spelling. `top` is false inside collections, where Go
    /// would show a pointer's address; we show the pointee instead so output
    /// stays deterministic.
    pub fn write_v(&self, out: &mut String) {
        match self {
            Value::Nil => out.push_str("<nil>"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&super::printf::format_float(*f, 'g', None)),
            Value::Str(s) => out.push_str(s),
            Value::Labels(m) => write_map(out, m.iter(), |v, out| out.push_str(v)),
            Value::Map(m) => write_map(out, m.iter(), |v, out| v.write_v(out)),
            Value::Samples(v) => {
                out.push('[');
                for (i, s) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    Value::Sample(s.clone()).write_v(out);
                }
                out.push(']');
            }
            Value::Sample(s) => {
                out.push('&');
                write_sample(s, out);
            }
            Value::Record(fields) => {
                out.push('{');
                for (i, (_, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_v(out);
                }
                out.push('}');
            }
            Value::Time(ns) => out.push_str(&gotime::time_string(*ns)),
            Value::Duration(ns) => out.push_str(&gotime::duration_string(*ns)),
        }
    }

    /// `%v` as a new string.
    pub fn to_v(&self) -> String {
        let mut s = String::new();
        self.write_v(&mut s);
        s
    }

    /// What `{{ pipeline }}` writes: like `%v`, but a missing value reads
    /// `<no value>` and pointers are followed first (so a sample prints
    /// without the `&`).
    pub fn write_printed(&self, out: &mut String) {
        match self {
            Value::Nil => out.push_str("<no value>"),
            Value::Sample(s) => write_sample(s, out),
            other => other.write_v(out),
        }
    }
}

/// Go's `map[k:v k:v]`, keys in sorted order.
fn write_map<'v, V: 'v>(
    out: &mut String,
    entries: impl Iterator<Item = (&'v String, &'v V)>,
    write: impl Fn(&V, &mut String),
) {
    out.push_str("map[");
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(k);
        out.push(':');
        write(v, out);
    }
    out.push(']');
}

fn write_sample(s: &Sample, out: &mut String) {
    out.push('{');
    Value::Labels(Rc::new(s.labels.clone())).write_v(out);
    out.push(' ');
    Value::Float(s.value).write_v(out);
    out.push('}');
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_follows_go() {
        assert!(!Value::Nil.truth());
        assert!(!Value::str("").truth());
        assert!(Value::str("x").truth());
        assert!(!Value::Int(0).truth());
        assert!(!Value::Float(0.0).truth());
        assert!(Value::Float(f64::NAN).truth());
        assert!(!Value::Labels(Rc::default()).truth());
        assert!(Value::Sample(Rc::new(Sample {
            labels: BTreeMap::new(),
            value: 0.0
        }))
        .truth());
    }

    #[test]
    fn v_spelling_follows_go() {
        let labels: BTreeMap<String, String> = [
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ]
        .into();
        assert_eq!(
            Value::Labels(Rc::new(labels.clone())).to_v(),
            "map[a:1 b:2]"
        );
        assert_eq!(Value::Float(1e6).to_v(), "1e+06");
        assert_eq!(Value::Float(100000.0).to_v(), "100000");
        assert_eq!(Value::Int(42).to_v(), "42");
        let s = Value::Sample(Rc::new(Sample { labels, value: 1.5 }));
        assert_eq!(s.to_v(), "&{map[a:1 b:2] 1.5}");
        let mut printed = String::new();
        s.write_printed(&mut printed);
        assert_eq!(printed, "{map[a:1 b:2] 1.5}");
        let mut nil = String::new();
        Value::Nil.write_printed(&mut nil);
        assert_eq!(nil, "<no value>");
    }
}
