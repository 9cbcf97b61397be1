//! Kubernetes service discovery (`kubernetes_sd_configs`): targets from
//! the API server's nodes, services, ingresses, pods, endpoints and
//! endpoint slices, with Prometheus 3.x's `__meta_kubernetes_*` labels.
//!
//! - Access: [`client`] (the API server and its credentials: `api_server`
//!   with the entry's HTTP client keys, [`kubeconfig`], or [`in_cluster`]),
//!   failures in [`error`].
//! - Following the API: [`reflector`] (list, then watch, relist on 410,
//!   back off on errors), one per kind and namespace; [`kind`] names the
//!   kinds, their API paths and the decoded objects.
//! - Turning objects into groups: [`discoverer`] (which kinds a role
//!   watches, the stores, rebuilding the groups a change affects) over the
//!   pure per-role builders: `node.rs`, `service.rs`, `ingress.rs`,
//!   `pod.rs` (also the pod labels the endpoints roles reuse),
//!   `endpoints.rs`, `endpointslice.rs`, with `backing_pods.rs` (what the
//!   two endpoints roles add for addresses backed by a pod). They read the
//!   API objects of `objects.rs`, share the label helpers of `labels.rs`,
//!   and see the other stores through `lookup.rs` (`Lookup`, `Attach`).
//! - Metrics: [`metrics`] (`prometheus_sd_kubernetes_*`).
//!
//! Every role's group has the source `<kind>/<namespace>/<name>` (`node/<name>`
//! for nodes); a deleted object's group leaves the list.

mod backing_pods;
mod client;
mod discoverer;
pub(crate) mod endpoints;
pub(crate) mod endpointslice;
mod error;
mod in_cluster;
pub(crate) mod ingress;
mod kind;
mod kubeconfig;
mod labels;
pub(crate) mod lookup;
mod metrics;
pub(crate) mod node;
pub(crate) mod objects;
pub(crate) mod pod;
mod reflector;
pub(crate) mod service;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tls_test_server;

pub(crate) use discoverer::KubernetesSd;
pub use metrics::register_metrics;

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
