//! A fake Kubernetes API server on loopback for the kubernetes_sd tests:
//! lists (with `resourceVersion`, `limit`/`continue` paging, equality
//! label selectors and `metadata.name`/`metadata.namespace`/
//! `spec.nodeName` field selectors) and watches (newline-delimited JSON
//! events ADDED, MODIFIED, DELETED, BOOKMARK and ERROR, replayed from the
//! asked resource version). The test edits the cluster while it runs and
//! can end every watch, expire resource versions (410 as an HTTP status
//! or as an ERROR event), make the server answer 500, and take it off
//! the network and back. Every request's path and query is recorded.
//!
//! Its own Tokio runtime runs on a background thread, so blocking tests
//! use it as they use the other fakes.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

/// One change, as watches stream it.
#[derive(Clone, Debug)]
struct Change {
    rv: u64,
    resource: String,
    namespace: String,
    event: Value,
}

/// What goes to every open watch.
#[derive(Clone, Debug)]
enum Signal {
    Change(Change),
    /// End the watch normally.
    Close,
    /// Send an ERROR event with code 410, then end.
    Expired,
}

#[derive(Default)]
struct Cluster {
    rv: u64,
    /// `(resource, namespace/name or name)` → object.
    objects: BTreeMap<(String, String), Value>,
    history: Vec<Change>,
    /// Watches from a version older than this get 410.
    oldest: u64,
    failing: bool,
    requests: Vec<String>,
}

/// The running fake; stopped when dropped.
pub struct KubeApi {
    pub port: u16,
    cluster: Arc<Mutex<Cluster>>,
    signals: broadcast::Sender<Signal>,
    /// The serving task and what stops it, while the server is reachable.
    serving: Mutex<
        Option<(
            tokio::sync::oneshot::Sender<()>,
            tokio::task::JoinHandle<()>,
        )>,
    >,
    runtime: tokio::runtime::Runtime,
}

type Shared = (Arc<Mutex<Cluster>>, broadcast::Sender<Signal>);

