//! Helpers for the role tests: objects are written as the API server's JSON,
//! expected groups as literal label lists.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use super::lookup::{Attach, Lookup};
use super::objects::{Job, Namespace, Node, ObjectMeta, Pod, ReplicaSet, Service};
use crate::discovery::TargetGroup;

/// Decodes an API object from its JSON form; panics on a malformed fixture.
pub(crate) fn object<T: DeserializeOwned>(json: serde_json::Value) -> T {
    serde_json::from_value(json).expect("fixture object decodes")
}

/// A label set from `(name, value)` pairs.
pub(crate) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The group `source` with the given targets and group labels.
pub(crate) fn group(
    source: &str,
    targets: &[&[(&str, &str)]],
    group_labels: &[(&str, &str)],
) -> TargetGroup {
    TargetGroup {
        source: source.to_string(),
        targets: targets.iter().map(|t| labels(t)).collect(),
        labels: labels(group_labels),
    }
}

/// Namespace `test-ns` with the given labels and annotations.
pub(crate) fn namespace(labels: serde_json::Value, annotations: serde_json::Value) -> Namespace {
    object(serde_json::json!({
        "metadata": {"name": "test-ns", "labels": labels, "annotations": annotations},
    }))
}

/// `g` with `extra` added to its group labels.
pub(crate) fn with_labels(mut g: TargetGroup, extra: &[(&str, &str)]) -> TargetGroup {
    g.labels
        .extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    g
}

/// The stores of a discoverer, as a [`Lookup`] over fixture objects.
#[derive(Default)]
pub(crate) struct Store {
    pub pods: Vec<Pod>,
    pub services: Vec<Service>,
    pub nodes: Vec<Node>,
    pub namespaces: Vec<Namespace>,
    pub replica_sets: Vec<ReplicaSet>,
    pub jobs: Vec<Job>,
}

/// The object of `items` named `namespace`/`name`.
fn find<'a, T>(
    items: &'a [T],
    meta: impl Fn(&T) -> &ObjectMeta,
    namespace: &str,
    name: &str,
) -> Option<&'a T> {
    items.iter().find(|o| {
        let m = meta(o);
        m.namespace == namespace && m.name == name
    })
}

impl Lookup for Store {
    fn pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        find(&self.pods, |o| &o.metadata, namespace, name)
    }
    fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        find(&self.services, |o| &o.metadata, namespace, name)
    }
    fn node(&self, name: &str) -> Option<&Node> {
        find(&self.nodes, |o| &o.metadata, "", name)
    }
    fn namespace(&self, name: &str) -> Option<&Namespace> {
        find(&self.namespaces, |o| &o.metadata, "", name)
    }
    fn replica_set(&self, namespace: &str, name: &str) -> Option<&ReplicaSet> {
        find(&self.replica_sets, |o| &o.metadata, namespace, name)
    }
    fn job(&self, namespace: &str, name: &str) -> Option<&Job> {
        find(&self.jobs, |o| &o.metadata, namespace, name)
    }
}

/// `attach_metadata` left out.
pub(crate) const ATTACH_NONE: Attach = Attach {
    node: false,
    namespace: false,
    deployment: false,
    job: false,
    cronjob: false,
};

/// `attach_metadata: {node: true}`.
pub(crate) const ATTACH_NODE: Attach = Attach {
    node: true,
    ..ATTACH_NONE
};

/// `attach_metadata: {namespace: true}`.
pub(crate) const ATTACH_NAMESPACE: Attach = Attach {
    namespace: true,
    ..ATTACH_NONE
};

/// Upstream's `makeNode(name, "", "", labels, nil, nil)`: a node with the
/// given labels and an empty InternalIP.
pub(crate) fn node(name: &str, labels: serde_json::Value) -> Node {
    object(serde_json::json!({
        "metadata": {"name": name, "labels": labels},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ""}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        },
    }))
}

