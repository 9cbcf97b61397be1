//! The syntax tree as `/api/v1/parse_query` returns it (the tree view of
//! Prometheus's UI): one object per node, keys in sorted order as Go writes
//! maps, durations and offsets in milliseconds.

use std::io::Write as _;

use promql::ast::{
    At, BinaryExpr, Cardinality, Expr, MatrixSelector, SubqueryExpr, UnaryOp, ValueType,
    VectorSelector,
};
use promql::Matcher;

use super::encode::{push_string, Escaper};

/// The JSON of `expr`'s tree.
pub fn ast_json(expr: &Expr) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    node(&mut out, expr);
    out
}

fn string(out: &mut Vec<u8>, s: &str) {
    push_string(out, s, Escaper::Jsoniter);
}

fn strings(out: &mut Vec<u8>, list: &[String]) {
    out.push(b'[');
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, s);
    }
    out.push(b']');
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Scalar => "scalar",
        ValueType::Vector => "vector",
        ValueType::Matrix => "matrix",
        ValueType::String => "string",
    }
}

fn matchers(out: &mut Vec<u8>, ms: &[Matcher]) {
    out.push(b'[');
    for (i, m) in ms.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        string(out, &m.name);
        let _ = write!(out, ",\"type\":\"{}\",\"value\":", m.op);
        string(out, &m.value);
        out.push(b'}');
    }
    out.push(b']');
}

/// `"startOrEnd":…,"timestamp":…` of an `@` modifier (not adjacent keys in
/// the sorted order, so written separately).
fn start_or_end(at: Option<At>) -> &'static str {
    match at {
        Some(At::Start) => "\"start\"",
        Some(At::End) => "\"end\"",
        _ => "null",
    }
}

fn timestamp(out: &mut Vec<u8>, at: Option<At>) {
    match at {
        Some(At::Timestamp(t)) => {
            let _ = write!(out, "{t}");
        }
        _ => out.extend_from_slice(b"null"),
    }
}

/// Keys of a selector, in order: matchers, name, offset, [range,]
/// startOrEnd, timestamp, type.
fn selector(out: &mut Vec<u8>, vs: &VectorSelector, range: Option<i64>, kind: &str) {
    out.extend_from_slice(b"{\"matchers\":");
    matchers(out, &vs.matchers);
    out.extend_from_slice(b",\"name\":");
    string(out, vs.name.as_deref().unwrap_or(""));
    let _ = write!(out, ",\"offset\":{}", vs.offset);
    if let Some(r) = range {
        let _ = write!(out, ",\"range\":{r}");
    }
    let _ = write!(
        out,
        ",\"startOrEnd\":{},\"timestamp\":",
        start_or_end(vs.at)
    );
    timestamp(out, vs.at);
    let _ = write!(out, ",\"type\":\"{kind}\"}}");
}

fn binary(out: &mut Vec<u8>, b: &BinaryExpr) {
    let _ = write!(out, "{{\"bool\":{},\"lhs\":", b.return_bool);
    node(out, &b.lhs);
    out.extend_from_slice(b",\"matching\":");
    match &b.matching {
        None => out.extend_from_slice(b"null"),
        Some(m) => {
            let card = match m.card {
                Cardinality::OneToOne => "one-to-one",
                Cardinality::ManyToOne => "many-to-one",
                Cardinality::OneToMany => "one-to-many",
                Cardinality::ManyToMany => "many-to-many",
            };
            let _ = write!(out, "{{\"card\":\"{card}\",\"include\":");
            strings(out, &m.include);
            out.extend_from_slice(b",\"labels\":");
            strings(out, &m.labels);
            let _ = write!(out, ",\"on\":{}}}", m.on);
        }
    }
    out.extend_from_slice(b",\"op\":");
    string(out, b.op.as_str());
    out.extend_from_slice(b",\"rhs\":");
    node(out, &b.rhs);
    out.extend_from_slice(b",\"type\":\"binaryExpr\"}");
}

fn subquery(out: &mut Vec<u8>, sq: &SubqueryExpr) {
    out.extend_from_slice(b"{\"expr\":");
    node(out, &sq.expr);
    let _ = write!(
        out,
        ",\"offset\":{},\"range\":{},\"startOrEnd\":{},\"step\":{},\"timestamp\":",
        sq.offset,
        sq.range,
        start_or_end(sq.at),
        sq.step.unwrap_or(0)
    );
    timestamp(out, sq.at);
    out.extend_from_slice(b",\"type\":\"subquery\"}");
}

