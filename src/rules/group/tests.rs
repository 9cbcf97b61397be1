//! The synchronous core over a real database in a temporary directory:
//! groups evaluated at explicit timestamps.

use std::sync::atomic::AtomicBool;

use parking_lot::Mutex;
use promql::Engine;
use storage::querier::Queryable;
use storage::{Db, Labels, Matcher, Options};

use super::*;
use crate::rules::alert::AlertState;
use crate::rules::context::{EvalContext, Settings};
use crate::rules::notify::{AlertSink, OutgoingAlert};
use crate::rules::rule::Health;
use crate::rules::rule_file::{parse_rule_file, ParseOptions, RuleGroup};

const MIN: i64 = 60_000;
/// A start far from 0 so "ts - something" stays positive.
const T0: i64 = 1_700_000_000_000;

#[derive(Default)]
struct RecordingSink(Mutex<Vec<OutgoingAlert>>);

impl AlertSink for RecordingSink {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        self.0.lock().extend(alerts);
    }
}

impl RecordingSink {
    fn take(&self) -> Vec<OutgoingAlert> {
        std::mem::take(&mut *self.0.lock())
    }
}

struct Env {
    _dir: tempfile::TempDir,
    db: Db,
    engine: Engine,
    sink: RecordingSink,
    settings: Settings,
    cancel: AtomicBool,
}

impl Env {
    fn new() -> Env {
        // Tests here need no durability: no fsync at all.
        Env::with_wal_sync(storage::wal::SyncPolicy::Never)
    }

