//! The status, target, metadata, rules, admin and lifecycle endpoints,
//! `/metrics`, and the router's behaviour around them, driven through the
//! real router over a real database.

use crate::common::api_state::api_state;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use storage::querier::Queryable;
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Labels, Matcher, Options};
use tokio::sync::mpsc;
use tower::ServiceExt;

use ferroprom::api::{self, ApiState, ReloadRequest};
use ferroprom::metrics::Registry;
use ferroprom::scrape::status::{
    ActiveTarget, DroppedTarget, Health, MetricMetadata, ScrapeStatus,
};

const H: i64 = 3600 * 1000;

struct FakeScrape {
    active: Vec<ActiveTarget>,
    dropped: Vec<DroppedTarget>,
    metadata: Vec<(Labels, Vec<MetricMetadata>)>,
}

impl ScrapeStatus for FakeScrape {
    fn active_targets(&self) -> Vec<ActiveTarget> {
        self.active.clone()
    }
    fn dropped_targets(&self) -> Vec<DroppedTarget> {
        self.dropped.clone()
    }
    fn metadata(&self) -> Vec<(Labels, Vec<MetricMetadata>)> {
        self.metadata.clone()
    }
}

fn md(metric: &str, kind: &str, help: &str) -> MetricMetadata {
    MetricMetadata {
        metric: metric.into(),
        kind: kind.into(),
        help: help.into(),
        unit: String::new(),
    }
}

fn target_labels(job: &str, instance: &str) -> Labels {
    Labels::from_pairs([("instance", instance), ("job", job)])
}

fn fake_scrape() -> FakeScrape {
    let node = target_labels("node", "n1:9100");
    let prom = target_labels("prometheus", "localhost:9090");
    FakeScrape {
        // Deliberately not in pool order: the API sorts by pool.
        active: vec![
            ActiveTarget {
                discovered_labels: Labels::from_pairs([
                    ("__address__", "n1:9100"),
                    ("__scheme__", "http"),
                    ("job", "node"),
                ]),
                labels: node.clone(),
                scrape_pool: "node".into(),
                scrape_url: "http://n1:9100/metrics".into(),
                global_url: "http://n1:9100/metrics".into(),
                last_error: "server returned HTTP status 500 Internal Server Error".into(),
                last_scrape: Some(UNIX_EPOCH + Duration::from_nanos(1_700_000_000_250_000_000)),
                last_scrape_duration_seconds: 0.012,
                health: Health::Down,
                scrape_interval: "15s".into(),
                scrape_timeout: "10s".into(),
            },
            ActiveTarget {
                discovered_labels: Labels::from_pairs([("__address__", "localhost:9090")]),
                labels: prom.clone(),
                scrape_pool: "prometheus".into(),
                scrape_url: "http://localhost:9090/metrics".into(),
                global_url: "http://host:9090/metrics".into(),
                last_error: String::new(),
                last_scrape: None,
                last_scrape_duration_seconds: 0.0,
                health: Health::Unknown,
                scrape_interval: "1m".into(),
                scrape_timeout: "10s".into(),
            },
        ],
        dropped: vec![
            DroppedTarget {
                discovered_labels: Labels::from_pairs([("__address__", "n2:9100")]),
                scrape_pool: "node".into(),
            },
            DroppedTarget {
                discovered_labels: Labels::from_pairs([("__address__", "n3:9100")]),
                scrape_pool: "node".into(),
            },
            DroppedTarget {
                discovered_labels: Labels::from_pairs([("__address__", "p2:9090")]),
                scrape_pool: "prometheus".into(),
            },
        ],
        metadata: vec![
            (
                prom,
                vec![
                    md("up", "gauge", "Target up."),
                    md("go_goroutines", "gauge", "Number of goroutines."),
                    md("http_requests_total", "counter", "Requests <all> & more."),
                ],
            ),
            (
                node,
                vec![
                    md("up", "gauge", "Target up."),
                    md("node_load1", "gauge", "1m load average."),
                    md("http_requests_total", "counter", "HTTP requests."),
                ],
            ),
        ],
    }
}

const CONFIG: &str = "# test config\nglobal:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: [localhost:9090]\n  - job_name: node\n    basic_auth:\n      username: admin\n      password: s3cr3t\n    static_configs:\n      - targets: [n1:9100]\n";

struct Setup {
    admin: bool,
    lifecycle: bool,
    ready: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            admin: true,
            lifecycle: true,
            ready: true,
        }
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    db: Arc<Db>,
    state: Arc<ApiState>,
    app: Router,
    reload_rx: Option<mpsc::Receiver<ReloadRequest>>,
    quit_rx: Option<mpsc::Receiver<()>>,
}

