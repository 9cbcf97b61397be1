//! The web UI's pages (all but the query page) in headless Chromium
//! against the real binary: targets, service discovery, alerts, rules,
//! status pages, the cardinality explorer, and the whole UI under a route
//! prefix. Skipped with a message when Chromium or chromedriver is missing;
//! screenshots land in `target/ui-screenshots/`.

use crate::common;

use common::browser::Browser;
use common::exporter::Exporter;
use common::{poll, Server};
use serde_json::json;

/// A scrape config for `exporter` (1 s interval) plus `extra` YAML.
fn config(exporter: &Exporter, extra: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n{extra}\
         scrape_configs:\n  - job_name: exp\n    static_configs:\n      - targets: ['{}']\n",
        exporter.addr()
    )
}

const RULES: &str = "groups:
- name: ui-group
  interval: 1s
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
  - alert: AlwaysFiring
    expr: vector(42) > 0
    labels: {severity: page}
    annotations: {summary: it fires}
  - alert: NeverFires
    expr: vector(1) < 0
";

#[test]
fn targets_show_up_then_the_error_after_the_exporter_stops() {
    let Some(b) = Browser::start() else { return };
    let exp = Exporter::start("ui_gauge{kind=\"a\"} 1\n");
    let addr = exp.addr();
    let s = Server::start(Some(&config(&exp, "")), &[]);
    s.wait_for("up{job=\"exp\"}", 20, |r| r.len() == 1);

    b.goto(&s.url("/targets"));
    let row = b.wait_text("tr.target[data-health=up]", &addr);
    assert!(row.contains("up"), "{row}");
    assert!(b
        .wait_text("details.pool summary", "exp")
        .contains("1/1 up"));
    b.click("tr.target button.link");
    b.wait_text("tr.discovered", "__address__");
    b.screenshot("targets-up");

    // Filtering by health hides the healthy target.
    b.click("input[name=health][value=up]");
    b.wait_text("#pools", "No targets match");
    assert!(b.url().contains("health=down%2Cunknown"), "{}", b.url());

    drop(exp);
    poll(20, "target down", || {
        let t = s.api("/api/v1/targets", &[]);
        (t["activeTargets"][0]["health"] == "down").then_some(())
    });
    b.goto(&s.url("/targets"));
    let row = b.wait_text("tr.target[data-health=down]", &addr);
    let err = b.find("tr.target[data-health=down] td.error-text").text();
    assert!(!err.is_empty(), "no error shown: {row}");
    b.screenshot("targets-down");
}

#[test]
fn service_discovery_counts_kept_and_dropped() {
    let Some(b) = Browser::start() else { return };
    let exp = Exporter::start("x 1\n");
    let cfg = format!(
        "scrape_configs:\n  - job_name: sd\n    static_configs:\n      - targets: ['{}', '127.0.0.1:1']\n\
         \x20   relabel_configs:\n      - source_labels: [__address__]\n        regex: '127.0.0.1:1'\n        action: drop\n",
        exp.addr()
    );
    let s = Server::start(Some(&cfg), &[]);
    poll(20, "targets discovered", || {
        let t = s.api("/api/v1/targets", &[("state", "any")]);
        (t["activeTargets"].as_array()?.len() == 1).then_some(())
    });
    b.goto(&s.url("/service-discovery"));
    // Pool, discovered, kept, dropped.
    let row = b.wait_text("table.data tbody tr", "sd");
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["sd", "2", "1", "1"]
    );
    b.click("details.pool[data-pool=sd] summary");
    b.wait_text("details.pool[data-pool=sd] td", "127.0.0.1:1");
    b.wait_text("details.pool[data-pool=sd] td", "dropped");
    b.screenshot("service-discovery");
}