    fn with_wal_sync(sync: storage::wal::SyncPolicy) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = Options {
            compaction_interval: None,
            retention: None,
            ..Options::default()
        };
        opts.wal.sync = sync;
        let db = Db::open(dir.path(), opts).unwrap();
        Env {
            _dir: dir,
            db,
            engine: Engine::new(Default::default()),
            sink: RecordingSink::default(),
            settings: Settings {
                external_url: "http://prom:9090".into(),
                ..Settings::default()
            },
            cancel: AtomicBool::new(false),
        }
    }

    fn ctx(&self) -> EvalContext<'_> {
        EvalContext {
            engine: &self.engine,
            queryable: &self.db,
            db: &self.db,
            sink: &self.sink,
            settings: &self.settings,
            metrics: None,
            cancel: &self.cancel,
        }
    }

    fn add(&self, labels: &[(&str, &str)], t: i64, v: f64) {
        let mut app = self.db.appender();
        app.append(&Labels::from_pairs(labels.iter().copied()), t, v)
            .unwrap();
        app.commit().unwrap();
    }

    /// An instant query's samples as (labels text, value), sorted.
    fn query(&self, q: &str, t: i64) -> Vec<(String, f64)> {
        let r = self
            .engine
            .instant(&self.db, &promql::parse(q).unwrap(), t)
            .unwrap();
        let promql::Value::Vector(v) = r.value else {
            panic!("not a vector: {:?}", r.value)
        };
        let mut out: Vec<(String, f64)> =
            v.into_iter().map(|s| (s.metric.to_string(), s.v)).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every stored sample of the series named `name` (labels text, t, v).
    fn raw(&self, name: &str) -> Vec<(String, i64, f64)> {
        let q = self.db.querier(i64::MIN / 2, i64::MAX / 2).unwrap();
        let mut out = Vec::new();
        for s in q
            .select(&Default::default(), &[Matcher::equal("__name__", name)])
            .unwrap()
            .series
        {
            for (t, v) in s.iter() {
                out.push((s.labels.to_string(), t, v));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        out
    }
}

fn rule_group(yaml: &str) -> RuleGroup {
    let file = parse_rule_file(yaml, &ParseOptions::default()).unwrap();
    file.groups.into_iter().next().unwrap()
}

fn defaults() -> GroupDefaults {
    GroupDefaults {
        interval_ms: MIN,
        query_offset_ms: 0,
    }
}

fn group(yaml: &str) -> Group {
    Group::new("rules.yml", &rule_group(yaml), defaults(), false).unwrap()
}

fn labels_text(pairs: &[(&str, &str)]) -> String {
    Labels::from_pairs(pairs.iter().copied()).to_string()
}

fn status(g: &Group, i: usize) -> (Health, Option<String>) {
    let s = g.rules()[i].status();
    (s.health, s.last_error.clone())
}

#[test]
fn later_rules_see_earlier_output_of_the_same_evaluation() {
    let env = Env::new();
    env.add(&[("__name__", "x"), ("i", "1")], T0, 3.0);
    env.add(&[("__name__", "x"), ("i", "2")], T0, 4.0);
    let mut g = group(
        "groups:
- name: g
  labels: {team: a}
  rules:
  - record: x:sum
    expr: sum(x)
  - record: x:double
    expr: x:sum * 2
    labels: {team: b}
",
    );
    g.eval(T0, &env.ctx());
    assert_eq!(status(&g, 0), (Health::Ok, None));
    assert_eq!(
        env.query("x:sum", T0),
        [(labels_text(&[("__name__", "x:sum"), ("team", "a")]), 7.0)]
    );
    // `team` came from x:sum's output, then the rule's own label won.
    assert_eq!(
        env.query("x:double", T0),
        [(
            labels_text(&[("__name__", "x:double"), ("team", "b")]),
            14.0
        )]
    );
}

#[test]
fn vanished_recorded_series_get_a_staleness_marker() {
    let env = Env::new();
    for (i, v) in [("1", 1.0), ("2", 1.0)] {
        env.add(&[("__name__", "x"), ("i", i)], T0, v);
    }
    env.add(&[("__name__", "x"), ("i", "1")], T0 + MIN, 1.0);
    env.add(&[("__name__", "x"), ("i", "2")], T0 + MIN, 0.0);
    let mut g = group(
        "groups:
- name: g
  rules:
  - record: up_x
    expr: x > 0
",
    );
    g.eval(T0, &env.ctx());
    g.eval(T0 + MIN, &env.ctx());
    let raw = env.raw("up_x");
    let two: Vec<_> = raw.iter().filter(|r| r.0.contains("\"2\"")).collect();
    assert_eq!(two.len(), 2, "{raw:?}");
    assert_eq!(two[0].1, T0);
    assert_eq!(two[1].1, T0 + MIN);
    assert!(storage::is_stale_nan(two[1].2));
    let one: Vec<_> = raw.iter().filter(|r| r.0.contains("\"1\"")).collect();
    assert!(one.iter().all(|r| r.2 == 1.0), "{raw:?}");
}

#[test]
fn recording_rule_results_scalars_and_errors() {
    let env = Env::new();
    env.add(&[("__name__", "x"), ("i", "1")], T0, 1.0);
    env.add(&[("__name__", "x"), ("i", "2")], T0, 2.0);
    let mut g = group(
        "groups:
- name: g
  rules:
  - record: two
    expr: 1 + 1
  - record: same
    expr: x
    labels: {i: fixed}
  - record: str
    expr: '\"text\"'
  - record: many
    expr: x + on() x
  - record: after
    expr: count(x)
",
    );
    g.eval(T0, &env.ctx());
    assert_eq!(
        env.query("two", T0),
        [(labels_text(&[("__name__", "two")]), 2.0)]
    );
    assert_eq!(
        status(&g, 1),
        (
            Health::Err,
            Some(
                "vector contains metrics with the same labelset after applying rule labels".into()
            )
        )
    );
    assert_eq!(
        status(&g, 2),
        (
            Health::Err,
            Some("rule result is not a vector or scalar".into())
        )
    );
    let (health, err) = status(&g, 3);
    assert_eq!(health, Health::Err);
    assert!(err.unwrap().contains("many-to-many"));
    // A failing rule does not stop the ones after it.
    assert_eq!(status(&g, 4), (Health::Ok, None));
    assert_eq!(env.query("after", T0).len(), 1);
    assert!(env.raw("same").is_empty());
}

#[test]
fn query_offset_shifts_query_time_and_sample_timestamps() {
    let env = Env::new();
    env.add(&[("__name__", "x")], T0 - MIN, 5.0);
    env.add(&[("__name__", "x")], T0, 6.0);
    let mut g = group(
        "groups:
- name: g
  query_offset: 1m
  rules:
  - record: y
    expr: x
",
    );
    assert_eq!(g.query_offset_ms(), MIN);
    g.eval(T0, &env.ctx());
    assert_eq!(
        env.raw("y"),
        [(labels_text(&[("__name__", "y")]), T0 - MIN, 5.0)]
    );
}

const ALERT_FOR_2M: &str = "groups:
- name: g
  rules:
  - alert: High
    expr: x > 10
    for: 2m
    labels: {severity: page, where: '{{ $labels.i }}'}
    annotations: {summary: 'value {{ $value }} on {{ $labels.i }}'}
";

#[test]
fn alert_goes_pending_then_firing_then_resolved() {
    let env = Env::new();
    for k in 0..=3 {
        let v = if k < 3 { 20.0 } else { 1.0 };
        env.add(&[("__name__", "x"), ("i", "a")], T0 + k * MIN, v);
    }
    let mut g = group(ALERT_FOR_2M);
    let state = |g: &Group| {
        let a = g.alerting(0);
        let alerts = a.alerts();
        (a.state(), alerts.first().map(|x| (x.state, x.active_at_ms)))
    };

    g.eval(T0, &env.ctx());
    assert_eq!(
        state(&g),
        (AlertState::Pending, Some((AlertState::Pending, T0)))
    );
    let alert = g.alerting(0).alerts()[0].clone();
    assert_eq!(
        alert.labels,
        Labels::from_pairs([
            ("alertname", "High"),
            ("i", "a"),
            ("severity", "page"),
            ("where", "a"),
        ])
    );
    assert_eq!(alert.annotations["summary"], "value 20 on a");
    assert!(env.sink.take().is_empty(), "pending alerts are not sent");

    g.eval(T0 + MIN, &env.ctx());
    assert_eq!(state(&g).0, AlertState::Pending);
    g.eval(T0 + 2 * MIN, &env.ctx());
    assert_eq!(
        state(&g),
        (AlertState::Firing, Some((AlertState::Firing, T0)))
    );
    let sent = env.sink.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].starts_at_ms, T0 + 2 * MIN);
    // 4 × max(interval 1m, resend delay 1m).
    assert_eq!(sent[0].ends_at_ms, Some(T0 + 2 * MIN + 4 * MIN));
    assert_eq!(
        sent[0].generator_url,
        "http://prom:9090/graph?g0.expr=x+%3E+10&g0.tab=1"
    );

    // ALERTS and ALERTS_FOR_STATE as written at each evaluation.
    let alerts_at = |t| env.query("ALERTS", t);
    let base = [
        ("__name__", "ALERTS"),
        ("alertname", "High"),
        ("i", "a"),
        ("severity", "page"),
        ("where", "a"),
    ];
    let with_state = |s| {
        let mut l = base.to_vec();
        l.push(("alertstate", s));
        labels_text(&l)
    };
    let pending: Vec<_> = env
        .raw("ALERTS")
        .into_iter()
        .filter(|r| r.0 == with_state("pending"))
        .collect();
    assert_eq!(
        pending[..2],
        [
            (with_state("pending"), T0, 1.0),
            (with_state("pending"), T0 + MIN, 1.0)
        ]
    );
    // Pending went away when it fired.
    assert_eq!(pending[2].1, T0 + 2 * MIN);
    assert!(storage::is_stale_nan(pending[2].2));
    assert_eq!(alerts_at(T0 + 2 * MIN), [(with_state("firing"), 1.0)]);
    let for_state = env.raw("ALERTS_FOR_STATE");
    assert_eq!(for_state.len(), 3);
    assert!(for_state.iter().all(|r| r.2 == (T0 / 1000) as f64));

    // Resolved: inactive, kept, sent with endsAt = resolution time; the
    // series get staleness markers.
    g.eval(T0 + 3 * MIN, &env.ctx());
    assert_eq!(
        state(&g),
        (AlertState::Inactive, Some((AlertState::Inactive, T0)))
    );
    let sent = env.sink.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].ends_at_ms, Some(T0 + 3 * MIN));
    let last_firing = env
        .raw("ALERTS")
        .into_iter()
        .rfind(|r| r.0 == with_state("firing"))
        .unwrap();
    assert_eq!(last_firing.1, T0 + 3 * MIN);
    assert!(storage::is_stale_nan(last_firing.2));
    assert!(storage::is_stale_nan(
        env.raw("ALERTS_FOR_STATE").last().unwrap().2
    ));

    // Re-sent every resend delay while kept, dropped after 15 minutes.
    g.eval(T0 + 4 * MIN, &env.ctx());
    assert!(env.sink.take().is_empty(), "within the resend delay");
    g.eval(T0 + 5 * MIN, &env.ctx());
    assert_eq!(env.sink.take().len(), 1);
    g.eval(T0 + 3 * MIN + 15 * MIN, &env.ctx());
    assert_eq!(g.alerting(0).alerts().len(), 1);
    g.eval(T0 + 3 * MIN + 16 * MIN, &env.ctx());
    assert!(g.alerting(0).alerts().is_empty());
}

