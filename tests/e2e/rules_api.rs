//! `/api/v1/rules` and `/api/v1/alerts` against the real Prometheus 2.42:
//! both servers scrape one exporter and evaluate one rule file every
//! second, and their answers must agree apart from times and durations
//! (`evaluationTime`, `lastEvaluation`, `activeAt`) and alert order (a Go
//! map's). The file holds what goes wrong as Prometheus shows it: a query
//! that fails at evaluation, an annotation template that fails, and rules
//! whose output series collide.
//!
//! Where 2.42 and 3.x differ, ferroprom follows 3.x and the comparison
//! looks past it: 2.42 leaves out `labels` of a recording rule without
//! labels (3.x writes `{}`), and lists the two colliding series of a
//! many-to-many error in evaluation order (3.x sorts them). 2.42 lacks the
//! 3.x parameters (`rule_name[]`, `rule_group[]`, `file[]`, `match[]`,
//! `exclude_alerts`, `group_limit`) and the `unknown` state of a rule not
//! yet evaluated, which the second test checks on ferroprom alone.

use crate::common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::exporter::Exporter;
use common::peers::{self, Peer};
use common::Server;

const EXPORTER: &str = "# TYPE ex_value gauge\n\
ex_value{kind=\"a\"} 7\nex_value{kind=\"b\"} 3\nex_value{kind=\"c\"} 9.5\n";

const RULES: &str = r#"groups:
  - name: diff
    interval: 1s
    rules:
      - record: kind:ex_value:sum
        expr: sum by (kind) (ex_value)
        labels:
          team: db
      - alert: ValueHigh
        expr: ex_value > 5
        for: 1h
        labels:
          severity: page
          where: "{{ $labels.kind }}"
        annotations:
          summary: "value {{ $value }} on {{ $labels.kind }}"
          broken: '{{ humanize "x" }}'
      - alert: ValueVeryHigh
        expr: ex_value   >   9
        labels:
          severity: critical
        annotations:
          description: '{{ $labels.kind }} is {{ printf "%.1f" $value }}'
      - record: ex_value:bad_join
        expr: ex_value + on() ex_value
      - record: ex_value:same
        expr: ex_value
        labels:
          kind: same
      - alert: Collide
        expr: ex_value
        labels:
          kind: same
  - name: count
    interval: 1s
    rules:
      - record: up:count
        expr: count(up)
"#;

/// Both servers, fed by one exporter and one rule file.
struct Setup {
    _exporter: Exporter,
    _rules_dir: tempfile::TempDir,
    rule_file: String,
    ours: Server,
    config: String,
}

fn setup() -> Setup {
    let exporter = Exporter::start(EXPORTER);
    let rules_dir = tempfile::tempdir().unwrap();
    let rule_file = rules_dir.path().join("diff.yml");
    std::fs::write(&rule_file, RULES).unwrap();
    let rule_file = rule_file.display().to_string();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files: ['{rule_file}']\n\
         scrape_configs:\n  - job_name: exp\n    static_configs:\n      - targets: ['{}']\n",
        exporter.addr()
    );
    let ours = Server::start(Some(&config), &[]);
    Setup {
        _exporter: exporter,
        _rules_dir: rules_dir,
        rule_file,
        ours,
        config,
    }
}

fn data(get: impl Fn(&str, &[(&str, &str)]) -> (u16, String), path: &str) -> Value {
    let (code, body) = get(path, &[]);
    assert_eq!(code, 200, "{path}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{body}");
    v["data"].clone()
}

