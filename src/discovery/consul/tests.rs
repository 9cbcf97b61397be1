//! Upstream's `discovery/consul/consul_test.go` ported (read from
//! `../shared/conformance/sd/consul/consul_test.go.txt`): the same stub
//! answers, the same expected requests (matched on the exact path and
//! query, as the upstream stub matches them) and the same expectations on
//! the groups reported; then our own cases for what upstream does not
//! test (index resets, removed services, failures, the merged list).
//! Blocking queries against a stateful fake are tested end to end in
//! `tests/e2e/consul_sd.rs`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, Uri};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::api::ConsulApi;
use super::watch::{discover, Timing};
use super::{metrics, run_with};
use crate::config::ConsulSdConfig;
use crate::discovery::TargetGroup;

/// The upstream test file, read where the conformance suite keeps it.
fn upstream() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let path = crate::shared_data::shared_path("conformance/sd/consul/consul_test.go.txt");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    })
}

/// The Go raw-string constant `name` of the upstream file
/// (`AgentAnswer`, `ServiceTestAnswer`, `ServicesTestAnswer`).
pub(crate) fn upstream_const(name: &str) -> String {
    let text = upstream();
    let start = text
        .find(&format!("\t{name} "))
        .unwrap_or_else(|| panic!("upstream has no {name}"));
    let open = start + text[start..].find('`').expect("a raw string") + 1;
    let len = text[open..].find('`').expect("a closed raw string");
    text[open..open + len].to_string()
}

/// One `case` of upstream's `newServer` stub: the exact request, the
/// answer, and whether the stub sleeps 5s before answering.
struct Route {
    uri: String,
    body: String,
    held: bool,
}

/// The cases of upstream's `newServer` switch on `r.URL.String()`.
fn new_server_routes() -> Vec<Route> {
    let text = upstream();
    let start = text
        .find("switch r.URL.String() {")
        .expect("upstream's newServer switch");
    let end = start + text[start..].find("default:").expect("its default case");
    let mut routes: Vec<Route> = Vec::new();
    for line in text[start..end].lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("case \"") {
            let uri = rest.strip_suffix("\":").expect("case \"<uri>\":");
            routes.push(Route {
                uri: uri.to_string(),
                body: String::new(),
                held: false,
            });
        } else if let Some(route) = routes.last_mut() {
            if line.starts_with("time.Sleep(") {
                route.held = true;
            } else if let Some(value) = line.strip_prefix("response = ") {
                route.body = match value.strip_prefix('`') {
                    Some(literal) => literal.trim_end_matches('`').to_string(),
                    None => upstream_const(value),
                };
            }
        }
    }
    assert!(routes.len() >= 9, "upstream's stub has every route");
    routes
}

/// One answer of a stub.
struct Reply {
    status: u16,
    index: u64,
    body: String,
    /// How long the stub holds the request first.
    delay: Duration,
}

