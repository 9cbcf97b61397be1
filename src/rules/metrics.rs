//! The rule manager's self-metrics, with Prometheus's names; per-group
//! families carry `rule_group="<file>;<group>"`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::metrics::{Collected, Counter, CounterVec, Gauge, GaugeVec, Registry};

const GROUP: &[&str] = &["rule_group"];
const SUMMARY_NAME: &str = "prometheus_rule_evaluation_duration_seconds";
/// Upstream's summary objectives and window.
const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];
const SUMMARY_MAX_AGE: Duration = Duration::from_secs(600);
/// Observations kept for the quantiles; older ones are dropped first.
const SUMMARY_CAPACITY: usize = 4096;

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
        let duration = Arc::new(Summary::default());
        let collected = Arc::clone(&duration);
        registry.collector(move || collected.collect());
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
            duration,
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

/// Prometheus's summary of rule evaluation durations: quantiles over the
/// recent window, and the all-time sum and count. The registry has no
/// summary type, so it renders through a collector.
#[derive(Default)]
struct Summary {
    inner: Mutex<SummaryState>,
}

#[derive(Default)]
struct SummaryState {
    recent: VecDeque<(Instant, f64)>,
    sum: f64,
    count: u64,
}

impl Summary {
    fn observe(&self, v: f64) {
        let mut s = self.inner.lock();
        if s.recent.len() == SUMMARY_CAPACITY {
            s.recent.pop_front();
        }
        s.recent.push_back((Instant::now(), v));
        s.sum += v;
        s.count += 1;
    }

    fn collect(&self) -> Vec<Collected> {
        let (mut values, sum, count) = {
            let mut s = self.inner.lock();
            let now = Instant::now();
            while s
                .recent
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > SUMMARY_MAX_AGE)
            {
                s.recent.pop_front();
            }
            let values: Vec<f64> = s.recent.iter().map(|(_, v)| *v).collect();
            (values, s.sum, s.count)
        };
        values.sort_by(f64::total_cmp);
        let quantiles = QUANTILES
            .iter()
            .map(|&q| {
                let v = if values.is_empty() {
                    f64::NAN
                } else {
                    let i = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
                    values[i - 1]
                };
                (vec![("quantile".to_string(), q.to_string())], v)
            })
            .collect();
        let family = |suffix: &str, kind, samples| Collected {
            name: format!("{SUMMARY_NAME}{suffix}"),
            help: "The duration for a rule to execute.".to_string(),
            kind,
            samples,
        };
        vec![
            family("", "summary", quantiles),
            family("_sum", "untyped", vec![(vec![], sum)]),
            family("_count", "untyped", vec![(vec![], count as f64)]),
        ]
    }
}
