//! The manager with real timers (short intervals): start, reload, removal.

use std::time::Duration;

use storage::querier::Queryable;
use storage::{Matcher, Options};

use super::*;
use crate::config::parse_str_in_dir;
use crate::rules::notify::NoSink;
use crate::rules::rule::Health;

struct Env {
    dir: tempfile::TempDir,
    db: Arc<Db>,
    registry: Registry,
    manager: Manager,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        compaction_interval: None,
        retention: None,
        ..Options::default()
    };
    let db = Arc::new(Db::open(&dir.path().join("data"), opts).unwrap());
    let registry = Registry::new();
    let manager = Manager::new(
        ManagerOptions {
            engine: Engine::new(Default::default()),
            queryable: Arc::new(FanoutStorage::new(Arc::clone(&db))),
            db: Arc::clone(&db),
            sink: Arc::new(NoSink),
            settings: Settings::default(),
        },
        &registry,
    );
    Env {
        dir,
        db,
        registry,
        manager,
    }
}

impl Env {
    fn config(&self, rule_files: &[&str]) -> Config {
        let list = rule_files
            .iter()
            .map(|f| format!("{f:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        parse_str_in_dir(&format!("rule_files: [{list}]\n"), self.dir.path()).unwrap()
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    /// Every sample of the series named `name`, across its series.
    fn samples(&self, name: &str) -> Vec<(i64, f64)> {
        let q = self.db.querier(0, i64::MAX / 2).unwrap();
        let mut out = Vec::new();
        for s in q
            .select(&Default::default(), &[Matcher::equal("__name__", name)])
            .unwrap()
            .series
        {
            out.extend(s.iter());
        }
        out.sort_by_key(|p| p.0);
        out
    }

    /// Waits (up to 10s) until `ok` holds for the group snapshots.
    async fn wait_for(&self, what: &str, ok: impl Fn(&[GroupSnapshot]) -> bool) {
        for _ in 0..200 {
            if ok(&self.manager.groups()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}: {:?}", self.manager.groups());
    }
}

const RECORD: &str = "groups:
- name: g
  interval: 100ms
  rules:
  - record: one
    expr: vector(1)
";

fn evaluated(gs: &[GroupSnapshot]) -> bool {
    gs.len() == 1 && gs[0].rules.iter().all(|r| r.health == Health::Ok)
}

fn last_eval(gs: &[GroupSnapshot]) -> Option<SystemTime> {
    gs.first().and_then(|g| g.last_evaluation)
}

#[tokio::test]
async fn runs_groups_and_a_bad_reload_keeps_them() {
    let e = env();
    e.write("r.yml", RECORD);
    e.manager.update(&e.config(&["r.yml"])).await.unwrap();
    e.wait_for("the first evaluation", evaluated).await;
    assert!(!e.samples("one").is_empty());
    let text = e.registry.render();
    let key = format!("{};g", e.dir.path().join("r.yml").display());
    assert!(
        text.contains(&format!(
            "prometheus_rule_group_interval_seconds{{rule_group=\"{key}\"}} 0.1"
        )),
        "{text}"
    );
    assert!(text.contains("prometheus_rule_evaluation_duration_seconds{quantile=\"0.5\"}"));

    // A broken file fails the load with file and line; the group runs on.
    e.write(
        "r.yml",
        "groups:\n- name: g\n  rules:\n  - record: one\n    expr: sum(\n",
    );
    let err = e
        .manager
        .load(&e.config(&["r.yml"]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("r.yml: 5") && err.contains("could not parse"),
        "{err}"
    );
    let before = last_eval(&e.manager.groups());
    e.wait_for("evaluations to go on", |gs| last_eval(gs) > before)
        .await;

    // A named file that does not exist is an error; an empty glob is not.
    assert!(e.manager.load(&e.config(&["missing.yml"])).is_err());
    e.manager.update(&e.config(&["none-*.yml"])).await.unwrap();
    assert!(e.manager.groups().is_empty());
    e.manager.stop().await;
}

#[tokio::test]
async fn reload_keeps_or_carries_over_alert_state_and_marks_removed_groups_stale() {
    let e = env();
    let alert = "groups:
- name: g
  interval: 100ms
  rules:
  - alert: Always
    expr: vector(1)
    for: 1h
";
    e.write("r.yml", alert);
    e.write("other.yml", RECORD);
    e.manager
        .update(&e.config(&["r.yml", "other.yml"]))
        .await
        .unwrap();
    let active_at = |gs: &[GroupSnapshot]| {
        gs.iter()
            .flat_map(|g| &g.rules)
            .filter_map(|r| r.alerting.as_ref())
            .flat_map(|a| &a.alerts)
            .map(|a| a.active_at_ms)
            .next()
    };
    e.wait_for("a pending alert", |gs| active_at(gs).is_some())
        .await;
    let first = active_at(&e.manager.groups()).unwrap();

    // Unchanged: the same running group.
    e.manager
        .update(&e.config(&["r.yml", "other.yml"]))
        .await
        .unwrap();
    assert_eq!(active_at(&e.manager.groups()), Some(first));

    // The group about to be removed must have written its series first,
    // or there is nothing to mark stale (a loaded machine may not have run
    // its first evaluation yet).
    for _ in 0..200 {
        if !e.samples("one").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !e.samples("one").is_empty(),
        "the recording group never ran"
    );

    // Changed (a rule added, other group removed): the alert keeps its
    // ActiveAt.
    e.write(
        "r.yml",
        &format!("{alert}  - record: extra\n    expr: vector(2)\n"),
    );
    e.manager.update(&e.config(&["r.yml"])).await.unwrap();
    e.wait_for("the changed group", |gs| {
        gs.len() == 1 && gs[0].rules.len() == 2 && gs[0].rules[1].health == Health::Ok
    })
    .await;
    assert_eq!(active_at(&e.manager.groups()), Some(first));

    // The removed group's series get a staleness marker two intervals on.
    for _ in 0..100 {
        if e.samples("one")
            .last()
            .is_some_and(|p| storage::is_stale_nan(p.1))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = *e.samples("one").last().unwrap();
    assert!(storage::is_stale_nan(last.1), "{last:?}");
    e.manager.stop().await;
}

#[test]
fn overrunning_evaluations_skip_missed_slots() {
    // On time (or a little late): nothing missed.
    assert_eq!(skip_missed(1000, 1000, 100), (1000, 0));
    assert_eq!(skip_missed(1000, 1099, 100), (1000, 0));
    // The last evaluation ran 2.5 intervals past this slot: two skipped.
    assert_eq!(skip_missed(1000, 1250, 100), (1200, 2));
}
