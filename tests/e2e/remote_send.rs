//! The remote-write sender end to end: the real binary scrapes a test
//! exporter and ships to a loopback receiver in this test (or to a real
//! Prometheus / VictoriaMetrics); what arrives is compared with what
//! ferroprom itself answers for the same series.

use crate::common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

use common::exporter::Exporter;
use common::{free_port, Server};

/// A series as a canonical string: `name=value` pairs sorted, comma-joined.
type Key = String;
/// Samples by timestamp, values as bits (NaNs compare exactly).
type Samples = BTreeMap<i64, u64>;

fn key<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Key {
    let mut v: Vec<_> = pairs.into_iter().collect();
    v.sort();
    v.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Default)]
struct RecvState {
    /// Status to answer with (204 = accept).
    status: AtomicU16,
    requests: AtomicU64,
    bad_headers: Mutex<Vec<String>>,
    data: Mutex<BTreeMap<Key, Samples>>,
    /// Same series and timestamp received twice with different values.
    conflicts: AtomicU64,
    /// Requests still to be answered 429 before `status` applies again.
    throttle: AtomicU64,
    /// The `Retry-After` those 429s carry, if any.
    retry_after: Mutex<Option<String>>,
    /// When each request came and the status it got.
    log: Mutex<Vec<(Instant, u16)>>,
}

/// A remote-write receiver on 127.0.0.1 that decodes with ferroprom's
/// decoder and records every sample it accepts.
struct Receiver {
    port: u16,
    state: Arc<RecvState>,
    rt: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn receive(
    axum::extract::State(st): axum::extract::State<Arc<RecvState>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let throttled = st
        .throttle
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if throttled {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        record(&st, &headers, &body)
    };
    st.log
        .lock()
        .unwrap()
        .push((Instant::now(), status.as_u16()));
    match st.retry_after.lock().unwrap().clone() {
        Some(after) if throttled => (status, [("retry-after", after)]).into_response(),
        _ => status.into_response(),
    }
}

/// Checks and stores one accepted request; the status to answer.
fn record(st: &RecvState, headers: &HeaderMap, body: &Bytes) -> StatusCode {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    for (name, want) in [
        ("content-encoding", "snappy"),
        ("content-type", "application/x-protobuf"),
        ("x-prometheus-remote-write-version", "0.1.0"),
    ] {
        if h(name) != want {
            st.bad_headers
                .lock()
                .unwrap()
                .push(format!("{name}: {:?}", h(name)));
        }
    }
    if !h("user-agent").starts_with("ferroprom/") {
        st.bad_headers
            .lock()
            .unwrap()
            .push(format!("user-agent: {:?}", h("user-agent")));
    }
    let status = st.status.load(Ordering::Relaxed);
    if status != 204 {
        return StatusCode::from_u16(status).unwrap();
    }
    let req = match ferroprom::remote::receive::write::decompress(body)
        .map(|raw| <ferroprom::remote::proto::WriteRequest as prost::Message>::decode(&raw[..]))
    {
        Ok(Ok(r)) => r,
        _ => return StatusCode::BAD_REQUEST,
    };
    let mut data = st.data.lock().unwrap();
    for ts in &req.timeseries {
        let k = key(ts
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str())));
        let series = data.entry(k).or_default();
        for s in &ts.samples {
            if let Some(old) = series.insert(s.timestamp, s.value.to_bits()) {
                if old != s.value.to_bits() {
                    st.conflicts.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    StatusCode::NO_CONTENT
}

impl Receiver {
    fn start() -> Receiver {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(RecvState {
            status: AtomicU16::new(204),
            ..Default::default()
        });
        let mut r = Receiver {
            port: free_port(),
            state,
            rt,
            stop: None,
        };
        r.up();
        r
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/receive", self.port)
    }

    /// Starts serving (again) on the same port.
    fn up(&mut self) {
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let listener = self.rt.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(l) => break l,
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("rebinding receiver: {e}"),
                }
            }
        });
        let app = axum::Router::new()
            .route("/receive", post(receive))
            .with_state(Arc::clone(&self.state));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        self.rt.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        self.stop = Some(tx);
    }

    /// Stops listening: connections are refused until [`up`](Self::up).
    fn down(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        // Wait until the port is really closed.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "receiver did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn set_status(&self, s: u16) {
        self.state.status.store(s, Ordering::Relaxed);
    }

    /// Answers the next `n` requests 429, with `Retry-After: after` if set.
    fn throttle(&self, n: u64, after: Option<&str>) {
        *self.state.retry_after.lock().unwrap() = after.map(str::to_string);
        self.state.throttle.store(n, Ordering::SeqCst);
    }

    /// Requests so far: when they came and what they got.
    fn log(&self) -> Vec<(Instant, u16)> {
        self.state.log.lock().unwrap().clone()
    }

    fn data(&self) -> BTreeMap<Key, Samples> {
        self.state.data.lock().unwrap().clone()
    }

    fn total(&self) -> usize {
        self.state
            .data
            .lock()
            .unwrap()
            .values()
            .map(|s| s.len())
            .sum()
    }

    fn check_headers(&self) {
        let bad = self.state.bad_headers.lock().unwrap();
        assert!(
            bad.is_empty(),
            "bad headers: {:?}",
            &bad[..bad.len().min(5)]
        );
        assert_eq!(self.state.conflicts.load(Ordering::Relaxed), 0);
    }
}

