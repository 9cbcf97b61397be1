//! End-to-end: the real binary scraping test exporters.

use crate::common;

use std::time::Duration;

use common::exporter::{Exporter, Reply};
use common::Server;
use serde_json::Value;

fn job_config(job: &str, addr: &str, extra: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\nscrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['{addr}']\n        labels:\n          env: test\n{extra}"
    )
}

fn value_of(r: &[Value]) -> Option<f64> {
    r.first()
        .and_then(|s| s["value"][1].as_str())
        .and_then(|v| v.parse().ok())
}

#[test]
fn scraped_series_carry_target_labels_and_report_series() {
    let exp = Exporter::start("# TYPE demo_total counter\n# HELP demo_total A demo.\ndemo_total{path=\"/a\"} 7\ndemo_gauge 3.5\n");
    let srv = Server::start(Some(&job_config("demo", &exp.addr(), "")), &[]);
    let r = srv.wait_for("demo_total", 15, |r| !r.is_empty());
    let m = &r[0]["metric"];
    assert_eq!(m["job"], "demo");
    assert_eq!(m["instance"], exp.addr());
    assert_eq!(m["env"], "test");
    assert_eq!(m["path"], "/a");
    assert_eq!(value_of(&r), Some(7.0));
    for (q, want) in [
        ("up{job=\"demo\"}", Some(1.0)),
        ("scrape_samples_scraped{job=\"demo\"}", Some(2.0)),
        (
            "scrape_samples_post_metric_relabeling{job=\"demo\"}",
            Some(2.0),
        ),
    ] {
        assert_eq!(value_of(&srv.query(q)), want, "{q}");
    }
    for q in ["scrape_duration_seconds", "scrape_series_added"] {
        assert_eq!(srv.query(q).len(), 1, "{q}");
    }
    // The scraper negotiates OpenMetrics first and says so.
    let req = exp.last_request().to_ascii_lowercase();
    assert!(
        req.contains("accept: application/openmetrics-text"),
        "{req}"
    );
    // Target and metadata APIs see the target.
    let t = srv.api("/api/v1/targets", &[]);
    let active = t["activeTargets"].as_array().unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["health"], "up");
    assert_eq!(active[0]["labels"]["job"], "demo");
    assert_eq!(
        active[0]["scrapeUrl"],
        format!("http://{}/metrics", exp.addr())
    );
    let md = srv.api("/api/v1/metadata", &[("metric", "demo_total")]);
    assert_eq!(md["demo_total"][0]["type"], "counter");
    assert_eq!(md["demo_total"][0]["help"], "A demo.");
    let tmd = srv.api(
        "/api/v1/targets/metadata",
        &[("match_target", "{job=\"demo\"}"), ("metric", "demo_total")],
    );
    assert_eq!(tmd[0]["type"], "counter");
}

#[test]
fn vanished_series_and_failing_targets_go_stale() {
    let exp = Exporter::start("keep 1\ngoes_away 2\n");
    let srv = Server::start(Some(&job_config("stale", &exp.addr(), "")), &[]);
    srv.wait_for("goes_away", 15, |r| r.len() == 1);
    exp.set_body("keep 1\n");
    // The staleness marker ends the series long before the 5m lookback.
    srv.wait_for("goes_away", 15, |r| r.is_empty());
    assert_eq!(srv.query("keep").len(), 1);
    exp.set_reply(Reply::Status(500));
    srv.wait_for("up{job=\"stale\"}", 15, |r| value_of(r) == Some(0.0));
    srv.wait_for("keep", 15, |r| r.is_empty());
    let t = srv.api("/api/v1/targets", &[]);
    let target = &t["activeTargets"][0];
    assert_eq!(target["health"], "down");
    let err = target["lastError"].as_str().unwrap();
    assert!(err.contains("500"), "{err}");
}

#[test]
fn relabeling_applies_to_targets_and_metrics() {
    let exp = Exporter::start("wanted{a=\"1\"} 1\nunwanted 2\n");
    let extra = "    relabel_configs:\n      - target_label: team\n        replacement: infra\n      - source_labels: [env]\n        regex: (.*)\n        target_label: stage\n        replacement: pre-$1\n    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: unwanted\n        action: drop\n";
    let srv = Server::start(Some(&job_config("rl", &exp.addr(), extra)), &[]);
    let r = srv.wait_for("wanted", 15, |r| !r.is_empty());
    assert_eq!(r[0]["metric"]["team"], "infra");
    assert_eq!(r[0]["metric"]["stage"], "pre-test");
    srv.wait_for(
        "scrape_samples_post_metric_relabeling{job=\"rl\"}",
        15,
        |r| value_of(r) == Some(1.0),
    );
    assert!(srv.query("unwanted").is_empty());
    assert_eq!(
        value_of(&srv.query("scrape_samples_scraped{job=\"rl\"}")),
        Some(2.0)
    );
}

