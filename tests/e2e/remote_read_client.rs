//! `remote_read:` end to end: ferroprom B queries its own data merged with
//! what ferroprom A (or a real Prometheus 2.42) serves at `/api/v1/read`.
//! Data goes in through each server's remote-write receiver.

use crate::common;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prost::Message;
use serde_json::Value;

use common::{free_port, Server};
use ferroprom::remote::proto::{Label, Sample, TimeSeries, WriteRequest};

/// Scrape interval of the pushed data (ms).
const STEP: i64 = 15_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A base time a little in the past, aligned to the step, so every sample
/// lies well inside each receiver's accepted range.
fn base() -> i64 {
    let t = now_ms() - 40 * 60_000;
    t - t % STEP
}

fn series(labels: &[(&str, &str)], samples: impl IntoIterator<Item = (i64, f64)>) -> TimeSeries {
    let mut labels: Vec<Label> = labels
        .iter()
        .map(|(n, v)| Label {
            name: n.to_string(),
            value: v.to_string(),
        })
        .collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    TimeSeries {
        labels,
        samples: samples
            .into_iter()
            .map(|(timestamp, value)| Sample { value, timestamp })
            .collect(),
        ..Default::default()
    }
}

/// Posts a remote-write request as Prometheus's sender does; 2xx expected.
fn push(client: &reqwest::blocking::Client, base_url: &str, ts: Vec<TimeSeries>) {
    let req = WriteRequest {
        timeseries: ts,
        metadata: vec![],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let r = client
        .post(format!("{base_url}/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .unwrap();
    let status = r.status();
    assert!(
        status.is_success(),
        "write: {status}: {}",
        r.text().unwrap()
    );
}

/// A GET on a Prometheus-style JSON API: the whole answer, asserting
/// success.
fn api(client: &reqwest::blocking::Client, url: &str, params: &[(&str, String)]) -> Value {
    let r = client.get(url).query(params).send().unwrap();
    let status = r.status();
    let body = r.text().unwrap();
    assert_eq!(status, 200, "{url} {params:?}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{body}");
    v
}

fn instant(client: &reqwest::blocking::Client, base_url: &str, q: &str, t: i64) -> Value {
    api(
        client,
        &format!("{base_url}/api/v1/query"),
        &[("query", q.to_string()), ("time", secs(t))],
    )
}

fn range(
    client: &reqwest::blocking::Client,
    base_url: &str,
    q: &str,
    start: i64,
    end: i64,
    step: i64,
) -> Value {
    api(
        client,
        &format!("{base_url}/api/v1/query_range"),
        &[
            ("query", q.to_string()),
            ("start", secs(start)),
            ("end", secs(end)),
            ("step", secs(step)),
        ],
    )
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn warnings(v: &Value) -> Vec<String> {
    v["warnings"]
        .as_array()
        .map(|a| a.iter().map(|w| w.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// `metric` labels → values (instant: one value; range: every point) of a
/// query answer, for comparing answers independent of order.
fn by_series(v: &Value) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut out = BTreeMap::new();
    for s in v["data"]["result"].as_array().unwrap() {
        let key = s["metric"].to_string();
        let points: Vec<Value> = match s.get("values") {
            Some(vs) => vs.as_array().unwrap().clone(),
            None => vec![s["value"].clone()],
        };
        let pts = points
            .iter()
            .map(|p| {
                (
                    p[0].as_f64().unwrap(),
                    p[1].as_str().unwrap().parse::<f64>().unwrap(),
                )
            })
            .collect();
        assert!(out.insert(key, pts).is_none(), "series twice in {v}");
    }
    out
}

fn assert_same(q: &str, want: &Value, got: &Value) {
    let (w, g) = (by_series(want), by_series(got));
    assert_eq!(
        w.keys().collect::<Vec<_>>(),
        g.keys().collect::<Vec<_>>(),
        "{q}: series differ"
    );
    for (k, wp) in &w {
        let gp = &g[k];
        assert_eq!(wp.len(), gp.len(), "{q} {k}: point counts differ");
        for (a, b) in wp.iter().zip(gp) {
            assert_eq!(a.0, b.0, "{q} {k}: timestamps differ");
            let close = a.1 == b.1 || (a.1 - b.1).abs() <= 1e-9 * a.1.abs().max(b.1.abs());
            assert!(close, "{q} {k} at {}: want {} got {}", a.0, a.1, b.1);
        }
    }
}

fn remote_read_config(url: &str, extra: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1h\n{extra}remote_read:\n  - url: {url}\n    read_recent: true\n    remote_timeout: 10s\n"
    )
}

/// A: `rr_gauge{job="a"}` over 30 min, and `rr_only_a`; B: the second
/// half of the same series (same values) and `rr_only_b`. B's queries see
/// all of it, each sample once; with A gone, B answers from its own data
/// with a warning.
#[test]
fn queries_merge_local_and_remote_series() {
    let a = Server::start(
        Some("global: {scrape_interval: 1h}\n"),
        &["--web.enable-remote-write-receiver"],
    );
    let t0 = base();
    let n = 120i64;
    let value = |i: i64| (i as f64 * 0.37).sin() * 100.0 + i as f64;
    let gauge = |from: i64| {
        series(
            &[("__name__", "rr_gauge"), ("job", "a")],
            (from..n).map(|i| (t0 + i * STEP, value(i))),
        )
    };
    push(
        &a.client,
        &a.url(""),
        vec![
            gauge(0),
            series(
                &[("__name__", "rr_only_a")],
                (0..n).map(|i| (t0 + i * STEP, 1.0)),
            ),
        ],
    );
    let b = Server::start(
        Some(&remote_read_config(&a.url("/api/v1/read"), "")),
        &["--web.enable-remote-write-receiver"],
    );
    push(
        &b.client,
        &b.url(""),
        vec![
            gauge(n / 2),
            series(
                &[("__name__", "rr_only_b")],
                (0..n).map(|i| (t0 + i * STEP, 2.0)),
            ),
        ],
    );
    let end = t0 + (n - 1) * STEP;

    // Both halves of the gauge: a range over all of it equals A's answer.
    for q in ["rr_gauge", "count_over_time(rr_gauge[10m])", "rr_gauge * 2"] {
        let want = range(&a.client, &a.url(""), q, t0, end, STEP);
        let got = range(&b.client, &b.url(""), q, t0, end, STEP);
        assert_same(q, &want, &got);
        assert!(warnings(&got).is_empty(), "{got}");
    }
    // Counting samples shows no duplicates where the two overlap.
    let q = "count_over_time(rr_gauge[1h])";
    let got = instant(&b.client, &b.url(""), q, end);
    assert_eq!(
        by_series(&got).values().next().unwrap()[0].1,
        n as f64,
        "{got}"
    );

    // Series from one side only appear too, labels untouched.
    let got = instant(&b.client, &b.url(""), "{__name__=~\"rr_.*\"}", end);
    let names: Vec<String> = by_series(&got).into_keys().collect();
    assert_eq!(
        names,
        [
            r#"{"__name__":"rr_gauge","job":"a"}"#,
            r#"{"__name__":"rr_only_a"}"#,
            r#"{"__name__":"rr_only_b"}"#,
        ]
    );
    // An instant query early in the range is answered from A's half only.
    let early = t0 + 10 * STEP;
    let got = instant(&b.client, &b.url(""), "rr_gauge", early);
    assert_eq!(by_series(&got).values().next().unwrap()[0].1, value(10));

    // Labels APIs stay local, as Prometheus's remote querier has none.
    let names = api(&b.client, &b.url("/api/v1/label/__name__/values"), &[]);
    assert!(!names["data"].to_string().contains("rr_only_a"), "{names}");

    // Requests are counted per endpoint and status code.
    let (_, metrics) = b.get("/metrics", &[]);
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("prometheus_remote_storage_read_queries_total{")
                && l.contains("code=\"200\"")
        })
        .unwrap_or_else(|| panic!("no read query counter in\n{metrics}"));
    assert!(
        line.contains(&format!("url=\"{}\"", a.url("/api/v1/read"))),
        "{line}"
    );
    let n_reads: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n_reads >= 5.0, "{line}");
    assert!(
        metrics.contains("prometheus_remote_storage_remote_read_queries{")
            && metrics.contains("prometheus_remote_storage_read_request_duration_seconds_count{"),
        "{metrics}"
    );

    // A goes away: B still answers with its own data, plus a warning.
    drop(a);
    let got = range(&b.client, &b.url(""), "rr_gauge", t0, end, STEP);
    let pts = by_series(&got).into_values().next().unwrap();
    assert_eq!(pts.len() as i64, n - n / 2);
    let w = warnings(&got);
    assert_eq!(w.len(), 1, "{got}");
    assert!(
        w[0].starts_with("remote_read: error sending request"),
        "{w:?}"
    );
    let got = instant(&b.client, &b.url(""), "rr_only_b", end);
    assert_eq!(by_series(&got).len(), 1);
    assert_eq!(warnings(&got).len(), 1);
}

/// External labels: B asks only for series carrying its external labels
/// and strips them, so A's series (served with A's external label) line up
/// with B's local ones. A reload changes what B asks for.
#[test]
fn external_labels_are_matched_and_stripped_and_reload_applies() {
    let a = Server::start(
        Some("global:\n  scrape_interval: 1h\n  external_labels: {region: eu}\n"),
        &["--web.enable-remote-write-receiver"],
    );
    let t0 = base();
    push(
        &a.client,
        &a.url(""),
        vec![series(
            &[("__name__", "rr_ext"), ("job", "x")],
            (0..40).map(|i| (t0 + i * STEP, i as f64)),
        )],
    );
    let read_url = a.url("/api/v1/read");
    let config = |ext: &str, more: &str| {
        format!(
            "global:\n  scrape_interval: 1h\n  external_labels: {{region: {ext}}}\nremote_read:\n  - url: {read_url}\n    read_recent: true\n{more}"
        )
    };
    let b = Server::start(
        Some(&config("eu", "")),
        &[
            "--web.enable-remote-write-receiver",
            "--web.enable-lifecycle",
        ],
    );
    push(
        &b.client,
        &b.url(""),
        vec![series(
            &[("__name__", "rr_ext"), ("job", "x")],
            (20..60).map(|i| (t0 + i * STEP, i as f64)),
        )],
    );
    let end = t0 + 59 * STEP;
    let count = |b: &Server| {
        let v = instant(&b.client, &b.url(""), "count_over_time(rr_ext[1h])", end);
        assert!(warnings(&v).is_empty(), "{v}");
        by_series(&v)
    };
    let got = count(&b);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        [r#"{"job":"x"}"#],
        "region stripped, one series"
    );
    assert_eq!(got.values().next().unwrap()[0].1, 60.0);

    let reload = |b: &Server, text: String| {
        std::fs::write(b.config_path(), text).unwrap();
        let (code, body) = b.post("/-/reload", &[]);
        assert_eq!(code, 200, "{body}");
    };
    // An endpoint whose client cannot be built fails the reload; the old
    // endpoints keep serving.
    std::fs::write(
        b.config_path(),
        config("us", "    tls_config: {ca_file: missing-ca.pem}\n"),
    )
    .unwrap();
    let (code, body) = b.post("/-/reload", &[]);
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("missing-ca.pem"), "{body}");
    assert_eq!(count(&b).values().next().unwrap()[0].1, 60.0);
    // Another region: A has no such series, B sees its own only.
    reload(&b, config("us", ""));
    assert_eq!(count(&b).values().next().unwrap()[0].1, 40.0);
    // Not filtering: A's series keep their region and stay separate.
    reload(&b, config("us", "    filter_external_labels: false\n"));
    let got = count(&b);
    let want: BTreeMap<String, Vec<(f64, f64)>> = [
        (r#"{"job":"x","region":"eu"}"#.to_string(), 40.0),
        (r#"{"job":"x"}"#.to_string(), 40.0),
    ]
    .into_iter()
    .map(|(k, v)| (k, vec![((end / 1000) as f64, v)]))
    .collect();
    assert_eq!(got, want);
    // A required matcher the query lacks: A is not asked.
    reload(&b, config("eu", "    required_matchers: {job: y}\n"));
    assert_eq!(count(&b).values().next().unwrap()[0].1, 40.0);
}

/// A real Prometheus, killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts `/usr/bin/prometheus` on loopback with its remote-write
    /// receiver, or `None` (with a message) when it is not installed and
    /// `CI` is unset.
    fn start() -> Option<Prometheus> {
        let bin = std::path::Path::new("/usr/bin/prometheus");
        if !bin.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but {} is missing",
                bin.display()
            );
            eprintln!("skipping: {} is not installed", bin.display());
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, "global:\n  scrape_interval: 1h\n").unwrap();
        let port = free_port();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start prometheus");
        let mut p = Prometheus {
            child,
            port,
            _dir: dir,
        };
        p.wait_ready();
        Some(p)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&mut self) {
        let client = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(e) = self.child.stderr.as_mut() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("prometheus exited with {status}:\n{err}");
            }
            if let Ok(r) = client.get(format!("{}/-/ready", self.url())).send() {
                if r.status().is_success() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus not ready within 60s");
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ferroprom reading from a real Prometheus (which answers with streamed
/// XOR chunks) returns what Prometheus's own query API returns.
#[test]
fn reading_from_prometheus_matches_its_own_answers() {
    let Some(prom) = Prometheus::start() else {
        return;
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let t0 = base();
    let n = 160i64;
    let mut data = Vec::new();
    for job in ["api", "db"] {
        for inst in ["1", "2", "3"] {
            let k = inst.parse::<f64>().unwrap() + if job == "db" { 10.0 } else { 0.0 };
            // A counter with a reset, a gauge with irregular values and a
            // gap.
            data.push(series(
                &[
                    ("__name__", "rr_requests_total"),
                    ("job", job),
                    ("instance", inst),
                ],
                (0..n).map(|i| {
                    let c = if i < 90 { i * 7 } else { (i - 90) * 5 };
                    (t0 + i * STEP, c as f64 * k)
                }),
            ));
            data.push(series(
                &[
                    ("__name__", "rr_temperature"),
                    ("job", job),
                    ("instance", inst),
                ],
                (0..n)
                    .filter(|i| !(50..70).contains(i))
                    .map(|i| (t0 + i * STEP, (i as f64 / 7.0).cos() * k + 0.1 * i as f64)),
            ));
        }
    }
    push(&client, &prom.url(), data);
    let b = Server::start(
        Some(&remote_read_config(
            &format!("{}/api/v1/read", prom.url()),
            "",
        )),
        &[],
    );
    // Off the sample grid: Prometheus 2.42's range windows include their
    // start, ferroprom's (like 3.x) do not; no window edge may hit a sample.
    let (start, end) = (t0 + 7_000, t0 + (n - 1) * STEP);
    let mid = t0 + 100 * STEP + 7_000;
    for q in [
        "rr_temperature",
        "rate(rr_requests_total[5m])",
        "sum by (job) (increase(rr_requests_total[10m]))",
        "max_over_time(rr_temperature[3m])",
        "avg(rr_temperature) by (instance)",
        "resets(rr_requests_total[1h])",
    ] {
        let want = range(&client, &prom.url(), q, start, end, 60_000);
        let got = range(&b.client, &b.url(""), q, start, end, 60_000);
        assert!(
            !by_series(&want).is_empty(),
            "{q}: Prometheus returned nothing: {want}"
        );
        assert_same(q, &want, &got);
        assert!(warnings(&got).is_empty(), "{got}");
        let want = instant(&client, &prom.url(), q, mid);
        let got = instant(&b.client, &b.url(""), q, mid);
        assert_same(q, &want, &got);
    }
    // The series endpoint reads through remote read too, and B sees the
    // label sets Prometheus has (B itself holds none).
    for m in ["{__name__=~\"rr_.*\"}", "rr_temperature{job=\"db\"}"] {
        let params = [
            ("match[]", m.to_string()),
            ("start", secs(start)),
            ("end", secs(end)),
        ];
        let want = api(&client, &format!("{}/api/v1/series", prom.url()), &params);
        let got = api(&b.client, &b.url("/api/v1/series"), &params);
        assert!(!label_sets(&want).is_empty(), "{want}");
        assert_eq!(label_sets(&want), label_sets(&got), "{m}");
        assert!(warnings(&got).is_empty(), "{got}");
    }
}

/// What the fake endpoint saw of one query.
#[derive(Clone, Debug)]
struct SeenQuery {
    func: String,
    start: i64,
    end: i64,
}

#[derive(Default)]
struct FakeState {
    /// Answer 500 instead of data.
    fail: std::sync::atomic::AtomicBool,
    seen: std::sync::Mutex<Vec<SeenQuery>>,
    /// Series answered to every query (samples response).
    answer: Vec<TimeSeries>,
}

/// A remote-read endpoint on 127.0.0.1 answering every query with fixed
/// series in a samples response (as Prometheus 2.42's server does), and
/// recording the queries' hints.
struct FakeRemote {
    port: u16,
    state: std::sync::Arc<FakeState>,
    _rt: tokio::runtime::Runtime,
}

async fn fake_read(
    axum::extract::State(st): axum::extract::State<std::sync::Arc<FakeState>>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use ferroprom::remote::proto::{QueryResult, ReadRequest, ReadResponse};
    let Ok(raw) = snap::raw::Decoder::new().decompress_vec(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Ok(req) = ReadRequest::decode(&raw[..]) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    for q in &req.queries {
        st.seen.lock().unwrap().push(SeenQuery {
            func: q.hints.as_ref().map(|h| h.func.clone()).unwrap_or_default(),
            start: q.start_timestamp_ms,
            end: q.end_timestamp_ms,
        });
    }
    if st.fail.load(std::sync::atomic::Ordering::Relaxed) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "broken on purpose").into_response();
    }
    let resp = ReadResponse {
        results: req
            .queries
            .iter()
            .map(|_| QueryResult {
                timeseries: st.answer.clone(),
            })
            .collect(),
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&resp.encode_to_vec())
        .unwrap();
    (
        [
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "snappy"),
        ],
        body,
    )
        .into_response()
}

impl FakeRemote {
    fn start(answer: Vec<TimeSeries>) -> FakeRemote {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let state = std::sync::Arc::new(FakeState {
            answer,
            ..Default::default()
        });
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .route("/read", axum::routing::post(fake_read))
            .with_state(std::sync::Arc::clone(&state));
        rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeRemote {
            port,
            state,
            _rt: rt,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/read", self.port)
    }

    fn seen(&self) -> Vec<SeenQuery> {
        self.state.seen.lock().unwrap().clone()
    }
}

/// The label sets of a `/api/v1/series` answer, as JSON strings.
fn label_sets(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    out.sort();
    out
}

/// `/api/v1/series` selects through the fanout storage with the `series`
/// hint: remote series appear (label sets without samples included, equal
/// ones once), `read_recent: false` skips the endpoint for recent ranges,
/// and a failing endpoint becomes a warning. Label names and values stay
/// local with Prometheus 2.42's "not implemented" warning.
#[test]
fn series_endpoint_reads_through_remote_read() {
    let t0 = base();
    let remote = FakeRemote::start(vec![
        // What Prometheus answers a series lookup with: no samples.
        series(&[("__name__", "rr_remote_only"), ("side", "remote")], []),
        series(&[("__name__", "rr_shared"), ("job", "s")], [(t0, 1.0)]),
    ]);
    let config = |read_recent: bool| {
        format!(
            "global:\n  scrape_interval: 1h\nremote_read:\n  - url: {}\n    read_recent: {read_recent}\n",
            remote.url()
        )
    };
    let b = Server::start(
        Some(&config(true)),
        &[
            "--web.enable-remote-write-receiver",
            "--web.enable-lifecycle",
        ],
    );
    push(
        &b.client,
        &b.url(""),
        vec![
            series(
                &[("__name__", "rr_shared"), ("job", "s")],
                [(t0, 1.0), (t0 + 10 * STEP, 1.0)],
            ),
            series(
                &[("__name__", "rr_local"), ("side", "local")],
                [(t0, 2.0), (t0 + 10 * STEP, 2.0)],
            ),
        ],
    );
    let series_url = b.url("/api/v1/series");
    let selector = || ("match[]", "{__name__=~\"rr_.*\"}".to_string());

    let got = api(&b.client, &series_url, &[selector()]);
    assert_eq!(
        label_sets(&got),
        [
            r#"{"__name__":"rr_local","side":"local"}"#,
            r#"{"__name__":"rr_remote_only","side":"remote"}"#,
            r#"{"__name__":"rr_shared","job":"s"}"#,
        ],
        "{got}"
    );
    assert!(warnings(&got).is_empty(), "{got}");
    let seen = remote.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].func, "series");

    // Label lookups: local answers only, and Prometheus's warning.
    let names = api(&b.client, &b.url("/api/v1/labels"), &[]);
    assert_eq!(
        names["data"],
        serde_json::json!(["__name__", "job", "side"])
    );
    // Prometheus 2.42 says just this, once per endpoint.
    assert_eq!(warnings(&names), ["not implemented"]);
    let values = api(&b.client, &b.url("/api/v1/label/side/values"), &[]);
    assert_eq!(values["data"], serde_json::json!(["local"]));
    assert_eq!(warnings(&values), ["not implemented"]);
    assert_eq!(remote.seen().len(), 1, "label lookups went remote");

    // Without read_recent: a range after the oldest local sample does not
    // go remote (no warning either); one reaching before it does, cut at
    // the oldest local sample.
    std::fs::write(b.config_path(), config(false)).unwrap();
    let (code, body) = b.post("/-/reload", &[]);
    assert_eq!(code, 200, "{body}");
    let recent = [selector(), ("start", secs(t0 + 1000))];
    let got = api(&b.client, &series_url, &recent);
    assert_eq!(label_sets(&got).len(), 2, "{got}");
    let names = api(
        &b.client,
        &b.url("/api/v1/labels"),
        &[("start", secs(t0 + 1000))],
    );
    assert!(warnings(&names).is_empty(), "{names}");
    assert_eq!(remote.seen().len(), 1);
    let got = api(
        &b.client,
        &series_url,
        &[selector(), ("start", secs(t0 - 60_000))],
    );
    assert_eq!(label_sets(&got).len(), 3, "{got}");
    let seen = remote.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!((seen[1].start, seen[1].end), (t0 - 60_000, t0));

    // A failing endpoint: local series, and the failure as a warning.
    remote
        .state
        .fail
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let got = api(&b.client, &series_url, &[selector()]);
    assert_eq!(label_sets(&got).len(), 2, "{got}");
    let w = warnings(&got);
    assert_eq!(w.len(), 1, "{got}");
    assert!(
        w[0].starts_with("remote_read: ") && w[0].contains("500"),
        "{w:?}"
    );

    // Two endpoints: Prometheus lists the label lookup warning twice.
    std::fs::write(
        b.config_path(),
        format!(
            "{}  - url: {}?second\n    read_recent: true\n",
            config(true),
            remote.url()
        ),
    )
    .unwrap();
    let (code, body) = b.post("/-/reload", &[]);
    assert_eq!(code, 200, "{body}");
    let names = api(&b.client, &b.url("/api/v1/labels"), &[]);
    assert_eq!(warnings(&names), ["not implemented", "not implemented"]);
}