/// A `test-ns` fixture of upstream's `…WithNamespaceMetadata` cases, with
/// the group labels attaching its metadata gives.
pub(crate) type NamespaceCase = (Namespace, &'static [(&'static str, &'static str)]);

/// The namespace of the service and endpoints cases.
pub(crate) fn backend_namespace() -> NamespaceCase {
    let ns = namespace(
        serde_json::json!({"environment": "production", "team": "backend"}),
        serde_json::json!({"owner": "platform", "version": "v1.2.3"}),
    );
    let labels = &[
        ("__meta_kubernetes_namespace_annotation_owner", "platform"),
        (
            "__meta_kubernetes_namespace_annotationpresent_owner",
            "true",
        ),
        ("__meta_kubernetes_namespace_annotation_version", "v1.2.3"),
        (
            "__meta_kubernetes_namespace_annotationpresent_version",
            "true",
        ),
        (
            "__meta_kubernetes_namespace_label_environment",
            "production",
        ),
        (
            "__meta_kubernetes_namespace_labelpresent_environment",
            "true",
        ),
        ("__meta_kubernetes_namespace_label_team", "backend"),
        ("__meta_kubernetes_namespace_labelpresent_team", "true"),
    ];
    (ns, labels)
}

/// `backend_namespace` after the update of the service and endpoints cases.
pub(crate) fn backend_namespace_updated() -> NamespaceCase {
    let ns = namespace(
        serde_json::json!({"environment": "staging", "team": "frontend", "region": "us-west"}),
        serde_json::json!({"owner": "sre", "version": "v2.1.0", "cost-center": "engineering"}),
    );
    let labels = &[
        ("__meta_kubernetes_namespace_annotation_owner", "sre"),
        (
            "__meta_kubernetes_namespace_annotationpresent_owner",
            "true",
        ),
        ("__meta_kubernetes_namespace_annotation_version", "v2.1.0"),
        (
            "__meta_kubernetes_namespace_annotationpresent_version",
            "true",
        ),
        (
            "__meta_kubernetes_namespace_annotation_cost_center",
            "engineering",
        ),
        (
            "__meta_kubernetes_namespace_annotationpresent_cost_center",
            "true",
        ),
        ("__meta_kubernetes_namespace_label_environment", "staging"),
        (
            "__meta_kubernetes_namespace_labelpresent_environment",
            "true",
        ),
        ("__meta_kubernetes_namespace_label_team", "frontend"),
        ("__meta_kubernetes_namespace_labelpresent_team", "true"),
        ("__meta_kubernetes_namespace_label_region", "us-west"),
        ("__meta_kubernetes_namespace_labelpresent_region", "true"),
    ];
    (ns, labels)
}

/// The namespace of the ingress and endpointslice cases.
pub(crate) fn web_namespace() -> NamespaceCase {
    let ns = namespace(
        serde_json::json!({"service": "web", "layer": "frontend"}),
        serde_json::json!({"contact": "platform", "release": "v5.6.7"}),
    );
    let labels = &[
        ("__meta_kubernetes_namespace_annotation_contact", "platform"),
        (
            "__meta_kubernetes_namespace_annotationpresent_contact",
            "true",
        ),
        ("__meta_kubernetes_namespace_annotation_release", "v5.6.7"),
        (
            "__meta_kubernetes_namespace_annotationpresent_release",
            "true",
        ),
        ("__meta_kubernetes_namespace_label_service", "web"),
        ("__meta_kubernetes_namespace_labelpresent_service", "true"),
        ("__meta_kubernetes_namespace_label_layer", "frontend"),
        ("__meta_kubernetes_namespace_labelpresent_layer", "true"),
    ];
    (ns, labels)
}

/// The namespace of the ingress and endpointslice cases after their
/// updates, which end in the same state.
pub(crate) fn web_namespace_updated() -> NamespaceCase {
    let ns = namespace(
        serde_json::json!({"component": "cache", "layer": "backend", "region": "us-central"}),
        serde_json::json!({"contact": "sre", "release": "v6.7.8", "monitoring": "enabled"}),
    );
    let labels = &[
        ("__meta_kubernetes_namespace_annotation_contact", "sre"),
        (
            "__meta_kubernetes_namespace_annotationpresent_contact",
            "true",
        ),
        ("__meta_kubernetes_namespace_annotation_release", "v6.7.8"),
        (
            "__meta_kubernetes_namespace_annotationpresent_release",
            "true",
        ),
        (
            "__meta_kubernetes_namespace_annotation_monitoring",
            "enabled",
        ),
        (
            "__meta_kubernetes_namespace_annotationpresent_monitoring",
            "true",
        ),
        ("__meta_kubernetes_namespace_label_component", "cache"),
        ("__meta_kubernetes_namespace_labelpresent_component", "true"),
        ("__meta_kubernetes_namespace_label_layer", "backend"),
        ("__meta_kubernetes_namespace_labelpresent_layer", "true"),
        ("__meta_kubernetes_namespace_label_region", "us-central"),
        ("__meta_kubernetes_namespace_labelpresent_region", "true"),
    ];
    (ns, labels)
}

/// A store holding only `namespace`.
pub(crate) fn namespace_store(namespace: Namespace) -> Store {
    Store {
        namespaces: vec![namespace],
        ..Store::default()
    }
}

/// A pod `testpod` in `ns` on `testnode` with the given containers and
/// init containers and IP, no phase and no conditions.
pub(crate) fn backing_pod(
    ns: &str,
    ip: &str,
    containers: serde_json::Value,
    init_containers: serde_json::Value,
) -> Pod {
    object(serde_json::json!({
        "metadata": {"name": "testpod", "namespace": ns, "uid": "deadbeef"},
        "spec": {
            "nodeName": "testnode",
            "containers": containers,
            "initContainers": init_containers,
        },
        "status": {"hostIP": "2.3.4.5", "podIP": ip},
    }))
}

/// A container `name` (image `<name>:latest`) with one TCP port.
pub(crate) fn container_json(name: &str, port_name: &str, port: i32) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "image": format!("{name}:latest"),
        "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}],
    })
}

