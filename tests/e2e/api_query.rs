//! The query half of the HTTP API end to end: a real database in a
//! temporary directory (head and blocks), the routes of `api::query` and
//! `api::series`, and requests shaped as Grafana and Prometheus's own
//! clients send them.

use crate::common::api_state::api_state;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use ferroprom::api::{query, series, ApiState};
use ferroprom::config::Config;
use storage::{Db, Labels, Options};

/// Start of the test data (seconds).
const T0: i64 = 1_700_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    state: Arc<ApiState>,
    router: Router,
}

fn append(
    db: &Db,
    labels: &[(&str, &str)],
    from_s: i64,
    to_s: i64,
    every_s: i64,
    v: impl Fn(i64) -> f64,
) {
    let labels = Labels::from_pairs(labels.iter().copied());
    let mut app = db.appender();
    let mut t = from_s;
    let mut i = 0;
    while t <= to_s {
        app.append(&labels, t * 1000, v(i)).unwrap();
        t += every_s;
        i += 1;
    }
    app.commit().unwrap();
}

/// The database: `old_metric` six hours before the rest, written out to a
/// block; everything else in the head for one hour from `T0`.
fn fixture_with(slots: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            compaction_interval: None,
            retention: None,
            ..Options::default()
        },
    )
    .unwrap();
    append(
        &db,
        &[("__name__", "old_metric"), ("era", "block")],
        T0 - 6 * 3600,
        T0 - 5 * 3600,
        60,
        |i| i as f64,
    );
    let end = T0 + 3600;
    append(
        &db,
        &[
            ("__name__", "up"),
            ("job", "prometheus"),
            ("instance", "localhost:9090"),
        ],
        T0,
        end,
        15,
        |_| 1.0,
    );
    append(
        &db,
        &[("__name__", "up"), ("job", "node"), ("instance", "n1:9100")],
        T0,
        end,
        15,
        |_| 1.0,
    );
    append(
        &db,
        &[("__name__", "up"), ("job", "node"), ("instance", "n2:9100")],
        T0,
        end,
        15,
        |_| 0.0,
    );
    append(
        &db,
        &[
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("code", "200"),
        ],
        T0,
        end,
        15,
        |i| 10.0 * i as f64,
    );
    append(
        &db,
        &[
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("code", "500"),
        ],
        T0,
        end,
        15,
        |i| i as f64,
    );
    append(
        &db,
        &[
            ("__name__", "node_cpu_seconds_total"),
            ("job", "node"),
            ("cpu", "0"),
            ("mode", "idle"),
        ],
        T0,
        end,
        15,
        |i| i as f64,
    );
    append(
        &db,
        &[("__name__", "weird"), ("v", "a<b&c>\"q\"\n\u{2028}")],
        T0,
        end,
        15,
        |_| 1.5e-7,
    );
    append(
        &db,
        &[("__name__", "my.dotted.metric"), ("host.name", "h1")],
        T0,
        end,
        15,
        |_| 42.0,
    );
    for i in 0..12 {
        let v = format!("{i:02}");
        append(&db, &[("__name__", "many"), ("i", &v)], T0, end, 60, |_| {
            1.0
        });
    }
    db.compact().unwrap();
    assert!(!db.blocks().is_empty(), "old_metric should be in a block");
    let db = Arc::new(db);
    let state = Arc::new(ApiState {
        query_slots: Arc::new(Semaphore::new(slots)),
        ..api_state(db, Config::default())
    });
    let router = Router::new()
        .merge(query::routes())
        .merge(series::routes())
        .with_state(Arc::clone(&state));
    Fixture {
        _dir: dir,
        state,
        router,
    }
}

fn fixture() -> Fixture {
    fixture_with(4)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// `data` of a success.
    fn data(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        let v = self.json();
        assert_eq!(v["status"], "success", "{}", self.body);
        v["data"].clone()
    }

    /// `(errorType, error)` of a failure with the given status.
    fn error(&self, status: u16) -> (String, String) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        let v = self.json();
        assert_eq!(v["status"], "error", "{}", self.body);
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/json",
            "{}",
            self.body
        );
        (
            v["errorType"].as_str().unwrap().to_string(),
            v["error"].as_str().unwrap().to_string(),
        )
    }
}

impl Fixture {
    async fn send(&self, req: Request<Body>) -> Answer {
        self.send_to(&self.router, req).await
    }

