//! End-to-end: every API endpoint of the real binary, good and malformed
//! input, and that bad requests never stop the server from serving.

use crate::common;

use common::exporter::Exporter;
use common::Server;
use serde_json::Value;

fn server() -> (Server, Exporter) {
    let exp = Exporter::start("# TYPE m counter\nm{a=\"1\"} 1\nm{a=\"2\"} 2\n");
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: j\n    static_configs: [{{targets: ['{}']}}]\n",
        exp.addr()
    );
    let srv = Server::start(
        Some(&cfg),
        &["--web.enable-admin-api", "--web.enable-lifecycle"],
    );
    srv.wait_for("m", 15, |r| r.len() == 2);
    (srv, exp)
}

#[test]
fn every_endpoint_answers() {
    let (srv, _exp) = server();
    for path in [
        "/api/v1/status/config",
        "/api/v1/status/flags",
        "/api/v1/status/buildinfo",
        "/api/v1/status/runtimeinfo",
        "/api/v1/status/tsdb",
        "/api/v1/targets",
        "/api/v1/targets/metadata",
        "/api/v1/metadata",
        "/api/v1/rules",
        "/api/v1/alerts",
        "/api/v1/labels",
        "/api/v1/label/a/values",
    ] {
        srv.api(path, &[]);
    }
    let q = srv.api("/api/v1/query", &[("query", "sum(m)")]);
    assert_eq!(q["result"][0]["value"][1], "3");
    let end = chrono_now();
    let r = srv.api(
        "/api/v1/query_range",
        &[
            ("query", "m"),
            ("start", &(end - 60).to_string()),
            ("end", &end.to_string()),
            ("step", "5"),
        ],
    );
    assert_eq!(r["resultType"], "matrix");
    assert_eq!(
        srv.api("/api/v1/format_query", &[("query", "sum(m)by(a)")]),
        "sum by (a) (m)"
    );
    assert!(srv
        .api("/api/v1/parse_query", &[("query", "sum(m)")])
        .is_object());
    assert_eq!(
        srv.api("/api/v1/series", &[("match[]", "m")])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        srv.api("/api/v1/label/a/values", &[]),
        serde_json::json!(["1", "2"])
    );
    assert!(srv
        .api("/api/v1/query_exemplars", &[("query", "m")])
        .is_array());
    let flags = srv.api("/api/v1/status/flags", &[]);
    assert_eq!(flags["web.enable-admin-api"], "true");
    let tsdb = srv.api("/api/v1/status/tsdb", &[]);
    assert!(
        tsdb["headStats"]["numSeries"].as_u64().unwrap() >= 2,
        "{tsdb}"
    );
    assert_eq!(srv.get("/-/healthy", &[]).0, 200);
    assert_eq!(srv.get("/-/ready", &[]).0, 200);
    let (code, metrics) = srv.get("/metrics", &[]);
    assert_eq!(code, 200);
    for name in [
        "prometheus_http_requests_total",
        "prometheus_tsdb_head_series",
        "process_resident_memory_bytes",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }

    // Admin: delete a series, it's gone; snapshot; clean tombstones.
    let (code, body) = srv.post(
        "/api/v1/admin/tsdb/delete_series",
        &[("match[]", "m{a=\"1\"}")],
    );
    assert_eq!(code, 204, "{body}");
    // The exporter keeps exposing it, so only look before the deletion.
    let r = srv.api(
        "/api/v1/query",
        &[("query", "m{a=\"1\"}"), ("time", &(end - 2).to_string())],
    );
    assert!(r["result"].as_array().unwrap().is_empty(), "{r}");
    let (code, body) = srv.post("/api/v1/admin/tsdb/snapshot", &[]);
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let name = v["data"]["name"].as_str().unwrap();
    assert!(srv.data_dir().join("snapshots").join(name).is_dir());
    let (code, body) = srv.post("/api/v1/admin/tsdb/clean_tombstones", &[]);
    assert_eq!(code, 204, "{body}");
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn malformed_parameters_get_prometheus_error_types() {
    let (srv, _exp) = server();
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u16, &'a str);
    let cases: &[Case] = &[
        ("/api/v1/query", &[], 400, "bad_data"),
        ("/api/v1/query", &[("query", "sum(")], 400, "bad_data"),
        (
            "/api/v1/query",
            &[("query", "m"), ("time", "yesterday")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query",
            &[("query", "m"), ("timeout", "soon")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query",
            &[("query", "m"), ("lookback_delta", "far")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query",
            &[("query", "m + on(a) group_left m")],
            200,
            "",
        ),
        (
            "/api/v1/query",
            &[("query", "{__name__=~\".+\"} + 1")],
            422,
            "execution",
        ),
        (
            "/api/v1/query_range",
            &[("query", "m"), ("start", "x"), ("end", "2"), ("step", "1")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range",
            &[("query", "m"), ("start", "1"), ("end", "x"), ("step", "1")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range",
            &[("query", "m"), ("start", "1"), ("end", "2"), ("step", "x")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range",
            &[("query", "m"), ("start", "1"), ("end", "2"), ("step", "0")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range",
            &[("query", "m"), ("start", "1"), ("end", "2"), ("step", "-1")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range",
            &[("query", "m"), ("start", "2"), ("end", "1"), ("step", "1")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range",
            &[
                ("query", "m"),
                ("start", "0"),
                ("end", "20000"),
                ("step", "1"),
            ],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range",
            &[("query", "m["), ("start", "1"), ("end", "2"), ("step", "1")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range",
            &[
                ("query", "m[5m]"),
                ("start", "1"),
                ("end", "2"),
                ("step", "1"),
            ],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_range",
            &[("start", "1"), ("end", "2"), ("step", "1")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/format_query",
            &[("query", "sum(")],
            400,
            "bad_data",
        ),
        ("/api/v1/parse_query", &[("query", "1 +")], 400, "bad_data"),
        ("/api/v1/series", &[], 400, "bad_data"),
        ("/api/v1/series", &[("match[]", "m{")], 400, "bad_data"),
        ("/api/v1/series", &[("match[]", "{}")], 400, "bad_data"),
        (
            "/api/v1/series",
            &[("match[]", "m"), ("start", "x")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/series",
            &[("match[]", "m"), ("end", "x")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/series",
            &[("match[]", "m"), ("limit", "x")],
            400,
            "bad_data",
        ),
        ("/api/v1/labels", &[("start", "x")], 400, "bad_data"),
        ("/api/v1/labels", &[("end", "x")], 400, "bad_data"),
        ("/api/v1/labels", &[("match[]", "{a=}")], 400, "bad_data"),
        ("/api/v1/labels", &[("limit", "x")], 400, "bad_data"),
        ("/api/v1/label/a/values", &[("start", "x")], 400, "bad_data"),
        (
            "/api/v1/label/a/values",
            &[("match[]", "(")],
            400,
            "bad_data",
        ),
        ("/api/v1/label/a/values", &[("limit", "x")], 400, "bad_data"),
        (
            "/api/v1/query_exemplars",
            &[("query", "m"), ("start", "x")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/query_exemplars",
            &[("query", "m{")],
            400,
            "bad_data",
        ),
        ("/api/v1/metadata", &[("limit", "x")], 400, "bad_data"),
        (
            "/api/v1/targets/metadata",
            &[("match_target", "{job=")],
            400,
            "bad_data",
        ),
        (
            "/api/v1/targets/metadata",
            &[("limit", "x")],
            400,
            "bad_data",
        ),
        ("/api/v1/status/tsdb", &[("limit", "x")], 400, "bad_data"),
        ("/api/v1/status/tsdb", &[("limit", "0")], 400, "bad_data"),
    ];
    for post in [false, true] {
        for (path, params, code, kind) in cases {
            let (got, body) = if post {
                srv.post(path, params)
            } else {
                srv.get(path, params)
            };
            if post && got == 405 {
                continue; // GET-only endpoint, as in Prometheus.
            }
            assert_eq!(
                got,
                *code,
                "{} {path} {params:?}: {body}",
                if post { "POST" } else { "GET" }
            );
            if !kind.is_empty() {
                let v: Value =
                    serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: {body}"));
                assert_eq!(v["status"], "error", "{path}: {body}");
                assert_eq!(v["errorType"], *kind, "{path} {params:?}: {body}");
                assert!(!v["error"].as_str().unwrap().is_empty());
            }
        }
    }
    for (path, params) in [
        ("/api/v1/admin/tsdb/delete_series", &[][..]),
        (
            "/api/v1/admin/tsdb/delete_series",
            &[("match[]", "m"), ("start", "x")][..],
        ),
        ("/api/v1/admin/tsdb/delete_series", &[("match[]", "m{")][..]),
    ] {
        let (code, body) = srv.post(path, params);
        assert_eq!(code, 400, "{path} {params:?}: {body}");
    }
    // An oversized form body is refused, not buffered without bound.
    // (Its own client: the server drops the connection after refusing.)
    let huge = "x".repeat(11 << 20);
    let r = reqwest::blocking::Client::new()
        .post(srv.url("/api/v1/query"))
        .form(&[("query", huge.as_str())])
        .send()
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    // Unknown paths are 404.
    assert_eq!(srv.get("/api/v1/nope", &[]).0, 404);
    // And the server is still fine.
    assert_eq!(srv.query("sum(m)")[0]["value"][1], "3");
    assert_eq!(srv.get("/-/healthy", &[]).0, 200);
}

#[test]
fn admin_api_is_off_by_default() {
    let srv = Server::start(Some("scrape_configs: []\n"), &[]);
    let (code, body) = srv.post("/api/v1/admin/tsdb/snapshot", &[]);
    assert_ne!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "error");
}
