//! kubernetes_sd end to end: the real binary loads upstream's Kubernetes
//! example config (`../shared/conformance/sd/prometheus-kubernetes.yml`),
//! pointed at a fake API server on loopback holding a realistic cluster,
//! and `/api/v1/targets` shows the targets the role builders make for it,
//! before and after watch events, after the server ends its watches or
//! answers 410, while it answers 500 and while it is unreachable. A
//! second test checks that `namespaces`, `selectors` and
//! `attach_metadata` reach the API as requests and query parameters, that
//! Alertmanager sets discover too, that a config that cannot start is
//! counted, and that `kubeconfig_file` finds the server. A third runs
//! VictoriaMetrics 1.79 on the same cluster as a second opinion on every
//! label, its known gaps allowed by name.
//!
//! The example is changed only where a test outside a cluster must: each
//! `kubernetes_sd_configs` entry gets `api_server:` (the in-cluster
//! settings, as `../shared/conformance/sd/README.md` allows), the
//! service-account CA and token paths point at files of the test, and the
//! blackbox exporter's address becomes a closed loopback port, so that
//! nothing scraped leaves the machine.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::kube_api::cluster::{self, WEB_PODS};
use common::kube_api::KubeApi;
use common::{poll, Server};
use serde_json::{json, Value};

/// The upstream example as the test runs it, or `None` when it is absent.
fn example_config(api: &KubeApi, dir: &Path) -> Option<String> {
    let path = common::shared_file("conformance/sd/prometheus-kubernetes.yml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipped: {} is absent", path.display());
        return None;
    };
    let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("ca.crt"), ca.cert.pem()).unwrap();
    std::fs::write(dir.join("token"), "scrape-token").unwrap();
    let sa = "/var/run/secrets/kubernetes.io/serviceaccount/";
    let text = text
        .replace(
            &format!("{sa}ca.crt"),
            &dir.join("ca.crt").display().to_string(),
        )
        .replace(
            &format!("{sa}token"),
            &dir.join("token").display().to_string(),
        )
        .replace("blackbox-exporter.example.com:9115", "127.0.0.1:9")
        .replace(
            "      - role: ",
            &format!("      - api_server: {}\n        role: ", api.url()),
        );
    // The example has no endpointslice job; this one also attaches node
    // and namespace metadata.
    Some(format!(
        "{text}
  - job_name: kubernetes-endpointslices
    kubernetes_sd_configs:
      - api_server: {}
        role: endpointslice
        attach_metadata: {{node: true, namespace: true}}
",
        api.url()
    ))
}

/// `(active, dropped)` targets of `job`.
fn targets(s: &Server, job: &str) -> (Vec<Value>, Vec<Value>) {
    let (_, body) = s.get("/api/v1/targets", &[("scrapePool", job)]);
    let v: Value = serde_json::from_str(&body).unwrap();
    let list = |k: &str| v["data"][k].as_array().cloned().unwrap_or_default();
    (list("activeTargets"), list("droppedTargets"))
}

fn address(t: &Value) -> &str {
    t["discoveredLabels"]["__address__"].as_str().unwrap_or("")
}

/// The active target of `job` discovered at `addr` whose discovered
/// labels include `with`.
fn find(s: &Server, job: &str, addr: &str, with: (&str, &str)) -> Option<Value> {
    targets(s, job)
        .0
        .into_iter()
        .find(|t| address(t) == addr && t["discoveredLabels"][with.0] == with.1)
}

fn active_addresses(s: &Server, job: &str) -> Vec<String> {
    let mut a: Vec<String> = targets(s, job)
        .0
        .iter()
        .map(|t| address(t).to_string())
        .collect();
    a.sort();
    a
}

/// Asserts every `(name, value)` among `t`'s `section` labels.
fn has(t: &Value, section: &str, want: &[(&str, &str)]) {
    for (k, v) in want {
        assert_eq!(t[section][*k], *v, "{section}.{k} in {t:#}");
    }
}

/// How many list (not watch) requests `path` has had.
fn lists(api: &KubeApi, path: &str) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.split('?').next() == Some(path) && !r.contains("watch=1"))
        .count()
}

fn wait_count(s: &Server, job: &str, n: usize) {
    poll(20, &format!("{n} active targets in {job}"), || {
        (targets(s, job).0.len() == n).then_some(())
    });
}

