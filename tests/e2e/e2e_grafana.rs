//! End-to-end: replays the requests Grafana's Prometheus data source sends
//! (`../shared/design/grafana-requests.md`) against the real binary, with
//! both the POST (Grafana's default) and the GET method, and checks the
//! response fields Grafana reads.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::exporter::Exporter;
use common::Server;
use serde_json::Value;

/// An exporter whose counters and histogram grow every 200 ms.
fn live_exporter() -> (Exporter, Arc<AtomicBool>) {
    let exp = Exporter::start("");
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let handle = exp.clone_handle();
    std::thread::spawn(move || {
        let mut n = 0u64;
        while !s.load(Ordering::Relaxed) {
            n += 1;
            let body = format!(
                "# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\n\
                 http_requests_total{{handler=\"/api\",code=\"200\"}} {}\n\
                 http_requests_total{{handler=\"/api\",code=\"500\"}} {}\n\
                 http_requests_total{{handler=\"/home\",code=\"200\"}} {}\n\
                 # HELP request_seconds Latency.\n# TYPE request_seconds histogram\n\
                 request_seconds_bucket{{le=\"0.1\"}} {}\nrequest_seconds_bucket{{le=\"0.5\"}} {}\n\
                 request_seconds_bucket{{le=\"+Inf\"}} {}\nrequest_seconds_sum {}\nrequest_seconds_count {}\n",
                n * 10,
                n,
                n * 3,
                n * 5,
                n * 9,
                n * 10,
                n as f64 * 1.7,
                n * 10
            );
            handle.set_body(&body);
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    (exp, stop)
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Sends `params` to `path` with Grafana's configured method: POST puts them
/// in a form body (keys sorted, as Go's `url.Values.Encode`), GET in the URL.
fn send(srv: &Server, post: bool, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let mut sorted = params.to_vec();
    sorted.sort();
    let req = if post {
        srv.client.post(srv.url(path)).form(&sorted)
    } else {
        srv.client.get(srv.url(path)).query(&sorted)
    };
    let r = req
        .header("User-Agent", "Grafana/11.3.0")
        .header("X-Dashboard-Uid", "abc")
        .header("X-Panel-Id", "2")
        .send()
        .unwrap();
    let code = r.status().as_u16();
    let text = r.text().unwrap();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{path}: Grafana needs JSON ({e}): {text}"));
    (code, v)
}

fn ok_data(srv: &Server, post: bool, path: &str, params: &[(&str, &str)]) -> Value {
    let (code, v) = send(srv, post, path, params);
    assert_eq!(code, 200, "{path} {params:?}: {v}");
    assert_eq!(v["status"], "success", "{path}: {v}");
    v["data"].clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

/// One recording and one alerting rule over the exporter's series.
const RULES: &str = r#"groups:
  - name: grafana
    interval: 1s
    rules:
      - record: handler:http_requests:rate1m
        expr: sum by (handler) (rate(http_requests_total[1m]))
        labels: {source: rule}
      - alert: ErrorsSeen
        expr: http_requests_total{code="500"} > 0
        labels: {severity: warning}
        annotations: {summary: "{{ $labels.handler }} fails"}
"#;

/// #5 (`loadRules`): `type == "recording"` rules with their `name`, `query`
/// and `labels`, which the editor uses to expand recording rules.
fn check_recording_rules(d: &Value) {
    let rules: Vec<&Value> = d["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .filter(|r| r["type"] == "recording")
        .collect();
    assert_eq!(rules.len(), 1, "{d}");
    assert_eq!(rules[0]["name"], "handler:http_requests:rate1m");
    assert_eq!(
        rules[0]["query"],
        "sum by (handler) (rate(http_requests_total[1m]))"
    );
    assert_eq!(rules[0]["labels"], serde_json::json!({"source": "rule"}));
}

/// #29: buildinfo without `features` (so no ruler API is probed), then
/// `/api/v1/rules` (with the parameters Grafana adds for its own rules,
/// which must be ignored): groups with `name`, `file`, `rules[]`, and of an
/// alerting rule what the rule list shows, including its alerts.
fn check_alerting_view(srv: &Server) {
    let b = ok_data(srv, false, "/api/v1/status/buildinfo", &[]);
    assert!(b.get("features").is_none(), "{b}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let d = loop {
        let d = ok_data(
            srv,
            false,
            "/api/v1/rules",
            &[("dashboard_uid", "abc"), ("panel_id", "2")],
        );
        if d["groups"][0]["rules"][1]["state"] == "firing" {
            break d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "alert never fired: {d}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let g = &d["groups"][0];
    assert_eq!(g["name"], "grafana");
    assert!(g["file"].as_str().unwrap().ends_with("rules.yml"), "{g}");
    assert!(g["interval"].is_number() && g["lastEvaluation"].is_string());
    let r = &g["rules"][1];
    assert_eq!(
        (&r["type"], &r["name"], &r["health"]),
        (
            &Value::from("alerting"),
            &Value::from("ErrorsSeen"),
            &Value::from("ok")
        ),
        "{r}"
    );
    assert_eq!(r["query"], "http_requests_total{code=\"500\"} > 0");
    assert_eq!(r["labels"]["severity"], "warning");
    assert!(r["duration"].is_number() && r["evaluationTime"].is_number());
    let a = &r["alerts"][0];
    assert_eq!(a["state"], "firing");
    assert_eq!(a["labels"]["alertname"], "ErrorsSeen");
    assert_eq!(a["annotations"]["summary"], "/api fails");
    assert!(a["activeAt"].as_str().unwrap().ends_with('Z'), "{a}");
    assert!(a["value"].as_str().unwrap().contains("e+"), "{a}");
    let alerts = ok_data(srv, false, "/api/v1/alerts", &[]);
    assert_eq!(alerts["alerts"][0]["labels"], a["labels"]);
}

#[test]
fn grafana_request_sequence() {
    let (exp, stop) = live_exporter();
    let cfg = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n\
         scrape_configs:\n  - job_name: app\n    static_configs: [{{targets: ['{}']}}]\n",
        exp.addr()
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let srv = Server::start_in(dir, Some(&cfg), &[]);
    srv.wait_for("request_seconds_count", 20, |r| !r.is_empty());
    // Enough scrapes for rate() over 1m0s windows to have two points.
    srv.wait_for("count_over_time(http_requests_total[1m])", 20, |r| {
        r.first()
            .and_then(|s| s["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(|n| n >= 4.0)
    });

    for post in [true, false] {
        // #1 "Save & test": exact body.
        let (code, v) = send(
            &srv,
            post,
            "/api/v1/query",
            &[("query", "1+1"), ("time", "4")],
        );
        assert_eq!(code, 200);
        assert_eq!(
            v,
            serde_json::json!({"status":"success","data":{"resultType":"scalar","result":[4,"2"]}})
        );
        // #2/#3 buildinfo: valid semver ≥ 2.24 and no `features`.
        let b = ok_data(&srv, false, "/api/v1/status/buildinfo", &[]);
        let version = b["version"].as_str().unwrap();
        let parts: Vec<u64> = version
            .split(['.', '+', '-'])
            .take(3)
            .map(|p| p.parse().unwrap())
            .collect();
        assert!(
            parts.len() == 3 && (parts[0], parts[1]) >= (2, 24),
            "{version}"
        );
        assert!(b.get("features").is_none(), "{b}");
        for k in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
            assert!(b[k].is_string(), "{k}: {b}");
        }
        // #5 recording rules for the query editor, #29 the alerting UI's
        // listing of data source-managed rules.
        check_recording_rules(&ok_data(&srv, false, "/api/v1/rules", &[]));
        check_alerting_view(&srv);
        // #6 exemplar probe with millisecond times.
        let now_ms = (now_s() * 1000.0) as i64;
        let ex = ok_data(
            &srv,
            post,
            "/api/v1/query_exemplars",
            &[
                ("query", "test"),
                ("start", &(now_ms - 1_800_000).to_string()),
                ("end", &now_ms.to_string()),
            ],
        );
        assert!(ex.is_array());

        let end = now_s().ceil() as i64;
        let start = end - 3600;
        let (s, e) = (start.to_string(), end.to_string());
        // #7 metric names.
        let names = strings(&ok_data(
            &srv,
            false,
            "/api/v1/label/__name__/values",
            &[("limit", "40000"), ("start", &s), ("end", &e)],
        ));
        for n in ["http_requests_total", "request_seconds_bucket", "up"] {
            assert!(names.contains(&n.to_string()), "{n} in {names:?}");
        }
        // #8 label keys.
        let keys = strings(&ok_data(
            &srv,
            post,
            "/api/v1/labels",
            &[("limit", "40000"), ("start", &s), ("end", &e)],
        ));
        for k in ["__name__", "code", "handler", "instance", "job", "le"] {
            assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
        }
        // #9 metadata.
        let md = ok_data(&srv, false, "/api/v1/metadata", &[("limit", "40000")]);
        assert_eq!(md["http_requests_total"][0]["type"], "counter");
        assert_eq!(md["request_seconds"][0]["type"], "histogram");
        assert!(md["request_seconds"][0]["help"].is_string());
        // #10 series with match-all.
        let series = ok_data(
            &srv,
            post,
            "/api/v1/series",
            &[
                ("match[]", "{__name__!=\"\"}"),
                ("start", &s),
                ("end", &e),
                ("limit", "40000"),
            ],
        );
        let series = series.as_array().unwrap();
        assert!(series
            .iter()
            .any(|m| m["__name__"] == "http_requests_total"));
        assert!(series
            .iter()
            .all(|m| m.as_object().unwrap().values().all(Value::is_string)));

        // #11 dashboard range queries with $__rate_interval = 1m0s, aligned start/end.
        let step = 15;
        let end_al = (now_s() as i64) / step * step;
        let start_al = end_al - 3600;
        for q in [
            "rate(http_requests_total[1m0s])",
            "sum by (code) (rate(http_requests_total{handler=~\"/api|/home\"}[1m0s]))",
            "histogram_quantile(0.9, sum by (le) (rate(request_seconds_bucket[1m0s])))",
        ] {
            let d = ok_data(
                &srv,
                post,
                "/api/v1/query_range",
                &[
                    ("query", q),
                    ("start", &start_al.to_string()),
                    ("end", &end_al.to_string()),
                    ("step", &step.to_string()),
                ],
            );
            assert_eq!(d["resultType"], "matrix", "{q}");
            let inst = ok_data(
                &srv,
                post,
                "/api/v1/query",
                &[("query", q), ("time", &end_al.to_string())],
            );
            assert_eq!(inst["resultType"], "vector");
            let result = d["result"].as_array().unwrap();
            let inst = inst["result"].as_array().unwrap();
            // A panel draws exactly when the instant query at the aligned end
            // has data, and its last point is that value.
            if inst.is_empty() {
                continue;
            }
            assert_eq!(result.len(), inst.len(), "{q}: {d}");
            for (series, sample) in result.iter().zip(inst) {
                assert_eq!(series["metric"], sample["metric"], "{q}");
                let values = series["values"].as_array().unwrap();
                let last = values.last().unwrap();
                assert!(last[0].is_number() && last[1].is_string(), "{q}: {last}");
                assert_eq!(last[0].as_f64(), Some(end_al as f64));
                assert_eq!(last[1], sample["value"][1], "{q}");
            }
        }
        // Unaligned instant time with milliseconds (#12), Explore style.
        let t = format!("{:.3}", now_s());
        let v = ok_data(
            &srv,
            post,
            "/api/v1/query",
            &[("query", "up"), ("time", &t)],
        );
        assert_eq!(v["resultType"], "vector");
        assert_eq!(
            v["result"][0]["value"][0]
                .as_f64()
                .map(|x| (x * 1000.0).round()),
            t.parse::<f64>().ok().map(|x| (x * 1000.0).round())
        );
        // #16/#17 label_names with match[].
        let k = strings(&ok_data(
            &srv,
            post,
            "/api/v1/labels",
            &[
                ("start", &s),
                ("end", &e),
                ("match[]", "{__name__=~\".*requests.*\"}"),
            ],
        ));
        assert!(
            k.contains(&"handler".to_string()) && !k.contains(&"le".to_string()),
            "{k:?}"
        );
        // #18/#19 label_values, chained.
        let jobs = strings(&ok_data(
            &srv,
            false,
            "/api/v1/label/job/values",
            &[("limit", "40000"), ("start", &s), ("end", &e)],
        ));
        assert_eq!(jobs, vec!["app"]);
        let handlers = strings(&ok_data(
            &srv,
            false,
            "/api/v1/label/handler/values",
            &[
                ("start", &s),
                ("end", &e),
                ("match[]", "http_requests_total{code=\"500\"}"),
            ],
        ));
        assert_eq!(handlers, vec!["/api"]);
        // #20/#26 metrics(<regex>) and autocomplete.
        let m = strings(&ok_data(
            &srv,
            false,
            "/api/v1/label/__name__/values",
            &[
                ("limit", "1000"),
                ("start", &s),
                ("end", &e),
                ("match[]", "{__name__=~\".*request.*\"}"),
            ],
        ));
        assert!(
            m.contains(&"request_seconds_count".to_string()) && !m.contains(&"up".to_string()),
            "{m:?}"
        );
        // #21 query_result variable.
        let qr = ok_data(
            &srv,
            post,
            "/api/v1/query",
            &[
                ("query", "sum by (code) (http_requests_total)"),
                ("time", &e),
            ],
        );
        assert_eq!(qr["resultType"], "vector");
        assert_eq!(qr["result"].as_array().unwrap().len(), 2);
        // #22 bare selector variable.
        let sr = ok_data(
            &srv,
            post,
            "/api/v1/series",
            &[("match[]", "up{job=\"app\"}"), ("start", &s), ("end", &e)],
        );
        assert_eq!(sr[0]["job"], "app");
        assert_eq!(sr[0]["__name__"], "up");
        // #23/#24 metrics browser: regex alternatives.
        let k = strings(&ok_data(
            &srv,
            post,
            "/api/v1/labels",
            &[
                ("start", &s),
                ("end", &e),
                ("match[]", "{__name__=~\"up|request_seconds_bucket\"}"),
            ],
        ));
        assert!(
            k.contains(&"le".to_string()) && !k.contains(&"handler".to_string()),
            "{k:?}"
        );

        // Errors are JSON with the type Grafana shows.
        let (code, v) = send(
            &srv,
            post,
            "/api/v1/query_range",
            &[
                ("query", "up"),
                ("start", "1"),
                ("end", "0"),
                ("step", "15"),
            ],
        );
        assert_eq!(
            (code, v["errorType"].as_str()),
            (400, Some("bad_data")),
            "{v}"
        );
        let (code, v) = send(&srv, post, "/api/v1/query", &[("query", "rate(up[")]);
        assert_eq!(
            (code, v["errorType"].as_str()),
            (400, Some("bad_data")),
            "{v}"
        );
        let (code, v) = send(&srv, post, "/api/v1/series", &[("match[]", "{}")]);
        assert_eq!(
            (code, v["errorType"].as_str()),
            (400, Some("bad_data")),
            "{v}"
        );
        let (code, v) = send(
            &srv,
            post,
            "/api/v1/query",
            &[(
                "query",
                "http_requests_total + on(code) group_left request_seconds_bucket",
            )],
        );
        assert_eq!(
            (code, v["errorType"].as_str()),
            (422, Some("execution")),
            "{v}"
        );
    }

    // Custom query parameters are ignored, also on POST URLs.
    let r = srv
        .client
        .post(srv.url("/api/v1/query?max_source_resolution=5m&partial_response=true"))
        .form(&[("query", "1+1"), ("time", "4")])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // POST to a GET-only endpoint: 405 so Grafana retries with GET.
    let r = srv
        .client
        .post(srv.url("/api/v1/label/job/values"))
        .form(&[("start", "1")])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    stop.store(true, Ordering::Relaxed);
}
