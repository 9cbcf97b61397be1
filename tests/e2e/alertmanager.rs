//! End-to-end: ferroprom's notifier against a real Alertmanager (0.25 from
//! Debian), with broken Alertmanagers beside it, and
//! `/api/v1/alertmanagers` from the real binary.

use crate::common;

use std::time::{Duration, Instant, SystemTime};

use common::peers::{require, Peer};
use common::{free_port, Server};
use ferroprom::metrics::Registry;
use ferroprom::notifier::{Alert, Notifier, NotifierOptions};
use serde_json::Value;
use storage::Label;

/// Polls `f` every 100ms until it returns `Some`, or panics after 20s.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts, on `rt`, an HTTP server that answers every request with 500,
/// and a TCP server that accepts connections and never answers.
fn broken_alertmanagers(rt: &tokio::runtime::Runtime) -> (String, String) {
    rt.block_on(async {
        let app = axum::Router::new()
            .fallback(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "broken") });
        let failing = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let failing_addr = failing.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(failing, app).await });
        let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hanging_addr = hanging.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = hanging.accept().await {
                held.push(conn);
            }
        });
        (failing_addr, hanging_addr)
    })
}

fn alerts_in(am: &Peer) -> Vec<Value> {
    let (code, body) = am.get("/api/v2/alerts", &[]);
    assert_eq!(code, 200, "{body}");
    serde_json::from_str::<Value>(&body)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap()
}

fn find<'a>(alerts: &'a [Value], name: &str) -> Option<&'a Value> {
    alerts.iter().find(|a| a["labels"]["alertname"] == name)
}