#[test]
fn upstream_example_discovers_the_fake_cluster_and_follows_it() {
    let api = KubeApi::start();
    cluster::seed(&api);
    let dir = tempfile::tempdir().unwrap();
    let Some(config) = example_config(&api, dir.path()) else {
        return;
    };
    let s = Server::start_with_env(dir, Some(&config), &[], &[]);

    // Role pod: a target per container port, a bare one per container
    // without ports, init containers included: 4 per web pod, 1 for
    // prometheus-0.
    wait_count(&s, "kubernetes-pods", 13);
    let t = find(
        &s,
        "kubernetes-pods",
        "127.0.1.1:8080",
        ("__meta_kubernetes_pod_container_name", "app"),
    )
    .unwrap();
    has(
        &t,
        "discoveredLabels",
        &[
            ("__meta_kubernetes_namespace", "shop"),
            ("__meta_kubernetes_pod_name", "web-7d4b9-a1"),
            ("__meta_kubernetes_pod_ready", "true"),
            ("__meta_kubernetes_pod_phase", "Running"),
            ("__meta_kubernetes_pod_node_name", "node-a"),
            ("__meta_kubernetes_pod_container_port_name", "http"),
            ("__meta_kubernetes_pod_container_port_number", "8080"),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ("__meta_kubernetes_pod_container_init", "false"),
            ("__meta_kubernetes_pod_container_image", "shop/web:2.3.1"),
            ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
            ("__meta_kubernetes_pod_controller_name", "web-7d4b9"),
            ("__meta_kubernetes_pod_label_app", "web"),
            ("__meta_kubernetes_pod_labelpresent_app", "true"),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                "true",
            ),
        ],
    );
    has(
        &t,
        "labels",
        &[
            ("namespace", "shop"),
            ("pod", "web-7d4b9-a1"),
            ("app", "web"),
            ("job", "kubernetes-pods"),
        ],
    );
    let sidecar = find(
        &s,
        "kubernetes-pods",
        "127.0.1.2:15000",
        ("__meta_kubernetes_pod_container_name", "proxy"),
    )
    .unwrap();
    has(
        &sidecar,
        "discoveredLabels",
        &[("__meta_kubernetes_pod_container_init", "true")],
    );
    assert!(find(
        &s,
        "kubernetes-pods",
        "127.0.1.3",
        ("__meta_kubernetes_pod_container_name", "migrate")
    )
    .is_some());
    let not_ready = find(
        &s,
        "kubernetes-pods",
        "127.0.1.3:9090",
        ("__meta_kubernetes_pod_name", "web-7d4b9-c3"),
    )
    .unwrap();
    has(
        &not_ready,
        "discoveredLabels",
        &[("__meta_kubernetes_pod_ready", "false")],
    );

    // Role node, twice: kubelet and cAdvisor.
    for job in ["kubernetes-nodes", "kubernetes-cadvisor"] {
        wait_count(&s, job, 2);
        assert_eq!(
            active_addresses(&s, job),
            ["127.0.0.11:10250", "127.0.0.12:10250"]
        );
    }
    let node = find(
        &s,
        "kubernetes-nodes",
        "127.0.0.11:10250",
        ("instance", "node-a"),
    )
    .unwrap();
    has(
        &node,
        "discoveredLabels",
        &[
            ("__meta_kubernetes_node_name", "node-a"),
            ("__meta_kubernetes_node_address_InternalIP", "127.0.0.11"),
            ("__meta_kubernetes_node_address_Hostname", "node-a"),
            (
                "__meta_kubernetes_node_provider_id",
                "kind://docker/kind/node-a",
            ),
        ],
    );
    has(
        &node,
        "labels",
        &[
            ("topology_kubernetes_io_zone", "zone-a"),
            ("instance", "node-a"),
        ],
    );
    assert_eq!(node["scrapeUrl"], "https://127.0.0.11:10250/metrics");

    // Role endpoints, API servers: only default/kubernetes's https port is
    // kept; every other endpoint is dropped and listed as such.
    wait_count(&s, "kubernetes-apiservers", 1);
    assert_eq!(
        active_addresses(&s, "kubernetes-apiservers"),
        ["127.0.0.1:6443"]
    );
    let (_, dropped) = targets(&s, "kubernetes-apiservers");
    assert!(
        dropped.iter().any(
            |t| t["discoveredLabels"]["__meta_kubernetes_endpoints_name"] == "web"
                && address(t) == "127.0.1.3:8080"
        ),
        "{dropped:#?}"
    );

    // Role endpoints, services: ready and not-ready addresses, each with
    // its service's and pod's labels.
    let ep = poll(20, "web endpoint", || {
        find(
            &s,
            "kubernetes-service-endpoints",
            "127.0.1.1:8080",
            ("__meta_kubernetes_endpoints_name", "web"),
        )
    });
    has(
        &ep,
        "discoveredLabels",
        &[
            ("__meta_kubernetes_endpoint_ready", "true"),
            ("__meta_kubernetes_endpoint_port_name", "http"),
            ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
            (
                "__meta_kubernetes_endpoint_address_target_name",
                "web-7d4b9-a1",
            ),
            ("__meta_kubernetes_endpoint_node_name", "node-a"),
            ("__meta_kubernetes_service_name", "web"),
            ("__meta_kubernetes_pod_name", "web-7d4b9-a1"),
            ("__meta_kubernetes_pod_container_name", "app"),
        ],
    );
    has(
        &ep,
        "labels",
        &[
            ("service", "web"),
            ("namespace", "shop"),
            ("app", "web"),
            ("tier", "frontend"),
        ],
    );
    let ep = find(
        &s,
        "kubernetes-service-endpoints",
        "127.0.1.3:9090",
        ("__meta_kubernetes_endpoints_name", "web"),
    )
    .unwrap();
    has(
        &ep,
        "discoveredLabels",
        &[("__meta_kubernetes_endpoint_ready", "false")],
    );

    // Role service, through the blackbox exporter: one probe per port.
    wait_count(&s, "kubernetes-services", 6);
    let instances = |s: &Server| {
        let mut i: Vec<String> = targets(s, "kubernetes-services")
            .0
            .iter()
            .map(|t| t["labels"]["instance"].as_str().unwrap().to_string())
            .collect();
        i.sort();
        i
    };
    assert_eq!(
        instances(&s),
        [
            "kubernetes.default.svc:443",
            "payments-db.shop.svc:5432",
            "web-headless.shop.svc:8080",
            "web-public.shop.svc:443",
            "web.shop.svc:80",
            "web.shop.svc:9090",
        ]
    );
    let lb = find(
        &s,
        "kubernetes-services",
        "web-public.shop.svc:443",
        ("__meta_kubernetes_service_type", "LoadBalancer"),
    )
    .unwrap();
    has(
        &lb,
        "discoveredLabels",
        &[
            ("__meta_kubernetes_service_loadbalancer_ip", "203.0.113.7"),
            ("__meta_kubernetes_service_cluster_ip", "10.96.1.11"),
        ],
    );
    assert_eq!(
        lb["labels"]["__param_target"],
        Value::Null,
        "params are not target labels"
    );
    assert!(
        lb["scrapeUrl"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:9/probe?"),
        "{lb:#}"
    );
    let ext = find(
        &s,
        "kubernetes-services",
        "payments-db.shop.svc:5432",
        ("__meta_kubernetes_service_type", "ExternalName"),
    )
    .unwrap();
    has(
        &ext,
        "discoveredLabels",
        &[(
            "__meta_kubernetes_service_external_name",
            "db.payments.example.com",
        )],
    );
    let headless = find(
        &s,
        "kubernetes-services",
        "web-headless.shop.svc:8080",
        ("__meta_kubernetes_service_name", "web-headless"),
    )
    .unwrap();
    has(
        &headless,
        "discoveredLabels",
        &[("__meta_kubernetes_service_cluster_ip", "None")],
    );

    // Role ingress: a probe per path, over https as the TLS section says.
    wait_count(&s, "kubernetes-ingresses", 2);
    let ing = find(
        &s,
        "kubernetes-ingresses",
        "shop.example.com",
        ("__meta_kubernetes_ingress_path", "/api"),
    )
    .unwrap();
    has(
        &ing,
        "discoveredLabels",
        &[
            ("__meta_kubernetes_ingress_scheme", "https"),
            ("__meta_kubernetes_ingress_class_name", "nginx"),
        ],
    );
    has(
        &ing,
        "labels",
        &[
            ("instance", "https://shop.example.com/api"),
            ("ingress", "web"),
        ],
    );

    // Role endpointslice with node and namespace metadata.
    let sl = poll(20, "slice endpoint", || {
        find(
            &s,
            "kubernetes-endpointslices",
            "127.0.1.2:9090",
            ("__meta_kubernetes_endpointslice_name", "web-x8k2p"),
        )
    });
    has(
        &sl,
        "discoveredLabels",
        &[
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
                "true",
            ),
            ("__meta_kubernetes_endpointslice_port_name", "metrics"),
            ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
            ("__meta_kubernetes_service_name", "web"),
            (
                "__meta_kubernetes_node_label_topology_kubernetes_io_zone",
                "zone-b",
            ),
            ("__meta_kubernetes_namespace_label_team", "shop"),
            ("__meta_kubernetes_pod_name", "web-7d4b9-b2"),
        ],
    );

    // Scale the Deployment up: a fourth pod, in the endpoints and slice.
    let mut pods = WEB_PODS.to_vec();
    pods.push(("d4", "node-b", "127.0.1.4", true));
    api.apply("pods", cluster::web_pod("d4", "node-b", "127.0.1.4", true));
    api.apply(
        "endpoints",
        cluster::web_endpoints("web", &pods, cluster::web_endpoint_ports()),
    );
    api.apply("endpointslices", cluster::web_slice(&pods));
    wait_count(&s, "kubernetes-pods", 17);
    poll(20, "the new pod behind the service", || {
        find(
            &s,
            "kubernetes-service-endpoints",
            "127.0.1.4:8080",
            ("__meta_kubernetes_pod_name", "web-7d4b9-d4"),
        )
    });
    poll(20, "the new pod in the slice", || {
        find(
            &s,
            "kubernetes-endpointslices",
            "127.0.1.4:8080",
            ("__meta_kubernetes_pod_name", "web-7d4b9-d4"),
        )
    });

    // A pod becomes not ready.
    pods[0].3 = false;
    api.apply("pods", cluster::web_pod("a1", "node-a", "127.0.1.1", false));
    api.apply(
        "endpoints",
        cluster::web_endpoints("web", &pods, cluster::web_endpoint_ports()),
    );
    poll(20, "a1 not ready", || {
        find(
            &s,
            "kubernetes-pods",
            "127.0.1.1:8080",
            ("__meta_kubernetes_pod_ready", "false"),
        )
    });
    poll(20, "a1's endpoint not ready", || {
        find(
            &s,
            "kubernetes-service-endpoints",
            "127.0.1.1:8080",
            ("__meta_kubernetes_endpoint_ready", "false"),
        )
    });

    // A service changes its ports.
    let mut ports = cluster::web_ports();
    ports
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "https", "port": 8443}));
    api.apply("services", cluster::web_service(ports));
    wait_count(&s, "kubernetes-services", 7);
    assert!(instances(&s).contains(&"web.shop.svc:8443".to_string()));

    // The server ends every watch: the watches resume (from where they
    // were, without listing) and see what follows.
    let node_lists = lists(&api, "/api/v1/nodes");
    api.end_watches();
    std::thread::sleep(std::time::Duration::from_millis(300));
    api.apply("nodes", cluster::node("node-b", "127.0.0.12", "zone-c"));
    poll(20, "node-b's new zone", || {
        find(
            &s,
            "kubernetes-nodes",
            "127.0.0.12:10250",
            (
                "__meta_kubernetes_node_label_topology_kubernetes_io_zone",
                "zone-c",
            ),
        )
    });
    assert_eq!(
        lists(&api, "/api/v1/nodes"),
        node_lists,
        "resumed, not relisted"
    );

    // 410 as an ERROR event: relist; a pod deleted meanwhile goes.
    let pod_lists = lists(&api, "/api/v1/pods");
    api.expire(true);
    assert!(api.delete("pods", "monitoring", "prometheus-0"));
    wait_count(&s, "kubernetes-pods", 16);
    assert!(
        lists(&api, "/api/v1/pods") > pod_lists,
        "pods listed again after the 410 event"
    );

    // 410 as the status of the resumed watch: relist too.
    let node_lists = lists(&api, "/api/v1/nodes");
    api.expire(false);
    api.apply("nodes", cluster::node("node-a", "127.0.0.11", "zone-d"));
    poll(20, "node-a's new zone after 410", || {
        find(
            &s,
            "kubernetes-nodes",
            "127.0.0.11:10250",
            (
                "__meta_kubernetes_node_label_topology_kubernetes_io_zone",
                "zone-d",
            ),
        )
    });
    assert!(
        lists(&api, "/api/v1/nodes") > node_lists,
        "nodes listed again after HTTP 410"
    );

    // While the API server fails, targets stay; afterwards changes arrive.
    let before: BTreeMap<&str, Vec<String>> =
        ["kubernetes-pods", "kubernetes-services", "kubernetes-nodes"]
            .into_iter()
            .map(|j| (j, active_addresses(&s, j)))
            .collect();
    api.set_failing(true);
    poll(20, "failed requests counted", || {
        (s.self_metric("prometheus_sd_kubernetes_failures_total", &[])? >= 3.0).then_some(())
    });
    for (job, addrs) in &before {
        assert_eq!(
            &active_addresses(&s, job),
            addrs,
            "{job} kept while the API fails"
        );
    }
    api.set_failing(false);
    api.delete("ingresses", "shop", "web");
    wait_count(&s, "kubernetes-ingresses", 0);

    // While the API server is unreachable, targets stay too; a change
    // made meanwhile arrives once it is back, through the resumed watch.
    let failures = s
        .self_metric("prometheus_sd_kubernetes_failures_total", &[])
        .unwrap();
    api.go_offline();
    poll(20, "refused connections counted", || {
        (s.self_metric("prometheus_sd_kubernetes_failures_total", &[])? >= failures + 3.0)
            .then_some(())
    });
    for (job, addrs) in &before {
        assert_eq!(
            &active_addresses(&s, job),
            addrs,
            "{job} kept while the API is unreachable"
        );
    }
    let node_lists = lists(&api, "/api/v1/nodes");
    api.apply("nodes", cluster::node("node-b", "127.0.0.12", "zone-e"));
    api.come_back();
    poll(30, "node-b's zone changed while offline", || {
        find(
            &s,
            "kubernetes-nodes",
            "127.0.0.12:10250",
            (
                "__meta_kubernetes_node_label_topology_kubernetes_io_zone",
                "zone-e",
            ),
        )
    });
    assert_eq!(
        lists(&api, "/api/v1/nodes"),
        node_lists,
        "resumed from the known version, not relisted"
    );

    // A namespace disappears, and with it everything in it.
    api.delete_namespace("shop");
    wait_count(&s, "kubernetes-pods", 0);
    wait_count(&s, "kubernetes-services", 1);
    poll(20, "only the API server's endpoint left", || {
        (active_addresses(&s, "kubernetes-service-endpoints") == ["127.0.0.1:6443"]).then_some(())
    });

    // Metrics as Prometheus names them.
    let m = |name: &str, labels: &[&str]| s.self_metric(name, labels).unwrap_or(-1.0);
    assert!(
        m(
            "prometheus_sd_kubernetes_events_total",
            &["event=\"add\"", "role=\"pod\""]
        ) >= 5.0
    );
    assert!(
        m(
            "prometheus_sd_kubernetes_events_total",
            &["event=\"delete\"", "role=\"pod\""]
        ) >= 5.0
    );
    assert!(
        m(
            "prometheus_sd_kubernetes_events_total",
            &["event=\"update\"", "role=\"node\""]
        ) >= 4.0
    );
    assert!(
        m(
            "prometheus_sd_kubernetes_events_total",
            &["event=\"add\"", "role=\"endpointslice\""]
        ) >= 1.0
    );
    assert_eq!(
        m(
            "prometheus_sd_kubernetes_events_total",
            &["event=\"update\"", "role=\"ingress\""]
        ),
        0.0
    );
    assert_eq!(m("prometheus_sd_failed_configs", &["name=\"scrape\""]), 0.0);
    assert_eq!(m("prometheus_sd_failed_configs", &["name=\"notify\""]), 0.0);
    assert_eq!(
        m(
            "prometheus_sd_discovered_targets",
            &["config=\"kubernetes-services\"", "name=\"scrape\""]
        ),
        1.0
    );
    assert_eq!(
        m(
            "prometheus_sd_discovered_targets",
            &["config=\"kubernetes-pods\"", "name=\"scrape\""]
        ),
        0.0
    );
}

