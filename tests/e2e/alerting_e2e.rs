//! Alerting end to end with real parts: the binary scrapes a test
//! exporter, an alerting rule over the scraped gauge goes pending, fires
//! and resolves, and a real Alertmanager (0.25) receives it while a second,
//! unreachable Alertmanager fails beside it without holding delivery up.

use crate::common;

use std::time::{Duration, Instant};

use common::exporter::Exporter;
use common::peers::{require, Peer};
use common::{free_port, poll, Server};
use serde_json::{json, Value};

const RULES: &str = r#"groups:
- name: e2e
  rules:
  - alert: GaugeHigh
    expr: my_gauge > 10
    for: 3s
    labels:
      severity: page
      tier: 'tier-{{ $labels.job }}'
    annotations:
      summary: 'my_gauge on {{ $labels.instance }} is {{ $value }}'
      description: 'about {{ $value | humanize }}'
"#;

fn rfc3339_secs(v: &Value) -> f64 {
    let t = chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    t.timestamp_millis() as f64 / 1000.0
}

#[test]
fn alert_goes_pending_fires_reaches_alertmanager_and_resolves() {
    let Some(bin) = require("prometheus-alertmanager") else {
        return;
    };
    let am = Peer::alertmanager(&bin);
    let down = format!("127.0.0.1:{}", free_port());
    let exp = Exporter::start("my_gauge 1\n");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("alerts.yml"), RULES).unwrap();
    let config = format!(
        "
global:
  scrape_interval: 1s
  scrape_timeout: 500ms
  evaluation_interval: 1s
  external_labels: {{cluster: e2e}}
rule_files: [alerts.yml]
alerting:
  alertmanagers:
    - timeout: 2s
      static_configs: [{{targets: ['{down}']}}]
    - static_configs: [{{targets: ['127.0.0.1:{am}']}}]
scrape_configs:
  - job_name: gauge
    static_configs: [{{targets: ['{exp}']}}]
",
        am = am.port,
        exp = exp.addr(),
    );
    let mut s = Server::start_in(
        dir,
        Some(&config),
        &[
            "--rules.alert.resend-delay=1s",
            "--web.external-url=http://ferroprom.example:9090/prom/",
        ],
    );
    let _log = s.keep_log();
    s.wait_for("my_gauge", 20, |r| !r.is_empty());
    // Past the start-up evaluations that restore `for` state (no ALERTS
    // series are written before that), so the whole pending phase is seen.
    poll(20, "the start-up evaluations", || {
        s.self_metric("prometheus_rule_group_iterations_total", &[";e2e\""])
            .filter(|&n| n >= 3.0)
    });
    assert!(s.query("ALERTS").is_empty(), "no alert below the threshold");

    // Raised: pending first, firing once `for` has passed.
    exp.set_body("my_gauge 2500\n");
    let pending = s.wait_for("ALERTS{alertstate=\"pending\"}", 20, |r| !r.is_empty());
    let want_labels = json!({
        "__name__": "ALERTS",
        "alertname": "GaugeHigh",
        "alertstate": "pending",
        "severity": "page",
        "tier": "tier-gauge",
        "instance": exp.addr(),
        "job": "gauge",
    });
    assert_eq!(pending[0]["metric"], want_labels);
    let firing = s.wait_for("ALERTS{alertstate=\"firing\"}", 20, |r| !r.is_empty());
    let fired_seen = Instant::now();
    assert_eq!(firing[0]["metric"]["tier"], "tier-gauge");

    // The clock as the stored series tell it: ALERTS_FOR_STATE holds the
    // start of pending, and firing began `for` (3s) after it.
    let pending_t = s.raw_samples("ALERTS{alertstate=\"pending\"}", "1m");
    let firing_t = s.raw_samples("ALERTS{alertstate=\"firing\"}", "1m");
    let for_state = s.raw_samples("ALERTS_FOR_STATE", "1m");
    let active_at = for_state[0].1;
    assert!(
        for_state.iter().all(|&(_, v)| v == active_at),
        "{for_state:?}"
    );
    assert_eq!(
        active_at,
        pending_t[0].0.floor(),
        "{pending_t:?} {for_state:?}"
    );
    let fired_at = firing_t[0].0;
    assert!(
        (3.0..8.0).contains(&(fired_at - pending_t[0].0)),
        "pending at {pending_t:?}, firing at {firing_t:?}"
    );

    // Alertmanager has it, with external labels, expanded annotations and
    // the generator URL under --web.external-url; the unreachable
    // Alertmanager beside it did not hold the delivery up.
    let got = poll(20, "the alert in Alertmanager", || am.am_alert("GaugeHigh"));
    assert!(
        fired_seen.elapsed() < Duration::from_secs(5),
        "delivery took {:?} after firing",
        fired_seen.elapsed()
    );
    assert_eq!(
        got["labels"],
        json!({
            "alertname": "GaugeHigh",
            "severity": "page",
            "tier": "tier-gauge",
            "instance": exp.addr(),
            "job": "gauge",
            "cluster": "e2e",
        })
    );
    assert_eq!(
        got["annotations"],
        json!({
            "summary": format!("my_gauge on {} is 2500", exp.addr()),
            "description": "about 2.5k",
        })
    );
    assert_eq!(
        got["generatorURL"],
        "http://ferroprom.example:9090/prom/graph?g0.expr=my_gauge+%3E+10&g0.tab=1"
    );
    assert_eq!(got["status"]["state"], "active");
    assert_eq!(rfc3339_secs(&got["startsAt"]), fired_at);
    assert!(rfc3339_secs(&got["endsAt"]) > fired_at, "{got}");

    // Re-sent every resend delay to the good one; every send to the
    // unreachable one counted as an error.
    let good = format!("http://127.0.0.1:{}/api/v2/alerts", am.port);
    let bad = format!("http://{down}/api/v2/alerts");
    let sent = |url: &str| {
        s.self_metric(
            "prometheus_notifications_sent_total",
            &[&format!("alertmanager=\"{url}\"")],
        )
    };
    poll(20, "a resend", || sent(&good).filter(|&n| n >= 2.0));
    poll(20, "errors counted for the unreachable one", || {
        s.self_metric(
            "prometheus_notifications_errors_total",
            &[&format!("alertmanager=\"{bad}\"")],
        )
        .filter(|&n| n >= 1.0)
    });
    assert_eq!(
        s.self_metric(
            "prometheus_notifications_errors_total",
            &[&format!("alertmanager=\"{good}\"")],
        ),
        None
    );
    assert_eq!(
        s.self_metric("prometheus_notifications_dropped_total", &[]),
        Some(0.0)
    );

    // Lowered: resolved in Alertmanager, and the ALERTS series end with a
    // staleness marker (without one they would stay visible for the
    // 5-minute lookback).
    exp.set_body("my_gauge 1\n");
    poll(20, "the alert resolved in Alertmanager", || {
        am.am_alert("GaugeHigh").is_none().then_some(())
    });
    s.wait_for("ALERTS", 20, |r| r.is_empty());
    assert!(s.query("ALERTS_FOR_STATE").is_empty());
    assert!(
        !s.raw_samples("ALERTS{alertstate=\"firing\"}", "1m")
            .is_empty(),
        "the firing samples are still stored"
    );
}
