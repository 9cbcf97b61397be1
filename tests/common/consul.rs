//! A fake Consul HTTP API on loopback for the consul_sd tests: a catalog
//! the test edits while it runs, served at `/v1/agent/self`,
//! `/v1/catalog/services` and `/v1/health/service/<name>` with Consul's
//! JSON shapes and blocking queries. Every edit raises one catalog-wide
//! index (as Consul's Raft index); a query whose `index` is still current
//! is held until an edit or until its `wait` runs out, then answered with
//! the index of the moment. Runs on its own Tokio runtime; `stop` takes it
//! away, dropping held requests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{json, Value};
use tokio::sync::watch;

/// One instance of a service.
#[derive(Clone, Debug)]
pub struct Instance {
    pub id: String,
    pub node: String,
    pub node_address: String,
    /// Empty: the node's address is the instance's.
    pub address: String,
    pub port: u16,
    pub tags: Vec<String>,
    pub meta: BTreeMap<String, String>,
    pub node_meta: BTreeMap<String, String>,
    /// `passing`, `warning`, `critical`.
    pub status: String,
}

impl Instance {
    /// A passing instance `id` of node `node` (address 127.0.0.1) on `port`.
    pub fn new(id: &str, node: &str, port: u16) -> Instance {
        Instance {
            id: id.to_string(),
            node: node.to_string(),
            node_address: "127.0.0.1".to_string(),
            address: String::new(),
            port,
            tags: Vec::new(),
            meta: BTreeMap::new(),
            node_meta: BTreeMap::new(),
            status: "passing".to_string(),
        }
    }

    pub fn tags(mut self, tags: &[&str]) -> Instance {
        self.tags = tags.iter().map(|t| t.to_string()).collect();
        self
    }

    pub fn meta(mut self, k: &str, v: &str) -> Instance {
        self.meta.insert(k.to_string(), v.to_string());
        self
    }

    pub fn node_meta(mut self, k: &str, v: &str) -> Instance {
        self.node_meta.insert(k.to_string(), v.to_string());
        self
    }

    pub fn address(mut self, a: &str) -> Instance {
        self.address = a.to_string();
        self
    }

    pub fn status(mut self, s: &str) -> Instance {
        self.status = s.to_string();
        self
    }

    /// The instance as `/v1/health/service/<name>` lists it.
    fn entry(&self, service: &str, datacenter: &str) -> Value {
        json!({
            "Node": {
                "ID": format!("{}-id", self.node),
                "Node": self.node,
                "Address": self.node_address,
                "Datacenter": datacenter,
                "TaggedAddresses": {"lan": self.node_address, "wan": "198.51.100.1"},
                "Meta": self.node_meta,
            },
            "Service": {
                "ID": self.id,
                "Service": service,
                "Tags": self.tags,
                "Address": self.address,
                "Meta": self.meta,
                "Port": self.port,
            },
            "Checks": [
                {"Node": self.node, "CheckID": "serfHealth", "Status": "passing"},
                {"Node": self.node, "CheckID": format!("service:{}", self.id), "Status": self.status},
            ],
        })
    }
}

/// One request the fake answered.
#[derive(Clone, Debug)]
pub struct Request {
    /// Path and query as sent.
    pub uri: String,
    pub token: Option<String>,
    /// The request waited on the current index and an edit released it.
    pub released_by_change: bool,
}

struct Catalog {
    datacenter: String,
    services: BTreeMap<String, Vec<Instance>>,
}

struct Shared {
    catalog: Mutex<Catalog>,
    index: watch::Sender<u64>,
    requests: Mutex<Vec<Request>>,
}

