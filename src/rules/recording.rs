//! Recording rules: the query result, renamed to the rule's name and with
//! the rule's labels, becomes new series.

use std::collections::BTreeMap;

use promql::ast::Expr;
use promql::Sample;
use storage::{Label, Labels, METRIC_NAME};

use super::context::EvalContext;
use super::rule::RuleStatus;

/// A `record:` rule.
#[derive(Debug)]
pub struct RecordingRule {
    pub name: String,
    pub expr: Expr,
    /// Group labels with the rule's own on top.
    pub labels: BTreeMap<String, String>,
    pub status: RuleStatus,
}

impl RecordingRule {
    /// Evaluates the rule at `t` (the group's timestamp minus its query
    /// offset): the samples to write, stamped `t`.
    pub(crate) fn eval(
        &self,
        ctx: &EvalContext,
        t: i64,
        limit: usize,
    ) -> Result<Vec<Sample>, String> {
        let mut samples = ctx.query(&self.expr, t)?;
        for s in &mut samples {
            s.metric = self.relabel(&s.metric);
        }
        if has_duplicate_labels(&samples) {
            return Err(
                "vector contains metrics with the same labelset after applying rule labels"
                    .to_string(),
            );
        }
        if limit > 0 && samples.len() > limit {
            return Err(format!(
                "exceeded limit of {limit} with {} series",
                samples.len()
            ));
        }
        Ok(samples)
    }

    /// `metric` with `__name__` set to the rule name and the rule labels
    /// set (an empty value removes the label).
    fn relabel(&self, metric: &Labels) -> Labels {
        // `Labels::new` keeps the first of equal names: overrides go first.
        let mut pairs: Vec<Label> = Vec::with_capacity(metric.len() + self.labels.len() + 1);
        pairs.push(Label::new(METRIC_NAME, self.name.as_str()));
        pairs.extend(
            self.labels
                .iter()
                .map(|(n, v)| Label::new(n.as_str(), v.as_str())),
        );
        pairs.extend(metric.iter().cloned());
        let mut out = Labels::new(pairs);
        if self.labels.values().any(String::is_empty) {
            out = Labels::new(
                out.into_vec()
                    .into_iter()
                    .filter(|l| self.labels.get(&l.name).is_none_or(|v| !v.is_empty()))
                    .collect(),
            );
        }
        out
    }
}

/// Whether two samples carry the same label set.
pub(crate) fn has_duplicate_labels(samples: &[Sample]) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(samples.len());
    samples.iter().any(|s| !seen.insert(&s.metric))
}