const EXPORTER_BODY: &str = "# TYPE keep_me_total counter\nkeep_me_total 1\n# TYPE drop_me gauge\ndrop_me 2\n# TYPE other gauge\nother{a=\"1\"} 3\nother{a=\"2\"} 4\n";

/// A config scraping `targets` every second and writing to `url`.
fn config(targets: &[String], url: Option<&str>) -> String {
    let mut c =
        String::from("global:\n  scrape_interval: 1s\n  external_labels: {dc: eu, job: loses}\n");
    if let Some(url) = url {
        c.push_str(&format!(
            "remote_write:
  - url: {url}
    name: test
    write_relabel_configs:
      - {{source_labels: [__name__], regex: drop_me, action: drop}}
    queue_config:
      batch_send_deadline: 100ms
      min_backoff: 10ms
      max_backoff: 200ms
      capacity: 200
      max_samples_per_send: 50
"
        ));
    }
    c.push_str("scrape_configs:\n");
    if !targets.is_empty() {
        let t: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        c.push_str(&format!(
            "  - job_name: exp\n    static_configs:\n      - targets: [{}]\n",
            t.join(", ")
        ));
    }
    c
}

fn reload(s: &Server, cfg: &str) {
    std::fs::write(s.config_path(), cfg).unwrap();
    let (code, body) = s.post("/-/reload", &[]);
    assert_eq!(code, 200, "reload: {body}");
}

fn parse_value(v: &Value) -> f64 {
    match v.as_str().unwrap() {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap(),
    }
}

/// Every raw sample ferroprom (or Prometheus) holds for `selector` over
/// the last hour, keyed with `extra` labels added where the series lacks
/// them (external labels, which lose to the series' own).
fn query_all(base: &str, selector: &str, extra: &[(&str, &str)]) -> BTreeMap<Key, Samples> {
    let client = reqwest::blocking::Client::new();
    let q = format!("{selector}[1h]");
    let body = client
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", q.as_str())])
        .send()
        .unwrap()
        .text()
        .unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{v}");
    let mut out = BTreeMap::new();
    for s in v["data"]["result"].as_array().unwrap() {
        let metric = s["metric"].as_object().unwrap();
        let mut pairs: Vec<(&str, &str)> = metric
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        for (n, v) in extra {
            if !metric.contains_key(*n) {
                pairs.push((n, v));
            }
        }
        let samples: Samples = s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                (t, parse_value(&p[1]).to_bits())
            })
            .collect();
        out.insert(key(pairs), samples);
    }
    out
}

