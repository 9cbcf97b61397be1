//! A rule group: its rules evaluated in order at one timestamp, the series
//! each rule wrote last time (for staleness markers), and the schedule
//! arithmetic that places its evaluations.
//!
//! Everything here is synchronous and takes the evaluation timestamp as an
//! argument; the timer lives in [`super::manager`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use storage::Labels;

use super::alerting::AlertingRule;
use super::context::EvalContext;
use super::error::RulesError;
use super::notify::outgoing;
use super::recording::RecordingRule;
use super::rule::{Rule, RuleStatus};
use super::rule_file::RuleGroup;

/// Defaults from `global:` for groups that do not set their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupDefaults {
    /// `global.evaluation_interval`, ms.
    pub interval_ms: i64,
    /// `global.rule_query_offset`, ms.
    pub query_offset_ms: i64,
}

/// What a group was built from: equal specs mean a reload leaves the
/// running group alone.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GroupSpec {
    file: String,
    group: RuleGroup,
    interval_ms: i64,
    query_offset_ms: i64,
}

/// A group of rules sharing a schedule.
#[derive(Debug)]
pub struct Group {
    pub(crate) spec: GroupSpec,
    rules: Vec<Rule>,
    /// Per rule: the series it wrote at its last successful evaluation.
    series_in_prev: Vec<HashSet<Labels>>,
    /// Series of rules that went away in a reload, to mark stale.
    stale_series: Vec<Labels>,
    /// Whether `for` state is to be restored after the next evaluation.
    pub(crate) should_restore: bool,
    pub(crate) evaluation_time: Duration,
    pub(crate) last_evaluation: Option<SystemTime>,
    /// The timestamp of the last evaluation (ms).
    pub(crate) last_eval_ts: Option<i64>,
}

