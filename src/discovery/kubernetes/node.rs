//! Role `node`: one group per node, with one target, the kubelet
//! (`<address>:<kubelet port>`).

use std::collections::BTreeMap;

use super::labels::{add_object_meta, join_host_port, sanitize, META_PREFIX};
use super::objects::Node;
use crate::discovery::{TargetGroup, ADDRESS_LABEL};

/// Which address the target uses: the first of these types the node has.
const ADDRESS_PREFERENCE: [&str; 6] = [
    "InternalIP",
    "InternalDNS",
    "ExternalIP",
    "ExternalDNS",
    "LegacyHostIP",
    "Hostname",
];

/// The group of `node`, source `node/<name>`. `None` when the node has no
/// address of a known type: Prometheus then sends no update for it (it
/// logs and keeps whatever it had), and so must the caller.
pub(crate) fn target_group(node: &Node) -> Option<TargetGroup> {
    // The first address of each type, in the node's order.
    let mut by_type: BTreeMap<&str, &str> = BTreeMap::new();
    for a in &node.status.addresses {
        by_type.entry(a.kind.as_str()).or_insert(a.address.as_str());
    }
    let host = ADDRESS_PREFERENCE.iter().find_map(|t| by_type.get(t))?;

    let mut target = BTreeMap::from([
        (
            ADDRESS_LABEL.to_string(),
            join_host_port(host, node.status.daemon_endpoints.kubelet_endpoint.port),
        ),
        ("instance".to_string(), node.metadata.name.clone()),
    ]);
    for (kind, address) in &by_type {
        target.insert(
            format!("{META_PREFIX}node_address_{}", sanitize(kind)),
            address.to_string(),
        );
    }

    let mut labels = BTreeMap::from([(
        format!("{META_PREFIX}node_provider_id"),
        node.spec.provider_id.clone(),
    )]);
    add_object_meta(&mut labels, &node.metadata, "node");
    for c in &node.status.conditions {
        labels.insert(
            format!(
                "{META_PREFIX}node_condition_{}",
                sanitize(&c.kind.to_lowercase())
            ),
            c.status.to_lowercase(),
        );
    }

    Some(TargetGroup {
        source: format!("node/{}", node.metadata.name),
        targets: vec![target],
        labels,
    })
}

#[cfg(test)]
mod tests {
    //! Upstream's node cases (Prometheus `discovery/kubernetes/node_test.go`),
    //! each reduced to object state → expected group.

    use serde_json::{json, Value};

    use super::super::deleted;
    use super::super::test_support::{group, object};
    use super::*;

