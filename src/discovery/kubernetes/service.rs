//! Role `service`: one group per service, one target per service port,
//! addressed by the service's cluster DNS name (`<name>.<namespace>.svc`).

use std::collections::BTreeMap;

use super::labels::{
    add_namespace_meta, add_object_meta, join_host_port, META_PREFIX, NAMESPACE_LABEL,
};
use super::objects::{Namespace, Service};
use crate::discovery::{TargetGroup, ADDRESS_LABEL};

/// The group of `svc`, source `svc/<namespace>/<name>`. `namespace` is the
/// service's namespace when `attach_metadata: {namespace: true}` asks for
/// its labels and annotations.
pub(crate) fn target_group(svc: &Service, namespace: Option<&Namespace>) -> TargetGroup {
    let meta = &svc.metadata;
    let mut labels = service_labels(svc);
    if let Some(ns) = namespace {
        add_namespace_meta(&mut labels, &ns.metadata);
    }

    let spec = &svc.spec;
    let host = format!("{}.{}.svc", meta.name, meta.namespace);
    let targets = spec
        .ports
        .iter()
        .map(|port| {
            let mut t = BTreeMap::from([
                (ADDRESS_LABEL.to_string(), join_host_port(&host, port.port)),
                (format!("{META_PREFIX}service_port_name"), port.name.clone()),
                (
                    format!("{META_PREFIX}service_port_number"),
                    port.port.to_string(),
                ),
                (
                    format!("{META_PREFIX}service_port_protocol"),
                    port.protocol.clone(),
                ),
                (format!("{META_PREFIX}service_type"), spec.kind.clone()),
            ]);
            // An ExternalName service is a DNS alias: it has no cluster IP.
            if spec.kind == "ExternalName" {
                t.insert(
                    format!("{META_PREFIX}service_external_name"),
                    spec.external_name.clone(),
                );
            } else {
                t.insert(
                    format!("{META_PREFIX}service_cluster_ip"),
                    spec.cluster_ip.clone(),
                );
            }
            if spec.kind == "LoadBalancer" {
                t.insert(
                    format!("{META_PREFIX}service_loadbalancer_ip"),
                    load_balancer_ips(svc),
                );
            }
            t
        })
        .collect();

    TargetGroup {
        source: format!("svc/{}/{}", meta.namespace, meta.name),
        targets,
        labels,
    }
}

/// The service's namespace, name, labels and annotations: its group's
/// labels, which the endpoints roles also give the groups of its endpoints.
pub(super) fn service_labels(svc: &Service) -> BTreeMap<String, String> {
    let meta = &svc.metadata;
    let mut labels = BTreeMap::from([(NAMESPACE_LABEL.to_string(), meta.namespace.clone())]);
    add_object_meta(&mut labels, meta, "service");
    labels
}

/// The IPs the load balancer reports in its status, comma-separated; the
/// requested `spec.loadBalancerIP` (deprecated in the API) when it reports
/// none yet.
fn load_balancer_ips(svc: &Service) -> String {
    let ips: Vec<&str> = svc
        .status
        .load_balancer
        .ingress
        .iter()
        .map(|i| i.ip.as_str())
        .filter(|ip| !ip.is_empty())
        .collect();
    if ips.is_empty() {
        svc.spec.load_balancer_ip.clone()
    } else {
        ips.join(",")
    }
}

#[cfg(test)]
mod tests {
    //! Upstream's service cases (Prometheus `discovery/kubernetes/service_test.go`),
    //! each reduced to object state → expected group. The namespace-filter
    //! cases (`names`, `own_namespace`, all namespaces) select which objects
    //! are watched; what remains of them here is the group of a service in
    //! each of those namespaces.

    use serde_json::{json, Value};

    use super::super::deleted;
    use super::super::test_support::{
        backend_namespace, backend_namespace_updated, group, namespace, object, with_labels,
    };
    use super::*;

    /// `testservice` in `ns`: one TCP port 30900, ClusterIP 10.0.0.1.
    fn service(ns: &str) -> Service {
        object(json!({
            "metadata": {"name": "testservice", "namespace": ns},
            "spec": {
                "ports": [{"name": "testport", "protocol": "TCP", "port": 30900}],
                "type": "ClusterIP",
                "clusterIP": "10.0.0.1",
            },
        }))
    }