#[test]
fn for_zero_fires_at_the_first_evaluation() {
    let env = Env::new();
    env.add(&[("__name__", "x")], T0, 20.0);
    let mut g = group(
        "groups:
- name: g
  rules:
  - alert: Now
    expr: x > 10
",
    );
    g.eval(T0, &env.ctx());
    assert_eq!(g.alerting(0).state(), AlertState::Firing);
    assert_eq!(env.sink.take().len(), 1);
}

#[test]
fn a_pending_alert_that_clears_is_forgotten() {
    let env = Env::new();
    env.add(&[("__name__", "x")], T0, 20.0);
    env.add(&[("__name__", "x")], T0 + MIN, 0.0);
    let mut g = group(ALERT_FOR_2M.replace("{{ $labels.i }}", "w").as_str());
    g.eval(T0, &env.ctx());
    assert_eq!(g.alerting(0).state(), AlertState::Pending);
    g.eval(T0 + MIN, &env.ctx());
    assert!(g.alerting(0).alerts().is_empty());
    assert!(env.sink.take().is_empty());
}

#[test]
fn keep_firing_for_holds_a_cleared_alert() {
    let env = Env::new();
    for (k, v) in [(0, 20.0), (1, 0.0), (2, 0.0), (3, 0.0)] {
        env.add(&[("__name__", "x")], T0 + k * MIN, v);
    }
    let mut g = group(
        "groups:
- name: g
  rules:
  - alert: Sticky
    expr: x > 10
    keep_firing_for: 2m
",
    );
    g.eval(T0, &env.ctx());
    assert_eq!(g.alerting(0).state(), AlertState::Firing);
    g.eval(T0 + MIN, &env.ctx());
    assert_eq!(g.alerting(0).state(), AlertState::Firing);
    assert_eq!(
        g.alerting(0).alerts()[0].keep_firing_since_ms,
        Some(T0 + MIN)
    );
    g.eval(T0 + 2 * MIN, &env.ctx());
    assert_eq!(g.alerting(0).state(), AlertState::Firing);
    g.eval(T0 + 3 * MIN, &env.ctx());
    assert_eq!(g.alerting(0).state(), AlertState::Inactive);
    // While kept firing, ALERTS still says firing.
    let firing = labels_text(&[
        ("__name__", "ALERTS"),
        ("alertname", "Sticky"),
        ("alertstate", "firing"),
    ]);
    assert_eq!(env.query("ALERTS", T0 + 2 * MIN), [(firing, 1.0)]);
}