    /// A node with one InternalIP address and kubelet port 10250.
    fn node(
        name: &str,
        provider: &str,
        labels: Value,
        annotations: Value,
        conditions: Value,
    ) -> Node {
        object(json!({
            "metadata": {"name": name, "labels": labels, "annotations": annotations},
            "spec": {"providerID": provider},
            "status": {
                "addresses": [{"type": "InternalIP", "address": "1.2.3.4"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "conditions": conditions,
            },
        }))
    }

    fn enumerated(i: u32) -> Node {
        node(
            &format!("test{i}"),
            &format!("aws:///de-west-3a/i-{i}"),
            json!({}),
            json!({}),
            Value::Null,
        )
    }

    fn kubelet(name: &str) -> [(&str, &str); 3] {
        [
            ("__address__", "1.2.3.4:10250"),
            ("instance", name),
            ("__meta_kubernetes_node_address_InternalIP", "1.2.3.4"),
        ]
    }

    #[test]
    fn labelled_and_annotated_node() {
        let n = node(
            "test",
            "aws:///nl-north-7b/i-03149834983492827",
            json!({"test-label": "testvalue"}),
            json!({"test-annotation": "testannotationvalue"}),
            Value::Null,
        );
        let want = group(
            "node/test",
            &[&kubelet("test")],
            &[
                ("__meta_kubernetes_node_name", "test"),
                (
                    "__meta_kubernetes_node_provider_id",
                    "aws:///nl-north-7b/i-03149834983492827",
                ),
                ("__meta_kubernetes_node_label_test_label", "testvalue"),
                ("__meta_kubernetes_node_labelpresent_test_label", "true"),
                (
                    "__meta_kubernetes_node_annotation_test_annotation",
                    "testannotationvalue",
                ),
                (
                    "__meta_kubernetes_node_annotationpresent_test_annotation",
                    "true",
                ),
            ],
        );
        assert_eq!(target_group(&n), Some(want));
    }

    #[test]
    fn added_node() {
        let want = group(
            "node/test1",
            &[&kubelet("test1")],
            &[
                ("__meta_kubernetes_node_name", "test1"),
                (
                    "__meta_kubernetes_node_provider_id",
                    "aws:///de-west-3a/i-1",
                ),
            ],
        );
        assert_eq!(target_group(&enumerated(1)), Some(want));
    }

    #[test]
    fn deleted_node() {
        let before = target_group(&enumerated(0)).unwrap();
        assert_eq!(deleted(before.source), group("node/test0", &[], &[]));
    }

    #[test]
    fn updated_node() {
        let before = target_group(&enumerated(0)).unwrap();
        let after = target_group(&node(
            "test0",
            "aws:///fr-south-1c/i-49508290343823952",
            json!({"Unschedulable": "true"}),
            json!({}),
            Value::Null,
        ))
        .unwrap();
        assert_eq!(before.source, after.source);
        let want = group(
            "node/test0",
            &[&kubelet("test0")],
            &[
                ("__meta_kubernetes_node_label_Unschedulable", "true"),
                ("__meta_kubernetes_node_labelpresent_Unschedulable", "true"),
                ("__meta_kubernetes_node_name", "test0"),
                (
                    "__meta_kubernetes_node_provider_id",
                    "aws:///fr-south-1c/i-49508290343823952",
                ),
            ],
        );
        assert_eq!(after, want);
    }

    #[test]
    fn conditions() {
        let base = [
            ("__meta_kubernetes_node_name", "test"),
            (
                "__meta_kubernetes_node_provider_id",
                "aws:///test-zone/i-test",
            ),
        ];
        let cases: [(Value, &[(&str, &str)]); 5] = [
            (
                json!([{"type": "Ready", "status": "True"}]),
                &[("__meta_kubernetes_node_condition_ready", "true")],
            ),
            (
                json!([{"type": "Ready", "status": "False"}]),
                &[("__meta_kubernetes_node_condition_ready", "false")],
            ),
            (
                json!([{"type": "Ready", "status": "Unknown"}]),
                &[("__meta_kubernetes_node_condition_ready", "unknown")],
            ),
            (Value::Null, &[]),
            (
                json!([
                    {"type": "MemoryPressure", "status": "False"},
                    {"type": "Ready", "status": "True"},
                    {"type": "DiskPressure", "status": "False"},
                ]),
                &[
                    ("__meta_kubernetes_node_condition_memorypressure", "false"),
                    ("__meta_kubernetes_node_condition_ready", "true"),
                    ("__meta_kubernetes_node_condition_diskpressure", "false"),
                ],
            ),
        ];
        for (conditions, extra) in cases {
            let n = node(
                "test",
                "aws:///test-zone/i-test",
                json!({}),
                json!({}),
                conditions.clone(),
            );
            let mut want_labels = base.to_vec();
            want_labels.extend_from_slice(extra);
            let want = group("node/test", &[&kubelet("test")], &want_labels);
            assert_eq!(target_group(&n), Some(want), "conditions {conditions}");
        }
    }

    #[test]
    fn address_preference_and_ipv6() {
        let n: Node = object(json!({
            "metadata": {"name": "n"},
            "status": {
                "addresses": [
                    {"type": "Hostname", "address": "host-a"},
                    {"type": "ExternalIP", "address": "2001:db8::7"},
                    {"type": "ExternalIP", "address": "5.6.7.8"},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            },
        }));
        let want = group(
            "node/n",
            &[&[
                ("__address__", "[2001:db8::7]:10250"),
                ("instance", "n"),
                ("__meta_kubernetes_node_address_Hostname", "host-a"),
                ("__meta_kubernetes_node_address_ExternalIP", "2001:db8::7"),
            ]],
            &[
                ("__meta_kubernetes_node_name", "n"),
                ("__meta_kubernetes_node_provider_id", ""),
            ],
        );
        assert_eq!(target_group(&n), Some(want));
    }

    #[test]
    fn node_without_addresses_sends_nothing() {
        let n: Node = object(json!({"metadata": {"name": "n"}}));
        assert_eq!(target_group(&n), None);
    }
}