#[test]
fn namespaces_selectors_kubeconfig_and_alertmanagers_reach_the_api() {
    let api = KubeApi::start();
    cluster::seed(&api);
    let url = api.url();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "current-context: c
clusters: [{{name: k, cluster: {{server: '{url}'}}}}]
contexts: [{{name: c, context: {{cluster: k, user: u}}}}]
users: [{{name: u, user: {{token: t}}}}]"
        ),
    )
    .unwrap();
    let kubeconfig = kubeconfig.display();
    let config = format!(
        "
scrape_configs:
  - job_name: nodes-via-kubeconfig
    kubernetes_sd_configs:
      - {{role: node, kubeconfig_file: '{kubeconfig}'}}
  - job_name: web-on-node-a
    kubernetes_sd_configs:
      - api_server: {url}
        role: pod
        namespaces: {{names: [shop, monitoring]}}
        selectors:
          - {{role: pod, label: 'app=web', field: 'spec.nodeName=node-a'}}
          - {{role: node, label: 'kubernetes.io/hostname=node-a'}}
        attach_metadata: {{node: true}}
  - job_name: broken
    kubernetes_sd_configs:
      - {{role: node, kubeconfig_file: /nonexistent/kubeconfig}}
alerting:
  alertmanagers:
    - kubernetes_sd_configs:
        - api_server: {url}
          role: pod
          namespaces: {{names: [monitoring]}}
"
    );
    let s = Server::start(Some(&config), &[]);
    wait_count(&s, "nodes-via-kubeconfig", 2);
    // Pods a1 and c3 run on node-a: 4 targets each.
    wait_count(&s, "web-on-node-a", 8);
    let t = find(
        &s,
        "web-on-node-a",
        "127.0.1.1:9090",
        ("__meta_kubernetes_pod_name", "web-7d4b9-a1"),
    )
    .unwrap();
    has(
        &t,
        "discoveredLabels",
        &[
            ("__meta_kubernetes_node_name", "node-a"),
            (
                "__meta_kubernetes_node_label_topology_kubernetes_io_zone",
                "zone-a",
            ),
        ],
    );

    let requests = api.requests();
    let asked = |path: &str, params: &[(&str, &str)]| {
        requests.iter().any(|r| {
            let Ok(u) = reqwest::Url::parse(&format!("http://x{r}")) else {
                return false;
            };
            let q: BTreeMap<String, String> = u.query_pairs().into_owned().collect();
            u.path() == path
                && params
                    .iter()
                    .all(|(k, v)| q.get(*k).map(String::as_str) == Some(*v))
        })
    };
    for ns in ["shop", "monitoring"] {
        let path = format!("/api/v1/namespaces/{ns}/pods");
        let sel = [
            ("labelSelector", "app=web"),
            ("fieldSelector", "spec.nodeName=node-a"),
        ];
        assert!(
            asked(&path, &[&sel[..], &[("limit", "500")]].concat()),
            "list {path} in {requests:#?}"
        );
        assert!(
            asked(
                &path,
                &[&sel[..], &[("watch", "1"), ("allowWatchBookmarks", "true")]].concat()
            ),
            "watch {path}"
        );
    }
    assert!(asked(
        "/api/v1/nodes",
        &[("labelSelector", "kubernetes.io/hostname=node-a")]
    ));
    assert!(
        !requests.iter().any(|r| r.starts_with("/api/v1/pods")),
        "no cluster-wide pod list: {requests:#?}"
    );

    // The Alertmanager set found prometheus-0's port.
    poll(20, "discovered Alertmanager", || {
        let v = s.api("/api/v1/alertmanagers", &[]);
        let urls: Vec<String> = v["activeAlertmanagers"]
            .as_array()?
            .iter()
            .filter_map(|a| a["url"].as_str().map(str::to_string))
            .collect();
        (urls == ["http://127.0.2.1:9090/api/v2/alerts"]).then_some(())
    });

    // The entry without a usable kubeconfig is counted, and the rest runs.
    assert_eq!(
        s.self_metric("prometheus_sd_failed_configs", &["name=\"scrape\""]),
        Some(1.0)
    );
    assert_eq!(
        s.self_metric("prometheus_sd_failed_configs", &["name=\"notify\""]),
        Some(0.0)
    );
    assert!(targets(&s, "broken").0.is_empty());
}