#[test]
fn alerts_and_rules_pages() {
    let Some(b) = Browser::start() else { return };
    // No rules: the empty states.
    let bare = Server::start(None, &[]);
    b.goto(&bare.url("/alerts"));
    b.wait_text("#alert-groups", "No alerting rules");
    b.screenshot("alerts-empty");
    b.goto(&bare.url("/rules"));
    b.wait_text("#rule-groups", "No rule groups");
    drop(bare);

    let dir = tempfile::tempdir().unwrap();
    let rule_file = dir.path().join("ui.rules.yml");
    std::fs::write(&rule_file, RULES).unwrap();
    let exp = Exporter::start("x 1\n");
    let extra = format!("rule_files: ['{}']\n", rule_file.display());
    let s = Server::start(Some(&config(&exp, &extra)), &[]);
    poll(20, "alert firing", || {
        let a = s.api("/api/v1/alerts", &[]);
        (a["alerts"][0]["state"] == "firing").then_some(())
    });
    poll(20, "recording rule evaluated", || {
        let r = s.api("/api/v1/rules", &[("type", "record")]);
        (r["groups"][0]["rules"][0]["health"] == "ok").then_some(())
    });

    b.goto(&s.url("/alerts"));
    let counts = b.wait_text("#alert-counts", "firing");
    assert!(counts.contains("firing 1"), "{counts}");
    assert!(counts.contains("inactive 1"), "{counts}");
    b.wait_text("#alert-groups h2", "ui.rules.yml > ui-group");
    b.click("details.rule[data-rule=AlwaysFiring] summary");
    let alert = b.wait_text(
        "details.rule[data-rule=AlwaysFiring] table.data tbody tr",
        "firing",
    );
    assert!(alert.contains("severity=\"page\""), "{alert}");
    assert!(alert.contains("42"), "{alert}");
    b.wait_text("details.rule[data-rule=AlwaysFiring] dl.kv", "it fires");
    b.screenshot("alerts-firing");
    // The state filter hides inactive rules.
    b.click("input[name=state][value=inactive]");
    poll(5, "inactive hidden", || {
        (b.count("details.rule[data-rule=NeverFires]") == 0).then_some(())
    });

    b.goto(&s.url("/rules"));
    let rec = b.wait_text("#rule-groups tbody tr", "job:up:sum");
    assert!(rec.contains("sum by (job) (up)"), "{rec}");
    assert!(rec.contains("ok"), "{rec}");
    b.wait_text("#rule-groups tbody tr", "AlwaysFiring");
    b.screenshot("rules");
}

#[test]
fn status_flags_config_and_tsdb_pages() {
    let Some(b) = Browser::start() else { return };
    let exp = Exporter::start("x 1\n");
    let s = Server::start(Some(&config(&exp, "")), &[]);
    s.wait_for("up", 20, |r| !r.is_empty());

    b.goto(&s.url("/status"));
    let build = s.api("/api/v1/status/buildinfo", &[]);
    b.wait_text("#build", build["version"].as_str().unwrap());
    b.wait_text("#runtime", "Storage retention");
    b.screenshot("status");

    b.goto(&s.url("/flags"));
    b.wait_text("#flags", &format!("127.0.0.1:{}", s.port));
    b.type_into("#flag-search", "retention.time");
    poll(5, "flags filtered", || {
        (b.count("#flags tbody tr") == 1).then_some(())
    });
    b.screenshot("flags");

    b.goto(&s.url("/config"));
    b.wait_text("#config-yaml", &exp.addr());
    b.screenshot("config");

    b.goto(&s.url("/tsdb-status"));
    let head = s.api("/api/v1/status/tsdb", &[]);
    let top = head["seriesCountByMetricName"][0]["name"].as_str().unwrap();
    b.wait_text("#by-metric", top);
    b.wait_text("#head-stats", "Series");
    b.wait_text("#by-memory", "__name__");
    b.screenshot("tsdb-status");

    // The status menu opens from the keyboard-reachable button.
    b.click("#status-menu");
    b.click("#status-items a[href=flags]");
    b.wait_text("h1", "Command-line flags");
    // The page's request must be answered before the server stops, or the
    // browser logs the reset (the heading comes first).
    b.wait_text("#flags", &format!("127.0.0.1:{}", s.port));
}

#[test]
fn cardinality_explorer_drills_into_a_metric() {
    let Some(b) = Browser::start() else { return };
    let body: String = (0..30)
        .map(|i| format!("ui_many{{shard=\"s{i}\",zone=\"z{}\"}} 1\n", i % 3))
        .collect();
    let exp = Exporter::start(&body);
    let s = Server::start(Some(&config(&exp, "")), &[]);
    s.wait_for("ui_many", 20, |r| r.len() == 30);

    b.goto(&s.url("/cardinality"));
    b.wait_text("#card-scope", "All head series");
    b.click("#card-metrics button[title='Focus on ui_many']");
    b.wait_text("#card-scope", "{__name__=\"ui_many\"}");
    assert!(b.url().contains("match%5B%5D="), "{}", b.url());

    // The page shows what the API answers for the same focus.
    let focused = s.api(
        "/api/v1/status/tsdb",
        &[("match[]", "{__name__=\"ui_many\"}"), ("limit", "20")],
    );
    let n = focused["headStats"]["numSeries"].as_u64().unwrap();
    b.wait_text("#card-scope", &format!(": {n}"));
    let first = &focused["seriesCountByMetricName"][0];
    let row = b.wait_text("#card-metrics tbody tr", first["name"].as_str().unwrap());
    assert!(
        row.contains(&first["value"].to_string()),
        "{row} vs {first}"
    );
    b.screenshot("cardinality-metric");

    // A label drills into its values.
    b.click("#card-label-values button[title='Values of zone']");
    poll(5, "focus label in the URL", || {
        b.url().contains("focusLabel=zone").then_some(())
    });
    if focused.get("seriesCountByLabelName").is_some() {
        let row = b.wait_text("#card-focus-values tbody tr", "z0");
        assert!(row.contains("10"), "{row}");
    } else {
        b.wait_text("#card-results", "does not report values");
    }
    b.screenshot("cardinality-label");
}

