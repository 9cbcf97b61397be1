//! A Consul service's instances as the target group Prometheus builds:
//! source and `__meta_consul_service` the service name,
//! `__meta_consul_dc` the datacenter, and per instance its address and
//! every `__meta_consul_*` label.

use std::collections::BTreeMap;

use super::api::{HealthCheck, ServiceEntry};
use crate::discovery::target_group::{join_host_port, sanitize_label_name, ADDRESS_LABEL};
use crate::discovery::TargetGroup;

const SERVICE_LABEL: &str = "__meta_consul_service";
const DATACENTER_LABEL: &str = "__meta_consul_dc";
const NODE_ADDRESS_LABEL: &str = "__meta_consul_address";
const NODE_LABEL: &str = "__meta_consul_node";
const NAMESPACE_LABEL: &str = "__meta_consul_namespace";
const PARTITION_LABEL: &str = "__meta_consul_partition";
const TAGS_LABEL: &str = "__meta_consul_tags";
const SERVICE_ADDRESS_LABEL: &str = "__meta_consul_service_address";
const SERVICE_PORT_LABEL: &str = "__meta_consul_service_port";
const SERVICE_ID_LABEL: &str = "__meta_consul_service_id";
const HEALTH_LABEL: &str = "__meta_consul_health";
const NODE_META_PREFIX: &str = "__meta_consul_metadata_";
const SERVICE_META_PREFIX: &str = "__meta_consul_service_metadata_";
const TAGGED_ADDRESS_PREFIX: &str = "__meta_consul_tagged_address_";

/// The group of service `name` in datacenter `dc` from its instances;
/// `separator` joins each instance's tags.
pub(crate) fn group(
    name: &str,
    dc: &str,
    separator: &str,
    entries: &[ServiceEntry],
) -> TargetGroup {
    TargetGroup {
        source: name.to_string(),
        targets: entries.iter().map(|e| target(e, separator)).collect(),
        labels: BTreeMap::from([
            (SERVICE_LABEL.to_string(), name.to_string()),
            (DATACENTER_LABEL.to_string(), dc.to_string()),
        ]),
    }
}

/// One instance's labels. The address is the service's own when it has
/// one (it may be registered from another node), else its node's. The
/// tags are joined with the separator on both ends too, so a relabeling
/// regex like `.*,prod,.*` needs no special case for the first or last.
fn target(e: &ServiceEntry, separator: &str) -> BTreeMap<String, String> {
    let node = e.node.clone().unwrap_or_default();
    let service = e.service.clone().unwrap_or_default();
    let node_address = node.address.unwrap_or_default();
    let service_address = service.address.unwrap_or_default();
    let port = service.port.unwrap_or(0);
    let host = if service_address.is_empty() {
        &node_address
    } else {
        &service_address
    };
    let tags = service.tags.unwrap_or_default().join(separator);
    let mut labels = BTreeMap::from([
        (ADDRESS_LABEL.to_string(), join_host_port(host, port)),
        (NODE_ADDRESS_LABEL.to_string(), node_address.clone()),
        (NODE_LABEL.to_string(), node.node.unwrap_or_default()),
        (
            NAMESPACE_LABEL.to_string(),
            service.namespace.unwrap_or_default(),
        ),
        (
            PARTITION_LABEL.to_string(),
            service.partition.unwrap_or_default(),
        ),
        (
            TAGS_LABEL.to_string(),
            format!("{separator}{tags}{separator}"),
        ),
        (SERVICE_ADDRESS_LABEL.to_string(), service_address.clone()),
        (SERVICE_PORT_LABEL.to_string(), port.to_string()),
        (SERVICE_ID_LABEL.to_string(), service.id.unwrap_or_default()),
        (
            HEALTH_LABEL.to_string(),
            aggregated_status(e.checks.as_deref().unwrap_or_default()).to_string(),
        ),
    ]);
    for (prefix, map) in [
        (NODE_META_PREFIX, node.meta),
        (SERVICE_META_PREFIX, service.meta),
        (TAGGED_ADDRESS_PREFIX, node.tagged_addresses),
    ] {
        for (k, v) in map.unwrap_or_default() {
            labels.insert(format!("{prefix}{}", sanitize_label_name(&k)), v);
        }
    }
    labels
}