fn db_options() -> Options {
    Options {
        compaction_interval: None,
        wal: WalOptions {
            segment_size: 64 * 1024,
            sync: SyncPolicy::Never,
            ..WalOptions::default()
        },
        ..Options::default()
    }
}

fn harness(setup: Setup) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), db_options()).unwrap());
    let registry = Arc::new(Registry::new());
    api::register_storage_metrics(&registry, Arc::clone(&db));
    api::register_process_metrics(&registry);
    let (reload_tx, reload_rx) = mpsc::channel(1);
    let (quit_tx, quit_rx) = mpsc::channel(1);
    let config = ferroprom::config::parse_str(CONFIG).unwrap();
    let state = Arc::new(ApiState {
        flags: BTreeMap::from([
            (
                "storage.tsdb.path".to_string(),
                dir.path().display().to_string(),
            ),
            ("web.enable-admin-api".to_string(), setup.admin.to_string()),
        ]),
        scrape: Arc::new(fake_scrape()),
        reload: setup.lifecycle.then_some(reload_tx),
        quit: setup.lifecycle.then_some(quit_tx),
        admin_enabled: setup.admin,
        ready: Arc::new(AtomicBool::new(setup.ready)),
        registry,
        start_time: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        ..api_state(Arc::clone(&db), config)
    });
    let app = api::router(Arc::clone(&state));
    Harness {
        _dir: dir,
        db,
        state,
        app,
        reload_rx: Some(reload_rx),
        quit_rx: Some(quit_rx),
    }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    fn data(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        let j = self.json();
        assert_eq!(j["status"], "success", "{}", self.body);
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/json",
            "{}",
            self.body
        );
        j["data"].clone()
    }

    /// Asserts a JSON error with this status, type and message.
    fn error(&self, status: u16, kind: &str, msg: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        let j = self.json();
        assert_eq!(j["status"], "error");
        assert_eq!(j["errorType"], kind, "{}", self.body);
        assert_eq!(j["error"], msg, "{}", self.body);
    }

    /// Asserts a plain-text answer.
    fn text(&self, status: u16, body: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.body, body);
        if !body.is_empty() {
            assert_eq!(
                self.headers[header::CONTENT_TYPE],
                "text/plain; charset=utf-8"
            );
        }
    }
}