/// `x{i="a"}` and `x{i="b"}`, both 20 at T0.
fn two_high_series() -> Env {
    let env = Env::new();
    for i in ["a", "b"] {
        env.add(&[("__name__", "x"), ("i", i)], T0, 20.0);
    }
    env
}

#[test]
fn too_many_alerts_clear_the_rule_and_fail_it() {
    let env = two_high_series();
    let mut g = group(
        "groups:
- name: g
  limit: 1
  rules:
  - alert: Many
    expr: x > 10
",
    );
    g.eval(T0, &env.ctx());
    assert!(g.alerting(0).alerts().is_empty());
    assert_eq!(
        status(&g, 0),
        (
            Health::Err,
            Some("exceeded limit of 1 with 2 alerts".into())
        )
    );
}

#[test]
fn duplicate_alert_label_sets_fail_the_evaluation() {
    let env = two_high_series();
    let mut g = group(
        "groups:
- name: g
  rules:
  - alert: Dup
    expr: x > 10
    labels: {i: same}
  - record: after
    expr: count(x)
",
    );
    g.eval(T0, &env.ctx());
    assert_eq!(
        status(&g, 0),
        (
            Health::Err,
            Some(
                "vector contains metrics with the same labelset after applying alert labels".into()
            )
        )
    );
    assert!(g.alerting(0).alerts().is_empty());
    assert_eq!(status(&g, 1), (Health::Ok, None));
}