/// Discovered labels of one target: `__address__` and `__meta_kubernetes_*`.
type Labels = BTreeMap<String, String>;

/// The discovered labels of every active and dropped target of `job` in a
/// `/api/v1/targets` answer. Empty values are left out: Prometheus drops a
/// label whose value is empty when it builds a target, while
/// VictoriaMetrics shows it (e.g. `__meta_kubernetes_pod_uid` of a pod
/// without a UID), and neither way changes what relabeling sees.
fn discovered_sets(body: &str, job: &str) -> Vec<Labels> {
    let v: Value = serde_json::from_str(body).unwrap();
    let mut out = Vec::new();
    for list in ["activeTargets", "droppedTargets"] {
        for t in v["data"][list].as_array().into_iter().flatten() {
            let d = &t["discoveredLabels"];
            if d["job"] != job {
                continue;
            }
            let labels = d
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| *k == "__address__" || k.starts_with("__meta_kubernetes_"))
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            out.push(labels);
        }
    }
    out
}

/// Labels that name a target within its role; two targets with the same
/// values of these (where set) are the same target. (An Endpoints object
/// is named after its service, so `endpoints_name`, which one side lacks
/// on some targets, is not needed.)
const IDENTITY: &[&str] = &[
    "__address__",
    "__meta_kubernetes_namespace",
    "__meta_kubernetes_node_name",
    "__meta_kubernetes_service_name",
    "__meta_kubernetes_service_port_name",
    "__meta_kubernetes_pod_name",
    "__meta_kubernetes_pod_container_name",
    "__meta_kubernetes_pod_container_port_name",
    "__meta_kubernetes_endpoint_port_name",
    "__meta_kubernetes_endpointslice_name",
    "__meta_kubernetes_endpointslice_port_name",
    "__meta_kubernetes_ingress_name",
    "__meta_kubernetes_ingress_path",
];

