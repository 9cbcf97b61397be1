//! The pods behind the addresses of an Endpoints or EndpointSlice object.
//! An address whose `targetRef` is a pod in the store gets the pod's labels
//! and those of the container declaring the address's port; every container
//! port that no address of the object covered becomes a target of its own,
//! so that a pod's metrics port is found even when it is no service port.

use std::collections::BTreeMap;

use super::labels::join_host_port;
use super::lookup::{Attach, Lookup};
use super::objects::{ObjectReference, Pod};
use super::pod::{add_port_labels, container_labels, containers, pod_labels};
use crate::discovery::ADDRESS_LABEL;

/// The pods seen behind one object's addresses, as its targets are built.
pub(super) struct BackingPods<'a> {
    lookup: &'a dyn Lookup,
    attach: Attach,
    /// In first-seen order, each with the port numbers its addresses had.
    /// (Prometheus keeps them in a Go map, so its order is random.)
    seen: Vec<(&'a Pod, Vec<i32>)>,
}

impl<'a> BackingPods<'a> {
    pub(super) fn new(lookup: &'a dyn Lookup, attach: Attach) -> Self {
        BackingPods {
            lookup,
            attach,
            seen: Vec::new(),
        }
    }

    /// Adds to `target`, an address with the endpoint port number `port`,
    /// the labels of the pod `target_ref` names, if it names one in the
    /// store, and of the container declaring `port`. The container port's
    /// protocol is labelled with `endpoint_protocol` when given (role
    /// endpoints does so), else with the container port's own.
    pub(super) fn label(
        &mut self,
        target: &mut BTreeMap<String, String>,
        target_ref: Option<&ObjectReference>,
        port: Option<i32>,
        endpoint_protocol: Option<&str>,
    ) {
        let Some(r) = target_ref.filter(|r| r.kind == "Pod") else {
            return;
        };
        let Some(pod) = self.lookup.pod(&r.namespace, &r.name) else {
            return;
        };
        target.extend(pod_labels(pod, self.lookup, self.attach));
        // Of several containers declaring the port, Prometheus's loop lets
        // the last one's labels stand; within a container, the first port.
        let declared = port.and_then(|port| {
            containers(pod)
                .filter_map(|(c, init)| {
                    let cport = c.ports.iter().find(|p| p.container_port == port)?;
                    Some((c, init, cport))
                })
                .last()
        });
        if let Some((container, init, cport)) = declared {
            target.extend(container_labels(container, init));
            add_port_labels(target, cport, endpoint_protocol.unwrap_or(&cport.protocol));
        }

        let meta = &pod.metadata;
        let seen = self.seen.iter().position(|(p, _)| {
            p.metadata.namespace == meta.namespace && p.metadata.name == meta.name
        });
        let i = seen.unwrap_or_else(|| {
            self.seen.push((pod, Vec::new()));
            self.seen.len() - 1
        });
        self.seen[i].1.extend(port);
    }

    /// One target per container port of the seen pods that none of their
    /// addresses had, at the pod's IP; none for a pod without IP.
    pub(super) fn uncovered_port_targets(self) -> Vec<BTreeMap<String, String>> {
        let mut targets = Vec::new();
        for (pod, covered) in &self.seen {
            let ip = &pod.status.pod_ip;
            if ip.is_empty() {
                continue;
            }
            for (container, init) in containers(pod) {
                for cport in &container.ports {
                    if covered.contains(&cport.container_port) {
                        continue;
                    }
                    let mut target = container_labels(container, init);
                    add_port_labels(&mut target, cport, &cport.protocol);
                    target.insert(
                        ADDRESS_LABEL.to_string(),
                        join_host_port(ip, cport.container_port),
                    );
                    target.extend(pod_labels(pod, self.lookup, self.attach));
                    targets.push(target);
                }
            }
        }
        targets
    }
}