#[test]
fn template_errors_become_the_annotation_text() {
    let env = Env::new();
    env.add(&[("__name__", "x"), ("i", "a")], T0, 20.0);
    env.add(&[("__name__", "y")], T0, 42.0);
    let mut g = group(
        "groups:
- name: g
  rules:
  - alert: Tmpl
    expr: x > 10
    annotations:
      broken: '{{ humanize \"not a number\" }}'
      queried: '{{ query \"y\" | first | value }}'
      ext: '{{ $externalURL }}'
",
    );
    g.eval(T0, &env.ctx());
    assert_eq!(status(&g, 0), (Health::Ok, None));
    let a = &g.alerting(0).alerts()[0].annotations;
    assert!(
        a["broken"].starts_with("<error expanding template: "),
        "{}",
        a["broken"]
    );
    assert_eq!(a["queried"], "42");
    assert_eq!(a["ext"], "http://prom:9090");
}

/// Writes what a previous run would have left: `ALERTS_FOR_STATE` of
/// alert `Slow` with `ActiveAt` `active_at` up to `down_at`.
fn previous_run(env: &Env, active_at: i64, down_at: i64) {
    let mut t = active_at;
    while t <= down_at {
        env.add(
            &[("__name__", "ALERTS_FOR_STATE"), ("alertname", "Slow")],
            t,
            (active_at / 1000) as f64,
        );
        t += MIN;
    }
}

fn slow_alert(for_: &str) -> Group {
    let yaml = format!(
        "groups:
- name: g
  rules:
  - alert: Slow
    expr: x > 10
    for: {for_}
"
    );
    Group::new("rules.yml", &rule_group(&yaml), defaults(), true).unwrap()
}

/// Restarts at `restart` with the condition still true: the restored
/// `ActiveAt`, and the environment and group to go on with.
fn restart_with(
    settings: Settings,
    for_: &str,
    active_at: i64,
    down_at: i64,
    restart: i64,
) -> (i64, Env, Group) {
    let env = Env {
        settings,
        ..Env::new()
    };
    previous_run(&env, active_at, down_at);
    env.add(&[("__name__", "x")], restart, 20.0);
    let mut g = slow_alert(for_);
    g.eval(restart, &env.ctx());
    assert!(
        env.query("ALERTS", restart).is_empty(),
        "no ALERTS before the restore"
    );
    g.restore_for_state(restart, &env.ctx());
    let at = g.alerting(0).alerts()[0].active_at_ms;
    (at, env, g)
}