/// A running fake Consul.
pub struct FakeConsul {
    /// `127.0.0.1:<port>`, for `server:`.
    pub addr: String,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeConsul {
    /// An empty catalog in datacenter `datacenter`, at index 1.
    pub fn start(datacenter: &str) -> FakeConsul {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let shared = Arc::new(Shared {
            catalog: Mutex::new(Catalog {
                datacenter: datacenter.to_string(),
                services: BTreeMap::new(),
            }),
            index: watch::channel(1).0,
            requests: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/v1/agent/self", get(agent_self))
            .route("/v1/catalog/services", get(catalog_services))
            .route("/v1/health/service/{name}", get(health_service))
            .with_state(Arc::clone(&shared));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeConsul {
            addr,
            shared,
            runtime: Some(runtime),
        }
    }

    /// Sets service `name`'s instances (none: the service is removed) and
    /// raises the index.
    pub fn set(&self, name: &str, instances: Vec<Instance>) {
        let mut c = self.shared.catalog.lock().unwrap();
        if instances.is_empty() {
            c.services.remove(name);
        } else {
            c.services.insert(name.to_string(), instances);
        }
        self.shared.index.send_modify(|i| *i += 1);
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Takes the fake away: its port closes and held requests are cut.
    pub fn stop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for FakeConsul {
    fn drop(&mut self) {
        self.stop();
    }
}

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Consul's `wait`: a number with a unit (`ms`, `s`, `m`); Consul's
/// default 5 minutes when absent.
fn wait_of(params: &Params) -> Duration {
    let Some(w) = param(params, "wait") else {
        return Duration::from_secs(300);
    };
    let split = w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len());
    let n: u64 = w[..split].parse().unwrap_or(0);
    match &w[split..] {
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(60 * n),
        _ => Duration::from_secs(n),
    }
}

/// Holds a blocking query (one with an `index` that is still current)
/// until the index moves or the wait runs out; returns the index to
/// answer with and whether an edit released it.
async fn block(shared: &Shared, params: &Params) -> (u64, bool) {
    let mut rx = shared.index.subscribe();
    let wanted: u64 = param(params, "index")
        .and_then(|i| i.parse().ok())
        .unwrap_or(0);
    let current = *rx.borrow_and_update();
    if wanted == 0 || wanted < current {
        return (current, false);
    }
    let deadline = Instant::now() + wait_of(params);
    let released = tokio::time::timeout_at(deadline.into(), rx.changed())
        .await
        .is_ok();
    let now = *rx.borrow();
    (now, released)
}

/// [`block`], then [`record`]; returns the index to answer with.
async fn block_and_record(
    shared: &Shared,
    params: &Params,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> u64 {
    let (index, released) = block(shared, params).await;
    record(shared, uri.to_string(), headers, released);
    index
}

fn record(shared: &Shared, uri: String, headers: &HeaderMap, released: bool) {
    let token = headers
        .get("X-Consul-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    shared.requests.lock().unwrap().push(Request {
        uri,
        token,
        released_by_change: released,
    });
}

fn answer(index: u64, body: Value) -> Response {
    (
        StatusCode::OK,
        [("X-Consul-Index", index.to_string())],
        axum::Json(body),
    )
        .into_response()
}

async fn agent_self(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    record(&shared, uri.to_string(), &headers, false);
    let dc = shared.catalog.lock().unwrap().datacenter.clone();
    axum::Json(json!({"Config": {"Datacenter": dc, "NodeName": "fake"}})).into_response()
}

async fn catalog_services(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let index = block_and_record(&shared, &params, &headers, &uri).await;
    let c = shared.catalog.lock().unwrap();
    let services: BTreeMap<&String, Vec<&String>> = c
        .services
        .iter()
        .map(|(name, instances)| {
            let mut tags: Vec<&String> = instances.iter().flat_map(|i| &i.tags).collect();
            tags.sort();
            tags.dedup();
            (name, tags)
        })
        .collect();
    answer(index, json!(services))
}

async fn health_service(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let index = block_and_record(&shared, &params, &headers, &uri).await;
    let wanted_tags: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v.as_str())
        .collect();
    let c = shared.catalog.lock().unwrap();
    let entries: Vec<Value> = c
        .services
        .get(&name)
        .map(|instances| {
            instances
                .iter()
                .filter(|i| wanted_tags.iter().all(|t| i.tags.iter().any(|it| it == t)))
                .map(|i| i.entry(&name, &c.datacenter))
                .collect()
        })
        .unwrap_or_default();
    answer(index, Value::Array(entries))
}
