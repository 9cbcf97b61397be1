//! Role `ingress`: one group per ingress, one target per rule path,
//! addressed by the rule's host, with the scheme its TLS section implies.

use std::collections::BTreeMap;

use super::labels::{add_namespace_meta, add_object_meta, META_PREFIX, NAMESPACE_LABEL};
use super::objects::{Ingress, IngressRule, Namespace};
use crate::discovery::{TargetGroup, ADDRESS_LABEL};

/// The group of `ingress`, source `ingress/<namespace>/<name>`; `namespace`
/// as for the service role.
pub(crate) fn target_group(ingress: &Ingress, namespace: Option<&Namespace>) -> TargetGroup {
    let meta = &ingress.metadata;
    let mut labels = BTreeMap::from([(NAMESPACE_LABEL.to_string(), meta.namespace.clone())]);
    if let Some(class) = &ingress.spec.ingress_class_name {
        labels.insert(format!("{META_PREFIX}ingress_class_name"), class.clone());
    }
    add_object_meta(&mut labels, meta, "ingress");
    if let Some(ns) = namespace {
        add_namespace_meta(&mut labels, &ns.metadata);
    }

    let mut targets = Vec::new();
    for rule in &ingress.spec.rules {
        let tls = ingress
            .spec
            .tls
            .iter()
            .flat_map(|t| &t.hosts)
            .any(|pattern| matches_host(pattern, &rule.host));
        let scheme = if tls { "https" } else { "http" };
        for path in paths(rule) {
            targets.push(BTreeMap::from([
                (ADDRESS_LABEL.to_string(), rule.host.clone()),
                (format!("{META_PREFIX}ingress_scheme"), scheme.to_string()),
                (format!("{META_PREFIX}ingress_host"), rule.host.clone()),
                (format!("{META_PREFIX}ingress_path"), path.to_string()),
            ]));
        }
    }

    TargetGroup {
        source: format!("ingress/{}/{}", meta.namespace, meta.name),
        targets,
        labels,
    }
}

/// A rule's paths, an empty one meaning `/`. A rule without an `http`
/// section matches every path (`/`); one with an `http` section but no
/// paths yields no target.
fn paths(rule: &IngressRule) -> Vec<&str> {
    match &rule.http {
        None => vec!["/"],
        Some(http) => http
            .paths
            .iter()
            .map(|p| {
                if p.path.is_empty() {
                    "/"
                } else {
                    p.path.as_str()
                }
            })
            .collect(),
    }
}

/// Whether a TLS host entry covers `host`: equal, or a pattern whose first
/// DNS label is `*` and whose other labels equal the host's, one for one
/// (so `*.example.com` covers `a.example.com` but not `a.b.example.com`).
fn matches_host(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let mut pattern_parts = pattern.split('.');
    if pattern_parts.next() != Some("*") {
        return false;
    }
    let mut host_parts = host.split('.');
    host_parts.next();
    pattern_parts.eq(host_parts)
}

#[cfg(test)]
mod tests {
    //! Upstream's ingress cases (Prometheus `discovery/kubernetes/ingress_test.go`),
    //! each reduced to object state → expected group; the namespace-filter
    //! cases leave the group of an ingress in each namespace.

    use serde_json::{json, Value};

    use super::super::test_support::{
        group, object, web_namespace, web_namespace_updated, with_labels,
    };
    use super::*;

    /// `testingress` in `ns` with three rules (two paths on example.com, an
    /// `http` section without paths, one empty path on test.example.com)
    /// and the TLS hosts given.
    fn ingress(ns: &str, tls_hosts: Option<Value>) -> Ingress {
        let tls = match tls_hosts {
            Some(hosts) => json!([{"hosts": hosts}]),
            None => Value::Null,
        };
        object(json!({
            "metadata": {
                "name": "testingress",
                "namespace": ns,
                "labels": {"test/label": "testvalue"},
                "annotations": {"test/annotation": "testannotationvalue"},
            },
            "spec": {
                "ingressClassName": "testclass",
                "tls": tls,
                "rules": [
                    {"host": "example.com", "http": {"paths": [{"path": "/"}, {"path": "/foo"}]}},
                    {"host": "nobackend.example.com", "http": {}},
                    {"host": "test.example.com", "http": {"paths": [{}]}},
                ],
            },
        }))
    }