fn restored_active_at(for_: &str, active_at: i64, down_at: i64, restart: i64) -> i64 {
    restart_with(Settings::default(), for_, active_at, down_at, restart).0
}

#[test]
fn restore_counts_pending_time_and_skips_downtime() {
    // Pending 5m of 30m, down 20m: 25m left after the restart.
    let (start, down, restart) = (T0, T0 + 5 * MIN, T0 + 25 * MIN);
    let at = restored_active_at("30m", start, down, restart);
    assert_eq!(at, start + 20 * MIN);
    assert_eq!(at + 30 * MIN - restart, 25 * MIN);
}

#[test]
fn restore_never_fires_sooner_than_the_grace_period() {
    // Pending 25m of 30m: 5m left, less than the 10m grace period.
    let (start, down, restart) = (T0, T0 + 25 * MIN, T0 + 40 * MIN);
    let at = restored_active_at("30m", start, down, restart);
    assert_eq!(at + 30 * MIN, restart + 10 * MIN);
}

#[test]
fn restore_keeps_a_firing_alert_firing() {
    let (start, down, restart) = (T0, T0 + 40 * MIN, T0 + 45 * MIN);
    assert_eq!(restored_active_at("30m", start, down, restart), start);
}

#[test]
fn restore_skips_short_for_and_outages_beyond_tolerance() {
    // `for` under the grace period: the clock starts over.
    let restart = T0 + 10 * MIN;
    assert_eq!(restored_active_at("5m", T0, T0 + 2 * MIN, restart), restart);
    // Last sample older than the 1h outage tolerance.
    let restart = T0 + 2 * 60 * MIN;
    assert_eq!(
        restored_active_at("30m", T0, T0 + 5 * MIN, restart),
        restart
    );
}

#[test]
fn restore_flags_change_the_arithmetic() {
    let settings = Settings {
        for_grace_period_ms: 2 * MIN,
        outage_tolerance_ms: 3 * 60 * MIN,
        ..Settings::default()
    };
    // Down 2h, inside a 3h tolerance: 25m of 30m left.
    let restart = T0 + 2 * 60 * MIN;
    let (at, _, _) = restart_with(settings.clone(), "30m", T0, T0 + 5 * MIN, restart);
    assert_eq!(at + 30 * MIN - restart, 25 * MIN);
    // 1m left is under the 2m grace period: fires 2m after the restart.
    let restart = T0 + 60 * MIN;
    let (at, env, mut g) = restart_with(settings, "30m", T0, T0 + 29 * MIN, restart);
    assert_eq!(at + 30 * MIN, restart + 2 * MIN);
    // Once restored, ALERTS are written.
    env.add(&[("__name__", "x")], restart + MIN, 20.0);
    g.eval(restart + MIN, &env.ctx());
    assert_eq!(env.query("ALERTS", restart + MIN).len(), 1);
}

#[test]
fn a_changed_group_takes_over_alerts_and_series_of_surviving_rules() {
    let env = Env::new();
    for k in 0..3 {
        env.add(&[("__name__", "x")], T0 + k * MIN, 20.0);
    }
    let old_yaml = "groups:
- name: g
  rules:
  - alert: Slow
    expr: x > 10
    for: 5m
  - record: gone
    expr: x
";
    let mut old = group(old_yaml);
    old.eval(T0, &env.ctx());
    let mut new = group(
        "groups:
- name: g
  rules:
  - alert: Slow
    expr: x > 10
    for: 5m
  - record: added
    expr: x
",
    );
    assert_ne!(old.spec, new.spec);
    assert_eq!(group(old_yaml).spec, old.spec);
    new.copy_state(&mut old);
    new.eval(T0 + MIN, &env.ctx());
    assert_eq!(new.alerting(0).alerts()[0].active_at_ms, T0);
    let gone = env.raw("gone");
    assert_eq!(gone.len(), 2);
    assert_eq!(gone[1].1, T0 + MIN);
    assert!(storage::is_stale_nan(gone[1].2));
}

