//! Prints an [`Expr`] in Prometheus's canonical form (its `String()`), such
//! that parsing the output gives back the same tree.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::{
    AggregateExpr, At, BinaryExpr, Cardinality, Expr, MatrixSelector, SubqueryExpr, VectorSelector,
};
use crate::parser::literal::{format_duration, format_float, quote};
use storage::{MatchOp, Matcher};

/// Words that cannot be written bare as a metric name: keywords the parser
/// never reads as one, and words the lexer turns into other tokens.
fn is_reserved(word: &str) -> bool {
    let w = word.to_ascii_lowercase();
    matches!(
        w.as_str(),
        "on" | "ignoring" | "group_left" | "group_right" | "bool" | "atan2" | "inf" | "nan"
    )
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` and not a keyword.
fn is_bare_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        && !is_reserved(s)
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_bare_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A label name, quoted when it is not a plain identifier.
fn label_name(s: &str) -> String {
    if is_bare_label_name(s) {
        s.to_string()
    } else {
        quote(s)
    }
}

fn label_list(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| label_name(l))
        .collect::<Vec<_>>()
        .join(", ")
}

fn matcher(m: &Matcher) -> String {
    format!("{}{}{}", label_name(&m.name), m.op, quote(&m.value))
}

fn write_modifiers(f: &mut Formatter<'_>, offset: i64, at: Option<At>) -> fmt::Result {
    match at {
        Some(At::Timestamp(ms)) => {
            let sign = if ms < 0 { "-" } else { "" };
            let abs = ms.unsigned_abs();
            write!(f, " @ {sign}{}.{:03}", abs / 1000, abs % 1000)?;
        }
        Some(At::Start) => f.write_str(" @ start()")?,
        Some(At::End) => f.write_str(" @ end()")?,
        None => {}
    }
    if offset != 0 {
        write!(f, " offset {}", format_duration(offset))?;
    }
    Ok(())
}

/// The selector without its offset and `@`.
fn write_selector(f: &mut Formatter<'_>, v: &VectorSelector) -> fmt::Result {
    let mut rest: Vec<String> = Vec::with_capacity(v.matchers.len());
    let mut skipped_name = false;
    let bare = v.name.as_deref().filter(|n| is_bare_metric_name(n));
    for m in &v.matchers {
        let is_name = m.name == "__name__" && m.op == MatchOp::Equal;
        if !skipped_name && is_name && bare == Some(m.value.as_str()) {
            skipped_name = true;
            continue;
        }
        if is_name && Some(m.value.as_str()) == v.name.as_deref() && bare.is_none() && !skipped_name
        {
            // A name that cannot be written bare goes first, quoted alone.
            skipped_name = true;
            rest.insert(0, quote(&m.value));
            continue;
        }
        rest.push(matcher(m));
    }
    if let (Some(n), true) = (bare, skipped_name) {
        f.write_str(n)?;
        if rest.is_empty() {
            return Ok(());
        }
    }
    write!(f, "{{{}}}", rest.join(", "))
}

/// `<op>[ bool][ on (…)][ group_left (…)]`: a binary operator with its
/// modifiers.
pub(crate) fn binary_operator(b: &BinaryExpr) -> String {
    let mut s = String::from(b.op.as_str());
    if b.return_bool {
        s.push_str(" bool");
    }
    if let Some(m) = &b.matching {
        let grouped = matches!(m.card, Cardinality::ManyToOne | Cardinality::OneToMany);
        if m.on || !m.labels.is_empty() || grouped {
            let kw = if m.on { "on" } else { "ignoring" };
            let _ = write!(s, " {kw} ({})", label_list(&m.labels));
        }
        if grouped {
            let side = if m.card == Cardinality::ManyToOne {
                "left"
            } else {
                "right"
            };
            let _ = write!(s, " group_{side} ({})", label_list(&m.include));
        }
    }
    s
}

/// `sum`, `sum by (a) ` or `sum without (a) `: what precedes the
/// parenthesised arguments of an aggregation.
pub(crate) fn aggregate_prefix(a: &AggregateExpr) -> String {
    let mut s = String::from(a.op.as_str());
    if a.without {
        let _ = write!(s, " without ({}) ", label_list(&a.grouping));
    } else if !a.grouping.is_empty() {
        let _ = write!(s, " by ({}) ", label_list(&a.grouping));
    }
    s
}

/// `[range:step]` with `@` and `offset`: what follows a subquery's
/// expression.
pub(crate) fn subquery_suffix(sq: &SubqueryExpr) -> String {
    struct Suffix<'a>(&'a SubqueryExpr);
    impl Display for Suffix<'_> {
        fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
            let sq = self.0;
            let step = sq.step.map(format_duration).unwrap_or_default();
            write!(f, "[{}:{step}]", format_duration(sq.range))?;
            write_modifiers(f, sq.offset, sq.at)
        }
    }
    Suffix(sq).to_string()
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(n) => f.write_str(&format_float(*n)),
            Expr::String(s) => f.write_str(&quote(s)),
            Expr::Vector(v) => {
                write_selector(f, v)?;
                write_modifiers(f, v.offset, v.at)
            }
            Expr::Matrix(MatrixSelector { vector, range }) => {
                write_selector(f, vector)?;
                write!(f, "[{}]", format_duration(*range))?;
                write_modifiers(f, vector.offset, vector.at)
            }
            Expr::Subquery(sq) => write!(f, "{}{}", sq.expr, subquery_suffix(sq)),
            Expr::Paren(e) => write!(f, "({e})"),
            Expr::Unary(op, e) => {
                let sign = match op {
                    crate::ast::UnaryOp::Neg => '-',
                    crate::ast::UnaryOp::Pos => '+',
                };
                write!(f, "{sign}{e}")
            }
            Expr::Binary(b) => {
                // Walk the left spine iteratively: long `a + b + c + …`
                // chains are deep on the left and would exhaust the stack.
                let mut spine = vec![b];
                while let Expr::Binary(inner) = spine.last().map_or(self, |b| &*b.lhs) {
                    spine.push(inner);
                }
                write!(f, "{}", spine.last().map_or(self, |b| &*b.lhs))?;
                for b in spine.iter().rev() {
                    write!(f, " {} {}", binary_operator(b), b.rhs)?;
                }
                Ok(())
            }
            Expr::Aggregate(a) => {
                write!(f, "{}(", aggregate_prefix(a))?;
                if let Some(p) = &a.param {
                    write!(f, "{p}, ")?;
                }
                write!(f, "{})", a.expr)
            }
            Expr::Call(c) => {
                write!(f, "{}(", c.func.name)?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_char(')')
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[track_caller]
    fn canon(q: &str, want: &str) {
        let e = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(e.to_string(), want, "{q}");
        assert_eq!(parse(want).unwrap(), e, "{want}");
    }

    #[test]
    fn canonical_forms() {
        canon(
            "sum(rate(foo{a='b'}[5m])) by (job)",
            "sum by (job) (rate(foo{a=\"b\"}[5m]))",
        );
        canon("a+on(x)group_left(y)b", "a + on (x) group_left (y) b");
        canon("a > bool ignoring(x) b", "a > bool ignoring (x) b");
        canon("a and on() b", "a and on () b");
        canon(
            "foo[90m] offset 1h30m @ 10",
            "foo[1h30m] @ 10.000 offset 1h30m",
        );
        canon("foo offset -5m", "foo offset -5m");
        canon(
            "rate(foo[5m])[30m:1m] @ end()",
            "rate(foo[5m])[30m:1m] @ end()",
        );
        canon("foo[5m:]", "foo[5m:]");
        canon(
            "{\"my.metric\", \"a.b\"=\"x\"}",
            "{__name__=\"my.metric\", \"a.b\"=\"x\"}",
        );
        canon("topk(3, foo) without (a)", "topk without (a) (3, foo)");
        canon("-2^2", "-2 ^ 2");
        canon("1e3 + Inf - inf", "1000 + Inf - Inf");
        assert_eq!(parse("NaN").unwrap().to_string(), "NaN");
        canon("\"a\\nb\"", "\"a\\nb\"");
        canon("sum by () (x)", "sum(x)");
        canon("sum without () (x)", "sum without () (x)");
        canon("foo[5]", "foo[5s]");
        canon("x @ -1.5", "x @ -1.500");
    }
}