    /// Sends to another router over the same state (e.g. the full one).
    async fn send_to(&self, router: &Router, req: Request<Body>) -> Answer {
        let res = router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    async fn get(&self, uri: &str) -> Answer {
        self.send(
            Request::get(uri)
                .header(header::USER_AGENT, "Grafana/11.0.0")
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// A form POST as Grafana sends it: the parameters in the body, any
    /// custom parameters left in the URL.
    async fn post(&self, uri: &str, form: &str) -> Answer {
        self.send(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("X-Dashboard-Uid", "abc")
                .body(Body::from(form.to_string()))
                .unwrap(),
        )
        .await
    }

    /// The same parameters by GET and by POST must give the same answer.
    async fn both(&self, path: &str, form: &str) -> Answer {
        let g = self.get(&format!("{path}?{form}")).await;
        let p = self.post(path, form).await;
        assert_eq!(g.status, p.status, "{path}?{form}");
        if !g.body.contains("Time\":") {
            assert_eq!(g.body, p.body, "{path}?{form}");
        }
        g
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn grafana_health_check() {
    let f = fixture();
    let want = r#"{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}"#;
    let a = f.post("/api/v1/query", "query=1%2B1&time=4").await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, want));
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/json");
    let a = f.get("/api/v1/query?query=1%2B1&time=4").await;
    assert_eq!(a.body, want);
    // With Grafana's query timeout and custom parameters in the URL.
    let a = f
        .post(
            "/api/v1/query?max_source_resolution=5m&partial_response=true",
            "query=1%2B1&time=4&timeout=60s",
        )
        .await;
    assert_eq!(a.body, want);
    // Grafana ≤ 9 sends a time with milliseconds.
    let a = f
        .both("/api/v1/query", "query=1%2B1&time=1795635893.785")
        .await;
    assert_eq!(
        a.body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1795635893.785,"2"]}}"#
    );
}

