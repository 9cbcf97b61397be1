//! Go's built-in template functions (`and`, `eq`, `index`, `printf`, ...)
//! and the calling convention all template functions share.

use super::error::ExecError;
use super::printf;
use super::value::Value;

/// Why a function call failed. Go reports argument type mismatches bare
/// and failures inside the function as `error calling NAME: ...`.
#[derive(Debug)]
pub enum FnError {
    Type(String),
    Call(String),
    /// A nested template run (`tmpl`) failed; passed through unchanged.
    Exec(ExecError),
}

impl FnError {
    /// The error's text without Go's `error calling` framing (for tests).
    #[cfg(test)]
    pub fn message(&self) -> String {
        match self {
            FnError::Type(m) | FnError::Call(m) => m.clone(),
            FnError::Exec(e) => e.to_string(),
        }
    }
}

/// A set of template functions beyond Go's builtins.
pub trait Call {
    /// The parameter count and whether the last one is variadic, or `None`
    /// for an unknown name.
    fn arity(&self, name: &str) -> Option<(usize, bool)>;
    /// Calls `name`; the arity has been checked.
    fn call(&self, name: &str, args: &[Value]) -> Result<Value, FnError>;
}

/// The builtins' parameter counts (`(n, true)`: at least `n`).
pub fn arity(name: &str) -> Option<(usize, bool)> {
    Some(match name {
        "and" | "or" | "index" | "slice" | "printf" | "eq" => (1, true),
        "print" | "println" | "html" | "js" | "urlquery" => (0, true),
        "not" | "len" => (1, false),
        "ne" | "lt" | "le" | "gt" | "ge" => (2, false),
        // Prometheus's, but it runs templates so the executor handles it.
        "tmpl" => (2, false),
        _ => return None,
    })
}

/// Runs builtin `name`, or `None` if it is not one.
pub fn call(name: &str, a: &[Value]) -> Option<Result<Value, FnError>> {
    Some(match name {
        "not" => Ok(Value::Bool(!a[0].truth())),
        "len" => len(&a[0]),
        "index" => index(a),
        "slice" => slice(a),
        "print" => Ok(Value::str(printf::sprint(a))),
        "println" => Ok(Value::str(printf::sprintln(a))),
        "printf" => string_arg(&a[0]).map(|f| Value::str(printf::sprintf(f, &a[1..]))),
        "html" => Ok(Value::str(html_escape(&joined(a)))),
        "js" => Ok(Value::str(js_escape(&joined(a)))),
        "urlquery" => Ok(Value::str(query_escape(&joined(a)))),
        "eq" => eq(&a[0], &a[1..]).map(Value::Bool),
        "ne" => eq(&a[0], &a[1..2]).map(|b| Value::Bool(!b)),
        "lt" => lt(&a[0], &a[1]).map(Value::Bool),
        "le" => le(&a[0], &a[1]).map(Value::Bool),
        "gt" => le(&a[0], &a[1]).map(|b| Value::Bool(!b)),
        "ge" => lt(&a[0], &a[1]).map(|b| Value::Bool(!b)),
        _ => return None,
    })
}

/// A `string` parameter.
pub fn string_arg(v: &Value) -> Result<&str, FnError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(FnError::Type(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        ))),
    }
}

/// The escapers' input: a lone string as is, else `fmt.Sprint` of all.
fn joined(a: &[Value]) -> String {
    match a {
        [Value::Str(s)] => s.to_string(),
        _ => printf::sprint(a),
    }
}

fn call_err<T>(msg: impl Into<String>) -> Result<T, FnError> {
    Err(FnError::Call(msg.into()))
}

fn len(v: &Value) -> Result<Value, FnError> {
    let n = match v {
        Value::Str(s) => s.len(),
        Value::Labels(m) => m.len(),
        Value::Map(m) => m.len(),
        Value::Samples(l) => l.len(),
        Value::Nil => return call_err("len of nil pointer"),
        other => return call_err(format!("len of type {}", other.type_name())),
    };
    Ok(Value::Int(n as i64))
}

