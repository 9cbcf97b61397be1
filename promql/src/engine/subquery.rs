//! Subqueries: the inner expression is evaluated once over its own grid,
//! aligned to multiples of the subquery step, covering every outer window.

use super::eval::{Evaluator, Grid, SeriesOut, Val};
use super::selector::RangeData;
use crate::ast::SubqueryExpr;
use crate::error::{Error, Result};

pub(crate) fn eval_subquery(
    ev: &mut Evaluator,
    sq: &SubqueryExpr,
    grid: Grid,
) -> Result<RangeData> {
    let at = ev.resolve_at(sq.at);
    let step = sq.step.unwrap_or(ev.opts.default_subquery_step).max(1);
    let te_first = at.unwrap_or(grid.start) - sq.offset;
    let te_last = at.unwrap_or(grid.end) - sq.offset;
    // First timestamp after (te_first - range) that is a multiple of the
    // step (Go's truncating division, as Prometheus).
    let lower = te_first - sq.range;
    let mut start = step * (lower / step);
    if start <= lower {
        start += step;
    }
    let series = if start > te_last {
        Vec::new()
    } else {
        let inner = ev.grid(start, te_last, step)?;
        match ev.eval(&sq.expr, inner)? {
            // Keeps the name-removal marks of the inner series.
            Val::Vector(v) => v,
            Val::Scalar(v) => vec![SeriesOut::new(
                Default::default(),
                v.into_iter()
                    .enumerate()
                    .map(|(i, v)| (inner.t(i), v))
                    .collect(),
            )],
            _ => {
                return Err(Error::Eval(
                    "subquery is only allowed on instant vector".into(),
                ))
            }
        }
    };
    Ok(RangeData::loaded(series, sq.range, sq.offset, at))
}