/// Drops the times and durations, sorts alerts by their labels, and
/// evens out the 2.42/3.x differences named above.
fn normalize(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for k in ["evaluationTime", "lastEvaluation", "activeAt"] {
                m.remove(k);
            }
            if m.get("labels") == Some(&json!({})) {
                m.remove("labels");
            }
            if let Some(Value::String(e)) = m.get_mut("lastError") {
                if let (Some(i), Some(j)) = (e.find(": [{"), e.find("}];")) {
                    let mut pair: Vec<&str> = e[i + 4..j].split("}, {").collect();
                    pair.sort_unstable();
                    *e = format!("{}: [{{{}{}", &e[..i], pair.join("}, {"), &e[j..]);
                }
            }
            for (_, x) in m.iter_mut() {
                normalize(x);
            }
            if let Some(Value::Array(alerts)) = m.get_mut("alerts") {
                alerts.sort_by_key(|a| a["labels"].to_string());
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// `/api/v1/rules` and `/api/v1/alerts`, normalized.
fn snapshot(get: impl Fn(&str, &[(&str, &str)]) -> (u16, String) + Copy) -> Value {
    let mut v = json!({
        "rules": data(get, "/api/v1/rules"),
        "alerts": data(get, "/api/v1/alerts"),
    });
    normalize(&mut v);
    v
}

/// The rules of a `/api/v1/rules` answer, group by group.
fn rule_list(d: &Value) -> Vec<&Value> {
    d["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect()
}

/// Every rule evaluated, and the firing alert there.
fn settled(v: &Value) -> bool {
    let rules = rule_list(&v["rules"]);
    rules.len() == 7
        && rules.iter().all(|r| r["health"] != "unknown")
        && v["alerts"]["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["state"] == "firing"))
}

#[test]
fn rules_and_alerts_agree_with_prometheus() {
    let Some(bin) = peers::require("prometheus") else {
        return;
    };
    let s = setup();
    let prom = Peer::prometheus(&bin, &s.config);
    let ours = |p: &str, q: &[(&str, &str)]| s.ours.get(p, q);
    let theirs = |p: &str, q: &[(&str, &str)]| prom.get(p, q);

    let deadline = Instant::now() + Duration::from_secs(30);
    let (a, b) = loop {
        let (a, b) = (snapshot(ours), snapshot(theirs));
        if (settled(&a) && settled(&b) && a == b) || Instant::now() > deadline {
            break (a, b);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(
        a,
        b,
        "ferroprom:\n{}\nprometheus:\n{}",
        serde_json::to_string_pretty(&a).unwrap(),
        serde_json::to_string_pretty(&b).unwrap()
    );

    // What the agreement covered.
    let rules = &a["rules"]["groups"][1]["rules"];
    assert_eq!(a["rules"]["groups"][1]["file"], s.rule_file.as_str());
    assert_eq!(rules[1]["state"], "pending");
    assert_eq!(rules[1]["alerts"].as_array().unwrap().len(), 2);
    let broken = rules[1]["alerts"][0]["annotations"]["broken"]
        .as_str()
        .unwrap();
    assert!(
        broken.starts_with("<error expanding template: ") && broken.contains("humanize"),
        "{broken}"
    );
    assert_eq!(rules[1]["alerts"][0]["value"], "7e+00");
    assert_eq!(rules[2]["state"], "firing");
    assert_eq!(rules[2]["query"], "ex_value > 9");
    assert_eq!(rules[3]["health"], "err");
    assert!(rules[3]["lastError"]
        .as_str()
        .unwrap()
        .contains("many-to-many matching not allowed"));
    // Unnormalized, ferroprom sorts the colliding series as 3.x does.
    let raw = data(ours, "/api/v1/rules");
    let e = raw["groups"][1]["rules"][3]["lastError"].as_str().unwrap();
    assert!(e.find("kind=\"a\"") < e.find("kind=\"b\""), "{e}");
    assert_eq!(raw["groups"][0]["rules"][0]["labels"], json!({}));
    for r in [&rules[4], &rules[5]] {
        assert_eq!(r["health"], "err", "{r}");
        assert!(
            r["lastError"]
                .as_str()
                .unwrap()
                .starts_with("vector contains metrics with the same labelset"),
            "{r}"
        );
    }
}

#[test]
fn rules_filters_and_bad_parameters() {
    let s = setup();
    let ours = |p: &str, q: &[(&str, &str)]| s.ours.get(p, q);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !settled(&snapshot(ours)) {
        assert!(Instant::now() < deadline, "rules never settled");
        std::thread::sleep(Duration::from_millis(250));
    }
    let names = |q: &[(&str, &str)]| -> Vec<String> {
        let d = s.ours.api("/api/v1/rules", q);
        rule_list(&d)
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&[("type", "alert")]),
        ["ValueHigh", "ValueVeryHigh", "Collide"]
    );
    assert_eq!(names(&[("rule_group[]", "count")]), ["up:count"]);
    assert_eq!(
        names(&[("file[]", &s.rule_file), ("rule_name[]", "up:count")]),
        ["up:count"]
    );
    assert_eq!(
        names(&[("match[]", "{severity=~\"page|critical\"}")]),
        ["ValueHigh", "ValueVeryHigh"]
    );
    let d = s.ours.api(
        "/api/v1/rules",
        &[("exclude_alerts", "true"), ("rule_name[]", "ValueHigh")],
    );
    assert_eq!(d["groups"][0]["rules"][0]["alerts"], Value::Null);

    let first = s.ours.api("/api/v1/rules", &[("group_limit", "1")]);
    assert_eq!(first["groups"].as_array().unwrap().len(), 1);
    let token = first["groupNextToken"].as_str().unwrap();
    let rest = s.ours.api(
        "/api/v1/rules",
        &[("group_limit", "1"), ("group_next_token", token)],
    );
    assert_eq!(rest["groups"][0]["name"], "diff");
    assert!(rest.get("groupNextToken").is_none());

    for (q, msg) in [
        (
            ("type", "x"),
            r#"invalid parameter "type": not supported value "x""#,
        ),
        (
            ("match[]", "{}"),
            "match[] must contain at least one non-empty matcher",
        ),
        (
            ("group_limit", "-1"),
            r#"invalid parameter "group_limit": group_limit needs to be greater than 0"#,
        ),
    ] {
        let (code, body) = s.ours.get("/api/v1/rules", &[q]);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (code, v["errorType"].as_str(), v["error"].as_str()),
            (400, Some("bad_data"), Some(msg))
        );
    }

    // The flags of rules and alerting are listed with their defaults.
    let flags = s.ours.api("/api/v1/status/flags", &[]);
    for (k, v) in [
        ("rules.alert.for-outage-tolerance", "1h"),
        ("rules.alert.for-grace-period", "10m"),
        ("rules.alert.resend-delay", "1m"),
        ("alertmanager.notification-queue-capacity", "10000"),
        ("alertmanager.notification-batch-size", "256"),
        ("web.external-url", ""),
        ("web.route-prefix", ""),
    ] {
        assert_eq!(flags[k], v, "{k}");
    }

    let alerts = s.ours.api("/api/v1/alerts", &[]);
    let mut states: Vec<&str> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    states.sort_unstable();
    assert_eq!(states, ["firing", "pending", "pending"]);
}
