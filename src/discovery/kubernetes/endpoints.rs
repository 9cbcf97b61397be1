//! Role `endpoints`: one group per `v1` Endpoints object, one target per
//! address and port (ready and not-ready addresses alike, told apart by
//! `_endpoint_ready`), with the labels of the same-named service and of
//! the pods behind the addresses, plus a target for each container port of
//! those pods that no address covered.

use std::collections::BTreeMap;

use super::backing_pods::BackingPods;
use super::labels::{add_object_meta, join_host_port, meta_label, NAMESPACE_LABEL};
use super::lookup::{add_namespace_meta_of, add_node_meta, Attach, Lookup};
use super::objects::{EndpointAddress, EndpointPort, Endpoints};
use super::service::service_labels;
use crate::discovery::{TargetGroup, ADDRESS_LABEL};

/// The group of `ep`, source `endpoints/<namespace>/<name>`.
pub(crate) fn target_group(ep: &Endpoints, lookup: &dyn Lookup, attach: Attach) -> TargetGroup {
    let meta = &ep.metadata;
    let mut labels = BTreeMap::from([(NAMESPACE_LABEL.to_string(), meta.namespace.clone())]);
    // An Endpoints object is named after the service it serves.
    if let Some(svc) = lookup.service(&meta.namespace, &meta.name) {
        labels.extend(service_labels(svc));
    }
    add_object_meta(&mut labels, meta, "endpoints");
    if attach.namespace {
        add_namespace_meta_of(&mut labels, lookup, &meta.namespace);
    }

    let mut pods = BackingPods::new(lookup, attach);
    let mut targets = Vec::new();
    for subset in &ep.subsets {
        for port in &subset.ports {
            // An address listed in both gets two targets, as in Prometheus.
            let addresses = [
                (&subset.addresses, true),
                (&subset.not_ready_addresses, false),
            ];
            for (list, ready) in addresses {
                for address in list {
                    let mut target = address_target(address, port, ready, lookup, attach);
                    pods.label(
                        &mut target,
                        address.target_ref.as_ref(),
                        Some(port.port),
                        Some(&port.protocol),
                    );
                    targets.push(target);
                }
            }
        }
    }
    targets.extend(pods.uncovered_port_targets());

    TargetGroup {
        source: format!("endpoints/{}/{}", meta.namespace, meta.name),
        targets,
        labels,
    }
}

/// The `endpoint_*` labels of `address` with `port`, and its node's labels
/// as `attach` asks: the node it names, else the Node it points at.
fn address_target(
    address: &EndpointAddress,
    port: &EndpointPort,
    ready: bool,
    lookup: &dyn Lookup,
    attach: Attach,
) -> BTreeMap<String, String> {
    let mut target = BTreeMap::from([
        (
            ADDRESS_LABEL.to_string(),
            join_host_port(&address.ip, port.port),
        ),
        (meta_label("endpoint_port_name"), port.name.clone()),
        (meta_label("endpoint_port_protocol"), port.protocol.clone()),
        (meta_label("endpoint_ready"), ready.to_string()),
    ]);
    if let Some(r) = &address.target_ref {
        target.insert(meta_label("endpoint_address_target_kind"), r.kind.clone());
        target.insert(meta_label("endpoint_address_target_name"), r.name.clone());
    }
    if let Some(node) = &address.node_name {
        target.insert(meta_label("endpoint_node_name"), node.clone());
    }
    if !address.hostname.is_empty() {
        target.insert(meta_label("endpoint_hostname"), address.hostname.clone());
    }
    if attach.node {
        let node_ref = address.target_ref.as_ref().filter(|r| r.kind == "Node");
        let node = address
            .node_name
            .as_deref()
            .or(node_ref.map(|r| r.name.as_str()));
        if let Some(node) = node {
            add_node_meta(&mut target, lookup, node);
        }
    }
    target
}

#[cfg(test)]
mod tests {
    //! Upstream's endpoints cases (Prometheus
    //! `discovery/kubernetes/endpoints_test.go`), each reduced to the
    //! stores' state after its events → the group Prometheus last sent.

    use serde_json::{json, Value};

    use super::super::deleted;
    use super::super::test_support::{
        backend_namespace, backend_namespace_updated, backing_pod, backing_pod_labels,
        container_json, container_port_labels, group, labels, namespace_store, node, node_store,
        object, service_store, target, with_labels, with_node_labels, Store, ATTACH_NAMESPACE,
        ATTACH_NODE, ATTACH_NONE, SERVICE_TEST_LABELS, SERVICE_UPDATED_LABELS,
    };
    use super::*;

