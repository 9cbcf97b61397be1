//! End to end: a real `ScrapeManager` scraping exporters served by axum on
//! 127.0.0.1 into a real database in a temporary directory. Intervals are
//! short (200ms) and every check polls with a deadline, so the tests are
//! quick without depending on exact timing.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use ferroprom::discovery::TargetGroup;
use ferroprom::metrics::Registry;
use ferroprom::scrape::status::{Health, ScrapeStatus};
use ferroprom::scrape::ScrapeManager;
use parking_lot::Mutex;
use storage::querier::Queryable;
use storage::{Db, Labels, Matcher};

/// What the exporter answers on one path.
#[derive(Clone)]
struct Reply {
    status: u16,
    body: Vec<u8>,
    content_type: &'static str,
    delay: Duration,
    /// Gzip the body when the client accepts it.
    gzip: bool,
    /// Required `Authorization` header value.
    auth: Option<String>,
    /// Answer in OpenMetrics only when the client asks for it.
    negotiate_openmetrics: Option<Vec<u8>>,
}

impl Reply {
    fn text(body: &str) -> Reply {
        Reply {
            status: 200,
            body: body.as_bytes().to_vec(),
            content_type: "text/plain; version=0.0.4",
            delay: Duration::ZERO,
            gzip: false,
            auth: None,
            negotiate_openmetrics: None,
        }
    }
}

#[derive(Clone, Default)]
struct Exporter {
    replies: Arc<Mutex<HashMap<String, Reply>>>,
    /// Request headers seen, per path.
    seen: Arc<Mutex<HashMap<String, HeaderMap>>>,
}

impl Exporter {
    fn set(&self, path: &str, r: Reply) {
        self.replies.lock().insert(path.to_string(), r);
    }

    fn headers(&self, path: &str) -> Option<HeaderMap> {
        self.seen.lock().get(path).cloned()
    }
}

