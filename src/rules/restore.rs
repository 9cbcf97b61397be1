//! Restoring the `for` clock of alerts after a restart, from the
//! `ALERTS_FOR_STATE` series the previous run wrote: time spent pending
//! before the restart counts, the downtime does not, and no alert fires
//! sooner than the grace period after the restart.

use storage::querier::SelectHints;
use storage::{Matcher, METRIC_NAME};

use super::alerting::ALERTS_FOR_STATE_METRIC;
use super::context::EvalContext;
use super::group::Group;
use super::rule::Rule;

impl Group {
    /// Restores the `ActiveAt` of the group's current alerts as of `ts`
    /// (ms), reading `ALERTS_FOR_STATE` over the outage tolerance before
    /// it; afterwards every alerting rule writes its `ALERTS` series.
    pub fn restore_for_state(&mut self, ts: i64, ctx: &EvalContext) {
        let settings = ctx.settings;
        let grace = settings.for_grace_period_ms;
        let mint = ts - settings.outage_tolerance_ms;
        let querier = match ctx.queryable.querier(mint, ts) {
            Ok(q) => q,
            Err(e) => {
                tracing::error!(group = %self.name(), error = %e, "failed to get querier to restore alert state");
                return;
            }
        };
        for rule in self.rules_mut() {
            let Rule::Alerting(rule) = rule else {
                continue;
            };
            let hold = rule.hold_ms;
            if hold < grace {
                // Restoring could only delay these: they wait `for` anew.
                rule.restored = true;
                continue;
            }
            let matchers = [
                Matcher::equal(METRIC_NAME, ALERTS_FOR_STATE_METRIC),
                Matcher::equal("alertname", rule.name.as_str()),
            ];
            let hints = SelectHints {
                start: mint,
                end: ts,
                ..SelectHints::default()
            };
            let series = match querier.select(&hints, &matchers) {
                Ok(s) => s.series,
                Err(e) => {
                    tracing::error!(alert = %rule.name, error = %e, "failed to restore alert state");
                    return;
                }
            };
            for a in rule.active.values_mut() {
                let Some(s) = series.iter().find(|s| same_alert(&s.labels, &a.labels)) else {
                    continue;
                };
                let Some((t, v)) = s.iter().last() else {
                    continue;
                };
                if storage::is_stale_nan(v) {
                    // The alert had gone away before the restart.
                    continue;
                }
                // Second precision, as the series stores it.
                let down_at = t.div_euclid(1000) * 1000;
                let old_active_at = v as i64 * 1000;
                let remaining = hold - (down_at - old_active_at);
                a.active_at_ms = if remaining <= 0 {
                    // Was firing: the next evaluation decides.
                    old_active_at
                } else if remaining < grace {
                    // Fire exactly one grace period after the restart.
                    ts + grace - hold
                } else {
                    // Push the start forward by the downtime.
                    old_active_at + (ts - down_at)
                };
                tracing::debug!(alert = %rule.name, labels = %a.labels, active_at_ms = a.active_at_ms, "restored for state");
            }
            rule.restored = true;
        }
        self.should_restore = false;
    }
}

/// Whether an `ALERTS_FOR_STATE` series belongs to the alert `labels`.
fn same_alert(series: &storage::Labels, labels: &storage::Labels) -> bool {
    series.len() == labels.len() + 1
        && series
            .iter()
            .filter(|l| l.name != METRIC_NAME)
            .zip(labels.iter())
            .all(|(a, b)| a == b)
}