#[test]
fn evaluation_slots_are_aligned_and_stable() {
    let a = group("groups:\n- name: a\n  rules: [{record: r, expr: '1'}]\n");
    let again = group("groups:\n- name: a\n  rules: [{record: r, expr: '1'}]\n");
    let b = group("groups:\n- name: b\n  rules: [{record: r, expr: '1'}]\n");
    let now = T0 + 12_345;
    let ts = a.eval_timestamp(now);
    assert!(ts <= now && now - ts < MIN);
    assert_eq!(ts, again.eval_timestamp(now));
    // The offset is the same in every interval.
    assert_eq!(a.eval_timestamp(now + 7 * MIN), ts + 7 * MIN);
    assert_eq!(a.eval_timestamp(ts), ts);
    assert_eq!(a.eval_timestamp(ts - 1), ts - MIN);
    let offset = |g: &Group| g.eval_timestamp(now).rem_euclid(MIN);
    assert_ne!(offset(&a), offset(&b));
}

#[test]
fn evaluation_slots_are_prometheus_slots() {
    // Offsets Prometheus 2.42 evaluated these groups at (the ms part of
    // `time()` recorded by each), with the rule file at this path.
    let file = "/tmp/rd/rules.yml";
    assert_eq!(slot_offset_ms(file, "one_second", 1_000), 242);
    assert_eq!(slot_offset_ms(file, "ten_seconds", 10_000), 7_350);
    assert_eq!(slot_offset_ms(file, "a_minute", MIN), 17_938);
}

#[test]
fn a_group_of_ten_thousand_rules_evaluates() {
    let env = Env::new();
    env.add(&[("__name__", "x")], T0, 1.0);
    let rules: Vec<_> = (0..10_000)
        .map(|i| crate::rules::rule_file::Rule {
            record: Some(format!("r{i}")),
            expr: "x + 1".into(),
            ..Default::default()
        })
        .collect();
    let rg = RuleGroup {
        name: "big".into(),
        rules,
        ..Default::default()
    };
    let mut g = Group::new("big.yml", &rg, defaults(), false).unwrap();
    g.eval(T0, &env.ctx());
    assert!(g.rules().iter().all(|r| r.status().health == Health::Ok));
    assert_eq!(env.query("r9999", T0)[0].1, 2.0);
}

#[test]
fn one_evaluation_costs_one_fsync_however_many_rules() {
    // The server's default: every client commit is fsynced. Rule results
    // are not waited on by anyone, so a group pays one fsync per
    // evaluation, not one per rule.
    let env = Env::with_wal_sync(storage::wal::SyncPolicy::Always);
    env.add(&[("__name__", "x")], T0, 1.0);
    let rules: Vec<_> = (0..100)
        .map(|i| crate::rules::rule_file::Rule {
            record: Some(format!("r{i}")),
            expr: if i == 0 {
                "x + 1".into()
            } else {
                format!("r{} + 1", i - 1)
            },
            ..Default::default()
        })
        .collect();
    let rg = RuleGroup {
        name: "chain".into(),
        rules,
        ..Default::default()
    };
    let mut g = Group::new("chain.yml", &rg, defaults(), false).unwrap();
    let before = env.db.head().wal().fsync_stats().0;
    g.eval(T0, &env.ctx());
    assert_eq!(env.db.head().wal().fsync_stats().0 - before, 1);
    // The chain still saw each earlier rule's output.
    assert_eq!(env.query("r99", T0)[0].1, 101.0);
}