#[test]
fn file_sd_updates_are_picked_up() {
    let a = Exporter::start("from_file 1\n");
    let b = Exporter::start("from_file 2\n");
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("targets.json");
    std::fs::write(
        &sd,
        format!(
            "[{{\"targets\":[\"{}\"],\"labels\":{{\"src\":\"file\"}}}}]",
            a.addr()
        ),
    )
    .unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fsd\n    file_sd_configs:\n      - files: ['{}']\n        refresh_interval: 1s\n",
        dir.path().join("*.json").display()
    );
    let srv = Server::start(Some(&cfg), &[]);
    let r = srv.wait_for("from_file", 20, |r| r.len() == 1);
    assert_eq!(r[0]["metric"]["src"], "file");
    std::fs::write(
        &sd,
        format!(
            "[{{\"targets\":[\"{}\", \"{}\"],\"labels\":{{\"src\":\"file\"}}}}]",
            a.addr(),
            b.addr()
        ),
    )
    .unwrap();
    srv.wait_for("from_file", 20, |r| r.len() == 2);
    let t = srv.api("/api/v1/targets", &[]);
    assert_eq!(t["activeTargets"].as_array().unwrap().len(), 2);
}

#[test]
fn reload_applies_good_configs_and_rejects_bad_ones() {
    let a = Exporter::start("job_a_metric 1\n");
    let b = Exporter::start("job_b_metric 1\n");
    let srv = Server::start(
        Some(&job_config("a", &a.addr(), "")),
        &["--web.enable-lifecycle"],
    );
    srv.wait_for("job_a_metric", 15, |r| !r.is_empty());

    // A good config through /-/reload.
    std::fs::write(srv.config_path(), job_config("b", &b.addr(), "")).unwrap();
    let (code, body) = srv.post("/-/reload", &[]);
    assert_eq!(code, 200, "{body}");
    srv.wait_for("job_b_metric", 15, |r| !r.is_empty());
    // Job a was removed: its series go stale.
    srv.wait_for("job_a_metric", 15, |r| r.is_empty());

    // A bad config is rejected with the reason and the old one keeps running.
    std::fs::write(
        srv.config_path(),
        "global:\n  scrape_interval: soon\nscrape_configs: []\n",
    )
    .unwrap();
    let (code, body) = srv.post("/-/reload", &[]);
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("scrape_interval"), "{body}");
    let before = b.requests();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(b.requests() > before, "old config stopped scraping");
    let flags = srv.api("/api/v1/status/config", &[]);
    assert!(flags["yaml"].as_str().unwrap().contains("job_name: b"));

    // SIGHUP reloads too.
    std::fs::write(srv.config_path(), job_config("a2", &a.addr(), "")).unwrap();
    srv.signal(libc::SIGHUP);
    srv.wait_for("up{job=\"a2\"}", 15, |r| value_of(r) == Some(1.0));
}

#[test]
fn reload_needs_the_lifecycle_flag() {
    let srv = Server::start(Some("scrape_configs: []\n"), &[]);
    let (code, _) = srv.post("/-/reload", &[]);
    assert_eq!(code, 403);
}

#[test]
fn garbage_and_hanging_targets_fail_their_scrape_only() {
    let garbage = Exporter::start("ok_metric 1\nthis is { not valid\n");
    let hang = Exporter::start("");
    hang.set_reply(Reply::Hang);
    let cfg = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\nscrape_configs:\n  - job_name: garbage\n    static_configs: [{{targets: ['{}']}}]\n  - job_name: hang\n    static_configs: [{{targets: ['{}']}}]\n",
        garbage.addr(),
        hang.addr()
    );
    let srv = Server::start(Some(&cfg), &[]);
    srv.wait_for("up{job=\"garbage\"}", 15, |r| value_of(r) == Some(0.0));
    srv.wait_for("up{job=\"hang\"}", 15, |r| value_of(r) == Some(0.0));
    // Nothing from the malformed payload was stored, not even its good line.
    assert!(srv.query("ok_metric").is_empty());
    let t = srv.api("/api/v1/targets", &[]);
    for target in t["activeTargets"].as_array().unwrap() {
        let err = target["lastError"].as_str().unwrap().to_string();
        match target["labels"]["job"].as_str().unwrap() {
            "garbage" => assert!(err.contains("line 2"), "{err}"),
            _ => assert!(
                err.to_lowercase().contains("timeout") || err.contains("deadline"),
                "{err}"
            ),
        }
    }
    // The server keeps answering.
    assert_eq!(srv.get("/-/healthy", &[]).0, 200);
}

#[test]
fn default_config_scrapes_itself_and_data_survives_restart() {
    let srv = Server::start(None, &[]);
    // The built-in config scrapes every 15s; the first scrape comes within one interval.
    let r = srv.wait_for("up{job=\"ferroprom\"}", 40, |r| value_of(r) == Some(1.0));
    assert_eq!(
        r[0]["metric"]["instance"],
        format!("localhost:{}", srv.port)
    );
    let (dir, status, log) = srv.stop();
    assert!(status.success(), "exit {status}: {log}");
    assert!(log.contains("built-in configuration"), "{log}");
    // Restart on the same data dir: the scraped samples were kept.
    let srv = Server::start_in(dir, None, &[]);
    let d = srv.api(
        "/api/v1/query",
        &[("query", "count_over_time(up{job=\"ferroprom\"}[10m])")],
    );
    assert!(!d["result"].as_array().unwrap().is_empty(), "{d}");
}