impl KubeApi {
    pub fn start() -> KubeApi {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cluster = Arc::new(Mutex::new(Cluster {
            rv: 1000,
            ..Cluster::default()
        }));
        let (signals, _) = broadcast::channel(4096);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let api = KubeApi {
            port,
            cluster,
            signals,
            serving: Mutex::new(None),
            runtime,
        };
        api.serve(listener);
        api
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let shared: Shared = (self.cluster.clone(), self.signals.clone());
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = self.runtime.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap()
        });
        *self.serving.lock().unwrap() = Some((stop, task));
    }

    /// Makes the server unreachable: open watches end, connections close
    /// and new ones are refused, until [`KubeApi::come_back`]. The cluster
    /// and its history stay, so changes made meanwhile can be watched.
    pub fn go_offline(&self) {
        let Some((stop, task)) = self.serving.lock().unwrap().take() else {
            return;
        };
        let _ = stop.send(());
        // A watch a client opened again before its connection heard of the
        // shutdown must end too, so watches are ended until all is closed.
        self.runtime.block_on(async {
            let mut task = std::pin::pin!(task);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                self.end_watches();
                tokio::select! {
                    r = &mut task => return r.unwrap(),
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "connections closed in time"
                );
            }
        });
    }

    /// Serves again on the same port.
    pub fn come_back(&self) {
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", self.port)))
            .unwrap();
        self.serve(listener);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates or replaces `object` of `resource` (`pods`, `nodes`, ...),
    /// giving it the next resource version.
    pub fn apply(&self, resource: &str, mut object: Value) {
        let mut c = self.cluster.lock().unwrap();
        c.rv += 1;
        let rv = c.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let (namespace, k) = object_key(&object);
        let existed = c
            .objects
            .insert((resource.to_string(), k), object.clone())
            .is_some();
        let kind = if existed { "MODIFIED" } else { "ADDED" };
        self.record(
            &mut c,
            resource,
            namespace,
            json!({"type": kind, "object": object}),
        );
    }

    /// Deletes an object; true if it existed.
    pub fn delete(&self, resource: &str, namespace: &str, name: &str) -> bool {
        let mut c = self.cluster.lock().unwrap();
        let k = if namespace.is_empty() {
            name.to_string()
        } else {
            format!("{namespace}/{name}")
        };
        let Some(mut object) = c.objects.remove(&(resource.to_string(), k)) else {
            return false;
        };
        c.rv += 1;
        object["metadata"]["resourceVersion"] = json!(c.rv.to_string());
        self.record(
            &mut c,
            resource,
            namespace.to_string(),
            json!({"type": "DELETED", "object": object}),
        );
        true
    }

    /// Deletes a namespace and, as the API server does, everything in it.
    pub fn delete_namespace(&self, name: &str) {
        let inside: Vec<(String, String)> = {
            let c = self.cluster.lock().unwrap();
            c.objects
                .iter()
                .filter(|(_, o)| o["metadata"]["namespace"] == name)
                .map(|((r, _), o)| {
                    (
                        r.clone(),
                        o["metadata"]["name"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
        for (resource, object) in inside {
            self.delete(&resource, name, &object);
        }
        self.delete("namespaces", "", name);
    }

    /// The object stored under `resource` and `namespace/name`.
    pub fn get(&self, resource: &str, key: &str) -> Option<Value> {
        let c = self.cluster.lock().unwrap();
        c.objects
            .get(&(resource.to_string(), key.to_string()))
            .cloned()
    }

    fn record(&self, c: &mut Cluster, resource: &str, namespace: String, event: Value) {
        let change = Change {
            rv: c.rv,
            resource: resource.to_string(),
            namespace,
            event,
        };
        c.history.push(change.clone());
        let _ = self.signals.send(Signal::Change(change));
    }

    /// Ends every open watch normally; clients must resume.
    pub fn end_watches(&self) {
        let _ = self.signals.send(Signal::Close);
    }

    /// Forgets all history: open watches get an ERROR event with code 410
    /// when `as_event`, else they end and their resumption gets HTTP 410.
    pub fn expire(&self, as_event: bool) {
        let mut c = self.cluster.lock().unwrap();
        // A write nobody sees, then compaction up to it: every client's
        // version is now too old, a fresh list's is not.
        c.rv += 1;
        c.oldest = c.rv;
        c.history.clear();
        drop(c);
        let _ = self.signals.send(if as_event {
            Signal::Expired
        } else {
            Signal::Close
        });
    }

    /// While set, every request answers 500 and open watches end.
    pub fn set_failing(&self, failing: bool) {
        self.cluster.lock().unwrap().failing = failing;
        if failing {
            let _ = self.signals.send(Signal::Close);
        }
    }

    /// Every request so far, as `path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.cluster.lock().unwrap().requests.clone()
    }
}

fn object_key(o: &Value) -> (String, String) {
    let ns = o["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let name = o["metadata"]["name"].as_str().unwrap_or("");
    let k = if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    };
    (ns, k)
}

/// `(namespace, resource)` from an API path; `None` for other paths.
fn parse_path(path: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segs.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        ["apis", _, _, rest @ ..] => rest,
        _ => return None,
    };
    match rest {
        [resource] => Some((String::new(), resource.to_string())),
        ["namespaces", ns, resource] => Some((ns.to_string(), resource.to_string())),
        _ => None,
    }
}

/// Equality label selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`), the rest
/// treated as matching.
fn label_match(selector: &str, o: &Value) -> bool {
    let labels = &o["metadata"]["labels"];
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            labels[k.trim()].as_str() != Some(v.trim())
        } else if let Some((k, v)) = term.split_once('=') {
            labels[k.trim()].as_str() == Some(v.trim_start_matches('=').trim())
        } else if let Some(k) = term.strip_prefix('!') {
            labels[k.trim()].is_null()
        } else {
            !labels[term.trim()].is_null()
        }
    })
}

fn field_match(selector: &str, o: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        let (k, v, eq) = match term.split_once("!=") {
            Some((k, v)) => (k, v, false),
            None => match term.split_once('=') {
                Some((k, v)) => (k, v.trim_start_matches('='), true),
                None => return true,
            },
        };
        let actual = match k {
            "metadata.name" => &o["metadata"]["name"],
            "metadata.namespace" => &o["metadata"]["namespace"],
            "spec.nodeName" => &o["spec"]["nodeName"],
            _ => return true,
        };
        (actual.as_str().unwrap_or("") == v) == eq
    })
}