    /// Upstream's `makeEndpoints`: three subsets, the first address with a
    /// hostname and node name, one address both ready and not ready, one
    /// pointing at Node `barbaz`.
    fn endpoints(ns: &str) -> Endpoints {
        object(json!({
            "metadata": {
                "name": "testendpoints",
                "namespace": ns,
                "annotations": {"test.annotation": "test"},
            },
            "subsets": [
                {
                    "addresses": [{"ip": "1.2.3.4", "hostname": "testendpoint1", "nodeName": "foobar"}],
                    "ports": [{"name": "testport", "port": 9000, "protocol": "TCP"}],
                },
                {
                    "addresses": [{"ip": "2.3.4.5"}],
                    "notReadyAddresses": [{"ip": "2.3.4.5"}],
                    "ports": [{"name": "testport", "port": 9001, "protocol": "TCP"}],
                },
                {
                    "addresses": [{"ip": "6.7.8.9", "targetRef": {"kind": "Node", "name": "barbaz"}}],
                    "ports": [{"name": "testport", "port": 9002, "protocol": "TCP"}],
                },
            ],
        }))
    }

    /// The group of `endpoints(ns)` with no other object known, plus
    /// `extra` group labels.
    fn expected(ns: &str, extra: &[(&str, &str)]) -> TargetGroup {
        let g = group(
            &format!("endpoints/{ns}/testendpoints"),
            &[
                &[
                    ("__address__", "1.2.3.4:9000"),
                    ("__meta_kubernetes_endpoint_hostname", "testendpoint1"),
                    ("__meta_kubernetes_endpoint_node_name", "foobar"),
                    ("__meta_kubernetes_endpoint_port_name", "testport"),
                    ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
                    ("__meta_kubernetes_endpoint_ready", "true"),
                ],
                &[
                    ("__address__", "2.3.4.5:9001"),
                    ("__meta_kubernetes_endpoint_port_name", "testport"),
                    ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
                    ("__meta_kubernetes_endpoint_ready", "true"),
                ],
                &[
                    ("__address__", "2.3.4.5:9001"),
                    ("__meta_kubernetes_endpoint_port_name", "testport"),
                    ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
                    ("__meta_kubernetes_endpoint_ready", "false"),
                ],
                &[
                    ("__address__", "6.7.8.9:9002"),
                    ("__meta_kubernetes_endpoint_address_target_kind", "Node"),
                    ("__meta_kubernetes_endpoint_address_target_name", "barbaz"),
                    ("__meta_kubernetes_endpoint_port_name", "testport"),
                    ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
                    ("__meta_kubernetes_endpoint_ready", "true"),
                ],
            ],
            &[
                ("__meta_kubernetes_namespace", ns),
                ("__meta_kubernetes_endpoints_name", "testendpoints"),
                (
                    "__meta_kubernetes_endpoints_annotation_test_annotation",
                    "test",
                ),
                (
                    "__meta_kubernetes_endpoints_annotationpresent_test_annotation",
                    "true",
                ),
            ],
        );
        with_labels(g, extra)
    }

    /// An Endpoints object `name` in `ns` with one ready address 4.3.2.1
    /// pointing at Pod `testpod`, and the given ports.
    fn pod_endpoints(ns: &str, name: &str, ports: Value) -> Endpoints {
        object(json!({
            "metadata": {"name": name, "namespace": ns},
            "subsets": [{
                "addresses": [{
                    "ip": "4.3.2.1",
                    "targetRef": {"kind": "Pod", "name": "testpod", "namespace": ns},
                }],
                "ports": ports,
            }],
        }))
    }

    /// The `endpoint_*` labels of a target at `address` (4.3.2.1, Pod
    /// `testpod`) with endpoint port `port_name`.
    fn pod_address(
        port_name: &'static str,
        address: &'static str,
    ) -> Vec<(&'static str, &'static str)> {
        vec![
            ("__address__", address),
            ("__meta_kubernetes_endpoint_port_name", port_name),
            ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
            ("__meta_kubernetes_endpoint_ready", "true"),
            ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
            ("__meta_kubernetes_endpoint_address_target_name", "testpod"),
        ]
    }

    /// A group of `source` with the given targets and the group labels of
    /// an Endpoints object `name` in `ns` and nothing else.
    fn plain_group(ns: &str, name: &str, targets: Vec<BTreeMap<String, String>>) -> TargetGroup {
        TargetGroup {
            source: format!("endpoints/{ns}/{name}"),
            targets,
            labels: labels(&[
                ("__meta_kubernetes_namespace", ns),
                ("__meta_kubernetes_endpoints_name", name),
            ]),
        }
    }

