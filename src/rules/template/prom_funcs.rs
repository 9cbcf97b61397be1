//! The functions Prometheus adds to Go's: `query` and its helpers, the
//! `humanize*` family, regexes, string and URL helpers, and time.

use std::collections::BTreeMap;
#[cfg(test)]
use std::collections::BTreeSet;
use std::rc::Rc;

use regex::Regex;

use super::funcs::{query_escape, string_arg, Call, FnError};
use super::humanize;
use super::value::{Sample, Value};
use super::{QueryFn, QuerySample};

/// Prometheus's functions, bound to one expansion's query callback,
/// evaluation time and URLs.
pub struct PromFuncs<'a> {
    pub query: &'a dyn QueryFn,
    pub time_ms: i64,
    pub external_url: &'a str,
    pub path_prefix: &'a str,
}

/// Names and parameter counts of the functions in [`PromFuncs`].
fn arity(name: &str) -> Option<(usize, bool)> {
    Some(match name {
        "args" => (0, true),
        "now" | "pathPrefix" | "externalURL" => (0, false),
        "label" | "sortByLabel" | "match" => (2, false),
        "reReplaceAll" => (3, false),
        "query" | "first" | "value" | "strvalue" | "safeHtml" | "title" | "toUpper" | "toLower"
        | "graphLink" | "tableLink" | "stripPort" | "stripDomain" | "humanize" | "humanize1024"
        | "humanizeDuration" | "humanizePercentage" | "humanizeTimestamp" | "toTime"
        | "toDuration" | "parseDuration" | "urlQueryEscape" => (1, false),
        _ => return None,
    })
}

/// Whether `name` is a function templates may call (Go's or Prometheus's).
pub fn is_func(name: &str) -> bool {
    super::funcs::arity(name).is_some() || arity(name).is_some()
}

fn call_err<T>(msg: impl Into<String>) -> Result<T, FnError> {
    Err(FnError::Call(msg.into()))
}

fn type_err<T>(want: &str, got: &Value) -> Result<T, FnError> {
    Err(FnError::Type(format!(
        "wrong type for value; expected {want}; got {}",
        got.type_name()
    )))
}

fn samples(v: &Value) -> Result<Rc<Vec<Rc<Sample>>>, FnError> {
    match v {
        Value::Samples(s) => Ok(s.clone()),
        Value::Nil => Ok(Rc::default()),
        other => type_err("template.queryResult", other),
    }
}

/// A `*sample` parameter; nil fails as Go's nil dereference would.
fn sample(v: &Value) -> Result<&Sample, FnError> {
    match v {
        Value::Sample(s) => Ok(s),
        Value::Nil => call_err("runtime error: invalid memory address or nil pointer dereference"),
        other => type_err("*template.sample", other),
    }
}

/// Prometheus's `ConvertToFloat`: numbers, numeric strings, durations.
fn to_float(v: &Value) -> Result<f64, FnError> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Duration(ns) => Ok(*ns as f64 / 1e9),
        Value::Str(s) => parse_go_float(s).ok_or_else(|| {
            FnError::Call(format!(
                "strconv.ParseFloat: parsing {}: invalid syntax",
                super::printf::quote(s)
            ))
        }),
        other => call_err(format!("can't convert {} to float", other.type_name())),
    }
}

/// `strconv.ParseFloat(s, 64)` for the spellings Prometheus emits.
fn parse_go_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    // Rust also reads "infinity" and "nan" in any case, as Go does, but
    // not underscores or hex floats, which no sample value is written as.
    if body.is_empty() || body.contains('_') {
        return None;
    }
    s.parse().ok()
}