#[test]
fn the_ui_works_under_a_route_prefix() {
    let Some(b) = Browser::start() else { return };
    let exp = Exporter::start("x 1\n");
    let s = Server::start(Some(&config(&exp, "")), &["--web.route-prefix=/prometheus"]);
    assert_eq!(s.prefix, "/prometheus");
    s.wait_for("up", 20, |r| !r.is_empty());

    // Outside the prefix only `/` answers, with a redirect into it.
    let raw = |path: &str| {
        let c = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = c
            .get(format!("http://127.0.0.1:{}{path}", s.port))
            .send()
            .unwrap();
        let loc = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        (r.status().as_u16(), loc)
    };
    assert_eq!(raw("/"), (302, Some("/prometheus/".into())));
    assert_eq!(raw("/prometheus/"), (302, Some("/prometheus/query".into())));
    assert_eq!(raw("/targets").0, 404);
    assert_eq!(raw("/api/v1/targets").0, 404);
    assert_eq!(raw("/prometheus/assets/app.js").0, 200);
    assert_eq!(raw("/prometheus/nope").0, 404);

    b.goto(&s.url("/targets"));
    b.wait_text("tr.target", &exp.addr());
    let style = b.eval(
        "return getComputedStyle(document.querySelector('.topbar')).backgroundColor",
        vec![],
    );
    assert_ne!(style, json!("rgba(0, 0, 0, 0)"), "style.css not applied");
    // Nav links stay under the prefix.
    b.click("a[data-page=rules]");
    b.wait_text("h1", "Rules");
    assert!(
        b.url().ends_with("/prometheus/rules"),
        "link left the prefix: {}",
        b.url()
    );
    b.click("#status-menu");
    b.click("#status-items a[data-page=tsdb-status]");
    b.wait_text("#head-stats", "Series");
    assert!(b.url().ends_with("/prometheus/tsdb-status"), "{}", b.url());
    b.screenshot("prefix-tsdb-status");

    // The dark theme follows the system preference.
    let background = || {
        b.eval(
            "return getComputedStyle(document.body).backgroundColor",
            vec![],
        )
    };
    assert_eq!(background(), json!("rgb(255, 255, 255)"));
    b.prefer_dark(true);
    assert_eq!(background(), json!("rgb(13, 17, 23)"));
    b.screenshot("prefix-tsdb-status-dark");
}

/// What the server sends for the UI, without a browser: the shell with
/// the prefix filled in, assets with content types and ETags, 404s.
#[test]
fn ui_files_are_served_with_types_and_caching() {
    let s = Server::start(None, &["--web.external-url=http://proxy.example/monitor/"]);
    assert_eq!(s.prefix, "/monitor");
    let page = s.client.get(s.url("/alerts")).send().unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-cache");
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().unwrap();
    assert!(html.contains("<base href=\"/monitor/\">"), "{html}");
    assert!(
        html.contains(r#"window.FERROPROM = {"externalUrl":"http://proxy.example/monitor","prefix":"/monitor"}"#),
        "{html}"
    );

    let js = s.client.get(s.url("/assets/app.js")).send().unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = js.headers()["etag"].clone();
    assert!(js.text().unwrap().contains("import { makeApi }"));
    let again = s
        .client
        .get(s.url("/assets/app.js"))
        .header("if-none-match", etag.clone())
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag);
    let css = s.client.get(s.url("/assets/style.css")).send().unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");

    for missing in ["/assets/nope.js", "/nope", "/targets/x"] {
        let (code, body) = s.get(missing, &[]);
        assert_eq!(
            (code, body.as_str()),
            (404, "404 page not found\n"),
            "{missing}"
        );
    }
    // The API answers under the prefix too.
    assert_eq!(s.api("/api/v1/status/buildinfo", &[])["version"], "2.53.0");
}
