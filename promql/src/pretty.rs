//! Multi-line formatting of long queries, as Prometheus's `Pretty` (used by
//! `/api/v1/format_query`): a node whose one-line form fits in 100 bytes
//! is printed on one line; a longer one is broken up, each child on its own
//! lines, indented two spaces per level.

use crate::ast::{Expr, UnaryOp};
use crate::printer::{aggregate_prefix, binary_operator, subquery_suffix};

/// Longest one-line form printed without breaking it up.
const MAX_LINE: usize = 100;

/// Prints `expr` in Prometheus's multi-line layout.
pub fn pretty(expr: &Expr) -> String {
    let mut out = String::new();
    write(&mut out, expr, 0);
    out
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

/// Appends `e` laid out at `level`, returning its one-line form when it
/// was short enough to be used as is.
fn write(out: &mut String, e: &Expr, level: usize) {
    let flat = e.to_string();
    let split = flat.len() > MAX_LINE;
    match e {
        Expr::Aggregate(a) if split => {
            indent(out, level);
            out.push_str(&aggregate_prefix(a));
            out.push_str("(\n");
            if let Some(p) = &a.param {
                write(out, p, level + 1);
                out.push_str(",\n");
            }
            write(out, &a.expr, level + 1);
            out.push('\n');
            indent(out, level);
            out.push(')');
        }
        // Upstream indents neither the operands' parent line nor the first
        // operand beyond its own level.
        Expr::Binary(b) if split => {
            write(out, &b.lhs, level + 1);
            out.push('\n');
            indent(out, level);
            out.push_str(&binary_operator(b));
            out.push('\n');
            write(out, &b.rhs, level + 1);
        }
        Expr::Call(c) if split => {
            indent(out, level);
            out.push_str(c.func.name);
            out.push_str("(\n");
            for (i, a) in c.args.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                write(out, a, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push(')');
        }
        Expr::Paren(inner) if split => {
            indent(out, level);
            out.push_str("(\n");
            write(out, inner, level + 1);
            out.push('\n');
            indent(out, level);
            out.push(')');
        }
        // A short subquery is not indented (upstream's quirk, kept so the
        // output is the same).
        Expr::Subquery(_) if !split => out.push_str(&flat),
        Expr::Subquery(sq) => {
            write(out, &sq.expr, level);
            out.push_str(&subquery_suffix(sq));
        }
        Expr::Unary(op, inner) => {
            let mut child = String::new();
            write(&mut child, inner, level);
            indent(out, level);
            out.push(if *op == UnaryOp::Neg { '-' } else { '+' });
            out.push_str(child.trim());
        }
        _ => {
            indent(out, level);
            out.push_str(&flat);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn p(q: &str) -> String {
        pretty(&parse(q).unwrap())
    }

    #[test]
    fn short_queries_stay_on_one_line() {
        assert_eq!(p("sum(rate(x[5m])) by (job)"), "sum by (job) (rate(x[5m]))");
        assert_eq!(p("a+b"), "a + b");
        assert_eq!(p("-foo"), "-foo");
    }

    #[test]
    fn long_queries_are_split_by_node() {
        let long_name = "a_very_long_metric_name_that_takes_up_a_lot_of_room_on_the_line";
        let q = format!(
            "sum by (job) (rate({long_name}[5m])) / sum by (job) (rate({long_name}_total[5m]))"
        );
        let want = format!(
            "  sum by (job) (rate({long_name}[5m]))\n/\n  sum by (job) (rate({long_name}_total[5m]))"
        );
        assert_eq!(p(&q), want);

        let q = format!(
            "sum(rate({long_name}_seconds_total{{job=\"api\", instance=\"localhost:9090\"}}[5m]))"
        );
        let want = format!(
            "sum(\n  rate(\n    {long_name}_seconds_total{{job=\"api\", instance=\"localhost:9090\"}}[5m]\n  )\n)"
        );
        assert_eq!(p(&q), want);

        let q = format!("topk(5, {long_name}_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)");
        let want =
            format!("topk(\n  5,\n  {long_name}_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n)");
        assert_eq!(p(&q), want);
    }

    #[test]
    fn split_output_parses_back_to_the_same_tree() {
        let long_name = "another_rather_long_metric_name_used_to_force_line_breaks_here";
        for q in [
            format!("-(({long_name} + on (a) group_left (b) {long_name}_info) * 2)"),
            format!("max_over_time(({long_name} / {long_name}_2)[30m:1m] offset 5m)"),
            format!("label_replace({long_name}, \"dst\", \"$1\", \"src\", \"(.*)\") > bool 3"),
        ] {
            let e = parse(&q).unwrap();
            let out = pretty(&e);
            assert!(out.contains('\n'), "{out}");
            assert_eq!(parse(&out).unwrap(), e, "{out}");
        }
    }
}