fn int_index(v: &Value) -> Result<i64, FnError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Nil => call_err("cannot index slice/array with nil"),
        other => call_err(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        )),
    }
}

fn index(a: &[Value]) -> Result<Value, FnError> {
    let mut item = a[0].clone();
    for idx in &a[1..] {
        item = match &item {
            Value::Nil => return call_err("index of untyped nil"),
            Value::Samples(list) => {
                let i = int_index(idx)?;
                match usize::try_from(i).ok().and_then(|i| list.get(i)) {
                    Some(s) => Value::Sample(s.clone()),
                    None => return call_err(format!("index out of range: {i}")),
                }
            }
            Value::Str(s) => {
                let i = int_index(idx)?;
                match usize::try_from(i).ok().and_then(|i| s.as_bytes().get(i)) {
                    Some(b) => Value::Int(*b as i64),
                    None => return call_err(format!("index out of range: {i}")),
                }
            }
            Value::Labels(m) => match idx {
                Value::Str(k) => Value::str(m.get(&**k).map_or("", |s| s.as_str())),
                other => {
                    return call_err(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    ))
                }
            },
            Value::Map(m) => match idx {
                Value::Str(k) => m.get(&**k).cloned().unwrap_or(Value::Nil),
                other => {
                    return call_err(format!(
                        "value has type {}; should be string",
                        other.type_name()
                    ))
                }
            },
            other => return call_err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(a: &[Value]) -> Result<Value, FnError> {
    let item = &a[0];
    let len = match item {
        Value::Str(s) => s.len(),
        Value::Samples(l) => l.len(),
        Value::Nil => return call_err("slice of untyped nil"),
        other => return call_err(format!("can't slice item of type {}", other.type_name())),
    };
    if a.len() > 4 {
        return call_err(format!("too many slice indexes: {}", a.len() - 1));
    }
    if a.len() == 4 && matches!(item, Value::Str(_)) {
        return call_err("cannot 3-index slice a string");
    }
    let mut idx = [0usize, len, len];
    for (i, v) in a[1..].iter().enumerate() {
        let n = int_index(v)?;
        if n < 0 || n as usize > len {
            return call_err(format!("index out of range: {n}"));
        }
        idx[i] = n as usize;
    }
    if idx[0] > idx[1] {
        return call_err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if a.len() == 4 && idx[1] > idx[2] {
        return call_err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::Str(s) => match s.get(idx[0]..idx[1]) {
            Some(sub) => Value::str(sub),
            // Go slices bytes; a cut through a character yields bytes we
            // cannot hold in a Rust string, so replace them.
            None => Value::str(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned()),
        },
        Value::Samples(l) => Value::Samples(std::rc::Rc::new(l[idx[0]..idx[1]].to_vec())),
        _ => unreachable!("checked above"),
    })
}

/// Go's comparison classes: only values of one class compare.
#[derive(PartialEq)]
enum Kind {
    Nil,
    Bool,
    Int,
    Float,
    Str,
}

fn kind(v: &Value) -> Result<Kind, FnError> {
    Ok(match v {
        Value::Nil => Kind::Nil,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        _ => return call_err("invalid type for comparison"),
    })
}

fn eq(a: &Value, rest: &[Value]) -> Result<bool, FnError> {
    let k1 = kind(a)?;
    if rest.is_empty() {
        return call_err("missing argument for comparison");
    }
    for b in rest {
        let k2 = kind(b)?;
        let truth = if k1 != k2 {
            if k1 != Kind::Nil && k2 != Kind::Nil {
                return call_err("incompatible types for comparison");
            }
            false
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Int(x), Value::Int(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                _ => true,
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, FnError> {
    let (k1, k2) = (kind(a)?, kind(b)?);
    if k1 != k2 {
        return call_err("incompatible types for comparison");
    }
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x < y),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::Str(x), Value::Str(y)) => Ok(x < y),
        _ => call_err("invalid type for comparison"),
    }
}

fn le(a: &Value, b: &Value) -> Result<bool, FnError> {
    Ok(lt(a, b)? || eq(a, std::slice::from_ref(b))?)
}

/// Go's `template.HTMLEscapeString`.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' | '>' | '&' | '=' => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if (c as u32) < 0x20 || c.is_control() => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest
/// `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, args: &[Value]) -> Result<String, String> {
        call(name, args)
            .unwrap()
            .map(|v| v.to_v())
            .map_err(|e| e.message())
    }

    fn s(v: &str) -> Value {
        Value::str(v)
    }

    #[test]
    fn comparisons_follow_go() {
        let (i, f) = (Value::Int, Value::Float);
        assert_eq!(run("eq", &[i(1), i(2), i(1)]), Ok("true".into()));
        assert_eq!(run("eq", &[s("a"), s("b")]), Ok("false".into()));
        assert_eq!(
            run("eq", &[f(1.0), i(1)]),
            Err("incompatible types for comparison".into())
        );
        assert_eq!(
            run("eq", &[i(1)]),
            Err("missing argument for comparison".into())
        );
        assert_eq!(run("ne", &[s("a"), s("b")]), Ok("true".into()));
        assert_eq!(run("lt", &[f(1.0), f(2.0)]), Ok("true".into()));
        assert_eq!(run("le", &[i(2), i(2)]), Ok("true".into()));
        assert_eq!(run("gt", &[s("b"), s("a")]), Ok("true".into()));
        assert_eq!(run("ge", &[f(1.0), f(2.0)]), Ok("false".into()));
        // Go's gt is "not less or equal", so NaN compares greater.
        assert_eq!(run("gt", &[f(f64::NAN), f(0.0)]), Ok("true".into()));
        assert_eq!(
            run("lt", &[Value::Bool(true), Value::Bool(false)]),
            Err("invalid type for comparison".into())
        );
    }

    #[test]
    fn collections() {
        let labels: std::collections::BTreeMap<String, String> =
            [("a".to_string(), "x".to_string())].into();
        let m = Value::Labels(std::rc::Rc::new(labels));
        assert_eq!(run("index", &[m.clone(), s("a")]), Ok("x".into()));
        assert_eq!(run("index", &[m.clone(), s("zz")]), Ok("".into()));
        assert_eq!(run("len", &[m]), Ok("1".into()));
        assert_eq!(run("len", &[s("héllo")]), Ok("6".into()));
        assert_eq!(run("len", &[Value::Int(3)]), Err("len of type int".into()));
        assert_eq!(
            run("index", &[Value::Nil, Value::Int(1)]),
            Err("index of untyped nil".into())
        );
        assert_eq!(
            run("slice", &[s("hello"), Value::Int(1), Value::Int(3)]),
            Ok("el".into())
        );
        assert_eq!(
            run("slice", &[s("hello"), Value::Int(9)]),
            Err("index out of range: 9".into())
        );
        assert_eq!(run("not", &[s("")]), Ok("true".into()));
    }

    #[test]
    fn printing_and_escaping() {
        assert_eq!(run("printf", &[s("%d%%"), Value::Int(5)]), Ok("5%".into()));
        assert_eq!(
            run("printf", &[Value::Int(5)]),
            Err("wrong type for value; expected string; got int".into())
        );
        assert_eq!(
            run("print", &[s("a"), Value::Int(1), Value::Int(2)]),
            Ok("a1 2".into())
        );
        assert_eq!(run("println", &[s("a")]), Ok("a\n".into()));
        assert_eq!(
            run("html", &[s("<a href=\"x\">&'")]),
            Ok("&lt;a href=&#34;x&#34;&gt;&amp;&#39;".into())
        );
        assert_eq!(
            run("js", &[s("a'b\"<=>\n")]),
            Ok("a\\'b\\\"\\u003C\\u003D\\u003E\\u000A".into())
        );
        assert_eq!(
            run("urlquery", &[s("a b&c=d/é")]),
            Ok("a+b%26c%3Dd%2F%C3%A9".into())
        );
    }
}
