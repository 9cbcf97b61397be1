//! Role `endpointslice`: one group per `discovery.k8s.io/v1` EndpointSlice,
//! one target per endpoint address and port, labelled with what the slice
//! states (conditions, hostname, node, zone, topology, port app protocol),
//! the labels of the service named by its `kubernetes.io/service-name`
//! label and of the pods behind the addresses, plus a target for each
//! container port of those pods that no address covered.

use std::collections::BTreeMap;

use super::backing_pods::BackingPods;
use super::labels::{add_object_meta, join_host_port, meta_label, sanitize, NAMESPACE_LABEL};
use super::lookup::{add_namespace_meta_of, add_node_meta, Attach, Lookup};
use super::objects::{Endpoint, EndpointSlice, EndpointSlicePort, Service, SERVICE_NAME_LABEL};
use super::service::service_labels;
use crate::discovery::{TargetGroup, ADDRESS_LABEL};

/// The group of `slice`, source `endpointslice/<namespace>/<name>`.
pub(crate) fn target_group(
    slice: &EndpointSlice,
    lookup: &dyn Lookup,
    attach: Attach,
) -> TargetGroup {
    let meta = &slice.metadata;
    let mut labels = BTreeMap::from([
        (NAMESPACE_LABEL.to_string(), meta.namespace.clone()),
        (
            meta_label("endpointslice_address_type"),
            slice.address_type.clone(),
        ),
    ]);
    add_object_meta(&mut labels, meta, "endpointslice");
    let service = meta
        .labels
        .get(SERVICE_NAME_LABEL)
        .and_then(|name| lookup.service(&meta.namespace, name));
    if let Some(svc) = service {
        labels.extend(service_labels(svc));
    }
    if attach.namespace {
        add_namespace_meta_of(&mut labels, lookup, &meta.namespace);
    }
    let mut group = TargetGroup {
        source: format!("endpointslice/{}/{}", meta.namespace, meta.name),
        targets: Vec::new(),
        labels,
    };
    if service.is_some_and(|svc| secondary_family(svc, slice)) {
        return group;
    }

    let mut pods = BackingPods::new(lookup, attach);
    for endpoint in &slice.endpoints {
        for port in &slice.ports {
            for address in &endpoint.addresses {
                let mut target = address_target(address, endpoint, port, lookup, attach);
                pods.label(&mut target, endpoint.target_ref.as_ref(), port.port, None);
                group.targets.push(target);
            }
        }
    }
    group.targets.extend(pods.uncovered_port_targets());
    group
}

/// Whether `slice` holds the secondary IP family of a dual-stack service:
/// its addresses are the primary slice's pods again, so Prometheus gives
/// it no targets rather than scrape each pod twice.
fn secondary_family(svc: &Service, slice: &EndpointSlice) -> bool {
    let spec = &svc.spec;
    let dual = matches!(
        spec.ip_family_policy.as_deref(),
        Some("PreferDualStack" | "RequireDualStack")
    );
    // The primary family is first and cannot change.
    dual && spec
        .ip_families
        .first()
        .is_some_and(|primary| *primary != slice.address_type)
}