fn selected(q: &BTreeMap<String, String>, namespace: &str, o_ns: &str, o: &Value) -> bool {
    (namespace.is_empty() || namespace == o_ns)
        && label_match(q.get("labelSelector").map_or("", String::as_str), o)
        && field_match(q.get("fieldSelector").map_or("", String::as_str), o)
}

fn status(code: u16, reason: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": reason});
    (
        StatusCode::from_u16(code).unwrap(),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(
    State((cluster, signals)): State<Shared>,
    uri: Uri,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let path = uri.path().to_string();
    {
        let mut c = cluster.lock().unwrap();
        c.requests.push(uri.to_string());
        if c.failing {
            return status(500, "InternalError");
        }
    }
    let Some((namespace, resource)) = parse_path(&path) else {
        return status(404, "NotFound");
    };
    if q.get("watch").is_some_and(|w| w == "1" || w == "true") {
        return watch(&cluster, &signals, &q, namespace, resource);
    }
    list(&cluster, &q, &namespace, &resource)
}

fn list(
    cluster: &Mutex<Cluster>,
    q: &BTreeMap<String, String>,
    namespace: &str,
    resource: &str,
) -> Response {
    let c = cluster.lock().unwrap();
    let all: Vec<&Value> = c
        .objects
        .iter()
        .filter(|((r, _), o)| {
            r == resource
                && selected(
                    q,
                    namespace,
                    o["metadata"]["namespace"].as_str().unwrap_or(""),
                    o,
                )
        })
        .map(|(_, o)| o)
        .collect();
    // The continue token is `<list version>:<offset>`.
    let (rv, offset) = match q.get("continue").filter(|t| !t.is_empty()) {
        Some(t) => {
            let (rv, off) = t.split_once(':').unwrap_or(("0", "0"));
            let rv: u64 = rv.parse().unwrap_or(0);
            if rv < c.oldest {
                return status(410, "Expired");
            }
            (rv, off.parse().unwrap_or(0))
        }
        None => (c.rv, 0usize),
    };
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let page: Vec<&Value> = all.iter().skip(offset).take(limit).copied().collect();
    let next = offset + page.len();
    let token = if next < all.len() {
        format!("{rv}:{next}")
    } else {
        String::new()
    };
    let body = json!({
        "kind": "List",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": rv.to_string(), "continue": token},
        "items": page,
    });
    ([("content-type", "application/json")], body.to_string()).into_response()
}

fn watch(
    cluster: &Mutex<Cluster>,
    signals: &broadcast::Sender<Signal>,
    q: &BTreeMap<String, String>,
    namespace: String,
    resource: String,
) -> Response {
    let from: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|b| b == "true");
    let timeout = Duration::from_secs(
        q.get("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .unwrap_or(300),
    );
    let (backlog, mut live, current) = {
        let c = cluster.lock().unwrap();
        if from < c.oldest {
            return status(410, "Expired");
        }
        let backlog: Vec<Change> = c
            .history
            .iter()
            .filter(|ch| ch.rv > from)
            .cloned()
            .collect();
        (backlog, signals.subscribe(), c.rv)
    };
    let q = q.clone();
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let matches = move |ch: &Change| {
        ch.resource == resource && selected(&q, &namespace, &ch.namespace, &ch.event["object"])
    };
    tokio::spawn(async move {
        let line = |v: &Value| Ok(Bytes::from(format!("{v}\n")));
        let mut last = current.max(from);
        for ch in backlog.iter().filter(|ch| matches(ch)) {
            if tx.send(line(&ch.event)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tick.tick(), if bookmarks => {
                    let bm = json!({"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": last.to_string()}}});
                    if tx.send(line(&bm)).await.is_err() {
                        return;
                    }
                }
                s = live.recv() => match s {
                    Ok(Signal::Change(ch)) => {
                        last = ch.rv;
                        if ch.rv > from && matches(&ch) && tx.send(line(&ch.event)).await.is_err() {
                            return;
                        }
                    }
                    Ok(Signal::Expired) => {
                        let err = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410, "reason": "Expired", "message": "too old resource version"}});
                        let _ = tx.send(line(&err)).await;
                        return;
                    }
                    Ok(Signal::Close) | Err(_) => return,
                },
            }
        }
    });
    let body = Body::from_stream(Lines(rx));
    ([("content-type", "application/json")], body).into_response()
}

