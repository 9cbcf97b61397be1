//! What a role's builder may read besides the object it builds a group for:
//! the discoverer's stores of the other kinds it watches, and which
//! optional metadata the configuration asks for.

use std::collections::BTreeMap;

use super::labels::{add_namespace_meta, add_object_meta};
use super::objects::{Job, Namespace, Node, Pod, ReplicaSet, Service};

/// Which optional metadata a role attaches (`attach_metadata:`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Attach {
    /// `node`: the labels of the node a pod (role pod) or an address
    /// (roles endpoints, endpointslice) runs on. For role pod it also drops
    /// the targets of pods whose node is not in the store, which is how
    /// node `selectors` reach pods.
    pub node: bool,
    /// `namespace`: the labels and annotations of the object's namespace.
    pub namespace: bool,
    /// `deployment`: `_pod_deployment_name`, through the pod's ReplicaSet.
    pub deployment: bool,
    /// `job`: `_pod_job_name` for pods a Job controls.
    pub job: bool,
    /// `cronjob`: `_pod_cronjob_name`, through the pod's Job.
    pub cronjob: bool,
}

/// The other objects a role's builder may read besides its own object: the
/// discoverer's stores. Each answers `None` for an object it does not hold,
/// whether it never existed, was deleted or was filtered out by a selector.
pub(crate) trait Lookup {
    /// Read by the endpoints roles for addresses whose `targetRef` is a Pod.
    fn pod(&self, namespace: &str, name: &str) -> Option<&Pod>;
    /// Read by the endpoints roles: the service the object belongs to.
    fn service(&self, namespace: &str, name: &str) -> Option<&Service>;
    /// Read only with `Attach::node`.
    fn node(&self, name: &str) -> Option<&Node>;
    /// Read only with `Attach::namespace`.
    fn namespace(&self, name: &str) -> Option<&Namespace>;
    /// Read only with `Attach::deployment`, the one case in which a
    /// discoverer watches ReplicaSets (in the pod's namespace) and must
    /// answer; the default is the store of one that does not: empty.
    fn replica_set(&self, _namespace: &str, _name: &str) -> Option<&ReplicaSet> {
        None
    }
    /// Read only with `Attach::cronjob`; Jobs are watched then, likewise.
    fn job(&self, _namespace: &str, _name: &str) -> Option<&Job> {
        None
    }
}

/// Adds the node's `node_name`, labels and annotations (`attach_metadata:
/// {node: true}`) when the store holds it; nothing otherwise.
pub(super) fn add_node_meta(out: &mut BTreeMap<String, String>, lookup: &dyn Lookup, name: &str) {
    if let Some(node) = lookup.node(name) {
        add_object_meta(out, &node.metadata, "node");
    }
}

/// Adds the namespace's labels and annotations (`attach_metadata:
/// {namespace: true}`) when the store holds it; nothing otherwise.
pub(super) fn add_namespace_meta_of(
    out: &mut BTreeMap<String, String>,
    lookup: &dyn Lookup,
    name: &str,
) {
    if let Some(ns) = lookup.namespace(name) {
        add_namespace_meta(out, &ns.metadata);
    }
}