/// The `endpointslice_*` labels of `address` of `endpoint` with `port`,
/// each only if the slice sets the field, and its node's labels as
/// `attach` asks: the Node it points at, else the node it names.
fn address_target(
    address: &str,
    endpoint: &Endpoint,
    port: &EndpointSlicePort,
    lookup: &dyn Lookup,
    attach: Attach,
) -> BTreeMap<String, String> {
    let host_port = match port.port {
        Some(p) => join_host_port(address, p),
        None => address.to_string(),
    };
    let mut target = BTreeMap::from([(ADDRESS_LABEL.to_string(), host_port)]);
    let conditions = &endpoint.conditions;
    let optional = [
        ("endpointslice_port_name", port.name.clone()),
        ("endpointslice_port_protocol", port.protocol.clone()),
        ("endpointslice_port", port.port.map(|p| p.to_string())),
        ("endpointslice_port_app_protocol", port.app_protocol.clone()),
        (
            "endpointslice_endpoint_conditions_ready",
            conditions.ready.map(|b| b.to_string()),
        ),
        (
            "endpointslice_endpoint_conditions_serving",
            conditions.serving.map(|b| b.to_string()),
        ),
        (
            "endpointslice_endpoint_conditions_terminating",
            conditions.terminating.map(|b| b.to_string()),
        ),
        ("endpointslice_endpoint_hostname", endpoint.hostname.clone()),
        (
            "endpointslice_address_target_kind",
            endpoint.target_ref.as_ref().map(|r| r.kind.clone()),
        ),
        (
            "endpointslice_address_target_name",
            endpoint.target_ref.as_ref().map(|r| r.name.clone()),
        ),
        (
            "endpointslice_endpoint_node_name",
            endpoint.node_name.clone(),
        ),
        ("endpointslice_endpoint_zone", endpoint.zone.clone()),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            target.insert(meta_label(name), value);
        }
    }
    for (key, value) in &endpoint.deprecated_topology {
        let key = sanitize(key);
        target.insert(
            meta_label(&format!("endpointslice_endpoint_topology_{key}")),
            value.clone(),
        );
        target.insert(
            meta_label(&format!("endpointslice_endpoint_topology_present_{key}")),
            "true".to_string(),
        );
    }
    if attach.node {
        let node_ref = endpoint.target_ref.as_ref().filter(|r| r.kind == "Node");
        let node = node_ref
            .map(|r| r.name.as_str())
            .or(endpoint.node_name.as_deref());
        if let Some(node) = node {
            add_node_meta(&mut target, lookup, node);
        }
    }
    target
}

#[cfg(test)]
mod tests {
    //! Upstream's endpointslice cases (Prometheus
    //! `discovery/kubernetes/endpointslice_test.go`), each reduced to the
    //! stores' state after its events → the group Prometheus last sent.

    use serde_json::{json, Value};

    use super::super::deleted;
    use super::super::test_support::{
        backing_pod, backing_pod_labels, container_json, container_port_labels, endpoints_service,
        group, labels, namespace_store, node, node_store, object, service_store, target,
        web_namespace, web_namespace_updated, with_labels, with_node_labels, Store,
        ATTACH_NAMESPACE, ATTACH_NODE, ATTACH_NONE, SERVICE_TEST_LABELS, SERVICE_UPDATED_LABELS,
    };
    use super::*;

    /// Upstream's `makeEndpointSliceV1`: four endpoints on port 9000 (app
    /// protocol http), the first with every optional field and an empty
    /// target reference, the fourth pointing at Node `barbaz`.
    fn slice_json(ns: &str) -> Value {
        json!({
            "metadata": {
                "name": "testendpoints",
                "namespace": ns,
                "labels": {"kubernetes.io/service-name": "testendpoints"},
                "annotations": {"test.annotation": "test"},
            },
            "addressType": "IPv4",
            "ports": [{"name": "testport", "port": 9000, "protocol": "TCP", "appProtocol": "http"}],
            "endpoints": [
                {
                    "addresses": ["1.2.3.4"],
                    "conditions": {"ready": true, "serving": true, "terminating": false},
                    "hostname": "testendpoint1",
                    "targetRef": {},
                    "nodeName": "foobar",
                    "deprecatedTopology": {"topology": "value"},
                    "zone": "us-east-1a",
                },
                {
                    "addresses": ["2.3.4.5"],
                    "conditions": {"ready": true, "serving": true, "terminating": false},
                    "zone": "us-east-1b",
                },
                {
                    "addresses": ["3.4.5.6"],
                    "conditions": {"ready": false, "serving": true, "terminating": true},
                    "zone": "us-east-1c",
                },
                {
                    "addresses": ["4.5.6.7"],
                    "conditions": {"ready": true, "serving": true, "terminating": false},
                    "targetRef": {"kind": "Node", "name": "barbaz"},
                    "zone": "us-east-1a",
                },
            ],
        })
    }

    fn slice(ns: &str) -> EndpointSlice {
        object(slice_json(ns))
    }