impl Group {
    /// Builds group `g` of rule file `file`. With `should_restore`, alerts
    /// write no `ALERTS` series until [`Group::restore_for_state`] ran.
    pub fn new(
        file: &str,
        g: &RuleGroup,
        defaults: GroupDefaults,
        should_restore: bool,
    ) -> Result<Group, RulesError> {
        let mut rules = Vec::with_capacity(g.rules.len());
        for r in &g.rules {
            let expr = promql::parse(&r.expr).map_err(|e| RulesError::Expr {
                file: file.to_string(),
                group: g.name.clone(),
                rule: r.name().to_string(),
                msg: e.to_string(),
            })?;
            let mut labels = g.labels.clone();
            labels.extend(r.labels.clone());
            let rule = match &r.alert {
                Some(name) => Rule::Alerting(AlertingRule {
                    name: name.clone(),
                    expr,
                    hold_ms: r.for_.map_or(0, |d| d.ms()),
                    keep_firing_for_ms: r.keep_firing_for.map_or(0, |d| d.ms()),
                    labels,
                    annotations: r.annotations.clone(),
                    status: RuleStatus::default(),
                    active: HashMap::new(),
                    restored: !should_restore,
                }),
                None => Rule::Recording(RecordingRule {
                    name: r.record.clone().unwrap_or_default(),
                    expr,
                    labels,
                    status: RuleStatus::default(),
                }),
            };
            rules.push(rule);
        }
        let spec = GroupSpec {
            file: file.to_string(),
            group: g.clone(),
            interval_ms: g.interval.map_or(defaults.interval_ms, |d| d.ms()),
            query_offset_ms: g.query_offset.map_or(defaults.query_offset_ms, |d| d.ms()),
        };
        Ok(Group {
            series_in_prev: vec![HashSet::new(); rules.len()],
            rules,
            spec,
            stale_series: Vec::new(),
            should_restore,
            evaluation_time: Duration::ZERO,
            last_evaluation: None,
            last_eval_ts: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.group.name
    }

    pub fn file(&self) -> &str {
        &self.spec.file
    }

    /// `<file>;<name>`, the `rule_group` label of the self-metrics.
    pub fn key(&self) -> String {
        format!("{};{}", self.file(), self.name())
    }

    pub fn interval_ms(&self) -> i64 {
        self.spec.interval_ms
    }

    pub fn query_offset_ms(&self) -> i64 {
        self.spec.query_offset_ms
    }

    /// Most series (recording) or alerts (alerting) per rule; 0 for none.
    pub fn limit(&self) -> usize {
        self.spec.group.limit as usize
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The timestamp of the group's evaluation slot at or before `now_ms`:
    /// slots are `interval` apart, shifted by a hash of file and name so
    /// groups spread over the interval and keep their slots across
    /// restarts.
    pub fn eval_timestamp(&self, now_ms: i64) -> i64 {
        let interval = self.spec.interval_ms.max(1);
        let offset = slot_offset_ms(self.file(), self.name(), interval);
        let start = now_ms - offset;
        start - start.rem_euclid(interval) + offset
    }

    /// Evaluates every rule in order at `ts` (ms), writing each rule's
    /// output before the next rule runs so later rules see it.
    pub fn eval(&mut self, ts: i64, ctx: &EvalContext) {
        let gm = ctx
            .metrics
            .map(|m| m.group(&self.key(), self.interval_ms(), self.rules.len()));
        for i in 0..self.rules.len() {
            if ctx.cancel.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let wall = SystemTime::now();
            let started = Instant::now();
            if let Some(gm) = &gm {
                gm.evaluations.inc();
            }
            if let Err(e) = self.eval_rule(i, ts, ctx) {
                tracing::warn!(group = %self.name(), rule = %self.rules[i].name(), error = %e, "evaluating rule failed");
                self.rules[i].status_mut().set_result(Err(e));
                if let Some(gm) = &gm {
                    gm.failures.inc();
                }
            }
            let took = started.elapsed();
            let status = self.rules[i].status_mut();
            status.evaluation_time = took;
            status.last_evaluation = Some(wall);
            if let Some(m) = ctx.metrics {
                m.observe_rule_duration(took);
            }
        }
        if !self.stale_series.is_empty() {
            self.cleanup_stale_series(ts, ctx);
        }
        // Each rule committed without waiting for an fsync (a later rule
        // only needs to see the samples); one fsync per evaluation makes
        // them all power-loss durable where the WAL policy asks for it.
        if let Err(e) = ctx.db.head().wal().sync_per_policy() {
            tracing::warn!(group = %self.name(), error = %e, "syncing rule results to the WAL failed");
        }
    }

    /// One rule: evaluate, hand alerts to the sink, write the samples and
    /// staleness markers. An `Err` is an evaluation failure.
    fn eval_rule(&mut self, i: usize, ts: i64, ctx: &EvalContext) -> Result<(), String> {
        let (offset, limit, interval) = (self.query_offset_ms(), self.limit(), self.interval_ms());
        let t = ts - offset;
        let samples = match &mut self.rules[i] {
            Rule::Recording(r) => r.eval(ctx, t, limit)?,
            Rule::Alerting(a) => {
                let samples = a.eval(ctx, ts, offset, limit)?;
                let due = a.take_alerts_to_send(ts, ctx.settings.resend_delay_ms, interval);
                if !due.is_empty() {
                    let expr = a.expr.to_string();
                    ctx.sink
                        .send(outgoing(due, &expr, &ctx.settings.external_url));
                }
                samples
            }
        };
        self.rules[i].status_mut().set_result(Ok(()));

        let mut app = ctx.db.appender();
        let mut written = HashSet::with_capacity(samples.len());
        let mut rejected = 0usize;
        for s in samples {
            match app.append(&s.metric, s.t, s.v) {
                Ok(_) => {}
                Err(
                    storage::Error::OutOfOrderSample
                    | storage::Error::DuplicateSample
                    | storage::Error::OutOfBounds,
                ) => rejected += 1,
                Err(e) => {
                    tracing::warn!(rule = %self.rules[i].name(), series = %s.metric, error = %e, "rule sample append failed");
                    self.rules[i].status_mut().set_result(Err(e.to_string()));
                }
            }
            written.insert(s.metric);
        }
        if rejected > 0 {
            tracing::warn!(rule = %self.rules[i].name(), count = rejected, "rule evaluation results were out of order, duplicate or too old");
        }
        for gone in self.series_in_prev[i].difference(&written) {
            // Rejections mean a newer sample exists: nothing to mark.
            let _ = app.append(gone, t, storage::stale_nan());
        }
        self.series_in_prev[i] = written;
        if let Err(e) = app.commit_unsynced() {
            tracing::warn!(rule = %self.rules[i].name(), error = %e, "committing rule results failed");
        }
        Ok(())
    }

    /// Writes staleness markers at `ts` for the series of rules removed by
    /// a reload (or of the whole group when it is removed).
    pub(crate) fn cleanup_stale_series(&mut self, ts: i64, ctx: &EvalContext) {
        let t = ts - self.query_offset_ms();
        let mut app = ctx.db.appender();
        for s in self.stale_series.drain(..) {
            let _ = app.append(&s, t, storage::stale_nan());
        }
        if let Err(e) = app.commit_unsynced() {
            tracing::warn!(group = %self.name(), error = %e, "writing staleness markers failed");
        }
    }

    /// Moves every series written at the last evaluation to the stale list
    /// (the group is going away).
    pub(crate) fn mark_all_stale(&mut self) {
        for set in &mut self.series_in_prev {
            self.stale_series.extend(set.drain());
        }
    }

    /// Takes over the state of `from`, the group this one replaces in a
    /// reload: rules matched by name and labels (in order, for duplicates)
    /// keep their written series and their alerts; series of rules that
    /// did not survive are marked stale at the next evaluation.
    pub(crate) fn copy_state(&mut self, from: &mut Group) {
        self.evaluation_time = from.evaluation_time;
        self.last_evaluation = from.last_evaluation;
        self.last_eval_ts = from.last_eval_ts;
        let mut by_key: HashMap<(String, BTreeMap<String, String>), Vec<usize>> = HashMap::new();
        for (fi, r) in from.rules.iter().enumerate() {
            by_key.entry(rule_key(r)).or_default().push(fi);
        }
        let mut taken = vec![false; from.rules.len()];
        for (i, rule) in self.rules.iter_mut().enumerate() {
            let Some(candidates) = by_key.get_mut(&rule_key(rule)) else {
                continue;
            };
            if candidates.is_empty() {
                continue;
            }
            let fi = candidates.remove(0);
            taken[fi] = true;
            self.series_in_prev[i] = std::mem::take(&mut from.series_in_prev[fi]);
            if let (Rule::Alerting(to), Rule::Alerting(old)) = (rule, &mut from.rules[fi]) {
                to.active.extend(old.active.drain());
            }
        }
        self.stale_series = std::mem::take(&mut from.stale_series);
        for (fi, was_taken) in taken.into_iter().enumerate() {
            if !was_taken {
                self.stale_series.extend(from.series_in_prev[fi].drain());
            }
        }
    }

    /// The alerting rule at `i`, if it is one.
    #[cfg(test)]
    pub(crate) fn alerting(&self, i: usize) -> &AlertingRule {
        match &self.rules[i] {
            Rule::Alerting(a) => a,
            Rule::Recording(r) => panic!("rule {} is a recording rule", r.name),
        }
    }

    pub(crate) fn rules_mut(&mut self) -> &mut [Rule] {
        &mut self.rules
    }
}

/// The offset (ms) of a group's slots within its interval, as Prometheus
/// 2.42 computes it: the label set `{file, name}` hashed like
/// `labels.Labels.Hash` (XXH64 of each name and value followed by `0xff`,
/// in name order), taken modulo the interval in nanoseconds. Prometheus
/// writes samples at the millisecond floor of that nanosecond offset, so
/// the same rule file path and group name evaluate at the same
/// milliseconds in both servers. (Release builds from 2.44 on use the
/// `stringlabels` layout, whose hash covers other bytes, so their slots
/// differ from these.)
fn slot_offset_ms(file: &str, name: &str, interval_ms: i64) -> i64 {
    let mut b = Vec::with_capacity(file.len() + name.len() + 12);
    for (n, v) in [("file", file), ("name", name)] {
        b.extend_from_slice(n.as_bytes());
        b.push(0xff);
        b.extend_from_slice(v.as_bytes());
        b.push(0xff);
    }
    let interval_ns = interval_ms.max(1) as u64 * 1_000_000;
    ((xxh64::xxh64(&b) % interval_ns) / 1_000_000) as i64
}

/// Name and labels: how a rule is recognised across a reload.
fn rule_key(r: &Rule) -> (String, BTreeMap<String, String>) {
    (r.name().to_string(), r.labels().clone())
}

#[cfg(test)]
mod tests;
mod xxh64;