    /// Endpoint ports: `(name, port, protocol)`.
    fn ports(list: &[(&str, i32, &str)]) -> Value {
        list.iter()
            .map(|(name, port, protocol)| json!({"name": name, "port": port, "protocol": protocol}))
            .collect()
    }

    #[test]
    fn endpoints_discovery_before_run() {
        let got = target_group(&endpoints("default"), &Store::default(), ATTACH_NONE);
        assert_eq!(got, expected("default", &[]));
    }

    #[test]
    fn endpoints_discovery_add() {
        let store = Store {
            pods: vec![backing_pod(
                "default",
                "1.2.3.4",
                json!([
                    container_json("c1", "mainport", 9000),
                    container_json("c2", "sideport", 9001)
                ]),
                Value::Null,
            )],
            ..Store::default()
        };
        let ep = pod_endpoints(
            "default",
            "testendpoints",
            ports(&[("testport", 9000, "TCP")]),
        );
        let pod_labels = backing_pod_labels("1.2.3.4");
        let want = plain_group(
            "default",
            "testendpoints",
            vec![
                target(&[
                    &pod_address("testport", "4.3.2.1:9000"),
                    &pod_labels,
                    &container_port_labels("c1", "c1:latest", "mainport", "9000", "false"),
                ]),
                target(&[
                    &[("__address__", "1.2.3.4:9001")],
                    &pod_labels,
                    &container_port_labels("c2", "c2:latest", "sideport", "9001", "false"),
                ]),
            ],
        );
        assert_eq!(target_group(&ep, &store, ATTACH_NONE), want);
    }

    #[test]
    fn endpoints_discovery_delete() {
        let before = target_group(&endpoints("default"), &Store::default(), ATTACH_NONE);
        assert_eq!(
            deleted(before.source),
            group("endpoints/default/testendpoints", &[], &[])
        );
    }

    #[test]
    fn endpoints_discovery_update() {
        let ep: Endpoints = object(json!({
            "metadata": {"name": "testendpoints", "namespace": "default"},
            "subsets": [
                {"addresses": [{"ip": "1.2.3.4"}], "ports": ports(&[("testport", 9000, "TCP")])},
                {"addresses": [{"ip": "2.3.4.5"}], "ports": ports(&[("testport", 9001, "TCP")])},
            ],
        }));
        let plain = |address| {
            target(&[&[
                ("__address__", address),
                ("__meta_kubernetes_endpoint_port_name", "testport"),
                ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
                ("__meta_kubernetes_endpoint_ready", "true"),
            ]])
        };
        let want = plain_group(
            "default",
            "testendpoints",
            vec![plain("1.2.3.4:9000"), plain("2.3.4.5:9001")],
        );
        assert_eq!(target_group(&ep, &Store::default(), ATTACH_NONE), want);
    }

    #[test]
    fn endpoints_discovery_empty_subsets() {
        let ep: Endpoints = object(json!({
            "metadata": {"name": "testendpoints", "namespace": "default"},
            "subsets": [],
        }));
        let want = plain_group("default", "testendpoints", vec![]);
        assert_eq!(target_group(&ep, &Store::default(), ATTACH_NONE), want);
    }

    #[test]
    fn endpoints_discovery_with_service() {
        let store = service_store(json!({"app/name": "test"}));
        let got = target_group(&endpoints("default"), &store, ATTACH_NONE);
        assert_eq!(got, expected("default", &SERVICE_TEST_LABELS));
    }

    #[test]
    fn endpoints_discovery_with_service_update() {
        let store = service_store(json!({"app/name": "svc", "component": "testing"}));
        let want = expected("default", &SERVICE_UPDATED_LABELS);
        assert_eq!(
            target_group(&endpoints("default"), &store, ATTACH_NONE),
            want
        );
    }

    #[test]
    fn endpoints_discovery_with_node_metadata() {
        let got = target_group(&endpoints("default"), &node_store("us-east1"), ATTACH_NODE);
        assert_eq!(
            got,
            with_node_labels(expected("default", &SERVICE_TEST_LABELS), "us-east1")
        );
    }

