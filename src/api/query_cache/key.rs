//! What identifies cached range results, and which queries may be cached.
//!
//! A range query evaluates every step on its own: the value at evaluation
//! time `T` depends only on `T`, the expression, the lookback delta and
//! the data at or before `T`. So results at the same `T` can be shared by
//! requests whose step and grid phase (`start mod step`) put `T` on their
//! grid. Two things break that reasoning and make a query uncacheable:
//!
//! - `@` (`@ start()`, `@ end()` depend on the request's range; `@ <time>`
//!   reads data after `T` for early steps, so new data at `t` could change
//!   steps before `t`);
//! - a negative `offset`, which reads data after `T` for the same reason.
//!
//! A positive `offset` only reads further back and is fine; so are
//! `time()`, `timestamp()` (functions of `T` and the data) and subqueries,
//! whose inner steps are aligned to absolute multiples of their step.

use promql::ast::{At, Expr};

/// One cache entry's identity: everything besides the evaluation time
/// that a step's result depends on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The query printed back from its syntax tree, so spelling variants
    /// of one expression share an entry.
    query: String,
    step: i64,
    /// `start mod step`: requests on the same grid.
    phase: i64,
    /// The request's `lookback_delta`, `None` for the server's.
    lookback_delta: Option<i64>,
}

impl Key {
    /// The key of a range query, or `None` when it must not be cached.
    pub fn for_query(
        expr: &Expr,
        start: i64,
        step: i64,
        lookback_delta: Option<i64>,
    ) -> Option<Key> {
        if step <= 0 || !steps_are_independent(expr) {
            return None;
        }
        Some(Key {
            query: expr.to_string(),
            step,
            phase: start.rem_euclid(step),
            // The engine ignores a non-positive override.
            lookback_delta: lookback_delta.filter(|&l| l > 0),
        })
    }

    pub fn step(&self) -> i64 {
        self.step
    }

    /// Bytes this key holds, for the cache's budget.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Key>() + self.query.len()
    }
}

/// Whether no selector or subquery uses `@` or a negative `offset`.
fn steps_are_independent(e: &Expr) -> bool {
    let plain = |offset: i64, at: &Option<At>| offset >= 0 && at.is_none();
    match e {
        Expr::Number(_) | Expr::String(_) => true,
        Expr::Vector(v) => plain(v.offset, &v.at),
        Expr::Matrix(m) => plain(m.vector.offset, &m.vector.at),
        Expr::Subquery(sq) => plain(sq.offset, &sq.at) && steps_are_independent(&sq.expr),
        Expr::Paren(e) | Expr::Unary(_, e) => steps_are_independent(e),
        Expr::Binary(b) => steps_are_independent(&b.lhs) && steps_are_independent(&b.rhs),
        Expr::Aggregate(a) => {
            steps_are_independent(&a.expr) && a.param.as_deref().is_none_or(steps_are_independent)
        }
        Expr::Call(c) => c.args.iter().all(steps_are_independent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(q: &str, start: i64, step: i64) -> Option<Key> {
        Key::for_query(&promql::parse(q).unwrap(), start, step, None)
    }

    #[test]
    fn excludes_at_and_negative_offsets() {
        for q in [
            "up @ 100",
            "up @ start()",
            "rate(x[5m] @ end())",
            "up offset -5m",
            "sum(rate(x[5m] offset -1m))",
            "max_over_time(up[10m:1m] @ 50)",
            "max_over_time(up[10m:1m] offset -1m)",
            "topk(scalar(up @ 1), up)",
            "1 + (up offset -1s)",
        ] {
            assert_eq!(key(q, 0, 15_000), None, "{q}");
        }
        for q in [
            "up",
            "up offset 5m",
            "time()",
            "timestamp(up)",
            "sum by (job) (rate(x[5m]))",
            "max_over_time(rate(x[1m])[10m:30s] offset 1m)",
            "1",
        ] {
            assert!(key(q, 0, 15_000).is_some(), "{q}");
        }
        assert_eq!(key("up", 0, 0), None);
    }

    #[test]
    fn same_grid_same_key() {
        assert_eq!(
            key("sum(up)", 30_000, 15_000),
            key("sum ( up )", 60_000, 15_000)
        );
        assert_ne!(
            key("sum(up)", 30_000, 15_000),
            key("sum(up)", 31_000, 15_000)
        );
        assert_ne!(
            key("sum(up)", 30_000, 15_000),
            key("sum(up)", 30_000, 30_000)
        );
        let e = promql::parse("up").unwrap();
        assert_ne!(
            Key::for_query(&e, 0, 1000, Some(60_000)),
            Key::for_query(&e, 0, 1000, None)
        );
        assert_eq!(
            Key::for_query(&e, 0, 1000, Some(0)),
            Key::for_query(&e, 0, 1000, None)
        );
    }
}
