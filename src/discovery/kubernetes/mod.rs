//! Kubernetes service discovery: the API objects each role reads and the
//! pure functions turning one object into the target group Prometheus 3.x
//! builds from it. The list/watch client that feeds them, and the
//! `kubernetes_sd_configs` keys, come next.
//!
//! - `objects.rs`: the API objects, as the API server's JSON decodes.
//! - `labels.rs`: the `__meta_kubernetes_*` helpers every role shares.
//! - `lookup.rs`: what a builder may read besides its own object (the
//!   discoverer's stores) and `attach_metadata:`.
//! - one file per role: `node.rs`, `service.rs`, `ingress.rs`, `pod.rs`
//!   (also the pod labels the endpoints roles reuse), `endpoints.rs`,
//!   `endpointslice.rs`; `backing_pods.rs` holds what the two endpoints
//!   roles add for addresses backed by a pod.
//!
//! Every role's group has the source `<kind>/<namespace>/<name>` (`node/<name>`
//! for nodes); an object's deletion is reported as an empty group with that
//! same source, which is what [`deleted`] builds.

mod backing_pods;
pub(crate) mod endpoints;
pub(crate) mod endpointslice;
pub(crate) mod ingress;
mod labels;
pub(crate) mod lookup;
pub(crate) mod node;
pub(crate) mod objects;
pub(crate) mod pod;
pub(crate) mod service;

#[cfg(test)]
mod test_support;

use super::TargetGroup;

/// The group announcing that the object behind `source` is gone: no targets,
/// no labels, as Prometheus sends on a delete event. Prometheus sends the
/// same for a pod it cannot target (no IP yet, or its node filtered out).
pub(crate) fn deleted(source: String) -> TargetGroup {
    TargetGroup {
        source,
        ..TargetGroup::default()
    }
}