#[test]
fn alerts_reach_alertmanager_past_broken_ones() {
    let Some(bin) = require("prometheus-alertmanager") else {
        return;
    };
    let am = Peer::alertmanager(&bin);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (failing, hanging) = broken_alertmanagers(&rt);
    let down = format!("127.0.0.1:{}", free_port());

    // Configured through a real prometheus.yml.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(
        &path,
        format!(
            "
global:
  external_labels: {{cluster: e2e}}
alerting:
  alertmanagers:
    - static_configs: [{{targets: ['127.0.0.1:{port}']}}]
    - timeout: 2s
      static_configs: [{{targets: ['{down}', '{failing}', '{hanging}']}}]
",
            port = am.port
        ),
    )
    .unwrap();
    let cfg = ferroprom::config::load_file(&path).unwrap();
    let registry = Registry::new();
    let _in_runtime = rt.enter();
    let notifier = Notifier::new(&registry, NotifierOptions::default());
    notifier.apply_config(&cfg).unwrap();
    eventually("4 Alertmanagers discovered", || {
        (notifier.alertmanagers().0.len() == 4).then_some(())
    });

    // Firing.
    let starts_at = SystemTime::UNIX_EPOCH
        + Duration::from_millis(
            (SystemTime::now() - Duration::from_secs(60))
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64,
        );
    let starts_text = chrono::DateTime::<chrono::Utc>::from(starts_at)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let alert = Alert {
        labels: vec![
            Label::new("alertname", "FerropromE2E"),
            Label::new("severity", "page"),
        ],
        annotations: vec![Label::new("summary", "instance is down")],
        starts_at,
        ends_at: None,
        generator_url: "http://ferroprom:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1".into(),
    };
    let sent = Instant::now();
    notifier.send(vec![alert.clone()]);
    let got = eventually("the alert in Alertmanager", || {
        find(&alerts_in(&am), "FerropromE2E").cloned()
    });
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "delivery waited for the hanging Alertmanager"
    );
    assert_eq!(
        got["labels"],
        serde_json::json!({"alertname": "FerropromE2E", "severity": "page", "cluster": "e2e"})
    );
    assert_eq!(got["annotations"]["summary"], "instance is down");
    assert_eq!(got["status"]["state"], "active");
    assert_eq!(got["generatorURL"], alert.generator_url);
    let got_start = chrono::DateTime::parse_from_rfc3339(got["startsAt"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(
        got_start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        starts_text
    );

    // Resolved: Alertmanager stops listing it as active.
    notifier.send(vec![Alert {
        ends_at: Some(SystemTime::now() - Duration::from_secs(1)),
        ..alert
    }]);
    eventually("the alert resolved", || {
        find(&alerts_in(&am), "FerropromE2E")
            .is_none()
            .then_some(())
    });

    // Each broken Alertmanager failed both batches, and is still listed.
    let good = format!("http://127.0.0.1:{}/api/v2/alerts", am.port);
    eventually("errors counted", || {
        let m = registry.render();
        [&down, &failing, &hanging]
            .iter()
            .all(|a| {
                m.contains(&format!(
                    "prometheus_notifications_errors_total{{alertmanager=\"http://{a}/api/v2/alerts\"}} 2"
                ))
            })
            .then_some(())
    });
    let m = registry.render();
    assert!(
        m.contains(&format!(
            "prometheus_notifications_sent_total{{alertmanager=\"{good}\"}} 2"
        )),
        "{m}"
    );
    assert!(!m.contains(&format!(
        "prometheus_notifications_errors_total{{alertmanager=\"{good}\"}}"
    )));
    assert!(m.contains("prometheus_notifications_dropped_total 0"));
    let (active, dropped) = notifier.alertmanagers();
    assert_eq!(active.len(), 4);
    assert!(active.contains(&good) && dropped.is_empty());
    rt.block_on(notifier.stop());
}

#[test]
fn api_lists_active_and_dropped_alertmanagers() {
    let (a, b) = (free_port(), free_port());
    let config = format!(
        "
alerting:
  alertmanagers:
    - path_prefix: /am
      static_configs: [{{targets: ['127.0.0.1:{a}', '127.0.0.1:{b}'], labels: {{role: x}}}}]
      relabel_configs:
        - {{source_labels: [__address__], regex: '.*:{b}', action: drop}}
"
    );
    let srv = Server::start(Some(&config), &["--web.enable-lifecycle"]);
    let want = serde_json::json!({
        "activeAlertmanagers": [{"url": format!("http://127.0.0.1:{a}/am/api/v2/alerts")}],
        "droppedAlertmanagers": [{"url": format!("http://127.0.0.1:{b}/am/api/v2/alerts")}],
    });
    eventually("the configured Alertmanagers", || {
        (srv.api("/api/v1/alertmanagers", &[]) == want).then_some(())
    });
    let (_, metrics) = srv.get("/metrics", &[]);
    assert!(metrics.contains("prometheus_notifications_alertmanagers_discovered 1"));
    assert!(metrics.contains("prometheus_notifications_queue_capacity 10000"));

    // A bad alerting block fails the reload and keeps the running one.
    std::fs::write(
        srv.config_path(),
        "alerting:\n  alertmanagers:\n    - api_version: v1\n",
    )
    .unwrap();
    let (code, body) = srv.post("/-/reload", &[]);
    assert_eq!(code, 500, "{body}");
    assert!(
        body.contains("alertmanager api v1 is no longer supported"),
        "{body}"
    );
    let data = srv.api("/api/v1/alertmanagers", &[]);
    assert_eq!(data["activeAlertmanagers"].as_array().unwrap().len(), 1);

    // An accepted reload replaces the sets.
    std::fs::write(
        srv.config_path(),
        format!(
            "alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{b}']}}]\n"
        ),
    )
    .unwrap();
    let (code, body) = srv.post("/-/reload", &[]);
    assert_eq!(code, 200, "{body}");
    let want = serde_json::json!({
        "activeAlertmanagers": [{"url": format!("http://127.0.0.1:{b}/api/v2/alerts")}],
        "droppedAlertmanagers": [],
    });
    eventually("the reloaded Alertmanagers", || {
        (srv.api("/api/v1/alertmanagers", &[]) == want).then_some(())
    });
}
