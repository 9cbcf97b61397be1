//! Bad input does not take rule evaluation or the server down: rules that
//! fail at evaluation (a bad regex, a many-to-many match, duplicate output
//! series) are counted and the rest of their group still runs, a template
//! that fails to execute becomes the annotation text the Alertmanager
//! receives, a group of 10,000 rules evaluates within its interval, and
//! Alertmanagers that answer 500, hang or are unreachable cost only their
//! own deliveries. Meanwhile queries are answered and scraping goes on.

use crate::common;

use std::fmt::Write as _;

use common::exporter::{Exporter, Reply};
use common::peers::{require, Peer};
use common::{free_port, poll, Server};

const BIG_RULES: usize = 10_000;

/// A group mixing rules that fail at evaluation (they all parse) with
/// ones that work.
const MIXED: &str = r#"groups:
- name: mixed
  interval: 1s
  rules:
  - record: good:first
    expr: vector(1)
  - record: bad:regex
    expr: label_replace(vector(1), "dst", "$1", "src", "(")
  - record: bad:many_to_many
    expr: pair + on(side) pair
  - record: bad:duplicate
    expr: pair
    labels: {k: same}
  - alert: BrokenTemplate
    expr: vector(3)
    labels: {severity: page}
    annotations:
      summary: '{{ with query "sum(" }}{{ . }}{{ end }}'
      value: 'value {{ $value }}'
  - record: good:last
    expr: my_gauge * 2
"#;

/// One group of [`BIG_RULES`] recording rules over the scraped gauge, at
/// Prometheus's default interval.
///
/// Every rule commits its own output (later rules must see it), and every
/// commit waits for a WAL fsync: on a shared test VM that is 2-4ms a
/// rule, 20-40s for the group, so a shorter interval would be missed.
fn big_group() -> String {
    let mut s = String::from("groups:\n- name: big\n  interval: 1m\n  rules:\n");
    for i in 0..BIG_RULES {
        writeln!(s, "  - record: big:r{i}\n    expr: my_gauge + {i}").unwrap();
    }
    s
}

/// A scrape config for one target, with rules and Alertmanagers.
fn config(target: &str, rule_files: &str, alerting: &str) -> String {
    format!(
        "
global:
  scrape_interval: 1s
  scrape_timeout: 500ms
  evaluation_interval: 1s
rule_files: [{rule_files}]
alerting:
  alertmanagers:{alerting}
scrape_configs:
  - job_name: bad
    static_configs: [{{targets: ['{target}']}}]
"
    )
}

fn value(s: &Server, q: &str) -> Option<f64> {
    s.query(q)
        .first()
        .and_then(|v| v["value"][1].as_str())
        .and_then(|v| v.parse().ok())
}