fn identity(labels: &Labels) -> String {
    IDENTITY
        .iter()
        .filter_map(|k| labels.get(*k).map(|v| format!("{k}={v:?}")))
        .collect::<Vec<_>>()
        .join(",")
}

/// The kind of target the allow-lists below name: the role, or for the
/// endpoint roles' targets made from a pod's container port that no
/// endpoint port covers, `<role> pod port`.
fn kind(role: &str, labels: &Labels) -> String {
    let covered = labels.contains_key("__meta_kubernetes_endpoint_port_name")
        || labels.contains_key("__meta_kubernetes_endpointslice_port_name");
    if role.starts_with("endpoint") && !covered {
        format!("{role} pod port")
    } else {
        role.to_string()
    }
}

/// Label names allowed on one side only, by [`kind`] of target; `*` ends a
/// prefix.
type Gaps = &'static [(&'static str, &'static [&'static str])];

/// Labels Prometheus 3.x sets (upstream's unit cases say so) and
/// VictoriaMetrics 1.79 does not. Listed in `docs/compatibility.md`.
const ONLY_PROMETHEUS: Gaps = &[
    ("node", &["__meta_kubernetes_node_condition_*"]),
    (
        "service",
        &[
            "__meta_kubernetes_service_port_number",
            "__meta_kubernetes_service_loadbalancer_ip",
        ],
    ),
    (
        "pod",
        &[
            "__meta_kubernetes_pod_container_id",
            "__meta_kubernetes_pod_container_image",
        ],
    ),
    (
        "endpoints",
        &[
            "__meta_kubernetes_pod_container_image",
            "__meta_kubernetes_pod_container_init",
        ],
    ),
    // Prometheus gives every target of an Endpoints object its group's
    // labels; VictoriaMetrics leaves them off targets of uncovered ports.
    // (The cluster's EndpointSlice covers every port, so the endpointslice
    // role has no such targets here.)
    (
        "endpoints pod port",
        &[
            "__meta_kubernetes_endpoints_*",
            "__meta_kubernetes_pod_container_image",
            "__meta_kubernetes_pod_container_init",
        ],
    ),
    (
        "endpointslice",
        &[
            "__meta_kubernetes_pod_container_image",
            "__meta_kubernetes_pod_container_init",
            "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
            "__meta_kubernetes_endpointslice_endpoint_node_name",
            "__meta_kubernetes_endpointslice_endpoint_zone",
        ],
    ),
];

