//! `/federate`: through the real router over a real database, and end to
//! end, with one ferroprom scraping another's `/federate`.

use crate::common;
use crate::common::api_state::api_state;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use storage::wal::{SyncPolicy, WalOptions};
use storage::{Db, Labels, Options};
use tower::ServiceExt;

use ferroprom::api;

use common::exporter::Exporter;
use common::Server;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct Harness {
    _dir: tempfile::TempDir,
    db: Arc<Db>,
    app: Router,
}

fn harness(config: &str) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(
        Db::open(
            dir.path(),
            Options {
                compaction_interval: None,
                wal: WalOptions {
                    segment_size: 64 * 1024,
                    sync: SyncPolicy::Never,
                    ..WalOptions::default()
                },
                ..Options::default()
            },
        )
        .unwrap(),
    );
    let state = Arc::new(api_state(
        Arc::clone(&db),
        ferroprom::config::parse_str(config).unwrap(),
    ));
    let app = api::router(state);
    Harness { _dir: dir, db, app }
}

async fn get(app: &Router, query: &str) -> (StatusCode, String, String) {
    let r = app
        .clone()
        .oneshot(
            Request::get(format!("/federate?{query}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, ct, String::from_utf8(body.to_vec()).unwrap())
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn latest_samples_grouped_with_external_labels() {
    let h = harness("global:\n  external_labels:\n    region: eu\n    zone: z1\n");
    let now = now_ms();
    let mut app = h.db.appender();
    let l = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs.iter().copied());
    let a1 = l(&[("__name__", "up"), ("job", "a"), ("instance", "h:1")]);
    let a2 = l(&[("__name__", "up"), ("job", "b"), ("zone", "own")]);
    let rate = l(&[("__name__", "http_requests_total"), ("job", "a")]);
    let old = l(&[("__name__", "up"), ("job", "old")]);
    let stale = l(&[("__name__", "up"), ("job", "gone")]);
    let weird = l(&[("__name__", "up"), ("job", "w\"q\\\n")]);
    for (t, v) in [(now - 60_000, 0.0), (now - 30_000, 1.0)] {
        app.append(&a1, t, v).unwrap();
        app.append(&a2, t, v * 2.0).unwrap();
        app.append(&rate, t, 1234567.0 + v).unwrap();
    }
    // Outside the 5m lookback: left out.
    app.append(&old, now - 400_000, 7.0).unwrap();
    // Ends in a staleness marker: left out.
    app.append(&stale, now - 60_000, 1.0).unwrap();
    app.append(&stale, now - 30_000, storage::stale_nan())
        .unwrap();
    app.append(&weird, now - 1000, f64::INFINITY).unwrap();
    app.commit().unwrap();

    let (status, ct, body) = get(
        &h.app,
        &format!(
            "match[]={}&match[]={}",
            enc("{__name__=~\"up|http_requests_total\"}"),
            enc("up{job=\"a\"}")
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    let t = now - 30_000;
    let want = format!(
        "# TYPE http_requests_total untyped\n\
         http_requests_total{{job=\"a\",instance=\"\",region=\"eu\",zone=\"z1\"}} 1.234568e+06 {t}\n\
         # TYPE up untyped\n\
         up{{instance=\"h:1\",job=\"a\",region=\"eu\",zone=\"z1\"}} 1 {t}\n\
         up{{job=\"b\",zone=\"own\",instance=\"\",region=\"eu\"}} 2 {t}\n\
         up{{job=\"w\\\"q\\\\\\n\",instance=\"\",region=\"eu\",zone=\"z1\"}} +Inf {}\n",
        now - 1000
    );
    assert_eq!(body, want);

    // The answer parses back as the text format, to the same series.
    let mut p = ferroprom::exposition::Parser::new(body.as_bytes(), Default::default());
    let mut n = 0;
    while let Some(e) = p.next().unwrap() {
        if let ferroprom::exposition::Entry::Sample { timestamp, .. } = e {
            assert!(timestamp.is_some());
            n += 1;
        }
    }
    assert_eq!(n, 4);
}

#[tokio::test]
async fn no_match_is_empty_and_bad_match_is_400() {
    let h = harness("");
    let mut app = h.db.appender();
    app.append(&Labels::from_pairs([("__name__", "up")]), now_ms(), 1.0)
        .unwrap();
    app.commit().unwrap();

    let (status, _, body) = get(&h.app, "").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));

    let (status, ct, body) = get(&h.app, &format!("match[]={}", enc("up{"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(ct.starts_with("text/plain"), "{ct}");
    assert!(body.ends_with('\n') && body.len() > 1, "{body:?}");

    let (status, _, body) = get(&h.app, &format!("match[]={}", enc("{a=~\".*\"}"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("non-empty matcher"), "{body}");

    // Without external labels only instance="" is added.
    let (status, _, body) = get(&h.app, &format!("match[]={}", enc("up"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.starts_with("# TYPE up untyped\nup{instance=\"\"} 1 "),
        "{body}"
    );
}

/// Ferroprom A scrapes an exporter; ferroprom B federates A's series with
/// `honor_labels: true`, and gets them with A's external label.
#[test]
fn second_server_federates_from_first() {
    let exporter = Exporter::start(
        "# TYPE fed_gauge gauge\nfed_gauge{kind=\"x\"} 42\nfed_gauge{kind=\"y\"} 7\nother_metric 1\n",
    );
    let a = Server::start(
        Some(&format!(
            "global:\n  scrape_interval: 1s\n  external_labels:\n    origin: a\n\
             scrape_configs:\n  - job_name: exp\n    static_configs:\n      - targets: ['{}']\n",
            exporter.addr()
        )),
        &[],
    );
    a.wait_for("fed_gauge", 30, |r| r.len() == 2);
    let b = Server::start(
        Some(&format!(
            "global:\n  scrape_interval: 1s\n\
             scrape_configs:\n  - job_name: federate\n    honor_labels: true\n    \
             metrics_path: /federate\n    params:\n      'match[]':\n        - '{{job=\"exp\",__name__=~\"fed_.*\"}}'\n    \
             static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            a.port
        )),
        &[],
    );
    let r = b.wait_for("fed_gauge", 30, |r| r.len() == 2);
    for s in &r {
        let m = &s["metric"];
        // honor_labels keeps the origin's job and its external label.
        assert_eq!(m["job"], "exp", "{s}");
        assert_eq!(m["origin"], "a", "{s}");
        assert_eq!(m["instance"], exporter.addr(), "{s}");
    }
    let x: Vec<_> = r.iter().filter(|s| s["metric"]["kind"] == "x").collect();
    assert_eq!(x[0]["value"][1], "42");
    // Not selected by match[]: not federated.
    std::thread::sleep(Duration::from_secs(2));
    assert!(b.query("other_metric").is_empty());
    assert_eq!(b.query("up{job=\"federate\"}")[0]["value"][1], "1");
}