#[tokio::test]
async fn instant_vectors_strings_and_matrices() {
    let f = fixture();
    let a = f
        .both("/api/v1/query", &format!("query=up&time={}", T0 + 60))
        .await;
    assert_eq!(
        a.body,
        concat!(
            r#"{"status":"success","data":{"resultType":"vector","result":["#,
            r#"{"metric":{"__name__":"up","instance":"localhost:9090","job":"prometheus"},"value":[1700000060,"1"]},"#,
            r#"{"metric":{"__name__":"up","instance":"n1:9100","job":"node"},"value":[1700000060,"1"]},"#,
            r#"{"metric":{"__name__":"up","instance":"n2:9100","job":"node"},"value":[1700000060,"0"]}]}}"#
        )
    );
    // Timestamps keep three decimals; values their Go spelling.
    let a = f
        .both("/api/v1/query", &format!("query=weird&time={}.5", T0 + 60))
        .await;
    assert_eq!(
        a.body,
        concat!(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"weird","#,
            r#""v":"a\u003cb\u0026c\u003e\"q\"\n\u2028"},"value":[1700000060.500,"1.5e-07"]}]}}"#
        )
    );
    let a = f
        .both("/api/v1/query", &format!("query=%22grafana%22&time={T0}"))
        .await;
    assert_eq!(
        a.data(),
        json!({"resultType":"string","result":[T0,"grafana"]})
    );
    let a = f
        .both(
            "/api/v1/query",
            &format!(
                "query={}&time={}",
                enc(r#"up{instance="n2:9100"}[30s]"#),
                T0 + 30
            ),
        )
        .await;
    assert_eq!(
        a.data(),
        json!({"resultType":"matrix","result":[{"metric":{"__name__":"up","instance":"n2:9100","job":"node"},
            "values":[[T0 + 15,"0"],[T0 + 30,"0"]]}]})
    );
    let a = f
        .both("/api/v1/query", &format!("query=nothing_here&time={T0}"))
        .await;
    assert_eq!(
        a.body,
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#
    );
    // UTF-8 metric and label names.
    let a = f
        .both(
            "/api/v1/query",
            &format!(
                "query={}&time={T0}",
                enc(r#"{"my.dotted.metric", "host.name"="h1"}"#)
            ),
        )
        .await;
    assert_eq!(
        a.data()["result"][0]["metric"],
        json!({"__name__":"my.dotted.metric","host.name":"h1"})
    );
    // Without `time`: now, where there is no data.
    let a = f.both("/api/v1/query", "query=up").await;
    assert_eq!(a.data()["result"], json!([]));
}

#[tokio::test]
async fn range_queries_as_grafana_sends_them() {
    let f = fixture();
    // Go's url.Values.Encode: keys sorted.
    let form = format!(
        "end={}&query={}&start={T0}&step=15",
        T0 + 30,
        enc(r#"up{job="node"}"#)
    );
    let a = f.both("/api/v1/query_range", &form).await;
    assert_eq!(
        a.body,
        concat!(
            r#"{"status":"success","data":{"resultType":"matrix","result":["#,
            r#"{"metric":{"__name__":"up","instance":"n1:9100","job":"node"},"values":[[1700000000,"1"],[1700000015,"1"],[1700000030,"1"]]},"#,
            r#"{"metric":{"__name__":"up","instance":"n2:9100","job":"node"},"values":[[1700000000,"0"],[1700000015,"0"],[1700000030,"0"]]}]}}"#
        )
    );
    // `$__rate_interval` as Grafana spells it, and a timeout.
    let q = enc("sum by (code) (rate(http_requests_total[1m0s]))");
    let form = format!(
        "end={}&query={q}&start={}&step=60&timeout=30s",
        T0 + 900,
        T0 + 600
    );
    let d = f.both("/api/v1/query_range", &form).await.data();
    let result = d["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[0]["metric"], json!({"code":"200"}));
    for (series, per_second) in result.iter().zip([10.0 / 15.0, 1.0 / 15.0]) {
        let values = series["values"].as_array().unwrap();
        assert_eq!(values.len(), 6);
        for (i, p) in values.iter().enumerate() {
            assert_eq!(p[0], json!(T0 + 600 + 60 * i as i64));
            let v: f64 = p[1].as_str().unwrap().parse().unwrap();
            assert!((v - per_second).abs() < 1e-9, "{v}");
        }
    }
    // A scalar expression gives one series without labels.
    let d = f
        .both(
            "/api/v1/query_range",
            &format!("query=1%2B1&start={T0}&end={}&step=0.5", T0 + 1),
        )
        .await
        .data();
    assert_eq!(
        d,
        json!({"resultType":"matrix","result":[{"metric":{},"values":[[T0,"2"],[T0 as f64 + 0.5,"2"],[T0 + 1,"2"]]}]})
    );
    assert!(f
        .get(&format!(
            "/api/v1/query_range?query=1&start={T0}&end={}&step=0.5",
            T0 + 1
        ))
        .await
        .body
        .contains("[1700000000.500,\"1\"]"));
    // RFC 3339 times and a duration step.
    let d = f
        .both(
            "/api/v1/query_range",
            "query=up%7Binstance%3D%22n1%3A9100%22%7D&start=2023-11-14T22:13:20Z&end=2023-11-14T22:14:20.000Z&step=1m",
        )
        .await
        .data();
    assert_eq!(d["result"][0]["values"], json!([[T0, "1"], [T0 + 60, "1"]]));
}

#[tokio::test]
async fn limits_truncate_and_warn() {
    let f = fixture();
    let a = f
        .both("/api/v1/query", &format!("query=up&time={T0}&limit=2"))
        .await;
    let v = a.json();
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 2);
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    let a = f
        .both(
            "/api/v1/query_range",
            &format!("query=up&start={T0}&end={}&step=15&limit=1", T0 + 15),
        )
        .await;
    let v = a.json();
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    // Exactly at the limit: no warning.
    let a = f
        .both("/api/v1/query", &format!("query=up&time={T0}&limit=3"))
        .await;
    assert!(a.json().get("warnings").is_none(), "{}", a.body);
}

#[tokio::test]
async fn annotations_go_to_warnings_and_infos() {
    let f = fixture();
    let a = f
        .both(
            "/api/v1/query",
            &format!("query={}&time={}", enc("rate(up[5m])"), T0 + 600),
        )
        .await;
    let v = a.json();
    assert_eq!(v["status"], "success");
    let infos = v["infos"].as_array().expect("an info annotation");
    assert!(
        infos[0]
            .as_str()
            .unwrap()
            .starts_with("PromQL info: metric might not be a counter"),
        "{infos:?}"
    );
    assert!(v.get("warnings").is_none());
    let a = f
        .both(
            "/api/v1/query",
            &format!("query={}&time={}", enc("quantile(2, up)"), T0 + 600),
        )
        .await;
    let w = a.json()["warnings"].clone();
    assert!(
        w[0].as_str()
            .unwrap()
            .contains("quantile value should be between 0 and 1"),
        "{w}"
    );
}

#[tokio::test]
async fn statistics() {
    let f = fixture();
    let form = format!(
        "query={}&start={T0}&end={}&step=15&stats=all",
        enc(r#"up{job="node"}"#),
        T0 + 30
    );
    let d = f.both("/api/v1/query_range", &form).await.data();
    let stats = &d["stats"];
    let timings = stats["timings"].as_object().unwrap();
    let keys: Vec<&str> = timings.keys().map(|k| k.as_str()).collect();
    for k in [
        "evalTotalTime",
        "resultSortTime",
        "queryPreparationTime",
        "innerEvalTime",
        "execQueueTime",
        "execTotalTime",
    ] {
        assert!(keys.contains(&k), "{k}");
        assert!(timings[k].as_f64().unwrap() >= 0.0);
    }
    assert!(
        timings["execTotalTime"].as_f64().unwrap() >= timings["evalTotalTime"].as_f64().unwrap()
    );
    assert_eq!(
        stats["samples"],
        json!({"totalQueryableSamplesPerStep":[[T0,2],[T0 + 15,2],[T0 + 30,2]],"totalQueryableSamples":6,"peakSamples":6})
    );
    // Any other non-empty value: totals only.
    let d = f
        .both(
            "/api/v1/query",
            &format!(
                "query={}&time={}&stats=1",
                enc("rate(http_requests_total[1m])"),
                T0 + 600
            ),
        )
        .await
        .data();
    assert_eq!(d["stats"]["samples"]["totalQueryableSamples"], json!(8));
    assert!(d["stats"]["samples"]
        .get("totalQueryableSamplesPerStep")
        .is_none());
    // Key order as Prometheus writes it.
    let a = f.get("/api/v1/query?query=1&time=4&stats=all").await;
    let order = [
        "\"resultType\"",
        "\"result\"",
        "\"stats\"",
        "\"timings\"",
        "\"evalTotalTime\"",
        "\"resultSortTime\"",
        "\"queryPreparationTime\"",
        "\"innerEvalTime\"",
        "\"execQueueTime\"",
        "\"execTotalTime\"",
        "\"samples\"",
        "\"totalQueryableSamplesPerStep\"",
        "\"totalQueryableSamples\"",
        "\"peakSamples\"",
    ];
    let pos: Vec<usize> = order
        .iter()
        .map(|k| a.body.find(k).unwrap_or_else(|| panic!("{k}: {}", a.body)))
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{}", a.body);
    assert!(a.body.contains(r#""samples":{"totalQueryableSamplesPerStep":[[4,0]],"totalQueryableSamples":0,"peakSamples":1}"#), "{}", a.body);
    // No stats unless asked.
    assert!(!f
        .get("/api/v1/query?query=1&time=4")
        .await
        .body
        .contains("stats"));
}

#[tokio::test]
async fn evaluation_errors() {
    let f = fixture();
    // Many-to-many matching.
    let q = enc("http_requests_total + on(job) http_requests_total");
    let a = f
        .both("/api/v1/query", &format!("query={q}&time={}", T0 + 60))
        .await;
    let (kind, msg) = a.error(422);
    assert_eq!(kind, "execution");
    assert!(
        msg.contains(
            "many-to-many matching not allowed: matching labels must be unique on one side"
        ),
        "{msg}"
    );
    // The server keeps answering.
    let a = f.both("/api/v1/query", "query=1%2B1&time=4").await;
    assert_eq!(a.data()["result"], json!([4, "2"]));
    // Parse errors carry the position and the parameter.
    let a = f.both("/api/v1/query", "query=sum(up&time=4").await;
    let (kind, msg) = a.error(400);
    assert_eq!(kind, "bad_data");
    assert!(msg.starts_with("invalid parameter \"query\": 1:"), "{msg}");
    assert!(msg.contains(": parse error: "), "{msg}");
    // Out of time in evaluation.
    let a = f
        .both("/api/v1/query", &format!("query=up&time={T0}&timeout=0"))
        .await;
    assert_eq!(
        a.error(503),
        (
            "timeout".into(),
            "query timed out in expression evaluation".into()
        )
    );
}

#[tokio::test]
async fn a_full_queue_times_out() {
    let f = fixture_with(0);
    let a = f.both("/api/v1/query", "query=1&time=4&timeout=50ms").await;
    assert_eq!(
        a.error(503),
        ("timeout".into(), "query timed out in query queue".into())
    );
    let a = f
        .both(
            "/api/v1/query_range",
            "query=1&start=0&end=1&step=1&timeout=0.05",
        )
        .await;
    assert_eq!(a.error(503).1, "query timed out in query queue");
    // Metadata endpoints do not take query slots.
    assert_eq!(f.get("/api/v1/labels").await.status, StatusCode::OK);
}

#[tokio::test]
async fn exemplars_are_validated_and_empty() {
    let f = fixture();
    // Grafana's probe, with millisecond times.
    let a = f
        .both(
            "/api/v1/query_exemplars",
            "query=test&start=1795632293785&end=1795634093785",
        )
        .await;
    assert_eq!(a.body, r#"{"status":"success","data":[]}"#);
    let a = f
        .both(
            "/api/v1/query_exemplars",
            &format!(
                "end={}&query={}&start={T0}",
                T0 + 600,
                enc("histogram_quantile(0.9, rate(x_bucket[1m]))")
            ),
        )
        .await;
    assert_eq!(a.data(), json!([]));
    // Without any selector upstream answers 204 with no body.
    let a = f.both("/api/v1/query_exemplars", "query=1%2B1").await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::NO_CONTENT, ""));
}

#[tokio::test]
async fn format_and_parse_query() {
    let f = fixture();
    let a = f
        .both(
            "/api/v1/format_query",
            &format!("query={}", enc("sum(rate(x[5m]))by(job)>1")),
        )
        .await;
    assert_eq!(
        a.body,
        r#"{"status":"success","data":"sum by (job) (rate(x[5m])) \u003e 1"}"#
    );
    let long = "sum by (job, instance) (rate(a_rather_long_metric_name_for_formatting_total{job=\"api\"}[5m])) / sum by (job, instance) (rate(another_long_metric_name_total[5m]))";
    let d = f
        .both("/api/v1/format_query", &format!("query={}", enc(long)))
        .await
        .data();
    assert_eq!(
        d,
        "  sum by (job, instance) (rate(a_rather_long_metric_name_for_formatting_total{job=\"api\"}[5m]))\n/\n  sum by (job, instance) (rate(another_long_metric_name_total[5m]))"
    );
    let d = f
        .both(
            "/api/v1/parse_query",
            &format!("query={}", enc("-up offset 1m")),
        )
        .await
        .data();
    assert_eq!(d["type"], "unaryExpr");
    assert_eq!(d["expr"]["offset"], 60_000);
    for path in ["/api/v1/format_query", "/api/v1/parse_query"] {
        let (kind, msg) = f.both(path, "query=up%7B").await.error(400);
        assert_eq!(kind, "bad_data");
        assert!(msg.starts_with("invalid parameter \"query\": 1:"), "{msg}");
    }
}

#[tokio::test]
async fn series_lookups() {
    let f = fixture();
    let d = f
        .both(
            "/api/v1/series",
            &format!("match[]={}", enc(r#"up{job="node"}"#)),
        )
        .await
        .data();
    assert_eq!(
        d,
        json!([{"__name__":"up","instance":"n1:9100","job":"node"},{"__name__":"up","instance":"n2:9100","job":"node"}])
    );
    // Several selectors: the union, sorted, without duplicates.
    let form = format!(
        "match[]={}&match[]=up&match[]={}",
        enc(r#"up{job="node"}"#),
        enc("old_metric")
    );
    let d = f.both("/api/v1/series", &form).await.data();
    let names: Vec<String> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}/{}", s["__name__"], s["instance"]))
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(d[0], json!({"__name__":"old_metric","era":"block"}));
    // Grafana's all-series selector with its limit, and a time range.
    let form = format!(
        "match[]={}&limit=40000&start={T0}&end={}",
        enc(r#"{__name__!=""}"#),
        T0 + 60
    );
    let d = f.both("/api/v1/series", &form).await.data();
    assert_eq!(d.as_array().unwrap().len(), 3 + 2 + 1 + 1 + 1 + 12);
    // Limits cut and warn.
    let a = f.both("/api/v1/series", "match[]=many&limit=5").await;
    let v = a.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 5);
    assert_eq!(v["data"][4], json!({"__name__":"many","i":"04"}));
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    // The block's time range finds the block's series only.
    let d = f
        .both(
            "/api/v1/series",
            &format!(
                "match[]={}&start={}&end={}",
                enc(r#"{__name__=~".+"}"#),
                T0 - 6 * 3600,
                T0 - 5 * 3600
            ),
        )
        .await
        .data();
    assert_eq!(d, json!([{"__name__":"old_metric","era":"block"}]));
}

#[tokio::test]
async fn label_names_and_values() {
    let f = fixture();
    let d = f.both("/api/v1/labels", "").await.data();
    assert_eq!(
        d,
        json!([
            "__name__",
            "code",
            "cpu",
            "era",
            "host.name",
            "i",
            "instance",
            "job",
            "mode",
            "v"
        ])
    );
    let d = f
        .both(
            "/api/v1/labels",
            &format!("match[]={}&limit=40000", enc(r#"up{}"#)),
        )
        .await
        .data();
    assert_eq!(d, json!(["__name__", "instance", "job"]));
    // Grafana's `label_names(<regex>)` variable.
    let form = format!(
        "limit=40000&start={T0}&end={}&match[]={}",
        T0 + 60,
        enc(r#"{__name__=~".*cpu.*"}"#)
    );
    let d = f.both("/api/v1/labels", &form).await.data();
    assert_eq!(d, json!(["__name__", "cpu", "job", "mode"]));
    let form = format!(
        "match[]={}&match[]={}",
        enc("old_metric"),
        enc(r#"{__name__="weird"}"#)
    );
    assert_eq!(
        f.both("/api/v1/labels", &form).await.data(),
        json!(["__name__", "era", "v"])
    );
    let a = f.both("/api/v1/labels", "limit=2").await;
    assert_eq!(a.json()["data"], json!(["__name__", "code"]));
    assert_eq!(
        a.json()["warnings"],
        json!(["results truncated due to limit"])
    );

    // Values, from head and block alike.
    let d = f
        .get("/api/v1/label/__name__/values?limit=40000")
        .await
        .data();
    assert_eq!(
        d,
        json!([
            "http_requests_total",
            "many",
            "my.dotted.metric",
            "node_cpu_seconds_total",
            "old_metric",
            "up",
            "weird"
        ])
    );
    assert_eq!(
        f.get("/api/v1/label/era/values").await.data(),
        json!(["block"])
    );
    let uri = format!(
        "/api/v1/label/instance/values?start={T0}&end={}&match[]={}",
        T0 + 60,
        enc(r#"up{job="node"}"#)
    );
    assert_eq!(f.get(&uri).await.data(), json!(["n1:9100", "n2:9100"]));
    // Code-mode autocomplete.
    let uri = format!(
        "/api/v1/label/__name__/values?limit=1000&match[]={}",
        enc(r#"{__name__=~".*req.*"}"#)
    );
    assert_eq!(f.get(&uri).await.data(), json!(["http_requests_total"]));
    let uri = format!(
        "/api/v1/label/job/values?match[]={}&match[]={}",
        enc("up"),
        enc("http_requests_total")
    );
    assert_eq!(
        f.get(&uri).await.data(),
        json!(["api", "node", "prometheus"])
    );
    let a = f.get("/api/v1/label/i/values?limit=3").await;
    assert_eq!(a.json()["data"], json!(["00", "01", "02"]));
    assert_eq!(
        a.json()["warnings"],
        json!(["results truncated due to limit"])
    );
    // UTF-8 names: percent-encoded or in Prometheus 3's U__ escaping.
    assert_eq!(
        f.get("/api/v1/label/host.name/values").await.data(),
        json!(["h1"])
    );
    assert_eq!(
        f.get("/api/v1/label/U__host_2e_name/values").await.data(),
        json!(["h1"])
    );
    let a = f.get("/api/v1/label/v/values").await;
    assert_eq!(
        a.body,
        r#"{"status":"success","data":["a\u003cb\u0026c\u003e\"q\"\n\u2028"]}"#
    );
    assert_eq!(f.get("/api/v1/label/nope/values").await.data(), json!([]));
    assert_eq!(
        f.get("/api/v1/label/%ff/values").await.error(400),
        ("bad_data".into(), r#"invalid label name: "\xff""#.into())
    );
    assert_eq!(
        f.get("/api/v1/label//values").await.error(400),
        ("bad_data".into(), r#"invalid label name: """#.into())
    );
}

#[tokio::test]
async fn methods() {
    let f = fixture();
    // Label values are GET only: POST gets Go's plain-text 405.
    let a = f.post("/api/v1/label/job/values", "").await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.body, "Method Not Allowed\n");
    assert_eq!(a.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    let a = f
        .send(
            Request::delete("/api/v1/series?match[]=up")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(a.error(500), ("internal".into(), "not implemented".into()));
    for path in [
        "/api/v1/query",
        "/api/v1/query_range",
        "/api/v1/labels",
        "/api/v1/query_exemplars",
        "/api/v1/format_query",
        "/api/v1/parse_query",
    ] {
        let a = f
            .send(Request::delete(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        let a = f
            .send(
                Request::builder()
                    .method(Method::OPTIONS)
                    .uri(path)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "{path}");
    }
    for path in ["/api/v1/series", "/api/v1/label/job/values"] {
        let req = Request::builder()
            .method(Method::OPTIONS)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        assert_eq!(f.send(req).await.status, StatusCode::NO_CONTENT, "{path}");
    }
    // A POST without a form body reads the URL only.
    let a = f
        .send(
            Request::post("/api/v1/query?query=1&time=4")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(a.data()["result"], json!([4, "1"]));
    // Body values win over URL values, as Go's r.Form.
    let a = f.post("/api/v1/query?time=5", "query=1&time=4").await;
    assert_eq!(a.data()["result"], json!([4, "1"]));
}

/// Every parameter of every endpoint with a malformed value, by GET and
/// POST: Prometheus's error type, status and message.
#[tokio::test]
async fn malformed_parameters() {
    let f = fixture();
    let ts = |p: &str, v: &str| {
        format!("invalid parameter \"{p}\": invalid time value for '{p}': cannot parse \"{v}\" to a valid timestamp")
    };
    let cases: Vec<(&str, String, String)> = vec![
        // query
        ("/api/v1/query", "query=up&time=abc".into(), ts("time", "abc")),
        ("/api/v1/query", "query=up&limit=1.5".into(), r#"invalid parameter "limit": strconv.Atoi: parsing "1.5": invalid syntax"#.into()),
        ("/api/v1/query", "query=up&limit=-3".into(), r#"invalid parameter "limit": limit must be non-negative"#.into()),
        ("/api/v1/query", "query=up&timeout=soon".into(), r#"invalid parameter "timeout": cannot parse "soon" to a valid duration"#.into()),
        ("/api/v1/query", "query=up&lookback_delta=1.5.5".into(), r#"error parsing lookback delta duration: cannot parse "1.5.5" to a valid duration"#.into()),
        ("/api/v1/query", "time=4".into(), r#"invalid parameter "query": 1:1: parse error: no expression found in input"#.into()),
        // query_range
        ("/api/v1/query_range", "query=up&end=2&step=1".into(), r#"invalid parameter "start": cannot parse "" to a valid timestamp"#.into()),
        ("/api/v1/query_range", "query=up&start=yesterday&end=2&step=1".into(), r#"invalid parameter "start": cannot parse "yesterday" to a valid timestamp"#.into()),
        ("/api/v1/query_range", "query=up&start=1&end=now&step=1".into(), r#"invalid parameter "end": cannot parse "now" to a valid timestamp"#.into()),
        ("/api/v1/query_range", "query=up&start=3&end=2&step=1".into(), r#"invalid parameter "end": end timestamp must not be before start time"#.into()),
        ("/api/v1/query_range", "query=up&start=1&end=2".into(), r#"invalid parameter "step": cannot parse "" to a valid duration"#.into()),
        ("/api/v1/query_range", "query=up&start=1&end=2&step=fast".into(), r#"invalid parameter "step": cannot parse "fast" to a valid duration"#.into()),
        ("/api/v1/query_range", "query=up&start=1&end=2&step=0".into(), r#"invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer"#.into()),
        ("/api/v1/query_range", "query=up&start=0&end=86400&step=1".into(), "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into()),
        ("/api/v1/query_range", "query=up&start=1&end=2&step=1&timeout=x".into(), r#"invalid parameter "timeout": cannot parse "x" to a valid duration"#.into()),
        ("/api/v1/query_range", "query=up&start=1&end=2&step=1&limit=x".into(), r#"invalid parameter "limit": strconv.Atoi: parsing "x": invalid syntax"#.into()),
        ("/api/v1/query_range", "query=up%5B5m%5D&start=1&end=2&step=1".into(), r#"invalid parameter "query": invalid expression type "range vector" for range query, must be Scalar or instant Vector"#.into()),
        // query_exemplars
        ("/api/v1/query_exemplars", "query=up&start=x".into(), ts("start", "x")),
        ("/api/v1/query_exemplars", "query=up&end=x".into(), ts("end", "x")),
        ("/api/v1/query_exemplars", "query=up&start=2&end=1".into(), "end timestamp must not be before start timestamp".into()),
        ("/api/v1/query_exemplars", "query=up%7B".into(), "1:4: parse error: unexpected end of input inside braces".into()),
        // format_query, parse_query
        ("/api/v1/format_query", "".into(), r#"invalid parameter "query": 1:1: parse error: no expression found in input"#.into()),
        ("/api/v1/parse_query", "query=".into(), r#"invalid parameter "query": 1:1: parse error: no expression found in input"#.into()),
        // series
        ("/api/v1/series", "start=1".into(), "no match[] parameter provided".into()),
        ("/api/v1/series", "match[]=up&limit=x".into(), r#"invalid parameter "limit": strconv.Atoi: parsing "x": invalid syntax"#.into()),
        ("/api/v1/series", "match[]=up&start=x".into(), ts("start", "x")),
        ("/api/v1/series", "match[]=up&end=x".into(), ts("end", "x")),
        ("/api/v1/series", "match[]=%7B%7D".into(), r#"invalid parameter "match[]": match[] must contain at least one non-empty matcher"#.into()),
        ("/api/v1/series", "match[]=up%2B1".into(), r#"invalid parameter "match[]": 1:3: parse error: unexpected <op:+>"#.into()),
        // labels
        ("/api/v1/labels", "limit=-1".into(), r#"invalid parameter "limit": limit must be non-negative"#.into()),
        ("/api/v1/labels", "start=x".into(), ts("start", "x")),
        ("/api/v1/labels", "end=x".into(), ts("end", "x")),
        ("/api/v1/labels", "match[]=%7B%7D".into(), "match[] must contain at least one non-empty matcher".into()),
        ("/api/v1/labels", "match[]=%7Bjob%3D%22%22%7D".into(), "match[] must contain at least one non-empty matcher".into()),
        ("/api/v1/labels", "match[]=up%5B5m%5D".into(), "1:3: parse error: unexpected \"[\"".into()),
    ];
    for (path, form, want) in cases {
        let a = f.both(path, &form).await;
        assert_eq!(a.error(400), ("bad_data".into(), want), "{path}?{form}");
    }
    // Label values are GET only.
    let ts_err = ts("start", "x");
    for (uri, want) in [
        (
            "/api/v1/label/job/values?limit=x",
            r#"invalid parameter "limit": strconv.Atoi: parsing "x": invalid syntax"#.to_string(),
        ),
        ("/api/v1/label/job/values?start=x", ts_err),
        ("/api/v1/label/job/values?end=x", ts("end", "x")),
        (
            "/api/v1/label/job/values?match[]=%7B%7D",
            "match[] must contain at least one non-empty matcher".into(),
        ),
        (
            "/api/v1/label/job/values?match[]=sum(",
            "1:4: parse error: unexpected \"(\"".into(),
        ),
    ] {
        assert_eq!(
            f.get(uri).await.error(400),
            ("bad_data".into(), want),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn durations_are_recorded() {
    let f = fixture();
    f.get("/api/v1/query?query=1").await;
    f.post("/api/v1/query_range", "query=1&start=0&end=1&step=1")
        .await;
    f.get("/api/v1/labels").await;
    f.get("/api/v1/query?query=(").await;
    let text = f.state.registry.render();
    assert!(
        text.contains("# TYPE ferroprom_query_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("ferroprom_query_duration_seconds_count{endpoint=\"query\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("ferroprom_query_duration_seconds_count{endpoint=\"query_range\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("ferroprom_query_duration_seconds_count{endpoint=\"labels\"} 1"),
        "{text}"
    );
    // A second state with its own registry gets its own family.
    let g = fixture();
    g.get("/api/v1/query?query=1").await;
    assert!(g
        .state
        .registry
        .render()
        .contains("ferroprom_query_duration_seconds_count{endpoint=\"query\"} 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_queries_share_the_slots() {
    let f = Arc::new(fixture_with(2));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let f = Arc::clone(&f);
        tasks.push(tokio::spawn(async move {
            let q = format!(
                "query=sum(rate(http_requests_total[5m]))&start={T0}&end={}&step=15",
                T0 + 3600 - i
            );
            f.post("/api/v1/query_range", &q).await.data()["result"][0]["values"]
                .as_array()
                .unwrap()
                .len()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap() > 200);
    }
    assert_eq!(f.state.query_slots.available_permits(), 2);
}

/// A query whose subquery or range has trillions of steps is refused by
/// the sample limit (it used to abort the process allocating per step),
/// and the server keeps answering.
#[tokio::test]
async fn huge_step_counts_are_execution_errors() {
    let f = fixture();
    let msg = "query processing would load too many samples into memory in query execution";
    for q in [
        "count_over_time(up[100y:1ms])",
        "http_requests_total[100y:1ms]",
        "sum_over_time(vector(1)[100y:1ms])",
    ] {
        let a = f
            .both(
                "/api/v1/query",
                &format!("query={}&time={}", enc(q), T0 + 60),
            )
            .await;
        assert_eq!(a.error(422), ("execution".into(), msg.into()), "{q}");
    }
    let q = enc("count_over_time(up[100y:1ms])");
    let a = f
        .both(
            "/api/v1/query_range",
            &format!("query={q}&start={T0}&end={}&step=60", T0 + 600),
        )
        .await;
    assert_eq!(a.error(422), ("execution".into(), msg.into()));
    let a = f.both("/api/v1/query", "query=1%2B1&time=4").await;
    assert_eq!(a.data()["result"], json!([4, "2"]));
}

/// A selector holding bytes that are not UTF-8, sent as such (`%ff`) or as
/// a PromQL escape (`\xff`), is `400 bad_data` on every endpoint that
/// parses one, not an empty success.
#[tokio::test]
async fn invalid_utf8_in_selectors_is_bad_data() {
    let f = fixture();
    let escaped = enc(r#"up{job="\xff"}"#);
    for sel in ["up{job=%22%ff%22}", "up{job=%22a%c3%22}", escaped.as_str()] {
        let a = f
            .both("/api/v1/query", &format!("query={sel}&time={}", T0 + 60))
            .await;
        let (kind, msg) = a.error(400);
        assert_eq!(kind, "bad_data", "{sel}");
        assert_eq!(
            msg, "invalid parameter \"query\": 1:8: parse error: invalid UTF-8 rune",
            "{sel}"
        );
        let a = f
            .both(
                "/api/v1/query_range",
                &format!("query={sel}&start={T0}&end={}&step=15", T0 + 60),
            )
            .await;
        assert_eq!(a.error(400).0, "bad_data", "{sel}");
        for path in [
            "/api/v1/series",
            "/api/v1/labels",
            "/api/v1/label/job/values",
        ] {
            let form = format!("match[]={sel}");
            // Label values are GET only, as in Prometheus.
            let a = if path.ends_with("/values") {
                f.get(&format!("{path}?{form}")).await
            } else {
                f.both(path, &form).await
            };
            let (kind, msg) = a.error(400);
            assert_eq!(kind, "bad_data", "{path} {sel}");
            assert!(msg.contains("invalid UTF-8 rune"), "{path} {sel}: {msg}");
        }
        let app = ferroprom::api::router(Arc::clone(&f.state));
        let req = Request::get(format!("/federate?match[]={sel}"));
        let a = f.send_to(&app, req.body(Body::empty()).unwrap()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "federate {sel}");
        assert!(
            a.body.contains("invalid UTF-8 rune"),
            "federate {sel}: {}",
            a.body
        );
    }
    // Valid UTF-8, percent-encoded or escaped, still matches.
    let a = f
        .both(
            "/api/v1/query",
            &format!("query={}&time={}", enc(r#"up{job="\x6eode"}"#), T0 + 60),
        )
        .await;
    assert_eq!(a.data()["result"].as_array().unwrap().len(), 2);
}