impl Call for PromFuncs<'_> {
    fn arity(&self, name: &str) -> Option<(usize, bool)> {
        arity(name)
    }

    fn call(&self, name: &str, a: &[Value]) -> Result<Value, FnError> {
        let str_result = |f: fn(&str) -> String| -> Result<Value, FnError> {
            Ok(Value::str(f(string_arg(&a[0])?)))
        };
        match name {
            "query" => {
                let q = string_arg(&a[0])?;
                let result = self.query.query(q, self.time_ms).map_err(FnError::Call)?;
                let list = result
                    .into_iter()
                    .map(|QuerySample { labels, value }| Rc::new(Sample { labels, value }))
                    .collect();
                Ok(Value::Samples(Rc::new(list)))
            }
            "first" => match samples(&a[0])?.first() {
                Some(s) => Ok(Value::Sample(s.clone())),
                None => call_err("first() called on vector with no elements"),
            },
            "label" => {
                let l = string_arg(&a[0])?;
                let s = sample(&a[1])?;
                Ok(Value::str(s.labels.get(l).map_or("", |v| v.as_str())))
            }
            "value" => Ok(Value::Float(sample(&a[0])?.value)),
            "strvalue" => Ok(Value::str(
                sample(&a[0])?
                    .labels
                    .get("__value__")
                    .map_or("", |v| v.as_str()),
            )),
            "sortByLabel" => {
                let l = string_arg(&a[0])?;
                let mut list: Vec<Rc<Sample>> = samples(&a[1])?.to_vec();
                let key = |s: &Rc<Sample>| s.labels.get(l).cloned().unwrap_or_default();
                list.sort_by_key(key);
                Ok(Value::Samples(Rc::new(list)))
            }
            "args" => {
                let map: BTreeMap<String, Value> = a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("arg{i}"), v.clone()))
                    .collect();
                Ok(Value::Map(Rc::new(map)))
            }
            "reReplaceAll" => {
                let (pattern, repl, text) =
                    (string_arg(&a[0])?, string_arg(&a[1])?, string_arg(&a[2])?);
                let re = compile(pattern)?;
                Ok(Value::str(re.replace_all(text, repl).into_owned()))
            }
            "match" => {
                let (pattern, text) = (string_arg(&a[0])?, string_arg(&a[1])?);
                Ok(Value::Bool(compile(pattern)?.is_match(text)))
            }
            "safeHtml" => str_result(str::to_string),
            "title" => str_result(title),
            "toUpper" => str_result(str::to_uppercase),
            "toLower" => str_result(str::to_lowercase),
            "graphLink" => str_result(|e| format!("/graph?g0.expr={}&g0.tab=0", query_escape(e))),
            "tableLink" => str_result(|e| format!("/graph?g0.expr={}&g0.tab=1", query_escape(e))),
            "urlQueryEscape" => str_result(query_escape),
            "stripPort" => str_result(|hp| match split_host_port(hp) {
                Some((host, _)) => host.to_string(),
                None => hp.to_string(),
            }),
            "stripDomain" => str_result(strip_domain),
            "humanize" => Ok(Value::str(humanize::humanize(to_float(&a[0])?))),
            "humanize1024" => Ok(Value::str(humanize::humanize1024(to_float(&a[0])?))),
            "humanizeDuration" => Ok(Value::str(humanize::humanize_duration(to_float(&a[0])?))),
            "humanizePercentage" => Ok(Value::str(humanize::humanize_percentage(to_float(&a[0])?))),
            "humanizeTimestamp" => humanize::humanize_timestamp(to_float(&a[0])?)
                .map(Value::str)
                .map_err(FnError::Call),
            "toTime" => humanize::float_to_time_ns(to_float(&a[0])?)
                .map(Value::Time)
                .map_err(FnError::Call),
            "toDuration" => Ok(Value::Duration((to_float(&a[0])? * 1e9) as i64)),
            "now" => Ok(Value::Float(self.time_ms as f64 / 1000.0)),
            "pathPrefix" => Ok(Value::str(self.path_prefix)),
            "externalURL" => Ok(Value::str(self.external_url)),
            "parseDuration" => parse_duration(string_arg(&a[0])?)
                .map(Value::Float)
                .map_err(FnError::Call),
            _ => call_err(format!("function {name:?} not defined")),
        }
    }
}

fn compile(pattern: &str) -> Result<Regex, FnError> {
    Regex::new(pattern).map_err(|e| FnError::Call(format!("regexp: Compile({pattern:?}): {e}")))
}