/// The one status that stands for all of an instance's checks, as
/// Consul's client ranks them: maintenance (a maintenance check of the
/// node or service), then critical, warning, passing; no checks count as
/// passing, and a status Consul does not know makes it empty.
fn aggregated_status(checks: &[HealthCheck]) -> &'static str {
    let (mut maintenance, mut critical, mut warning) = (false, false, false);
    for c in checks {
        let id = c.check_id.as_deref().unwrap_or("");
        if id == "_node_maintenance" || id.starts_with("_service_maintenance:") {
            maintenance = true;
            continue;
        }
        match c.status.as_deref().unwrap_or("") {
            "passing" => {}
            "warning" => warning = true,
            "critical" => critical = true,
            _ => return "",
        }
    }
    if maintenance {
        "maintenance"
    } else if critical {
        "critical"
    } else if warning {
        "warning"
    } else {
        "passing"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::consul::tests::upstream_const;

    fn entries(json: &str) -> Vec<ServiceEntry> {
        serde_json::from_str(json).unwrap()
    }

    /// Upstream's `ServiceTestAnswer` (one instance of `test` on `node1`)
    /// with every label Prometheus sets.
    #[test]
    fn upstream_answer_gives_every_label() {
        let answer = upstream_const("ServiceTestAnswer");
        let g = group("test", "test-dc", ",", &entries(&answer));
        assert_eq!(g.source, "test");
        assert_eq!(g.labels[SERVICE_LABEL], "test");
        assert_eq!(g.labels[DATACENTER_LABEL], "test-dc");
        let got: Vec<(&str, &str)> = g.targets[0]
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("__address__", "1.1.1.1:3341"),
                ("__meta_consul_address", "1.1.1.1"),
                ("__meta_consul_health", "passing"),
                ("__meta_consul_metadata_rack_name", "2304"),
                ("__meta_consul_namespace", ""),
                ("__meta_consul_node", "node1"),
                ("__meta_consul_partition", ""),
                ("__meta_consul_service_address", ""),
                ("__meta_consul_service_id", "test"),
                ("__meta_consul_service_metadata_environment", "staging"),
                ("__meta_consul_service_metadata_version", "1.0.0"),
                ("__meta_consul_service_port", "3341"),
                ("__meta_consul_tagged_address_lan", "192.168.10.10"),
                ("__meta_consul_tagged_address_wan", "10.0.10.10"),
                ("__meta_consul_tags", ",tag1,"),
            ]
        );
    }

    #[test]
    fn service_address_wins_and_keys_are_sanitized() {
        let e = entries(
            r#"[{"Node": {"Node": "n", "Address": "10.0.0.1", "Meta": {"k8s.io/zone": "a"}},
                 "Service": {"ID": "web-1", "Address": "fe80::1", "Port": 8080,
                             "Tags": ["a", "b"], "Namespace": "ns1", "Partition": "p1",
                             "Meta": {"git-sha": "abc"}}}]"#,
        );
        let t = &group("web", "dc1", ";", &e).targets[0];
        assert_eq!(t[ADDRESS_LABEL], "[fe80::1]:8080");
        assert_eq!(t[NODE_ADDRESS_LABEL], "10.0.0.1");
        assert_eq!(t[SERVICE_ADDRESS_LABEL], "fe80::1");
        assert_eq!(t[TAGS_LABEL], ";a;b;");
        assert_eq!(t[NAMESPACE_LABEL], "ns1");
        assert_eq!(t[PARTITION_LABEL], "p1");
        assert_eq!(t["__meta_consul_metadata_k8s_io_zone"], "a");
        assert_eq!(t["__meta_consul_service_metadata_git_sha"], "abc");
        assert_eq!(t[HEALTH_LABEL], "passing", "no checks count as passing");
    }

    #[test]
    fn empty_and_null_parts_give_empty_labels() {
        let t = &group("s", "dc", ",", &entries(r#"[{"Node": null}]"#)).targets[0];
        assert_eq!(t[ADDRESS_LABEL], ":0");
        assert_eq!(t[TAGS_LABEL], ",,");
        assert_eq!(t[NODE_LABEL], "");
        assert!(group("s", "dc", ",", &[]).targets.is_empty());
    }

    #[test]
    fn health_is_the_worst_check() {
        let status = |checks: &[(&str, &str)]| {
            let checks: Vec<HealthCheck> = checks
                .iter()
                .map(|(id, s)| HealthCheck {
                    check_id: Some(id.to_string()),
                    status: Some(s.to_string()),
                })
                .collect();
            aggregated_status(&checks)
        };
        assert_eq!(status(&[]), "passing");
        assert_eq!(status(&[("a", "passing"), ("b", "warning")]), "warning");
        assert_eq!(
            status(&[("a", "warning"), ("b", "critical"), ("c", "passing")]),
            "critical"
        );
        assert_eq!(
            status(&[("a", "critical"), ("_node_maintenance", "critical")]),
            "maintenance"
        );
        assert_eq!(
            status(&[("_service_maintenance:web-1", "critical")]),
            "maintenance"
        );
        assert_eq!(status(&[("a", "critical"), ("b", "unknown")]), "");
    }
}