/// Labels VictoriaMetrics 1.79 sets and Prometheus 3.x does not: in the
/// endpoint roles Prometheus adds the service's metadata only, no spec.
const ONLY_VICTORIA_METRICS: Gaps = &[
    (
        "endpoints",
        &[
            "__meta_kubernetes_service_cluster_ip",
            "__meta_kubernetes_service_type",
        ],
    ),
    (
        "endpoints pod port",
        &[
            "__meta_kubernetes_service_cluster_ip",
            "__meta_kubernetes_service_type",
        ],
    ),
    (
        "endpointslice",
        &[
            "__meta_kubernetes_service_cluster_ip",
            "__meta_kubernetes_service_type",
        ],
    ),
];

/// The entry of `gaps` that allows `label` on a target of `kind`.
fn allowed(gaps: Gaps, kind: &str, label: &str) -> Option<(&'static str, &'static str)> {
    let (kind, names) = gaps.iter().find(|(k, _)| *k == kind)?;
    let name = names.iter().find(|n| match n.strip_suffix('*') {
        Some(prefix) => label.starts_with(prefix),
        None => label == **n,
    })?;
    Some((kind, name))
}

/// Targets only Prometheus 3.x makes: in the endpoint roles, ports of
/// init containers (native sidecars) that no endpoint port covers.
fn only_prometheus_target(role: &str, labels: &Labels) -> bool {
    role.starts_with("endpoint")
        && labels
            .get("__meta_kubernetes_pod_container_init")
            .map(String::as_str)
            == Some("true")
}