/// Prometheus duration syntax (`1h30m`, `-5m`) to seconds.
fn parse_duration(s: &str) -> Result<f64, String> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let d: crate::config::duration::PromDuration = body
        .parse()
        .map_err(|_| format!("not a valid duration string: {s:?}"))?;
    let secs = d.ms() as f64 / 1000.0;
    Ok(if neg { -secs } else { secs })
}

/// `cases.Title` without lowering: each word's first letter upper-cased.
/// Apostrophes, colons and full stops between letters do not start a word,
/// as Unicode word breaking (which Prometheus relies on) treats them.
fn title(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for (i, &c) in chars.iter().enumerate() {
        let joins = matches!(c, '\'' | '’' | '.' | ':')
            && in_word
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if c.is_alphanumeric() || c == '_' || joins {
            if !in_word {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            in_word = true;
        } else {
            out.push(c);
            in_word = false;
        }
    }
    out
}

/// Go's `net.SplitHostPort`, `None` where it errs.
fn split_host_port(hp: &str) -> Option<(&str, &str)> {
    if let Some(rest) = hp.strip_prefix('[') {
        let end = rest.find(']')?;
        let port = rest[end + 1..].strip_prefix(':')?;
        let host = &rest[..end];
        if host.contains(['[', ']']) || port.contains(['[', ']']) {
            return None;
        }
        return Some((host, port));
    }
    let i = hp.rfind(':')?;
    let (host, port) = (&hp[..i], &hp[i + 1..]);
    if host.contains([':', '[', ']']) || port.contains(['[', ']']) {
        return None;
    }
    Some((host, port))
}

/// `stripDomain`: drops everything after the first dot of a host name,
/// keeping a port; IP addresses stay as they are.
fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or((hp, ""));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hp.to_string();
    }
    let host = host.split('.').next().unwrap_or("");
    match (port.is_empty(), host.contains(':')) {
        (true, _) => host.to_string(),
        (false, true) => format!("[{host}]:{port}"),
        (false, false) => format!("{host}:{port}"),
    }
}