async fn serve(State(ex): State<Exporter>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    ex.seen.lock().insert(path.clone(), headers.clone());
    let Some(r) = ex.replies.lock().get(&path).cloned() else {
        return Response::builder()
            .status(404)
            .body(Body::from("no such path"))
            .unwrap();
    };
    if !r.delay.is_zero() {
        tokio::time::sleep(r.delay).await;
    }
    if let Some(want) = &r.auth {
        let got = headers.get("authorization").and_then(|v| v.to_str().ok());
        if got != Some(want.as_str()) {
            return Response::builder()
                .status(401)
                .body(Body::from("unauthorized"))
                .unwrap();
        }
    }
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (mut body, ct) = match &r.negotiate_openmetrics {
        Some(om) if accept.starts_with("application/openmetrics-text") => (
            om.clone(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
        _ => (r.body.clone(), r.content_type),
    };
    let mut b = Response::builder()
        .status(StatusCode::from_u16(r.status).unwrap())
        .header("content-type", ct);
    let accepts_gzip = headers
        .get("accept-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    if r.gzip && accepts_gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&body).unwrap();
        body = enc.finish().unwrap();
        b = b.header("content-encoding", "gzip");
    }
    b.body(Body::from(body)).unwrap()
}

struct Env {
    _dir: tempfile::TempDir,
    db: Arc<Db>,
    mgr: Arc<ScrapeManager>,
    registry: Registry,
    ex: Exporter,
    addr: SocketAddr,
}

async fn env() -> Env {
    env_with(storage::wal::WalOptions::default()).await
}

async fn env_with(wal: storage::wal::WalOptions) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(
        Db::open(
            dir.path(),
            storage::Options {
                compaction_interval: None,
                wal,
                // The server's default `--storage.tsdb.future-sample-grace`.
                future_grace: Some(10 * 60 * 1000),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let registry = Registry::new();
    let mgr = ScrapeManager::new(Arc::clone(&db), &registry);
    let ex = Exporter::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(serve).with_state(ex.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Env {
        _dir: dir,
        db,
        mgr,
        registry,
        ex,
        addr,
    }
}

impl Env {
    fn configure(&self, yaml: &str) {
        let cfg = ferroprom::config::parse_str(yaml).unwrap();
        self.mgr.apply_config(&cfg).unwrap();
    }

    /// One group with one target per metrics path.
    fn targets(&self, job: &str, paths: &[&str]) {
        self.group(job, paths, false)
    }

    /// As `targets`, each target also labelled `path`, so their series
    /// (`up`, ...) stay apart.
    fn targets_apart(&self, job: &str, paths: &[&str]) {
        self.group(job, paths, true)
    }

    fn group(&self, job: &str, paths: &[&str], apart: bool) {
        let targets = paths
            .iter()
            .map(|p| {
                let mut t = BTreeMap::from([
                    ("__address__".to_string(), self.addr.to_string()),
                    ("__metrics_path__".to_string(), p.to_string()),
                ]);
                if apart {
                    t.insert("path".to_string(), p.to_string());
                }
                t
            })
            .collect();
        self.mgr
            .update_targets(
                job,
                vec![TargetGroup {
                    source: "test".into(),
                    targets,
                    labels: BTreeMap::new(),
                }],
            )
            .unwrap();
    }

    fn instance(&self) -> String {
        self.addr.to_string()
    }

    /// Every series matching `m` with its samples.
    fn select(&self, m: &[(&str, &str)]) -> Vec<(Labels, Vec<(i64, f64)>)> {
        let ms: Vec<Matcher> = m.iter().map(|(n, v)| Matcher::equal(*n, *v)).collect();
        let q = self.db.querier(i64::MIN, i64::MAX).unwrap();
        q.select(&storage::querier::SelectHints::default(), &ms)
            .unwrap()
            .series
            .into_iter()
            .map(|s| {
                let v = s.iter().collect();
                (s.labels, v)
            })
            .collect()
    }

    /// Samples of the one series matching `m` (empty when none).
    fn samples(&self, m: &[(&str, &str)]) -> Vec<(i64, f64)> {
        let mut all = self.select(m);
        assert!(all.len() <= 1, "{m:?} matches {} series", all.len());
        all.pop().map(|s| s.1).unwrap_or_default()
    }

    fn last(&self, m: &[(&str, &str)]) -> Option<f64> {
        self.samples(m).last().map(|s| s.1)
    }

    fn target_error(&self, path: &str) -> Option<String> {
        self.mgr
            .active_targets()
            .into_iter()
            .find(|t| t.scrape_url.ends_with(path))
            .map(|t| t.last_error)
    }
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The value of the self-metric line starting with `series` (name and
/// labels as rendered).
fn metric_value(r: &Registry, series: &str) -> f64 {
    let text = r.render();
    let line = text
        .lines()
        .find(|l| {
            l.strip_prefix(series)
                .is_some_and(|rest| rest.starts_with(' '))
        })
        .unwrap_or_else(|| panic!("{series} not in\n{text}"));
    line[series.len()..].trim().parse().unwrap()
}

fn is_stale(v: Option<f64>) -> bool {
    v.is_some_and(storage::is_stale_nan)
}

const JOB: &str = "
global: {scrape_interval: 200ms}
scrape_configs:
  - job_name: node
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_series_with_target_labels_and_reports() {
    let e = env().await;
    e.ex.set(
        "/metrics",
        Reply::text("# HELP a_total Things.\n# TYPE a_total counter\na_total 1\nb{x=\"y\"} 2\n"),
    );
    e.configure(JOB);
    e.targets("node", &["/metrics"]);
    let inst = e.instance();
    let up = [
        ("__name__", "up"),
        ("job", "node"),
        ("instance", inst.as_str()),
    ];
    eventually("up", || e.last(&up) == Some(1.0)).await;

    let a = e.select(&[("__name__", "a_total")]);
    assert_eq!(
        a[0].0,
        Labels::from_pairs([
            ("__name__", "a_total"),
            ("job", "node"),
            ("instance", inst.as_str())
        ])
    );
    assert_eq!(e.last(&[("__name__", "b"), ("x", "y")]), Some(2.0));
    for name in [
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        assert!(
            e.last(&[("__name__", name), ("job", "node")]).is_some(),
            "{name}"
        );
    }
    assert_eq!(e.last(&[("__name__", "scrape_samples_scraped")]), Some(2.0));

    // Health is reported just after the scrape's samples are committed, so
    // `up` can be visible a moment before the target's health changes.
    eventually("health", || e.mgr.active_targets()[0].health == Health::Up).await;
    let t = &e.mgr.active_targets()[0];
    assert_eq!(t.scrape_pool, "node");
    assert_eq!(t.scrape_url, format!("http://{inst}/metrics"));
    assert_eq!(
        (t.scrape_interval.as_str(), t.scrape_timeout.as_str()),
        ("200ms", "200ms")
    );
    assert!(t.last_scrape.is_some());
    let md = e.mgr.metadata();
    assert_eq!(md[0].1[0].metric, "a_total");
    assert_eq!(
        (md[0].1[0].kind.as_str(), md[0].1[0].help.as_str()),
        ("counter", "Things.")
    );

    let h = e.ex.headers("/metrics").unwrap();
    assert_eq!(h["accept"], ferroprom::exposition::ACCEPT_HEADER);
    assert_eq!(h["x-prometheus-scrape-timeout-seconds"], "0.2");
    assert!(h["user-agent"].to_str().unwrap().starts_with("ferroprom/"));

    // Successive scrapes are an interval apart, not faster.
    eventually("three scrapes", || e.samples(&up).len() >= 3).await;
    let s = e.samples(&up);
    let gap = s[2].0 - s[1].0;
    assert!(gap >= 100, "gap {gap}ms");
    assert_eq!(
        metric_value(
            &e.registry,
            "prometheus_target_scrape_pool_targets{scrape_job=\"node\"}"
        ),
        1.0
    );
    e.mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_targets_report_down_with_the_error() {
    let e = env().await;
    e.ex.set(
        "/500",
        Reply {
            status: 500,
            ..Reply::text("oops")
        },
    );
    e.ex.set("/bad", Reply::text("ok 1\nbroken{ 2\n"));
    e.ex.set(
        "/slow",
        Reply {
            delay: Duration::from_secs(3),
            ..Reply::text("late 1\n")
        },
    );
    e.configure(
        "
global: {scrape_interval: 200ms}
scrape_configs:
  - job_name: node
    scrape_timeout: 100ms
",
    );
    e.targets_apart("node", &["/500", "/bad", "/slow"]);
    eventually("three errors", || {
        ["/500", "/bad", "/slow"]
            .iter()
            .all(|p| e.target_error(p).is_some_and(|s| !s.is_empty()))
    })
    .await;
    assert_eq!(
        e.target_error("/500").unwrap(),
        "server returned HTTP status 500 Internal Server Error"
    );
    let bad = e.target_error("/bad").unwrap();
    assert!(bad.contains("line 2"), "{bad}");
    let slow = e.target_error("/slow").unwrap();
    assert_eq!(
        slow,
        format!(
            "Get \"http://{}/slow\": context deadline exceeded",
            e.instance()
        )
    );
    // A malformed payload stores none of its samples.
    assert!(e.select(&[("__name__", "ok")]).is_empty());
    assert!(e.select(&[("__name__", "late")]).is_empty());
    let ups = e.select(&[("__name__", "up")]);
    assert_eq!(ups.len(), 3);
    assert!(ups.iter().all(|(_, s)| s.iter().all(|x| x.1 == 0.0)));
    assert!(e
        .mgr
        .active_targets()
        .iter()
        .all(|t| t.health == Health::Down));
    e.mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staleness_for_vanished_series_and_removed_targets() {
    let e = env().await;
    e.ex.set("/metrics", Reply::text("a 1\nb 1\n"));
    e.configure(JOB);
    e.targets("node", &["/metrics"]);
    eventually("b", || e.last(&[("__name__", "b")]) == Some(1.0)).await;
    e.ex.set("/metrics", Reply::text("a 1\n"));
    eventually("b stale", || is_stale(e.last(&[("__name__", "b")]))).await;
    assert_eq!(e.last(&[("__name__", "a")]), Some(1.0));

    // The target goes away: after about two intervals its series, the
    // report series included, get staleness markers.
    e.mgr.update_targets("node", vec![]).unwrap();
    assert!(e.mgr.active_targets().is_empty());
    eventually("a stale", || is_stale(e.last(&[("__name__", "a")]))).await;
    eventually("up stale", || is_stale(e.last(&[("__name__", "up")]))).await;
    e.mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_scrape_marks_series_stale_then_recovers() {
    let e = env().await;
    e.ex.set("/metrics", Reply::text("a 1\n"));
    e.configure(JOB);
    e.targets("node", &["/metrics"]);
    eventually("a", || e.last(&[("__name__", "a")]) == Some(1.0)).await;
    e.ex.set(
        "/metrics",
        Reply {
            status: 503,
            ..Reply::text("")
        },
    );
    eventually("a stale", || is_stale(e.last(&[("__name__", "a")]))).await;
    eventually("up 0", || e.last(&[("__name__", "up")]) == Some(0.0)).await;
    e.ex.set("/metrics", Reply::text("a 2\n"));
    eventually("a back", || e.last(&[("__name__", "a")]) == Some(2.0)).await;
    e.mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_and_metric_relabeling() {
    let e = env().await;
    e.ex.set("/metrics", Reply::text("keep_me 1\ndrop_me 2\n"));
    e.ex.set("/skip", Reply::text("never 1\n"));
    e.configure(
        "
global: {scrape_interval: 200ms}
scrape_configs:
  - job_name: node
    relabel_configs:
      - {source_labels: [__metrics_path__], regex: /skip, action: drop}
      - {target_label: env, replacement: prod}
      - {source_labels: [__address__], target_label: instance, replacement: renamed}
    metric_relabel_configs:
      - {source_labels: [__name__], regex: drop_.*, action: drop}
      - {source_labels: [__name__], target_label: seen, replacement: y1}
",
    );
    e.targets("node", &["/metrics", "/skip"]);
    eventually("keep_me", || e.last(&[("__name__", "keep_me")]).is_some()).await;
    let k = e.select(&[("__name__", "keep_me")]);
    assert_eq!(
        k[0].0,
        Labels::from_pairs([
            ("__name__", "keep_me"),
            ("env", "prod"),
            ("instance", "renamed"),
            ("job", "node"),
            ("seen", "y1"),
        ])
    );
    assert!(e.select(&[("__name__", "drop_me")]).is_empty());
    assert_eq!(
        e.last(&[("__name__", "scrape_samples_post_metric_relabeling")]),
        Some(1.0)
    );
    // The report series carry target labels only.
    assert_eq!(
        e.select(&[("__name__", "up")])[0].0,
        Labels::from_pairs([
            ("__name__", "up"),
            ("env", "prod"),
            ("instance", "renamed"),
            ("job", "node")
        ])
    );
    let dropped = e.mgr.dropped_targets();
    assert_eq!(dropped.len(), 1);
    assert_eq!(
        dropped[0].discovered_labels.get("__metrics_path__"),
        "/skip"
    );
    assert_eq!(e.mgr.active_targets().len(), 1);
    e.mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honor_labels_and_timestamps() {
    let e = env().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let old = now - 60_000;
    e.ex.set(
        "/metrics",
        Reply::text(&format!("m{{job=\"theirs\",instance=\"x\"}} 1 {old}\n")),
    );
    e.configure(
        "
global: {scrape_interval: 200ms}
scrape_configs:
  - job_name: plain
  - job_name: honor
    honor_labels: true
    honor_timestamps: false
",
    );
    e.targets("plain", &["/metrics"]);
    e.targets("honor", &["/metrics"]);
    let inst = e.instance();
    eventually("plain", || {
        e.last(&[("__name__", "m"), ("job", "plain")]).is_some()
    })
    .await;
    eventually("honor", || {
        e.last(&[("__name__", "m"), ("job", "theirs")]).is_some()
    })
    .await;
    let plain = e.select(&[("__name__", "m"), ("job", "plain")]);
    assert_eq!(
        plain[0].0,
        Labels::from_pairs([
            ("__name__", "m"),
            ("exported_instance", "x"),
            ("exported_job", "theirs"),
            ("instance", inst.as_str()),
            ("job", "plain"),
        ])
    );
    assert_eq!(plain[0].1, vec![(old, 1.0)], "timestamp honoured");
    let honor = e.select(&[("__name__", "m"), ("job", "theirs")]);
    assert_eq!(
        honor[0].0,
        Labels::from_pairs([("__name__", "m"), ("instance", "x"), ("job", "theirs")])
    );
    assert!(honor[0].1.iter().all(|s| s.0 >= now), "scrape time used");
    e.mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_fail_the_scrape() {
    let e = env().await;
    e.ex.set("/samples", Reply::text("a 1\nb 1\nc 1\n"));
    e.ex.set("/labels", Reply::text("l{a=\"1\",b=\"2\"} 1\n"));
    e.ex.set("/body", Reply::text("a_long_enough_body 1\n"));
    e.configure(
        "
global: {scrape_interval: 200ms}
scrape_configs:
  - job_name: samples
    sample_limit: 2
  - job_name: labels
    label_limit: 4
  - job_name: body
    body_size_limit: 10B
",
    );
    e.targets("samples", &["/samples"]);
    e.targets("labels", &["/labels"]);
    e.targets("body", &["/body"]);
    let err = |p: &str| e.target_error(p).filter(|s| !s.is_empty());
    eventually("errors", || {
        err("/samples").is_some() && err("/labels").is_some() && err("/body").is_some()
    })
    .await;
    assert_eq!(err("/samples").unwrap(), "sample limit exceeded");
    assert_eq!(
        err("/labels").unwrap(),
        "label_limit exceeded (metric: l, number of labels: 5, limit: 4)"
    );
    assert_eq!(err("/body").unwrap(), "body size limit exceeded");
    for m in ["a", "l", "a_long_enough_body"] {
        assert!(e.select(&[("__name__", m)]).is_empty(), "{m} stored");
    }
    assert_eq!(
        e.last(&[("__name__", "scrape_samples_scraped"), ("job", "samples")]),
        Some(3.0)
    );
    let exceeded = metric_value(
        &e.registry,
        "prometheus_target_scrapes_exceeded_sample_limit_total",
    );
    assert!(exceeded >= 1.0, "{exceeded}");
    e.mgr.stop().await;
}

/// A sample timestamped far ahead of the clock fails the scrape, as a
/// sample limit does: nothing of it is stored, the target is down with the
/// reason, the rejection is counted, and the head is not moved into the
/// future, so the target recovers as soon as it sends sane timestamps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn far_future_timestamps_fail_the_scrape() {
    let e = env().await;
    let year_9999 = 253_402_300_799_000_i64;
    let body = format!("ok 1\nahead{{a=\"1\"}} 2 {year_9999}\n");
    e.configure(JOB);
    e.ex.set("/metrics", Reply::text(&body));
    e.targets("node", &["/metrics"]);
    let err = || e.target_error("/metrics").filter(|s| !s.is_empty());
    eventually("the error", || err().is_some()).await;
    assert_eq!(
        err().unwrap(),
        "1 sample(s) rejected: timestamp too far in the future (first series: ahead{a=\"1\"})"
    );
    assert!(e
        .mgr
        .active_targets()
        .iter()
        .all(|t| t.health == Health::Down));
    assert!(e.select(&[("__name__", "ok")]).is_empty());
    assert!(e.select(&[("__name__", "ahead")]).is_empty());
    assert_eq!(e.last(&[("__name__", "up")]), Some(0.0));
    let oob = metric_value(
        &e.registry,
        "prometheus_target_scrapes_sample_out_of_bounds_total",
    );
    assert!(oob >= 1.0, "{oob}");

    e.ex.set("/metrics", Reply::text("ok 1\nahead{a=\"1\"} 2\n"));
    eventually("recovery", || e.last(&[("__name__", "up")]) == Some(1.0)).await;
    assert_eq!(e.target_error("/metrics").unwrap(), "");
    assert_eq!(e.last(&[("__name__", "ahead")]), Some(2.0));
    e.mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_openmetrics() {
    let e = env().await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let secs = now_ms / 1000 - 10;
    e.ex.set(
        "/gz",
        Reply {
            gzip: true,
            ..Reply::text("gz_metric 7\n")
        },
    );
    e.ex.set(
        "/om",
        Reply {
            negotiate_openmetrics: Some(
                format!("# TYPE om_seconds counter\n# UNIT om_seconds seconds\nom_seconds_total 3 {secs}.5\n# EOF\n")
                    .into_bytes(),
            ),
            ..Reply::text("text_fallback 1\n")
        },
    );
    e.ex.set(
        "/om-broken",
        Reply {
            content_type: "application/openmetrics-text; version=1.0.0",
            ..Reply::text("no_eof 1\n")
        },
    );
    e.configure(JOB);
    e.targets_apart("node", &["/gz", "/om", "/om-broken"]);
    eventually("gz", || e.last(&[("__name__", "gz_metric")]) == Some(7.0)).await;
    let h = e.ex.headers("/gz").unwrap();
    assert!(h["accept-encoding"].to_str().unwrap().contains("gzip"));
    let om_total = [("__name__", "om_seconds_total")];
    eventually("om", || e.last(&om_total) == Some(3.0)).await;
    assert_eq!(e.samples(&om_total)[0].0, secs * 1000 + 500, "seconds → ms");
    assert!(e.select(&[("__name__", "text_fallback")]).is_empty());
    let md = e.mgr.metadata();
    let om = md
        .iter()
        .flat_map(|(_, m)| m.iter())
        .find(|m| m.metric == "om_seconds")
        .unwrap();
    assert_eq!((om.kind.as_str(), om.unit.as_str()), ("counter", "seconds"));
    eventually("om-broken error", || {
        e.target_error("/om-broken").is_some_and(|s| !s.is_empty())
    })
    .await;
    assert!(e.select(&[("__name__", "no_eof")]).is_empty());
    e.mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_bearer_credentials() {
    let e = env().await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken\n").unwrap();
    e.ex.set(
        "/basic",
        Reply {
            // base64("user:pa55")
            auth: Some("Basic dXNlcjpwYTU1".into()),
            ..Reply::text("basic_ok 1\n")
        },
    );
    e.ex.set(
        "/bearer",
        Reply {
            auth: Some("Bearer t0ken".into()),
            ..Reply::text("bearer_ok 1\n")
        },
    );
    e.configure(&format!(
        "
global: {{scrape_interval: 200ms}}
scrape_configs:
  - job_name: basic
    basic_auth: {{username: user, password: pa55}}
  - job_name: bearer
    authorization: {{credentials_file: {}}}
  - job_name: wrong
    basic_auth: {{username: user, password: nope}}
",
        token.display()
    ));
    e.targets("basic", &["/basic"]);
    e.targets("bearer", &["/bearer"]);
    e.targets("wrong", &["/basic"]);
    eventually("basic", || e.last(&[("__name__", "basic_ok")]).is_some()).await;
    eventually("bearer", || e.last(&[("__name__", "bearer_ok")]).is_some()).await;
    eventually("wrong", || {
        e.last(&[("__name__", "up"), ("job", "wrong")]) == Some(0.0)
    })
    .await;
    // Credentials files are read at every scrape: a rotated token is used.
    std::fs::write(&token, "rotated").unwrap();
    eventually("bearer down", || {
        e.last(&[("__name__", "up"), ("job", "bearer")]) == Some(0.0)
    })
    .await;
    e.mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_limit_fails_every_target_of_the_pool() {
    let e = env().await;
    e.ex.set("/a", Reply::text("a 1\n"));
    e.ex.set("/b", Reply::text("b 1\n"));
    e.configure(
        "
global: {scrape_interval: 200ms}
scrape_configs:
  - job_name: node
    target_limit: 1
",
    );
    e.targets("node", &["/a", "/b"]);
    let want = "target_limit exceeded (number of targets: 2, limit: 1)";
    eventually("both fail", || {
        e.target_error("/a").as_deref() == Some(want)
            && e.target_error("/b").as_deref() == Some(want)
    })
    .await;
    assert!(e.select(&[("__name__", "a")]).is_empty());
    // Back under the limit: the remaining target scrapes again.
    e.targets("node", &["/a"]);
    eventually("a", || e.last(&[("__name__", "a")]) == Some(1.0)).await;
    e.mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_unchanged_targets_and_stops_removed_jobs() {
    let e = env().await;
    e.ex.set("/metrics", Reply::text("a 1\n"));
    e.configure(JOB);
    e.targets("node", &["/metrics"]);
    eventually("a", || e.last(&[("__name__", "a")]) == Some(1.0)).await;
    let before = e.mgr.active_targets()[0].last_scrape;
    // A changed limit restarts the loops with their cache: no series is
    // reported as added again.
    e.configure(
        "
global: {scrape_interval: 200ms}
scrape_configs:
  - job_name: node
    sample_limit: 100
",
    );
    eventually("scraped after reload", || {
        e.mgr.active_targets()[0].last_scrape > before
    })
    .await;
    let added = e.samples(&[("__name__", "scrape_series_added")]);
    assert_eq!(added[0].1, 1.0);
    assert!(added[1..].iter().all(|s| s.1 == 0.0), "{added:?}");
    // The job disappears from the config: its series go stale.
    e.configure("global: {scrape_interval: 200ms}\n");
    assert!(e.mgr.active_targets().is_empty());
    eventually("a stale", || is_stale(e.last(&[("__name__", "a")]))).await;
    e.mgr.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_sent_before_the_config_are_used() {
    let e = env().await;
    e.ex.set("/metrics", Reply::text("early 1\n"));
    e.targets("node", &["/metrics"]);
    e.configure(JOB);
    eventually("early", || e.last(&[("__name__", "early")]) == Some(1.0)).await;
    e.mgr.stop().await;
    // Shutdown writes no staleness markers.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!is_stale(e.last(&[("__name__", "early")])));
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Load check for the record, not for CI: 1,000 targets of 1,000 series
/// each at a 1s interval for 20s against in-process exporters (the exporter
/// shares the machine's cores); prints how many scrapes ran versus were
/// due, the ingest rate and scrape durations. Run with
/// `cargo test --release --test scrape -- --ignored --nocapture load`;
/// `LOAD_TARGETS`, `LOAD_SERIES`, `LOAD_INTERVAL_S`, `LOAD_RUN_S` and
/// `LOAD_WAL_SYNC=always` change the shape.
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn load_1000_targets_of_1000_series() {
    let targets_n = env_u64("LOAD_TARGETS", 1000) as usize;
    let series_n = env_u64("LOAD_SERIES", 1000) as usize;
    let interval_s = env_u64("LOAD_INTERVAL_S", 1);
    let run_s = env_u64("LOAD_RUN_S", 20);
    let sync = match std::env::var("LOAD_WAL_SYNC").as_deref() {
        Ok("always") => storage::wal::SyncPolicy::Always,
        _ => storage::wal::SyncPolicy::Interval(Duration::from_secs(1)),
    };
    println!("WAL sync policy: {sync:?} (LOAD_WAL_SYNC=always for fsync per commit)");
    let e = env_with(storage::wal::WalOptions {
        sync,
        ..Default::default()
    })
    .await;
    let mut paths = Vec::new();
    for t in 0..targets_n {
        let mut body = String::with_capacity(series_n * 60);
        body.push_str("# TYPE load_metric gauge\n");
        for s in 0..series_n {
            body.push_str(&format!(
                "load_metric{{target=\"{t}\",series=\"{s}\",kind=\"k{}\"}} {}\n",
                s % 7,
                s as f64 * 1.5
            ));
        }
        let p = format!("/t/{t}");
        e.ex.set(&p, Reply::text(&body));
        paths.push(p);
    }
    e.configure(&format!(
        "global: {{scrape_interval: {interval_s}s}}\nscrape_configs:\n  - job_name: load\n"
    ));
    let refs: Vec<&str> = paths.iter().map(|s| s.as_str()).collect();
    let started = Instant::now();
    e.targets_apart("load", &refs);
    tokio::time::sleep(Duration::from_secs(run_s)).await;
    let elapsed = started.elapsed().as_secs_f64();
    e.mgr.stop().await;

    let ups = e.select(&[("__name__", "up"), ("job", "load")]);
    let scrapes: usize = ups.iter().map(|(_, s)| s.len()).sum();
    let healthy: usize = ups
        .iter()
        .map(|(_, s)| s.iter().filter(|x| x.1 == 1.0).count())
        .sum();
    let durations = e.select(&[("__name__", "scrape_duration_seconds"), ("job", "load")]);
    let mut d: Vec<f64> = durations
        .iter()
        .flat_map(|(_, s)| s.iter().map(|x| x.1))
        .collect();
    d.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        d.get(((d.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    // Each target's first scrape waits for its offset (up to one
    // interval), so about run/interval - 1/2 scrapes per target are due.
    let due = targets_n as f64 * (elapsed / interval_s as f64 - 0.5);
    println!(
        "load: {targets_n} targets x {series_n} series, interval {interval_s}s, ran {elapsed:.1}s\n\
         targets scraped at least once: {}\n\
         scrapes: {scrapes} done ({healthy} healthy) of ~{due:.0} due ({:.1}%)\n\
         samples ingested: {:.0}/s\n\
         scrape_duration_seconds p50 {:.3} p90 {:.3} p99 {:.3} max {:.3}\n\
         head series: {}",
        ups.len(),
        100.0 * scrapes as f64 / due,
        healthy as f64 * series_n as f64 / elapsed,
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0),
        e.db.stats().head_series,
    );
    assert!(healthy > 0, "no scrape succeeded");
}