    #[test]
    fn endpoints_discovery_with_updated_node_metadata() {
        // Node `foobar` changes `az` from us-east1 to eu-central1, yet the
        // group upstream expects last is the one from before: Prometheus
        // rebuilds an Endpoints group on a node event only through its
        // node index, which holds the node of an address pointing at a Pod
        // (its `nodeName`) or at a Node, and 1.2.3.4 points at nothing.
        let sent = target_group(&endpoints("default"), &node_store("us-east1"), ATTACH_NODE);
        assert_eq!(
            sent,
            with_node_labels(expected("default", &SERVICE_TEST_LABELS), "us-east1")
        );
        // Whenever the group is rebuilt, it carries the node's new labels.
        let store = node_store("eu-central1");
        let rebuilt = target_group(&endpoints("default"), &store, ATTACH_NODE);
        assert_eq!(
            rebuilt,
            with_node_labels(expected("default", &SERVICE_TEST_LABELS), "eu-central1")
        );
    }

    #[test]
    fn endpoints_discovery_namespaces() {
        let store = Store {
            services: vec![object(json!({
                "metadata": {"name": "testendpoints", "namespace": "ns1", "labels": {"app": "app1"}},
            }))],
            pods: vec![backing_pod(
                "ns2",
                "4.3.2.1",
                json!([container_json("c1", "mainport", 9000)]),
                Value::Null,
            )],
            ..Store::default()
        };
        let want = expected(
            "ns1",
            &[
                ("__meta_kubernetes_service_label_app", "app1"),
                ("__meta_kubernetes_service_labelpresent_app", "true"),
                ("__meta_kubernetes_service_name", "testendpoints"),
            ],
        );
        assert_eq!(target_group(&endpoints("ns1"), &store, ATTACH_NONE), want);

        let ep = pod_endpoints("ns2", "testendpoints", ports(&[("testport", 9000, "TCP")]));
        let want = plain_group(
            "ns2",
            "testendpoints",
            vec![target(&[
                &pod_address("testport", "4.3.2.1:9000"),
                &backing_pod_labels("4.3.2.1"),
                &container_port_labels("c1", "c1:latest", "mainport", "9000", "false"),
            ])],
        );
        assert_eq!(target_group(&ep, &store, ATTACH_NONE), want);
    }

    #[test]
    fn endpoints_discovery_own_namespace() {
        // The pod in `own-ns` is no address's target: it adds nothing.
        let store = Store {
            pods: vec![backing_pod(
                "own-ns",
                "4.3.2.1",
                json!([container_json("p1", "mainport", 9000)]),
                Value::Null,
            )],
            ..Store::default()
        };
        let got = target_group(&endpoints("own-ns"), &store, ATTACH_NONE);
        assert_eq!(got, expected("own-ns", &[]));
    }

    #[test]
    fn endpoints_discovery_update_pod() {
        // The pod became ready and Running after the Endpoints was built.
        let mut pod_json = json!({
            "metadata": {"name": "testpod", "namespace": "default", "uid": "deadbeef"},
            "spec": {"nodeName": "testnode", "containers": [container_json("c1", "mainport", 9000)]},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
                "hostIP": "2.3.4.5",
                "podIP": "4.3.2.1",
            },
        });
        let ep = pod_endpoints(
            "default",
            "testendpoints",
            ports(&[("mainport", 9000, "TCP")]),
        );
        let mut pod_labels = backing_pod_labels("4.3.2.1");
        pod_labels[2].1 = "true";
        pod_labels[3].1 = "Running";
        let want = plain_group(
            "default",
            "testendpoints",
            vec![target(&[
                &pod_address("mainport", "4.3.2.1:9000"),
                &pod_labels,
                &container_port_labels("c1", "c1:latest", "mainport", "9000", "false"),
            ])],
        );
        let store = Store {
            pods: vec![object(pod_json.clone())],
            ..Store::default()
        };
        assert_eq!(target_group(&ep, &store, ATTACH_NONE), want);