    /// The expected group, the example.com targets with `scheme1`, the
    /// test.example.com one with `scheme2`.
    fn expected(ns: &str, scheme1: &str, scheme2: &str) -> TargetGroup {
        group(
            &format!("ingress/{ns}/testingress"),
            &[
                &[
                    ("__meta_kubernetes_ingress_scheme", scheme1),
                    ("__meta_kubernetes_ingress_host", "example.com"),
                    ("__meta_kubernetes_ingress_path", "/"),
                    ("__address__", "example.com"),
                ],
                &[
                    ("__meta_kubernetes_ingress_scheme", scheme1),
                    ("__meta_kubernetes_ingress_host", "example.com"),
                    ("__meta_kubernetes_ingress_path", "/foo"),
                    ("__address__", "example.com"),
                ],
                &[
                    ("__meta_kubernetes_ingress_scheme", scheme2),
                    ("__meta_kubernetes_ingress_host", "test.example.com"),
                    ("__address__", "test.example.com"),
                    ("__meta_kubernetes_ingress_path", "/"),
                ],
            ],
            &[
                ("__meta_kubernetes_ingress_name", "testingress"),
                ("__meta_kubernetes_namespace", ns),
                ("__meta_kubernetes_ingress_label_test_label", "testvalue"),
                ("__meta_kubernetes_ingress_labelpresent_test_label", "true"),
                (
                    "__meta_kubernetes_ingress_annotation_test_annotation",
                    "testannotationvalue",
                ),
                (
                    "__meta_kubernetes_ingress_annotationpresent_test_annotation",
                    "true",
                ),
                ("__meta_kubernetes_ingress_class_name", "testclass"),
            ],
        )
    }

    #[test]
    fn without_tls() {
        assert_eq!(
            target_group(&ingress("default", None), None),
            expected("default", "http", "http")
        );
    }

    #[test]
    fn tls_for_every_host() {
        let ing = ingress("default", Some(json!(["example.com", "test.example.com"])));
        assert_eq!(
            target_group(&ing, None),
            expected("default", "https", "https")
        );
    }

    #[test]
    fn tls_for_some_hosts() {
        let ing = ingress("default", Some(json!(["example.com"])));
        assert_eq!(
            target_group(&ing, None),
            expected("default", "https", "http")
        );
    }

    #[test]
    fn tls_wildcard_covers_one_label() {
        let ing = ingress("default", Some(json!(["*.example.com"])));
        assert_eq!(
            target_group(&ing, None),
            expected("default", "http", "https")
        );
        assert!(!matches_host("*.example.com", "a.b.example.com"));
        assert!(!matches_host("a.example.com", "b.example.com"));
        assert!(matches_host("*", "localhost"));
    }

    #[test]
    fn ingresses_in_several_namespaces() {
        for ns in ["ns1", "ns2", "own-ns"] {
            assert_eq!(
                target_group(&ingress(ns, None), None),
                expected(ns, "http", "http")
            );
        }
    }

    #[test]
    fn rule_without_http_section_is_every_path() {
        let ing: Ingress = object(json!({
            "metadata": {"name": "i", "namespace": "d"},
            "spec": {"rules": [{"host": "h"}]},
        }));
        let want = group(
            "ingress/d/i",
            &[&[
                ("__address__", "h"),
                ("__meta_kubernetes_ingress_scheme", "http"),
                ("__meta_kubernetes_ingress_host", "h"),
                ("__meta_kubernetes_ingress_path", "/"),
            ]],
            &[
                ("__meta_kubernetes_ingress_name", "i"),
                ("__meta_kubernetes_namespace", "d"),
            ],
        );
        assert_eq!(target_group(&ing, None), want);
    }

    #[test]
    fn namespace_metadata_attached() {
        let (ns, attached) = web_namespace();
        let want = with_labels(expected("test-ns", "http", "http"), attached);
        assert_eq!(target_group(&ingress("test-ns", None), Some(&ns)), want);
    }

    #[test]
    fn updated_namespace_metadata() {
        let (after, attached) = web_namespace_updated();
        let want = with_labels(expected("test-ns", "http", "http"), attached);
        assert_eq!(target_group(&ingress("test-ns", None), Some(&after)), want);
    }
}
