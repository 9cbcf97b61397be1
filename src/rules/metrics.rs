//! The rule manager's self-metrics, with Prometheus's names; per-group
//! families carry `rule_group="<file>;<group>"`.

use std::sync::Arc;
use std::time::Duration;

use crate::metrics::{Counter, CounterVec, Gauge, GaugeVec, Registry, Summary};

const GROUP: &[&str] = &["rule_group"];

/// The families, registered once per manager.
#[derive(Clone)]
pub struct RuleMetrics {
    evaluations: CounterVec,
    failures: CounterVec,
    missed: CounterVec,
    iterations: CounterVec,
    last_duration: GaugeVec,
    last_timestamp: GaugeVec,
    interval: GaugeVec,
    rules: GaugeVec,
    duration: Arc<Summary>,
}

/// One group's children of the families.
pub(crate) struct GroupMetrics {
    pub evaluations: Arc<Counter>,
    pub failures: Arc<Counter>,
    pub missed: Arc<Counter>,
    pub iterations: Arc<Counter>,
    pub last_duration: Arc<Gauge>,
    pub last_timestamp: Arc<Gauge>,
}

impl RuleMetrics {
    pub fn register(registry: &Registry) -> RuleMetrics {
        RuleMetrics {
            evaluations: registry.counter_vec(
                "prometheus_rule_evaluations_total",
                "The total number of rule evaluations.",
                GROUP,
            ),
            failures: registry.counter_vec(
                "prometheus_rule_evaluation_failures_total",
                "The total number of rule evaluation failures.",
                GROUP,
            ),
            missed: registry.counter_vec(
                "prometheus_rule_group_iterations_missed_total",
                "The total number of rule group evaluations missed due to slow rule group evaluation.",
                GROUP,
            ),
            iterations: registry.counter_vec(
                "prometheus_rule_group_iterations_total",
                "The total number of scheduled rule group evaluations, whether executed or missed.",
                GROUP,
            ),
            last_duration: registry.gauge_vec(
                "prometheus_rule_group_last_duration_seconds",
                "The duration of the last rule group evaluation.",
                GROUP,
            ),
            last_timestamp: registry.gauge_vec(
                "prometheus_rule_group_last_evaluation_timestamp_seconds",
                "The timestamp of the last rule group evaluation in seconds.",
                GROUP,
            ),
            interval: registry.gauge_vec(
                "prometheus_rule_group_interval_seconds",
                "The interval of a rule group.",
                GROUP,
            ),
            rules: registry.gauge_vec(
                "prometheus_rule_group_rules",
                "The number of rules.",
                GROUP,
            ),
            duration: registry.summary(
                "prometheus_rule_evaluation_duration_seconds",
                "The duration for a rule to execute.",
            ),
        }
    }

    /// The children for group `key`, with its interval and rule count set.
    pub(crate) fn group(&self, key: &str, interval_ms: i64, rules: usize) -> GroupMetrics {
        let k = &[key];
        self.interval.with(k).set(interval_ms as f64 / 1000.0);
        self.rules.with(k).set(rules as f64);
        GroupMetrics {
            evaluations: self.evaluations.with(k),
            failures: self.failures.with(k),
            missed: self.missed.with(k),
            iterations: self.iterations.with(k),
            last_duration: self.last_duration.with(k),
            last_timestamp: self.last_timestamp.with(k),
        }
    }

    /// Forgets a removed group's series.
    pub(crate) fn remove_group(&self, key: &str) {
        let k = &[key];
        for c in [
            &self.evaluations,
            &self.failures,
            &self.missed,
            &self.iterations,
        ] {
            c.remove(k);
        }
        for g in [
            &self.last_duration,
            &self.last_timestamp,
            &self.interval,
            &self.rules,
        ] {
            g.remove(k);
        }
    }

    /// Records how long one rule's evaluation took.
    pub(crate) fn observe_rule_duration(&self, d: Duration) {
        self.duration.observe(d.as_secs_f64());
    }
}