#[test]
fn failing_rules_and_alertmanagers_leave_the_rest_running() {
    let Some(bin) = require("prometheus-alertmanager") else {
        return;
    };
    let am = Peer::alertmanager(&bin);
    let failing = Exporter::start("");
    failing.set_reply(Reply::Status(500));
    let hanging = Exporter::start("");
    hanging.set_reply(Reply::Hang);
    let unreachable = format!("127.0.0.1:{}", free_port());
    let exp =
        Exporter::start("my_gauge 5\npair{side=\"l\",k=\"1\"} 1\npair{side=\"l\",k=\"2\"} 2\n");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mixed.yml"), MIXED).unwrap();
    let alerting = format!(
        "
    - static_configs: [{{targets: ['127.0.0.1:{am}']}}]
    - timeout: 2s
      static_configs: [{{targets: ['{failing}', '{hanging}', '{unreachable}']}}]",
        am = am.port,
        failing = failing.addr(),
        hanging = hanging.addr(),
    );
    let config = config(&exp.addr(), "mixed.yml", &alerting);
    let mut s = Server::start_in(dir, Some(&config), &[]);
    let log = s.keep_log();
    let scraped_at = |s: &Server| value(s, "timestamp(up{job=\"bad\"})");
    let first_scrape = poll(20, "the first scrape", || scraped_at(&s));

    // The three failing rules are counted at every evaluation; the others of the
    // same group, before and after them, still write their series.
    let failures =
        |s: &Server| s.self_metric("prometheus_rule_evaluation_failures_total", &[";mixed\""]);
    let first = poll(20, "failures counted", || {
        failures(&s).filter(|&n| n >= 3.0)
    });
    poll(20, "more failures", || {
        failures(&s).filter(|&n| n >= first + 3.0)
    });
    // Each for its own reason, as the log says.
    for (rule, why) in [
        ("bad:regex", "regular expression"),
        ("bad:many_to_many", "many-to-many matching not allowed"),
        ("bad:duplicate", "same labelset after applying rule labels"),
    ] {
        let logged = |l: &str| {
            l.contains("evaluating rule failed")
                && l.contains(&format!("rule={rule} "))
                && l.contains(why)
        };
        poll(20, &format!("{rule} failing with {why:?}"), || {
            log.lock().unwrap().lines().any(logged).then_some(())
        });
    }
    assert_eq!(value(&s, "good:first"), Some(1.0));
    s.wait_for("good:last", 20, |r| !r.is_empty());
    assert_eq!(value(&s, "good:last"), Some(10.0));
    for bad in ["bad:regex", "bad:many_to_many", "bad:duplicate"] {
        assert!(s.query(bad).is_empty(), "{bad} wrote series");
    }

    // The template that fails to execute is the annotation the
    // Alertmanager receives; the other annotation expands as usual.
    let got = poll(30, "the alert in Alertmanager", || {
        am.am_alert("BrokenTemplate")
    });
    let summary = got["annotations"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("<error expanding template: ") && summary.ends_with('>'),
        "{summary}"
    );
    assert_eq!(got["annotations"]["value"], "value 3");
    assert_eq!(got["labels"]["severity"], "page");
    s.wait_for(
        "ALERTS{alertname=\"BrokenTemplate\",alertstate=\"firing\"}",
        20,
        |r| r.len() == 1,
    );

    // Each broken Alertmanager failed on its own.
    for addr in [failing.addr(), hanging.addr(), unreachable] {
        let url = format!("alertmanager=\"http://{addr}/api/v2/alerts\"");
        poll(30, &format!("errors for {addr}"), || {
            s.self_metric("prometheus_notifications_errors_total", &[&url])
                .filter(|&n| n >= 1.0)
        });
    }
    assert!(failing.requests() >= 1 && hanging.requests() >= 1);

    // All along, scraping went on and queries were answered.
    poll(20, "scraping to go on", || {
        scraped_at(&s).filter(|&t| t > first_scrape)
    });
    assert_eq!(value(&s, "up{job=\"bad\"}"), Some(1.0));
    assert_eq!(value(&s, "my_gauge"), Some(5.0));
}

#[test]
fn ten_thousand_rules_evaluate_within_the_interval() {
    let exp = Exporter::start("my_gauge 5\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.yml"), big_group()).unwrap();
    let mut s = Server::start_in(dir, Some(&config(&exp.addr(), "big.yml", " []")), &[]);
    let _log = s.keep_log();
    let first_scrape = poll(20, "the first scrape", || {
        value(&s, "timestamp(up{job=\"bad\"})")
    });

    // The first slot is up to an interval away; then no iteration is
    // missed and the evaluation fits in the interval.
    let big = ";big\"";
    assert_eq!(
        s.self_metric("prometheus_rule_group_rules", &[big]),
        Some(BIG_RULES as f64)
    );
    let took = poll(150, "the big group evaluated", || {
        s.self_metric("prometheus_rule_group_last_duration_seconds", &[big])
            .filter(|&d| d > 0.0)
    });
    println!("10,000 rules evaluated in {took}s");
    assert!(took < 60.0, "10,000 rules took {took}s, the interval is 1m");
    assert_eq!(
        s.self_metric("prometheus_rule_group_iterations_missed_total", &[big]),
        Some(0.0)
    );
    assert_eq!(
        s.self_metric("prometheus_rule_evaluation_failures_total", &[big]),
        Some(0.0)
    );
    assert_eq!(value(&s, "big:r9999"), Some(10_004.0));
    assert_eq!(value(&s, "count({__name__=~\"big:.*\"})"), Some(10_000.0));

    // Scraping went on meanwhile.
    let scraped = value(&s, "timestamp(up{job=\"bad\"})").unwrap();
    assert!(
        scraped > first_scrape + took.floor(),
        "last scrape at {scraped}, first at {first_scrape}, the group took {took}s"
    );
    assert_eq!(value(&s, "up{job=\"bad\"}"), Some(1.0));
}