/// Allow-list entries one comparison needed.
type Used = BTreeSet<(&'static str, &'static str)>;

/// Compares the targets of one role; `Err` lists every disagreement.
/// `Ok` gives the number of targets both found and the allow-list entries
/// that were needed.
fn compare(role: &str, ours: &[Labels], theirs: &[Labels]) -> Result<(usize, Used), String> {
    let index = |sets: &[Labels], side: &str| -> Result<BTreeMap<String, Labels>, String> {
        let mut m = BTreeMap::new();
        for l in sets {
            if m.insert(identity(l), l.clone()).is_some() {
                return Err(format!("{side}: two targets named {}", identity(l)));
            }
        }
        Ok(m)
    };
    let ours = index(ours, "ours")?;
    let theirs = index(theirs, "VictoriaMetrics")?;
    let mut problems = Vec::new();
    let mut used = Used::new();
    // Records the allow-list entry a one-sided label needs, or says there
    // is none.
    let mut gap = |list, kind: &str, k: &str, v: &str, id: &str, side: &str| {
        let entry = allowed(list, kind, k);
        used.extend(entry);
        entry
            .is_none()
            .then(|| format!("{id}: {k}={v:?} only {side}"))
    };
    let mut targets_only_ours = Vec::new();
    for (id, o) in &ours {
        let Some(t) = theirs.get(id) else {
            targets_only_ours.push((id, o));
            continue;
        };
        let kind = kind(role, o);
        for (k, v) in o {
            match t.get(k) {
                Some(tv) if tv != v => {
                    problems.push(format!("{id}: {k} ours {v:?}, VM {tv:?}"));
                }
                None => problems.extend(gap(ONLY_PROMETHEUS, &kind, k, v, id, "ours")),
                _ => {}
            }
        }
        for (k, v) in t.iter().filter(|(k, _)| !o.contains_key(*k)) {
            problems.extend(gap(ONLY_VICTORIA_METRICS, &kind, k, v, id, "VM"));
        }
    }
    for (id, o) in targets_only_ours {
        if !only_prometheus_target(role, o) {
            problems.push(format!("only ours: {id}"));
        }
    }
    for id in theirs.keys().filter(|id| !ours.contains_key(*id)) {
        problems.push(format!("only VM: {id}"));
    }
    let both = ours.keys().filter(|id| theirs.contains_key(*id)).count();
    if both == 0 {
        problems.push("no target found by both".into());
    }
    if problems.is_empty() {
        Ok((both, used))
    } else {
        Err(problems.join("\n"))
    }
}