    /// The port labels every target of `slice(_)` has, at `address`.
    fn port_9000(address: &'static str) -> [(&'static str, &'static str); 5] {
        [
            ("__address__", address),
            ("__meta_kubernetes_endpointslice_port", "9000"),
            ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
            ("__meta_kubernetes_endpointslice_port_name", "testport"),
            ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        ]
    }

    /// The `endpoint_conditions_*` labels.
    fn conditions(
        ready: &'static str,
        serving: &'static str,
        terminating: &'static str,
    ) -> [(&'static str, &'static str); 3] {
        [
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
                ready,
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
                serving,
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
                terminating,
            ),
        ]
    }

    /// The targets of `slice(_)`, the first `n` of them.
    fn expected_targets(n: usize) -> Vec<BTreeMap<String, String>> {
        let all = vec![
            target(&[
                &port_9000("1.2.3.4:9000"),
                &conditions("true", "true", "false"),
                &[
                    ("__meta_kubernetes_endpointslice_address_target_kind", ""),
                    ("__meta_kubernetes_endpointslice_address_target_name", ""),
                    (
                        "__meta_kubernetes_endpointslice_endpoint_hostname",
                        "testendpoint1",
                    ),
                    (
                        "__meta_kubernetes_endpointslice_endpoint_node_name",
                        "foobar",
                    ),
                    (
                        "__meta_kubernetes_endpointslice_endpoint_topology_present_topology",
                        "true",
                    ),
                    (
                        "__meta_kubernetes_endpointslice_endpoint_topology_topology",
                        "value",
                    ),
                    (
                        "__meta_kubernetes_endpointslice_endpoint_zone",
                        "us-east-1a",
                    ),
                ],
            ]),
            target(&[
                &port_9000("2.3.4.5:9000"),
                &conditions("true", "true", "false"),
                &[(
                    "__meta_kubernetes_endpointslice_endpoint_zone",
                    "us-east-1b",
                )],
            ]),
            target(&[
                &port_9000("3.4.5.6:9000"),
                &conditions("false", "true", "true"),
                &[(
                    "__meta_kubernetes_endpointslice_endpoint_zone",
                    "us-east-1c",
                )],
            ]),
            target(&[
                &port_9000("4.5.6.7:9000"),
                &conditions("true", "true", "false"),
                &[
                    (
                        "__meta_kubernetes_endpointslice_address_target_kind",
                        "Node",
                    ),
                    (
                        "__meta_kubernetes_endpointslice_address_target_name",
                        "barbaz",
                    ),
                    (
                        "__meta_kubernetes_endpointslice_endpoint_zone",
                        "us-east-1a",
                    ),
                ],
            ]),
        ];
        all.into_iter().take(n).collect()
    }

    /// The group labels of a slice `name` in `ns` without labels or
    /// annotations (or service), plus `extra`.
    fn bare_labels(ns: &str, name: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut l = labels(&[
            ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
            ("__meta_kubernetes_endpointslice_name", name),
            ("__meta_kubernetes_namespace", ns),
        ]);
        l.extend(labels(extra));
        l
    }

    /// The group of `slice(ns)`, plus `extra` group labels.
    fn expected(ns: &str, extra: &[(&str, &str)]) -> TargetGroup {
        let own = [
            (
                "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name",
                "testendpoints",
            ),
            (
                "__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name",
                "true",
            ),
            (
                "__meta_kubernetes_endpointslice_annotation_test_annotation",
                "test",
            ),
            (
                "__meta_kubernetes_endpointslice_annotationpresent_test_annotation",
                "true",
            ),
        ];
        let g = TargetGroup {
            source: format!("endpointslice/{ns}/testendpoints"),
            targets: expected_targets(4),
            labels: bare_labels(ns, "testendpoints", &own),
        };
        with_labels(g, extra)
    }

    /// A slice `name` in `ns` with one endpoint 4.3.2.1 pointing at Pod
    /// `testpod`, with the given conditions, and the given ports.
    fn pod_slice(ns: &str, name: &str, conditions: Value, ports: Value) -> EndpointSlice {
        object(json!({
            "metadata": {"name": name, "namespace": ns},
            "addressType": "IPv4",
            "ports": ports,
            "endpoints": [{
                "addresses": ["4.3.2.1"],
                "targetRef": {"kind": "Pod", "name": "testpod", "namespace": ns},
                "conditions": conditions,
            }],
        }))
    }

    /// The slice labels of a target at `address` (4.3.2.1, Pod `testpod`)
    /// with TCP port `port_name`/`port`.
    fn pod_address(
        address: &'static str,
        port_name: &'static str,
        port: &'static str,
    ) -> [(&'static str, &'static str); 5] {
        [
            ("__address__", address),
            ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
            (
                "__meta_kubernetes_endpointslice_address_target_name",
                "testpod",
            ),
            ("__meta_kubernetes_endpointslice_port", port),
            ("__meta_kubernetes_endpointslice_port_name", port_name),
        ]
    }

    const TCP: (&str, &str) = ("__meta_kubernetes_endpointslice_port_protocol", "TCP");

    fn testport() -> Value {
        json!([{"name": "testport", "port": 9000, "protocol": "TCP"}])
    }

    #[test]
    fn endpoint_slice_discovery_before_run() {
        let got = target_group(&slice("default"), &Store::default(), ATTACH_NONE);
        assert_eq!(got, expected("default", &[]));
    }

    #[test]
    fn endpoint_slice_discovery_add() {
        let store = Store {
            pods: vec![backing_pod(
                "default",
                "1.2.3.4",
                json!([
                    container_json("c1", "mainport", 9000),
                    container_json("c2", "sideport", 9001),
                ]),
                Value::Null,
            )],
            ..Store::default()
        };
        let s = pod_slice(
            "default",
            "testendpoints",
            json!({"ready": false}),
            testport(),
        );
        let pod_labels = backing_pod_labels("1.2.3.4");
        let want = TargetGroup {
            source: "endpointslice/default/testendpoints".into(),
            targets: vec![
                target(&[
                    &pod_address("4.3.2.1:9000", "testport", "9000"),
                    &[TCP],
                    &[(
                        "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
                        "false",
                    )],
                    &pod_labels,
                    &container_port_labels("c1", "c1:latest", "mainport", "9000", "false"),
                ]),
                target(&[
                    &[("__address__", "1.2.3.4:9001")],
                    &pod_labels,
                    &container_port_labels("c2", "c2:latest", "sideport", "9001", "false"),
                ]),
            ],
            labels: bare_labels("default", "testendpoints", &[]),
        };
        assert_eq!(target_group(&s, &store, ATTACH_NONE), want);
    }

    #[test]
    fn endpoint_slice_discovery_delete() {
        let before = target_group(&slice("default"), &Store::default(), ATTACH_NONE);
        assert_eq!(
            deleted(before.source),
            group("endpointslice/default/testendpoints", &[], &[])
        );
    }

    #[test]
    fn endpoint_slice_discovery_update() {
        let mut json = slice_json("default");
        json["metadata"]["labels"] = Value::Null;
        json["metadata"]["annotations"] = Value::Null;
        json["endpoints"].as_array_mut().unwrap().truncate(2);
        let want = TargetGroup {
            source: "endpointslice/default/testendpoints".into(),
            targets: expected_targets(2),
            labels: bare_labels("default", "testendpoints", &[]),
        };
        let got = target_group(&object(json), &Store::default(), ATTACH_NONE);
        assert_eq!(got, want);
    }

    #[test]
    fn endpoint_slice_discovery_empty_endpoints() {
        let mut json = slice_json("default");
        json["endpoints"] = json!([]);
        let mut want = expected("default", &[]);
        want.targets.clear();
        let got = target_group(&object(json), &Store::default(), ATTACH_NONE);
        assert_eq!(got, want);
    }

    #[test]
    fn endpoint_slice_discovery_with_service() {
        let store = service_store(json!({"app/name": "test"}));
        let got = target_group(&slice("default"), &store, ATTACH_NONE);
        assert_eq!(got, expected("default", &SERVICE_TEST_LABELS));
    }

    #[test]
    fn endpoint_slice_discovery_with_service_update() {
        let store = service_store(json!({"app/name": "svc", "component": "testing"}));
        let want = expected("default", &SERVICE_UPDATED_LABELS);
        assert_eq!(target_group(&slice("default"), &store, ATTACH_NONE), want);
    }

    #[test]
    fn endpoints_slices_discovery_with_node_metadata() {
        let got = target_group(&slice("default"), &node_store("us-east1"), ATTACH_NODE);
        assert_eq!(
            got,
            with_node_labels(expected("default", &SERVICE_TEST_LABELS), "us-east1")
        );
    }

    #[test]
    fn endpoints_slices_discovery_with_updated_node_metadata() {
        // Node `foobar` changes `az` to us-central1, yet the group upstream
        // expects last is the one from before: Prometheus rebuilds a slice
        // on a node event only through its node index, which holds the node
        // of an endpoint pointing at a Pod (its `nodeName`) or at a Node,
        // and the endpoint on `foobar` points at neither (empty reference).
        let sent = target_group(&slice("default"), &node_store("us-east1"), ATTACH_NODE);
        assert_eq!(
            sent,
            with_node_labels(expected("default", &SERVICE_TEST_LABELS), "us-east1")
        );
        // Whenever the group is rebuilt, it carries the node's new labels.
        let store = node_store("us-central1");
        let rebuilt = target_group(&slice("default"), &store, ATTACH_NODE);
        assert_eq!(
            rebuilt,
            with_node_labels(expected("default", &SERVICE_TEST_LABELS), "us-central1")
        );
    }

    #[test]
    fn endpoint_slice_discovery_namespaces() {
        let store = Store {
            services: vec![endpoints_service("ns1", json!({"app": "app1"}))],
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
        assert_eq!(target_group(&slice("ns1"), &store, ATTACH_NONE), want);

        let s = pod_slice("ns2", "testendpoints", Value::Null, testport());
        let want = TargetGroup {
            source: "endpointslice/ns2/testendpoints".into(),
            targets: vec![target(&[
                &pod_address("4.3.2.1:9000", "testport", "9000"),
                &[TCP],
                &backing_pod_labels("4.3.2.1"),
                &container_port_labels("c1", "c1:latest", "mainport", "9000", "false"),
            ])],
            labels: bare_labels("ns2", "testendpoints", &[]),
        };
        assert_eq!(target_group(&s, &store, ATTACH_NONE), want);
    }

    #[test]
    fn endpoint_slice_discovery_own_namespace() {
        // The pod in `own-ns` is no endpoint's target: it adds nothing.
        let store = Store {
            pods: vec![backing_pod(
                "own-ns",
                "4.3.2.1",
                json!([container_json("p1", "mainport", 9000)]),
                Value::Null,
            )],
            ..Store::default()
        };
        let got = target_group(&slice("own-ns"), &store, ATTACH_NONE);
        assert_eq!(got, expected("own-ns", &[]));
    }

    #[test]
    fn endpoint_slice_discovery_sidecar_container() {
        let store = Store {
            pods: vec![backing_pod(
                "default",
                "4.3.2.1",
                json!([container_json("c1", "mainport", 9000)]),
                json!([
                    container_json("ic1", "initport", 1111),
                    container_json("ic2", "initport", 9111),
                ]),
            )],
            ..Store::default()
        };
        let ports = json!([
            {"name": "testport", "port": 9000, "protocol": "TCP"},
            {"name": "initport", "port": 9111, "protocol": "TCP"},
        ]);
        let s = pod_slice("default", "testsidecar", Value::Null, ports);
        let pod_labels = backing_pod_labels("4.3.2.1");
        let want = TargetGroup {
            source: "endpointslice/default/testsidecar".into(),
            targets: vec![
                target(&[
                    &pod_address("4.3.2.1:9000", "testport", "9000"),
                    &[TCP],
                    &pod_labels,
                    &container_port_labels("c1", "c1:latest", "mainport", "9000", "false"),
                ]),
                target(&[
                    &pod_address("4.3.2.1:9111", "initport", "9111"),
                    &[TCP],
                    &pod_labels,
                    &container_port_labels("ic2", "ic2:latest", "initport", "9111", "true"),
                ]),
                target(&[
                    &[("__address__", "4.3.2.1:1111")],
                    &pod_labels,
                    &container_port_labels("ic1", "ic1:latest", "initport", "1111", "true"),
                ]),
            ],
            labels: bare_labels("default", "testsidecar", &[]),
        };
        assert_eq!(target_group(&s, &store, ATTACH_NONE), want);
    }

    /// The group of `slice("test-ns")` with its service (`app/name: test`)
    /// and namespace `ns` in the store, namespace metadata attached.
    fn with_namespace(ns: super::super::test_support::NamespaceCase) {
        let (ns, attached) = ns;
        let mut store = namespace_store(ns);
        store.services = vec![endpoints_service("test-ns", json!({"app/name": "test"}))];
        let want = with_labels(expected("test-ns", &SERVICE_TEST_LABELS), attached);
        let got = target_group(&slice("test-ns"), &store, ATTACH_NAMESPACE);
        assert_eq!(got, want);
    }

    #[test]
    fn endpoints_slices_discovery_with_namespace_metadata() {
        with_namespace(web_namespace());
    }

    #[test]
    fn endpoints_slices_discovery_with_updated_namespace_metadata() {
        with_namespace(web_namespace_updated());
    }

    /// Upstream's `makeDualStackService` and `makeDualStackEndpointSlice`:
    /// service `testsvc` with `policy` and `families`, and its slice of
    /// `address_type` with the one address `address`.
    fn dual_stack(
        policy: &str,
        families: &[&str],
        address_type: &str,
        address: &str,
    ) -> TargetGroup {
        let svc: Service = object(json!({
            "metadata": {"name": "testsvc", "namespace": "default"},
            "spec": {"ipFamilyPolicy": policy, "ipFamilies": families},
        }));
        let name = format!("testsvc-{}", address_type.to_lowercase());
        let s: EndpointSlice = object(json!({
            "metadata": {
                "name": name,
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "testsvc"},
            },
            "addressType": address_type,
            "ports": [{"name": "http", "port": 9000, "protocol": "TCP"}],
            "endpoints": [{"addresses": [address], "conditions": {"ready": true}}],
        }));
        let store = Store {
            services: vec![svc],
            ..Store::default()
        };
        target_group(&s, &store, ATTACH_NONE)
    }

    /// Upstream's `dualStackGroupLabels` and `dualStackTarget`: the group
    /// of slice `testsvc-<type>`, with a target at `address` if given.
    fn dual_stack_expected(address_type: &str, address: Option<&str>) -> TargetGroup {
        let name = format!("testsvc-{}", address_type.to_lowercase());
        let targets = address.map(|a| {
            target(&[&[
                ("__address__", a),
                (
                    "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
                    "true",
                ),
                ("__meta_kubernetes_endpointslice_port", "9000"),
                ("__meta_kubernetes_endpointslice_port_name", "http"),
                TCP,
            ]])
        });
        TargetGroup {
            source: format!("endpointslice/default/{name}"),
            targets: targets.into_iter().collect(),
            labels: labels(&[
                ("__meta_kubernetes_namespace", "default"),
                ("__meta_kubernetes_endpointslice_address_type", address_type),
                ("__meta_kubernetes_endpointslice_name", &name),
                (
                    "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name",
                    "testsvc",
                ),
                (
                    "__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name",
                    "true",
                ),
                ("__meta_kubernetes_service_name", "testsvc"),
            ]),
        }
    }

    #[test]
    fn endpoint_slice_discovery_dual_stack_preferred_skips_secondary_slice() {
        let families = ["IPv4", "IPv6"];
        assert_eq!(
            dual_stack("PreferDualStack", &families, "IPv4", "1.2.3.4"),
            dual_stack_expected("IPv4", Some("1.2.3.4:9000"))
        );
        assert_eq!(
            dual_stack("PreferDualStack", &families, "IPv6", "fd00::1"),
            dual_stack_expected("IPv6", None)
        );
    }

    #[test]
    fn endpoint_slice_discovery_dual_stack_required_skips_secondary_slice() {
        let families = ["IPv4", "IPv6"];
        assert_eq!(
            dual_stack("RequireDualStack", &families, "IPv4", "1.2.3.4"),
            dual_stack_expected("IPv4", Some("1.2.3.4:9000"))
        );
        assert_eq!(
            dual_stack("RequireDualStack", &families, "IPv6", "fd00::1"),
            dual_stack_expected("IPv6", None)
        );
    }

    #[test]
    fn endpoint_slice_discovery_single_stack_ipv4_unaffected() {
        assert_eq!(
            dual_stack("SingleStack", &["IPv4"], "IPv4", "1.2.3.4"),
            dual_stack_expected("IPv4", Some("1.2.3.4:9000"))
        );
    }

    #[test]
    fn endpoint_slice_discovery_single_stack_ipv6_unaffected() {
        assert_eq!(
            dual_stack("SingleStack", &["IPv6"], "IPv6", "fd00::1"),
            dual_stack_expected("IPv6", Some("[fd00::1]:9000"))
        );
    }

    #[test]
    fn endpoint_slice_discovery_dual_stack_preferred_ipv6_primary() {
        let families = ["IPv6", "IPv4"];
        assert_eq!(
            dual_stack("PreferDualStack", &families, "IPv6", "fd00::1"),
            dual_stack_expected("IPv6", Some("[fd00::1]:9000"))
        );
        assert_eq!(
            dual_stack("PreferDualStack", &families, "IPv4", "1.2.3.4"),
            dual_stack_expected("IPv4", None)
        );
    }

    #[test]
    fn a_port_without_number_targets_the_bare_address() {
        // A slice port may leave its number out ("all ports"); its targets
        // are the bare addresses, and no port labels but those set.
        let s: EndpointSlice = object(json!({
            "metadata": {"name": "any", "namespace": "default"},
            "addressType": "FQDN",
            "ports": [{}],
            "endpoints": [{"addresses": ["db.example.com"]}],
        }));
        let got = target_group(&s, &Store::default(), ATTACH_NONE);
        assert_eq!(got.targets, [labels(&[("__address__", "db.example.com")])]);
    }

    #[test]
    fn a_pod_behind_a_portless_endpoint_has_all_its_ports_targeted() {
        // The endpoint's port has no number, so it covers no container
        // port: every container port of the pod becomes a target too.
        let store = Store {
            pods: vec![backing_pod(
                "default",
                "1.2.3.4",
                json!([container_json("c1", "mainport", 9000)]),
                Value::Null,
            )],
            ..Store::default()
        };
        let s = pod_slice("default", "s", Value::Null, json!([{}]));
        let got = target_group(&s, &store, ATTACH_NONE);
        let addresses: Vec<&str> = got
            .targets
            .iter()
            .map(|t| t["__address__"].as_str())
            .collect();
        assert_eq!(addresses, ["4.3.2.1", "1.2.3.4:9000"]);
        assert!(!got.targets[0].contains_key("__meta_kubernetes_pod_container_name"));
        assert_eq!(got.targets[0]["__meta_kubernetes_pod_name"], "testpod");
    }

    #[test]
    fn endpoint_node_labels_prefer_the_node_reference() {
        // An endpoint naming node `a` but pointing at Node `b` gets `b`'s
        // labels (the endpoints role prefers `nodeName` instead).
        let s: EndpointSlice = object(json!({
            "metadata": {"name": "s", "namespace": "default"},
            "addressType": "IPv4",
            "ports": [{"port": 10250}],
            "endpoints": [{
                "addresses": ["1.1.1.1"],
                "nodeName": "a",
                "targetRef": {"kind": "Node", "name": "b"},
            }],
        }));
        let store = Store {
            nodes: vec![node("a", json!({})), node("b", json!({}))],
            ..Store::default()
        };
        let got = target_group(&s, &store, ATTACH_NODE);
        assert_eq!(got.targets[0]["__meta_kubernetes_node_name"], "b");
    }
}