/// Without staleness markers (which range queries do not return).
fn without_stale(mut d: BTreeMap<Key, Samples>) -> BTreeMap<Key, Samples> {
    for s in d.values_mut() {
        s.retain(|_, v| *v != storage::STALE_NAN_BITS);
    }
    d.retain(|_, s| !s.is_empty());
    d
}

/// What ferroprom holds that the queue should have sent: everything but
/// `drop_me`, with the external labels.
fn expected(s: &Server) -> BTreeMap<Key, Samples> {
    let mut d = query_all(
        &s.url(""),
        "{__name__=~\".+\"}",
        &[("dc", "eu"), ("job", "loses")],
    );
    d.retain(|k, _| !k.contains("__name__=drop_me"));
    d
}

/// Polls until `f` holds, or panics after `secs` with `what`.
fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops scraping, then waits until the receiver holds exactly what
/// ferroprom holds.
fn assert_receiver_matches(s: &Server, r: &Receiver, cfg_without_targets: &str) {
    reload(s, cfg_without_targets);
    let mut last = (BTreeMap::new(), BTreeMap::new());
    let ok = (0..150).any(|_| {
        std::thread::sleep(Duration::from_millis(200));
        let want = expected(s);
        let got = without_stale(r.data());
        let same = want == got && !want.is_empty();
        last = (want, got);
        same
    });
    if !ok {
        let (want, got) = last;
        let missing: Vec<_> = want
            .iter()
            .filter(|(k, v)| got.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.len(), got.get(k).map(|g| g.len())))
            .take(5)
            .collect();
        let extra: Vec<_> = got
            .keys()
            .filter(|k| !want.contains_key(*k))
            .take(5)
            .collect();
        panic!(
            "receiver differs from ferroprom: {} vs {} series; mismatched (series, want, got): {missing:?}; extra: {extra:?}",
            want.len(),
            got.len()
        );
    }
    r.check_headers();
}