/// Names accepted by [`is_func`], for tests.
#[cfg(test)]
fn names() -> BTreeSet<&'static str> {
    [
        "args",
        "now",
        "pathPrefix",
        "externalURL",
        "label",
        "sortByLabel",
        "match",
        "reReplaceAll",
        "query",
        "first",
        "value",
        "strvalue",
        "safeHtml",
        "title",
        "toUpper",
        "toLower",
        "graphLink",
        "tableLink",
        "stripPort",
        "stripDomain",
        "humanize",
        "humanize1024",
        "humanizeDuration",
        "humanizePercentage",
        "humanizeTimestamp",
        "toTime",
        "toDuration",
        "parseDuration",
        "urlQueryEscape",
    ]
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoQuery;
    impl QueryFn for NoQuery {
        fn query(&self, _: &str, _: i64) -> Result<Vec<QuerySample>, String> {
            Err("no queries here".into())
        }
    }

    fn run(name: &str, args: &[Value]) -> Result<String, String> {
        let f = PromFuncs {
            query: &NoQuery,
            time_ms: 1_500,
            external_url: "http://x:9090/p",
            path_prefix: "/p",
        };
        f.call(name, args)
            .map(|v| v.to_v())
            .map_err(|e| e.message())
    }

    fn s(v: &str) -> Value {
        Value::str(v)
    }

    #[test]
    fn every_name_has_an_arity() {
        for n in names() {
            assert!(arity(n).is_some() && is_func(n), "{n}");
        }
        assert!(!is_func("nope"));
    }

    #[test]
    fn strings_and_hosts() {
        assert_eq!(
            run("title", &[s("foo bar-baz don't a.b")]),
            Ok("Foo Bar-Baz Don't A.b".into())
        );
        assert_eq!(run("toUpper", &[s("aBc")]), Ok("ABC".into()));
        assert_eq!(run("toLower", &[s("aBc")]), Ok("abc".into()));
        assert_eq!(run("safeHtml", &[s("<b>")]), Ok("<b>".into()));
        assert_eq!(
            run("stripPort", &[s("foo.example.com:9090")]),
            Ok("foo.example.com".into())
        );
        assert_eq!(run("stripPort", &[s("[::1]:9090")]), Ok("::1".into()));
        assert_eq!(run("stripPort", &[s("foo")]), Ok("foo".into()));
        assert_eq!(run("stripPort", &[s("::1")]), Ok("::1".into()));
        assert_eq!(
            run("stripDomain", &[s("foo.example.com:9090")]),
            Ok("foo:9090".into())
        );
        assert_eq!(
            run("stripDomain", &[s("foo.example.com")]),
            Ok("foo".into())
        );
        assert_eq!(
            run("stripDomain", &[s("192.168.0.1:9090")]),
            Ok("192.168.0.1:9090".into())
        );
        assert_eq!(
            run("stripDomain", &[s("[2001:db8::1]:80")]),
            Ok("[2001:db8::1]:80".into())
        );
        assert_eq!(run("urlQueryEscape", &[s("a b/c")]), Ok("a+b%2Fc".into()));
        assert_eq!(
            run("graphLink", &[s("up == 0")]),
            Ok("/graph?g0.expr=up+%3D%3D+0&g0.tab=0".into())
        );
        assert_eq!(
            run("tableLink", &[s("up")]),
            Ok("/graph?g0.expr=up&g0.tab=1".into())
        );
        assert_eq!(run("externalURL", &[]), Ok("http://x:9090/p".into()));
        assert_eq!(run("pathPrefix", &[]), Ok("/p".into()));
        assert_eq!(
            run("title", &[Value::Int(1)]),
            Err("wrong type for value; expected string; got int".into())
        );
    }

    #[test]
    fn regexes() {
        assert_eq!(run("match", &[s("^a.c$"), s("abc")]), Ok("true".into()));
        assert_eq!(run("match", &[s("b"), s("abc")]), Ok("true".into()));
        assert_eq!(
            run("reReplaceAll", &[s("(.*):.*"), s("$1"), s("host:9090")]),
            Ok("host".into())
        );
        assert!(run("match", &[s("("), s("x")])
            .unwrap_err()
            .starts_with("regexp: Compile(\"(\")"));
    }

    #[test]
    fn numbers_and_time() {
        assert_eq!(run("humanize", &[s("1234567")]), Ok("1.235M".into()));
        assert_eq!(run("humanize", &[Value::Int(1000)]), Ok("1k".into()));
        assert_eq!(
            run("humanize", &[s("one")]),
            Err("strconv.ParseFloat: parsing \"one\": invalid syntax".into())
        );
        assert_eq!(
            run("humanize", &[Value::Bool(true)]),
            Err("can't convert bool to float".into())
        );
        assert_eq!(run("humanizeDuration", &[s("60.5")]), Ok("1m 0s".into()));
        assert_eq!(run("humanizePercentage", &[s("0.5")]), Ok("50%".into()));
        assert_eq!(run("humanizeTimestamp", &[s("+Inf")]), Ok("+Inf".into()));
        assert_eq!(
            run("humanize1024", &[Value::Float(2048.0)]),
            Ok("2ki".into())
        );
        assert_eq!(
            run("toTime", &[Value::Float(1435065584.128)]),
            Ok("2015-06-23 13:19:44.128 +0000 UTC".into())
        );
        assert_eq!(
            run("toDuration", &[Value::Float(90.5)]),
            Ok("1m30.5s".into())
        );
        assert_eq!(run("now", &[]), Ok("1.5".into()));
        assert_eq!(run("parseDuration", &[s("1h30m")]), Ok("5400".into()));
        assert_eq!(run("parseDuration", &[s("-5m")]), Ok("-300".into()));
        assert_eq!(run("parseDuration", &[s("250ms")]), Ok("0.25".into()));
        assert!(run("parseDuration", &[s("x")]).is_err());
        assert_eq!(
            run("args", &[Value::Int(1), s("a")]),
            Ok("map[arg0:1 arg1:a]".into())
        );
    }
}
