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