fn node(out: &mut Vec<u8>, e: &Expr) {
    match e {
        Expr::Number(v) => {
            out.extend_from_slice(b"{\"type\":\"numberLiteral\",\"val\":");
            string(out, &promql::go_float::format_f(*v));
            out.push(b'}');
        }
        // Upstream's grammar folds a sign into a number literal.
        Expr::Unary(op, inner) if matches!(**inner, Expr::Number(_)) => {
            let Expr::Number(v) = **inner else {
                unreachable!("guarded by the match arm")
            };
            node(out, &Expr::Number(if *op == UnaryOp::Neg { -v } else { v }));
        }
        Expr::String(s) => {
            out.extend_from_slice(b"{\"type\":\"stringLiteral\",\"val\":");
            string(out, s);
            out.push(b'}');
        }
        Expr::Vector(vs) => selector(out, vs, None, "vectorSelector"),
        Expr::Matrix(MatrixSelector { vector, range }) => {
            selector(out, vector, Some(*range), "matrixSelector")
        }
        Expr::Subquery(sq) => subquery(out, sq),
        Expr::Paren(inner) => {
            out.extend_from_slice(b"{\"expr\":");
            node(out, inner);
            out.extend_from_slice(b",\"type\":\"parenExpr\"}");
        }
        Expr::Unary(op, inner) => {
            out.extend_from_slice(b"{\"expr\":");
            node(out, inner);
            let sign = if *op == UnaryOp::Neg { "-" } else { "+" };
            let _ = write!(out, ",\"op\":\"{sign}\",\"type\":\"unaryExpr\"}}");
        }
        Expr::Binary(b) => binary(out, b),
        Expr::Aggregate(a) => {
            out.extend_from_slice(b"{\"expr\":");
            node(out, &a.expr);
            out.extend_from_slice(b",\"grouping\":");
            strings(out, &a.grouping);
            out.extend_from_slice(b",\"op\":");
            string(out, a.op.as_str());
            out.extend_from_slice(b",\"param\":");
            match &a.param {
                Some(p) => node(out, p),
                None => out.extend_from_slice(b"null"),
            }
            let _ = write!(out, ",\"type\":\"aggregation\",\"without\":{}}}", a.without);
        }
        Expr::Call(c) => {
            out.extend_from_slice(b"{\"args\":[");
            for (i, a) in c.args.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                node(out, a);
            }
            let f = c.func;
            out.extend_from_slice(b"],\"func\":{\"argTypes\":[");
            for (i, t) in f.arg_types.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = write!(out, "\"{}\"", type_name(*t));
            }
            // Go's `Variadic`: 0 fixed, -1 unlimited, n up to n optional.
            let variadic = f.max_args.map_or(-1, |max| max as i64 - f.min_args as i64);
            out.extend_from_slice(b"],\"name\":");
            string(out, f.name);
            let _ = write!(
                out,
                ",\"returnType\":\"{}\",\"variadic\":{variadic}}},\"type\":\"call\"}}",
                type_name(f.return_type)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn tree(q: &str) -> Value {
        let bytes = ast_json(&promql::parse(q).unwrap());
        let text = String::from_utf8(bytes).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        // serde_json's map is sorted: the same text back means the keys
        // came out sorted, as Go writes maps.
        assert_eq!(serde_json::to_string(&v).unwrap(), text);
        v
    }

    #[test]
    fn selectors_and_literals() {
        let v = tree(r#"up{job="a"} offset 5m"#);
        assert_eq!(v["type"], "vectorSelector");
        assert_eq!(v["name"], "up");
        assert_eq!(v["offset"], 300_000);
        assert_eq!(v["startOrEnd"], Value::Null);
        assert_eq!(v["timestamp"], Value::Null);
        let ms = v["matchers"].as_array().unwrap();
        assert_eq!(ms.len(), 2);
        assert!(ms.contains(&json!({"name":"job","type":"=","value":"a"})));
        assert!(ms.contains(&json!({"name":"__name__","type":"=","value":"up"})));
        assert_eq!(tree(r#"{a=~"x.+"}"#)["name"], "");
        assert_eq!(
            tree("x[5m] @ 100"),
            json!({"matchers":[{"name":"__name__","type":"=","value":"x"}],"name":"x","offset":0,
                "range":300000,"startOrEnd":null,"timestamp":100000,"type":"matrixSelector"})
        );
        assert_eq!(tree("-1.5"), json!({"type":"numberLiteral","val":"-1.5"}));
        assert_eq!(tree("Inf"), json!({"type":"numberLiteral","val":"+Inf"}));
        assert_eq!(tree(r#""s""#), json!({"type":"stringLiteral","val":"s"}));
    }

    #[test]
    fn operators_calls_and_subqueries() {
        let v = tree("sum by (job) (rate(x[1m])) / on (job) group_left (a) -y");
        assert_eq!(v["type"], "binaryExpr");
        assert_eq!(v["op"], "/");
        assert_eq!(v["bool"], false);
        assert_eq!(
            v["matching"],
            json!({"card":"many-to-one","include":["a"],"labels":["job"],"on":true})
        );
        assert_eq!(v["rhs"]["type"], "unaryExpr");
        assert_eq!(v["rhs"]["op"], "-");
        let agg = &v["lhs"];
        assert_eq!(agg["type"], "aggregation");
        assert_eq!(agg["op"], "sum");
        assert_eq!(agg["grouping"], json!(["job"]));
        assert_eq!(agg["param"], Value::Null);
        assert_eq!(agg["without"], false);
        let call = &agg["expr"];
        assert_eq!(
            call["func"],
            json!({"argTypes":["matrix"],"name":"rate","returnType":"vector","variadic":0})
        );
        assert_eq!(call["args"][0]["type"], "matrixSelector");

        assert_eq!(tree("1 + 2")["matching"], Value::Null);
        assert_eq!(
            tree(r#"label_join(x, "d", ",", "a", "b")"#)["func"]["variadic"],
            json!(-1)
        );
        assert_eq!(tree("round(x)")["func"]["variadic"], json!(1));

        let sq = tree("max_over_time((x)[30m:1m] @ start())");
        let sq = &sq["args"][0];
        assert_eq!(sq["type"], "subquery");
        assert_eq!(sq["range"], 1_800_000);
        assert_eq!(sq["step"], 60_000);
        assert_eq!(sq["startOrEnd"], "start");
        assert_eq!(sq["timestamp"], Value::Null);
        assert_eq!(sq["expr"]["type"], "parenExpr");
        assert_eq!(tree("x[5m:]")["step"], 0);
        assert_eq!(
            tree("topk(3, x)")["param"],
            json!({"type":"numberLiteral","val":"3"})
        );
    }
}