    fn single_port_target(ns: &str) -> Vec<(&'static str, String)> {
        vec![
            ("__address__", format!("testservice.{ns}.svc:30900")),
            ("__meta_kubernetes_service_port_protocol", "TCP".into()),
            ("__meta_kubernetes_service_type", "ClusterIP".into()),
            ("__meta_kubernetes_service_cluster_ip", "10.0.0.1".into()),
            ("__meta_kubernetes_service_port_name", "testport".into()),
            ("__meta_kubernetes_service_port_number", "30900".into()),
        ]
    }

    fn expected_single(ns: &str) -> TargetGroup {
        let t = single_port_target(ns);
        let t: Vec<(&str, &str)> = t.iter().map(|(k, v)| (*k, v.as_str())).collect();
        group(
            &format!("svc/{ns}/testservice"),
            &[&t],
            &[
                ("__meta_kubernetes_service_name", "testservice"),
                ("__meta_kubernetes_namespace", ns),
            ],
        )
    }

    fn named_service(name: &str, spec: Value, status: Value) -> Service {
        object(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
            "status": status,
        }))
    }

    #[test]
    fn added_services_of_each_type() {
        assert_eq!(
            target_group(&service("default"), None),
            expected_single("default")
        );

        let external = named_service(
            "testservice-external",
            json!({
                "ports": [{"name": "testport", "protocol": "TCP", "port": 31900}],
                "type": "ExternalName",
                "externalName": "FooExternalName",
            }),
            Value::Null,
        );
        let want = group(
            "svc/default/testservice-external",
            &[&[
                ("__meta_kubernetes_service_port_protocol", "TCP"),
                ("__address__", "testservice-external.default.svc:31900"),
                ("__meta_kubernetes_service_type", "ExternalName"),
                ("__meta_kubernetes_service_port_name", "testport"),
                ("__meta_kubernetes_service_port_number", "31900"),
                ("__meta_kubernetes_service_external_name", "FooExternalName"),
            ]],
            &[
                ("__meta_kubernetes_service_name", "testservice-external"),
                ("__meta_kubernetes_namespace", "default"),
            ],
        );
        assert_eq!(target_group(&external, None), want);

        let lb = named_service(
            "testservice-loadbalancer",
            json!({
                "ports": [{"name": "testport", "protocol": "TCP", "port": 31900}],
                "type": "LoadBalancer",
                "loadBalancerIP": "127.0.0.1",
                "clusterIP": "10.0.0.1",
            }),
            Value::Null,
        );
        let want = group(
            "svc/default/testservice-loadbalancer",
            &[&[
                ("__meta_kubernetes_service_port_protocol", "TCP"),
                ("__address__", "testservice-loadbalancer.default.svc:31900"),
                ("__meta_kubernetes_service_type", "LoadBalancer"),
                ("__meta_kubernetes_service_port_name", "testport"),
                ("__meta_kubernetes_service_port_number", "31900"),
                ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
                ("__meta_kubernetes_service_loadbalancer_ip", "127.0.0.1"),
            ]],
            &[
                ("__meta_kubernetes_service_name", "testservice-loadbalancer"),
                ("__meta_kubernetes_namespace", "default"),
            ],
        );
        assert_eq!(target_group(&lb, None), want);

        let lb_ingress = named_service(
            "testservice-lb-ingress",
            json!({
                "ports": [{"name": "testport", "protocol": "TCP", "port": 31900}],
                "type": "LoadBalancer",
                "clusterIP": "10.0.0.1",
            }),
            json!({"loadBalancer": {"ingress": [{"ip": "192.168.1.15"}, {"ip": "2001:db8::1"}]}}),
        );
        let want = group(
            "svc/default/testservice-lb-ingress",
            &[&[
                ("__meta_kubernetes_service_port_protocol", "TCP"),
                ("__address__", "testservice-lb-ingress.default.svc:31900"),
                ("__meta_kubernetes_service_type", "LoadBalancer"),
                ("__meta_kubernetes_service_port_name", "testport"),
                ("__meta_kubernetes_service_port_number", "31900"),
                ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
                (
                    "__meta_kubernetes_service_loadbalancer_ip",
                    "192.168.1.15,2001:db8::1",
                ),
            ]],
            &[
                ("__meta_kubernetes_service_name", "testservice-lb-ingress"),
                ("__meta_kubernetes_namespace", "default"),
            ],
        );
        assert_eq!(target_group(&lb_ingress, None), want);
    }

    #[test]
    fn deleted_service() {
        let before = target_group(&service("default"), None);
        assert_eq!(
            deleted(before.source),
            group("svc/default/testservice", &[], &[])
        );
    }

    #[test]
    fn updated_to_multi_port_service() {
        let multi: Service = object(json!({
            "metadata": {
                "name": "testservice",
                "namespace": "default",
                "labels": {"test-label": "testvalue"},
                "annotations": {"test-annotation": "testannotationvalue"},
            },
            "spec": {
                "ports": [
                    {"name": "testport0", "protocol": "TCP", "port": 30900},
                    {"name": "testport1", "protocol": "UDP", "port": 30901},
                ],
                "type": "ClusterIP",
                "clusterIP": "10.0.0.1",
            },
        }));
        let want = group(
            "svc/default/testservice",
            &[
                &[
                    ("__meta_kubernetes_service_port_protocol", "TCP"),
                    ("__address__", "testservice.default.svc:30900"),
                    ("__meta_kubernetes_service_type", "ClusterIP"),
                    ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
                    ("__meta_kubernetes_service_port_name", "testport0"),
                    ("__meta_kubernetes_service_port_number", "30900"),
                ],
                &[
                    ("__meta_kubernetes_service_port_protocol", "UDP"),
                    ("__address__", "testservice.default.svc:30901"),
                    ("__meta_kubernetes_service_type", "ClusterIP"),
                    ("__meta_kubernetes_service_cluster_ip", "10.0.0.1"),
                    ("__meta_kubernetes_service_port_name", "testport1"),
                    ("__meta_kubernetes_service_port_number", "30901"),
                ],
            ],
            &[
                ("__meta_kubernetes_service_name", "testservice"),
                ("__meta_kubernetes_namespace", "default"),
                ("__meta_kubernetes_service_label_test_label", "testvalue"),
                ("__meta_kubernetes_service_labelpresent_test_label", "true"),
                (
                    "__meta_kubernetes_service_annotation_test_annotation",
                    "testannotationvalue",
                ),
                (
                    "__meta_kubernetes_service_annotationpresent_test_annotation",
                    "true",
                ),
            ],
        );
        assert_eq!(target_group(&multi, None), want);
    }

    #[test]
    fn services_in_several_namespaces() {
        for ns in ["ns1", "ns2", "own-ns", "non-own-ns"] {
            assert_eq!(target_group(&service(ns), None), expected_single(ns));
        }
    }

    #[test]
    fn namespace_metadata_attached() {
        let (ns, attached) = backend_namespace();
        let want = with_labels(expected_single("test-ns"), attached);
        assert_eq!(target_group(&service("test-ns"), Some(&ns)), want);
    }

    #[test]
    fn updated_namespace_metadata() {
        let before = namespace(
            json!({"environment": "development", "team": "frontend"}),
            json!({"owner": "devops", "version": "v2.1.0"}),
        );
        let (after, attached) = backend_namespace_updated();
        let svc = service("test-ns");
        assert_eq!(
            target_group(&svc, Some(&before)).source,
            target_group(&svc, Some(&after)).source
        );
        let want = with_labels(expected_single("test-ns"), attached);
        assert_eq!(target_group(&svc, Some(&after)), want);
    }

    #[test]
    fn protocol_defaults_to_tcp() {
        let svc: Service = object(json!({
            "metadata": {"name": "s", "namespace": "d"},
            "spec": {"ports": [{"port": 80}], "type": "ClusterIP", "clusterIP": "None"},
        }));
        let g = target_group(&svc, None);
        assert_eq!(
            g.targets[0]["__meta_kubernetes_service_port_protocol"],
            "TCP"
        );
        assert_eq!(g.targets[0]["__meta_kubernetes_service_cluster_ip"], "None");
    }
}
