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
