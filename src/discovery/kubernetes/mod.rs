//! Kubernetes service discovery (`kubernetes_sd_configs`): targets from
//! the API server's nodes, services, ingresses, pods, endpoints and
//! endpoint slices, with Prometheus 3.x's `__meta_kubernetes_*` labels.
//!
//! - Access: [`client`] (the API server and its credentials: `api_server`
//!   with the entry's HTTP client keys, [`kubeconfig`], or [`in_cluster`]),
//!   failures in [`error`].
//! - Following the API: [`reflector`] (list, then watch, relist on 410,
//!   back off on errors), one per kind and namespace; [`kind`] names the
//!   kinds and their API paths.
//! - Turning objects into groups: [`discoverer`] (which kinds a role
//!   watches, the stores, rebuilding the groups a change affects) over
//!   the pure per-role builders [`node`], [`service`], [`ingress`], which
//!   read the API objects of [`objects`] and share [`labels`].
//! - [`metrics`]: `prometheus_sd_kubernetes_*`.
//!
//! Every role's group has the source `<kind>/<namespace>/<name>` (`node/<name>`
//! for nodes); a deleted object's group leaves the list.

mod client;
mod discoverer;
mod error;
mod in_cluster;
pub(crate) mod ingress;
mod kind;
mod kubeconfig;
mod labels;
mod metrics;
pub(crate) mod node;
pub(crate) mod objects;
mod reflector;
pub(crate) mod service;

#[cfg(test)]
mod test_support;

pub(crate) use discoverer::KubernetesSd;
pub use metrics::register_metrics;

#[cfg(test)]
use super::TargetGroup;

/// The group announcing that the object behind `source` is gone: no targets,
/// no labels, as Prometheus sends on a delete event.
#[cfg(test)]
pub(crate) fn deleted(source: String) -> TargetGroup {
    TargetGroup {
        source,
        ..TargetGroup::default()
    }
}