fn ok(body: &str) -> Reply {
    Reply {
        status: 200,
        index: 1,
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

/// A request a stub saw: path and query as sent, and the token header.
#[derive(Clone, Debug)]
struct Seen {
    uri: String,
    token: Option<String>,
}

/// A Consul stand-in on loopback answering by `answer(path_and_query)`;
/// `None` is a request the test did not expect (recorded, answered 404).
struct Stub {
    host: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    unexpected: Arc<Mutex<Vec<String>>>,
}

impl Stub {
    async fn start(answer: impl Fn(&Uri) -> Option<Reply> + Send + Sync + 'static) -> Stub {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let unexpected = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let (s, u) = (seen.clone(), unexpected.clone());
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let (s, u, answer) = (s.clone(), u.clone(), answer.clone());
            async move {
                let token = headers
                    .get("X-Consul-Token")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                s.lock().push(Seen {
                    uri: uri.to_string(),
                    token,
                });
                let Some(r) = answer(&uri) else {
                    u.lock().push(uri.to_string());
                    return (
                        StatusCode::NOT_FOUND,
                        [("X-Consul-Index", "1".into())],
                        String::new(),
                    );
                };
                tokio::time::sleep(r.delay).await;
                let status = StatusCode::from_u16(r.status).unwrap();
                (status, [("X-Consul-Index", r.index.to_string())], r.body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Stub {
            host,
            seen,
            unexpected,
        }
    }

    fn uris(&self) -> Vec<String> {
        self.seen.lock().iter().map(|s| s.uri.clone()).collect()
    }

    fn assert_no_unexpected(&self) {
        let u = self.unexpected.lock();
        assert!(u.is_empty(), "Unhandled consul calls: {u:?}");
    }
}

/// Upstream's `newServer` stub: its exact requests only, every answer
/// with index 1, the blocking service-list queries held 5s.
async fn new_server() -> Stub {
    let routes = new_server_routes();
    Stub::start(move |uri| {
        let uri = uri.to_string();
        let route = routes.iter().find(|r| r.uri == uri)?;
        Some(Reply {
            delay: if route.held {
                Duration::from_secs(5)
            } else {
                Duration::ZERO
            },
            ..ok(&route.body)
        })
    })
    .await
}

/// Upstream's test config: the stub as server, a token, a 1s refresh;
/// and, being a Go struct literal rather than YAML, no stale reads and no
/// tag separator. `extra` (`, key: value...`) adds or replaces keys.
fn config(stub: &Stub, extra: &str) -> ConsulSdConfig {
    use serde_yaml_ng::{Mapping, Value};
    let mut keys: Mapping = serde_yaml_ng::from_str(&format!(
        "{{server: '{}', token: fake-token, refresh_interval: 1s, allow_stale: false, tag_separator: ''}}",
        stub.host
    ))
    .unwrap();
    let extra: Mapping =
        serde_yaml_ng::from_str(&format!("{{{}}}", extra.trim_start_matches(','))).unwrap();
    keys.extend(extra);
    serde_yaml_ng::from_value(Value::Mapping(keys)).unwrap()
}

const TIMING: Timing = Timing {
    wait: Duration::from_secs(120),
    retry: Duration::from_millis(200),
};

/// Runs the discoverer for `cfg` on its own task; its reports come out of
/// the receiver. Aborted when the handle drops.
struct Running {
    rx: mpsc::Receiver<Vec<TargetGroup>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Running {
    fn start(cfg: ConsulSdConfig, timing: Timing) -> Running {
        let (tx, rx) = mpsc::channel(16);
        let api = ConsulApi::new(cfg.clone(), timing.wait).unwrap();
        let task = tokio::spawn(discover(api, cfg, timing, tx));
        Running { rx, task }
    }

    async fn next(&mut self) -> Vec<TargetGroup> {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("a report within 10s")
            .expect("discoverer running")
    }

    async fn quiet_for(&mut self, d: Duration) {
        if let Ok(Some(g)) = tokio::time::timeout(d, self.rx.recv()).await {
            panic!("unexpected report {g:?}");
        }
    }
}

/// Upstream's `checkOneTarget`.
fn check_one_target(groups: &[TargetGroup]) {
    assert_eq!(groups.len(), 1, "{groups:?}");
    let g = &groups[0];
    assert_eq!(g.labels["__meta_consul_dc"], "test-dc");
    assert_eq!(g.source, g.labels["__meta_consul_service"]);
    if g.source == "test" {
        assert!(!g.targets.is_empty(), "Test service should have one node");
    }
}

/// Watch all the services in the catalog.
#[tokio::test]
async fn all_services() {
    let stub = new_server().await;
    let mut d = Running::start(config(&stub, ""), TIMING);
    let (a, b) = (d.next().await, d.next().await);
    check_one_target(&a);
    check_one_target(&b);
    let mut sources = [a[0].source.clone(), b[0].source.clone()];
    sources.sort();
    assert_eq!(sources, ["other", "test"]);
    stub.assert_no_unexpected();
    let seen = stub.seen.lock().clone();
    assert!(
        seen.iter()
            .all(|s| s.token.as_deref() == Some("fake-token")),
        "{seen:?}"
    );
}

/// A group with no targets is reported if no service was discovered.
#[tokio::test]
async fn no_targets() {
    let stub = new_server().await;
    let mut d = Running::start(config(&stub, ", tags: [missing]"), TIMING);
    let first = d.next().await;
    assert!(first[0].targets.is_empty(), "{first:?}");
    assert_eq!(first[0].source, "");
    stub.assert_no_unexpected();
}

/// Watch only the test service.
#[tokio::test]
async fn one_service() {
    let stub = new_server().await;
    let mut d = Running::start(config(&stub, ", services: [test]"), TIMING);
    check_one_target(&d.next().await);
    stub.assert_no_unexpected();
    assert!(
        !stub.uris().iter().any(|u| u.starts_with("/v1/catalog")),
        "a fully listed service needs no catalog: {:?}",
        stub.uris()
    );
}

/// Watch the test service with a specific tag and node-meta.
#[tokio::test]
async fn all_options() {
    let stub = new_server().await;
    let extra =
        ", services: [test], node_meta: {rack_name: '2304'}, tags: [tag1], allow_stale: true";
    let mut d = Running::start(config(&stub, extra), TIMING);
    check_one_target(&d.next().await);
    stub.assert_no_unexpected();
}

/// Stub by path for the filter tests: records the `filter` each API got.
struct FilterStub {
    stub: Stub,
    catalog: Arc<Mutex<Option<String>>>,
    health: Arc<Mutex<Option<String>>>,
}

async fn filter_stub() -> FilterStub {
    let catalog = Arc::new(Mutex::new(None));
    let health = Arc::new(Mutex::new(None));
    let (c, h) = (catalog.clone(), health.clone());
    let filter = |uri: &Uri| {
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "filter")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let stub = Stub::start(move |uri| match uri.path() {
        "/v1/agent/self" => Some(ok(&upstream_const("AgentAnswer"))),
        "/v1/catalog/services" => {
            *c.lock() = Some(filter(uri));
            Some(ok(r#"{"test": []}"#))
        }
        "/v1/health/service/test" => {
            *h.lock() = Some(filter(uri));
            Some(ok(&upstream_const("ServiceTestAnswer")))
        }
        _ => None,
    })
    .await;
    FilterStub {
        stub,
        catalog,
        health,
    }
}

/// With `services` and `filter` both set, the catalog is still asked, with
/// the filter; the health API does not get it.
#[tokio::test]
async fn filter_option() {
    let f = filter_stub().await;
    let extra = r#", services: [test], filter: 'NodeMeta.rack_name == "2304"'"#;
    let mut d = Running::start(config(&f.stub, extra), TIMING);
    check_one_target(&d.next().await);
    assert_eq!(
        f.catalog.lock().as_deref(),
        Some(r#"NodeMeta.rack_name == "2304""#),
        "catalog should receive the filter"
    );
    assert_eq!(
        f.health.lock().as_deref(),
        Some(""),
        "health gets no catalog filter"
    );
    f.stub.assert_no_unexpected();
}

/// `health_filter` goes to the health API only.
#[tokio::test]
async fn health_filter_option() {
    let f = filter_stub().await;
    let extra = r#", health_filter: 'Service.Tags contains "canary"'"#;
    let mut d = Running::start(config(&f.stub, extra), TIMING);
    check_one_target(&d.next().await);
    assert_eq!(
        f.catalog.lock().as_deref(),
        Some(""),
        "catalog gets no health_filter"
    );
    assert_eq!(
        f.health.lock().as_deref(),
        Some(r#"Service.Tags contains "canary""#)
    );
    f.stub.assert_no_unexpected();
}

/// Both filters set: each goes to its own API only.
#[tokio::test]
async fn both_filters_option() {
    let f = filter_stub().await;
    let extra = r#", services: [test], filter: 'NodeMeta.rack_name == "2304"', health_filter: 'Service.Tags contains "canary"'"#;
    let mut d = Running::start(config(&f.stub, extra), TIMING);
    check_one_target(&d.next().await);
    assert_eq!(
        f.catalog.lock().as_deref(),
        Some(r#"NodeMeta.rack_name == "2304""#)
    );
    assert_eq!(
        f.health.lock().as_deref(),
        Some(r#"Service.Tags contains "canary""#)
    );
    f.stub.assert_no_unexpected();
}

/// Upstream's `TestGetDatacenterShouldReturnError`.
#[tokio::test]
async fn datacenter_errors_are_reported_as_consul_reports_them() {
    for (reply, want) in [
        (
            Reply {
                status: 500,
                ..ok("")
            },
            "Unexpected response code: 500 ()",
        ),
        (
            ok(r#"{"Config": {"Not-Datacenter": "test-dc"}}"#),
            "invalid value '<nil>' for Config.Datacenter",
        ),
    ] {
        let reply = Mutex::new(Some(reply));
        let stub = Stub::start(move |_| reply.lock().take()).await;
        let api = ConsulApi::new(config(&stub, ""), TIMING.wait).unwrap();
        let e = api.agent_datacenter().await.unwrap_err();
        assert_eq!(e.to_string(), want);
    }
}

/// A catalog index that goes backwards is news, and the next query does
/// not block (no `index`); a repeated index is not news.
#[tokio::test]
async fn catalog_index_reset_when_it_goes_backwards() {
    let step = Arc::new(Mutex::new(0usize));
    let s = step.clone();
    let stub = Stub::start(move |uri| match uri.path() {
        "/v1/catalog/services" => {
            let mut n = s.lock();
            *n += 1;
            let (index, body) = match *n {
                1 => (10, r#"{"a": []}"#),
                2 => (10, r#"{"a": []}"#),
                3 => (4, r#"{"a": [], "b": []}"#),
                _ => (4, r#"{"a": [], "b": []}"#),
            };
            Some(Reply {
                index,
                delay: if *n > 4 {
                    Duration::from_secs(5)
                } else {
                    Duration::ZERO
                },
                ..ok(body)
            })
        }
        "/v1/health/service/a" | "/v1/health/service/b" => Some(ok("[]")),
        _ => None,
    })
    .await;
    let cfg = config(&stub, ", datacenter: dc1, refresh_interval: 50ms");
    let mut d = Running::start(cfg, TIMING);
    let mut sources = Vec::new();
    while sources.len() < 2 {
        sources.extend(d.next().await.into_iter().map(|g| g.source));
    }
    sources.sort();
    assert_eq!(sources, ["a", "b"], "b appears after the reset");
    let catalog = || -> Vec<String> {
        stub.uris()
            .into_iter()
            .filter(|u| u.starts_with("/v1/catalog"))
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while catalog().len() < 4 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let catalog = catalog();
    assert_eq!(
        &catalog[..4],
        [
            "/v1/catalog/services?dc=dc1&wait=120000ms",
            "/v1/catalog/services?dc=dc1&index=10&wait=120000ms",
            "/v1/catalog/services?dc=dc1&index=10&wait=120000ms",
            "/v1/catalog/services?dc=dc1&wait=120000ms",
        ]
    );
    assert!(
        !stub.uris().iter().any(|u| u.starts_with("/v1/agent")),
        "a configured datacenter is not asked for"
    );
}

/// A service that leaves the catalog is reported as an empty group and
/// its watch stops; one that comes back is watched again.
#[tokio::test]
async fn removed_services_get_an_empty_group() {
    let catalog = Arc::new(Mutex::new((1u64, r#"{"a": [], "b": []}"#)));
    let c = catalog.clone();
    let stub = Stub::start(move |uri| match uri.path() {
        "/v1/agent/self" => Some(ok(&upstream_const("AgentAnswer"))),
        "/v1/catalog/services" => {
            let (index, body) = *c.lock();
            Some(Reply { index, ..ok(body) })
        }
        "/v1/health/service/a" | "/v1/health/service/b" => {
            Some(ok(&upstream_const("ServiceTestAnswer")))
        }
        _ => None,
    })
    .await;
    let mut d = Running::start(config(&stub, ", refresh_interval: 50ms"), TIMING);
    let mut first = [d.next().await, d.next().await].concat();
    first.sort_by(|x, y| x.source.cmp(&y.source));
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|g| g.targets.len() == 1));

    *catalog.lock() = (2, r#"{"a": []}"#);
    let gone = d.next().await;
    assert_eq!(
        gone,
        vec![TargetGroup {
            source: "b".into(),
            ..TargetGroup::default()
        }]
    );
    d.quiet_for(Duration::from_millis(300)).await;
    let b_calls = || {
        stub.uris()
            .iter()
            .filter(|u| u.starts_with("/v1/health/service/b"))
            .count()
    };
    let before = b_calls();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b_calls(), before, "the watch of b stopped");

    *catalog.lock() = (3, r#"{"a": [], "b": []}"#);
    let back = d.next().await;
    assert_eq!(back[0].source, "b");
    assert_eq!(back[0].targets.len(), 1);
    stub.assert_no_unexpected();
}

/// Failed calls are counted, report nothing (the consumer keeps the
/// targets), and are retried after the pause.
#[tokio::test]
async fn failures_keep_targets_and_are_retried() {
    let failing = Arc::new(Mutex::new(false));
    let f = failing.clone();
    let index = Arc::new(Mutex::new(1u64));
    let i = index.clone();
    let stub = Stub::start(move |uri| {
        if *f.lock() {
            return Some(Reply {
                status: 503,
                ..ok("No cluster leader")
            });
        }
        match uri.path() {
            "/v1/agent/self" => Some(ok(&upstream_const("AgentAnswer"))),
            "/v1/health/service/test" => Some(Reply {
                index: *i.lock(),
                ..ok(&upstream_const("ServiceTestAnswer"))
            }),
            _ => None,
        }
    })
    .await;
    let mut d = Running::start(
        config(&stub, ", services: [test], refresh_interval: 50ms"),
        TIMING,
    );
    check_one_target(&d.next().await);
    let failures_before = metrics::failures();
    let calls_before = stub.uris().len();
    *failing.lock() = true;
    d.quiet_for(Duration::from_millis(700)).await;
    assert!(metrics::failures() > failures_before);
    let calls = stub.uris().len();
    // Retried after the 200ms pause, not at once and not given up.
    assert!(
        (2..=5).contains(&(calls - calls_before)),
        "{} calls while failing",
        calls - calls_before
    );
    // Answered again (a new index): reported again.
    *index.lock() = 2;
    *failing.lock() = false;
    check_one_target(&d.next().await);
    assert!(stub.uris().len() > calls);
}

/// The manager gets the whole list, sorted by source, once per change.
#[tokio::test]
async fn run_reports_every_group_together() {
    let stub = new_server().await;
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(run_with(config(&stub, ""), TIMING, tx));
    let full = loop {
        let groups = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        if groups.len() == 2 {
            break groups;
        }
    };
    assert_eq!(full[0].source, "other");
    assert!(full[0].targets.is_empty());
    assert_eq!(full[1].source, "test");
    assert_eq!(full[1].targets[0]["__address__"], "1.1.1.1:3341");
    assert_eq!(
        full[1].targets[0]["__meta_consul_tags"], "tag1",
        "no separator"
    );
    task.abort();
}

#[test]
fn upstream_stub_is_read_whole() {
    let routes = new_server_routes();
    let find = |uri: &str| routes.iter().find(|r| r.uri == uri).expect(uri);
    assert!(find("/v1/agent/self").body.contains("test-dc"));
    assert!(find("/v1/catalog/services?index=1&wait=120000ms").held);
    assert!(!find("/v1/catalog/services?wait=120000ms").held);
    assert_eq!(find("/v1/health/service/other?wait=120000ms").body, "[]");
    assert!(upstream_const("ServiceTestAnswer").contains(r#""Port": 3341"#));
}