/// The watch body: lines from the task above.
struct Lines(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for Lines {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// A realistic small cluster (with the defaults the API server fills in,
/// such as port protocols), all addresses on loopback (so nothing the
/// tests discover and scrape leaves the machine): two nodes; namespaces
/// `default` (the API server's `kubernetes` service), `shop` and
/// `monitoring`; in `shop` the Deployment `web` (ReplicaSet `web-7d4b9`,
/// pods ready and not ready with an init container, a native sidecar and
/// two app ports), services ClusterIP, headless, ExternalName and
/// LoadBalancer with their Endpoints and an EndpointSlice, an Ingress.
pub mod cluster {
    use serde_json::{json, Value};

    use super::KubeApi;

    /// The pods of Deployment `web`: (name suffix, node, IP, ready).
    pub const WEB_PODS: [(&str, &str, &str, bool); 3] = [
        ("a1", "node-a", "127.0.1.1", true),
        ("b2", "node-b", "127.0.1.2", true),
        ("c3", "node-a", "127.0.1.3", false),
    ];

    pub fn node(name: &str, ip: &str, zone: &str) -> Value {
        json!({
            "kind": "Node", "apiVersion": "v1",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}, "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {"providerID": format!("kind://docker/kind/{name}")},
            "status": {
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            },
        })
    }

    pub fn namespace(name: &str, team: Option<&str>) -> Value {
        let labels = match team {
            Some(t) => json!({"kubernetes.io/metadata.name": name, "team": t}),
            None => json!({"kubernetes.io/metadata.name": name}),
        };
        json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name, "labels": labels}, "status": {"phase": "Active"}})
    }

    /// Pod `web-7d4b9-<suffix>` of Deployment `web`.
    pub fn web_pod(suffix: &str, node: &str, ip: &str, ready: bool) -> Value {
        let ready = if ready { "True" } else { "False" };
        let name = format!("web-7d4b9-{suffix}");
        json!({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {
                "name": name, "namespace": "shop", "uid": format!("uid-{suffix}"),
                "labels": {"app": "web", "pod-template-hash": "7d4b9"},
                "annotations": {"prometheus.io/scrape": "true"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9", "uid": "rs-uid", "controller": true}],
            },
            "spec": {
                "nodeName": node,
                "initContainers": [
                    {"name": "migrate", "image": "shop/migrate:1.4"},
                    {"name": "proxy", "image": "envoyproxy/envoy:v1.31", "restartPolicy": "Always", "ports": [{"name": "envoy-admin", "containerPort": 15000, "protocol": "TCP"}]},
                ],
                "containers": [
                    {"name": "app", "image": "shop/web:2.3.1", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}, {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}]},
                ],
            },
            "status": {
                "phase": "Running", "podIP": ip, "hostIP": "127.0.0.11",
                "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": ready}, {"type": "ContainersReady", "status": ready}],
                "initContainerStatuses": [
                    {"name": "migrate", "containerID": format!("containerd://m-{suffix}")},
                    {"name": "proxy", "containerID": format!("containerd://p-{suffix}")},
                ],
                "containerStatuses": [{"name": "app", "containerID": format!("containerd://a-{suffix}")}],
            },
        })
    }

    fn address(suffix: &str, node: &str, ip: &str) -> Value {
        json!({"ip": ip, "nodeName": node, "targetRef": {"kind": "Pod", "namespace": "shop", "name": format!("web-7d4b9-{suffix}"), "uid": format!("uid-{suffix}")}})
    }

    /// Endpoints `shop/<service>` over `pods` (see [`WEB_PODS`]) with `ports`.
    pub fn web_endpoints(service: &str, pods: &[(&str, &str, &str, bool)], ports: Value) -> Value {
        let ready: Vec<Value> = pods
            .iter()
            .filter(|p| p.3)
            .map(|p| address(p.0, p.1, p.2))
            .collect();
        let not_ready: Vec<Value> = pods
            .iter()
            .filter(|p| !p.3)
            .map(|p| address(p.0, p.1, p.2))
            .collect();
        json!({
            "kind": "Endpoints", "apiVersion": "v1",
            "metadata": {"name": service, "namespace": "shop", "labels": {"app": "web"}},
            "subsets": [{"addresses": ready, "notReadyAddresses": not_ready, "ports": ports}],
        })
    }

    /// EndpointSlice `shop/web-x8k2p` of service `web` over `pods`.
    pub fn web_slice(pods: &[(&str, &str, &str, bool)]) -> Value {
        let endpoints: Vec<Value> = pods
            .iter()
            .map(|(suffix, node, ip, ready)| {
                json!({
                    "addresses": [ip],
                    "conditions": {"ready": ready, "serving": ready, "terminating": false},
                    "nodeName": node, "zone": "zone-a",
                    "targetRef": {"kind": "Pod", "namespace": "shop", "name": format!("web-7d4b9-{suffix}")},
                })
            })
            .collect();
        json!({
            "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": "web-x8k2p", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9090, "protocol": "TCP", "appProtocol": "http"}],
        })
    }

    /// Service `shop/web` with `ports`.
    pub fn web_service(ports: Value) -> Value {
        json!({
            "kind": "Service", "apiVersion": "v1",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web", "tier": "frontend"}, "annotations": {"prometheus.io/probe": "true"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.1.10", "ports": ports, "selector": {"app": "web"}},
        })
    }

    pub fn web_ports() -> Value {
        json!([{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9090, "protocol": "TCP"}])
    }

    fn endpoint_ports() -> Value {
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9090, "protocol": "TCP"}])
    }

    /// Fills `api` with the cluster.
    pub fn seed(api: &KubeApi) {
        api.apply("nodes", node("node-a", "127.0.0.11", "zone-a"));
        api.apply("nodes", node("node-b", "127.0.0.12", "zone-b"));
        for (ns, team) in [
            ("default", None),
            ("shop", Some("shop")),
            ("monitoring", Some("platform")),
        ] {
            api.apply("namespaces", namespace(ns, team));
        }
        api.apply("services", json!({
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "targetPort": 6443, "protocol": "TCP"}]},
        }));
        api.apply("endpoints", json!({
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}],
        }));
        api.apply("replicasets", json!({
            "metadata": {"name": "web-7d4b9", "namespace": "shop", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": true}]},
        }));
        for (suffix, node, ip, ready) in WEB_PODS {
            api.apply("pods", web_pod(suffix, node, ip, ready));
        }
        api.apply("pods", json!({
            "metadata": {"name": "prometheus-0", "namespace": "monitoring", "labels": {"app": "prometheus"},
                         "ownerReferences": [{"kind": "StatefulSet", "name": "prometheus", "controller": true}]},
            "spec": {"nodeName": "node-b", "containers": [{"name": "prometheus", "ports": [{"name": "web", "containerPort": 9090, "protocol": "TCP"}]}]},
            "status": {"phase": "Running", "podIP": "127.0.2.1", "hostIP": "127.0.0.12", "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "prometheus", "containerID": "containerd://prom"}]},
        }));
        api.apply("services", web_service(web_ports()));
        api.apply("services", json!({
            "metadata": {"name": "web-headless", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"type": "ClusterIP", "clusterIP": "None", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
        }));
        api.apply("services", json!({
            "metadata": {"name": "payments-db", "namespace": "shop"},
            "spec": {"type": "ExternalName", "externalName": "db.payments.example.com", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]},
        }));
        api.apply("services", json!({
            "metadata": {"name": "web-public", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.1.11", "ports": [{"name": "https", "port": 443, "targetPort": 8080, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}},
        }));
        api.apply(
            "endpoints",
            web_endpoints("web", &WEB_PODS, endpoint_ports()),
        );
        api.apply(
            "endpoints",
            web_endpoints(
                "web-headless",
                &WEB_PODS,
                json!([{"name": "http", "port": 8080, "protocol": "TCP"}]),
            ),
        );
        api.apply("endpointslices", web_slice(&WEB_PODS));
        api.apply("ingresses", json!({
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {
                "ingressClassName": "nginx",
                "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
                "rules": [{"host": "shop.example.com", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                    {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                ]}}],
            },
        }));
    }

    /// The endpoint ports of `shop/web`.
    pub fn web_endpoint_ports() -> Value {
        endpoint_ports()
    }
}