/// A labeled sample of ferroprom's own /metrics.
fn metric(s: &Server, name: &str) -> f64 {
    let (_, body) = s.get("/metrics", &[]);
    body.lines()
        .filter(|l| l.starts_with(name) && l.contains("remote_name=\"test\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn sends_what_was_scraped_relabeled_with_external_labels() {
    let r = Receiver::start();
    let exp = Exporter::start(EXPORTER_BODY);
    let url = r.url();
    let s = Server::start(
        Some(&config(&[exp.addr()], Some(&url))),
        &["--web.enable-lifecycle"],
    );
    wait_until(30, "samples to arrive", || r.total() >= 20);

    // A receiver failing with 500 for a while: retried, nothing lost.
    r.set_status(500);
    wait_until(20, "retries", || {
        metric(&s, "prometheus_remote_storage_samples_retried_total") > 0.0
    });
    std::thread::sleep(Duration::from_secs(2));
    r.set_status(204);
    assert_receiver_matches(&s, &r, &config(&[], Some(&url)));

    let data = r.data();
    let up = data
        .keys()
        .find(|k| k.contains("__name__=keep_me_total"))
        .expect("keep_me_total sent");
    // External labels added; the series' own job label wins.
    assert!(up.contains("dc=eu") && up.contains("job=exp"), "{up}");
    assert!(!data.keys().any(|k| k.contains("drop_me")));
    assert!(metric(&s, "prometheus_remote_storage_samples_dropped_total") > 0.0);
    assert!(metric(&s, "prometheus_remote_storage_samples_total") > 0.0);
    assert!(metric(&s, "prometheus_remote_storage_bytes_total") > 0.0);
    assert_eq!(metric(&s, "prometheus_remote_storage_shards{"), 1.0);
    assert_eq!(
        metric(&s, "prometheus_remote_storage_samples_failed_total"),
        0.0
    );
    let sent_ts = metric(
        &s,
        "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - sent_ts).abs() < 60.0,
        "highest sent {sent_ts}, now {now}"
    );

    // A receiver refusing with 400: batches dropped and counted as failed.
    r.set_status(400);
    reload(&s, &config(&[exp.addr()], Some(&url)));
    wait_until(30, "failed samples", || {
        metric(&s, "prometheus_remote_storage_samples_failed_total") > 0.0
    });
    r.set_status(204);
    let (_, status, err) = s.stop();
    assert!(status.success(), "{err}");
    assert!(err.contains("non-recoverable"), "{err}");
}

#[test]
fn restart_and_outage_lose_nothing() {
    let mut r = Receiver::start();
    let exp = Exporter::start(EXPORTER_BODY);
    let url = r.url();
    let cfg = config(&[exp.addr()], Some(&url));
    let s = Server::start(Some(&cfg), &["--web.enable-lifecycle"]);
    wait_until(30, "samples to arrive", || r.total() >= 10);

    // Receiver down; ferroprom keeps scraping, then stops gracefully.
    r.down();
    std::thread::sleep(Duration::from_secs(3));
    let (dir, status, err) = s.stop();
    assert!(status.success(), "{err}");
    let progress = std::fs::read_dir(dir.path().join("data/remote_write"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("progress");
    assert!(std::fs::read_to_string(&progress)
        .unwrap()
        .starts_with("ferroprom remote-write progress v1\n"),);

    // Up again while the receiver is still down, then killed hard.
    let mut s = Server::start_in(dir, Some(&cfg), &["--web.enable-lifecycle"]);
    std::thread::sleep(Duration::from_secs(3));
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let dir = std::mem::replace(&mut s.dir, tempfile::tempdir().unwrap());
    drop(s);

    // Back with the receiver up: everything written while it was down,
    // across both restarts, arrives.
    let s = Server::start_in(dir, Some(&cfg), &["--web.enable-lifecycle"]);
    r.up();
    assert_receiver_matches(&s, &r, &config(&[], Some(&url)));
}

#[test]
fn reload_adds_and_removes_queues() {
    let r = Receiver::start();
    let exp = Exporter::start(EXPORTER_BODY);
    let url = r.url();
    let s = Server::start(
        Some(&config(&[exp.addr()], None)),
        &["--web.enable-lifecycle"],
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(r.total(), 0);
    reload(&s, &config(&[exp.addr()], Some(&url)));
    wait_until(30, "samples after adding the queue", || r.total() >= 10);
    // Only samples newer than the queue: nothing from before the reload.
    let (_, body) = s.get("/metrics", &[]);
    assert!(
        body.contains("prometheus_remote_storage_shards{remote_name=\"test\""),
        "{body}"
    );
    reload(&s, &config(&[exp.addr()], None));
    std::thread::sleep(Duration::from_millis(500));
    let after = r.total();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(r.total(), after, "a removed queue kept sending");
    r.check_headers();
    // Its metrics are gone from /metrics (Prometheus unregisters them);
    // the families' unlabeled gauge stays.
    let (_, body) = s.get("/metrics", &[]);
    let left: Vec<&str> = body
        .lines()
        .filter(|l| l.contains("remote_name=\"test\""))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(body.contains("prometheus_remote_storage_highest_timestamp_in_seconds "));
    // Added again, it starts from zero.
    reload(&s, &config(&[exp.addr()], Some(&url)));
    wait_until(30, "samples after re-adding the queue", || {
        metric(&s, "prometheus_remote_storage_samples_total") > 0.0
    });
    assert!(
        metric(&s, "prometheus_remote_storage_samples_total") < r.total() as f64,
        "counter did not restart"
    );
}

/// `config` with `retry_on_http_429` set to `retry` and no metadata
/// sending, so with its single shard every request is a sample batch and
/// the next one is sent only when the previous one is done.
fn config_429(targets: &[String], url: &str, retry: bool) -> String {
    config(targets, Some(url)).replace(
        "    queue_config:\n",
        &format!("    metadata_config: {{send: false}}\n    queue_config:\n      retry_on_http_429: {retry}\n"),
    )
}

/// The gaps between each 429 among the requests after `from` and the
/// request that followed it.
fn gaps_after_429(r: &Receiver, from: usize) -> Vec<Duration> {
    let log = r.log();
    log[from..]
        .windows(2)
        .filter(|w| w[0].1 == 429)
        .map(|w| w[1].0 - w[0].0)
        .collect()
}

/// Waits until `n` requests after `from` got 429 and one after them got
/// through.
fn wait_throttled(r: &Receiver, from: usize, n: usize) {
    wait_until(
        60,
        "the throttled requests and a success after them",
        || {
            let log = r.log();
            let after = &log[from..];
            let last_429 = after.iter().rposition(|e| e.1 == 429);
            after.iter().filter(|e| e.1 == 429).count() == n
                && last_429.is_some_and(|i| after[i + 1..].iter().any(|e| e.1 == 204))
        },
    );
}

#[test]
fn rate_limited_requests_wait_for_retry_after_and_lose_nothing() {
    let r = Receiver::start();
    let exp = Exporter::start(EXPORTER_BODY);
    let url = r.url();
    let s = Server::start(
        Some(&config_429(&[exp.addr()], &url, true)),
        &["--web.enable-lifecycle"],
    );
    wait_until(30, "samples to arrive", || r.total() >= 10);
    assert_eq!(
        metric(&s, "prometheus_remote_storage_samples_retried_total"),
        0.0
    );

    // 429 with `Retry-After: 1`, three times: each retry a second later.
    let from = r.log().len();
    r.throttle(3, Some("1"));
    wait_throttled(&r, from, 3);
    let gaps = gaps_after_429(&r, from);
    assert_eq!(gaps.len(), 3, "{gaps:?}");
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(950)),
        "retried before Retry-After: {gaps:?}"
    );
    let retried = metric(&s, "prometheus_remote_storage_samples_retried_total");
    assert!(retried > 0.0);

    // 429 without the header: the exponential backoff from min_backoff
    // (10ms, doubling up to 200ms), far below a second.
    let from = r.log().len();
    r.throttle(3, None);
    wait_throttled(&r, from, 3);
    let gaps = gaps_after_429(&r, from);
    assert_eq!(gaps.len(), 3, "{gaps:?}");
    assert!(
        gaps.iter().all(|g| *g < Duration::from_millis(900)),
        "backoff too long: {gaps:?}"
    );
    assert!(metric(&s, "prometheus_remote_storage_samples_retried_total") > retried);
    assert_eq!(
        metric(&s, "prometheus_remote_storage_samples_failed_total"),
        0.0
    );

    // Everything scraped arrived, exactly once.
    assert_receiver_matches(&s, &r, &config_429(&[], &url, true));

    // With retry_on_http_429 off (Prometheus 2.42's default; ours is on)
    // a 429 is final: the batch is dropped and counted as failed.
    reload(&s, &config_429(&[exp.addr()], &url, false));
    r.throttle(2, Some("1"));
    wait_until(30, "failed samples", || {
        metric(&s, "prometheus_remote_storage_samples_failed_total") > 0.0
    });
    let (_, status, err) = s.stop();
    assert!(status.success(), "{err}");
    assert!(err.contains("429"), "{err}");
}

/// A peer binary, killed on drop.
struct Peer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a peer test should run: the binary is there, or CI demands it.
fn have_peer(bin: &str) -> bool {
    if std::path::Path::new(bin).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{bin} is required when CI is set"
    );
    println!("SKIPPED: {bin} is not installed");
    false
}

fn start_peer(bin: &str, args: impl Fn(&std::path::Path, u16) -> Vec<String>, ready: &str) -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(bin)
        .args(args(dir.path(), port))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let peer = Peer {
        child,
        port,
        _dir: dir,
    };
    let url = format!("http://127.0.0.1:{port}{ready}");
    wait_until(60, &format!("{bin} to be ready"), || {
        reqwest::blocking::get(&url).is_ok_and(|r| r.status().is_success())
    });
    peer
}

/// ferroprom's own samples of the exporter job, as the peer should have
/// them.
fn exporter_series(s: &Server) -> BTreeMap<Key, Samples> {
    let mut d = query_all(&s.url(""), "{job=\"exp\"}", &[("dc", "eu")]);
    d.retain(|k, _| !k.contains("__name__=drop_me"));
    d
}

/// Scrapes for a few seconds while sending to `url`, stops scraping and
/// waits for the queue to be idle; returns the server.
fn scrape_and_send(url: &str) -> (Server, Exporter) {
    let exp = Exporter::start(EXPORTER_BODY);
    let s = Server::start(
        Some(&config(&[exp.addr()], Some(url))),
        &["--web.enable-lifecycle"],
    );
    std::thread::sleep(Duration::from_secs(5));
    reload(&s, &config(&[], Some(url)));
    wait_until(30, "the queue to drain", || {
        metric(&s, "prometheus_remote_storage_samples_pending") == 0.0
            && metric(&s, "prometheus_remote_storage_samples_total") > 0.0
    });
    std::thread::sleep(Duration::from_secs(1));
    (s, exp)
}

#[test]
fn to_real_prometheus() {
    let bin = "/usr/bin/prometheus";
    if !have_peer(bin) {
        return;
    }
    let peer = start_peer(
        bin,
        |dir, port| {
            let cfg = dir.join("prometheus.yml");
            std::fs::write(&cfg, "global: {}\n").unwrap();
            vec![
                format!("--config.file={}", cfg.display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--web.enable-remote-write-receiver".into(),
            ]
        },
        "/-/ready",
    );
    let base = format!("http://127.0.0.1:{}", peer.port);
    let (s, _exp) = scrape_and_send(&format!("{base}/api/v1/write"));
    let want = exporter_series(&s);
    assert!(want.len() >= 4, "{want:?}");
    let mut got = BTreeMap::new();
    let ok = (0..50).any(|_| {
        got = query_all(&base, "{job=\"exp\"}", &[]);
        if got == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
        false
    });
    assert!(ok, "Prometheus has\n{got:?}\nferroprom has\n{want:?}");
}

#[test]
fn to_victoria_metrics() {
    let bin = "/usr/bin/victoria-metrics";
    if !have_peer(bin) {
        return;
    }
    let peer = start_peer(
        bin,
        |dir, port| {
            vec![
                format!("-httpListenAddr=127.0.0.1:{port}"),
                format!("-storageDataPath={}", dir.join("vm").display()),
            ]
        },
        "/health",
    );
    let base = format!("http://127.0.0.1:{}", peer.port);
    let (s, _exp) = scrape_and_send(&format!("{base}/api/v1/write"));
    let want = strip_nan(exporter_series(&s));
    assert!(want.len() >= 4, "{want:?}");
    let mut got = BTreeMap::new();
    let ok = (0..100).any(|_| {
        got = strip_nan(vm_export(&base, "{job=\"exp\"}"));
        if got == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(300));
        false
    });
    assert!(ok, "VictoriaMetrics has\n{got:?}\nferroprom has\n{want:?}");
}

/// Without NaN samples: VictoriaMetrics keeps no staleness markers.
fn strip_nan(mut d: BTreeMap<Key, Samples>) -> BTreeMap<Key, Samples> {
    for v in d.values_mut() {
        v.retain(|_, b| !f64::from_bits(*b).is_nan());
    }
    d.retain(|_, v| !v.is_empty());
    d
}

/// Every sample VictoriaMetrics at `base` holds for `selector`, after
/// flushing what it buffers (`/api/v1/export`: one JSON series per line).
fn vm_export(base: &str, selector: &str) -> BTreeMap<Key, Samples> {
    let client = reqwest::blocking::Client::new();
    let _ = client.get(format!("{base}/internal/force_flush")).send();
    let body = client
        .get(format!("{base}/api/v1/export"))
        .query(&[("match[]", selector)])
        .send()
        .unwrap()
        .text()
        .unwrap();
    let mut d = BTreeMap::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let pairs: Vec<(&str, &str)> = v["metric"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        let samples: Samples = v["timestamps"]
            .as_array()
            .unwrap()
            .iter()
            .zip(v["values"].as_array().unwrap())
            .map(|(t, x)| {
                let x = x.as_f64().unwrap_or(f64::NAN);
                (t.as_i64().unwrap(), x.to_bits())
            })
            .collect();
        d.insert(key(pairs), samples);
    }
    d
}

/// The HA pair of `deploy/kubernetes/`: one config for both replicas,
/// whose `replica` external label comes from the environment (the pod
/// name there), scraping `target` and writing to `url`.
fn ha_config(target: Option<&str>, url: &str) -> String {
    let mut c = format!(
        "global:
  scrape_interval: 1s
  external_labels: {{cluster: test, replica: '${{REPLICA}}'}}
remote_write:
  - url: {url}
    name: test
    queue_config: {{batch_send_deadline: 100ms, min_backoff: 10ms, max_backoff: 200ms}}
scrape_configs:
"
    );
    if let Some(t) = target {
        c.push_str(&format!(
            "  - job_name: exp\n    static_configs:\n      - targets: ['{t}']\n"
        ));
    }
    c
}

/// Scale-out goes through remote write to a distributed engine (Mimir,
/// Thanos Receive, a VictoriaMetrics cluster), with one VictoriaMetrics
/// standing in: both replicas of an HA pair write into it, and it holds
/// both copies of every series, told apart by `replica` alone, each exactly
/// as that replica stored it.
#[test]
fn ha_pair_writes_both_replicas_into_one_victoria_metrics() {
    let Some(bin) = common::peers::require("victoria-metrics") else {
        return;
    };
    let vm = common::peers::Peer::victoria_metrics(&bin);
    let url = vm.url("/api/v1/write");
    let exp = Exporter::start(EXPORTER_BODY);
    let replicas = ["ferroprom-0", "ferroprom-1"];
    let servers: Vec<Server> = replicas
        .iter()
        .map(|r| {
            Server::start_with_env(
                tempfile::tempdir().unwrap(),
                Some(&ha_config(Some(&exp.addr()), &url)),
                &["--web.enable-lifecycle"],
                &[("REPLICA", r)],
            )
        })
        .collect();
    std::thread::sleep(Duration::from_secs(4));
    // Scraping stops, so each replica's series are final.
    for s in &servers {
        reload(s, &ha_config(None, &url));
    }
    for s in &servers {
        wait_until(30, "the queue to drain", || {
            metric(s, "prometheus_remote_storage_samples_pending") == 0.0
                && metric(s, "prometheus_remote_storage_samples_total") > 0.0
        });
    }
    let mut want = BTreeMap::new();
    let mut series_sets = Vec::new();
    for (s, r) in servers.iter().zip(replicas) {
        let local = query_all(
            &s.url(""),
            "{job=\"exp\"}",
            &[("cluster", "test"), ("replica", r)],
        );
        assert!(local.len() >= 4, "{r}: {local:?}");
        let tag = format!("replica={r}");
        series_sets.push(
            local
                .keys()
                .map(|k| {
                    k.split(',')
                        .filter(|p| *p != tag)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect::<Vec<_>>(),
        );
        want.extend(strip_nan(local));
    }
    // The pair scrapes the same targets: the same series on both sides.
    assert_eq!(series_sets[0], series_sets[1]);
    let base = vm.url("");
    let mut got = BTreeMap::new();
    let ok = (0..100).any(|_| {
        got = strip_nan(vm_export(&base, "{job=\"exp\"}"));
        if got == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(300));
        false
    });
    assert!(
        ok,
        "VictoriaMetrics has\n{got:?}\nthe replicas have\n{want:?}"
    );
    // Through its query API too, as a Grafana variable lists the replicas
    // to choose from (VictoriaMetrics hides the last 30 s from PromQL
    // queries, so those would see none of this yet).
    let (code, body) = vm.get(
        "/api/v1/label/replica/values",
        &[("match[]", "{job=\"exp\",cluster=\"test\"}")],
    );
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"], serde_json::json!(replicas), "{body}");
}

/// An OpenMetrics exposition with TYPE, HELP and UNIT.
const METADATA_BODY: &str = "# HELP req_seconds Time spent.\n# TYPE req_seconds gauge\n# UNIT req_seconds seconds\nreq_seconds 1.5\n# HELP jobs Jobs done.\n# TYPE jobs counter\njobs_total 3\n# EOF\n";

/// A config scraping `target` every second and writing to `url` with the
/// given `metadata_config` body.
fn metadata_config(target: &str, url: &str, metadata: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\nremote_write:\n  - url: {url}\n    name: test\n    queue_config: {{batch_send_deadline: 100ms}}\n    metadata_config: {metadata}\nscrape_configs:\n  - job_name: exp\n    static_configs:\n      - targets: ['{target}']\n"
    )
}

#[test]
fn metadata_is_sent_to_a_receiving_ferroprom() {
    let receiver = Server::start(
        Some("global: {}\n"),
        &["--web.enable-remote-write-receiver"],
    );
    let exp = Exporter::start("");
    exp.set_reply(common::exporter::Reply::Ok {
        body: METADATA_BODY.into(),
        content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8".into(),
    });
    let url = receiver.url("/api/v1/write");
    let s = Server::start(
        Some(&metadata_config(&exp.addr(), &url, "{send_interval: 1s}")),
        &["--web.enable-lifecycle"],
    );

    // The receiver's /api/v1/metadata ends up with exactly what the
    // sender scraped.
    let mut last = (Value::Null, Value::Null);
    let ok = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(200));
        let want = s.api("/api/v1/metadata", &[]);
        let got = receiver.api("/api/v1/metadata", &[]);
        let same = want == got && want.get("req_seconds").is_some();
        last = (want, got);
        same
    });
    assert!(ok, "sender has {}\nreceiver has {}", last.0, last.1);
    assert_eq!(
        last.1["req_seconds"],
        serde_json::json!([{"type": "gauge", "help": "Time spent.", "unit": "seconds"}])
    );
    assert!(metric(&s, "prometheus_remote_storage_metadata_total") >= 2.0);
    assert!(metric(&s, "prometheus_remote_storage_metadata_bytes_total") > 0.0);
    assert_eq!(
        metric(&s, "prometheus_remote_storage_metadata_failed_total"),
        0.0
    );

    // An unknown key under metadata_config is refused; the running queue
    // keeps its configuration.
    std::fs::write(
        s.config_path(),
        metadata_config(&exp.addr(), &url, "{send_interval: 1s, bogus: 1}"),
    )
    .unwrap();
    let (code, body) = s.post("/-/reload", &[]);
    assert_ne!(code, 200, "{body}");
    assert!(body.contains("bogus"), "{body}");
    let before = metric(&s, "prometheus_remote_storage_metadata_total");
    wait_until(20, "metadata still sent after a refused reload", || {
        metric(&s, "prometheus_remote_storage_metadata_total") > before
    });

    // Reloaded with `send: false`, the queue keeps sending samples but no
    // more metadata.
    reload(
        &s,
        &metadata_config(&exp.addr(), &url, "{send: false, send_interval: 1s}"),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let quiet = metric(&s, "prometheus_remote_storage_metadata_total");
    let samples = metric(&s, "prometheus_remote_storage_samples_total");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        metric(&s, "prometheus_remote_storage_metadata_total"),
        quiet
    );
    assert!(metric(&s, "prometheus_remote_storage_samples_total") > samples);
}