/// The labels of `testpod` as `backing_pod(_, ip, …)` builds it: no ready
/// condition, no phase.
pub(crate) fn backing_pod_labels(ip: &str) -> Vec<(&str, &str)> {
    vec![
        ("__meta_kubernetes_pod_name", "testpod"),
        ("__meta_kubernetes_pod_ip", ip),
        ("__meta_kubernetes_pod_ready", "unknown"),
        ("__meta_kubernetes_pod_phase", ""),
        ("__meta_kubernetes_pod_node_name", "testnode"),
        ("__meta_kubernetes_pod_host_ip", "2.3.4.5"),
        ("__meta_kubernetes_pod_uid", "deadbeef"),
    ]
}

/// The `pod_container_*` labels of a TCP port of `container`.
pub(crate) fn container_port_labels(
    container: &'static str,
    image: &'static str,
    port_name: &'static str,
    port: &'static str,
    init: &'static str,
) -> Vec<(&'static str, &'static str)> {
    vec![
        ("__meta_kubernetes_pod_container_name", container),
        ("__meta_kubernetes_pod_container_image", image),
        ("__meta_kubernetes_pod_container_port_name", port_name),
        ("__meta_kubernetes_pod_container_port_number", port),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ("__meta_kubernetes_pod_container_init", init),
    ]
}

/// One target's labels from several lists.
pub(crate) fn target(parts: &[&[(&str, &str)]]) -> BTreeMap<String, String> {
    parts.iter().flat_map(|p| labels(p)).collect()
}

/// Service `testendpoints` in `ns` with the given labels: the service of
/// the endpoints roles' cases.
pub(crate) fn endpoints_service(ns: &str, labels: serde_json::Value) -> Service {
    object(serde_json::json!({
        "metadata": {"name": "testendpoints", "namespace": ns, "labels": labels},
    }))
}

/// A store holding only `endpoints_service("default", labels)`.
pub(crate) fn service_store(labels: serde_json::Value) -> Store {
    Store {
        services: vec![endpoints_service("default", labels)],
        ..Store::default()
    }
}

/// The group labels `endpoints_service(_, {"app/name": "test"})` gives.
pub(crate) const SERVICE_TEST_LABELS: [(&str, &str); 3] = [
    ("__meta_kubernetes_service_label_app_name", "test"),
    ("__meta_kubernetes_service_labelpresent_app_name", "true"),
    ("__meta_kubernetes_service_name", "testendpoints"),
];

/// The group labels the service gives after the update of the endpoints
/// roles' `…WithServiceUpdate` cases.
pub(crate) const SERVICE_UPDATED_LABELS: [(&str, &str); 5] = [
    ("__meta_kubernetes_service_label_app_name", "svc"),
    ("__meta_kubernetes_service_labelpresent_app_name", "true"),
    ("__meta_kubernetes_service_name", "testendpoints"),
    ("__meta_kubernetes_service_label_component", "testing"),
    ("__meta_kubernetes_service_labelpresent_component", "true"),
];

/// The store of the endpoints roles' node-metadata cases: the service
/// (`app/name: test`) and nodes `foobar` (`az: foobar_az`) and `barbaz`
/// (`az: us-west2`).
pub(crate) fn node_store(foobar_az: &str) -> Store {
    Store {
        services: vec![endpoints_service(
            "default",
            serde_json::json!({"app/name": "test"}),
        )],
        nodes: vec![
            node("foobar", serde_json::json!({"az": foobar_az})),
            node("barbaz", serde_json::json!({"az": "us-west2"})),
        ],
        ..Store::default()
    }
}

/// `g` with the node labels of `node_store(foobar_az)` added to its first
/// target (on `foobar`) and its fourth (on `barbaz`).
pub(crate) fn with_node_labels(mut g: TargetGroup, foobar_az: &str) -> TargetGroup {
    for (i, node, az) in [(0, "foobar", foobar_az), (3, "barbaz", "us-west2")] {
        g.targets[i].extend(labels(&[
            ("__meta_kubernetes_node_label_az", az),
            ("__meta_kubernetes_node_labelpresent_az", "true"),
            ("__meta_kubernetes_node_name", node),
        ]));
    }
    g
}