impl Harness {
    async fn req(&self, method: &str, uri: &str, form: Option<&str>, origin: bool) -> Resp {
        let mut b = Request::builder().method(method).uri(uri);
        if form.is_some() {
            b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        if origin {
            b = b.header(header::ORIGIN, "http://grafana.local");
        }
        let req = b
            .body(form.map_or_else(Body::empty, |f| Body::from(f.to_string())))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        Resp {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.req("GET", uri, None, false).await
    }

    async fn post(&self, uri: &str, form: &str) -> Resp {
        self.req("POST", uri, Some(form), false).await
    }

    /// `n` node series every 15s over [from, to).
    fn fill(&self, name: &str, n: usize, from: i64, to: i64) {
        let mut t = from;
        while t < to {
            let mut app = self.db.appender();
            for i in 0..n {
                let l = Labels::from_pairs([
                    ("__name__", name.to_string()),
                    ("instance", format!("host-{i}")),
                    ("job", "node".to_string()),
                ]);
                app.append(&l, t, i as f64).unwrap();
            }
            app.commit().unwrap();
            t += 15_000;
        }
    }

    fn count_samples(&self, matchers: &[Matcher]) -> usize {
        let q = self.db.querier(i64::MIN / 4, i64::MAX / 4).unwrap();
        q.select(&storage::querier::SelectHints::default(), matchers)
            .unwrap()
            .series
            .iter()
            .map(|s| s.iter().count())
            .sum()
    }
}

fn name_is(n: &str) -> Vec<Matcher> {
    vec![Matcher::equal("__name__", n)]
}

#[tokio::test]
async fn buildinfo_is_a_prometheus_version_without_features() {
    let h = harness(Setup::default());
    let r = h.get("/api/v1/status/buildinfo").await;
    let d = r.data();
    assert_eq!(d["version"], "2.53.0");
    assert!(d.get("features").is_none());
    for k in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
        assert!(d[k].is_string(), "{k}: {d}");
    }
    assert_eq!(d.as_object().unwrap().len(), 6);
    assert!(r
        .body
        .starts_with(r#"{"status":"success","data":{"version":"2.53.0","revision":"#));
}

#[tokio::test]
async fn config_flags_and_runtimeinfo() {
    let h = harness(Setup::default());
    let yaml = h.get("/api/v1/status/config").await.data()["yaml"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!yaml.contains("s3cr3t"), "{yaml}");
    assert!(
        yaml.contains("<secret>") && yaml.contains("job_name: node"),
        "{yaml}"
    );
    // The served text parses back into the same jobs.
    let back = ferroprom::config::parse_str(&yaml.replace("<secret>", "x")).unwrap();
    assert_eq!(back.scrape_configs.len(), 2);

    let f = h.get("/api/v1/status/flags").await.data();
    assert_eq!(f["web.enable-admin-api"], "true");
    assert_eq!(f.as_object().unwrap().len(), 2);

    // Tokio tasks stand in for goroutines.
    let (stop, wait) = tokio::sync::watch::channel(());
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let mut w = wait.clone();
            tokio::spawn(async move { w.changed().await })
        })
        .collect();
    let r = h.get("/api/v1/status/runtimeinfo").await;
    let d = r.data();
    assert!(d["goroutineCount"].as_u64().unwrap() >= 3, "{d}");
    stop.send(()).unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let keys: Vec<&str> = r
        .body
        .split(['{', ','])
        .filter_map(|p| p.strip_prefix('"')?.split('"').next())
        .filter(|k| d.get(*k).is_some())
        .collect();
    assert_eq!(
        keys,
        [
            "startTime",
            "CWD",
            "reloadConfigSuccess",
            "lastConfigTime",
            "corruptionCount",
            "goroutineCount",
            "GOMAXPROCS",
            "GOMEMLIMIT",
            "GOGC",
            "GODEBUG",
            "storageRetention"
        ]
    );
    assert_eq!(d["startTime"], "2023-11-14T22:13:20.123Z");
    assert_eq!(d["lastConfigTime"], "2023-11-14T22:13:20.123Z");
    assert_eq!(d["reloadConfigSuccess"], true);
    assert_eq!(d["corruptionCount"], 0);
    assert_eq!(d["GOMEMLIMIT"], json!(i64::MAX));
    assert_eq!(d["storageRetention"], "15d");
    assert_eq!(
        d["CWD"],
        std::env::current_dir().unwrap().display().to_string()
    );
    assert!(d["GOMAXPROCS"].as_u64().unwrap() >= 1);

    // A failed reload, as the reload code records it, shows up.
    h.state
        .registry
        .gauge("prometheus_config_last_reload_successful", "ok")
        .set(0.0);
    h.state
        .registry
        .gauge(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "t",
        )
        .set(1_600_000_000.0);
    let d = h.get("/api/v1/status/runtimeinfo").await.data();
    assert_eq!(d["reloadConfigSuccess"], false);
    assert_eq!(d["lastConfigTime"], "2020-09-13T12:26:40Z");
}

#[tokio::test]
async fn tsdb_status_counts_the_head() {
    let h = harness(Setup::default());
    let empty = h.get("/api/v1/status/tsdb").await.data();
    assert_eq!(
        empty["headStats"],
        json!({"numSeries":0,"numLabelPairs":0,"chunkCount":0,
               "minTime":i64::MAX,"maxTime":i64::MIN})
    );
    assert_eq!(empty["seriesCountByMetricName"], json!([]));

    h.fill("up", 3, 0, 60_000);
    h.fill("node_load1", 1, 0, 60_000);
    let r = h.get("/api/v1/status/tsdb").await;
    let d = r.data();
    assert_eq!(
        d["headStats"],
        json!({"numSeries":4,"numLabelPairs":6,"chunkCount":4,"minTime":0,"maxTime":45_000})
    );
    assert_eq!(
        d["seriesCountByMetricName"],
        json!([{"name":"up","value":3},{"name":"node_load1","value":1}])
    );
    assert_eq!(
        d["labelValueCountByLabelName"],
        json!([{"name":"instance","value":3},{"name":"__name__","value":2},{"name":"job","value":1}])
    );
    assert_eq!(
        d["memoryInBytesByLabelName"][0],
        json!({"name":"instance","value":24})
    );
    assert_eq!(
        d["seriesCountByLabelValuePair"][0],
        json!({"name":"job=node","value":4})
    );
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    // Prometheus's five, plus ferroprom's seriesCountByLabelName and
    // headChurn (tests/e2e/api_cardinality.rs checks them).
    assert_eq!(keys.len(), 7, "{keys:?}");

    let top = h.get("/api/v1/status/tsdb?limit=1").await.data();
    assert_eq!(
        top["seriesCountByMetricName"],
        json!([{"name":"up","value":3}])
    );
    assert_eq!(
        top["seriesCountByLabelValuePair"].as_array().unwrap().len(),
        1
    );

    for bad in ["0", "-1", "abc", "1.5"] {
        h.get(&format!("/api/v1/status/tsdb?limit={bad}"))
            .await
            .error(400, "bad_data", "limit must be a positive number");
    }
}

#[tokio::test]
async fn walreplay_reports_segments() {
    let h = harness(Setup::default());
    let d = h.get("/api/v1/status/walreplay").await.data();
    let (min, max, cur) = (
        d["min"].as_u64().unwrap(),
        d["max"].as_u64().unwrap(),
        d["current"].as_u64().unwrap(),
    );
    assert!(min <= max);
    assert_eq!(cur, max);
    assert_eq!(d.as_object().unwrap().len(), 3);
}

#[tokio::test]
async fn targets_by_state_and_pool() {
    let h = harness(Setup::default());
    let d = h.get("/api/v1/targets").await.data();
    let active = d["activeTargets"].as_array().unwrap();
    assert_eq!(active.len(), 2);
    assert_eq!(
        active[0],
        json!({
            "discoveredLabels": {"__address__":"n1:9100","__scheme__":"http","job":"node"},
            "labels": {"instance":"n1:9100","job":"node"},
            "scrapePool": "node",
            "scrapeUrl": "http://n1:9100/metrics",
            "globalUrl": "http://n1:9100/metrics",
            "lastError": "server returned HTTP status 500 Internal Server Error",
            "lastScrape": "2023-11-14T22:13:20.25Z",
            "lastScrapeDuration": 0.012,
            "health": "down",
            "scrapeInterval": "15s",
            "scrapeTimeout": "10s"
        })
    );
    assert_eq!(active[1]["lastScrape"], "0001-01-01T00:00:00Z");
    assert_eq!(active[1]["health"], "unknown");
    assert_eq!(d["droppedTargets"].as_array().unwrap().len(), 3);
    assert_eq!(
        d["droppedTargets"][0],
        json!({"discoveredLabels":{"__address__":"n2:9100"}})
    );
    assert_eq!(d["droppedTargetCounts"], json!({"node":2,"prometheus":1}));
    // The raw text keeps Go's number spelling and field order.
    let body = h.get("/api/v1/targets").await.body;
    assert!(
        body.contains(r#""lastScrapeDuration":0,"health":"unknown""#),
        "{body}"
    );
    assert!(
        body.starts_with(r#"{"status":"success","data":{"activeTargets":[{"discoveredLabels":"#)
    );

    let a = h.get("/api/v1/targets?state=active").await.data();
    assert_eq!(a["activeTargets"].as_array().unwrap().len(), 2);
    assert_eq!(a["droppedTargets"], json!([]));
    assert_eq!(a["droppedTargetCounts"], Value::Null);

    let dr = h.get("/api/v1/targets?state=Dropped").await.data();
    assert_eq!(dr["activeTargets"], json!([]));
    assert_eq!(dr["droppedTargets"].as_array().unwrap().len(), 3);

    let none = h.get("/api/v1/targets?state=bogus").await.data();
    assert_eq!(none["activeTargets"], json!([]));
    assert_eq!(none["droppedTargets"], json!([]));

    let pool = h.get("/api/v1/targets?scrapePool=node").await.data();
    assert_eq!(pool["activeTargets"].as_array().unwrap().len(), 1);
    assert_eq!(pool["droppedTargets"].as_array().unwrap().len(), 2);
    assert_eq!(pool["droppedTargetCounts"], json!({"node":2}));

    let pools = h.get("/api/v1/scrape_pools").await.data();
    assert_eq!(pools, json!({"scrapePools":["node","prometheus"]}));
}

#[tokio::test]
async fn metric_metadata_merged_over_targets() {
    let h = harness(Setup::default());
    let r = h.get("/api/v1/metadata").await;
    let d = r.data();
    assert_eq!(
        d["up"],
        json!([{"type":"gauge","help":"Target up.","unit":""}])
    );
    assert_eq!(
        d["http_requests_total"],
        json!([
            {"type":"counter","help":"Requests <all> & more.","unit":""},
            {"type":"counter","help":"HTTP requests.","unit":""}
        ])
    );
    assert_eq!(d.as_object().unwrap().len(), 4);
    assert!(
        r.body.contains(r#"Requests \u003call\u003e \u0026 more."#),
        "{}",
        r.body
    );

    let one = h.get("/api/v1/metadata?metric=node_load1").await.data();
    assert_eq!(
        one,
        json!({"node_load1":[{"type":"gauge","help":"1m load average.","unit":""}]})
    );
    let two = h.get("/api/v1/metadata?limit=2").await.data();
    let names: Vec<&str> = two
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(names, ["go_goroutines", "http_requests_total"]);
    assert_eq!(h.get("/api/v1/metadata?limit=0").await.data(), json!({}));
    let per = h.get("/api/v1/metadata?limit_per_metric=1").await.data();
    assert_eq!(per["http_requests_total"].as_array().unwrap().len(), 1);
    assert_eq!(
        h.get("/api/v1/metadata?metric=nope").await.data(),
        json!({})
    );

    h.get("/api/v1/metadata?limit=x")
        .await
        .error(400, "bad_data", "limit must be a number");
    h.get("/api/v1/metadata?limit_per_metric=1.5").await.error(
        400,
        "bad_data",
        "limit_per_metric must be a number",
    );
}

#[tokio::test]
async fn target_metadata_filters() {
    let h = harness(Setup::default());
    let all = h.get("/api/v1/targets/metadata").await.data();
    assert_eq!(all.as_array().unwrap().len(), 6);
    assert_eq!(
        all[0],
        json!({"target":{"instance":"localhost:9090","job":"prometheus"},
               "metric":"up","type":"gauge","help":"Target up.","unit":""})
    );

    let node = h
        .get("/api/v1/targets/metadata?match_target=%7Bjob%3D%22node%22%7D")
        .await
        .data();
    assert_eq!(node.as_array().unwrap().len(), 3);
    assert!(node
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["target"]["job"] == "node"));

    let m = h
        .get("/api/v1/targets/metadata?metric=http_requests_total")
        .await
        .data();
    assert_eq!(
        m,
        json!([
            {"target":{"instance":"localhost:9090","job":"prometheus"},
             "type":"counter","help":"Requests <all> & more.","unit":""},
            {"target":{"instance":"n1:9100","job":"node"},
             "type":"counter","help":"HTTP requests.","unit":""}
        ])
    );
    let lim = h
        .get("/api/v1/targets/metadata?metric=up&limit=1")
        .await
        .data();
    assert_eq!(lim.as_array().unwrap().len(), 1);
    // The limit counts entries but never splits a target.
    let lim = h.get("/api/v1/targets/metadata?limit=1").await.data();
    assert_eq!(lim.as_array().unwrap().len(), 3);

    h.get("/api/v1/targets/metadata?limit=ten").await.error(
        400,
        "bad_data",
        "limit must be a number",
    );
    let r = h
        .get("/api/v1/targets/metadata?match_target=%7Bjob%3D")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let e = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        e.starts_with("invalid parameter \"match_target\": 1:"),
        "{e}"
    );
}

#[tokio::test]
async fn rules_alerts_alertmanagers() {
    let h = harness(Setup::default());
    assert_eq!(h.get("/api/v1/rules").await.data(), json!({"groups":[]}));
    assert_eq!(
        h.get("/api/v1/rules?type=ALERT").await.data(),
        json!({"groups":[]})
    );
    assert_eq!(
        h.get("/api/v1/rules?type=record&exclude_alerts=true")
            .await
            .data(),
        json!({"groups":[]})
    );
    h.get("/api/v1/rules?type=foo").await.error(
        400,
        "bad_data",
        "invalid parameter \"type\": not supported value \"foo\"",
    );
    h.get("/api/v1/rules?exclude_alerts=maybe").await.error(
        400,
        "bad_data",
        "invalid parameter \"exclude_alerts\": error converting exclude_alerts: strconv.ParseBool: parsing \"maybe\": invalid syntax",
    );
    assert_eq!(h.get("/api/v1/alerts").await.data(), json!({"alerts":[]}));
    assert_eq!(
        h.get("/api/v1/alertmanagers").await.data(),
        json!({"activeAlertmanagers":[],"droppedAlertmanagers":[]})
    );
}

#[tokio::test]
async fn admin_disabled() {
    let h = harness(Setup {
        admin: false,
        ..Setup::default()
    });
    h.fill("up", 1, 0, 60_000);
    for path in ["delete_series?match[]=up", "clean_tombstones", "snapshot"] {
        for method in ["POST", "PUT"] {
            h.req(method, &format!("/api/v1/admin/tsdb/{path}"), None, false)
                .await
                .error(500, "unavailable", "admin APIs disabled");
        }
    }
    assert_eq!(h.count_samples(&name_is("up")), 4);
}

#[tokio::test]
async fn delete_series_removes_data() {
    let h = harness(Setup::default());
    h.fill("up", 2, 0, 10 * 60_000);
    h.fill("other", 1, 0, 10 * 60_000);

    let r = h.post("/api/v1/admin/tsdb/delete_series", "").await;
    r.error(400, "bad_data", "no match[] parameter provided");
    h.post("/api/v1/admin/tsdb/delete_series", "match[]=up&start=yesterday")
        .await
        .error(
            400,
            "bad_data",
            "invalid parameter \"start\": invalid time value for 'start': cannot parse \"yesterday\" to a valid timestamp",
        );
    h.post("/api/v1/admin/tsdb/delete_series", "match[]=up&end=x")
        .await
        .error(
            400,
            "bad_data",
            "invalid parameter \"end\": invalid time value for 'end': cannot parse \"x\" to a valid timestamp",
        );
    for bad in ["up%7B", "rate(up%5B5m%5D)", "up%20offset%205m"] {
        let r = h
            .post(
                "/api/v1/admin/tsdb/delete_series",
                &format!("match[]=other&match[]={bad}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        let e = r.json()["error"].as_str().unwrap().to_string();
        assert!(e.starts_with("invalid parameter \"match[]\": "), "{e}");
    }
    // Nothing was deleted by the failed calls, not even the valid selector.
    assert_eq!(h.count_samples(&name_is("other")), 40);
    // An empty selector is valid and selects nothing (as in Prometheus).
    h.post("/api/v1/admin/tsdb/delete_series", "match[]=%7B%7D")
        .await
        .text(204, "");
    assert_eq!(h.count_samples(&name_is("other")), 40);
    assert_eq!(h.count_samples(&name_is("up")), 80);
    let counted = |r: Resp| r.data()["result"].clone();
    let q = "/api/v1/query?query=count_over_time(other%5B20m%5D)&time=600";
    assert_eq!(
        counted(h.get(q).await),
        json!([{"metric":{"instance":"host-0","job":"node"},"value":[600,"40"]}])
    );
    h.get("/api/v1/admin/tsdb/delete_series?match[]=up")
        .await
        .text(405, "Method Not Allowed\n");

    // First two minutes of host-0 (query string and body are merged).
    let r = h
        .post(
            "/api/v1/admin/tsdb/delete_series?end=119.999",
            "match[]=up%7Binstance%3D%22host-0%22%7D&start=0",
        )
        .await;
    r.text(204, "");
    let host0 = vec![
        Matcher::equal("__name__", "up"),
        Matcher::equal("instance", "host-0"),
    ];
    assert_eq!(h.count_samples(&host0), 32);
    // All of `other`, by PUT and an RFC 3339 bound.
    h.req(
        "PUT",
        "/api/v1/admin/tsdb/delete_series?match[]=other&end=2100-01-01T00:00:00Z",
        None,
        false,
    )
    .await
    .text(204, "");
    assert_eq!(h.count_samples(&name_is("other")), 0);
    assert_eq!(h.count_samples(&name_is("up")), 72);
    // Queries no longer see the deleted data.
    assert_eq!(counted(h.get(q).await), json!([]));
    let q0 =
        "/api/v1/query?query=count_over_time(up%7Binstance%3D%22host-0%22%7D%5B10m%5D)&time=600";
    assert_eq!(counted(h.get(q0).await)[0]["value"], json!([600, "32"]));
}

#[tokio::test]
async fn snapshot_and_clean_tombstones() {
    let h = harness(Setup::default());
    h.fill("up", 2, 0, 7 * H);
    h.db.compact().unwrap();
    let blocks = h.db.blocks();
    assert!(!blocks.is_empty());

    let r = h.post("/api/v1/admin/tsdb/snapshot", "").await;
    let name = r.data()["name"].as_str().unwrap().to_string();
    let re = regex::Regex::new(r"^\d{8}T\d{6}Z-[0-9a-f]{16}$").unwrap();
    assert!(re.is_match(&name), "{name}");
    let snap = h.db.dir().join("snapshots").join(&name);
    let dirs = |p: &std::path::Path| {
        std::fs::read_dir(p)
            .unwrap()
            .flatten()
            .filter(|e| e.path().join("meta.json").exists())
            .count()
    };
    assert_eq!(dirs(&snap), blocks.len() + 1, "blocks and the head");
    let copy = Db::open(&snap, db_options()).unwrap();
    let q = copy.querier(0, i64::MAX).unwrap();
    let n: usize = q
        .select(&storage::querier::SelectHints::default(), &name_is("up"))
        .unwrap()
        .series
        .iter()
        .map(|s| s.iter().count())
        .sum();
    assert_eq!(n, h.count_samples(&name_is("up")));
    drop(q);
    drop(copy);

    let r = h
        .req(
            "PUT",
            "/api/v1/admin/tsdb/snapshot?skip_head=true",
            None,
            false,
        )
        .await;
    let name2 = r.data()["name"].as_str().unwrap().to_string();
    assert_ne!(name, name2);
    assert_eq!(
        dirs(&h.db.dir().join("snapshots").join(&name2)),
        blocks.len()
    );
    h.post("/api/v1/admin/tsdb/snapshot", "skip_head=maybe")
        .await
        .error(
            400,
            "bad_data",
            "invalid parameter \"skip_head\": unable to parse boolean: strconv.ParseBool: parsing \"maybe\": invalid syntax",
        );

    // Delete host-1 in the blocks, then clean: the blocks are rewritten.
    h.post(
        "/api/v1/admin/tsdb/delete_series",
        "match[]=up%7Binstance%3D%22host-1%22%7D&start=0&end=3600",
    )
    .await
    .text(204, "");
    let before = h.count_samples(&name_is("up"));
    h.post("/api/v1/admin/tsdb/clean_tombstones", "")
        .await
        .text(204, "");
    let after = h.db.blocks();
    assert_eq!(after.len(), blocks.len());
    assert_ne!(after[0].ulid, blocks[0].ulid);
    assert_eq!(
        blocks[0].stats.num_samples - after[0].stats.num_samples,
        (H / 15_000 + 1) as u64
    );
    assert!(!h
        .db
        .dir()
        .join(after[0].ulid.to_string())
        .join("tombstones")
        .exists());
    assert_eq!(h.count_samples(&name_is("up")), before);
    h.req("PUT", "/api/v1/admin/tsdb/clean_tombstones", None, false)
        .await
        .text(204, "");
}

#[tokio::test]
async fn health_and_readiness() {
    let h = harness(Setup {
        ready: false,
        ..Setup::default()
    });
    h.get("/-/healthy")
        .await
        .text(200, "Prometheus Server is Healthy.\n");
    h.req("HEAD", "/-/healthy", None, false).await.text(200, "");
    h.get("/-/ready").await.text(503, "Service Unavailable");
    h.req("HEAD", "/-/ready", None, false).await.text(503, "");
    // The API waits for readiness, except the WAL replay status.
    h.get("/api/v1/status/buildinfo")
        .await
        .text(503, "Service Unavailable");
    h.get("/api/v1/targets")
        .await
        .text(503, "Service Unavailable");
    h.post("/api/v1/query", "query=1")
        .await
        .text(503, "Service Unavailable");
    h.post("/api/v1/admin/tsdb/snapshot", "")
        .await
        .text(503, "Service Unavailable");
    h.get("/api/v1/status/walreplay").await.data();
    assert_eq!(h.get("/metrics").await.status, StatusCode::OK);
    h.get("/api/v1/nope")
        .await
        .text(404, "404 page not found\n");

    h.state.ready.store(true, Ordering::Release);
    h.get("/-/ready")
        .await
        .text(200, "Prometheus Server is Ready.\n");
    h.get("/api/v1/status/buildinfo").await.data();
    h.post("/api/v1/query", "query=1").await.data();
}

#[tokio::test]
async fn lifecycle_disabled() {
    let h = harness(Setup {
        lifecycle: false,
        ..Setup::default()
    });
    for path in ["/-/reload", "/-/quit"] {
        for method in ["POST", "PUT"] {
            h.req(method, path, None, false)
                .await
                .text(403, "Lifecycle API is not enabled.");
        }
        h.get(path)
            .await
            .text(405, "Only POST or PUT requests allowed");
    }
}

#[tokio::test]
async fn reload_success_and_failure() {
    let mut h = harness(Setup::default());
    let mut rx = h.reload_rx.take().unwrap();
    // A fake reload loop: succeeds, then fails, then drops the request
    // unanswered, then stops.
    let answers = tokio::spawn(async move {
        for outcome in [
            Some(Ok(())),
            Some(Err("parsing YAML file x.yml: bad key".to_string())),
            None,
        ] {
            let answer = rx.recv().await.unwrap();
            if let Some(o) = outcome {
                answer.send(o).unwrap();
            }
        }
    });
    h.post("/-/reload", "").await.text(200, "");
    h.req("PUT", "/-/reload", None, false).await.text(
        500,
        "failed to reload config: parsing YAML file x.yml: bad key\n",
    );
    h.post("/-/reload", "")
        .await
        .text(500, "failed to reload config: reload was abandoned\n");
    answers.await.unwrap();
    // With nothing handling reloads the request fails instead of hanging.
    h.post("/-/reload", "").await.text(
        500,
        "failed to reload config: the reload handler is not running\n",
    );
    h.get("/-/reload")
        .await
        .text(405, "Only POST or PUT requests allowed");
}

#[tokio::test]
async fn quit_once() {
    let mut h = harness(Setup::default());
    let mut rx = h.quit_rx.take().unwrap();
    h.post("/-/quit", "")
        .await
        .text(200, "Requesting termination... Goodbye!");
    assert_eq!(rx.try_recv(), Ok(()));
    h.req("PUT", "/-/quit", None, false)
        .await
        .text(200, "Termination already in progress.");
    assert!(rx.try_recv().is_err(), "only one quit request");
}

#[tokio::test]
async fn metrics_endpoint_and_request_instrumentation() {
    let h = harness(Setup::default());
    h.fill("up", 2, 0, 60_000);
    h.get("/api/v1/status/buildinfo").await.data();
    h.get("/api/v1/status/buildinfo").await.data();
    h.get("/api/v1/status/tsdb?limit=0").await;
    h.get("/no/such/path").await;
    h.get("/api/v1/label/job/values").await.data();
    h.get("/api/v1/label/instance/values").await.data();
    h.post("/api/v1/query", "query=up&time=30").await.data();
    let r = h.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = r.body;
    for line in [
        "prometheus_http_requests_total{handler=\"/api/v1/status/buildinfo\",code=\"200\"} 2\n",
        "prometheus_http_requests_total{handler=\"/api/v1/status/tsdb\",code=\"400\"} 1\n",
        "prometheus_http_request_duration_seconds_bucket{handler=\"/api/v1/status/buildinfo\",le=\"0.1\"} 2\n",
        "prometheus_http_request_duration_seconds_count{handler=\"/api/v1/status/tsdb\"} 1\n",
        // One label per route pattern, however many label names were asked.
        "prometheus_http_requests_total{handler=\"/api/v1/label/:name/values\",code=\"200\"} 2\n",
        "prometheus_http_requests_total{handler=\"/api/v1/query\",code=\"200\"} 1\n",
        "prometheus_tsdb_head_series 2\n",
        "prometheus_tsdb_head_samples_appended_total{type=\"float\"} 8\n",
        "# TYPE process_cpu_seconds_total counter\n",
        "prometheus_build_info{",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains("/no/such/path"));
    // The scrape of /metrics itself is counted once it has finished.
    let again = h.get("/metrics").await.body;
    assert!(again.contains("prometheus_http_requests_total{handler=\"/metrics\",code=\"200\"} 1\n"));
    // Labelled by route, never by raw URL.
    assert!(!again.contains("limit=0"));
}

#[tokio::test]
async fn get_only_endpoints_reject_post_with_plain_text() {
    let h = harness(Setup::default());
    for path in [
        "/api/v1/metadata",
        "/api/v1/status/config",
        "/api/v1/status/buildinfo",
        "/api/v1/status/tsdb",
        "/api/v1/targets",
        "/api/v1/targets/metadata",
        "/api/v1/rules",
        "/api/v1/alerts",
        "/api/v1/scrape_pools",
        "/-/healthy",
        "/metrics",
    ] {
        let r = h.post(path, "").await;
        r.text(405, "Method Not Allowed\n");
        assert!(r.headers.contains_key(header::ALLOW), "{path}");
    }
    h.get("/nothing/here")
        .await
        .text(404, "404 page not found\n");
}

#[tokio::test]
async fn cors_and_preflight() {
    let h = harness(Setup::default());
    let r = h.req("GET", "/api/v1/status/buildinfo", None, true).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    assert_eq!(
        r.headers["access-control-allow-methods"],
        "GET, POST, OPTIONS"
    );
    let plain = h.get("/api/v1/status/buildinfo").await;
    assert!(!plain.headers.contains_key("access-control-allow-origin"));
    let pre = h.req("OPTIONS", "/api/v1/query", None, true).await;
    assert_eq!(pre.status, StatusCode::NO_CONTENT);
    assert_eq!(
        pre.headers["access-control-allow-headers"],
        "Accept, Authorization, Content-Type, Origin"
    );
    let pre = h.req("OPTIONS", "/api/v1/status/tsdb", None, false).await;
    assert_eq!(pre.status, StatusCode::NO_CONTENT);
    // Not the API: no CORS.
    let r = h.req("GET", "/-/healthy", None, true).await;
    assert!(!r.headers.contains_key("access-control-allow-origin"));
}