        // Before, while Pending and not ready:
        pod_json["status"]["phase"] = json!("Pending");
        pod_json["status"]["conditions"] = json!([{"type": "Ready", "status": "False"}]);
        let store = Store {
            pods: vec![object(pod_json)],
            ..Store::default()
        };
        let before = target_group(&ep, &store, ATTACH_NONE);
        assert_eq!(before.targets[0]["__meta_kubernetes_pod_ready"], "false");
        assert_eq!(before.targets[0]["__meta_kubernetes_pod_phase"], "Pending");
    }

    #[test]
    fn endpoints_discovery_sidecar_container() {
        let store = Store {
            pods: vec![backing_pod(
                "default",
                "4.3.2.1",
                json!([container_json("c1", "mainport", 9000)]),
                json!([
                    container_json("ic1", "initport", 1111),
                    container_json("ic2", "initport", 9111)
                ]),
            )],
            ..Store::default()
        };
        let ep = pod_endpoints(
            "default",
            "testsidecar",
            ports(&[("testport", 9000, "TCP"), ("initport", 9111, "TCP")]),
        );
        let pod_labels = backing_pod_labels("4.3.2.1");
        let want = plain_group(
            "default",
            "testsidecar",
            vec![
                target(&[
                    &pod_address("testport", "4.3.2.1:9000"),
                    &pod_labels,
                    &container_port_labels("c1", "c1:latest", "mainport", "9000", "false"),
                ]),
                target(&[
                    &pod_address("initport", "4.3.2.1:9111"),
                    &pod_labels,
                    &container_port_labels("ic2", "ic2:latest", "initport", "9111", "true"),
                ]),
                target(&[
                    &[("__address__", "4.3.2.1:1111")],
                    &pod_labels,
                    &container_port_labels("ic1", "ic1:latest", "initport", "1111", "true"),
                ]),
            ],
        );
        assert_eq!(target_group(&ep, &store, ATTACH_NONE), want);
    }

    #[test]
    fn endpoints_discovery_with_namespace_metadata() {
        let (ns, attached) = backend_namespace();
        let got = target_group(
            &endpoints("test-ns"),
            &namespace_store(ns),
            ATTACH_NAMESPACE,
        );
        assert_eq!(got, expected("test-ns", attached));
    }

    #[test]
    fn endpoints_discovery_with_updated_namespace_metadata() {
        let (ns, attached) = backend_namespace_updated();
        let got = target_group(
            &endpoints("test-ns"),
            &namespace_store(ns),
            ATTACH_NAMESPACE,
        );
        assert_eq!(got, expected("test-ns", attached));
    }

    #[test]
    fn resolve_pod_ref() {
        // Upstream's benchmark resolves a Pod reference the store does not
        // hold: the address stays a plain target.
        let ep = pod_endpoints("foo", "testendpoints", ports(&[("testport", 9000, "TCP")]));
        let got = target_group(&ep, &Store::default(), ATTACH_NONE);
        let want = vec![target(&[&pod_address("testport", "4.3.2.1:9000")])];
        assert_eq!(got.targets, want);
    }

    #[test]
    fn endpoint_protocol_labels_a_matched_container_port() {
        // Both DNS ports match the container port 53 (TCP by default); each
        // target's container port protocol is its endpoint port's, as in
        // Prometheus.
        let dns = json!([{"name": "dns", "image": "dns:1", "ports": [{"name": "dns", "containerPort": 53}]}]);
        let store = Store {
            pods: vec![backing_pod("default", "4.3.2.1", dns, Value::Null)],
            ..Store::default()
        };
        let ep = pod_endpoints(
            "default",
            "dns",
            ports(&[("tcp", 53, "TCP"), ("udp", 53, "UDP")]),
        );
        let got = target_group(&ep, &store, ATTACH_NONE);
        let protocols: Vec<&str> = got
            .targets
            .iter()
            .map(|t| t["__meta_kubernetes_pod_container_port_protocol"].as_str())
            .collect();
        assert_eq!(protocols, ["TCP", "UDP"]);
    }

    #[test]
    fn last_container_declaring_the_port_labels_the_target() {
        // Two containers declare 8080: Prometheus's matching loop lets the
        // later one's labels stand.
        let both = json!([
            container_json("a", "http", 8080),
            container_json("b", "web", 8080)
        ]);
        let store = Store {
            pods: vec![backing_pod("default", "4.3.2.1", both, Value::Null)],
            ..Store::default()
        };
        let ep = pod_endpoints("default", "web", ports(&[("web", 8080, "TCP")]));
        let got = target_group(&ep, &store, ATTACH_NONE);
        assert_eq!(got.targets.len(), 1);
        assert_eq!(got.targets[0]["__meta_kubernetes_pod_container_name"], "b");
    }

    #[test]
    fn address_node_labels_prefer_the_node_name() {
        // An address naming node `a` but pointing at Node `b` gets `a`'s
        // labels (the endpointslice role prefers the reference instead).
        let ep: Endpoints = object(json!({
            "metadata": {"name": "kubelet", "namespace": "kube-system"},
            "subsets": [{
                "addresses": [{"ip": "1.1.1.1", "nodeName": "a", "targetRef": {"kind": "Node", "name": "b"}}],
                "ports": ports(&[("https-metrics", 10250, "TCP")]),
            }],
        }));
        let store = Store {
            nodes: vec![node("a", json!({})), node("b", json!({}))],
            ..Store::default()
        };
        let got = target_group(&ep, &store, ATTACH_NODE);
        assert_eq!(got.targets[0]["__meta_kubernetes_node_name"], "a");
    }
}