/// VictoriaMetrics 1.79, on the same fake API server, as a second opinion:
/// for every role, the same targets with the same values of every label
/// both set; a label or target only one side has must be a known gap of
/// VictoriaMetrics (or its extra), listed above.
#[test]
fn victoriametrics_discovers_the_same_labels() {
    let Some(vm_bin) = common::peers::require("victoria-metrics") else {
        return;
    };
    let api = KubeApi::start();
    cluster::seed(&api);
    let roles = [
        "node",
        "service",
        "pod",
        "endpoints",
        "endpointslice",
        "ingress",
    ];
    // Every target is dropped: nothing is scraped (service and ingress
    // targets name hosts off this machine), and both list every target SD
    // makes among the dropped ones, with its discovered labels (active
    // targets sharing an address would be merged by Prometheus's rules).
    let mut config = String::from("global: {scrape_interval: 1h}\nscrape_configs:\n");
    for role in roles {
        config.push_str(&format!(
            "  - job_name: k8s-{role}
    kubernetes_sd_configs: [{{role: {role}, api_server: '{}'}}]
    relabel_configs: [{{action: drop, source_labels: [__address__], regex: '.*'}}]
",
            api.url()
        ));
    }
    let ours = Server::start(Some(&config), &[]);
    let vm = common::peers::Peer::victoria_metrics_scraping(&vm_bin, &config);
    let mut all_used = Used::new();
    for role in roles {
        let job = format!("k8s-{role}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let (both, used) = loop {
            let o = discovered_sets(&ours.get("/api/v1/targets", &[]).1, &job);
            let t = discovered_sets(&vm.get("/api/v1/targets", &[]).1, &job);
            let problems = match compare(role, &o, &t) {
                Ok(agreement) => break agreement,
                Err(e) => e,
            };
            assert!(
                std::time::Instant::now() < deadline,
                "{job}: ours and VictoriaMetrics disagree:\n{problems}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        all_used.extend(used);
        println!("{job}: {both} targets agree");
    }
    // The allow-lists hold only gaps this cluster shows.
    let unused: Vec<_> = ONLY_PROMETHEUS
        .iter()
        .chain(ONLY_VICTORIA_METRICS)
        .flat_map(|(kind, names)| names.iter().map(move |n| (*kind, *n)))
        .filter(|e| !all_used.contains(e))
        .collect();
    assert!(unused.is_empty(), "allowed but never needed: {unused:?}");
}
